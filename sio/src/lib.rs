//! Socket.IO for Rust: the async API, written once for every runtime.
//!
//! The protocol lives in [`sio_proto`] (sans-IO state machines); this crate runs them: one task
//! per connection owns its state machine and its transport, handlers are called with typed
//! arguments, and broadcasts are encoded once. A runtime driver (`sio-tokio`,
//! `sio-async-std`) supplies a [`Runtime`] and accepts TCP connections.
//!
//! The client ([`client`]) runs the client state machine the same way: `client::io(rt, url,
//! opts)` connects like Node's `io(url, opts)`, with one task per [`client::Manager`].
#![warn(missing_docs)]

#[cfg(feature = "client")]
pub mod client;
mod drive;
pub mod engine;
pub mod handler;
pub mod io;
pub mod runtime;
pub mod server;
mod sync;
mod ws_deflate;

#[cfg(feature = "client")]
pub use client::{
    Auth, ClientAckError, ClientAckSender, ClientEmitError, ClientError, ClientOptions,
    ClientSocket, SocketOptions,
};
pub use runtime::{BoxFuture, Runtime};
pub use server::{
    AckError, AckResponse, AckSender, BroadcastAcks, BroadcastOperator, ConnectError, Cors,
    CorsError, CorsOrigins, DisconnectReason, EmitError, Handshake, HttpCompression, Namespace,
    Parser, RecoveryConfig, Server, ServerConfig, ServerSideAck, Socket,
};
pub use sio_proto as proto;
pub use sio_proto::payload;
pub use sio_proto::payload::{Arg, Args};
pub use ws_deflate::PerMessageDeflate;
