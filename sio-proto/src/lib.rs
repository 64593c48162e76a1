//! The Engine.IO v4 and Socket.IO v5 protocols as sans-IO state machines.
//!
//! # The contract: no I/O, no clock, no global randomness
//!
//! Nothing in this crate opens a socket, spawns a task, sleeps, reads a clock or draws from an
//! operating-system RNG. Bytes, the current time (`now: Instant`) and seeds go in; bytes to
//! write, events and the next deadline come out. The same machines therefore run under any
//! async runtime (the `sio-tokio` and `sio-async-std` drivers are thin glue), and every
//! timeout — heartbeat, upgrade, connect, ack, reconnection — is testable in virtual time.
//!
//! Layers compose by draining: a Socket.IO [`socket::server::Connection`] owns an Engine.IO
//! [`engine::server::ServerSession`] and drains its events; the runtime drains the connection.
//!
//! # The drive loop
//!
//! Feed exactly one input with a `handle_*` method, drain `poll_transmit` and `poll_event`
//! until both return `None`, then wait for the next input or for `poll_timeout` (and call
//! `handle_timeout(now)` then):
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use sio_proto::engine::server::{EngineServer, ServerConfig, Transmit};
//! use sio_proto::engine::{Frame, TransportKind};
//! use sio_proto::socket::server::{Connection, ConnectionConfig, Event};
//! use sio_proto::IdGenerator;
//!
//! // The runtime reads the clock and seeds the ids; the crate never does.
//! let now = Instant::now();
//! let mut router = EngineServer::new(ServerConfig::default(), IdGenerator::from_u64(42));
//! // A websocket-only handshake was accepted by the runtime's HTTP layer.
//! let session = router.accept(now, TransportKind::WebSocket);
//! let mut conn = Connection::new(now, session, ConnectionConfig::default());
//!
//! let mut written = Vec::new();
//! // One input: the client's CONNECT to the main namespace arrives in a websocket frame.
//! conn.handle_ws_frame(now, Frame::Text(Bytes::from_static(b"40")));
//! // Drain until both queues are empty; answering an event may queue more output.
//! loop {
//!     let mut idle = true;
//!     while let Some(t) = conn.poll_transmit() {
//!         idle = false;
//!         match t {
//!             Transmit::Ws(frame) => written.push(frame), // write it on the websocket
//!             Transmit::PollResponse(_body) => {}         // answer the held long-poll GET
//!             Transmit::WsClose => {}                     // close the websocket
//!         }
//!     }
//!     while let Some(e) = conn.poll_event() {
//!         idle = false;
//!         if let Event::Connect { nsp, .. } = e {
//!             // Middleware would run here; then the decision goes back in as a command.
//!             conn.accept(&nsp, "socket-id-1").unwrap();
//!         }
//!     }
//!     if idle {
//!         break;
//!     }
//! }
//! assert!(matches!(&written[0], Frame::Text(t) if t.starts_with(b"0{\"sid\":")));
//! assert_eq!(written[1], Frame::Text(Bytes::from_static(br#"40{"sid":"socket-id-1"}"#)));
//!
//! // Then sleep until the next deadline (here: the first heartbeat ping).
//! let next = conn.poll_timeout().unwrap();
//! assert_eq!(next, now + Duration::from_millis(25_000));
//! conn.handle_timeout(next);
//! assert_eq!(conn.poll_transmit(), Some(Transmit::Ws(Frame::Text(Bytes::from_static(b"2")))));
//! ```
//!
//! # Map
//!
//! - [`engine`]: Engine.IO v4 packets and payloads, the server router and session, the
//!   client session (handshake, heartbeat, long-polling, websocket upgrade, close reasons).
//! - [`socket`]: Socket.IO v5 packets and binary reassembly, the server connection
//!   (namespaces, CONNECT/CONNECT_ERROR, connect timeout, acks), the client manager
//!   (multiplexing, acks, offline buffer, reconnection) and the backoff.
//! - [`rooms`]: the room index and the recipients of a broadcast.
//! - [`error`]: malformed bytes, protocol violations and API misuse, kept apart.
//! - [`id`]: session and socket ids from an injected seed.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod engine;
pub mod error;
pub mod id;
pub mod rooms;
pub mod socket;

pub use error::{DecodeError, ProtocolError, UsageError};
pub use id::IdGenerator;
