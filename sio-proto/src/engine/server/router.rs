//! The Engine.IO request router ([`EngineServer`]): classifies HTTP requests with Node's checks
//! and error answers, creates sessions and keeps their index, with the bounded set of ids of
//! sessions their client just closed ([`ClosedSessions`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{EngineConfig, ErrorCode, HttpResponse, ServerSession};
use crate::engine::{Packet, Protocol, TransportKind};
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

/// A request for an existing session, as classified by the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRequest {
    /// A long-polling `GET` (feed it to the session as [`super::Input::PollGet`]).
    PollGet,
    /// A long-polling `POST` (feed [`super::Input::PollPostStarted`], then its body as
    /// [`super::Input::PollPost`]).
    PollPost,
    /// A websocket upgrade of a polling session (accept the websocket, then feed
    /// [`super::Input::WsOpen`]).
    WebSocket,
}

/// A handshake the router accepted: what the new session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// The transport the session starts on.
    pub transport: TransportKind,
    /// The protocol revision (`EIO`): v4, or v3 when allowed.
    pub protocol: Protocol,
    /// Whether the client takes binary data as such (v3 only: no `b64` in the handshake
    /// query; otherwise binary data goes as `b4` + base64 text, in payloads and websocket
    /// frames; v4 payloads are always text).
    pub binary: bool,
}

