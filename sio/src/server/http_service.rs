//! The HTTP side of the server: hyper serves each TCP connection; requests under the
//! configured path go to the Engine.IO router, websocket upgrades are completed here, and
//! everything the protocol decides comes from `sio_proto`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use async_tungstenite::WebSocketStream;
use bytes::Bytes;
use futures_channel::oneshot;
use http::header::{self, HeaderValue};
use http::{Method as HttpMethod, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use sio_proto::engine::server::{
    ErrorCode, ErrorResponse, Method, Request as EioRequest, Route, SessionRequest, Transmit,
};
use sio_proto::engine::TransportKind;

use super::conn::{self, ConnTask, HttpReply, Input, Ws};
use super::socket::{lock, Handshake};
use super::{Cors, CorsOrigins, Server, ServerInner, SessionEntry};
use crate::io::{FuturesIo, HyperIo};

/// Answers requests outside the Socket.IO path (a page, a health check); `None` gives 404.
pub type Fallback = Arc<dyn Fn(&Request<()>) -> Option<Response<Full<Bytes>>> + Send + Sync>;

/// Serves HTTP/1.1 on one accepted connection (any `futures-io` stream) until it closes.
pub async fn serve_connection<IO>(server: Server, io: IO, remote: Option<SocketAddr>)
where
    IO: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static,
{
    serve_connection_with(server, io, remote, None).await
}

/// Like [`serve_connection`], with a fallback for requests outside the Socket.IO path.
pub async fn serve_connection_with<IO>(
    server: Server,
    io: IO,
    remote: Option<SocketAddr>,
    fallback: Option<Fallback>,
) where
    IO: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static,
{
    serve_hyper_connection(server, HyperIo(io), remote, fallback).await
}

/// Like [`serve_connection_with`], for a stream that already implements hyper's I/O traits
/// (a driver whose runtime has a native adapter, such as tokio's, uses this to skip the
/// `futures-io` layer).
pub async fn serve_hyper_connection<I>(
    server: Server,
    io: I,
    remote: Option<SocketAddr>,
    fallback: Option<Fallback>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let header_timeout = server.inner.config.http_header_timeout;
    let timer = RuntimeTimer(server.inner.rt.clone());
    // Counted for `max_connections` until the stream is dropped (after an upgrade, with
    // the websocket).
    let io = super::listener::Counted::new(io, &server);
    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let server = server.clone();
        let fallback = fallback.clone();
        async move {
            if let Some(f) = fallback.filter(|_| !server.owns_path(req.uri().path())) {
                let head = Request::builder()
                    .method(req.method().clone())
                    .uri(req.uri().clone())
                    .body(())
                    .unwrap_or_default();
                if let Some(r) = f(&head) {
                    return Ok::<_, Infallible>(r);
                }
            }
            Ok::<_, Infallible>(server.handle_request(req, remote).await)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(timer)
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    // User code runs in here (`allow_request`, the fallback): a panic in it ends this one
    // HTTP connection, and is reported.
    crate::runtime::contained("an HTTP connection", async move {
        let _ = builder.serve_connection(io, svc).with_upgrades().await;
    })
    .await;
}

type Resp = Response<Full<Bytes>>;

fn response(status: u16, content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    if !content_type.is_empty() {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    r
}

fn error_response(e: &ErrorResponse) -> Resp {
    response(e.status, "application/json", e.body.clone())
}

fn noop_response() -> Resp {
    response(200, "text/plain; charset=UTF-8", Bytes::from_static(b"6"))
}

fn reply_response(r: HttpReply) -> Resp {
    if r.status == 200 {
        response(200, "text/plain; charset=UTF-8", r.body)
    } else if r.body.is_empty() {
        response(r.status, "", r.body)
    } else {
        response(r.status, "application/json", r.body)
    }
}

impl Server {
    /// Whether `path` is under the Socket.IO path.
    pub fn owns_path(&self, path: &str) -> bool {
        let base = self.inner.config.path.trim_end_matches('/');
        path == base || path.strip_prefix(base).is_some_and(|p| p.starts_with('/'))
    }

    /// Answers one HTTP request: Engine.IO requests under the configured path, the client
    /// bundle when `serve_client` is set, 404 otherwise. This is the entry point to mount the
    /// server under another HTTP framework.
    pub async fn handle_request<B>(&self, req: Request<B>, remote: Option<SocketAddr>) -> Resp
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let inner = &self.inner;
        let origin = req.headers().get(header::ORIGIN).cloned();
        let preflight = req.method() == HttpMethod::OPTIONS;
        let cors = inner
            .config
            .cors
            .as_ref()
            .map(|c| cors_headers(c, origin.as_ref(), preflight.then(|| req.headers())));
        let path = req.uri().path();
        let base = inner.config.path.trim_end_matches('/');
        let mut resp = if path == base || path.strip_prefix(base) == Some("/") {
            let refused = inner.config.cors.as_ref().is_some_and(|c| {
                c.enforces_origin() && origin.as_ref().is_some_and(|o| !c.allows(o.as_bytes()))
            });
            if refused {
                // Cross-site websocket hijacking (and cross-site polling) protection.
                error_response(&ErrorResponse::new(ErrorCode::Forbidden))
            } else if preflight && inner.config.cors.is_some() {
                // (Node's `cors` also sets `Content-Length: 0`; HTTP forbids it on a 204 and
                // hyper leaves it out.)
                response(204, "", Bytes::new())
            } else {
                self.engine_request(req, remote).await
            }
        } else if let Some(file) = path.strip_prefix(base).and_then(|p| p.strip_prefix('/')) {
            super::serve_client::serve(inner, file, req.headers())
                .unwrap_or_else(|| response(404, "text/plain", Bytes::from_static(b"Not Found")))
        } else {
            response(404, "text/plain", Bytes::from_static(b"Not Found"))
        };
        if let Some(h) = cors {
            resp.headers_mut().extend(h);
        }
        resp
    }

    async fn engine_request<B>(&self, mut req: Request<B>, remote: Option<SocketAddr>) -> Resp
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let inner = &self.inner;
        let websocket_upgrade = req
            .headers()
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        let method = match *req.method() {
            HttpMethod::GET => Method::Get,
            HttpMethod::POST => Method::Post,
            HttpMethod::OPTIONS => Method::Options,
            _ => Method::Other,
        };
        let query = req.uri().query().unwrap_or("").to_owned();
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .map(|v| v.as_bytes().to_vec());
        let eio = EioRequest {
            method,
            query: &query,
            websocket_upgrade,
            origin: origin.as_deref(),
        };
        let route = self.route(&eio);
        match route {
            Route::Reject(e) => error_response(&e),
            Route::Noop => noop_response(),
            Route::Handshake(kind) => {
                if inner.closing.load(std::sync::atomic::Ordering::SeqCst) {
                    return error_response(&ErrorResponse::with_message(
                        ErrorCode::BadRequest,
                        "Server is shutting down",
                    ));
                }
                if let Some(allow) = inner.config.allow_request.clone() {
                    let info = super::RequestInfo {
                        method: req.method().clone(),
                        uri: req.uri().clone(),
                        headers: req.headers().clone(),
                        remote,
                    };
                    if let Err(message) = allow(&info).await {
                        return error_response(&ErrorResponse::with_message(
                            ErrorCode::Forbidden,
                            &message,
                        ));
                    }
                }
                let handshake = handshake_of(&req, &query, remote);
                match kind {
                    TransportKind::Polling => self.polling_handshake(handshake),
                    TransportKind::WebSocket => self.websocket_handshake(&mut req, None, handshake),
                }
            }
            Route::Session { sid, kind } => {
                let handle = lock(&inner.sessions)
                    .live
                    .get(&sid)
                    .map(|e| e.handle.clone());
                let Some(handle) = handle else {
                    return self.reroute_after_close(&eio);
                };
                match kind {
                    SessionRequest::PollGet => {
                        let (tx, rx) = oneshot::channel();
                        if handle.push(Input::PollGet(tx)).is_err() {
                            return self.reroute_after_close(&eio);
                        }
                        match rx.await {
                            Ok(r) => reply_response(r),
                            // The task ended with this GET still in its inbox.
                            Err(_) => self.reroute_after_close(&eio),
                        }
                    }
                    SessionRequest::PollPost => {
                        use std::sync::atomic::Ordering::AcqRel;
                        if handle.post_in_flight.swap(true, AcqRel) {
                            // Node: "data request overlap from client": 400, session closed.
                            let _ = handle
                                .push(Input::Close(sio_proto::engine::CloseReason::TransportError));
                            return response(400, "", Bytes::new());
                        }
                        // Cleared however this request ends (answered, or dropped mid-body).
                        let _guard = PostGuard(handle.post_in_flight.clone());
                        self.poll_post(&handle, req).await
                    }
                    SessionRequest::WebSocket => {
                        let hs = handshake_of(&req, &query, remote);
                        self.websocket_handshake(&mut req, Some(handle), hs)
                    }
                }
            }
        }
    }

    /// Routes a request with the current session index.
    fn route(&self, eio: &EioRequest<'_>) -> Route {
        let now = self.inner.rt.now();
        let mut sessions = lock(&self.inner.sessions);
        let router = lock(&self.inner.router);
        router.route(eio, |sid| sessions.lookup(now, sid))
    }

    /// The answer to a request whose session ended between routing and handling, as the router
    /// decides it now: `noop` for a long-poll `GET` that raced its client's `close` over
    /// long-polling, 400 `Session ID unknown` otherwise.
    fn reroute_after_close(&self, eio: &EioRequest<'_>) -> Resp {
        match self.route(eio) {
            Route::Noop => noop_response(),
            Route::Reject(e) => error_response(&e),
            // Session ids are never reused: the session cannot be back.
            _ => error_response(&ErrorResponse::new(ErrorCode::UnknownSid)),
        }
    }

    async fn poll_post<B>(&self, handle: &conn::ConnHandle, req: Request<B>) -> Resp
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let limit = self.inner.config.engine.max_http_buffer_size;
        let rt = &self.inner.rt;
        let deadline = rt.sleep_until(rt.now() + self.inner.config.http_body_timeout);
        let body = Limited::new(req.into_body(), limit).collect();
        let bytes = match futures_util::future::select(std::pin::pin!(body), deadline).await {
            futures_util::future::Either::Left((Ok(c), _)) => c.to_bytes(),
            futures_util::future::Either::Left((Err(_), _)) => {
                return response(413, "", Bytes::new())
            }
            futures_util::future::Either::Right(_) => {
                // The body did not come in time: 408, and the connection goes.
                let mut r = response(408, "", Bytes::new());
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return r;
            }
        };
        let (tx, rx) = oneshot::channel();
        if handle.push(Input::PollPost(bytes, tx)).is_err() {
            return error_response(&ErrorResponse::new(ErrorCode::UnknownSid));
        }
        match rx.await {
            Ok(r) => reply_response(r),
            Err(_) => error_response(&ErrorResponse::new(ErrorCode::UnknownSid)),
        }
    }

    fn polling_handshake(&self, handshake: Handshake) -> Resp {
        let inner = &self.inner;
        let now = inner.rt.now();
        let session = lock(&inner.router).accept(now, TransportKind::Polling);
        let mut conn = conn::Machine::new(now, session, inner);
        let mut body = Bytes::new();
        while let Some(t) = conn.poll_transmit() {
            if let Transmit::PollResponse(b) = t {
                body = b;
            }
        }
        let sid = conn.sid().to_owned();
        let (handle, rx) = conn::channel(inner.config.inbox_limits(), TransportKind::Polling);
        lock(&inner.sessions).live.insert(
            sid.clone(),
            SessionEntry {
                handle: handle.clone(),
            },
        );
        let task = ConnTask::new(inner.clone(), conn, handle, rx, None, None, handshake);
        crate::runtime::spawn_contained(&*inner.rt, "a connection task", task.run());
        let mut r = response(200, "text/plain; charset=UTF-8", body);
        if let Some(c) = &inner.config.cookie {
            let mut v = format!("{}={}; Path={}", c.name, sid, c.path);
            if c.http_only {
                v.push_str("; HttpOnly");
            }
            if !c.same_site.is_empty() {
                v.push_str("; SameSite=");
                v.push_str(&c.same_site);
            }
            if let Ok(v) = HeaderValue::from_str(&v) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
        }
        r
    }

    /// Completes a websocket handshake: a new websocket-only session (`existing` is `None`)
    /// or the upgrade of a polling session.
    fn websocket_handshake<B>(
        &self,
        req: &mut Request<B>,
        existing: Option<conn::ConnHandle>,
        handshake: Handshake,
    ) -> Resp {
        let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return error_response(&ErrorResponse::new(ErrorCode::BadRequest));
        };
        let accept = async_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let on_upgrade = hyper::upgrade::on(req);
        let inner: Arc<ServerInner> = self.inner.clone();
        let config = WebSocketConfig::default()
            .read_buffer_size(1024)
            .write_buffer_size(16 * 1024)
            .max_write_buffer_size(
                inner
                    .config
                    .engine
                    .max_http_buffer_size
                    .saturating_mul(2)
                    .max(1 << 20),
            )
            .max_message_size(Some(inner.config.engine.max_http_buffer_size))
            .max_frame_size(Some(inner.config.engine.max_http_buffer_size));
        let rt = inner.rt.clone();
        crate::runtime::spawn_contained(&*rt, "a websocket upgrade", async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let ws: Ws =
                WebSocketStream::from_raw_socket(FuturesIo(upgraded), Role::Server, Some(config))
                    .await;
            let ws = Box::new(ws);
            match existing {
                Some(handle) => {
                    let _ = handle.push(Input::WebSocket(ws));
                }
                None => {
                    let now = inner.rt.now();
                    let session = lock(&inner.router).accept(now, TransportKind::WebSocket);
                    let conn = conn::Machine::new(now, session, &inner);
                    let sid = conn.sid().to_owned();
                    let (handle, rx) =
                        conn::channel(inner.config.inbox_limits(), TransportKind::WebSocket);
                    lock(&inner.sessions).live.insert(
                        sid,
                        SessionEntry {
                            handle: handle.clone(),
                        },
                    );
                    let task =
                        ConnTask::new(inner.clone(), conn, handle, rx, Some(ws), None, handshake);
                    crate::runtime::spawn_contained(&*inner.rt, "a connection task", task.run());
                }
            }
        });
        let mut r = response(101, "", Bytes::new());
        let h = r.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        r
    }
}

