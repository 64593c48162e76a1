//! [`ClassicNode`]: the protocol of one namespace of one server in a cluster of the classic
//! Redis adapter (`createAdapter` of `@socket.io/redis-adapter` 8.x), as a state machine.
//!
//! # Drive loop
//!
//! The driver subscribes to what [`ClassicNode::subscriptions`] names, then, as for every
//! machine of the crate: feed one [`NodeInput`] to [`ClassicNode::handle`] (a message that
//! arrived on a channel, or [`NodeInput::Timeout`] at [`ClassicNode::poll_timeout`]) or give a
//! command (`broadcast`, `fetch_sockets`, an `answer_*`...), then drain
//! [`ClassicNode::poll_publish`] (publish each payload on its channel) and
//! [`ClassicNode::poll_event`] until both return `None`, and re-read `poll_timeout`.
//! Reacting to an event (answering a request) queues more publishes: drain again.
//!
//! The node does no I/O and asks Redis nothing: a request that waits for the other servers
//! takes `others`, the number of other servers (Node asks `PUBSUB NUMSUB` of the request
//! channel and takes one off for itself; the driver does the same).
//!
//! # What Node does, and what differs
//!
//! - A message published by this node (its `uid`) comes back from Redis and is ignored, as
//!   are requests whose id this node is waiting answers for. Node applies its own remote
//!   join, leave and disconnect requests when they come back; here the local server applies
//!   them itself when it issues them (it does not wait for the round trip).
//! - A broadcast on the room channel of a room this server does not know is ignored by Node;
//!   the node cannot know the rooms, so it delivers it and the local room index selects no
//!   one. A broadcast for another namespace is ignored. The emitter's broadcasts (`uid`
//!   `"emitter"`) are delivered like any other.
//! - Responses go to the common response channel, or to the requester's own one with
//!   `publish_on_specific_response_channel`; the answers to a server-side emit always go to
//!   the common one (as Node publishes them).
//! - A request this node was asked is remembered (to route its answer, once) for
//!   `requests_timeout` (for a broadcast with acknowledgements, for its `timeout` flag); an
//!   answer given later is dropped: the requester, with the same timeout, gave up.
//! - A response whose shape does not fit the request (a fetch answered without sockets) is
//!   malformed and dropped; Node counts it, and then never completes the request before its
//!   timeout.
//!
//! Every message from the bus is untrusted: one that does not decode is counted
//! ([`ClassicNode::malformed`]) and dropped; nothing a peer sends panics.

use std::time::{Duration, Instant};

use super::bridge;
use super::channel;
use super::classic::{Broadcast, Request, RequestBody, Response, ResponseBody, Target};
use super::tracker::IssueError;
#[cfg(doc)]
use super::tracker::Outcome;
use super::{BroadcastOptions, ClusterError, FetchedSocket, Value};
use crate::socket::packet::EncodedPacket;

mod incoming;
pub(crate) mod pending;
mod types;

use pending::{dedup, Asks, Kind, Pending};

pub use types::{
    AckBroadcastError, NodeConfig, NodeEvent, NodeInput, Publish, RequestId, RequestResult,
    Subscriptions,
};

/// One namespace of one server in a classic Redis adapter cluster. See the module docs.
pub struct ClassicNode {
    config: NodeConfig,
    channel: String,
    request_channel: String,
    response_channel: String,
    specific_response_channel: String,
    p: Pending,
}

impl ClassicNode {
    /// A node; its request ids derive from `seed`.
    pub fn new(config: NodeConfig, seed: [u8; 32]) -> Self {
        let nsp = config.nsp.as_str();
        let channel = channel::broadcast(&config.key, nsp);
        let request_channel = channel::request(&config.key, nsp);
        let response_channel = channel::response(&config.key, nsp);
        let specific_response_channel = channel::specific_response(&config.key, nsp, &config.uid);
        ClassicNode {
            p: Pending::new(seed, config.max_pending_requests),
            config,
            channel,
            request_channel,
            response_channel,
            specific_response_channel,
        }
    }

    /// The settings.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The channels to `SUBSCRIBE` and the pattern to `PSUBSCRIBE`, as Node subscribes.
    pub fn subscriptions(&self) -> Subscriptions {
        Subscriptions {
            channels: vec![
                self.request_channel.clone(),
                self.response_channel.clone(),
                self.specific_response_channel.clone(),
            ],
            pattern: format!("{}*", self.channel),
        }
    }

    /// The request channel, whose subscriber count (`PUBSUB NUMSUB`) less one is `others`.
    pub fn request_channel(&self) -> &str {
        &self.request_channel
    }

    // ---- commands: what the local server does

