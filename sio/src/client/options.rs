//! Client options (the Node client's `io(url, opts)` options) and how they map onto the
//! `sio_proto` manager configuration.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sio_proto::engine::client::ClientConfig;
use sio_proto::engine::TransportKind;
use sio_proto::socket::backoff::BackoffConfig;
use sio_proto::socket::client::ManagerConfig;

use super::ClientError;

/// An Engine.IO transport, as listed in [`ClientOptions::transports`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl Transport {
    /// The name on the wire (`polling`, `websocket`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }

    fn kind(self) -> TransportKind {
        match self {
            Transport::Polling => TransportKind::Polling,
            Transport::WebSocket => TransportKind::WebSocket,
        }
    }
}

/// Which HTTP proxy the client goes through ([`ClientOptions::proxy`]). Long-polling over plain
/// `http` is forwarded by the proxy (absolute-form requests on a kept-alive connection to it);
/// `https` and every websocket go through a `CONNECT` tunnel. Only `http://` proxies are
/// supported; `user:password@` in the proxy URL is sent as `Proxy-Authorization: Basic`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Proxy {
    /// The environment, read as curl reads it: `HTTPS_PROXY` for `https`/`wss` URLs,
    /// `HTTP_PROXY` for `http`/`ws`, `ALL_PROXY` for both, the hosts of `NO_PROXY` going direct
    /// (each also in lower case). With none of them set, no proxy.
    #[default]
    FromEnv,
    /// No proxy, whatever the environment says.
    None,
    /// Every URL through `url` (`http://[user:password@]host:port`) except the hosts listed in
    /// `no_proxy` (`NO_PROXY` syntax: comma-separated hosts, domains, IPs or CIDR ranges).
    Url {
        /// The proxy.
        url: String,
        /// The hosts reached directly.
        no_proxy: String,
    },
}

impl Proxy {
    /// Every URL through `url`.
    pub fn url(url: impl Into<String>) -> Self {
        Proxy::Url {
            url: url.into(),
            no_proxy: String::new(),
        }
    }
}

/// The auth payload sent with each namespace CONNECT (the Node client's `auth`). It must be a
/// JSON object (the protocol allows nothing else); another value sends no auth.
#[derive(Clone)]
pub enum Auth {
    /// The same value on every connection.
    Value(serde_json::Value),
    /// Called anew before every connection and reconnection (Node's `auth: (cb) => cb(..)`),
    /// for example to send a fresh token.
    Fn(Arc<dyn Fn() -> serde_json::Value + Send + Sync>),
}

impl Auth {
    /// An auth computed by `f` before each connection.
    pub fn func(f: impl Fn() -> serde_json::Value + Send + Sync + 'static) -> Self {
        Auth::Fn(Arc::new(f))
    }

    /// The value to send now.
    pub fn evaluate(&self) -> serde_json::Value {
        match self {
            Auth::Value(v) => v.clone(),
            Auth::Fn(f) => f(),
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Value(v) => f.debug_tuple("Value").field(v).finish(),
            Auth::Fn(_) => f.write_str("Fn(..)"),
        }
    }
}

impl From<serde_json::Value> for Auth {
    fn from(v: serde_json::Value) -> Self {
        Auth::Value(v)
    }
}

/// Options of one socket (one namespace) of a [`super::Manager`].
#[derive(Debug, Clone, Default)]
pub struct SocketOptions {
    /// The auth payload of the namespace CONNECT (none by default).
    pub auth: Option<Auth>,
    /// Default timeout of [`super::ClientSocket::emit_with_ack`] when none is given, and the
    /// timeout of each try when `retries > 0` (Node's `ackTimeout`; none by default).
    pub ack_timeout: Option<Duration>,
    /// At-least-once delivery (Node's `retries`, 0 by default): when above zero, every emit is
    /// queued, sent one at a time with an ack, and sent again when its ack does not come
    /// within `ack_timeout` (or the connection is lost), up to `retries` more times.
    pub retries: u32,
}

