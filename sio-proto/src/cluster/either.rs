//! [`ClusterNode`]: a [`ClassicNode`] or a [`ShardedNode`] behind one interface, so that one
//! driver runs either adapter of `@socket.io/redis-adapter`. The commands, inputs, events and
//! answers are the two nodes' own (their shape is the same); what differs is said here as data:
//! how the driver subscribes ([`NodeSubscriptions`]), which channel it counts servers on and
//! with which command ([`ClusterNode::count_channel`], [`ClusterNode::sharded`]), how it
//! publishes ([`ClusterNode::sharded`]: `SPUBLISH` rather than `PUBLISH`), and the room
//! channels of the sharded dynamic modes ([`ClusterNode::room_created`]).

use std::time::Instant;

use super::channel::{self, SubscriptionMode};
use super::node::{
    AckBroadcastError, ClassicNode, NodeConfig, NodeEvent, NodeInput, Publish, RequestId,
};
use super::sharded_node::ShardedNode;
use super::tracker::IssueError;
use super::{BroadcastOptions, ClusterError, FetchedSocket, Value};
use crate::socket::packet::EncodedPacket;

/// Which adapter a [`ClusterNode`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdapterMode {
    /// `createAdapter`: `PUBLISH`, `SUBSCRIBE` and `PSUBSCRIBE`.
    #[default]
    Classic,
    /// `createShardedAdapter` (Redis 7): `SPUBLISH` and `SSUBSCRIBE`, in a subscription mode.
    Sharded(SubscriptionMode),
}

/// Everything the driver subscribes to for one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSubscriptions {
    /// To `SUBSCRIBE`.
    pub channels: Vec<String>,
    /// To `PSUBSCRIBE`.
    pub patterns: Vec<String>,
    /// To `SSUBSCRIBE`.
    pub shard_channels: Vec<String>,
}

/// One namespace of one server in a Redis adapter cluster, of either kind.
pub enum ClusterNode {
    /// The classic adapter.
    Classic(ClassicNode),
    /// The sharded adapter.
    Sharded(ShardedNode),
}

/// Calls the same method on whichever node this is.
macro_rules! either {
    ($self:expr, $n:ident => $e:expr) => {
        match $self {
            ClusterNode::Classic($n) => $e,
            ClusterNode::Sharded($n) => $e,
        }
    };
}

impl ClusterNode {
    /// A node of `mode`; its request ids derive from `seed`.
    pub fn new(config: NodeConfig, mode: AdapterMode, seed: [u8; 32]) -> Self {
        match mode {
            AdapterMode::Classic => ClusterNode::Classic(ClassicNode::new(config, seed)),
            AdapterMode::Sharded(m) => ClusterNode::Sharded(ShardedNode::new(config, m, seed)),
        }
    }

    /// The settings.
    pub fn config(&self) -> &NodeConfig {
        either!(self, n => n.config())
    }

    /// Whether this is the sharded adapter: `SPUBLISH` what [`ClusterNode::poll_publish`]
    /// gives and count servers with `PUBSUB SHARDNUMSUB` (else `PUBLISH`, `PUBSUB NUMSUB`).
    pub fn sharded(&self) -> bool {
        matches!(self, ClusterNode::Sharded(_))
    }

    /// Whether the local server must say when a room is created or deleted
    /// ([`ClusterNode::room_created`]): the sharded dynamic modes.
    pub fn tracks_rooms(&self) -> bool {
        match self {
            ClusterNode::Classic(_) => false,
            ClusterNode::Sharded(n) => n.mode() != SubscriptionMode::Static,
        }
    }

    /// What to subscribe to now (at start, and again after a reconnection).
    pub fn subscriptions(&self) -> NodeSubscriptions {
        match self {
            ClusterNode::Classic(n) => {
                let s = n.subscriptions();
                NodeSubscriptions {
                    channels: s.channels,
                    patterns: vec![s.pattern],
                    shard_channels: Vec::new(),
                }
            }
            ClusterNode::Sharded(n) => NodeSubscriptions {
                shard_channels: n.subscriptions().channels,
                ..NodeSubscriptions::default()
            },
        }
    }

