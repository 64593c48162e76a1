//! What the client [`Manager`](super::Manager) reports.

use crate::engine::client::OpenError;
use crate::engine::{CloseReason, OpenData};
use crate::error::UsageError;
use crate::socket::packet::{Nsp, Packet};
use crate::socket::DisconnectReason;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The Engine.IO session opened (manager `open`).
    Open(OpenData),
    /// The server pinged (manager `ping`).
    Ping,
    /// The connection now uses the websocket.
    Upgraded,
    /// Send the CONNECT for `nsp` now, with
    /// [`Manager::send_connect`](super::Manager::send_connect).
    NamespaceReady {
        /// The namespace.
        nsp: Nsp,
    },
    /// The namespace is connected (socket `connect`), with the id the server gave it.
    Connected {
        /// The namespace.
        nsp: Nsp,
        /// The socket id.
        sid: String,
        /// Whether the server recovered the socket (connection state recovery): same id,
        /// rooms and data, and the events it missed follow.
        recovered: bool,
    },
    /// Socket `connect_error`: the server refused the namespace (`refused`; the namespace is
    /// no longer wanted, and the connection closes when no namespace is), or the connection
    /// could not be established (the namespace stays wanted, reconnection goes on).
    ConnectError {
        /// The namespace.
        nsp: Nsp,
        /// The message (CONNECT_ERROR's `message`, or the connection error).
        message: String,
        /// CONNECT_ERROR's `data`, or `{"status", "body"}` of a refused handshake.
        data: Option<serde_json::Value>,
        /// Whether the server refused the namespace.
        refused: bool,
    },
    /// An event from the server; `packet.id` is set when the server wants an ack.
    Event {
        /// The namespace.
        nsp: Nsp,
        /// The packet.
        packet: Packet,
    },
    /// How an emit that asked for an ack ended: the server's ACK packet, or why none will
    /// come. Exactly one per [`emit_with_ack`](super::Manager::emit_with_ack) or
    /// [`emit_queued`](super::Manager::emit_queued) that returned `Ok` and was not forgotten.
    Ack {
        /// The namespace.
        nsp: Nsp,
        /// The id the emit was made with (for `emit_queued`,
        /// [`QueuedEmit::id`](super::QueuedEmit::id), not the ack id of a try).
        id: u64,
        /// The ACK or BINARY_ACK packet, or why none will come.
        result: Result<Packet, AckError>,
    },
    /// The socket of `nsp` was disconnected (socket `disconnect`).
    Disconnected {
        /// The namespace.
        nsp: Nsp,
        /// Why.
        reason: DisconnectReason,
    },
    /// The Engine.IO session closed (manager `close`).
    Closed(CloseReason),
    /// The handshake failed (manager `error`).
    Error(OpenError),
    /// A reconnection attempt starts now (manager `reconnect_attempt`).
    ReconnectAttempt(u32),
    /// A reconnection attempt failed (manager `reconnect_error`).
    ReconnectError(OpenError),
    /// Reconnected after this many attempts (manager `reconnect`).
    Reconnected(u32),
    /// No attempts left (manager `reconnect_failed`).
    ReconnectFailed,
}

/// Why an awaited ack will not come.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// No answer before the deadline (in the retry queue: none to the last try).
    #[error("ack timed out")]
    Timeout,
    /// The socket was disconnected after the packet left (in the retry queue: during the last
    /// try).
    #[error("socket disconnected before the ack")]
    Disconnected,
    /// A try of the retry queue could not be sent (too many acks awaited, or the Engine.IO
    /// queue is full).
    #[error("the emit could not be sent: {0}")]
    NotSent(UsageError),
}

/// The CONNECT_ERROR payload: `{"message": .., "data": ..}` (Socket.IO v5), or a string
/// (v4).
pub(super) fn parse_connect_error(data: &[u8]) -> (String, Option<serde_json::Value>) {
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(serde_json::Value::Object(mut m)) => {
            let message = m
                .get("message")
                .and_then(|v| v.as_str())
                .unwrap_or("connect error")
                .to_owned();
            (message, m.remove("data"))
        }
        Ok(serde_json::Value::String(s)) => (s, None),
        _ => ("connect error".to_owned(), None),
    }
}
