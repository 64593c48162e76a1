//! Socket.IO for Rust, server and client: Socket.IO protocol v5 over Engine.IO v4,
//! wire-compatible with the JavaScript `socket.io` and `socket.io-client` 4.x (and, with
//! [`ServerConfig::allow_eio3`], Socket.IO v2 clients), on tokio, smol and async-std.
//!
//! - [Getting started](#getting-started)
//! - [The server](#the-server): events and acks, rooms and broadcasts, namespaces and middleware
//! - [The client](#the-client)
//! - [Options a Node user looks for](#options-a-node-user-looks-for)
//! - [How it is built](#how-it-is-built)
//!
//! # Getting started
//!
//! Depend on a runtime driver: `sio-tokio` (tokio; `listen`, `SioLayer` for axum and tower
//! apps, `io` for clients) or `sio-async-std` (smol by default, async-std behind its feature).
//! The drivers re-export what handlers name (`Socket`, `AckSender`, `ServerConfig`, ...), so one
//! dependency is enough:
//!
//! ```text
//! [dependencies]
//! sio-tokio = { path = "sio-tokio" }   # from this repository
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! # The server
//!
//! Handlers look like Node's: a connection handler per namespace, one handler per event with
//! typed arguments (a tuple, or [`Args`] for `(...args)`), an [`AckSender`] when the client
//! wants an answer.
//!
//! ```no_run
//! use std::time::Duration;
//! use sio::{AckSender, ConnectError, Server, Socket};
//!
//! fn setup(io: &Server) -> Result<(), sio::EmitError> {
//!     // io.on("connection", (socket) => ...)
//!     io.on_connection(|socket: Socket| async move {
//!         // socket.on("chat", (msg) => socket.broadcast.emit("chat", msg))
//!         socket.on("chat", |socket: Socket, msg: String| async move {
//!             let _ = socket.broadcast().emit("chat", &msg);
//!         });
//!         // socket.on("echo", (value, callback) => callback(value))
//!         socket.on("echo", |_: Socket, v: serde_json::Value, ack: AckSender| async move {
//!             let _ = ack.send(&v);
//!         });
//!         // socket.join("lobby"); await socket.timeout(5000).emitWithAck("ping")
//!         socket.join(["lobby"]);
//!         let pong = socket
//!             .emit_with_ack::<_, String>("ping", &(), Some(Duration::from_secs(5)))
//!             .await;
//!         println!("{} answered {pong:?}", socket.id());
//!     });
//!     // io.of("/admin").use((socket, next) => ...)
//!     io.of("/admin").use_middleware(|socket: Socket| async move {
//!         match socket.handshake().auth.get("token").and_then(|t| t.as_str()) {
//!             Some("secret") => Ok(()),
//!             _ => Err(ConnectError::new("not authorized")),
//!         }
//!     });
//!     // io.to("lobby").except("muted").emit("news", "hello")
//!     io.to("lobby").except("muted").emit("news", &"hello")?;
//!     Ok(())
//! }
//! ```
//!
//! A driver runs it: `sio_tokio::listen("127.0.0.1:3000", io).await`, or mounted in an axum app
//! with `Router::layer(sio_tokio::SioLayer::new(io))`. With a cluster adapter (`sio-redis`,
//! `@socket.io/redis-adapter`'s wire format) broadcasts, `fetch_sockets` and server-side emits
//! reach the other servers, Node's included.
//!
//! # The client
//!
//! [`client::io`] connects like Node's `io(url, opts)` (the drivers' `io` supply the runtime);
//! it reconnects with backoff, buffers emits while disconnected and answers the server's acks.
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! async fn chat(socket: sio::ClientSocket) -> Result<(), Box<dyn std::error::Error>> {
//!     socket.on("news", |_: sio::ClientSocket, text: String| async move {
//!         println!("news: {text}");
//!     });
//!     // The server asks, the client answers (`socket.on("ping", (cb) => cb("pong"))`).
//!     socket.on("ping", |_: sio::ClientSocket, _: (), ack: sio::ClientAckSender| async move {
//!         let _ = ack.send(&"pong");
//!     });
//!     socket.emit("chat", &"hello")?;
//!     let echoed: String = socket.emit_with_ack("echo", &"ping", None).await?;
//!     println!("echoed {echoed}");
//!     Ok(())
//! }
//! ```
//!
//! # Options a Node user looks for
//!
//! | Node | here |
//! |---|---|
//! | `pingInterval`, `pingTimeout`, `maxHttpBufferSize`, `transports`, `allowUpgrades`, `allowEIO3` | [`ServerConfig::engine`] |
//! | `connectTimeout`, `parser` | [`ServerConfig::connect_timeout`], [`ServerConfig::parser`] |
//! | `cors`, `cookie`, `allowRequest`, `serveClient`, `path` | [`ServerConfig`]'s fields of those names |
//! | `connectionStateRecovery` | [`ServerConfig::connection_state_recovery`] |
//! | `httpCompression`, `perMessageDeflate` | [`ServerConfig::http_compression`], [`ServerConfig::per_message_deflate`] |
//! | client: `reconnection*`, `timeout`, `ackTimeout`, `retries`, `auth`, `query`, `extraHeaders`, `withCredentials`, `perMessageDeflate` | [`ClientOptions`] |
//!
//! # How it is built
//!
//! The protocol lives in [`sio_proto`] (sans-IO state machines); this crate runs them: one task
//! per connection owns its state machine and its transport, handlers are called with typed
//! arguments, and broadcasts are encoded once. A runtime driver (`sio-tokio`,
//! `sio-async-std`) supplies a [`Runtime`] and accepts TCP connections. The client
//! ([`client`]) runs the client state machine the same way, with one task per
//! [`client::Manager`]. Cargo features: `client` and `tls` (both default; without them the
//! crate is a server alone, with no TLS stack), `native-roots` (the system's root
//! certificates for the client, `client::tls_config_native_roots`), and `lock-stats` (off:
//! `lock_stats`, the crate's locks counted by place, for a contention profile).
#![warn(missing_docs)]

#[cfg(feature = "client")]
pub mod client;
mod drive;
pub mod engine;
pub mod handler;
pub mod io;
#[cfg(feature = "lock-stats")]
pub mod lock_stats;
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
