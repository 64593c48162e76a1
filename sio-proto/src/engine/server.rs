//! The Engine.IO v4 server: a request router ([`EngineServer`]) and one session machine per
//! client ([`ServerSession`]).
//!
//! # Drive loop
//!
//! The runtime owns each [`ServerSession`] in one task. The task waits for exactly one thing —
//! a routed long-polling request, a websocket frame, a command from the application, or the
//! instant returned by [`ServerSession::poll_timeout`] — and calls the matching `handle_*`
//! method (or [`ServerSession::handle_timeout`]). It then drains, in this order,
//! [`ServerSession::poll_transmit`] (answers for the held `GET`, websocket frames to write,
//! websocket close) and [`ServerSession::poll_event`] (messages, upgrade, close) until both
//! return `None`, and re-reads `poll_timeout`. The session never blocks and never reads a clock.
//!
//! Behaviour follows the specification (`docs/engine.io-protocol/v4-current.md`) and, where it
//! is silent, the Node `engine.io` server: the same HTTP status codes and JSON error bodies,
//! `noop` for a held `GET` when the client sends `close` or starts an upgrade, `close` for a
//! held `GET` when the server ends the session.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::packet::{self, Frame, Message, OpenData, Packet};
use super::{earliest, CloseReason, TransportKind};
use crate::error::{ProtocolError, UsageError};
use crate::id::IdGenerator;

/// Which transports the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling.
    pub polling: bool,
    /// WebSocket.
    pub websocket: bool,
}

impl Transports {
    /// Whether `t` is enabled.
    pub fn allows(&self, t: TransportKind) -> bool {
        match t {
            TransportKind::Polling => self.polling,
            TransportKind::WebSocket => self.websocket,
        }
    }
}

impl Default for Transports {
    fn default() -> Self {
        Self {
            polling: true,
            websocket: true,
        }
    }
}

/// Engine.IO server configuration. Defaults are Node's where Node has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Time between two pings (Node `pingInterval`, 25 s).
    pub ping_interval: Duration,
    /// Time to wait for a pong before closing with `ping timeout` (Node `pingTimeout`, 20 s).
    pub ping_timeout: Duration,
    /// Time a websocket probe has to complete the upgrade (Node `upgradeTimeout`, 10 s).
    pub upgrade_timeout: Duration,
    /// Largest accepted POST body or websocket message in bytes (Node `maxHttpBufferSize`,
    /// 1e6); also announced as `maxPayload` in the handshake.
    pub max_http_buffer_size: usize,
    /// Accepted transports (Node `transports`, both).
    pub transports: Transports,
    /// Whether polling sessions may upgrade to websocket (Node `allowUpgrades`, true).
    pub allow_upgrades: bool,
    /// Bound on outbound packets waiting for a transport (default 4096). A session over it
    /// refuses further sends with [`UsageError::QueueFull`] instead of growing.
    pub max_queue: usize,
    /// Bound on packets in one POST body (default 10 000): a 1 MB body of tiny packets
    /// cannot make one request do unbounded work.
    pub max_packets_per_payload: usize,
    /// How long a closing polling session waits for a `GET` to deliver the `close` packet
    /// (Node's polling `closeTimeout`, 30 s).
    pub close_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_http_buffer_size: 1_000_000,
            transports: Transports::default(),
            allow_upgrades: true,
            max_queue: 4096,
            max_packets_per_payload: 10_000,
            close_timeout: Duration::from_millis(30_000),
        }
    }
}

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
    pub fn route(
        &self,
        req: &Request<'_>,
        lookup: impl FnOnce(&str) -> Option<TransportKind>,
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
            let Some(current) = lookup(sid) else {
                return Route::Reject(ErrorResponse::new(ErrorCode::UnknownSid));
            };
            let kind = match (transport, req.websocket_upgrade) {
                (TransportKind::WebSocket, true) if current == TransportKind::Polling => {
                    SessionRequest::WebSocket
                }
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

/// Something the runtime must write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Answer the held long-polling `GET`: status 200, `text/plain; charset=UTF-8`, this body.
    PollResponse(Bytes),
    /// Write this frame on the session's websocket (the active one, or the probing one during
    /// an upgrade).
    Ws(Frame),
    /// Close the websocket (after writing the frames transmitted before).
    WsClose,
}

/// What happened in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message from the client.
    Message(Message),
    /// A websocket probe succeeded (`3probe` sent); the upgrade is under way.
    Upgrading,
    /// The session now uses the websocket.
    Upgraded,
    /// The session is closed; no more transmits or events follow.
    Closed(CloseReason),
}

