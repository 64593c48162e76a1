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
    ErrorCode, Handshake as EngineHandshake, HttpResponse, Method, Request as EioRequest, Route,
    SessionRequest, Transmit,
};
use sio_proto::engine::TransportKind;

use super::conn::ConnTask;
use super::direct::{SharedIo, TakeIo};
use super::inbox::{self, Input};
use super::inbox::{Ws, WsIo};
use super::machine;
use super::socket::{lock, Handshake};
use super::{Cors, CorsOrigins, Headers, Server, ServerInner};
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
    let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        let server = server.clone();
        let fallback = fallback.clone();
        if req.headers().contains_key(header::UPGRADE) {
            req.extensions_mut()
                .insert(TakeIo::of::<super::listener::Counted<I>>());
        }
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

fn response(status: u16, content_type: Option<&'static str>, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    if let Some(t) = content_type {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
    }
    r
}

/// Writes an answer the core decided.
fn respond(r: HttpResponse) -> Resp {
    response(r.status, r.content_type, r.body)
}

/// A long-polling answer, compressed as Node's `httpCompression` does: a `200` body of at
/// least the threshold, to a client whose `Accept-Encoding` takes gzip or deflate.
fn compressed(
    r: HttpResponse,
    config: Option<super::HttpCompression>,
    accept: Option<&HeaderValue>,
) -> Resp {
    let encoding = match (config, accept) {
        (Some(c), Some(a)) if r.status == 200 && r.body.len() >= c.threshold => {
            a.to_str().ok().and_then(negotiate)
        }
        _ => None,
    };
    let Some(encoding) = encoding else {
        return respond(r);
    };
    let level = flate2::Compression::default();
    let body = match encoding {
        Encoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
            std::io::Write::write_all(&mut e, &r.body).and_then(|()| e.finish())
        }
        Encoding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
            std::io::Write::write_all(&mut e, &r.body).and_then(|()| e.finish())
        }
    };
    let Ok(body) = body else {
        return respond(r);
    };
    let mut resp = response(r.status, r.content_type, Bytes::from(body));
    resp.headers_mut().insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(encoding.name()),
    );
    resp
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Gzip,
    Deflate,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }
}

/// The encoding an `Accept-Encoding` value prefers among gzip and deflate (gzip when they
/// tie, as Node's `accepts(req).encodings(["gzip", "deflate"])`); `*` stands for either; `q=0`
/// refuses.
fn negotiate(accept: &str) -> Option<Encoding> {
    let mut q = [None::<f32>; 2];
    let mut star = None::<f32>;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let mut weight = 1.0f32;
        for p in parts {
            if let Some(v) = p.trim().strip_prefix("q=") {
                weight = v.trim().parse().unwrap_or(0.0);
            }
        }
        let slot = if name.eq_ignore_ascii_case("gzip") {
            &mut q[0]
        } else if name.eq_ignore_ascii_case("deflate") {
            &mut q[1]
        } else if name == "*" {
            &mut star
        } else {
            continue;
        };
        *slot = Some(slot.map_or(weight, |w: f32| w.max(weight)));
    }
    let [gzip, deflate] = q.map(|w| w.or(star).unwrap_or(0.0));
    if gzip <= 0.0 && deflate <= 0.0 {
        None
    } else if gzip >= deflate {
        Some(Encoding::Gzip)
    } else {
        Some(Encoding::Deflate)
    }
}

