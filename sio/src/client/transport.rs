//! The client's I/O: URL parsing, long-polling `GET`/`POST` requests (hyper's HTTP/1.1 client
//! over a runtime connection, kept alive and reused), the websocket handshake
//! (async-tungstenite), HTTP proxies (forwarding, `CONNECT` tunnels; rules from hyper-util),
//! TLS (rustls with the `ring` provider and the `webpki-roots` roots, or the system's).
//!
//! These functions run in futures spawned by the manager's task; their results go back into
//! the task's inbox, tagged with the generation of the Engine.IO session they belong to.

use std::sync::Arc;
#[cfg(feature = "tls")]
use std::sync::OnceLock;

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::WebSocketStream;
use bytes::Bytes;
#[cfg(feature = "tls")]
use futures_rustls::rustls;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::{ClientError, ClientOptions};
use crate::io::HyperIo;
use crate::runtime::{BoxStream, Runtime};

/// The client's websocket.
pub(crate) type Ws = WebSocketStream<crate::ws_deflate::WsIo<BoxStream>>;

/// What `io()` reads from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedUrl {
    /// `https` or `wss`.
    pub secure: bool,
    /// The host to connect to (IPv6 without brackets).
    pub host: String,
    /// The host as written in URLs and the `Host` header (IPv6 with brackets).
    pub host_literal: String,
    /// The port (80/443 when not given).
    pub port: u16,
    /// The path (`/` when none): the namespace for `io()`.
    pub path: String,
    /// The query pairs.
    pub query: Vec<(String, String)>,
}

impl ParsedUrl {
    /// The key of the manager cache: scheme, host, port.
    pub fn origin(&self) -> String {
        format!(
            "{}://{}:{}",
            if self.secure { "https" } else { "http" },
            self.host_literal,
            self.port
        )
    }
}

/// Parses `http(s)://host[:port][/path][?query]` (also `ws`/`wss`; no scheme means https,
/// as in the Node client).
pub(crate) fn parse_url(url: &str) -> Result<ParsedUrl, ClientError> {
    let full = if url.contains("://") {
        url.to_owned()
    } else if let Some(rest) = url.strip_prefix("//") {
        format!("https://{rest}")
    } else {
        format!("https://{url}")
    };
    let uri: http::Uri = full
        .parse()
        .map_err(|_| ClientError::InvalidUrl(url.to_owned()))?;
    let secure = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("http") | Some("ws") => false,
        Some("https") | Some("wss") => true,
        Some(other) => return Err(ClientError::UnsupportedScheme(other.to_owned())),
        None => return Err(ClientError::InvalidUrl(url.to_owned())),
    };
    let host_literal = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ClientError::InvalidUrl(url.to_owned()))?
        .to_owned();
    let host = host_literal
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(&host_literal)
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let path = match uri.path() {
        "" => "/".to_owned(),
        p => p.to_owned(),
    };
    let query = uri.query().map(parse_query).unwrap_or_default();
    Ok(ParsedUrl {
        secure,
        host,
        host_literal,
        port,
        path,
        query,
    })
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

/// Characters left as they are in query components (as `encodeURIComponent` does).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Where and how the manager connects.
pub(crate) struct Endpoint {
    pub secure: bool,
    pub host: String,
    pub host_literal: String,
    pub port: u16,
    /// The Engine.IO path with its trailing slash (`/socket.io/`).
    pub path: String,
    /// `&k=v...` appended to every query (the user's query parameters).
    pub query_suffix: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub max_response: usize,
    pub max_ws_message: usize,
    /// Websocket compression to offer (`None`: none).
    pub deflate: Option<crate::PerMessageDeflate>,
    /// The cookie jar (`with_credentials`).
    pub cookies: Option<std::sync::Mutex<super::cookies::CookieJar>>,
    /// The HTTP proxy this endpoint is reached through, if any.
    pub proxy: Option<ProxyRoute>,
    /// Idle kept-alive connections for long-polling requests (at most [`POOL_IDLE`]).
    pool: std::sync::Mutex<Vec<SendRequest<Full<Bytes>>>>,
    /// Connections may go back to the pool: cleared by [`Endpoint::close_idle`] (the session
    /// upgraded or closed: its last requests, a held `GET` or the `close` packet's `POST`, do
    /// not put their connections back), set again when the next session starts
    /// ([`Endpoint::open_pool`]).
    pooling: std::sync::atomic::AtomicBool,
}

