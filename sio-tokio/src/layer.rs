//! [`SioLayer`]: the Socket.IO server mounted in front of an application's service in one call.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full};
use sio::Server;

/// A tower `Layer` putting the Socket.IO server in front of a service: requests under the
/// server's path (`/socket.io/`, the client bundle with `serve_client` included) go to
/// Socket.IO, long-polling and websocket upgrades alike; every other request goes to the
/// wrapped service, untouched.
///
/// The client's address is found by itself: a `SocketAddr` request extension, or (feature
/// `axum`) axum's `ConnectInfo<SocketAddr>`, which `into_make_service_with_connect_info`
/// provides.
///
/// ```ignore
/// let app = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hello" }))
///     .layer(sio_tokio::SioLayer::new(io));
/// ```
#[derive(Debug, Clone)]
pub struct SioLayer {
    server: Server,
}

impl SioLayer {
    /// A layer for `server`.
    pub fn new(server: Server) -> Self {
        Self { server }
    }
}

impl<S> tower_layer::Layer<S> for SioLayer {
    type Service = WithSio<S>;

    fn layer(&self, inner: S) -> WithSio<S> {
        WithSio {
            server: self.server.clone(),
            inner,
        }
    }
}

/// The service [`SioLayer`] makes: Socket.IO in front of `S`.
#[derive(Debug, Clone)]
pub struct WithSio<S> {
    server: Server,
    inner: S,
}

/// The client's address of a request: a `SocketAddr` extension, or axum's `ConnectInfo`.
pub(crate) fn peer<B>(req: &http::Request<B>) -> Option<SocketAddr> {
    let direct = req.extensions().get::<SocketAddr>().copied();
    #[cfg(feature = "axum")]
    let direct = direct.or_else(|| {
        req.extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
    });
    direct
}

type Answer<R> = http::Response<Either<Full<Bytes>, R>>;

impl<S, B, R> tower_service::Service<http::Request<B>> for WithSio<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Answer<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Answer<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if self.server.owns_path(req.uri().path()) {
            let server = self.server.clone();
            let remote = peer(&req);
            return Box::pin(async move {
                Ok(server.handle_request(req, remote).await.map(Either::Left))
            });
        }
        let answer = self.inner.call(req);
        Box::pin(async move { Ok(answer.await?.map(Either::Right)) })
    }
}
