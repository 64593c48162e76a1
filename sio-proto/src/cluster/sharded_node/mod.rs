//! [`ShardedNode`]: the protocol of one namespace of one server in a cluster of the sharded
//! Redis adapter (`createShardedAdapter` of `@socket.io/redis-adapter` 8.x, on
//! `socket.io-adapter`'s `ClusterAdapter`), as a state machine with the shape of
//! [`ClassicNode`](super::ClassicNode): the same [`NodeInput`]s, [`NodeEvent`]s, drive loop and
//! `answer_*` methods, so that one driver runs either.
//!
//! # Channels (sharded pub/sub: `SSUBSCRIBE`, `SPUBLISH`, `PUBSUB SHARDNUMSUB`)
//!
//! - `key#nsp#`, the namespace channel: every message but the responses, and the channel whose
//!   `SHARDNUMSUB` is the number of servers ([`ShardedNode::channel`]; `others` is that less
//!   one, as for the classic node);
//! - `key#nsp#uid#`, this node's response channel: the answers to its requests;
//! - in the dynamic modes, `key#nsp#room#` for each room of this server: a broadcast without
//!   acknowledgements to exactly one room goes there (in [`SubscriptionMode::Dynamic`], not
//!   for a room that is a socket's own). The node does not know the rooms: the local server
//!   tells it when a room is created ([`ShardedNode::room_created`]) and when it empties
//!   ([`ShardedNode::room_deleted`]), and each says which channel to `SSUBSCRIBE` or
//!   `SUNSUBSCRIBE`; [`ShardedNode::subscriptions`] is everything to subscribe now (after a
//!   reconnection, say).
//!
//! # What Node does, and what differs
//!
//! - Messages of this node's `uid` and for another namespace are ignored; the emitter's are
//!   delivered. Heartbeats and `ADAPTER_CLOSE` (the heartbeat variant of `ClusterAdapter`) are
//!   ignored, as the sharded adapter ignores them.
//! - Requests carry their options with flags (Node's `encodeOptions`); a fetch waits for its
//!   `timeout` flag, else `requests_timeout`. There is no `allRooms` and no one-socket form:
//!   joins, leaves and disconnects are never answered.
//! - As for the classic node: the local server applies its own remote operations itself; a
//!   request asked is answerable (once, acknowledgements of a broadcast excepted) for
//!   `requests_timeout` (a fetch or a broadcast with acknowledgements: its `timeout` flag),
//!   bounded by `max_pending_requests` (over it: dropped, counted); a response that does not
//!   fit its request is malformed.
//!
//! Every message from the bus is untrusted: one that does not decode is counted
//! ([`ShardedNode::malformed`]) and dropped; nothing a peer sends panics.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::bridge;
use super::channel::{self, SubscriptionMode};
use super::node::pending::{dedup, Asks, Kind, Pending};
use super::node::{AckBroadcastError, NodeConfig, NodeEvent, NodeInput, Publish, RequestId};
use super::sharded::{ClusterBody, ClusterMessage};
use super::tracker::IssueError;
use super::{BroadcastOptions, ClusterError, FetchedSocket, Value};
use crate::socket::packet::EncodedPacket;

#[cfg(doc)]
use super::{node::RequestResult, tracker::Outcome};

mod incoming;

/// What the driver subscribes to with `SSUBSCRIBE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardedSubscriptions {
    /// The namespace channel, this node's response channel, then the channel of every room
    /// subscribed to (dynamic modes).
    pub channels: Vec<String>,
}

/// One namespace of one server in a sharded Redis adapter cluster. See the module docs.
pub struct ShardedNode {
    config: NodeConfig,
    mode: SubscriptionMode,
    channel: String,
    response_channel: String,
    /// The rooms whose channel is subscribed (dynamic modes).
    rooms: BTreeSet<String>,
    p: Pending,
}

