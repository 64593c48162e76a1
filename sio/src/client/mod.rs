//! The Socket.IO client: [`io`] (Node's `io(url, opts)`), a [`Manager`] per server connection
//! shared by the [`ClientSocket`]s of its namespaces, reconnection with backoff, acks both
//! ways, binary attachments, HTTP long-polling, websocket and the upgrade between them, TLS.
//!
//! ```no_run
//! # async fn example(rt: std::sync::Arc<dyn sio::Runtime>) -> Result<(), sio::client::ClientError> {
//! use sio::client::{io, ClientAckSender, ClientOptions, ClientSocket};
//!
//! let socket = io(rt, "http://127.0.0.1:3000/chat", ClientOptions::default())?;
//! socket.on("news", |_: ClientSocket, text: String| async move {
//!     println!("news: {text}");
//! });
//! // The server may ask this client for an ack (`socket.emitWithAck` in Node).
//! socket.on("question", |_: ClientSocket, n: i64, ack: ClientAckSender| async move {
//!     let _ = ack.send(&(n * 2));
//! });
//! socket.on_connect(|s: ClientSocket| async move {
//!     let sum: i64 = s.emit_with_ack("sum", &(1, 2), None).await.unwrap_or_default();
//!     println!("1 + 2 = {sum}");
//! });
//! # Ok(())
//! # }
//! ```
//!
//! # How it runs
//!
//! The protocol is [`sio_proto::socket::client::Manager`], a sans-IO state machine. One task
//! per [`Manager`] owns it and follows its drive loop (see `task.rs`): it makes the HTTP
//! requests and websocket connections the machine asks for in spawned futures whose results
//! come back through the task's inbox, tagged with the Engine.IO generation they belong to,
//! and runs the handlers of the sockets as futures inside the task. Every queue is bounded:
//! the machine's (emits buffered per namespace, acks awaited, frames queued), the inbox
//! ([`ClientOptions::max_pending_commands`]) and the response sizes.

mod cookies;
mod error;
mod handle;
mod manager;
mod options;
mod socket;
mod task;
mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use self::error::{ClientAckError, ClientEmitError, ClientError, NextEventError};
pub use self::handle::ClientSocket;
pub use self::handle::{ListenerId, Manager};
pub use self::options::{Auth, ClientOptions, Proxy, SocketOptions, Transport};
pub use self::socket::{AckFuture, ClientAckSender, ClientCompress, Volatile};
#[cfg(feature = "native-roots")]
pub use self::transport::tls_config_native_roots;
#[cfg(feature = "tls")]
pub use self::transport::tls_config_with_roots;
pub use crate::handler::{EventHandler, NoData, WithAck, WithData};
#[cfg(feature = "tls")]
pub use futures_rustls::rustls;
pub use sio_proto::engine::client::OpenError;
pub use sio_proto::engine::CloseReason;
pub use sio_proto::socket::DisconnectReason;

use self::socket::lock;
use self::transport::parse_url;
use crate::runtime::Runtime;

/// The managers [`io`] shares, by server (scheme, host, port) and Engine.IO path.
fn cache() -> &'static Mutex<HashMap<String, Manager>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Manager>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Connects to the namespace in `url`'s path (`/` when none) of the server in `url`, like
/// Node's `io(url, opts)`: the manager (the Engine.IO connection) of the same server and path
/// is shared while any of its sockets is alive, unless `force_new` is set, `multiplex` is
/// off, or the namespace already has a socket on it. With `auto_connect` (the default) the socket connects at once; register
/// handlers right away, or set `auto_connect: false` and call [`ClientSocket::connect`] after.
///
/// The shared manager keeps the runtime of the call that created it. The drivers' `io`
/// (`sio_tokio::io`, `sio_async_std::io`) pass their runtime.
///
/// ```no_run
/// # fn demo(rt: std::sync::Arc<dyn sio::Runtime>) -> Result<(), sio::ClientError> {
/// let opts = sio::ClientOptions {
///     auth: Some(sio::Auth::from(serde_json::json!({ "token": "abc" }))),
///     ..Default::default()
/// };
/// let socket = sio::client::io(rt, "http://127.0.0.1:3000/chat", opts)?;
/// socket.on_connect(|socket: sio::ClientSocket| async move {
///     println!("connected as {:?}", socket.id());
/// });
/// # Ok(()) }
/// ```
pub fn io(
    rt: Arc<dyn Runtime>,
    url: &str,
    opts: ClientOptions,
) -> Result<ClientSocket, ClientError> {
    let parsed = parse_url(url)?;
    let mut opts = opts;
    if opts.query.is_empty() {
        opts.query = parsed.query.clone();
    }
    let socket_opts = opts.socket_options();
    let nsp = parsed.path.clone();
    let key = format!("{}{}", parsed.origin(), opts.path);
    let fresh = opts.force_new || !opts.multiplex;
    if fresh {
        return Manager::new(rt, url, opts)?.socket(&nsp, socket_opts);
    }
    // The socket is created under the cache lock, so that a manager just cached is not taken
    // for an abandoned one by a concurrent call.
    let mut cache = lock(cache());
    // A cached manager none of whose sockets is alive any more is abandoned: it is replaced
    // (Node would keep it, with the options of its first call).
    cache.retain(|_, m| m.has_live_sockets());
    let manager = match cache.get(&key) {
        Some(m) if !m.has_socket(&nsp) => m.clone(),
        // Node: a second socket for the same namespace gets its own connection, and the
        // cached manager stays.
        Some(_) => Manager::new(rt, url, opts)?,
        None => {
            let m = Manager::new(rt, url, opts)?;
            cache.insert(key, m.clone());
            m
        }
    };
    manager.socket(&nsp, socket_opts)
}