/// How many idle long-polling connections a manager keeps: Engine.IO has at most one `GET`
/// and one `POST` in flight, so two connections carry all of its requests.
const POOL_IDLE: usize = 2;

/// An HTTP proxy on the way to an endpoint.
pub(crate) struct ProxyRoute {
    host: String,
    port: u16,
    /// `Proxy-Authorization` (from `user:password@` in the proxy URL).
    auth: Option<HeaderValue>,
}

impl ProxyRoute {
    /// The proxy for `url` under `proxy`'s rules, if one applies.
    fn find(proxy: &super::Proxy, url: &ParsedUrl) -> Result<Option<Self>, ClientError> {
        use hyper_util::client::proxy::matcher::Matcher;
        let matcher = match proxy {
            super::Proxy::None => return Ok(None),
            super::Proxy::FromEnv => Matcher::from_env(),
            super::Proxy::Url { url, no_proxy } => Matcher::builder()
                .all(url.clone())
                .no(no_proxy.clone())
                .build(),
        };
        let dst = format!(
            "{}://{}/",
            if url.secure { "https" } else { "http" },
            url.host_literal
        );
        let dst: http::Uri = dst.parse().map_err(|_| ClientError::InvalidUrl(dst))?;
        let Some(intercept) = matcher.intercept(&dst) else {
            return Ok(None);
        };
        let uri = intercept.uri();
        if uri.scheme_str() != Some("http") {
            return Err(ClientError::InvalidOption(
                "proxy: only http:// proxies are supported",
            ));
        }
        let Some(host) = uri.host() else {
            return Err(ClientError::InvalidOption(
                "proxy: the proxy URL has no host",
            ));
        };
        Ok(Some(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: uri.port_u16().unwrap_or(80),
            auth: intercept.basic_auth().cloned(),
        }))
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("secure", &self.secure)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    pub(crate) fn new(url: &ParsedUrl, opts: &ClientOptions) -> Result<Self, ClientError> {
        let mut path = opts.path.trim_end_matches('/').to_owned();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        path.push('/');
        if path.contains(['?', '#', ' ']) {
            return Err(ClientError::InvalidOption("path"));
        }
        let mut query_suffix = String::new();
        for (k, v) in &opts.query {
            if matches!(k.as_str(), "EIO" | "transport" | "sid") {
                continue;
            }
            query_suffix.push('&');
            query_suffix.extend(utf8_percent_encode(k, COMPONENT));
            query_suffix.push('=');
            query_suffix.extend(utf8_percent_encode(v, COMPONENT));
        }
        let mut headers = Vec::with_capacity(opts.extra_headers.len());
        for (k, v) in &opts.extra_headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| ClientError::InvalidHeader(k.clone()))?;
            let value =
                HeaderValue::from_str(v).map_err(|_| ClientError::InvalidHeader(k.clone()))?;
            headers.push((name, value));
        }
        #[cfg(feature = "tls")]
        let tls = if url.secure {
            Some(opts.tls.clone().unwrap_or_else(default_tls))
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        if url.secure {
            return Err(ClientError::UnsupportedScheme(
                "https/wss (sio built without its `tls` feature)".to_owned(),
            ));
        }
        Ok(Self {
            secure: url.secure,
            host: url.host.clone(),
            host_literal: url.host_literal.clone(),
            port: url.port,
            path,
            query_suffix,
            headers,
            #[cfg(feature = "tls")]
            tls,
            max_response: opts.max_http_response_size,
            max_ws_message: opts.max_ws_message_size,
            deflate: opts.per_message_deflate,
            cookies: opts.with_credentials.then(Default::default),
            proxy: ProxyRoute::find(&opts.proxy, url)?,
            pool: std::sync::Mutex::new(Vec::new()),
            pooling: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// An idle pooled connection that can take a request now.
    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut pool = crate::sync::lock(&self.pool);
        while let Some(sender) = pool.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    /// Keeps a connection whose exchange is over for the next request.
    fn put_idle(&self, sender: SendRequest<Full<Bytes>>) {
        let mut pool = crate::sync::lock(&self.pool);
        if !self.pooling.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        pool.retain(|s| !s.is_closed());
        if !sender.is_closed() && pool.len() < POOL_IDLE {
            pool.push(sender);
        }
    }

    /// A new Engine.IO session starts: its requests may keep their connections.
    pub(crate) fn open_pool(&self) {
        self.pooling
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Closes the idle connections (the Engine.IO session they served is over).
    pub(crate) fn close_idle(&self) {
        let mut pool = crate::sync::lock(&self.pool);
        self.pooling
            .store(false, std::sync::atomic::Ordering::Release);
        pool.clear();
    }

    /// Whether long-polling requests are forwarded by a proxy (plain `http` through one):
    /// they then carry an absolute URI and go to the proxy itself.
    fn forwarded(&self) -> bool {
        self.proxy.is_some() && !self.secure
    }

    /// The `Cookie` header to send, if the jar holds any.
    fn cookie_header(&self) -> Option<String> {
        let jar = self.cookies.as_ref()?;
        crate::sync::lock(jar).header(std::time::SystemTime::now())
    }

    /// Keeps the cookies a response sets (with `with_credentials`).
    fn keep_cookies(&self, headers: &http::HeaderMap) {
        let Some(jar) = &self.cookies else { return };
        let now = std::time::SystemTime::now();
        let mut jar = crate::sync::lock(jar);
        for v in headers.get_all(http::header::SET_COOKIE) {
            if let Ok(v) = v.to_str() {
                jar.set(v, now);
            }
        }
    }

    fn host_header(&self) -> String {
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            self.host_literal.clone()
        } else {
            format!("{}:{}", self.host_literal, self.port)
        }
    }

    fn path_and_query(&self, query: &str) -> String {
        format!("{}?{}{}", self.path, query, self.query_suffix)
    }
}

/// The default TLS configuration: the `webpki-roots` roots, the `ring` provider.
#[cfg(feature = "tls")]
fn default_tls() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            Arc::new(tls_config_with_roots(roots))
        })
        .clone()
}

