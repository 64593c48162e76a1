//! The Engine.IO v4 server: a request router ([`EngineServer`]) and one session machine per
//! client ([`ServerSession`]).
//!
//! # Drive loop
//!
//! The runtime owns each [`ServerSession`] in one task. The task waits for exactly one thing —
//! a routed long-polling request, a websocket frame, a command from the application, or the
//! instant returned by [`ServerSession::poll_timeout`] — and feeds it to
//! [`ServerSession::handle`] as one [`Input`] ([`Input::Timeout`] for the deadline), answering
//! the request at once when the [`Reply`] says so. It then drains, in this order,
//! [`ServerSession::poll_transmit`] (answers for the held `GET`, websocket frames to write,
//! websocket close) and [`ServerSession::poll_event`] (messages, upgrade, close) until both
//! return `None`, and re-reads `poll_timeout`. The session never blocks and never reads a clock.
//!
//! Behaviour follows the specification (`docs/engine.io-protocol/v4-current.md`) and, where it
//! is silent, the Node `engine.io` server: the same HTTP status codes and JSON error bodies,
//! `noop` for a held `GET` when the client sends `close` or starts an upgrade, `close` for a
//! held `GET` when the server ends the session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::packet::{self, Frame, Message, OpenData, Packet};
use super::{v3, CloseReason, Protocol, TransportKind};
use crate::error::{ProtocolError, UsageError};
use crate::timer::{TimerKind, TimerTable};

mod config;
mod response;
mod router;
mod types;

pub use config::{EngineConfig, Transports};
pub use response::{ErrorCode, HttpResponse};
pub use router::{
    ClosedSessions, EngineServer, Handshake, Method, Query, Request, Route, SessionRequest,
};
pub use types::{Event, Input, Reply, Transmit};

/// The former name of [`EngineConfig`].
#[deprecated(note = "renamed `EngineConfig`")]
pub type ServerConfig = EngineConfig;

