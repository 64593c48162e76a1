//! Engine.IO v4: packets and payloads ([`packet`]), the server side (a request router and one
//! session machine per client, [`server`]) and the client side ([`client`]); the server also
//! speaks v3 to Socket.IO v2 clients when allowed ([`v3`]).
//!
//! Specification: `docs/engine.io-protocol/v4-current.md` in the `socketio/socket.io`
//! repository.

pub mod client;
pub mod packet;
pub mod server;
pub mod v3;

pub use packet::{Frame, Message, OpenData, Packet};

/// The Engine.IO protocol revision a session speaks (the `EIO` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// v3, the protocol of Socket.IO v2 clients: the client pings, other payload framing
    /// ([`v3`]). Spoken by the server only when
    /// [`EngineConfig::allow_eio3`](server::EngineConfig::allow_eio3) is set.
    V3,
    /// v4, the current one.
    #[default]
    V4,
}

/// The two transports of Engine.IO v4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling: a held `GET` to receive, a `POST` to send.
    Polling,
    /// One websocket connection, one packet per frame.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }

    /// Parses the `transport` query parameter.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "polling" => Some(TransportKind::Polling),
            "websocket" => Some(TransportKind::WebSocket),
            _ => None,
        }
    }
}

/// Why an Engine.IO session closed. The strings are the ones Node reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The peer closed the transport, or sent a `close` packet.
    TransportClose,
    /// The transport failed (I/O error, overlapping long-poll, oversized websocket message).
    TransportError,
    /// No pong (server side) or no ping (client side) in time.
    PingTimeout,
    /// The peer sent bytes that do not decode.
    ParseError,
    /// This side closed the session on purpose.
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// Server side: the peer does not read what is sent to it, and its outbound queue went
    /// over its bound in packets or bytes (`max_queue`, `max_queue_bytes`). Not one of Node's
    /// reasons: Node's buffers grow without bound.
    SendBufferFull,
}

impl CloseReason {
    /// The reason as Node names it (`"transport close"`, `"ping timeout"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShuttingDown => "server shutting down",
            CloseReason::SendBufferFull => "send buffer full",
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Earliest of optional deadlines.
pub(crate) fn earliest(
    times: impl IntoIterator<Item = Option<std::time::Instant>>,
) -> Option<std::time::Instant> {
    times.into_iter().flatten().min()
}