/// A rustls client configuration trusting `roots`, with the `ring` provider (the crypto
/// provider `sio` is built with). Use it to trust a private CA in
/// [`ClientOptions::tls`](super::ClientOptions::tls).
#[cfg(feature = "tls")]
pub fn tls_config_with_roots(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(b) => b.with_root_certificates(roots).with_no_client_auth(),
        // The ring provider supports the safe default versions; this branch is unreachable
        // in practice and falls back to the same defaults.
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    }
}

/// The operating system's root certificates (on Linux the distribution's bundle, or the file
/// of `SSL_CERT_FILE`) in a rustls client configuration like the default one. Give it to
/// [`ClientOptions::tls`](super::ClientOptions::tls). Certificates that do not parse are
/// skipped; it fails when none could be loaded. Feature `native-roots`.
#[cfg(feature = "native-roots")]
pub fn tls_config_native_roots() -> Result<rustls::ClientConfig, std::io::Error> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "none found".to_owned());
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no usable root certificate in the system's store: {why}"),
        ));
    }
    Ok(tls_config_with_roots(roots))
}

/// A TCP connection to `host:port`; the cause when it fails.
async fn tcp(rt: &Arc<dyn Runtime>, host: &str, port: u16) -> Result<BoxStream, String> {
    rt.connect(host, port)
        .await
        .map_err(|e| cause(&format!("connect to {host}:{port}"), e))
}