/// The answer to a long-polling `GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollGet {
    /// Held: the answer will come as [`Transmit::PollResponse`] (possibly from this very
    /// call's drain).
    Held,
    /// Answer at once with this error status and body (empty body for an overlapping `GET`).
    Reject {
        /// HTTP status.
        status: u16,
        /// Body (JSON, or empty).
        body: Bytes,
    },
}

/// The answer to a long-polling `POST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostResponse {
    /// HTTP status: 200, 413 (body over `max_http_buffer_size`, session untouched) or 400.
    pub status: u16,
    /// Body: `ok` on success.
    pub body: Bytes,
}

impl PostResponse {
    fn ok() -> Self {
        Self {
            status: 200,
            body: Bytes::from_static(b"ok"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// Server-initiated close on polling: waiting for a `GET` to deliver `close`.
    Closing,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    None,
    /// A websocket is attached; waiting for `2probe`.
    Probing,
    /// `3probe` sent; waiting for `5`.
    Probed,
}

/// The timers of one session; [`ServerSession::poll_timeout`] is their minimum.
#[derive(Debug, Clone, Copy, Default)]
struct Timers {
    ping: Option<Instant>,
    pong: Option<Instant>,
    upgrade: Option<Instant>,
    close: Option<Instant>,
}

/// One Engine.IO session on the server (see the module docs for the drive loop).
#[derive(Debug)]
pub struct ServerSession {
    sid: String,
    config: ServerConfig,
    transport: TransportKind,
    state: State,
    upgrade: Upgrade,
    held_get: bool,
    ws_close_pending: bool,
    pending_close_reason: Option<CloseReason>,
    queue: VecDeque<Frame>,
    control: VecDeque<Transmit>,
    events: VecDeque<Event>,
    timers: Timers,
}

impl ServerSession {
    /// A new session whose `open` packet is already queued.
    pub fn new(now: Instant, sid: String, transport: TransportKind, config: ServerConfig) -> Self {
        let upgrades = if transport == TransportKind::Polling
            && config.allow_upgrades
            && config.transports.websocket
        {
            vec!["websocket".to_owned()]
        } else {
            Vec::new()
        };
        let open = OpenData {
            sid: sid.clone(),
            upgrades,
            ping_interval: config.ping_interval.as_millis() as u64,
            ping_timeout: config.ping_timeout.as_millis() as u64,
            max_payload: config.max_http_buffer_size as u64,
        };
        let mut s = Self {
            sid,
            config,
            transport,
            state: State::Open,
            upgrade: Upgrade::None,
            // The handshake GET is answered by the first poll response.
            held_get: transport == TransportKind::Polling,
            ws_close_pending: false,
            pending_close_reason: None,
            queue: VecDeque::new(),
            control: VecDeque::new(),
            events: VecDeque::new(),
            timers: Timers {
                ping: Some(now + config.ping_interval),
                ..Timers::default()
            },
        };
        s.queue.push_back(open.to_packet().encode());
        s.flush();
        s
    }

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The transport in use (polling until an upgrade completes).
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether a websocket probe is attached.
    pub fn is_upgrading(&self) -> bool {
        self.upgrade != Upgrade::None
    }

    /// Whether a packet sent now would leave at once (a held `GET` with nothing queued, or a
    /// websocket with an empty queue). Volatile packets are only sent when this holds.
    pub fn is_writable(&self) -> bool {
        self.state == State::Open
            && match self.transport {
                TransportKind::Polling => self.held_get && self.upgrade == Upgrade::None,
                TransportKind::WebSocket => self.queue.is_empty(),
            }
    }

    /// Number of frames waiting for the transport.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Queues a message for the client.
    pub fn send(&mut self, message: Message) -> Result<(), UsageError> {
        self.send_frame(message.to_frame())
    }

    /// Queues an already encoded frame (a clone of the same [`Frame`] may be queued on any
    /// number of sessions). Text frames must be complete Engine.IO packets (`4...`).
    pub fn send_frame(&mut self, frame: Frame) -> Result<(), UsageError> {
        self.send_frames(std::iter::once(frame), 1)
    }

    /// Queues several frames that belong together (a packet and its binary attachments): all
    /// of them or, if `count` would not fit the queue bound, none.
    pub fn send_frames(
        &mut self,
        frames: impl IntoIterator<Item = Frame>,
        count: usize,
    ) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        if self.queue.len() + count > self.config.max_queue {
            return Err(UsageError::QueueFull(self.config.max_queue));
        }
        self.queue.extend(frames);
        self.flush();
        Ok(())
    }

    /// Queues frames that do not count against `max_queue`: the Socket.IO layer's namespace
    /// control replies (CONNECT, CONNECT_ERROR, DISCONNECT), which must not be lost to a full
    /// queue and which that layer bounds itself. Fails only when the session is not open.
    pub(crate) fn send_frames_unbounded(
        &mut self,
        frames: impl IntoIterator<Item = Frame>,
    ) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        self.queue.extend(frames);
        self.flush();
        Ok(())
    }

    /// Closes the session from the server side (`forced close`, or `server shutting down`).
    /// Queued packets are still delivered first.
    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        if self.state != State::Open {
            return;
        }
        match self.transport {
            TransportKind::WebSocket => {
                self.ws_close_pending = true;
                self.finish(reason);
            }
            TransportKind::Polling => {
                // A probe that has not been answered yet is dropped: the client keeps polling
                // and gets `close` on its next GET. A probe already answered (`3probe` sent)
                // is kept: the client may be pausing its polling to switch, and a websocket
                // closed under it then would leave it paused; the close goes out on whichever
                // transport the client uses next.
                if self.upgrade == Upgrade::Probing {
                    self.cancel_upgrade();
                }
                self.queue.push_back(Packet::Close.encode());
                self.state = State::Closing;
                self.pending_close_reason = Some(reason);
                // The heartbeat keeps running while closing, as in Node: no ping is sent, but
                // the session ends by `ping timeout` if the close does not get through first.
                self.timers.close = Some(now + self.config.close_timeout);
                self.flush();
            }
        }
    }