/// Options of [`super::io`] and [`super::Manager::new`]. Defaults are the Node client's.
#[derive(Clone)]
pub struct ClientOptions {
    /// The Engine.IO request path (`/socket.io`).
    pub path: String,
    /// Whether to reconnect after an unexpected close (true).
    pub reconnection: bool,
    /// Reconnection attempts before giving up (`None`: forever, Node's `Infinity`).
    pub reconnection_attempts: Option<u32>,
    /// First delay before a reconnection (1 s).
    pub reconnection_delay: Duration,
    /// Largest delay before a reconnection (5 s).
    pub reconnection_delay_max: Duration,
    /// Jitter of the reconnection delay, in `[0, 1]` (0.5).
    pub randomization_factor: f64,
    /// How long the Engine.IO handshake may take (20 s).
    pub timeout: Duration,
    /// Whether sockets connect as soon as they are created (true); otherwise call
    /// [`super::ClientSocket::connect`].
    pub auto_connect: bool,
    /// The transports allowed, the first one used for the handshake
    /// (`[Polling, WebSocket]`).
    pub transports: Vec<Transport>,
    /// Whether to upgrade from polling to websocket when the server offers it (true).
    pub upgrade: bool,
    /// Start with websocket when an earlier connection of this process upgraded (false).
    pub remember_upgrade: bool,
    /// Query parameters added to every request (none). The query of the URL given to
    /// [`super::io`] is used when this is empty.
    pub query: Vec<(String, String)>,
    /// Headers added to every HTTP request and to the websocket handshake (none).
    pub extra_headers: Vec<(String, String)>,
    /// [`super::io`]: always create a new manager (false).
    pub force_new: bool,
    /// [`super::io`]: share one manager (one Engine.IO connection) between the namespaces of
    /// the same server (true). `false` is the same as `force_new`.
    pub multiplex: bool,
    /// [`super::io`]: the auth payload of the socket.
    pub auth: Option<Auth>,
    /// [`super::io`]: the socket's default ack timeout (see [`SocketOptions::ack_timeout`]).
    pub ack_timeout: Option<Duration>,
    /// [`super::io`]: the socket's retries (see [`SocketOptions::retries`]).
    pub retries: u32,
    /// Bound on emits buffered per namespace while it is not connected (1024); over it, emits
    /// are dropped.
    pub max_buffered: usize,
    /// Bound on acks awaited at once (1024); over it, `emit_with_ack` fails.
    pub max_pending_acks: usize,
    /// Bound on commands (emits, acks) waiting for the manager's task (8192); over it, emits
    /// fail with [`super::ClientEmitError::QueueFull`].
    pub max_pending_commands: usize,
    /// Bound on the body of one long-polling response (100 MB, like the server's largest
    /// default payload); a larger one fails the transport.
    pub max_http_response_size: usize,
    /// Bound on one websocket message (100 MB); a larger one fails the transport.
    pub max_ws_message_size: usize,
    /// The parser (socket.io-client's `parser`): [`Parser::MsgPack`](sio_proto::socket::Parser)
    /// speaks `socket.io-msgpack-parser`; the server must use the same.
    pub parser: sio_proto::socket::Parser,
    /// socket.io-client's `withCredentials` (off): keep the cookies the server side sets
    /// (`Set-Cookie` on long-polling answers and the websocket handshake) and send them back on
    /// every later request of this manager, as a load balancer with cookie-based sticky
    /// sessions needs.
    pub with_credentials: bool,
    /// Websocket compression (socket.io-client's `perMessageDeflate`, on with a 1 KiB
    /// threshold as in Node): offered to the server, used if it agrees. `None`: not offered.
    pub per_message_deflate: Option<crate::PerMessageDeflate>,
    /// The HTTP proxy (default: from `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY`).
    pub proxy: Proxy,
    /// TLS settings for `https`/`wss` (default: the Mozilla roots of `webpki-roots`; the
    /// system's with `sio::client::tls_config_native_roots`, feature `native-roots`). Feature `tls` (a default one); without it `https`/`wss` URLs are
    /// refused.
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<futures_rustls::rustls::ClientConfig>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            path: "/socket.io".into(),
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            timeout: Duration::from_millis(20_000),
            auto_connect: true,
            transports: vec![Transport::Polling, Transport::WebSocket],
            upgrade: true,
            remember_upgrade: false,
            query: Vec::new(),
            extra_headers: Vec::new(),
            force_new: false,
            multiplex: true,
            auth: None,
            ack_timeout: None,
            retries: 0,
            max_buffered: 1024,
            max_pending_acks: 1024,
            max_pending_commands: 8192,
            max_http_response_size: 100_000_000,
            max_ws_message_size: 100_000_000,
            parser: sio_proto::socket::Parser::Json,
            with_credentials: false,
            per_message_deflate: Some(crate::PerMessageDeflate::default()),
            proxy: Proxy::FromEnv,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("path", &self.path)
            .field("reconnection", &self.reconnection)
            .field("reconnection_attempts", &self.reconnection_attempts)
            .field("reconnection_delay", &self.reconnection_delay)
            .field("reconnection_delay_max", &self.reconnection_delay_max)
            .field("timeout", &self.timeout)
            .field("auto_connect", &self.auto_connect)
            .field("transports", &self.transports)
            .field("upgrade", &self.upgrade)
            .field("query", &self.query)
            .field("force_new", &self.force_new)
            .field("multiplex", &self.multiplex)
            .field("auth", &self.auth)
            .field("ack_timeout", &self.ack_timeout)
            .field("retries", &self.retries)
            .field("parser", &self.parser)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// Set once a websocket upgrade succeeded in this process (for `remember_upgrade`).
static PRIOR_WEBSOCKET_SUCCESS: AtomicBool = AtomicBool::new(false);

pub(crate) fn note_websocket_success() {
    PRIOR_WEBSOCKET_SUCCESS.store(true, Ordering::Relaxed);
}

impl ClientOptions {
    /// Sets the transports (builder style).
    pub fn transports(mut self, t: impl IntoIterator<Item = Transport>) -> Self {
        self.transports = t.into_iter().collect();
        self
    }

