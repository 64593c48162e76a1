//! The Engine.IO v4 client session.
//!
//! # Drive loop
//!
//! The runtime creates a [`ClientSession`], then repeatedly drains
//! [`ClientSession::poll_transmit`] (HTTP requests to make, a websocket to open, frames to
//! write) and [`ClientSession::poll_event`], waits for one input (an HTTP response, a websocket
//! event, a command, or [`ClientSession::poll_timeout`]) and feeds it to
//! [`ClientSession::handle`] as one [`Input`]. At most one long-polling `GET` and one `POST`
//! are in flight at a time, as the protocol requires; the session says when to send the next
//! one.
//!
//! The upgrade follows the specification: with polling open, a websocket is opened with the
//! session id, `2probe` sent, `3probe` awaited; polling is then paused (no new requests, the
//! ones in flight completed), `5` is sent on the websocket and it becomes the transport.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::packet::{self, Frame, Message, OpenData, Packet};
use super::{CloseReason, TransportKind};
use crate::error::UsageError;
use crate::timer::{TimerKind, TimerTable};

/// Engine.IO client configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// The transport of the handshake (Node: polling, unless `transports` is websocket-only
    /// or `rememberUpgrade` applies).
    pub initial_transport: TransportKind,
    /// Whether to upgrade to websocket when the server offers it (Node `upgrade`, true).
    pub upgrade: bool,
    /// How long the handshake may take (the Node manager's `timeout`, 20 s).
    pub open_timeout: Duration,
    /// Bound on messages waiting to be sent (default 4096).
    pub max_queue: usize,
    /// Bound on packets accepted in one long-polling response (default 10 000).
    pub max_packets_per_payload: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            initial_transport: TransportKind::Polling,
            upgrade: true,
            open_timeout: Duration::from_millis(20_000),
            max_queue: 4096,
            max_packets_per_payload: 10_000,
        }
    }
}

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Send `GET <path>?<query>` and report the answer as [`Input::PollResponse`].
    PollGet {
        /// `EIO=4&transport=polling` plus `&sid=...` once open.
        query: String,
    },
    /// Send `POST <path>?<query>` with this body (`text/plain;charset=UTF-8`) and report the
    /// answer as [`Input::PostResponse`].
    PollPost {
        /// `EIO=4&transport=polling&sid=...`.
        query: String,
        /// The encoded payload.
        body: Bytes,
    },
    /// Open a websocket to `<path>?<query>` and report it as [`Input::WsOpen`] /
    /// [`Input::WsClosed`].
    WsConnect {
        /// `EIO=4&transport=websocket`, plus `&sid=...` for an upgrade.
        query: String,
    },
    /// Write this frame on the websocket.
    Ws(Frame),
    /// Write this frame on the websocket, never compressed (a packet sent with
    /// `compress(false)`, when the websocket has `permessage-deflate`).
    WsUncompressed(Frame),
    /// Close the websocket.
    WsClose,
}

/// An input from the transport or the clock: what [`ClientSession::handle`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The answer to a `GET` (handshake or long-poll): `Ok((status, body))`, or `Err(())`
    /// when the request failed at the transport level.
    PollResponse(Result<(u16, Bytes), ()>),
    /// The answer to a `POST`: `ok` for `200 ok`.
    PostResponse {
        /// The server answered `200 ok`.
        ok: bool,
    },
    /// The websocket asked for by [`Transmit::WsConnect`] is open.
    WsOpen,
    /// A frame read from the websocket.
    WsFrame(Frame),
    /// The websocket closed (or failed, when `error` is set).
    WsClosed {
        /// The websocket failed rather than closed.
        error: bool,
    },
    /// The instant returned by [`ClientSession::poll_timeout`] passed: fires the timers due.
    Timeout,
}

/// The timers of one client session, in the order the ones due at the same call fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The handshake must complete (`open_timeout`).
    Open,
    /// The server must ping again (`pingInterval + pingTimeout` after the last ping).
    Ping,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[Timer::Open, Timer::Ping];
    fn index(self) -> usize {
        self as usize
    }
}