    /// The channel whose subscriber count, less one, is `others`.
    pub fn count_channel(&self) -> &str {
        match self {
            ClusterNode::Classic(n) => n.request_channel(),
            ClusterNode::Sharded(n) => n.channel(),
        }
    }

    /// Room `room` was created on this server: the shard channel to `SSUBSCRIBE`, if any (see
    /// [`ShardedNode::room_created`]; a socket's own room is recognised as Node recognises it,
    /// by [`channel::looks_like_socket_id`]). Never for the classic adapter.
    pub fn room_created(&mut self, room: &str) -> Option<String> {
        match self {
            ClusterNode::Classic(_) => None,
            ClusterNode::Sharded(n) => n.room_created(room, channel::looks_like_socket_id(room)),
        }
    }

    /// Room `room` became empty on this server: the shard channel to `SUNSUBSCRIBE`, if any.
    pub fn room_deleted(&mut self, room: &str) -> Option<String> {
        match self {
            ClusterNode::Classic(_) => None,
            ClusterNode::Sharded(n) => n.room_deleted(room),
        }
    }

    /// See [`ClassicNode::broadcast`] and [`ShardedNode::broadcast`].
    pub fn broadcast(
        &mut self,
        packet: &EncodedPacket,
        opts: &BroadcastOptions,
    ) -> Result<(), ClusterError> {
        either!(self, n => n.broadcast(packet, opts))
    }

    /// See [`ClassicNode::broadcast_with_ack`].
    pub fn broadcast_with_ack(
        &mut self,
        now: Instant,
        packet: &EncodedPacket,
        opts: &BroadcastOptions,
        others: usize,
    ) -> Result<RequestId, AckBroadcastError> {
        either!(self, n => n.broadcast_with_ack(now, packet, opts, others))
    }

    /// See [`ClassicNode::fetch_sockets`].
    pub fn fetch_sockets(
        &mut self,
        now: Instant,
        opts: &BroadcastOptions,
        others: usize,
    ) -> Result<RequestId, IssueError> {
        either!(self, n => n.fetch_sockets(now, opts, others))
    }

    /// See [`ClassicNode::server_side_emit`].
    pub fn server_side_emit(
        &mut self,
        now: Instant,
        data: Vec<Value>,
        ack: bool,
        others: usize,
    ) -> Result<Option<RequestId>, IssueError> {
        either!(self, n => n.server_side_emit(now, data, ack, others))
    }

    /// See [`ClassicNode::add_sockets`].
    pub fn add_sockets(&mut self, opts: &BroadcastOptions, rooms: &[String]) {
        either!(self, n => n.add_sockets(opts, rooms))
    }

    /// See [`ClassicNode::del_sockets`].
    pub fn del_sockets(&mut self, opts: &BroadcastOptions, rooms: &[String]) {
        either!(self, n => n.del_sockets(opts, rooms))
    }

    /// See [`ClassicNode::disconnect_sockets`].
    pub fn disconnect_sockets(&mut self, opts: &BroadcastOptions, close: bool) {
        either!(self, n => n.disconnect_sockets(opts, close))
    }

    /// See [`ClassicNode::cancel`].
    pub fn cancel(&mut self, request_id: &str) -> bool {
        either!(self, n => n.cancel(request_id))
    }

    /// See [`ClassicNode::answer_fetch`].
    pub fn answer_fetch(&mut self, request_id: &str, sockets: Vec<FetchedSocket>) -> bool {
        either!(self, n => n.answer_fetch(request_id, sockets))
    }

    /// See [`ClassicNode::answer_sockets`] (the sharded adapter never asks: `false`).
    pub fn answer_sockets(&mut self, request_id: &str, ids: Vec<String>) -> bool {
        match self {
            ClusterNode::Classic(n) => n.answer_sockets(request_id, ids),
            ClusterNode::Sharded(_) => false,
        }
    }

    /// See [`ClassicNode::answer_all_rooms`] (the sharded adapter never asks: `false`).
    pub fn answer_all_rooms(&mut self, request_id: &str, rooms: Vec<String>) -> bool {
        match self {
            ClusterNode::Classic(n) => n.answer_all_rooms(request_id, rooms),
            ClusterNode::Sharded(_) => false,
        }
    }

