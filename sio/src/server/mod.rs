//! The Socket.IO server: configuration, namespaces, sessions, and the HTTP entry point.

pub mod adapter;
pub mod broadcast;
pub(crate) mod conn;
mod direct;
mod handshake;
mod http_service;
pub(crate) mod inbox;
mod listener;
pub(crate) mod machine;
mod metrics;
pub mod namespace;
mod recovery;
mod serve_client;
mod server_side;
pub mod socket;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use sio_proto::engine::server::{EngineConfig, EngineServer};
use sio_proto::engine::CloseReason;
use sio_proto::socket::server::ConnectionConfig;
use sio_proto::socket::Nsp;
use sio_proto::IdGenerator;

pub use self::adapter::ServerSideAck;
pub use self::adapter::{
    Adapter, ClusterError, InMemoryAdapter, LocalSockets, RemoteAcks, ServerSideAnswer, SocketInfo,
};
pub use self::broadcast::{AckResponse, BroadcastAcks, BroadcastOperator, RemoteSocket};
pub use self::http_service::{
    serve_connection, serve_connection_with, serve_hyper_connection, Fallback,
};
pub use self::listener::accept_loop;
pub use self::metrics::ServerMetrics;
pub use self::namespace::{ConnectError, Namespace};
use self::socket::{lock, read, write};
pub use self::socket::{
    AckError, AckSender, Compress, EmitError, Handshake, Headers, Socket, SocketId,
};
use crate::runtime::{BoxFuture, Runtime};
use crate::PerMessageDeflate;
pub use sio_proto::socket::recovery::RecoveryConfig;
pub use sio_proto::socket::DisconnectReason;
pub use sio_proto::socket::Parser;

/// Which origins may make cross-origin requests.
#[derive(Clone)]
pub enum CorsOrigins {
    /// Any origin: `Access-Control-Allow-Origin: *`, as Node's `cors` package sends for
    /// `origin: "*"`. Browsers never send credentials to `*`, and [`Cors::with_credentials`]
    /// refuses this variant.
    Any,
    /// These origins exactly (the request's `Origin` is echoed back when it is one of them).
    List(Vec<String>),
    /// Origins for which the predicate holds (echoed back when it holds).
    Predicate(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl std::fmt::Debug for CorsOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CorsOrigins::Any => f.write_str("Any"),
            CorsOrigins::List(l) => f.debug_tuple("List").field(l).finish(),
            CorsOrigins::Predicate(_) => f.write_str("Predicate"),
        }
    }
}

/// A CORS configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorsError {
    /// Credentials for any origin would let every site make credentialed requests as the
    /// user: list the origins (or give a predicate) instead.
    #[error("CORS credentials cannot be allowed for any origin; list the allowed origins")]
    CredentialsWithAnyOrigin,
}

/// CORS settings (Node's `cors` option, answered as Node's `cors` package does).
///
/// Built with [`Cors::any`], [`Cors::origins`] or [`Cors::predicate`]; credentials are
/// opt-in with [`Cors::with_credentials`], which refuses "any origin" (a configuration error,
/// reported when the configuration is written, never at request time).
///
/// Answers: `Access-Control-Allow-Origin` is `*` for [`CorsOrigins::Any`], otherwise the
/// request's `Origin` when it is allowed (absent when not) with `Vary: Origin`;
/// `Access-Control-Allow-Credentials: true` when enabled. A preflight (`OPTIONS`) gets 204
/// with, in addition, `Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE`,
/// `Access-Control-Allow-Headers` echoing the request's `Access-Control-Request-Headers`, and
/// `Access-Control-Request-Headers` added to `Vary`.
///
/// Beyond Node, [`Cors::enforce_origin`] refuses any Engine.IO request (handshake, long-poll,
/// websocket upgrade, preflight) whose `Origin` is present and not allowed, with 403 and
/// `{"code":4,"message":"Forbidden"}`: CORS only stops a page from *reading* answers, while a
/// websocket is not subject to CORS at all, so without this check any site can open a
/// session (with the user's cookies) — cross-site websocket hijacking. Requests without an
/// `Origin` (non-browser clients) are not affected.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: CorsOrigins,
    credentials: bool,
    enforce_origin: bool,
}