fn not_found() -> Resp {
    response(404, Some("text/plain"), Bytes::from_static(b"Not Found"))
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
                let origin = origin.as_ref().and_then(|o| o.to_str().ok());
                self.refused();
                tracing::info!(
                    target: "sio::connection_error",
                    ?remote,
                    origin,
                    "request refused: origin not allowed (CORS)"
                );
                respond(HttpResponse::error(ErrorCode::Forbidden))
            } else if preflight && inner.config.cors.is_some() {
                // (Node's `cors` also sets `Content-Length: 0`; HTTP forbids it on a 204 and
                // hyper leaves it out.)
                respond(HttpResponse::empty(204))
            } else {
                self.engine_request(req, remote).await
            }
        } else if let Some(file) = path.strip_prefix(base).and_then(|p| p.strip_prefix('/')) {
            super::serve_client::serve(inner, file, req.headers()).unwrap_or_else(not_found)
        } else {
            not_found()
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
        let accept_encoding = req.headers().get(header::ACCEPT_ENCODING).cloned();
        let accepts = |r: HttpResponse| {
            compressed(r, inner.config.http_compression, accept_encoding.as_ref())
        };
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
        match self.route(&eio) {
            Route::Respond(r) => {
                if r.status >= 400 {
                    // Node's `connection_error`: the body is `{"code":..,"message":..}`.
                    self.refused();
                    tracing::info!(
                        target: "sio::connection_error",
                        ?remote,
                        status = r.status,
                        error = %String::from_utf8_lossy(&r.body),
                        query = %query,
                        "request refused"
                    );
                }
                respond(r)
            }
            Route::Handshake(engine) => {
                if inner.closing.load(std::sync::atomic::Ordering::SeqCst) {
                    self.refused();
                    tracing::info!(
                        target: "sio::connection_error",
                        ?remote,
                        "handshake refused: the server is shutting down"
                    );
                    return respond(HttpResponse::error_with_message(
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
                        self.refused();
                        tracing::info!(
                            target: "sio::connection_error",
                            ?remote,
                            %message,
                            "handshake refused by allow_request"
                        );
                        return respond(HttpResponse::error_with_message(
                            ErrorCode::Forbidden,
                            &message,
                        ));
                    }
                }
                let handshake = handshake_of(&req, &query, remote);
                match engine.transport {
                    TransportKind::Polling => self.polling_handshake(engine, handshake, accepts),
                    TransportKind::WebSocket => {
                        self.websocket_handshake(&mut req, WsTarget::New(engine), handshake)
                    }
                }
            }
            Route::Session { kind, handle } => match kind {
                SessionRequest::PollGet => {
                    let (tx, rx) = oneshot::channel();
                    if handle.push(Input::PollGet(tx)).is_err() {
                        return self.reroute_after_close(&eio);
                    }
                    match rx.await {
                        Ok(r) => accepts(r),
                        // The task ended with this GET still in its inbox.
                        Err(_) => self.reroute_after_close(&eio),
                    }
                }
                SessionRequest::PollPost => self.poll_post(handle, req).await,
                SessionRequest::WebSocket => {
                    let hs = handshake_of(&req, &query, remote);
                    self.websocket_handshake(&mut req, WsTarget::Session(handle), hs)
                }
            },
        }
    }

    /// Counts a refused request (Node's `connection_error`; each site logs why).
    fn refused(&self) {
        super::metrics::Metrics::add(&self.inner.metrics.refused_requests, 1);
    }

    /// Routes a request (the router owns the session index).
    fn route(&self, eio: &EioRequest<'_>) -> Route<inbox::ConnHandle> {
        let now = self.inner.rt.now();
        lock(&self.inner.router).route(now, eio)
    }

    /// The answer to a request whose session ended between routing and handling, as the router
    /// decides it now: `noop` for a long-poll `GET` that raced its client's `close` over
    /// long-polling, 400 `Session ID unknown` otherwise.
    fn reroute_after_close(&self, eio: &EioRequest<'_>) -> Resp {
        match self.route(eio) {
            Route::Respond(r) => respond(r),
            // Session ids are never reused: the session cannot be back.
            _ => respond(HttpResponse::error(ErrorCode::UnknownSid)),
        }
    }

    /// A long-polling `POST`: the session is told it started (it answers an overlapping one at
    /// once), then gets its body, or is told it ended without one.
    async fn poll_post<B>(&self, handle: inbox::ConnHandle, req: Request<B>) -> Resp
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (tx, rx) = oneshot::channel();
        // (A task that is gone answers below, when the body finds no one.)
        if handle.push(Input::PostStarted(tx)).is_ok() {
            if let Ok(Some(r)) = rx.await {
                return respond(r);
            }
        }
        // However this request ends without its body handed over (refused, too slow, dropped
        // mid-body), the session learns it.
        let mut guard = PostGuard {
            handle: &handle,
            armed: true,
        };
        let limit = self.inner.config.engine.max_http_buffer_size;
        let rt = &self.inner.rt;
        let deadline = rt.sleep_until(rt.now() + self.inner.config.http_body_timeout);
        let body = Limited::new(req.into_body(), limit).collect();
        let bytes = match futures_util::future::select(std::pin::pin!(body), deadline).await {
            futures_util::future::Either::Left((Ok(c), _)) => c.to_bytes(),
            futures_util::future::Either::Left((Err(e), _)) => {
                self.refused();
                tracing::info!(
                    target: "sio::connection_error",
                    error = %e,
                    limit,
                    "long-polling POST refused (413): body over max_http_buffer_size, or broken"
                );
                return respond(HttpResponse::empty(413));
            }
            futures_util::future::Either::Right(_) => {
                self.refused();
                tracing::info!(
                    target: "sio::connection_error",
                    "long-polling POST body too slow: 408"
                );
                // The body did not come in time: 408, and the connection goes.
                let mut r = respond(HttpResponse::empty(408));
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return r;
            }
        };
        guard.armed = false;
        let (tx, rx) = oneshot::channel();
        if handle.push(Input::PollPost(bytes, tx)).is_err() {
            return respond(HttpResponse::error(ErrorCode::UnknownSid));
        }
        match rx.await {
            Ok(r) => respond(r),
            Err(_) => respond(HttpResponse::error(ErrorCode::UnknownSid)),
        }
    }

    fn polling_handshake(
        &self,
        engine: EngineHandshake,
        handshake: Handshake,
        respond: impl FnOnce(HttpResponse) -> Resp,
    ) -> Resp {
        let inner = &self.inner;
        let now = inner.rt.now();
        let (handle, rx) = inbox::channel(inner.config.inbox_limits(), TransportKind::Polling);
        let session = lock(&inner.router).accept(now, engine, handle.clone());
        let mut conn = machine::Machine::new(now, session, inner);
        // The handshake `GET` is the session's first held `GET`: its answer carries `open`.
        let mut answer = HttpResponse::payload(Bytes::new());
        while let Some(t) = conn.poll_transmit() {
            if let Transmit::PollResponse(r) = t {
                answer = r;
            }
        }
        let sid = conn.sid().to_owned();
        let task = ConnTask::new(inner.clone(), conn, handle, rx, None, None, handshake);
        crate::runtime::spawn_contained(&*inner.rt, "a connection task", task.run());
        let mut r = respond(answer);
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
        target: WsTarget,
        handshake: Handshake,
    ) -> Resp {
        let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return respond(HttpResponse::error(ErrorCode::BadRequest));
        };
        let accept = async_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let deflate = self.inner.config.per_message_deflate.and_then(|config| {
            let offers: Vec<&str> = req
                .headers()
                .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            crate::ws_deflate::accept_offer(&offers.join(","), &config)
        });
        let agreed = deflate.as_ref().map(|(_, agreed)| *agreed);
        let take_io = req.extensions().get::<TakeIo>().copied();
        let on_upgrade = hyper::upgrade::on(req);
        let inner: Arc<ServerInner> = self.inner.clone();
        // tungstenite's read buffer is what every idle connection keeps: small, as the stream
        // under it reads ahead (`ws_deflate::READ_AHEAD`).
        let config = WebSocketConfig::default()
            .read_buffer_size(128)
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
            let max = inner.config.engine.max_http_buffer_size;
            let (io, read) = TakeIo::apply(take_io, upgraded);
            let io = WsIo::with_deflate(SharedIo::new(FuturesIo(io)), read, agreed, max);
            let ws: Ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
            let ws = Box::new(ws);
            match target {
                WsTarget::Session(handle) => {
                    let _ = handle.push(Input::WebSocket(ws));
                }
                WsTarget::New(engine) => {
                    let now = inner.rt.now();
                    let (handle, rx) =
                        inbox::channel(inner.config.inbox_limits(), TransportKind::WebSocket);
                    let session = lock(&inner.router).accept(now, engine, handle.clone());
                    let conn = machine::Machine::new(now, session, &inner);
                    let task =
                        ConnTask::new(inner.clone(), conn, handle, rx, Some(ws), None, handshake);
                    crate::runtime::spawn_contained(&*inner.rt, "a connection task", task.run());
                }
            }
        });
        let mut r = respond(HttpResponse::empty(101));
        let h = r.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        if let Some(Ok(v)) = deflate.map(|(answer, _)| HeaderValue::from_str(&answer)) {
            h.insert(header::SEC_WEBSOCKET_EXTENSIONS, v);
        }
        r
    }
}