    /// A long-polling `GET` routed to this session.
    pub fn handle_poll_get(&mut self, _now: Instant) -> PollGet {
        if self.state == State::Closed || self.transport != TransportKind::Polling {
            return reject(ErrorResponse::new(ErrorCode::UnknownSid));
        }
        if self.held_get {
            // Node answers the overlapping request with 400 and closes the session: the held
            // request gets the `close` packet.
            self.held_get = false;
            self.control
                .push_back(Transmit::PollResponse(Packet::Close.encode_text()));
            self.finish(CloseReason::TransportError);
            return PollGet::Reject {
                status: 400,
                body: Bytes::new(),
            };
        }
        self.held_get = true;
        if self.upgrade == Upgrade::Probed && self.state == State::Open {
            // Release the client so that it can complete the upgrade.
            self.answer_get(Packet::Noop.encode_text());
        } else {
            self.flush();
        }
        PollGet::Held
    }

    /// A long-polling `POST` body routed to this session.
    pub fn handle_poll_post(&mut self, now: Instant, body: Bytes) -> PostResponse {
        if body.len() > self.config.max_http_buffer_size {
            return PostResponse {
                status: 413,
                body: Bytes::new(),
            };
        }
        if self.state == State::Closed || self.transport != TransportKind::Polling {
            let e = ErrorResponse::new(ErrorCode::UnknownSid);
            return PostResponse {
                status: e.status,
                body: e.body,
            };
        }
        if self.state != State::Open {
            // Closing: Node ignores what the client still sends.
            return PostResponse::ok();
        }
        // As in Node, the packets before a malformed one are delivered, then the session
        // closes with `parse error`.
        let mut packets = Vec::new();
        let r = packet::decode_payload_with(body, self.config.max_packets_per_payload, |p| {
            packets.push(p)
        });
        for p in packets {
            if self.state != State::Open {
                break;
            }
            self.on_packet(now, p, false);
        }
        if r.is_err() && self.state == State::Open {
            self.fail(CloseReason::ParseError);
        }
        PostResponse::ok()
    }