    /// Publishes a local broadcast for the other servers: `[uid, packet, opts]` on the room
    /// channel when `opts.rooms` names exactly one room, on the namespace channel otherwise.
    /// Nothing is published with the `local` flag. `packet` is the EVENT our sockets send;
    /// anything else is refused.
    pub fn broadcast(
        &mut self,
        packet: &EncodedPacket,
        opts: &BroadcastOptions,
    ) -> Result<(), ClusterError> {
        if is_local(opts) {
            return Ok(());
        }
        let mut packet = bridge::from_encoded(packet)?;
        packet.nsp = Some(self.config.nsp.as_str().to_owned());
        let opts = BroadcastOptions {
            rooms: dedup(&opts.rooms),
            except: dedup(&opts.except),
            flags: opts.flags.clone(),
        };
        let channel = channel::broadcast_for(&self.config.key, &self.config.nsp, &opts.rooms);
        let payload = Broadcast {
            uid: self.config.uid.clone(),
            packet,
            opts,
        }
        .encode();
        self.p.publishes.push_back(Publish { channel, payload });
        Ok(())
    }

    /// Asks the other servers for their sockets `opts` selects; the answers come as one
    /// [`NodeEvent::Completed`] with [`RequestResult::Fetched`]. With `others == 0` (or the
    /// `local` flag) nothing is published and the result is
    /// [`IssueError::NothingExpected`]: the local sockets are the whole answer.
    pub fn fetch_sockets(
        &mut self,
        now: Instant,
        opts: &BroadcastOptions,
        others: usize,
    ) -> Result<RequestId, IssueError> {
        if is_local(opts) {
            return Err(IssueError::NothingExpected);
        }
        let body = RequestBody::RemoteFetch { opts: bare(opts) };
        self.issue(now, others, Asks::Fetch, body)
    }

    /// Asks the other servers for every room of the namespace ([`RequestResult::Rooms`]).
    /// `others == 0`: [`IssueError::NothingExpected`], nothing published.
    pub fn all_rooms(&mut self, now: Instant, others: usize) -> Result<RequestId, IssueError> {
        self.issue(now, others, Asks::AllRooms, RequestBody::AllRooms)
    }

    /// Emits `data` (`[name, ...args]`) to the other servers. Without `ack`, published as it
    /// is (`Ok(None)`). With `ack`, waits for `others` answers ([`RequestResult::ServerSideEmit`]);
    /// `others == 0`: [`IssueError::NothingExpected`], nothing published (Node calls the
    /// acknowledgement at once with no answers).
    pub fn server_side_emit(
        &mut self,
        now: Instant,
        data: Vec<Value>,
        ack: bool,
        others: usize,
    ) -> Result<Option<RequestId>, IssueError> {
        let body = RequestBody::ServerSideEmit { data };
        if !ack {
            self.publish_request(None, body);
            return Ok(None);
        }
        self.issue(now, others, Asks::ServerSideEmit, body)
            .map(Some)
    }