impl Cors {
    /// CORS for these origins, without credentials and without enforcement.
    pub fn new(origins: CorsOrigins) -> Self {
        Self {
            origins,
            credentials: false,
            enforce_origin: false,
        }
    }

    /// Any origin (`Access-Control-Allow-Origin: *`).
    pub fn any() -> Self {
        Self::new(CorsOrigins::Any)
    }

    /// These origins exactly (for example `"https://app.example"`).
    pub fn origins<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(CorsOrigins::List(
            origins.into_iter().map(Into::into).collect(),
        ))
    }

    /// Origins for which `allowed` holds.
    pub fn predicate(allowed: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self::new(CorsOrigins::Predicate(Arc::new(allowed)))
    }

    /// Allows credentials (`Access-Control-Allow-Credentials: true`). Refused for
    /// [`CorsOrigins::Any`].
    pub fn with_credentials(mut self) -> Result<Self, CorsError> {
        if matches!(self.origins, CorsOrigins::Any) {
            return Err(CorsError::CredentialsWithAnyOrigin);
        }
        self.credentials = true;
        Ok(self)
    }

    /// Refuses Engine.IO requests whose `Origin` is present and not allowed (403), off by
    /// default; see the type's docs.
    pub fn enforce_origin(mut self) -> Self {
        self.enforce_origin = true;
        self
    }

    /// The allowed origins.
    pub fn allowed_origins(&self) -> &CorsOrigins {
        &self.origins
    }

    /// Whether credentials are allowed.
    pub fn credentials(&self) -> bool {
        self.credentials
    }

    /// Whether requests from other origins are refused.
    pub fn enforces_origin(&self) -> bool {
        self.enforce_origin
    }

    /// Whether `origin` (the raw `Origin` header) is allowed.
    pub fn allows(&self, origin: &[u8]) -> bool {
        match &self.origins {
            CorsOrigins::Any => true,
            CorsOrigins::List(l) => l.iter().any(|o| o.as_bytes() == origin),
            CorsOrigins::Predicate(p) => std::str::from_utf8(origin).is_ok_and(|o| p(o)),
        }
    }
}

/// The Engine.IO session cookie (Node's `cookie` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    /// Cookie name (`io` in Node).
    pub name: String,
    /// Cookie path (`/`).
    pub path: String,
    /// `HttpOnly` (true).
    pub http_only: bool,
    /// `SameSite` value (`Lax`).
    pub same_site: String,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: "io".into(),
            path: "/".into(),
            http_only: true,
            same_site: "Lax".into(),
        }
    }
}

/// The handshake request as `allowRequest` sees it.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The method.
    pub method: http::Method,
    /// The URI.
    pub uri: http::Uri,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The peer address.
    pub remote: Option<std::net::SocketAddr>,
}

/// A hook that accepts or refuses a handshake (Node's `allowRequest`): `Err(message)` answers
/// 403 with `{"code":4,"message":...}`.
pub type AllowRequest = Arc<dyn Fn(&RequestInfo) -> BoxFuture<Result<(), String>> + Send + Sync>;