    /// The websocket of an upgrade (polling session, [`SessionRequest::WebSocket`]) was
    /// accepted. Returns an error, and the runtime closes that websocket, when upgrades are
    /// off or one is already under way.
    pub fn handle_ws_open(&mut self, now: Instant) -> Result<(), ProtocolError> {
        if self.state != State::Open
            || self.transport != TransportKind::Polling
            || self.upgrade != Upgrade::None
            || !self.config.allow_upgrades
        {
            return Err(ProtocolError::Unexpected(
                "second websocket for the session",
            ));
        }
        self.upgrade = Upgrade::Probing;
        self.timers.upgrade = Some(now + self.config.upgrade_timeout);
        Ok(())
    }

    /// A frame read from the session's websocket (active or probing).
    pub fn handle_ws_frame(&mut self, now: Instant, frame: Frame) {
        if self.state == State::Closed {
            return;
        }
        if frame.len() > self.config.max_http_buffer_size {
            if self.transport == TransportKind::WebSocket {
                self.fail(CloseReason::TransportError);
            } else {
                self.cancel_upgrade();
            }
            return;
        }
        let packet = Packet::decode(frame);
        if self.transport == TransportKind::Polling {
            self.on_probe_packet(now, packet);
            return;
        }
        if self.state != State::Open {
            return;
        }
        match packet {
            Ok(p) => self.on_packet(now, p, true),
            Err(_) => self.fail(CloseReason::ParseError),
        }
    }

    /// The session's websocket closed (or failed, when `error` is set).
    pub fn handle_ws_closed(&mut self, _now: Instant, error: bool) {
        if self.state == State::Closed {
            return;
        }
        if self.transport == TransportKind::WebSocket {
            self.ws_close_pending = false;
            self.queue.clear();
            self.finish(if error {
                CloseReason::TransportError
            } else {
                CloseReason::TransportClose
            });
        } else if self.upgrade != Upgrade::None {
            self.upgrade = Upgrade::None;
            self.timers.upgrade = None;
            self.flush();
        }
    }

    /// The held long-poll `GET`'s connection went away before it was answered.
    pub fn handle_poll_aborted(&mut self, _now: Instant) {
        if self.held_get && self.state != State::Closed {
            // Node treats a client that drops its long-poll as gone.
            self.held_get = false;
            self.finish(CloseReason::TransportClose);
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if self.timers.close.is_some_and(|t| t <= now) {
            self.timers.close = None;
            let reason = self
                .pending_close_reason
                .unwrap_or(CloseReason::ForcedClose);
            self.finish(reason);
            return;
        }
        if self.timers.pong.is_some_and(|t| t <= now) {
            self.timers.pong = None;
            self.fail(CloseReason::PingTimeout);
            return;
        }
        if self.timers.upgrade.is_some_and(|t| t <= now) {
            self.cancel_upgrade();
        }
        if self.timers.ping.is_some_and(|t| t <= now) {
            self.timers.ping = None;
            self.timers.pong = Some(now + self.config.ping_timeout);
            // While closing no ping is sent (Node's `sendPacket` refuses), but the pong
            // deadline is armed all the same: it bounds how long a closing session lasts.
            if self.state == State::Open {
                // A ping ignores the queue bound: dropping it would end a healthy session.
                self.queue.push_back(Packet::Ping(Bytes::new()).encode());
                self.flush();
            }
        }
    }

    /// The next instant at which [`ServerSession::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let t = self.timers;
        earliest([t.ping, t.pong, t.upgrade, t.close])
    }

