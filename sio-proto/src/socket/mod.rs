//! Socket.IO v5: the packet codec and binary reassembly ([`packet`]), the server side of one
//! connection ([`server`]), the client side ([`client`]), the table of awaited acks both use
//! ([`acks`]) and the reconnection backoff ([`backoff`]).
//!
//! Specification: `docs/socket.io-protocol/v5-current.md` in the `socketio/socket.io`
//! repository.

pub mod acks;
pub mod backoff;
pub mod msgpack;
pub mod packet;
pub mod recovery;

pub use msgpack::Parser;
pub use packet::{Decoder, EncodedPacket, Nsp, Packet, PacketKind};
pub mod client;
pub mod server;

use crate::engine::CloseReason;

/// Why a socket (one namespace on a connection) was disconnected. The strings are the ones
/// Node's server and client report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The transport closed (`transport close`).
    TransportClose,
    /// The transport failed (`transport error`).
    TransportError,
    /// The heartbeat failed (`ping timeout`).
    PingTimeout,
    /// The peer sent undecodable bytes (`parse error`).
    ParseError,
    /// The connection was closed on purpose (`forced close`).
    ForcedClose,
    /// The server closed the whole connection while disconnecting a socket
    /// (`forced server close`).
    ForcedServerClose,
    /// The server shut down (`server shutting down`).
    ServerShuttingDown,
    /// Server side: the client did not read what was sent to it and its outbound queue went
    /// over its bound (`send buffer full`; see [`crate::engine::CloseReason::SendBufferFull`]).
    SendBufferFull,
    /// Server side: the server disconnected the socket (`server namespace disconnect`).
    ServerNamespaceDisconnect,
    /// Server side: the client disconnected the socket (`client namespace disconnect`).
    ClientNamespaceDisconnect,
    /// Client side: the server disconnected the socket (`io server disconnect`).
    IoServerDisconnect,
    /// Client side: the application disconnected the socket (`io client disconnect`).
    IoClientDisconnect,
}

impl DisconnectReason {
    /// The reason as Node names it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::SendBufferFull => "send buffer full",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::IoServerDisconnect => "io server disconnect",
            DisconnectReason::IoClientDisconnect => "io client disconnect",
        }
    }

    /// Whether the client should try to reconnect after this (client side): not after the
    /// server or the application ended the socket on purpose.
    pub fn should_reconnect(self) -> bool {
        !matches!(
            self,
            DisconnectReason::IoServerDisconnect | DisconnectReason::IoClientDisconnect
        )
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(r: CloseReason) -> Self {
        match r {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
            CloseReason::ServerShuttingDown => DisconnectReason::ServerShuttingDown,
            CloseReason::SendBufferFull => DisconnectReason::SendBufferFull,
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