/// Server options. Defaults are Node's.
#[derive(Clone)]
pub struct ServerConfig {
    /// The request path (`/socket.io`).
    pub path: String,
    /// Engine.IO settings: ping interval and timeout, upgrade timeout, `maxHttpBufferSize`,
    /// transports, `allowUpgrades`, `allowEIO3`.
    pub engine: EngineConfig,
    /// Socket.IO settings: `connectTimeout`, pending acks, attachments per packet.
    pub connection: ConnectionConfig,
    /// CORS, off by default.
    pub cors: Option<Cors>,
    /// The session cookie, off by default.
    pub cookie: Option<CookieConfig>,
    /// `serveClient`: the folder holding `socket.io.js`, `socket.io.min.js` and their maps
    /// (for example `node_modules/socket.io-client/dist`). Off when `None`.
    pub serve_client: Option<PathBuf>,
    /// Bound on packets waiting in one connection's inbox on their way to its Engine.IO queue
    /// (default 8192). Over it (or over `max_inbox_bytes`) an emit to that connection fails
    /// with [`EmitError::QueueFull`]: a volatile packet is dropped, any other closes the
    /// connection with `send buffer full`. The connection's own queue has the same rule
    /// (`engine.max_queue`, `engine.max_queue_bytes`): a client that stops reading is
    /// disconnected, and what it pinned is released.
    pub max_inbox: usize,
    /// Bound on the bytes of the packets waiting in one connection's inbox (default 8 MiB;
    /// see `max_inbox`).
    pub max_inbox_bytes: usize,
    /// How long a client has to send a whole request head (default 10 s). The same deadline
    /// bounds how long a kept-alive HTTP connection may sit idle between two requests. Over
    /// it the connection is closed: half-sent headers (slowloris) hold nothing for long.
    pub http_header_timeout: Duration,
    /// How long a client has to send a whole request body, a long-polling `POST` (default
    /// 30 s). Over it the request gets `408` and its connection is closed.
    pub http_body_timeout: Duration,
    /// Bound on open TCP connections of the listeners `sio` runs (`listen`, `serve` of the
    /// drivers), websockets included; `None` (the default) for no bound. Over it a new
    /// connection is accepted and closed at once (Node's `server.maxConnections`).
    pub max_connections: Option<usize>,
    /// Seed of the id generator (`None`: drawn from the operating system).
    pub seed: Option<[u8; 32]>,
    /// Handshake hook.
    pub allow_request: Option<AllowRequest>,
    /// Makes the adapter of each namespace (default: [`InMemoryAdapter`]).
    pub adapter: AdapterFactory,
    /// Connection state recovery (Node's `connectionStateRecovery`), off by default: a client
    /// whose transport died comes back within the window as the same socket (id, rooms,
    /// data) and gets every packet it missed ([`Socket::recovered`]). With a cluster adapter,
    /// the sessions are this server's (a client recovers on the server it was on, as sticky
    /// sessions send it), the other servers' broadcasts to them included.
    pub connection_state_recovery: Option<RecoveryConfig>,
    /// HTTP compression of long-polling responses (Node's `httpCompression`, on by default
    /// with a 1 KiB threshold): a response at least that large is sent gzip- or
    /// deflate-encoded to a client that accepts either. `None`: never.
    pub http_compression: Option<HttpCompression>,
    /// Websocket compression (Node's `perMessageDeflate`), off by default as in Node: with it,
    /// a client that offers `permessage-deflate` gets messages of at least the threshold
    /// compressed, each on its own, and may send compressed ones (inflated within
    /// `engine.max_http_buffer_size`).
    pub per_message_deflate: Option<PerMessageDeflate>,
}

/// HTTP compression of long-polling responses ([`ServerConfig::http_compression`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpCompression {
    /// Responses smaller than this (in bytes) are sent as they are (Node's `threshold`,
    /// 1024).
    pub threshold: usize,
}

impl Default for HttpCompression {
    fn default() -> Self {
        Self { threshold: 1024 }
    }
}

/// Makes one adapter per namespace (given its name).
pub type AdapterFactory = Arc<dyn Fn(&str) -> Box<dyn Adapter> + Send + Sync>;

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("path", &self.path)
            .field("engine", &self.engine)
            .field("connection", &self.connection)
            .field("cors", &self.cors)
            .field("serve_client", &self.serve_client)
            .field("connection_state_recovery", &self.connection_state_recovery)
            .field("http_compression", &self.http_compression)
            .field("per_message_deflate", &self.per_message_deflate)
            .finish_non_exhaustive()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            path: "/socket.io".into(),
            engine: EngineConfig::default(),
            connection: ConnectionConfig::default(),
            cors: None,
            cookie: None,
            serve_client: None,
            max_inbox: 8192,
            max_inbox_bytes: 8 << 20,
            http_header_timeout: Duration::from_secs(10),
            http_body_timeout: Duration::from_secs(30),
            max_connections: None,
            seed: None,
            allow_request: None,
            adapter: adapter::default_factory(),
            connection_state_recovery: None,
            http_compression: Some(HttpCompression::default()),
            per_message_deflate: None,
        }
    }
}