    /// The next thing to write, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.control.pop_front() {
            return Some(t);
        }
        if self.transport == TransportKind::WebSocket {
            if let Some(f) = self.queue.pop_front() {
                return Some(Transmit::Ws(f));
            }
            if self.ws_close_pending {
                self.ws_close_pending = false;
                return Some(Transmit::WsClose);
            }
        }
        // Drained: an idle session keeps no queue capacity (measured: about 0.45 KiB per
        // idle connection); the next packet allocates again.
        if self.queue.is_empty() && self.queue.capacity() > 0 {
            self.queue = VecDeque::new();
        }
        if self.control.capacity() > 0 {
            self.control = VecDeque::new();
        }
        None
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn on_packet(&mut self, now: Instant, p: Packet, from_ws: bool) {
        match p {
            Packet::Message(m) => self.events.push_back(Event::Message(m)),
            Packet::Pong(_) => {
                // No next ping while closing (see `close`): it would never be sent.
                if self.timers.pong.take().is_some() && self.state == State::Open {
                    self.timers.ping = Some(now + self.config.ping_interval);
                }
            }
            Packet::Close => {
                if !from_ws && self.held_get {
                    // Node releases the held long-poll with `noop` on a client `close`.
                    self.answer_get(Packet::Noop.encode_text());
                }
                if from_ws {
                    self.ws_close_pending = true;
                }
                self.finish(CloseReason::TransportClose);
            }
            // v4 clients neither ping nor send these outside an upgrade: ignored, as in Node.
            Packet::Ping(_) | Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    fn on_probe_packet(&mut self, now: Instant, packet: Result<Packet, crate::DecodeError>) {
        match (self.upgrade, packet) {
            (Upgrade::Probing, Ok(Packet::Ping(d))) if &d[..] == b"probe" => {
                self.control
                    .push_back(Transmit::Ws(Packet::Pong(d).encode()));
                self.upgrade = Upgrade::Probed;
                self.events.push_back(Event::Upgrading);
                if self.held_get {
                    self.answer_get(Packet::Noop.encode_text());
                }
            }
            // Node also completes an upgrade whose probe was skipped.
            (Upgrade::Probed | Upgrade::Probing, Ok(Packet::Upgrade)) => {
                self.upgrade = Upgrade::None;
                self.timers.upgrade = None;
                if self.held_get {
                    self.answer_get(Packet::Noop.encode_text());
                }
                self.transport = TransportKind::WebSocket;
                self.events.push_back(Event::Upgraded);
                let _ = now;
                if self.state == State::Closing {
                    // Closed while the client was switching: finish on the websocket (the
                    // queued packets, `close` among them, then the websocket closes).
                    self.ws_close_pending = true;
                    let reason = self
                        .pending_close_reason
                        .unwrap_or(CloseReason::ForcedClose);
                    self.finish(reason);
                }
            }
            (Upgrade::None, _) => {}
            _ => self.cancel_upgrade(),
        }
    }

    fn cancel_upgrade(&mut self) {
        if self.upgrade != Upgrade::None {
            self.upgrade = Upgrade::None;
            self.timers.upgrade = None;
            self.control.push_back(Transmit::WsClose);
            self.flush();
        }
    }

    fn answer_get(&mut self, body: Bytes) {
        self.held_get = false;
        self.control.push_back(Transmit::PollResponse(body));
    }

    /// Delivers queued frames on polling when a `GET` is held.
    fn flush(&mut self) {
        if self.transport != TransportKind::Polling
            || !self.held_get
            || self.queue.is_empty()
            || (self.upgrade == Upgrade::Probed && self.state == State::Open)
        {
            return;
        }
        let mut out = BytesMut::new();
        let mut closing = false;
        for (i, f) in self.queue.drain(..).enumerate() {
            closing |= f == Frame::Text(Bytes::from_static(b"1"));
            packet::encode_payload_frame(&mut out, &f, i == 0);
        }
        self.answer_get(out.freeze());
        if closing && self.state == State::Closing {
            let reason = self
                .pending_close_reason
                .unwrap_or(CloseReason::ForcedClose);
            self.finish(reason);
        }
    }

    /// A failure detected by the server: the held `GET` (if any) gets `close`.
    fn fail(&mut self, reason: CloseReason) {
        if self.held_get {
            self.answer_get(Packet::Close.encode_text());
        }
        if self.transport == TransportKind::WebSocket {
            self.ws_close_pending = true;
        }
        self.finish(reason);
    }

    fn finish(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        if self.upgrade != Upgrade::None {
            self.upgrade = Upgrade::None;
            self.control.push_back(Transmit::WsClose);
        }
        self.state = State::Closed;
        self.timers = Timers::default();
        if self.transport == TransportKind::Polling {
            self.queue.clear();
        }
        self.events.push_back(Event::Closed(reason));
    }
}

fn reject(e: ErrorResponse) -> PollGet {
    PollGet::Reject {
        status: e.status,
        body: e.body,
    }
}

impl Packet {
    /// The text encoding of a packet without binary data, as bytes.
    pub(crate) fn encode_text(&self) -> Bytes {
        match self.encode() {
            Frame::Text(b) | Frame::Binary(b) => b,
        }
    }
}