impl ShardedNode {
    /// A node subscribing in `mode`; its request ids derive from `seed`.
    /// `config.publish_on_specific_response_channel` is not used: the sharded adapter always
    /// answers on the requester's channel.
    pub fn new(config: NodeConfig, mode: SubscriptionMode, seed: [u8; 32]) -> Self {
        let nsp = config.nsp.as_str();
        let channel = channel::sharded(&config.key, nsp);
        let response_channel = channel::sharded_sub(&config.key, nsp, &config.uid);
        ShardedNode {
            p: Pending::new(seed, config.max_pending_requests),
            config,
            mode,
            channel,
            response_channel,
            rooms: BTreeSet::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The subscription mode.
    pub fn mode(&self) -> SubscriptionMode {
        self.mode
    }

    /// The channels to `SSUBSCRIBE` now.
    pub fn subscriptions(&self) -> ShardedSubscriptions {
        let mut channels = vec![self.channel.clone(), self.response_channel.clone()];
        channels.extend(self.rooms.iter().map(|room| self.room_channel(room)));
        ShardedSubscriptions { channels }
    }

    /// The namespace channel, whose `PUBSUB SHARDNUMSUB` less one is `others`.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// This node's response channel.
    pub fn response_channel(&self) -> &str {
        &self.response_channel
    }

    /// Room `room` was created on this server (its first socket joined it); `private` when
    /// it is a socket's own room (Node: the id of one of this server's sockets). Returns the
    /// channel to `SSUBSCRIBE`, if any: in [`SubscriptionMode::Dynamic`] for a public room, in
    /// [`SubscriptionMode::DynamicPrivate`] for every room, never in `Static`, and not twice.
    pub fn room_created(&mut self, room: &str, private: bool) -> Option<String> {
        let separate = match self.mode {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !private,
            SubscriptionMode::DynamicPrivate => true,
        };
        (separate && self.rooms.insert(room.to_owned())).then(|| self.room_channel(room))
    }

    /// Room `room` became empty on this server: the channel to `SUNSUBSCRIBE`, when
    /// [`ShardedNode::room_created`] had one subscribed.
    pub fn room_deleted(&mut self, room: &str) -> Option<String> {
        self.rooms.remove(room).then(|| self.room_channel(room))
    }

    /// Every channel subscribed, to `SUNSUBSCRIBE` when the namespace closes (Node's
    /// `close`); the room channels are forgotten.
    pub fn close(&mut self) -> Vec<String> {
        let channels = self.subscriptions().channels;
        self.rooms.clear();
        channels
    }

    fn room_channel(&self, room: &str) -> String {
        channel::sharded_sub(&self.config.key, &self.config.nsp, room)
    }

    // ---- commands: what the local server does

    /// Publishes a local broadcast for the other servers (`BROADCAST` without request id): on
    /// the room channel for exactly one room in the dynamic modes (see the module docs), on
    /// the namespace channel otherwise. Nothing is published with the `local` flag. `packet`
    /// is the EVENT our sockets send; anything else is refused.
    pub fn broadcast(
        &mut self,
        packet: &EncodedPacket,
        opts: &BroadcastOptions,
    ) -> Result<(), ClusterError> {
        if is_local(opts) {
            return Ok(());
        }
        let mut packet = bridge::from_encoded(packet)?;
        packet.nsp = None;
        self.publish(ClusterBody::Broadcast {
            packet,
            request_id: None,
            opts: with_flags(opts),
        });
        Ok(())
    }

    /// Publishes a local broadcast whose clients' acknowledgements are awaited, counted as
    /// [`ClassicNode::broadcast_with_ack`](super::ClassicNode::broadcast_with_ack) counts them
    /// (always on the namespace channel: every server answers with a client count).
    pub fn broadcast_with_ack(
        &mut self,
        now: Instant,
        packet: &EncodedPacket,
        opts: &BroadcastOptions,
        others: usize,
    ) -> Result<RequestId, AckBroadcastError> {
        let mut packet = bridge::from_encoded(packet)?;
        if is_local(opts) || others == 0 {
            return Err(IssueError::NothingExpected.into());
        }
        packet.nsp = None;
        packet.id = None;
        let timeout = self.timeout(opts);
        let id = self.p.issue_acks(now, timeout, others)?;
        self.publish(ClusterBody::Broadcast {
            packet,
            request_id: Some(id.clone()),
            opts: with_flags(opts),
        });
        Ok(id)
    }

    /// Asks the other servers for their sockets `opts` selects (`FETCH_SOCKETS`); the answers
    /// come as one [`NodeEvent::Completed`] with [`RequestResult::Fetched`], by the `timeout`
    /// flag (else `requests_timeout`). With `others == 0` (or the `local` flag) nothing is
    /// published: [`IssueError::NothingExpected`].
    pub fn fetch_sockets(
        &mut self,
        now: Instant,
        opts: &BroadcastOptions,
        others: usize,
    ) -> Result<RequestId, IssueError> {
        if is_local(opts) {
            return Err(IssueError::NothingExpected);
        }
        let timeout = self.timeout(opts);
        let id = self.p.issue(now, timeout, others, Asks::Fetch)?;
        self.publish(ClusterBody::FetchSockets {
            opts: with_flags(opts),
            request_id: id.clone(),
        });
        Ok(id)
    }

    /// Emits `data` (`[name, ...args]`) to the other servers (`SERVER_SIDE_EMIT`), as
    /// [`ClassicNode::server_side_emit`](super::ClassicNode::server_side_emit).
    pub fn server_side_emit(
        &mut self,
        now: Instant,
        data: Vec<Value>,
        ack: bool,
        others: usize,
    ) -> Result<Option<RequestId>, IssueError> {
        if !ack {
            self.publish(ClusterBody::ServerSideEmit {
                request_id: None,
                packet: data,
            });
            return Ok(None);
        }
        let timeout = self.config.requests_timeout;
        let id = self.p.issue(now, timeout, others, Asks::ServerSideEmit)?;
        self.publish(ClusterBody::ServerSideEmit {
            request_id: Some(id.clone()),
            packet: data,
        });
        Ok(Some(id))
    }

    /// Makes the other servers' sockets `opts` selects join `rooms` (`SOCKETS_JOIN`, never
    /// answered; the local server applies it to its own sockets). Nothing with `local`.
    pub fn add_sockets(&mut self, opts: &BroadcastOptions, rooms: &[String]) {
        if !is_local(opts) {
            self.publish(ClusterBody::SocketsJoin {
                opts: with_flags(opts),
                rooms: rooms.to_vec(),
            });
        }
    }

    /// Makes the other servers' sockets `opts` selects leave `rooms` (`SOCKETS_LEAVE`).
    pub fn del_sockets(&mut self, opts: &BroadcastOptions, rooms: &[String]) {
        if !is_local(opts) {
            self.publish(ClusterBody::SocketsLeave {
                opts: with_flags(opts),
                rooms: rooms.to_vec(),
            });
        }
    }

    /// Disconnects the other servers' sockets `opts` selects (`DISCONNECT_SOCKETS`).
    pub fn disconnect_sockets(&mut self, opts: &BroadcastOptions, close: bool) {
        if !is_local(opts) {
            self.publish(ClusterBody::DisconnectSockets {
                opts: with_flags(opts),
                close,
            });
        }
    }

    /// Stops waiting for `request_id`: a [`NodeEvent::Completed`] with
    /// [`Outcome::Cancelled`] and what had arrived. `false` when it was not pending.
    pub fn cancel(&mut self, request_id: &str) -> bool {
        self.p.cancel(request_id)
    }

    // ---- answers to the requests this node was asked (on the requester's channel)

    /// Answers a [`NodeEvent::FetchRequested`] (`FETCH_SOCKETS_RESPONSE`). `false` (nothing
    /// published) when the request is unknown, already answered or expired.
    pub fn answer_fetch(&mut self, request_id: &str, sockets: Vec<FetchedSocket>) -> bool {
        let sockets = sockets.iter().map(FetchedSocket::to_value).collect();
        self.answer(request_id, Kind::Fetch, |request_id| {
            ClusterBody::FetchSocketsResponse {
                request_id,
                sockets,
            }
        })
    }

    /// Acknowledges a [`NodeEvent::ServerSideEmit`] with one value
    /// (`SERVER_SIDE_EMIT_RESPONSE`, once).
    pub fn answer_server_side_emit(&mut self, request_id: &str, data: Value) -> bool {
        self.answer(request_id, Kind::ServerSideEmit, |request_id| {
            ClusterBody::ServerSideEmitResponse {
                request_id,
                packet: data,
            }
        })
    }

    /// Says to how many local clients a [`NodeEvent::BroadcastWithAckRequested`] went
    /// (`BROADCAST_CLIENT_COUNT`).
    pub fn answer_broadcast_client_count(&mut self, request_id: &str, count: u64) -> bool {
        self.answer(request_id, Kind::BroadcastAck, |request_id| {
            ClusterBody::BroadcastClientCount {
                request_id,
                client_count: count,
            }
        })
    }

    /// Passes on one local client's acknowledgement of a
    /// [`NodeEvent::BroadcastWithAckRequested`] (`BROADCAST_ACK`).
    pub fn answer_broadcast_ack(&mut self, request_id: &str, value: Value) -> bool {
        self.answer(request_id, Kind::BroadcastAck, |request_id| {
            ClusterBody::BroadcastAck {
                request_id,
                packet: value,
            }
        })
    }

    // ---- input

    /// Feeds one input. Deadlines at or before `now` are handled first, whatever the input.
    pub fn handle(&mut self, now: Instant, input: NodeInput) {
        self.p.expire(now);
        if let NodeInput::Message { channel, payload } = input {
            self.on_message(now, &channel, &payload);
        }
    }

    // ---- output

    /// The next message to `SPUBLISH`.
    pub fn poll_publish(&mut self) -> Option<Publish> {
        self.p.publishes.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.p.events.pop_front()
    }

    /// When to feed [`NodeInput::Timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.p.poll_timeout()
    }

    /// Messages from the bus that did not decode (or did not fit what they answer), dropped.
    pub fn malformed(&self) -> u64 {
        self.p.malformed
    }

    /// Requests asked of this node and dropped because `max_pending_requests` were pending.
    pub fn dropped(&self) -> u64 {
        self.p.dropped
    }

    /// Requests this node waits answers for.
    pub fn pending_requests(&self) -> usize {
        self.p.len()
    }

    // ---- internals

    fn timeout(&self, opts: &BroadcastOptions) -> Duration {
        opts.flags
            .as_ref()
            .and_then(|f| f.timeout_ms())
            .map_or(self.config.requests_timeout, Duration::from_millis)
    }

    fn message(&self, body: ClusterBody) -> ClusterMessage {
        ClusterMessage {
            uid: self.config.uid.clone(),
            nsp: self.config.nsp.as_str().to_owned(),
            body,
        }
    }

    fn publish(&mut self, body: ClusterBody) {
        let message = self.message(body);
        let channel = channel::sharded_publish(&self.config.key, &message, self.mode);
        let (_, payload) = message.encode();
        self.p.publishes.push_back(Publish { channel, payload });
    }

    fn answer(
        &mut self,
        request_id: &str,
        kind: Kind,
        body: impl FnOnce(String) -> ClusterBody,
    ) -> bool {
        let Some(uid) = self.p.take_asked(request_id, kind) else {
            return false;
        };
        // Every request asked here has its requester's uid (the message requires one).
        let uid = uid.unwrap_or_default();
        let channel = channel::sharded_sub(&self.config.key, &self.config.nsp, &uid);
        let (_, payload) = self.message(body(request_id.to_owned())).encode();
        self.p.publishes.push_back(Publish { channel, payload });
        true
    }
}

/// Whether the `local` flag is set (nothing goes to the other servers).
fn is_local(opts: &BroadcastOptions) -> bool {
    opts.flags.as_ref().and_then(|f| f.local()).unwrap_or(false)
}

/// `opts` deduplicated, with its flags (`{}` when none), as `encodeOptions` writes them.
fn with_flags(opts: &BroadcastOptions) -> BroadcastOptions {
    BroadcastOptions {
        rooms: dedup(&opts.rooms),
        except: dedup(&opts.except),
        flags: Some(opts.flags.clone().unwrap_or_default()),
    }
}