/// Why the handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The server answered the handshake with an error status.
    #[error("handshake refused with HTTP {status}")]
    Refused {
        /// HTTP status (400, 403, ...).
        status: u16,
        /// The body (Node's `{"code":..,"message":..}`).
        body: Bytes,
    },
    /// No `open` packet before `open_timeout`.
    #[error("handshake timed out")]
    Timeout,
    /// The answer was not an `open` packet with valid JSON.
    #[error("invalid handshake answer")]
    Invalid,
    /// The connection failed before the handshake completed.
    #[error("transport failed during the handshake")]
    Transport,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed.
    Open(OpenData),
    /// A message from the server.
    Message(Message),
    /// The server pinged (and was answered).
    Ping,
    /// The session now uses the websocket.
    Upgraded,
    /// The handshake failed; `Closed` follows.
    OpenFailed(OpenError),
    /// The session is closed; nothing follows.
    Closed(CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Opening,
    Open,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    None,
    /// WsConnect sent, waiting for the websocket.
    Connecting,
    /// `2probe` sent.
    Sent,
    /// `3probe` received: polling paused until the requests in flight return.
    Pausing,
    /// Failed or done: no further attempts.
    Over,
}

/// One Engine.IO client session (see the module docs).
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: State,
    transport: TransportKind,
    open: Option<OpenData>,
    probe: Probe,
    get_in_flight: bool,
    post_in_flight: bool,
    /// Frames waiting for the transport, each with whether the websocket may compress it.
    queue: VecDeque<(Frame, bool)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    timers: TimerTable<Timer, 2>,
    /// A websocket was asked for and is not closed yet.
    ws_live: bool,
    /// `close()` came while a POST was in flight: the `close` packet goes out after it.
    close_after_post: bool,
}

impl ClientSession {
    /// Starts a session: the first transmit is the handshake (`GET` or websocket).
    pub fn new(now: Instant, config: ClientConfig) -> Self {
        let mut timers = TimerTable::default();
        timers.set(Timer::Open, now + config.open_timeout);
        let mut s = Self {
            config,
            state: State::Opening,
            transport: config.initial_transport,
            open: None,
            probe: Probe::None,
            get_in_flight: false,
            post_in_flight: false,
            queue: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timers,
            ws_live: false,
            close_after_post: false,
        };
        let query = format!("EIO=4&transport={}", s.transport.as_str());
        match s.transport {
            TransportKind::Polling => {
                s.get_in_flight = true;
                s.transmits.push_back(Transmit::PollGet { query });
            }
            TransportKind::WebSocket => {
                s.ws_live = true;
                s.transmits.push_back(Transmit::WsConnect { query });
            }
        }
        s
    }

    /// The handshake data, once open.
    pub fn handshake(&self) -> Option<&OpenData> {
        self.open.as_ref()
    }

    /// The session id, once open.
    pub fn sid(&self) -> Option<&str> {
        self.open.as_ref().map(|o| o.sid.as_str())
    }

    /// The transport in use.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// Whether the handshake completed and the session is not closed.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether a packet sent now would leave at once (volatile packets need this).
    pub fn is_writable(&self) -> bool {
        self.state == State::Open
            && self.queue.is_empty()
            && match self.transport {
                TransportKind::Polling => !self.post_in_flight && self.probe != Probe::Pausing,
                TransportKind::WebSocket => true,
            }
    }

    /// Queues a message (before the handshake completes it waits for it).
    pub fn send(&mut self, message: Message) -> Result<(), UsageError> {
        self.send_frames(std::iter::once(message.to_frame()), 1)
    }

    /// Queues frames that belong together (a packet and its attachments): all or none.
    pub fn send_frames(
        &mut self,
        frames: impl IntoIterator<Item = Frame>,
        count: usize,
    ) -> Result<(), UsageError> {
        self.send_frames_with(frames, count, true)
    }

