//! The public types of [`ClassicNode`](super::ClassicNode): its settings, inputs, outputs and
//! events.

use std::time::Duration;

use super::super::classic::Target;
use super::super::tracker::{IssueError, Outcome};
use super::super::{BroadcastOptions, ClusterError, FetchedSocket, Value};
use crate::socket::packet::{EncodedPacket, Nsp};

#[cfg(doc)]
use super::ClassicNode;

/// The id of a request, as it travels in `requestId`.
pub type RequestId = String;

/// Settings of one [`ClassicNode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// The channel prefix (Node's `key`, `"socket.io"`).
    pub key: String,
    /// The namespace.
    pub nsp: Nsp,
    /// This node's id (6 characters in Node, `uid2(6)`; any text other nodes do not use).
    pub uid: String,
    /// How long a request waits for answers (Node's `requestsTimeout`, 5 s); also how long a
    /// request this node was asked stays answerable.
    pub requests_timeout: Duration,
    /// Answer on the requester's own response channel (Node's
    /// `publishOnSpecificResponseChannel`, off).
    pub publish_on_specific_response_channel: bool,
    /// Bound on the requests this node waits answers for, and separately on the requests it
    /// was asked and has not answered yet (default 1024). Over it, a new request is refused
    /// ([`IssueError::Full`]) and a request asked is dropped (counted by
    /// [`ClassicNode::dropped`]).
    pub max_pending_requests: usize,
}

impl NodeConfig {
    /// Node's defaults for namespace `nsp` and node id `uid`.
    pub fn new(nsp: Nsp, uid: impl Into<String>) -> Self {
        NodeConfig {
            key: "socket.io".to_owned(),
            nsp,
            uid: uid.into(),
            requests_timeout: Duration::from_millis(5_000),
            publish_on_specific_response_channel: false,
            max_pending_requests: 1024,
        }
    }
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// The channel.
    pub channel: String,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// What the driver subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    /// `SUBSCRIBE`: the request channel, the common response channel and this node's own one.
    pub channels: Vec<String>,
    /// `PSUBSCRIBE`: the broadcasts of the namespace and of its rooms, `key#nsp#*`.
    pub pattern: String,
}

/// Why [`ClassicNode::broadcast_with_ack`] published nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckBroadcastError {
    /// The packet is not an event our sockets send.
    #[error(transparent)]
    Packet(#[from] ClusterError),
    /// Nothing to wait for, or too many requests pending.
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// What comes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeInput {
    /// A message received on `channel` (from a subscription or the pattern).
    Message {
        /// The channel it was published on.
        channel: String,
        /// Its bytes.
        payload: Vec<u8>,
    },
    /// The instant [`ClassicNode::poll_timeout`] gave has passed.
    Timeout,
}

/// What a finished request gathered from the other servers (this server's own part is the
/// caller's to add).
#[derive(Debug, Clone, PartialEq)]
pub enum RequestResult {
    /// `fetch_sockets`: the sockets every answer described, in arrival order.
    Fetched(Vec<FetchedSocket>),
    /// `server_side_emit` with an acknowledgement: one value per answering server.
    ServerSideEmit(Vec<Value>),
    /// `all_rooms`: the rooms of the answers, each once, in order of first appearance.
    Rooms(Vec<String>),
    /// `broadcast_with_ack`: the other servers' clients' acknowledgements (each the first
    /// argument of one client's ack), in arrival order.
    BroadcastAcks(Vec<Value>),
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEvent {
    /// Another node's (or the emitter's) broadcast, for the local sockets `opts` selects.
    Broadcast {
        /// The packet, as the local sockets send it.
        packet: EncodedPacket,
        /// Who it is for (`rooms`, `except`) and its flags.
        opts: BroadcastOptions,
    },
    /// Describe the local sockets `opts` selects: answer with [`ClassicNode::answer_fetch`].
    FetchRequested {
        /// The request to answer.
        request_id: RequestId,
        /// Which sockets.
        opts: BroadcastOptions,
    },
    /// The ids of the local sockets in `rooms` (all when empty), the older `SOCKETS`
    /// request: answer with [`ClassicNode::answer_sockets`].
    SocketsRequested {
        /// The request to answer.
        request_id: RequestId,
        /// The rooms.
        rooms: Vec<String>,
    },
    /// Local sockets join `rooms`. For the one-socket form with a request id, call
    /// [`ClassicNode::answer_done`] when the socket was found here (Node answers only then).
    JoinRequested {
        /// Which sockets.
        target: Target,
        /// The rooms.
        rooms: Vec<String>,
        /// Set for the one-socket form that expects an answer.
        request_id: Option<RequestId>,
    },
    /// Local sockets leave `rooms` (answered as [`NodeEvent::JoinRequested`]).
    LeaveRequested {
        /// Which sockets.
        target: Target,
        /// The rooms.
        rooms: Vec<String>,
        /// Set for the one-socket form that expects an answer.
        request_id: Option<RequestId>,
    },
    /// Local sockets are disconnected, their connection closed too with `close` (answered as
    /// [`NodeEvent::JoinRequested`]).
    DisconnectRequested {
        /// Which sockets.
        target: Target,
        /// Close the underlying connection.
        close: bool,
        /// Set for the one-socket form that expects an answer.
        request_id: Option<RequestId>,
    },
    /// Another server's `serverSideEmit`: `data` is `[name, ...args]`. With a request id, it
    /// wants an acknowledgement: [`ClassicNode::answer_server_side_emit`].
    ServerSideEmit {
        /// The event name and arguments.
        data: Vec<Value>,
        /// Set when an acknowledgement is awaited.
        request_id: Option<RequestId>,
    },
    /// Every room of the local namespace: answer with [`ClassicNode::answer_all_rooms`].
    AllRoomsRequested {
        /// The request to answer.
        request_id: RequestId,
    },
    /// Another server's broadcast whose clients' acknowledgements it awaits: send `packet`
    /// with an ack id to the sockets `opts` selects, then call
    /// [`ClassicNode::answer_broadcast_client_count`] once and
    /// [`ClassicNode::answer_broadcast_ack`] for each acknowledgement.
    BroadcastWithAckRequested {
        /// The request to answer.
        request_id: RequestId,
        /// The packet, as the local sockets send it (without an ack id: each socket's is
        /// its own).
        packet: EncodedPacket,
        /// Who it is for, and its flags (`timeout`).
        opts: BroadcastOptions,
    },
    /// A request this node issued ended.
    Completed {
        /// Its id.
        request_id: RequestId,
        /// What the other servers answered.
        result: RequestResult,
        /// Whether every answer arrived, or which were missing at the deadline.
        outcome: Outcome,
    },
}