impl From<TransportKind> for Handshake {
    /// A v4 handshake on `transport`.
    fn from(transport: TransportKind) -> Self {
        Handshake {
            transport,
            protocol: Protocol::V4,
            binary: false,
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<H> {
    /// A new session: run the application's `allowRequest` if any, then call
    /// [`EngineServer::accept`] (for websocket, after completing the websocket handshake).
    Handshake(Handshake),
    /// A request for an existing session, whose handle this is.
    Session {
        /// What kind of request it is.
        kind: SessionRequest,
        /// The handle the runtime gave the session in [`EngineServer::accept`].
        handle: H,
    },
    /// Answer at once with this: an error with the status code and JSON body Node's server
    /// uses, or `noop` for a long-poll `GET` for a session its client has just closed over
    /// long-polling (its id is in [`ClosedSessions`]), as a `GET` that reached the session
    /// before the `close` would have been answered.
    Respond(HttpResponse),
}

/// One open session in the router's index.
#[derive(Debug)]
struct Entry<H> {
    transport: TransportKind,
    handle: H,
}

/// The Engine.IO request router, session factory and session index.
///
/// As quinn's `Endpoint` owns its connections, the router owns the index of open sessions:
/// each maps its id to the transport it uses and to a handle `H` the runtime gives it in
/// [`EngineServer::accept`] (the inbox of the task that drives the session, say). It also
/// keeps the ids of the sessions their client just closed over long-polling
/// ([`ClosedSessions`]). The runtime tells it when a session upgrades
/// ([`EngineServer::upgraded`]) and when it ends ([`EngineServer::remove`]).
#[derive(Debug)]
pub struct EngineServer<H = ()> {
    /// Shared with every session it accepts.
    config: Arc<EngineConfig>,
    ids: IdGenerator,
    sessions: BTreeMap<String, Entry<H>>,
    closed: ClosedSessions,
}

impl<H: Clone> EngineServer<H> {
    /// A router with `config`, drawing session ids from `ids`.
    pub fn new(config: EngineConfig, ids: IdGenerator) -> Self {
        Self {
            ids,
            sessions: BTreeMap::new(),
            closed: ClosedSessions::new(&config),
            config: Arc::new(config),
        }
    }

    /// Classifies a request, with the checks and error answers of Node's server, in its order:
    /// transport, origin header, session id (unknown, transport mismatch), handshake method,
    /// websocket handshake without upgrade, protocol version. A request for an open session
    /// comes with that session's handle.
    ///
    /// A websocket request carrying the id of a session that already uses websocket goes to
    /// that session as [`SessionRequest::WebSocket`]: as Node does, the websocket handshake
    /// completes and the session then refuses (closes) the second websocket, unaffected.
    pub fn route(&mut self, now: Instant, req: &Request<'_>) -> Route<H> {
        let reject = |code| Route::Respond(HttpResponse::error(code));
        let q = Query::parse(req.query);
        let transport = match q.transport.and_then(TransportKind::parse) {
            Some(t) if self.config.transports.allows(t) => t,
            _ => return reject(ErrorCode::UnknownTransport),
        };
        if let Some(origin) = req.origin {
            if origin
                .iter()
                .any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
            {
                return reject(ErrorCode::BadRequest);
            }
        }
        if let Some(sid) = q.sid {
            let Some(entry) = self.sessions.get(sid) else {
                let long_poll = transport == TransportKind::Polling
                    && !req.websocket_upgrade
                    && req.method == Method::Get;
                if long_poll && self.closed.contains(now, sid) {
                    // Every request of a session carries its `EIO`.
                    let protocol = match q.eio {
                        Some("4") => Protocol::V4,
                        _ => Protocol::V3,
                    };
                    return Route::Respond(HttpResponse::packet(protocol, &Packet::Noop));
                }
                return reject(ErrorCode::UnknownSid);
            };
            let kind = match (transport, req.websocket_upgrade) {
                (TransportKind::WebSocket, true) => SessionRequest::WebSocket,
                (TransportKind::Polling, false) if entry.transport == TransportKind::Polling => {
                    match req.method {
                        Method::Get => SessionRequest::PollGet,
                        Method::Post => SessionRequest::PollPost,
                        _ => return reject(ErrorCode::BadRequest),
                    }
                }
                _ => return reject(ErrorCode::BadRequest),
            };
            return Route::Session {
                kind,
                handle: entry.handle.clone(),
            };
        }
        if req.method != Method::Get {
            return reject(ErrorCode::BadHandshakeMethod);
        }
        if transport == TransportKind::WebSocket && !req.websocket_upgrade {
            return reject(ErrorCode::BadRequest);
        }
        // As in Node, anything but `4` is v3.
        let protocol = if q.eio == Some("4") {
            Protocol::V4
        } else if self.config.allow_eio3 {
            Protocol::V3
        } else {
            return reject(ErrorCode::UnsupportedProtocolVersion);
        };
        Route::Handshake(Handshake {
            transport,
            protocol,
            binary: protocol == Protocol::V3 && q.b64.is_none(),
        })
    }

    /// Creates the session for an accepted handshake and indexes it with `handle`. Its first
    /// transmit is the `open` packet: the body of the handshake `GET` for polling, the first
    /// frame for websocket.
    /// A bare [`TransportKind`] is a v4 handshake.
    pub fn accept(
        &mut self,
        now: Instant,
        handshake: impl Into<Handshake>,
        handle: H,
    ) -> ServerSession {
        let handshake = handshake.into();
        let sid = self.ids.next_id();
        let session = ServerSession::new(now, sid.clone(), handshake, self.config.clone());
        let transport = handshake.transport;
        self.sessions.insert(sid, Entry { transport, handle });
        session
    }

    /// The session `sid` now uses websocket ([`super::Event::Upgraded`]): polling requests
    /// for it are refused from now on.
    pub fn upgraded(&mut self, sid: &str) {
        if let Some(e) = self.sessions.get_mut(sid) {
            e.transport = TransportKind::WebSocket;
        }
    }

    /// The session `sid` ended: it leaves the index, and its handle is returned. When
    /// `lingers` ([`ServerSession::lingers`]: closed by its client over long-polling), its id
    /// stays in [`ClosedSessions`] for a moment, so that a racing long-poll `GET` gets `noop`.
    pub fn remove(&mut self, now: Instant, sid: &str, lingers: bool) -> Option<H> {
        let entry = self.sessions.remove(sid);
        if lingers {
            self.closed.insert(now, sid);
        }
        entry.map(|e| e.handle)
    }

    /// The handle of the open session `sid`.
    pub fn get(&self, sid: &str) -> Option<&H> {
        self.sessions.get(sid).map(|e| &e.handle)
    }

    /// The handles of the open sessions.
    pub fn handles(&self) -> impl Iterator<Item = &H> {
        self.sessions.values().map(|e| &e.handle)
    }

    /// Number of open sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// The ids of sessions the client closed over long-polling a moment ago, kept for
/// [`EngineConfig::closed_linger`] and at most [`EngineConfig::max_closed_lingering`] of them,
/// so that a long-poll `GET` racing the client's `close` is answered with `noop` whichever of
/// the two the server handles first (see [`Route::Respond`] and [`ServerSession::lingers`]).
///
/// The router keeps one next to its session index and inserts an id when the runtime removes
/// a session whose [`ServerSession::lingers`] holds. Memory is bounded: expired ids are dropped
/// on every call, and over the bound the oldest id goes first.
#[derive(Debug, Clone, Default)]
pub struct ClosedSessions {
    ttl: Duration,
    max: usize,
    /// The ids.
    ids: std::collections::BTreeSet<String>,
    /// The same ids in insertion order (hence in expiry order), with their expiry.
    order: VecDeque<(Instant, String)>,
}

impl ClosedSessions {
    /// An empty set keeping ids for `config.closed_linger`, at most
    /// `config.max_closed_lingering` of them.
    pub fn new(config: &EngineConfig) -> Self {
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
    /// `b64`: a v3 client that takes no binary long-polling payloads.
    pub b64: Option<&'a str>,
}

impl<'a> Query<'a> {
    /// Reads `EIO`, `transport`, `sid` and `b64` from a raw query string (first occurrence wins;
    /// values are used as they are, since valid ones need no percent-decoding).
    pub fn parse(query: &'a str) -> Self {
        let mut q = Query::default();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match k {
                "EIO" => &mut q.eio,
                "transport" => &mut q.transport,
                "sid" => &mut q.sid,
                "b64" => &mut q.b64,
                _ => continue,
            };
            if slot.is_none() && !v.is_empty() {
                *slot = Some(v);
            }
        }
        q
    }
}