/// Opens a `CONNECT` tunnel to the endpoint through `proxy` (hyper's client sends the request
/// and hands the connection back once the proxy agreed).
async fn tunnel(
    rt: &Arc<dyn Runtime>,
    ep: &Endpoint,
    proxy: &ProxyRoute,
) -> Result<BoxStream, String> {
    let step = format!("proxy {}:{}", proxy.host, proxy.port);
    let stream = tcp(rt, &proxy.host, proxy.port).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(HyperIo(stream))
            .await
            .map_err(|e| cause(&step, e))?;
    rt.spawn(Box::pin(async move {
        let _ = conn.with_upgrades().await;
    }));
    let authority = format!("{}:{}", ep.host_literal, ep.port);
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri(authority.as_str())
        .header(http::header::HOST, authority.as_str());
    if let Some(auth) = &proxy.auth {
        req = req.header(http::header::PROXY_AUTHORIZATION, auth.clone());
    }
    let req = req
        .body(Empty::new())
        .map_err(|e| cause("proxy CONNECT request", e))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| cause(&step, e))?;
    if !resp.status().is_success() {
        return Err(format!(
            "{step}: CONNECT {authority} answered HTTP {}",
            resp.status()
        ));
    }
    let upgraded = hyper::upgrade::on(resp)
        .await
        .map_err(|e| cause(&step, e))?;
    let parts = upgraded
        .downcast::<HyperIo<BoxStream>>()
        .map_err(|_| format!("{step}: the tunnel is not the connection it was opened on"))?;
    if !parts.read_buf.is_empty() {
        return Err(format!("{step}: data from the tunnel before the request"));
    }
    Ok(parts.io.0)
}

/// Opens a connection to the endpoint (directly, or a tunnel through its proxy), and TLS on it
/// for `https`/`wss`; the cause when it fails.
async fn connect(rt: &Arc<dyn Runtime>, ep: &Endpoint) -> Result<BoxStream, String> {
    let tcp = match &ep.proxy {
        Some(proxy) => tunnel(rt, ep, proxy).await?,
        None => tcp(rt, &ep.host, ep.port).await?,
    };
    #[cfg(feature = "tls")]
    if let Some(tls) = ep.tls.clone() {
        let name = rustls::pki_types::ServerName::try_from(ep.host.clone())
            .map_err(|e| cause("TLS server name", e))?;
        let stream = futures_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| cause("TLS", e))?;
        return Ok(Box::new(stream));
    }
    Ok(tcp)
}

/// Why a request or a websocket failed: the step and the error behind it (`connect to
/// host:port: Connection refused`, `TLS: ...`, `HTTP: ...`).
fn cause(step: &str, e: impl std::fmt::Display) -> String {
    format!("{step}: {e}")
}

/// A new HTTP/1.1 connection for long-polling requests: to the endpoint (through a tunnel
/// for `https` behind a proxy), or to the proxy that forwards them.
async fn open_http(
    rt: &Arc<dyn Runtime>,
    ep: &Endpoint,
) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = match &ep.proxy {
        Some(proxy) if ep.forwarded() => tcp(rt, &proxy.host, proxy.port).await?,
        _ => connect(rt, ep).await?,
    };
    let (sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(HyperIo(stream))
        .await
        .map_err(|e| cause("HTTP", e))?;
    rt.spawn(Box::pin(async move {
        let _ = conn.await;
    }));
    Ok(sender)
}