    /// Sets the HTTP proxy (builder style).
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = proxy;
        self
    }

    /// Sets the auth payload of the socket [`super::io`] creates (builder style).
    pub fn auth(mut self, auth: impl Into<Auth>) -> Self {
        self.auth = Some(auth.into());
        self
    }

    /// Sets the reconnection delays (builder style).
    pub fn reconnection_delay(mut self, first: Duration, max: Duration) -> Self {
        self.reconnection_delay = first;
        self.reconnection_delay_max = max;
        self
    }

    /// The socket options [`super::io`] uses.
    pub fn socket_options(&self) -> SocketOptions {
        SocketOptions {
            auth: self.auth.clone(),
            ack_timeout: self.ack_timeout,
            retries: self.retries,
        }
    }

    /// The `sio_proto` manager configuration these options describe.
    pub fn manager_config(&self) -> Result<ManagerConfig, ClientError> {
        let first = *self
            .transports
            .first()
            .ok_or(ClientError::InvalidOption("transports is empty"))?;
        let has_ws = self.transports.contains(&Transport::WebSocket);
        let initial =
            if self.remember_upgrade && has_ws && PRIOR_WEBSOCKET_SUCCESS.load(Ordering::Relaxed) {
                Transport::WebSocket
            } else {
                first
            };
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            return Err(ClientError::InvalidOption(
                "randomization_factor must be in [0, 1]",
            ));
        }
        let defaults = ManagerConfig::default();
        Ok(ManagerConfig {
            engine: ClientConfig {
                initial_transport: initial.kind(),
                upgrade: self.upgrade && has_ws && initial == Transport::Polling,
                open_timeout: self.timeout,
                ..ClientConfig::default()
            },
            reconnection: self.reconnection,
            backoff: BackoffConfig {
                min: self.reconnection_delay,
                max: self.reconnection_delay_max.max(self.reconnection_delay),
                randomization_factor: self.randomization_factor,
                factor: 2.0,
                max_attempts: self.reconnection_attempts,
            },
            max_buffered: self.max_buffered,
            max_pending_acks: self.max_pending_acks,
            decode: defaults.decode,
            parser: self.parser,
        })
    }
}