impl ServerConfig {
    /// Sets the ping interval.
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.engine.ping_interval = d;
        self
    }

    /// Sets the ping timeout.
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.engine.ping_timeout = d;
        self
    }

    /// Sets the parser (Node's `parser` option): [`Parser::MsgPack`] speaks
    /// `socket.io-msgpack-parser` (every packet one MessagePack binary message); clients must
    /// use the same.
    pub fn parser(mut self, parser: Parser) -> Self {
        self.connection.parser = parser;
        self
    }

    /// Turns websocket compression on (see [`ServerConfig::per_message_deflate`]).
    pub fn per_message_deflate(mut self, config: PerMessageDeflate) -> Self {
        self.per_message_deflate = Some(config);
        self
    }

    /// Accepts Socket.IO v2 clients (Engine.IO v3, Node's `allowEIO3`), off by default. They
    /// join the main namespace at once, and their sockets' ids are Node's for them: the
    /// Engine.IO session id, `<nsp>#<session id>` outside the main namespace.
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.engine.allow_eio3 = allow;
        self
    }

    /// Turns connection state recovery on (see
    /// [`ServerConfig::connection_state_recovery`]).
    pub fn connection_state_recovery(mut self, config: RecoveryConfig) -> Self {
        self.connection_state_recovery = Some(config);
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connection.connect_timeout = d;
        self
    }

    /// Sets the upgrade timeout.
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.engine.upgrade_timeout = d;
        self
    }

    /// Sets `maxHttpBufferSize`.
    pub fn max_http_buffer_size(mut self, n: usize) -> Self {
        self.engine.max_http_buffer_size = n;
        self
    }

    /// Sets the request path.
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.path = p.into();
        self
    }

    /// Enables `serveClient` from a folder with the client bundle.
    pub fn serve_client(mut self, dir: impl Into<PathBuf>) -> Self {
        self.serve_client = Some(dir.into());
        self
    }

    /// Enables CORS (see [`Cors`]).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Sets the bound on open connections (see [`ServerConfig::max_connections`]).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = Some(n);
        self
    }

    pub(crate) fn inbox_limits(&self) -> inbox::InboxLimits {
        inbox::InboxLimits {
            packets: self.max_inbox,
            bytes: self.max_inbox_bytes,
        }
    }
}

/// Support for benchmarks of the broadcast path: sockets attached to a namespace whose
/// connection inbox is read by the caller instead of a connection task. Not a public API.
#[doc(hidden)]
pub mod bench_support {
    use std::sync::atomic::Ordering;

    use futures_channel::mpsc::UnboundedReceiver;
    use sio_proto::engine::TransportKind;

    use super::inbox::{self, Input};
    use super::{Handshake, Namespace, Socket};

    /// The inbox of an attached socket.
    pub struct Inbox(UnboundedReceiver<Input>);

    impl Inbox {
        /// Takes every queued packet; returns how many there were.
        pub fn drain(&mut self) -> usize {
            let mut n = 0;
            while self.0.try_recv().is_ok() {
                n += 1;
            }
            n
        }
    }

    /// Attaches a socket with id `id` to `ns`, as a connection would after CONNECT.
    pub fn attach(ns: &Namespace, id: &str) -> (Socket, Inbox) {
        let (handle, rx) = inbox::channel(
            inbox::InboxLimits {
                packets: usize::MAX,
                bytes: usize::MAX,
            },
            TransportKind::WebSocket,
        );
        let s = Socket::new(id.into(), ns.clone(), handle, Handshake::default());
        s.inner.connected.store(true, Ordering::Release);
        ns.add_socket(&s);
        (s, Inbox(rx))
    }
}

type DynamicMatcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;
type NewNamespaceHook = Arc<dyn Fn(&Namespace) + Send + Sync>;

pub(crate) struct ServerInner {
    pub(crate) rt: Arc<dyn Runtime>,
    pub(crate) config: ServerConfig,
    /// The Engine.IO router, owning the index of sessions (each with its task's inbox).
    pub(crate) router: Mutex<EngineServer<inbox::ConnHandle>>,
    ids: Mutex<IdGenerator>,
    namespaces: RwLock<HashMap<String, Namespace>>,
    dynamic: RwLock<Vec<(DynamicMatcher, NewNamespaceHook)>>,
    pub(crate) closing: AtomicBool,
    /// Open TCP connections served (see [`Server::open_connections`]).
    pub(crate) open_connections: Arc<std::sync::atomic::AtomicUsize>,
    /// Set when the server runs as a bare Engine.IO server.
    pub(crate) engine_app: Option<Arc<dyn machine::EngineHandler>>,
    /// Key of the room indexes' hashers (from `config.seed` or the operating system).
    rooms_seed: [u8; 16],
    /// The counters ([`Server::metrics`]).
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// `config.connection`, shared by every connection's machine.
    pub(crate) connection_config: Arc<ConnectionConfig>,
}

impl ServerInner {
    pub(crate) fn next_socket_id(&self) -> String {
        lock(&self.ids).next_id()
    }

    /// Removes a session that ended; when `lingers` (closed by its client over long-polling),
    /// its id stays known for a moment so that a racing long-poll gets `noop`.
    pub(crate) fn remove_session(&self, sid: &str, lingers: bool) {
        let now = self.rt.now();
        lock(&self.router).remove(now, sid, lingers);
    }

    /// A new namespace, with its adapter attached to it.
    fn new_namespace(&self, nsp: Nsp) -> Namespace {
        let adapter = adapter::make(&self.config.adapter, self.rooms_seed, nsp.as_str());
        let recovery = self
            .config
            .connection_state_recovery
            .map(|c| recovery::Recovery::new(c, self.rt.clone()));
        let ns = Namespace::new(
            nsp,
            adapter,
            recovery,
            self.config.connection.parser,
            self.metrics.clone(),
            self.rt.clone(),
        );
        crate::runtime::catch("the adapter's init", || broadcast::attach(&ns));
        ns
    }

    /// The namespace for a CONNECT: a static one, or a new child of a dynamic pattern.
    pub(crate) fn namespace_for(&self, name: &str) -> Option<Namespace> {
        if let Some(ns) = read(&self.namespaces).get(name) {
            return Some(ns.clone());
        }
        let dynamic = read(&self.dynamic).clone();
        for (matcher, on_new) in dynamic {
            if matcher(name) {
                let ns = {
                    let mut map = write(&self.namespaces);
                    if let Some(ns) = map.get(name) {
                        return Some(ns.clone());
                    }
                    let nsp = Nsp::new(name).ok()?;
                    let ns = self.new_namespace(nsp);
                    map.insert(name.to_owned(), ns.clone());
                    ns
                };
                on_new(&ns);
                return Some(ns);
            }
        }
        None
    }
}