struct PostGuard(Arc<std::sync::atomic::AtomicBool>);

impl Drop for PostGuard {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

fn handshake_of<B>(req: &Request<B>, query: &str, remote: Option<SocketAddr>) -> Handshake {
    // The header values are copied, not cloned: hyper's are views of the connection's read
    // buffer, and a clone would keep that buffer (8 KiB) alive for the whole life of the
    // connection. They are copied into one buffer, each value a view of it (one allocation
    // instead of one per header).
    let src = req.headers();
    let mut block = bytes::BytesMut::with_capacity(src.values().map(|v| v.len()).sum());
    for v in src.values() {
        block.extend_from_slice(v.as_bytes());
    }
    let block = block.freeze();
    let mut headers = http::HeaderMap::with_capacity(src.len());
    let mut at = 0;
    for (k, v) in src {
        let value = block.slice(at..at + v.len());
        at += v.len();
        if let Ok(value) = HeaderValue::from_maybe_shared(value) {
            headers.append(k.clone(), value);
        }
    }
    Handshake {
        headers: Arc::new(headers),
        query: form_urlencoded(query).into(),
        auth: serde_json::Value::Null,
        address: remote,
        time: SystemTime::now(),
        url: req.uri().to_string(),
        secure: req.uri().scheme_str() == Some("https"),
    }
}

fn form_urlencoded(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The CORS headers Node's `cors` package would send (see [`Cors`]); `preflight` holds the
/// request headers of an `OPTIONS` request.
fn cors_headers(
    cors: &Cors,
    origin: Option<&HeaderValue>,
    preflight: Option<&http::HeaderMap>,
) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    let mut vary: Vec<&'static str> = Vec::new();
    match cors.allowed_origins() {
        CorsOrigins::Any => {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        CorsOrigins::List(_) | CorsOrigins::Predicate(_) => {
            if let Some(o) = origin.filter(|o| cors.allows(o.as_bytes())) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
            }
            vary.push("Origin");
        }
    }
    if cors.credentials() {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if let Some(req) = preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
        );
        if let Some(asked) = req
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .filter(|v| !v.is_empty())
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        vary.push("Access-Control-Request-Headers");
    }
    if !vary.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&vary.join(", ")) {
            h.insert(header::VARY, v);
        }
    }
    h
}

/// hyper's timer on the server's runtime (for the header-read deadline).
#[derive(Clone)]
struct RuntimeTimer(Arc<dyn crate::Runtime>);

impl hyper::rt::Timer for RuntimeTimer {
    fn sleep(&self, duration: std::time::Duration) -> std::pin::Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.0.now() + duration)
    }

    fn sleep_until(
        &self,
        deadline: std::time::Instant,
    ) -> std::pin::Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(RuntimeSleep(std::sync::Mutex::new(
            self.0.sleep_until(deadline),
        )))
    }

    fn now(&self) -> std::time::Instant {
        self.0.now()
    }
}

/// A runtime sleep as hyper wants it (`Sync`: the future sits behind a lock, only ever
/// taken by the one task that polls it).
struct RuntimeSleep(std::sync::Mutex<crate::BoxFuture<()>>);

impl std::future::Future for RuntimeSleep {
    type Output = ();
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        super::socket::lock(&self.0).as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for RuntimeSleep {}