    /// [`Self::send_frames`], saying whether a websocket with `permessage-deflate` may
    /// compress them (`false`: [`Transmit::WsUncompressed`]).
    pub fn send_frames_with(
        &mut self,
        frames: impl IntoIterator<Item = Frame>,
        count: usize,
        compress: bool,
    ) -> Result<(), UsageError> {
        if self.state == State::Closed || self.close_after_post {
            return Err(UsageError::Closed);
        }
        if self.queue.len() + count > self.config.max_queue {
            return Err(UsageError::QueueFull(self.config.max_queue));
        }
        self.queue.extend(frames.into_iter().map(|f| (f, compress)));
        self.flush();
        Ok(())
    }

    /// Closes the session from this side (reason `forced close`): polling sends a `close`
    /// packet, a websocket is closed.
    pub fn close(&mut self) {
        if self.state == State::Closed || self.close_after_post {
            return;
        }
        if self.state == State::Open {
            match self.transport {
                TransportKind::Polling if self.post_in_flight => {
                    // One POST at a time: the `close` packet follows the one in flight, and
                    // the session is closed then.
                    self.close_after_post = true;
                    return;
                }
                TransportKind::Polling => self.post_close(),
                TransportKind::WebSocket => {
                    self.flush_ws();
                    self.close_ws();
                }
            }
        }
        self.finish(CloseReason::ForcedClose);
    }

    /// POSTs what is queued (as much as `maxPayload` allows; the rest is dropped) and `close`.
    fn post_close(&mut self) {
        let max = self.open.as_ref().map_or(1_000_000, |o| o.max_payload) as usize;
        let close = Packet::Close.encode();
        let mut body = BytesMut::new();
        for (f, _) in self.queue.drain(..) {
            let add = packet::payload_frame_len(&f) + 2;
            if body.len() + add + 1 > max {
                break;
            }
            let first = body.is_empty();
            packet::encode_payload_frame(&mut body, &f, first);
        }
        let first = body.is_empty();
        packet::encode_payload_frame(&mut body, &close, first);
        self.post_in_flight = true;
        self.transmits.push_back(Transmit::PollPost {
            query: self.query(TransportKind::Polling),
            body: body.freeze(),
        });
    }

    /// Closes the websocket if one was asked for and is not closed yet.
    fn close_ws(&mut self) {
        if self.ws_live {
            self.ws_live = false;
            self.transmits.push_back(Transmit::WsClose);
        }
    }

    /// Closes the session because the layer above found the peer at fault (for example
    /// `parse error` on a Socket.IO packet): the transport is dropped without a `close` packet.
    pub fn fail(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        if self.transport == TransportKind::WebSocket || self.probe_active() {
            self.close_ws();
        }
        self.finish(reason);
    }