/// One long-polling request, on an idle kept-alive connection of the endpoint when there is
/// one (a request such a connection could not take goes on a new one): `Ok((status, body))`,
/// or `Err(cause)` when the connection or the HTTP exchange failed.
pub(crate) async fn http_request(
    rt: Arc<dyn Runtime>,
    ep: Arc<Endpoint>,
    query: String,
    body: Option<Bytes>,
) -> Result<(u16, Bytes), String> {
    let target = if ep.forwarded() {
        format!("http://{}{}", ep.host_header(), ep.path_and_query(&query))
    } else {
        ep.path_and_query(&query)
    };
    let is_post = body.is_some();
    let body = body.unwrap_or_default();
    let request = || {
        let mut req = Request::builder()
            .method(if is_post { Method::POST } else { Method::GET })
            .uri(target.as_str())
            .header(http::header::HOST, ep.host_header())
            .header(http::header::ACCEPT, "*/*")
            .header(http::header::ACCEPT_ENCODING, "gzip, deflate");
        if is_post {
            req = req.header(http::header::CONTENT_TYPE, "text/plain;charset=UTF-8");
        }
        for (k, v) in &ep.headers {
            req = req.header(k, v);
        }
        if let Some(cookie) = ep.cookie_header() {
            req = req.header(http::header::COOKIE, cookie);
        }
        if let Some(auth) = ep.proxy.as_ref().and_then(|p| p.auth.as_ref()) {
            if ep.forwarded() {
                req = req.header(http::header::PROXY_AUTHORIZATION, auth.clone());
            }
        }
        req.body(Full::new(body.clone()))
            .map_err(|e| cause("HTTP request", e))
    };
    let mut sent = None;
    if let Some(mut sender) = ep.take_idle() {
        match sender.try_send_request(request()?).await {
            Ok(resp) => sent = Some((sender, resp)),
            // A kept-alive connection the server closed as the request left, before any
            // answer began: the request goes again on a new connection, as browsers do.
            Err(e) if e.message().is_some() || closed_before_answer(e.error()) => {}
            Err(e) => return Err(cause("HTTP", e.into_error())),
        }
    }
    let (sender, resp) = match sent {
        Some(sent) => sent,
        None => {
            let mut sender = open_http(&rt, &ep).await?;
            let resp = sender
                .send_request(request()?)
                .await
                .map_err(|e| cause("HTTP", e))?;
            (sender, resp)
        }
    };
    let status = resp.status().as_u16();
    ep.keep_cookies(resp.headers());
    let encoding = resp
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .map(|v| v.as_bytes().to_ascii_lowercase());
    let body = Limited::new(resp.into_body(), ep.max_response)
        .collect()
        .await
        .map_err(|e| cause("HTTP response body", e))?
        .to_bytes();
    // The exchange is over: the connection can carry the next request.
    ep.put_idle(sender);
    let body = match encoding.as_deref() {
        None | Some(b"identity") => body,
        Some(b"gzip") => inflate(flate2::read::GzDecoder::new(&body[..]), ep.max_response)?,
        Some(b"deflate") => inflate(flate2::read::ZlibDecoder::new(&body[..]), ep.max_response)?,
        Some(other) => {
            return Err(format!(
                "HTTP response body: unknown Content-Encoding {:?}",
                String::from_utf8_lossy(other)
            ))
        }
    };
    Ok((status, body))
}

/// Whether a request on a reused connection failed because the connection was closed before
/// any of the answer came (the server ended an idle kept-alive connection).
fn closed_before_answer(e: &hyper::Error) -> bool {
    use std::error::Error as _;
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return true;
    }
    e.source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
            )
        })
}

/// A compressed response body, inflated to at most `limit` bytes (a small body that inflates
/// past the limit is refused like a large one).
fn inflate(decoder: impl std::io::Read, limit: usize) -> Result<Bytes, String> {
    use std::io::Read;
    let mut out = Vec::new();
    let max = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(max)
        .read_to_end(&mut out)
        .map_err(|e| cause("HTTP response body (inflating)", e))?;
    if out.len() > limit {
        return Err(format!(
            "HTTP response body: over {limit} bytes once inflated"
        ));
    }
    Ok(Bytes::from(out))
}