/// The timers of one session, in the order the ones due at the same call fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// A server-initiated close over polling that did not get through.
    Close,
    /// No pong after a ping (v3: no ping from the client in `ping_interval + ping_timeout`).
    Pong,
    /// The websocket probe did not complete.
    Upgrade,
    /// Send the next ping.
    Ping,
    /// Release (with `noop`) of a `GET` held while an upgrade is pending.
    Release,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[
        Timer::Close,
        Timer::Pong,
        Timer::Upgrade,
        Timer::Ping,
        Timer::Release,
    ];
    fn index(self) -> usize {
        self as usize
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

/// One Engine.IO session on the server (see the module docs for the drive loop).
#[derive(Debug)]
pub struct ServerSession {
    sid: String,
    /// Shared by the sessions of a router (one copy per server, not per session).
    config: Arc<EngineConfig>,
    transport: TransportKind,
    protocol: Protocol,
    /// v3: the client takes binary long-polling payloads and binary websocket frames (no
    /// `b64` in its handshake); otherwise binary data goes as `b4` + base64 text.
    binary_payloads: bool,
    state: State,
    upgrade: Upgrade,
    held_get: bool,
    /// A long-polling `POST` has started and its body is not handled yet (one at a time).
    post_in_flight: bool,
    /// The held `GET` arrived while an upgrade was pending (`3probe` sent): it is answered
    /// 400 if the upgrade completes, `noop` at [`Timer::Release`], normally if it is cancelled.
    held_in_upgrade: bool,
    /// Closed by the client's `close` packet over long-polling (see [`ServerSession::lingers`]).
    closed_by_client_poll: bool,
    ws_close_pending: bool,
    pending_close_reason: Option<CloseReason>,
    /// Frames waiting for the transport, each with whether the websocket may compress it.
    queue: VecDeque<(Frame, bool)>,
    /// Bytes of the frames in `queue`.
    queued_bytes: usize,
    control: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// [`ServerSession::poll_timeout`] is their minimum.
    timers: TimerTable<Timer, 5>,
}

impl ServerSession {
    /// A new session whose `open` packet is already queued. A bare [`TransportKind`] is a v4
    /// handshake.
    pub fn new(
        now: Instant,
        sid: String,
        handshake: impl Into<Handshake>,
        config: impl Into<Arc<EngineConfig>>,
    ) -> Self {
        let config = config.into();
        let Handshake {
            transport,
            protocol,
            binary,
        } = handshake.into();
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
        let mut timers = TimerTable::default();
        match protocol {
            Protocol::V4 => timers.set(Timer::Ping, now + config.ping_interval),
            // v3: the client pings; the session only waits for the next ping.
            Protocol::V3 => timers.set(
                Timer::Pong,
                now + config.ping_interval + config.ping_timeout,
            ),
        }
        let mut s = Self {
            sid,
            config,
            transport,
            protocol,
            binary_payloads: binary,
            state: State::Open,
            upgrade: Upgrade::None,
            // The handshake GET is answered by the first poll response.
            held_get: transport == TransportKind::Polling,
            post_in_flight: false,
            held_in_upgrade: false,
            closed_by_client_poll: false,
            ws_close_pending: false,
            pending_close_reason: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            control: VecDeque::new(),
            events: VecDeque::new(),
            timers,
        };
        s.enqueue(open.to_packet().encode());
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

    /// The protocol revision the session speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the session was closed by the client's `close` packet over long-polling. The
    /// runtime passes it to [`EngineServer::remove`], and the router keeps the id in its
    /// [`ClosedSessions`] for a moment, so that a long-poll `GET` racing the `close` gets
    /// `noop` even after the session is gone ([`Route::Respond`]); a `GET` that still reaches
    /// this session gets `noop` too.
    pub fn lingers(&self) -> bool {
        self.closed_by_client_poll
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

    /// Bytes of the frames waiting for the transport.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
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
    /// of them or none. When they would not fit the queue bounds (`max_queue` frames,
    /// `max_queue_bytes` bytes) the send is refused with [`UsageError::QueueFull`] and the
    /// session closes with [`CloseReason::SendBufferFull`], dropping what it had queued. (A
    /// send that may be dropped instead, a volatile one, checks [`Self::is_writable`] first.)
    pub fn send_frames(
        &mut self,
        frames: impl IntoIterator<Item = Frame>,
        count: usize,
    ) -> Result<(), UsageError> {
        self.send_frames_with(frames, count, true)
    }

    /// [`Self::send_frames`], saying whether a websocket with `permessage-deflate` may
    /// compress them (`false`: the packet was sent with `compress(false)`; the frames then
    /// come out as [`Transmit::WsUncompressed`]).
    pub fn send_frames_with(
        &mut self,
        frames: impl IntoIterator<Item = Frame>,
        count: usize,
        compress: bool,
    ) -> Result<(), UsageError> {
        if self.state != State::Open {
            return Err(UsageError::Closed);
        }
        if self.queue.len() + count > self.config.max_queue {
            self.overflow();
            return Err(UsageError::QueueFull(self.config.max_queue));
        }
        for f in frames {
            self.enqueue_with(f, compress);
        }
        if self.queued_bytes > self.config.max_queue_bytes {
            self.overflow();
            return Err(UsageError::QueueFull(self.config.max_queue));
        }
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
        for f in frames {
            self.enqueue(f);
        }
        self.flush();
        Ok(())
    }

    /// Closes the session from the server side (`forced close`, or `server shutting down`).
    /// Queued packets are still delivered first.
    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        self.fire_due(now);
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
                self.enqueue(Packet::Close.encode());
                self.state = State::Closing;
                self.pending_close_reason = Some(reason);
                // The heartbeat keeps running while closing, as in Node: no ping is sent, but
                // the session ends by `ping timeout` if the close does not get through first.
                self.timers
                    .set(Timer::Close, now + self.config.close_timeout);
                self.flush();
            }
        }
    }

    /// Feeds one input from the transport or the clock (see [`Input`] for each one and its
    /// [`Reply`]).
    ///
    /// Every input (and [`ServerSession::close`]) first fires the timers due at its `now`, so
    /// an input handled late sees the session as it is at that instant: a `GET` after the
    /// pong deadline finds the session closed even if the driver's timer has not woken yet.
    pub fn handle(&mut self, now: Instant, input: Input) -> Reply {
        self.fire_due(now);
        match input {
            Input::PollGet => self.on_poll_get(now),
            Input::PollPostStarted => match self.on_poll_post_started(now) {
                Some(r) => Reply::Http(r),
                None => Reply::None,
            },
            Input::PollPostAborted => {
                self.post_in_flight = false;
                Reply::None
            }
            Input::PollPost(body) => Reply::Http(self.on_poll_post(now, body)),
            Input::PollAborted => {
                self.on_poll_aborted();
                Reply::None
            }
            Input::WsOpen => match self.on_ws_open(now) {
                Ok(()) => Reply::None,
                Err(e) => Reply::Refused(e),
            },
            Input::WsFrame(frame) => {
                self.on_ws_frame(now, frame);
                Reply::None
            }
            Input::WsClosed { error } => {
                self.on_ws_closed(error);
                Reply::None
            }
            // The due timers were fired above.
            Input::Timeout => Reply::None,
        }
    }

    fn on_poll_get(&mut self, now: Instant) -> Reply {
        if self.state == State::Closed && self.closed_by_client_poll {
            // The client's `close` overtook this long-poll: answer it as if it had been held
            // when the `close` came (Node releases the held `GET` with `noop`).
            return Reply::Http(self.packet_response(Packet::Noop));
        }
        if self.state == State::Closed {
            return Reply::Http(HttpResponse::error(ErrorCode::UnknownSid));
        }
        if self.transport != TransportKind::Polling {
            // Node's "transport mismatch".
            return Reply::Http(HttpResponse::error(ErrorCode::BadRequest));
        }
        if self.held_get {
            // Node answers the overlapping request with 400 and closes the session: the held
            // request gets the `close` packet.
            self.answer_get(self.packet_response(Packet::Close));
            self.finish(CloseReason::TransportError);
            return Reply::Http(HttpResponse::empty(400));
        }
        self.held_get = true;
        if self.upgrade == Upgrade::Probed && self.state == State::Open {
            // The client is switching: it will either send `upgrade` (this GET then gets 400)
            // or still needs this GET answered to finish pausing its polling (released with
            // `noop` shortly, as Node's fast-upgrade check does).
            if self.config.upgrade_noop_delay.is_zero() {
                self.answer_get(self.packet_response(Packet::Noop));
            } else {
                self.held_in_upgrade = true;
                self.timers
                    .set(Timer::Release, now + self.config.upgrade_noop_delay);
            }
        } else {
            self.flush();
        }
        Reply::Held
    }

    fn on_poll_post_started(&mut self, now: Instant) -> Option<HttpResponse> {
        if self.post_in_flight {
            self.close(now, CloseReason::TransportError);
            return Some(HttpResponse::empty(400));
        }
        self.post_in_flight = true;
        None
    }

    fn on_poll_post(&mut self, now: Instant, body: Bytes) -> HttpResponse {
        self.post_in_flight = false;
        if body.len() > self.config.max_http_buffer_size {
            return HttpResponse::empty(413);
        }
        if self.state == State::Closed {
            return HttpResponse::error(ErrorCode::UnknownSid);
        }
        if self.transport != TransportKind::Polling {
            return HttpResponse::error(ErrorCode::BadRequest);
        }
        if self.state != State::Open {
            // Closing: Node ignores what the client still sends.
            return HttpResponse::ok();
        }
        // As in Node, the packets before a malformed one are delivered, then the session
        // closes with `parse error`.
        let mut packets = Vec::new();
        let max = self.config.max_packets_per_payload;
        let r = match self.protocol {
            Protocol::V4 => packet::decode_payload_with(body, max, |p| packets.push(p)),
            Protocol::V3 => v3::decode_payload_with(body, max, |p| packets.push(p)),
        };
        for p in packets {
            if self.state != State::Open {
                break;
            }
            self.on_packet(now, p, false);
        }
        if r.is_err() && self.state == State::Open {
            self.fail(CloseReason::ParseError);
        }
        HttpResponse::ok()
    }

    fn on_ws_open(&mut self, now: Instant) -> Result<(), ProtocolError> {
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
        self.timers
            .set(Timer::Upgrade, now + self.config.upgrade_timeout);
        Ok(())
    }

    fn on_ws_frame(&mut self, now: Instant, frame: Frame) {
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
        let packet = match self.protocol {
            Protocol::V4 => Packet::decode(frame),
            Protocol::V3 => v3::decode_ws_frame(frame),
        };
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

    fn on_ws_closed(&mut self, error: bool) {
        if self.state == State::Closed {
            return;
        }
        if self.transport == TransportKind::WebSocket {
            self.ws_close_pending = false;
            self.clear_queue();
            self.finish(if error {
                CloseReason::TransportError
            } else {
                CloseReason::TransportClose
            });
        } else if self.upgrade != Upgrade::None {
            self.upgrade = Upgrade::None;
            self.timers.stop(Timer::Upgrade);
            self.end_upgrade_hold();
            self.flush();
        }
    }

    fn on_poll_aborted(&mut self) {
        if self.held_get && self.state != State::Closed {
            // Node treats a client that drops its long-poll as gone.
            self.held_get = false;
            self.end_upgrade_hold();
            self.finish(CloseReason::TransportClose);
        }
    }

    /// Fires every timer due at `now`, in [`Timer`] order. A deadline that follows from a
    /// timer (the pong deadline after a ping) counts from when that timer was due, not from
    /// when the driver got to it, so a late driver never stretches the heartbeat.
    ///
    /// Terminates: a ping arms the pong deadline, which ends the session when due; no other
    /// timer arms one.
    fn fire_due(&mut self, now: Instant) {
        while self.state != State::Closed {
            let Some((timer, at)) = self.timers.pop_expired(now) else {
                return;
            };
            match timer {
                Timer::Close => {
                    let reason = self
                        .pending_close_reason
                        .unwrap_or(CloseReason::ForcedClose);
                    self.finish(reason);
                }
                Timer::Pong => self.fail(CloseReason::PingTimeout),
                Timer::Upgrade => self.cancel_upgrade(),
                Timer::Ping => {
                    self.timers.set(Timer::Pong, at + self.config.ping_timeout);
                    // While closing no ping is sent (Node's `sendPacket` refuses), but the pong
                    // deadline is armed all the same: it bounds how long a closing session
                    // lasts.
                    if self.state == State::Open {
                        // A ping ignores the queue bound: dropping it would end a healthy
                        // session.
                        self.enqueue(Packet::Ping(Bytes::new()).encode());
                        self.flush();
                    }
                }
                Timer::Release => {
                    if self.held_get && self.held_in_upgrade {
                        self.answer_get(self.packet_response(Packet::Noop));
                    }
                }
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

    /// The next thing to write, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.control.pop_front() {
            return Some(t);
        }
        if self.transport == TransportKind::WebSocket {
            if let Some((f, compress)) = self.queue.pop_front() {
                self.queued_bytes = self.queued_bytes.saturating_sub(f.len());
                let f = match self.protocol {
                    Protocol::V4 => f,
                    Protocol::V3 => v3::ws_frame(f, self.binary_payloads),
                };
                return Some(if compress {
                    Transmit::Ws(f)
                } else {
                    Transmit::WsUncompressed(f)
                });
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
        let e = self.events.pop_front();
        if e.is_none() && self.events.capacity() > 0 {
            // Drained: an idle session keeps no event queue (measured: about 0.3 KiB per idle
            // connection, a message or two at a time being the usual).
            self.events = VecDeque::new();
        }
        e
    }

    fn on_packet(&mut self, now: Instant, p: Packet, from_ws: bool) {
        match p {
            Packet::Message(m) => self.events.push_back(Event::Message(m)),
            Packet::Ping(d) if self.protocol == Protocol::V3 => {
                // v3: the client pings. Its pongs count against the queue bounds: a client
                // that pings without reading is closed (`send buffer full`), not buffered for.
                self.timers.set(
                    Timer::Pong,
                    now + self.config.ping_interval + self.config.ping_timeout,
                );
                if self.state == State::Open {
                    let _ = self.send_frame(Packet::Pong(d).encode());
                }
            }
            // Node's "invalid heartbeat direction".
            Packet::Pong(_) if self.protocol == Protocol::V3 => {
                self.fail(CloseReason::TransportError)
            }
            Packet::Pong(_) => {
                // No next ping while closing (see `close`): it would never be sent.
                if self.timers.take(Timer::Pong).is_some() && self.state == State::Open {
                    self.timers
                        .set(Timer::Ping, now + self.config.ping_interval);
                }
            }
            Packet::Close => {
                if !from_ws && self.held_get {
                    // Node releases the held long-poll with `noop` on a client `close`.
                    self.answer_get(self.packet_response(Packet::Noop));
                }
                self.closed_by_client_poll = !from_ws;
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
                    self.answer_get(self.packet_response(Packet::Noop));
                }
            }
            // Node also completes an upgrade whose probe was skipped.
            (Upgrade::Probed | Upgrade::Probing, Ok(Packet::Upgrade)) => {
                self.upgrade = Upgrade::None;
                self.timers.stop(Timer::Upgrade);
                if self.held_get && self.held_in_upgrade {
                    // A GET sent after the client started switching: the session no longer
                    // polls (Node's "transport mismatch").
                    self.answer_get(HttpResponse::error(ErrorCode::BadRequest));
                } else if self.held_get {
                    self.answer_get(self.packet_response(Packet::Noop));
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
            self.timers.stop(Timer::Upgrade);
            self.control.push_back(Transmit::WsClose);
            // A GET held because of the upgrade is an ordinary long-poll again.
            self.end_upgrade_hold();
            self.flush();
        }
    }

    /// The held `GET` (if any) is no longer held because of a pending upgrade.
    fn end_upgrade_hold(&mut self) {
        self.held_in_upgrade = false;
        self.timers.stop(Timer::Release);
    }

    /// A long-poll answer of the one packet `p` (`noop`, `close`) in the session's framing.
    fn packet_response(&self, p: Packet) -> HttpResponse {
        HttpResponse::packet(self.protocol, &p)
    }

    fn answer_get(&mut self, response: HttpResponse) {
        self.held_get = false;
        self.end_upgrade_hold();
        self.control.push_back(Transmit::PollResponse(response));
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
        let closing = self
            .queue
            .iter()
            .any(|(f, _)| *f == Frame::Text(Bytes::from_static(b"1")));
        let response = match self.protocol {
            Protocol::V4 => {
                let mut out = BytesMut::new();
                for (i, (f, _)) in self.queue.iter().enumerate() {
                    packet::encode_payload_frame(&mut out, f, i == 0);
                }
                HttpResponse::payload(out.freeze())
            }
            Protocol::V3 => HttpResponse::v3_payload(v3::encode_payload(
                self.queue.iter().map(|(f, _)| f),
                self.binary_payloads,
            )),
        };
        self.clear_queue();
        self.answer_get(response);
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
            self.answer_get(self.packet_response(Packet::Close));
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
        if self.held_get {
            // Whatever ends the session, a held long-poll is not left hanging.
            self.answer_get(self.packet_response(Packet::Close));
        }
        self.state = State::Closed;
        self.timers.clear();
        if self.transport == TransportKind::Polling {
            self.clear_queue();
        }
        self.events.push_back(Event::Closed(reason));
    }

    fn enqueue(&mut self, f: Frame) {
        self.enqueue_with(f, true);
    }

    fn enqueue_with(&mut self, f: Frame, compress: bool) {
        self.queued_bytes += f.len();
        self.queue.push_back((f, compress));
    }

    fn clear_queue(&mut self) {
        self.queue.clear();
        self.queued_bytes = 0;
    }

    /// A send went over the queue bounds: the client is not reading. What it had queued is
    /// dropped (the memory it pinned returns now) and the session ends.
    fn overflow(&mut self) {
        self.clear_queue();
        if self.transport == TransportKind::WebSocket {
            self.ws_close_pending = true;
        } else if self.held_get {
            self.answer_get(self.packet_response(Packet::Close));
        }
        self.finish(CloseReason::SendBufferFull);
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
