//! The Engine.IO request router ([`EngineServer`]): classifies HTTP requests with Node's checks
//! and error answers, creates sessions, and the bounded set of ids of sessions their client
//! just closed ([`ClosedSessions`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{ServerConfig, ServerSession};
use crate::engine::TransportKind;
use crate::id::IdGenerator;

/// The HTTP method of a request, as far as Engine.IO cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`: handshake, long-poll, or websocket upgrade.
    Get,
    /// `POST`: long-polling upload.
    Post,
    /// `OPTIONS`: CORS preflight (answered by the HTTP layer).
    Options,
    /// Anything else.
    Other,
}

/// What the router needs to know about an HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Whether the request asks for a websocket upgrade (`Upgrade: websocket`).
    pub websocket_upgrade: bool,
    /// The raw `Origin` header, if present.
    pub origin: Option<&'a [u8]>,
}

/// The error codes of Node's `engine.io` server, sent as `{"code":N,"message":"..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0, `Transport unknown`: missing, unknown or disabled transport.
    UnknownTransport = 0,
    /// 1, `Session ID unknown`.
    UnknownSid = 1,
    /// 2, `Bad handshake method`: a handshake that is not a `GET`.
    BadHandshakeMethod = 2,
    /// 3, `Bad request`: transport mismatch, websocket handshake without upgrade, bad origin.
    BadRequest = 3,
    /// 4, `Forbidden`: refused by the application's `allowRequest`.
    Forbidden = 4,
    /// 5, `Unsupported protocol version`: `EIO` is not `4`.
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// Node's message for the code.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status Node answers with: 403 for `Forbidden`, 400 otherwise.
    pub fn status(self) -> u16 {
        if self == ErrorCode::Forbidden {
            403
        } else {
            400
        }
    }
}

/// An immediate HTTP answer that rejects a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The HTTP status.
    pub status: u16,
    /// The Engine.IO error code.
    pub code: ErrorCode,
    /// The JSON body (`application/json`).
    pub body: Bytes,
}

impl ErrorResponse {
    /// The answer for `code` with Node's message.
    pub fn new(code: ErrorCode) -> Self {
        Self::with_message(code, code.message())
    }

    /// The answer for `code` with a custom message (as `allowRequest` may give).
    pub fn with_message(code: ErrorCode, message: &str) -> Self {
        let body = serde_json::json!({ "code": code as u8, "message": message });
        Self {
            status: code.status(),
            code,
            body: Bytes::from(body.to_string()),
        }
    }
}

/// A request for an existing session, as classified by the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRequest {
    /// A long-polling `GET` (feed it to [`ServerSession::handle_poll_get`]).
    PollGet,
    /// A long-polling `POST` (feed its body to [`ServerSession::handle_poll_post`]).
    PollPost,
    /// A websocket upgrade of a polling session (accept the websocket, then call
    /// [`ServerSession::handle_ws_open`]).
    WebSocket,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A new session: run the application's `allowRequest` if any, then call
    /// [`EngineServer::accept`] (for websocket, after completing the websocket handshake).
    Handshake(TransportKind),
    /// A request for the existing session `sid`.
    Session {
        /// The session id from the query.
        sid: String,
        /// What kind of request it is.
        kind: SessionRequest,
    },
    /// Answer at once with this error.
    Reject(ErrorResponse),
    /// A long-poll `GET` for a session the client has just closed over long-polling (its id is
    /// in [`ClosedSessions`]): answer 200, `text/plain; charset=UTF-8`, body `6` (`noop`), as a
    /// `GET` that reached the session before the `close` would have been.
    Noop,
}

/// What the runtime knows about a session id, as answered to [`EngineServer::route`]'s lookup
/// (a lookup may also answer a bare [`TransportKind`], meaning [`SessionLookup::Open`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLookup {
    /// The session is open and uses this transport.
    Open(TransportKind),
    /// The session was closed by the client over long-polling a moment ago (its id is in
    /// [`ClosedSessions`]).
    ClosedByClient,
}

impl From<TransportKind> for SessionLookup {
    fn from(t: TransportKind) -> Self {
        SessionLookup::Open(t)
    }
}

/// The Engine.IO request router and session factory.
///
/// It keeps no per-session state: the runtime owns the sessions and tells the router, through
/// the `lookup` closure of [`EngineServer::route`], which transport a known session uses.
#[derive(Debug)]
pub struct EngineServer {
    config: ServerConfig,
    ids: IdGenerator,
}