/// Opens the websocket of `query` (a handshake or an upgrade probe).
pub(crate) async fn ws_connect(
    rt: Arc<dyn Runtime>,
    ep: Arc<Endpoint>,
    query: String,
) -> Result<Ws, String> {
    let stream = connect(&rt, &ep).await?;
    let url = format!(
        "{}://{}{}",
        if ep.secure { "wss" } else { "ws" },
        ep.host_header(),
        ep.path_and_query(&query)
    );
    let mut req = url
        .into_client_request()
        .map_err(|e| cause("websocket request", e))?;
    for (k, v) in &ep.headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    if let Some(Ok(cookie)) = ep.cookie_header().map(http::HeaderValue::try_from) {
        req.headers_mut().insert(http::header::COOKIE, cookie);
    }
    if ep.deflate.is_some() {
        req.headers_mut().insert(
            http::header::SEC_WEBSOCKET_EXTENSIONS,
            http::HeaderValue::from_static(crate::ws_deflate::CLIENT_OFFER),
        );
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(ep.max_ws_message.saturating_mul(2).max(1 << 20))
        .max_message_size(Some(ep.max_ws_message))
        .max_frame_size(Some(ep.max_ws_message));
    let stream = crate::ws_deflate::WsIo::client(stream);
    let (mut ws, resp) = async_tungstenite::client_async_with_config(req, stream, Some(config))
        .await
        .map_err(|e| cause("websocket handshake", e))?;
    ep.keep_cookies(resp.headers());
    let answer = resp
        .headers()
        .get(http::header::SEC_WEBSOCKET_EXTENSIONS)
        .map(|v| v.to_str().unwrap_or("?"));
    let agreed = match &ep.deflate {
        Some(deflate) => crate::ws_deflate::client_agreed(answer, deflate)?,
        // Nothing was offered: an extension in the answer is the server's mistake.
        None if answer.is_some() => {
            return Err(format!("unrequested websocket extension: {answer:?}"))
        }
        None => None,
    };
    // Always: it also ends the byte-by-byte reading of the handshake.
    ws.get_mut().enable(agreed, ep.max_ws_message);
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_like_the_node_client() {
        let u = parse_url("http://127.0.0.1:3000/chat?room=a%20b&x").unwrap();
        assert!(!u.secure);
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 3000);
        assert_eq!(u.path, "/chat");
        assert_eq!(
            u.query,
            vec![("room".into(), "a b".into()), ("x".into(), String::new())]
        );
        let u = parse_url("wss://[::1]/").unwrap();
        assert!(u.secure);
        assert_eq!(u.host, "::1");
        assert_eq!(u.host_literal, "[::1]");
        assert_eq!(u.port, 443);
        assert_eq!(u.path, "/");
        assert_eq!(u.origin(), "https://[::1]:443");
        let u = parse_url("example.com:8080").unwrap();
        assert!(u.secure);
        assert_eq!(u.path, "/");
        assert!(matches!(
            parse_url("ftp://x/"),
            Err(ClientError::UnsupportedScheme(_))
        ));
        assert!(parse_url("http://").is_err());
    }

    #[test]
    fn endpoint_paths_and_query() {
        let u = parse_url("http://h:1/").unwrap();
        let opts = ClientOptions {
            path: "/custom/".into(),
            query: vec![("a b".into(), "é&".into()), ("EIO".into(), "3".into())],
            ..ClientOptions::default()
        };
        let ep = Endpoint::new(&u, &opts).unwrap();
        assert_eq!(ep.path, "/custom/");
        assert_eq!(
            ep.path_and_query("EIO=4&transport=polling"),
            "/custom/?EIO=4&transport=polling&a%20b=%C3%A9%26"
        );
        assert_eq!(ep.host_header(), "h:1");
    }
}