    /// Publishes a local broadcast whose clients' acknowledgements are awaited (a `BROADCAST`
    /// request, MessagePack, on the request channel; `packet`'s own ack id is left out, each
    /// client gets its own). It waits, as socket.io's `emitWithAck`, for a client count from
    /// each of the `others` servers and then for that many acknowledgements, or until the
    /// `timeout` flag (`requests_timeout` without one): then a [`NodeEvent::Completed`] with
    /// [`RequestResult::BroadcastAcks`], [`Outcome::TimedOut`] counting the acknowledgements
    /// known to be missing plus one per server that never sent its count. `others == 0`
    /// (or the `local` flag): [`IssueError::NothingExpected`], nothing published. A packet
    /// that is not an event is refused ([`AckBroadcastError::Packet`]).
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
        packet.nsp = Some(self.config.nsp.as_str().to_owned());
        packet.id = None;
        let timeout = opts
            .flags
            .as_ref()
            .and_then(|f| f.timeout_ms())
            .map_or(self.config.requests_timeout, Duration::from_millis);
        let id = self.p.issue_acks(now, timeout, others)?;
        let opts = BroadcastOptions {
            rooms: dedup(&opts.rooms),
            except: dedup(&opts.except),
            flags: opts.flags.clone(),
        };
        self.publish_request(Some(id.clone()), RequestBody::Broadcast { packet, opts });
        Ok(id)
    }

    /// Makes the other servers' sockets `opts` selects join `rooms` (no answer is awaited, as
    /// in 8.x; the local server applies it to its own sockets itself). Nothing with `local`.
    pub fn add_sockets(&mut self, opts: &BroadcastOptions, rooms: &[String]) {
        if !is_local(opts) {
            let body = RequestBody::RemoteJoin {
                target: Target::Sockets(bare(opts)),
                rooms: rooms.to_vec(),
            };
            self.publish_request(None, body);
        }
    }

    /// Makes the other servers' sockets `opts` selects leave `rooms` (as
    /// [`ClassicNode::add_sockets`]).
    pub fn del_sockets(&mut self, opts: &BroadcastOptions, rooms: &[String]) {
        if !is_local(opts) {
            let body = RequestBody::RemoteLeave {
                target: Target::Sockets(bare(opts)),
                rooms: rooms.to_vec(),
            };
            self.publish_request(None, body);
        }
    }

    /// Disconnects the other servers' sockets `opts` selects (as [`ClassicNode::add_sockets`]).
    pub fn disconnect_sockets(&mut self, opts: &BroadcastOptions, close: bool) {
        if !is_local(opts) {
            let body = RequestBody::RemoteDisconnect {
                target: Target::Sockets(bare(opts)),
                close,
            };
            self.publish_request(None, body);
        }
    }

    /// Stops waiting for `request_id`: a [`NodeEvent::Completed`] with
    /// [`Outcome::Cancelled`] and what had arrived. `false` when it was not pending.
    pub fn cancel(&mut self, request_id: &str) -> bool {
        self.p.cancel(request_id)
    }

    // ---- answers to the requests this node was asked

    /// Answers a [`NodeEvent::FetchRequested`]. `false` (nothing published) when the request
    /// is unknown, already answered or expired.
    pub fn answer_fetch(&mut self, request_id: &str, sockets: Vec<FetchedSocket>) -> bool {
        let sockets = sockets.iter().map(FetchedSocket::to_value).collect();
        self.answer(request_id, Kind::Fetch, ResponseBody::Sockets(sockets))
    }

    /// Answers a [`NodeEvent::SocketsRequested`] with the socket ids.
    pub fn answer_sockets(&mut self, request_id: &str, ids: Vec<String>) -> bool {
        let ids = ids.into_iter().map(Value::from).collect();
        self.answer(request_id, Kind::Sockets, ResponseBody::Sockets(ids))
    }

    /// Answers a [`NodeEvent::AllRoomsRequested`].
    pub fn answer_all_rooms(&mut self, request_id: &str, rooms: Vec<String>) -> bool {
        self.answer(request_id, Kind::AllRooms, ResponseBody::Rooms(rooms))
    }

    /// Answers the one-socket form of a join, leave or disconnect: the socket was here.
    pub fn answer_done(&mut self, request_id: &str) -> bool {
        self.answer(request_id, Kind::Done, ResponseBody::Done)
    }

    /// Acknowledges a [`NodeEvent::ServerSideEmit`] with one value (Node's acknowledgement
    /// callback sends its first argument, once). Published on the common response channel.
    pub fn answer_server_side_emit(&mut self, request_id: &str, data: Value) -> bool {
        self.answer(
            request_id,
            Kind::ServerSideEmit,
            ResponseBody::ServerSideEmit(data),
        )
    }

    /// Says to how many local clients a [`NodeEvent::BroadcastWithAckRequested`] went.
    pub fn answer_broadcast_client_count(&mut self, request_id: &str, count: u64) -> bool {
        self.answer(
            request_id,
            Kind::BroadcastAck,
            ResponseBody::BroadcastClientCount(count),
        )
    }

    /// Passes on one local client's acknowledgement of a
    /// [`NodeEvent::BroadcastWithAckRequested`]: `value` is its first argument (what Node
    /// passes on).
    pub fn answer_broadcast_ack(&mut self, request_id: &str, value: Value) -> bool {
        self.answer(
            request_id,
            Kind::BroadcastAck,
            ResponseBody::BroadcastAck(value),
        )
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

    /// The next message to publish.
    pub fn poll_publish(&mut self) -> Option<Publish> {
        self.p.publishes.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.p.events.pop_front()
    }

    /// When to feed [`NodeInput::Timeout`]: the earliest deadline of a request this node waits
    /// answers for or of a request it was asked.
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

    fn issue(
        &mut self,
        now: Instant,
        others: usize,
        asks: Asks,
        body: RequestBody,
    ) -> Result<RequestId, IssueError> {
        let id = self
            .p
            .issue(now, self.config.requests_timeout, others, asks)?;
        self.publish_request(Some(id.clone()), body);
        Ok(id)
    }

    fn publish_request(&mut self, request_id: Option<RequestId>, body: RequestBody) {
        let request = Request {
            uid: Some(self.config.uid.clone()),
            request_id,
            body,
        };
        let (_, payload) = request.encode();
        self.p.publishes.push_back(Publish {
            channel: self.request_channel.clone(),
            payload,
        });
    }

    fn answer(&mut self, request_id: &str, kind: Kind, body: ResponseBody) -> bool {
        let Some(uid) = self.p.take_asked(request_id, kind) else {
            return false;
        };
        let channel = match (&uid, kind) {
            (_, Kind::ServerSideEmit) => self.response_channel.clone(),
            (Some(uid), _) if self.config.publish_on_specific_response_channel => {
                channel::specific_response(&self.config.key, &self.config.nsp, uid)
            }
            _ => self.response_channel.clone(),
        };
        let (_, payload) = Response {
            request_id: request_id.to_owned(),
            body,
        }
        .encode();
        self.p.publishes.push_back(Publish { channel, payload });
        true
    }
}

/// Whether the `local` flag is set (nothing goes to the other servers).
fn is_local(opts: &BroadcastOptions) -> bool {
    opts.flags.as_ref().and_then(|f| f.local()).unwrap_or(false)
}

/// `opts` without flags, deduplicated, as Node writes the options of its requests.
fn bare(opts: &BroadcastOptions) -> BroadcastOptions {
    BroadcastOptions {
        rooms: dedup(&opts.rooms),
        except: dedup(&opts.except),
        flags: None,
    }
}