/// The Socket.IO server. Cloning is cheap (a shared handle).
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<ServerInner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server running on `rt` with `config`. The main namespace `/` exists from the start.
    pub fn new(rt: Arc<dyn Runtime>, config: ServerConfig) -> Self {
        Self::build(rt, config, None)
    }

    pub(crate) fn build(
        rt: Arc<dyn Runtime>,
        config: ServerConfig,
        engine_app: Option<Arc<dyn machine::EngineHandler>>,
    ) -> Self {
        let (seed, router_seed) = match config.seed {
            Some(s) => {
                let mut r = s;
                r[31] ^= 0x5a;
                (s, r)
            }
            None => (crate::runtime::os_seed(), crate::runtime::os_seed()),
        };
        let ids = IdGenerator::from_seed(seed);
        let router_ids = IdGenerator::from_seed(router_seed);
        let s = Self {
            inner: Arc::new(ServerInner {
                rt,
                router: Mutex::new(EngineServer::new(config.engine, router_ids)),
                ids: Mutex::new(ids),
                namespaces: RwLock::default(),
                metrics: Arc::default(),
                dynamic: RwLock::default(),
                closing: AtomicBool::new(false),
                open_connections: Arc::default(),
                engine_app,
                rooms_seed: adapter::rooms_seed(config.seed),
                connection_config: Arc::new(config.connection),
                config,
            }),
        };
        s.of("/");
        s
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The runtime the server runs on.
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.inner.rt
    }

    /// The namespace `name`, created if needed (Node's `io.of(name)`).
    ///
    /// # Panics
    ///
    /// When `name` does not start with `/` or contains a `,`.
    pub fn of(&self, name: &str) -> Namespace {
        let name = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("/{name}")
        };
        let mut map = write(&self.inner.namespaces);
        map.entry(name.clone())
            .or_insert_with(|| {
                let nsp = Nsp::new(&name).unwrap_or_else(|e| panic!("{e}"));
                self.inner.new_namespace(nsp)
            })
            .clone()
    }

    /// The namespace `name` if it exists (static, or a dynamic one already created); unlike
    /// [`Server::of`], never creates one.
    pub fn get_namespace(&self, name: &str) -> Option<Namespace> {
        read(&self.inner.namespaces).get(name).cloned()
    }

    /// What the server counted so far: sessions, sockets per namespace, packets and bytes in
    /// and out, ack timeouts, queue overflows, refused requests (for a metrics exporter).
    pub fn metrics(&self) -> ServerMetrics {
        let sockets = read(&self.inner.namespaces)
            .iter()
            .map(|(name, ns)| (name.clone(), ns.len()))
            .collect();
        self.inner.metrics.snapshot(sockets)
    }

    /// The names of the existing namespaces.
    pub fn namespace_names(&self) -> Vec<String> {
        read(&self.inner.namespaces).keys().cloned().collect()
    }

    /// A broadcast of the main namespace whose acks are awaited for at most `d`
    /// (Node's `io.timeout(d)`).
    pub fn timeout(&self, d: Duration) -> BroadcastOperator {
        self.of("/").broadcast().timeout(d)
    }

    /// A volatile broadcast of the main namespace (Node's `io.volatile`).
    pub fn volatile(&self) -> BroadcastOperator {
        self.of("/").broadcast().volatile()
    }

    /// A broadcast of the main namespace to this server's sockets only (Node's `io.local`).
    pub fn local(&self) -> BroadcastOperator {
        self.of("/").broadcast().local()
    }

    /// Makes every socket of the main namespace join `rooms` (Node's `io.socketsJoin`).
    pub fn sockets_join<'a>(&self, rooms: impl IntoIterator<Item = &'a str> + Clone) {
        self.of("/").sockets_join(rooms)
    }

    /// Makes every socket of the main namespace leave `room` (Node's `io.socketsLeave`).
    pub fn sockets_leave(&self, room: &str) {
        self.of("/").sockets_leave(room)
    }

    /// Disconnects every socket of the main namespace (Node's `io.disconnectSockets`).
    pub fn disconnect_sockets(&self, close: bool) {
        self.of("/").disconnect_sockets(close)
    }

    /// Accepts namespaces whose name satisfies `matcher` (Node's `io.of(regex)` or
    /// `io.of(fn)`), created on their first CONNECT; `on_new` sets each one up.
    pub fn of_dynamic(
        &self,
        matcher: impl Fn(&str) -> bool + Send + Sync + 'static,
        on_new: impl Fn(&Namespace) + Send + Sync + 'static,
    ) {
        write(&self.inner.dynamic).push((Arc::new(matcher), Arc::new(on_new)));
    }

    /// The main namespace's connection handler (Node's `io.on("connection")`).
    ///
    /// ```no_run
    /// # fn demo(io: sio::Server) {
    /// io.on_connection(|socket: sio::Socket| async move {
    ///     println!("{} connected over {}", socket.id(), socket.transport());
    ///     socket.on_disconnect(|socket: sio::Socket, reason| async move {
    ///         println!("{} left: {}", socket.id(), reason.as_str());
    ///     });
    /// });
    /// # }
    /// ```
    pub fn on_connection<F, Fut>(&self, f: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.of("/").on_connection(f)
    }

    /// A middleware of the main namespace (Node's `io.use`): `Err` refuses the connection, and
    /// the client gets `connect_error` with the message (and data).
    ///
    /// ```no_run
    /// # fn demo(io: sio::Server) {
    /// io.use_middleware(|socket: sio::Socket| async move {
    ///     if socket.handshake().auth.get("token").is_some() {
    ///         Ok(())
    ///     } else {
    ///         Err(sio::ConnectError::new("no token"))
    ///     }
    /// });
    /// # }
    /// ```
    pub fn use_middleware<F, Fut>(&self, f: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.of("/").use_middleware(f)
    }

    /// A broadcast to `room` of the main namespace.
    pub fn to(&self, room: impl Into<sio_proto::rooms::Room>) -> BroadcastOperator {
        self.of("/").to(room)
    }

    /// Same as [`Server::to`].
    pub fn within(&self, room: impl Into<sio_proto::rooms::Room>) -> BroadcastOperator {
        self.to(room)
    }

    /// A broadcast to the main namespace except `room`.
    pub fn except(&self, room: impl Into<sio_proto::rooms::Room>) -> BroadcastOperator {
        self.of("/").except(room)
    }

    /// Emits to every socket of the main namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.of("/").emit(event, data)
    }

    /// Sockets of the main namespace on every server of the cluster (Node's
    /// `io.fetchSockets()`).
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, ClusterError> {
        self.of("/").fetch_sockets().await
    }

    /// How many servers the cluster has, this one included (Node's `io.serverCount()`).
    pub async fn server_count(&self) -> Result<usize, ClusterError> {
        let ns = self.of("/");
        let count = ns.inner.adapter.server_count();
        count.await
    }

    /// Node's `io.serverSideEmit(event, ...args)`: see [`Namespace::server_side_emit`].
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        self.of("/").server_side_emit(event, data)
    }

    /// Node's `io.serverSideEmit(event, ...args, callback)`: see
    /// [`Namespace::server_side_emit_with_ack`].
    pub async fn server_side_emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
    ) -> Result<Vec<R>, ClusterError>
    where
        T: Serialize + ?Sized,
        R: serde::de::DeserializeOwned + 'static,
    {
        let ns = self.of("/");
        ns.server_side_emit_with_ack(event, data, timeout).await
    }

    /// Node's `io.on(event, (...args, callback) => ..)` for events of other servers: see
    /// [`Namespace::on_server_side`].
    pub fn on_server_side<T, F, Fut>(&self, event: &str, f: F)
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        F: Fn(T, ServerSideAck) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.of("/").on_server_side(event, f)
    }

    /// Number of open Engine.IO sessions.
    pub fn session_count(&self) -> usize {
        lock(&self.inner.router).len()
    }

    /// Closes every connection (`server shutting down`) and refuses new ones; resolves when
    /// every connection is gone or after five seconds.
    pub async fn close(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        let handles: Vec<inbox::ConnHandle> = lock(&self.inner.router).handles().cloned().collect();
        for h in handles {
            let _ = h.push(inbox::Input::Close(CloseReason::ServerShuttingDown));
        }
        let give_up = self.inner.rt.now() + Duration::from_secs(5);
        while self.session_count() > 0 && self.inner.rt.now() < give_up {
            let t = self.inner.rt.now() + Duration::from_millis(5);
            self.inner.rt.sleep_until(t).await;
        }
    }
}
