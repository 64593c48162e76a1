//! The smol driver for `sio`, and the async-std one behind the `async-std` feature.
//!
//! Both runtimes sit on the same `async-io` reactor, so one crate serves both: networking
//! and timers come from `async-io` (through `smol`), and only spawning differs —
//! [`SmolRuntime`] spawns on smol's global executor, `AsyncStdRuntime` (feature `async-std`)
//! on async-std's. async-std is discontinued upstream (RUSTSEC-2025-0052): smol is the
//! default, and a build without the feature compiles no async-std. Nothing here knows the
//! protocol.
//!
//! ```no_run
//! use sio::{ServerConfig, Socket};
//!
//! fn main() -> std::io::Result<()> {
//!     smol::block_on(async {
//!         let io = sio_async_std::new_server(sio_async_std::SmolRuntime, ServerConfig::default());
//!         io.on_connection(|socket: Socket| async move {
//!             socket.on("ping", |socket: Socket| async move {
//!                 let _ = socket.emit("pong", &());
//!             });
//!         });
//!         sio_async_std::listen("127.0.0.1:3000", io).await
//!     })
//! }
//! ```
#![warn(missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use sio::runtime::BoxStream;
pub use sio::{BoxFuture, Runtime, Server, ServerConfig};
// What handlers and clients name, so that this crate is the one dependency an application needs.
#[cfg(feature = "client")]
pub use sio::{
    client, Auth, ClientAckSender, ClientError, ClientOptions, ClientSocket, SocketOptions,
};
pub use sio::{
    server, AckError, AckSender, Arg, Args, BroadcastAcks, BroadcastOperator, ConnectError, Cors,
    DisconnectReason, EmitError, Handshake, Namespace, ServerSideAck, Socket,
};
use smol::net::{TcpListener, TcpStream};

/// Timers and connections shared by both runtimes (the `async-io` reactor).
fn sleep_until(deadline: Instant) -> BoxFuture<()> {
    Box::pin(async move {
        smol::Timer::at(deadline).await;
    })
}

/// An `async-io` timer, moved in place by [`sio::runtime::Sleep::reset`].
struct Timer(smol::Timer);

impl std::future::Future for Timer {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl sio::runtime::Sleep for Timer {
    fn reset(mut self: std::pin::Pin<&mut Self>, deadline: Instant) -> bool {
        self.0.set_at(deadline);
        true
    }
}

fn timer(deadline: Instant) -> std::pin::Pin<Box<dyn sio::runtime::Sleep>> {
    Box::pin(Timer(smol::Timer::at(deadline)))
}

fn connect(host: &str, port: u16) -> BoxFuture<std::io::Result<BoxStream>> {
    let host = host.to_owned();
    Box::pin(async move {
        let s = TcpStream::connect((host.as_str(), port)).await?;
        let _ = s.set_nodelay(true);
        Ok(Box::new(s) as BoxStream)
    })
}

/// The async-std implementation of [`Runtime`] (feature `async-std`; async-std is
/// discontinued upstream, prefer [`SmolRuntime`]).
#[cfg(feature = "async-std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

#[cfg(feature = "async-std")]
impl Runtime for AsyncStdRuntime {
    fn spawn(&self, fut: BoxFuture<()>) {
        async_std::task::spawn(fut);
    }
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        sleep_until(deadline)
    }
    fn timer(&self, deadline: Instant) -> std::pin::Pin<Box<dyn sio::runtime::Sleep>> {
        timer(deadline)
    }
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn connect(&self, host: &str, port: u16) -> BoxFuture<std::io::Result<BoxStream>> {
        connect(host, port)
    }
}

/// The smol implementation of [`Runtime`] (its global executor).
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolRuntime;

impl Runtime for SmolRuntime {
    fn spawn(&self, fut: BoxFuture<()>) {
        smol::spawn(fut).detach();
    }
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        sleep_until(deadline)
    }
    fn timer(&self, deadline: Instant) -> std::pin::Pin<Box<dyn sio::runtime::Sleep>> {
        timer(deadline)
    }
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn connect(&self, host: &str, port: u16) -> BoxFuture<std::io::Result<BoxStream>> {
        connect(host, port)
    }
}

/// Connects a client socket on smol, like Node's `io(url, opts)`: the namespace in `url`'s path
/// (`/` when none) of the server in `url` (see [`sio::client::io`] for how managers are
/// shared). [`io_on`] takes another runtime (`AsyncStdRuntime` with the `async-std` feature).
///
/// ```no_run
/// # fn demo() -> Result<(), sio_async_std::ClientError> {
/// let socket = sio_async_std::io("http://127.0.0.1:3000/chat", Default::default())?;
/// socket.on("news", |_: sio_async_std::ClientSocket, text: String| async move {
///     println!("{text}");
/// });
/// # Ok(()) }
/// ```
#[cfg(feature = "client")]
pub fn io(url: &str, opts: ClientOptions) -> Result<ClientSocket, ClientError> {
    io_on(SmolRuntime, url, opts)
}

/// [`io`] on runtime `rt`.
#[cfg(feature = "client")]
pub fn io_on(
    rt: impl Runtime,
    url: &str,
    opts: ClientOptions,
) -> Result<ClientSocket, ClientError> {
    sio::client::io(Arc::new(rt), url, opts)
}

/// A server on runtime `rt`.
pub fn new_server(rt: impl Runtime, config: ServerConfig) -> Server {
    Server::new(Arc::new(rt), config)
}

/// Binds `addr` and serves `server` on it. Runs until dropped; only binding can fail (accept
/// errors are reported and retried, see [`sio::server::accept_loop`]).
pub async fn listen(addr: impl Into<String>, server: Server) -> std::io::Result<()> {
    let addr: String = addr.into();
    serve(TcpListener::bind(addr.as_str()).await?, server).await
}

/// Serves `server` on an already bound listener (see [`listen`]); connections run on the
/// server's runtime.
pub async fn serve(listener: TcpListener, server: Server) -> std::io::Result<()> {
    serve_with(listener, server, None).await
}

/// Serves `server` on `listener`, answering other paths with `fallback`.
pub async fn serve_with(
    listener: TcpListener,
    server: Server,
    fallback: Option<sio::server::Fallback>,
) -> std::io::Result<()> {
    let s = server.clone();
    sio::server::accept_loop(
        &server,
        || listener.accept(),
        move |stream: TcpStream, peer: SocketAddr| {
            let _ = stream.set_nodelay(true);
            let conn =
                sio::server::serve_connection_with(s.clone(), stream, Some(peer), fallback.clone());
            s.runtime().spawn(Box::pin(conn));
        },
    )
    .await;
    Ok(())
}