impl EngineServer {
    /// A router with `config`, drawing session ids from `ids`.
    pub fn new(config: ServerConfig, ids: IdGenerator) -> Self {
        Self { config, ids }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Classifies a request, with the checks and error answers of Node's server, in its order:
    /// transport, origin header, session id (unknown, transport mismatch), handshake method,
    /// websocket handshake without upgrade, protocol version.
    ///
    /// A websocket request carrying the id of a session that already uses websocket goes to
    /// that session as [`SessionRequest::WebSocket`]: as Node does, the websocket handshake
    /// completes and the session then refuses (closes) the second websocket, unaffected.
    pub fn route<L: Into<SessionLookup>>(
        &self,
        req: &Request<'_>,
        lookup: impl FnOnce(&str) -> Option<L>,
    ) -> Route {
        let q = Query::parse(req.query);
        let transport = match q.transport.and_then(TransportKind::parse) {
            Some(t) if self.config.transports.allows(t) => t,
            _ => return Route::Reject(ErrorResponse::new(ErrorCode::UnknownTransport)),
        };
        if let Some(origin) = req.origin {
            if origin
                .iter()
                .any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
            {
                return Route::Reject(ErrorResponse::new(ErrorCode::BadRequest));
            }
        }
        if let Some(sid) = q.sid {
            let current = match lookup(sid).map(Into::into) {
                Some(SessionLookup::Open(t)) => t,
                Some(SessionLookup::ClosedByClient)
                    if transport == TransportKind::Polling
                        && !req.websocket_upgrade
                        && req.method == Method::Get =>
                {
                    return Route::Noop;
                }
                _ => return Route::Reject(ErrorResponse::new(ErrorCode::UnknownSid)),
            };
            let kind = match (transport, req.websocket_upgrade) {
                (TransportKind::WebSocket, true) => SessionRequest::WebSocket,
                (TransportKind::Polling, false) if current == TransportKind::Polling => {
                    match req.method {
                        Method::Get => SessionRequest::PollGet,
                        Method::Post => SessionRequest::PollPost,
                        _ => return Route::Reject(ErrorResponse::new(ErrorCode::BadRequest)),
                    }
                }
                _ => return Route::Reject(ErrorResponse::new(ErrorCode::BadRequest)),
            };
            return Route::Session {
                sid: sid.to_owned(),
                kind,
            };
        }
        if req.method != Method::Get {
            return Route::Reject(ErrorResponse::new(ErrorCode::BadHandshakeMethod));
        }
        if transport == TransportKind::WebSocket && !req.websocket_upgrade {
            return Route::Reject(ErrorResponse::new(ErrorCode::BadRequest));
        }
        if q.eio != Some("4") {
            return Route::Reject(ErrorResponse::new(ErrorCode::UnsupportedProtocolVersion));
        }
        Route::Handshake(transport)
    }

    /// Creates the session for an accepted handshake. Its first transmit is the `open` packet:
    /// the body of the handshake `GET` for polling, the first frame for websocket.
    pub fn accept(&mut self, now: Instant, transport: TransportKind) -> ServerSession {
        let sid = self.ids.next_id();
        ServerSession::new(now, sid, transport, self.config)
    }
}

/// The ids of sessions the client closed over long-polling a moment ago, kept for
/// [`ServerConfig::closed_linger`] and at most [`ServerConfig::max_closed_lingering`] of them,
/// so that a long-poll `GET` racing the client's `close` is answered with `noop` whichever of
/// the two the server handles first (see [`Route::Noop`] and [`ServerSession::lingers`]).
///
/// The runtime keeps one next to its session index and inserts an id when it removes a
/// session whose [`ServerSession::lingers`] holds. Memory is bounded: expired ids are dropped
/// on every call, and over the bound the oldest id goes first.
#[derive(Debug, Clone, Default)]
pub struct ClosedSessions {
    ttl: Duration,
    max: usize,
    /// The ids.
    ids: std::collections::HashSet<String>,
    /// The same ids in insertion order (hence in expiry order), with their expiry.
    order: VecDeque<(Instant, String)>,
}

impl ClosedSessions {
    /// An empty set keeping ids for `config.closed_linger`, at most
    /// `config.max_closed_lingering` of them.
    pub fn new(config: &ServerConfig) -> Self {
        Self {
            ttl: config.closed_linger,
            max: config.max_closed_lingering,
            ids: Default::default(),
            order: VecDeque::new(),
        }
    }

    /// Remembers `sid` until `now + closed_linger`.
    pub fn insert(&mut self, now: Instant, sid: &str) {
        self.expire(now);
        if self.max == 0 || self.ttl.is_zero() || self.ids.contains(sid) {
            return;
        }
        while self.ids.len() >= self.max {
            let Some((_, old)) = self.order.pop_front() else {
                break;
            };
            self.ids.remove(&old);
        }
        let until = now + self.ttl;
        self.ids.insert(sid.to_owned());
        self.order.push_back((until, sid.to_owned()));
    }

    /// Whether `sid` was closed by its client less than `closed_linger` before `now`.
    pub fn contains(&mut self, now: Instant, sid: &str) -> bool {
        self.expire(now);
        self.ids.contains(sid)
    }

    /// Number of ids kept.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no id is kept.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(until, _)| *until <= now) {
            if let Some((_, sid)) = self.order.pop_front() {
                self.ids.remove(&sid);
            }
        }
        if self.ids.is_empty() && self.order.capacity() > 0 {
            self.order = VecDeque::new();
            self.ids = Default::default();
        }
    }
}

/// The Engine.IO query parameters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Query<'a> {
    /// `EIO`.
    pub eio: Option<&'a str>,
    /// `transport`.
    pub transport: Option<&'a str>,
    /// `sid`.
    pub sid: Option<&'a str>,
}

impl<'a> Query<'a> {
    /// Reads `EIO`, `transport` and `sid` from a raw query string (first occurrence wins;
    /// values are used as they are, since valid ones need no percent-decoding).
    pub fn parse(query: &'a str) -> Self {
        let mut q = Query::default();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match k {
                "EIO" => &mut q.eio,
                "transport" => &mut q.transport,
                "sid" => &mut q.sid,
                _ => continue,
            };
            if slot.is_none() && !v.is_empty() {
                *slot = Some(v);
            }
        }
        q
    }
}
