//! The tokio driver for `sio`: a [`Runtime`] on tokio, [`listen`] and [`serve`] to run a
//! [`Server`] on a TCP port, [`SioLayer`] to put it in front of an axum or any tower
//! application in one call (`Router::new()...layer(SioLayer::new(io))`), and [`SioService`]
//! to mount it at a route. The `hyper_attach` example does it with plain hyper.
//!
//! ```no_run
//! use sio_tokio::{listen, new_server};
//! use sio::{ServerConfig, Socket};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = new_server(ServerConfig::default());
//!     io.on_connection(|socket: Socket| async move {
//!         socket.on("chat", |socket: Socket, msg: String| async move {
//!             let _ = socket.broadcast().emit("chat", &msg);
//!         });
//!     });
//!     listen("127.0.0.1:3000", io).await
//! }
//! ```
#![warn(missing_docs)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use sio::server::Fallback;
pub use sio::{Runtime, Server, ServerConfig};
// What handlers and clients name, so that this crate is the one dependency an application needs.
#[cfg(feature = "client")]
pub use sio::{
    client, Auth, ClientAckSender, ClientError, ClientOptions, ClientSocket, SocketOptions,
};
pub use sio::{
    server, AckError, AckSender, Arg, Args, BroadcastAcks, BroadcastOperator, ConnectError, Cors,
    DisconnectReason, EmitError, Handshake, Namespace, ServerSideAck, Socket,
};
mod layer;

pub use layer::{SioLayer, WithSio};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Connects a client socket on tokio, like Node's `io(url, opts)`: the namespace in `url`'s path
/// (`/` when none) of the server in `url` (see [`sio::client::io`] for how managers are
/// shared). Call it inside a tokio runtime.
///
/// ```no_run
/// # async fn demo() -> Result<(), sio_tokio::ClientError> {
/// let socket = sio_tokio::io("http://127.0.0.1:3000/chat", Default::default())?;
/// socket.on("news", |_: sio_tokio::ClientSocket, text: String| async move {
///     println!("{text}");
/// });
/// # Ok(()) }
/// ```
#[cfg(feature = "client")]
pub fn io(url: &str, opts: ClientOptions) -> Result<ClientSocket, ClientError> {
    sio::client::io(Arc::new(TokioRuntime), url, opts)
}

/// The tokio implementation of [`Runtime`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    fn spawn(&self, fut: sio::BoxFuture<()>) {
        tokio::spawn(fut);
    }

    fn sleep_until(&self, deadline: Instant) -> sio::BoxFuture<()> {
        Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(
            deadline,
        )))
    }

    fn timer(&self, deadline: Instant) -> Pin<Box<dyn sio::runtime::Sleep>> {
        Box::pin(Timer {
            sleep: tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)),
        })
    }

    /// tokio's cooperative budget (128 operations per poll) would stop a broadcast's direct
    /// writes after the 128th: they run in `tokio::task::unconstrained`, polled once.
    fn unbudgeted(&self, f: &mut dyn FnMut()) {
        let mut f = Some(f);
        let once = std::future::poll_fn(|_| {
            if let Some(f) = f.take() {
                f();
            }
            std::task::Poll::Ready(())
        });
        let mut run = std::pin::pin!(tokio::task::unconstrained(once));
        let _ = run
            .as_mut()
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    }

    /// tokio's clock: it follows `tokio::time::pause` and `advance`, so that tests can run
    /// the server's timers in paused time.
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> sio::BoxFuture<std::io::Result<sio::runtime::BoxStream>> {
        let host = host.to_owned();
        Box::pin(async move {
            let s = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            let _ = s.set_nodelay(true);
            Ok(Box::new(s.compat()) as sio::runtime::BoxStream)
        })
    }
}

pin_project_lite::pin_project! {
    /// A tokio timer, moved in place by [`sio::runtime::Sleep::reset`].
    struct Timer {
        #[pin]
        sleep: tokio::time::Sleep,
    }
}

impl Future for Timer {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().sleep.poll(cx)
    }
}

impl sio::runtime::Sleep for Timer {
    fn reset(self: Pin<&mut Self>, deadline: Instant) -> bool {
        self.project()
            .sleep
            .reset(tokio::time::Instant::from_std(deadline));
        true
    }
}

/// A server on the tokio runtime.
pub fn new_server(config: ServerConfig) -> Server {
    Server::new(Arc::new(TokioRuntime), config)
}

/// Binds `addr` and serves `server` on it. Runs until dropped; only binding can fail (accept
/// errors are reported and retried, see [`sio::server::accept_loop`]).
pub async fn listen(addr: impl ToSocketAddrs, server: Server) -> std::io::Result<()> {
    serve(TcpListener::bind(addr).await?, server).await
}

/// Serves `server` on an already bound listener (see [`listen`]).
pub async fn serve(listener: TcpListener, server: Server) -> std::io::Result<()> {
    serve_with(listener, server, None).await
}

/// Serves `server` on `listener`, answering other paths with `fallback` (for example the
/// page of a demo).
pub async fn serve_with(
    listener: TcpListener,
    server: Server,
    fallback: Option<Fallback>,
) -> std::io::Result<()> {
    let s = server.clone();
    sio::server::accept_loop(
        &server,
        || listener.accept(),
        move |stream, peer| {
            let _ = stream.set_nodelay(true);
            tokio::spawn(sio::server::serve_hyper_connection(
                s.clone(),
                hyper_util::rt::TokioIo::new(stream),
                Some(peer),
                fallback.clone(),
            ));
        },
    )
    .await;
    Ok(())
}

/// A tower/hyper service answering Socket.IO requests, to mount under another server, for
/// example `axum::Router::new().route_service("/socket.io/", SioService::new(io))`. Other paths
/// get 404 ([`SioLayer`] sends them to the application instead). The peer address is read from
/// a `SocketAddr` request extension, or (feature `axum`) axum's `ConnectInfo<SocketAddr>`.
#[derive(Debug, Clone)]
pub struct SioService {
    server: Server,
}

impl SioService {
    /// A service for `server`.
    pub fn new(server: Server) -> Self {
        Self { server }
    }
}

impl<B> tower_service::Service<http::Request<B>> for SioService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let server = self.server.clone();
        let remote = layer::peer(&req);
        Box::pin(async move { Ok(server.handle_request(req, remote).await) })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The runtime's clock is tokio's: paused time moves it, and its sleeps, together.
    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_paused_time() {
        let rt = TokioRuntime;
        let t0 = rt.now();
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(rt.now() - t0 >= Duration::from_secs(30));
        let deadline = rt.now() + Duration::from_secs(60);
        rt.sleep_until(deadline).await;
        assert!(rt.now() >= deadline);
    }
}