    /// Feeds one input from the transport or the clock (see [`Input`]).
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::PollResponse(response) => self.on_poll_response(now, response),
            Input::PostResponse { ok } => self.on_post_response(ok),
            Input::WsOpen => self.on_ws_open(),
            Input::WsFrame(frame) => self.on_ws_frame(now, frame),
            Input::WsClosed { error } => self.on_ws_closed(error),
            Input::Timeout => self.fire_due(now),
        }
    }

    fn on_poll_response(&mut self, now: Instant, response: Result<(u16, Bytes), ()>) {
        self.get_in_flight = false;
        if self.state == State::Closed {
            return;
        }
        let (status, body) = match response {
            Ok(r) => r,
            Err(()) => return self.fail_transport(),
        };
        if status != 200 {
            if self.state == State::Opening {
                self.events
                    .push_back(Event::OpenFailed(OpenError::Refused { status, body }));
                return self.finish(CloseReason::TransportError);
            }
            return self.finish(CloseReason::TransportError);
        }
        match packet::decode_payload(body, self.config.max_packets_per_payload) {
            Ok(packets) => {
                for p in packets {
                    if self.state == State::Closed {
                        return;
                    }
                    self.on_packet(now, p);
                }
            }
            Err(_) => {
                if self.state == State::Opening {
                    self.events.push_back(Event::OpenFailed(OpenError::Invalid));
                }
                return self.finish(CloseReason::ParseError);
            }
        }
        if self.state == State::Opening {
            self.events.push_back(Event::OpenFailed(OpenError::Invalid));
            return self.finish(CloseReason::ParseError);
        }
        self.after_poll_io();
    }

    fn on_post_response(&mut self, ok: bool) {
        self.post_in_flight = false;
        if self.close_after_post {
            self.close_after_post = false;
            if ok {
                self.post_close();
            }
            return self.finish(CloseReason::ForcedClose);
        }
        if self.state == State::Closed {
            return;
        }
        if !ok {
            return self.fail_transport();
        }
        self.after_poll_io();
    }

    fn on_ws_open(&mut self) {
        if self.state == State::Closed {
            return;
        }
        if self.transport == TransportKind::Polling && self.probe == Probe::Connecting {
            self.probe = Probe::Sent;
            self.transmits.push_back(Transmit::Ws(
                Packet::Ping(Bytes::from_static(b"probe")).encode(),
            ));
        }
    }

    fn on_ws_frame(&mut self, now: Instant, frame: Frame) {
        if self.state == State::Closed {
            return;
        }
        let packet = Packet::decode(frame);
        if self.transport == TransportKind::Polling && self.state == State::Open {
            match (self.probe, packet) {
                (Probe::Sent, Ok(Packet::Pong(d))) if &d[..] == b"probe" => {
                    self.probe = Probe::Pausing;
                    self.after_poll_io();
                }
                _ => self.abandon_probe(),
            }
            return;
        }
        match packet {
            Ok(p) => self.on_packet(now, p),
            Err(_) => {
                self.close_ws();
                self.finish(CloseReason::ParseError);
            }
        }
    }

    fn on_ws_closed(&mut self, error: bool) {
        self.ws_live = false;
        if self.state == State::Closed {
            return;
        }
        if self.transport == TransportKind::WebSocket {
            if self.state == State::Opening {
                self.events
                    .push_back(Event::OpenFailed(OpenError::Transport));
            }
            self.finish(if error {
                CloseReason::TransportError
            } else {
                CloseReason::TransportClose
            });
        } else if self.probe_active() {
            // The probe failed (even while polling was pausing for it): keep polling.
            self.probe = Probe::Over;
            self.after_poll_io();
        }
    }

    /// Fires the timers due at `now`: either ends the session.
    fn fire_due(&mut self, now: Instant) {
        let Some((timer, _)) = self.timers.pop_expired(now) else {
            return;
        };
        match timer {
            Timer::Open => {
                self.events.push_back(Event::OpenFailed(OpenError::Timeout));
                if self.transport == TransportKind::WebSocket {
                    self.close_ws();
                }
                self.finish(CloseReason::TransportError);
            }
            Timer::Ping => {
                if self.transport == TransportKind::WebSocket || self.probe_active() {
                    self.close_ws();
                }
                self.finish(CloseReason::PingTimeout);
            }
        }
    }

    /// The next instant at which [`Input::Timeout`] must be handled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        self.timers.next()
    }

    /// The next thing to do, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn probe_active(&self) -> bool {
        matches!(self.probe, Probe::Connecting | Probe::Sent | Probe::Pausing)
    }

    fn query(&self, t: TransportKind) -> String {
        match &self.open {
            Some(o) => format!("EIO=4&transport={}&sid={}", t.as_str(), o.sid),
            None => format!("EIO=4&transport={}", t.as_str()),
        }
    }

    fn on_packet(&mut self, now: Instant, p: Packet) {
        match p {
            Packet::Open(data) if self.state == State::Opening => {
                let Ok(open) = OpenData::parse(&data) else {
                    self.events.push_back(Event::OpenFailed(OpenError::Invalid));
                    if self.transport == TransportKind::WebSocket {
                        self.close_ws();
                    }
                    return self.finish(CloseReason::ParseError);
                };
                self.state = State::Open;
                self.timers.stop(Timer::Open);
                self.reset_ping(now, &open);
                let can_upgrade = self.transport == TransportKind::Polling
                    && self.config.upgrade
                    && open.upgrades.iter().any(|u| u == "websocket");
                self.open = Some(open.clone());
                self.events.push_back(Event::Open(open));
                if can_upgrade {
                    self.probe = Probe::Connecting;
                    self.ws_live = true;
                    self.transmits.push_back(Transmit::WsConnect {
                        query: self.query(TransportKind::WebSocket),
                    });
                }
                self.flush();
            }
            Packet::Open(_) => {}
            _ if self.state != State::Open => {
                self.events.push_back(Event::OpenFailed(OpenError::Invalid));
                self.finish(CloseReason::ParseError);
            }
            Packet::Ping(_) => {
                if let Some(open) = self.open.clone() {
                    self.reset_ping(now, &open);
                }
                self.events.push_back(Event::Ping);
                self.push_now(Packet::Pong(Bytes::new()).encode());
            }
            Packet::Message(m) => self.events.push_back(Event::Message(m)),
            Packet::Close => {
                if self.transport == TransportKind::WebSocket {
                    self.close_ws();
                }
                if self.probe_active() {
                    self.close_ws();
                }
                self.finish(CloseReason::TransportClose);
            }
            Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    fn reset_ping(&mut self, now: Instant, open: &OpenData) {
        self.timers.set(
            Timer::Ping,
            now + Duration::from_millis(open.ping_interval.saturating_add(open.ping_timeout)),
        );
    }

    /// Sends a control frame ahead of nothing else: queued after the current queue.
    fn push_now(&mut self, f: Frame) {
        // A pong must not be refused by the queue bound.
        self.queue.push_back((f, true));
        self.flush();
    }

    /// After a long-polling request returned: complete a pending upgrade, or poll again.
    fn after_poll_io(&mut self) {
        if self.state != State::Open
            || self.transport != TransportKind::Polling
            || self.close_after_post
        {
            return;
        }
        if self.probe == Probe::Pausing {
            if self.get_in_flight || self.post_in_flight {
                return;
            }
            self.probe = Probe::Over;
            self.transport = TransportKind::WebSocket;
            self.transmits
                .push_back(Transmit::Ws(Packet::Upgrade.encode()));
            self.events.push_back(Event::Upgraded);
            self.flush();
            return;
        }
        if !self.get_in_flight {
            self.get_in_flight = true;
            self.transmits.push_back(Transmit::PollGet {
                query: self.query(TransportKind::Polling),
            });
        }
        self.flush();
    }

    fn flush(&mut self) {
        if self.state != State::Open {
            return;
        }
        match self.transport {
            TransportKind::WebSocket => self.flush_ws(),
            TransportKind::Polling => {
                if self.post_in_flight || self.queue.is_empty() || self.probe == Probe::Pausing {
                    return;
                }
                let max = self.open.as_ref().map_or(1_000_000, |o| o.max_payload) as usize;
                let mut body = BytesMut::new();
                let mut first = true;
                while let Some((f, _)) = self.queue.front() {
                    let add = packet::payload_frame_len(f) + usize::from(!first);
                    if !first && body.len() + add > max {
                        break;
                    }
                    if let Some((f, _)) = self.queue.pop_front() {
                        packet::encode_payload_frame(&mut body, &f, first);
                    }
                    first = false;
                }
                self.post_in_flight = true;
                self.transmits.push_back(Transmit::PollPost {
                    query: self.query(TransportKind::Polling),
                    body: body.freeze(),
                });
            }
        }
    }

    /// Moves the queue to the websocket.
    fn flush_ws(&mut self) {
        while let Some((f, compress)) = self.queue.pop_front() {
            self.transmits.push_back(if compress {
                Transmit::Ws(f)
            } else {
                Transmit::WsUncompressed(f)
            });
        }
    }

    fn abandon_probe(&mut self) {
        if self.probe_active() {
            self.probe = Probe::Over;
            self.close_ws();
            self.after_poll_io();
        }
    }

    fn fail_transport(&mut self) {
        if self.state == State::Opening {
            self.events
                .push_back(Event::OpenFailed(OpenError::Transport));
        }
        if self.probe_active() {
            self.close_ws();
        }
        self.finish(CloseReason::TransportError);
    }

    fn finish(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.timers.clear();
        self.close_after_post = false;
        self.queue.clear();
        self.close_ws();
        self.events.push_back(Event::Closed(reason));
    }
}