    /// See [`ClassicNode::answer_done`] (the sharded adapter never asks: `false`).
    pub fn answer_done(&mut self, request_id: &str) -> bool {
        match self {
            ClusterNode::Classic(n) => n.answer_done(request_id),
            ClusterNode::Sharded(_) => false,
        }
    }

    /// See [`ClassicNode::answer_server_side_emit`].
    pub fn answer_server_side_emit(&mut self, request_id: &str, data: Value) -> bool {
        either!(self, n => n.answer_server_side_emit(request_id, data))
    }

    /// See [`ClassicNode::answer_broadcast_client_count`].
    pub fn answer_broadcast_client_count(&mut self, request_id: &str, count: u64) -> bool {
        either!(self, n => n.answer_broadcast_client_count(request_id, count))
    }

    /// See [`ClassicNode::answer_broadcast_ack`].
    pub fn answer_broadcast_ack(&mut self, request_id: &str, value: Value) -> bool {
        either!(self, n => n.answer_broadcast_ack(request_id, value))
    }

    /// See [`ClassicNode::handle`].
    pub fn handle(&mut self, now: Instant, input: NodeInput) {
        either!(self, n => n.handle(now, input))
    }

    /// The next message to publish (`SPUBLISH` when [`ClusterNode::sharded`]).
    pub fn poll_publish(&mut self) -> Option<Publish> {
        either!(self, n => n.poll_publish())
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        either!(self, n => n.poll_event())
    }

    /// When to feed [`NodeInput::Timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        either!(self, n => n.poll_timeout())
    }

    /// Messages from the bus that were dropped as malformed.
    pub fn malformed(&self) -> u64 {
        either!(self, n => n.malformed())
    }

    /// Requests asked of this node and dropped (too many pending).
    pub fn dropped(&self) -> u64 {
        either!(self, n => n.dropped())
    }

    /// Requests this node waits answers for.
    pub fn pending_requests(&self) -> usize {
        either!(self, n => n.pending_requests())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::Nsp;

    fn node(mode: AdapterMode) -> ClusterNode {
        let config = NodeConfig::new(Nsp::new("/chat").unwrap(), "uid1".to_owned());
        ClusterNode::new(config, mode, [7; 32])
    }

    #[test]
    fn classic_subscribes_channels_and_a_pattern() {
        let n = node(AdapterMode::Classic);
        let s = n.subscriptions();
        assert!(!n.sharded() && !n.tracks_rooms());
        assert_eq!(s.patterns, ["socket.io#/chat#*"]);
        assert!(s.channels.contains(&"socket.io-request#/chat#".to_owned()));
        assert!(s.shard_channels.is_empty());
        assert_eq!(n.count_channel(), "socket.io-request#/chat#");
    }

    #[test]
    fn sharded_dynamic_subscribes_public_rooms_only() {
        let mut n = node(AdapterMode::Sharded(SubscriptionMode::Dynamic));
        assert!(n.sharded() && n.tracks_rooms());
        assert_eq!(n.count_channel(), "socket.io#/chat#");
        assert_eq!(
            n.room_created("blue").as_deref(),
            Some("socket.io#/chat#blue#")
        );
        assert_eq!(n.room_created("blue"), None, "not twice");
        assert_eq!(
            n.room_created("AAAAAAAAAAAAAAAAAAAA"),
            None,
            "a socket's own room"
        );
        let s = n.subscriptions();
        assert!(s.channels.is_empty() && s.patterns.is_empty());
        assert_eq!(
            s.shard_channels,
            [
                "socket.io#/chat#",
                "socket.io#/chat#uid1#",
                "socket.io#/chat#blue#"
            ]
        );
        assert_eq!(
            n.room_deleted("blue").as_deref(),
            Some("socket.io#/chat#blue#")
        );
        assert_eq!(n.room_deleted("blue"), None);
    }

    #[test]
    fn sharded_private_and_static_modes() {
        let mut p = node(AdapterMode::Sharded(SubscriptionMode::DynamicPrivate));
        assert!(p.room_created("AAAAAAAAAAAAAAAAAAAA").is_some());
        let mut s = node(AdapterMode::Sharded(SubscriptionMode::Static));
        assert!(!s.tracks_rooms());
        assert_eq!(s.room_created("blue"), None);
        assert_eq!(s.subscriptions().shard_channels.len(), 2);
    }
}