/// Where an accepted websocket goes: to the session it upgrades, or to a new session.
enum WsTarget {
    Session(inbox::ConnHandle),
    New(EngineHandshake),
}

/// Tells the session that its `POST` ended without a body, while armed.
struct PostGuard<'a> {
    handle: &'a inbox::ConnHandle,
    armed: bool,
}

impl Drop for PostGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.handle.push(Input::PostAborted);
        }
    }
}

fn handshake_of<B>(req: &Request<B>, query: &str, remote: Option<SocketAddr>) -> Handshake {
    // The headers are copied, not cloned: hyper's values are views of the connection's read
    // buffer, and a clone would keep that buffer (8 KiB) alive for the whole life of the
    // connection. They are kept as one buffer, the map built only if a handler looks.
    Handshake {
        headers: Headers::copied_from(req.headers()),
        query: form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect::<Vec<_>>()
            .into(),
        auth: serde_json::Value::Null,
        address: remote,
        time: SystemTime::now(),
        url: req.uri().to_string().into(),
        secure: req.uri().scheme_str() == Some("https"),
    }
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

#[cfg(test)]
mod tests {
    use super::{negotiate, Encoding};

    #[test]
    fn accept_encoding_negotiation() {
        let cases = [
            ("gzip", Some(Encoding::Gzip)),
            ("gzip, deflate, br", Some(Encoding::Gzip)),
            ("deflate, gzip", Some(Encoding::Gzip)),
            ("deflate", Some(Encoding::Deflate)),
            ("gzip;q=0.5, deflate", Some(Encoding::Deflate)),
            ("GZIP;q=0.9, deflate;q=0.1", Some(Encoding::Gzip)),
            ("br", None),
            ("identity", None),
            ("gzip;q=0", None),
            ("*", Some(Encoding::Gzip)),
            ("*;q=0, deflate", Some(Encoding::Deflate)),
            ("", None),
        ];
        for (accept, want) in cases {
            assert_eq!(negotiate(accept), want, "{accept:?}");
        }
    }
}
