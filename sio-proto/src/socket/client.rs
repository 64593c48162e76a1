//! The client side of Socket.IO: a [`Manager`] owns one Engine.IO client session at a time,
//! multiplexes namespaces on it, keeps the acks it awaits, buffers emits made while a
//! namespace is not connected, and reconnects with backoff after an unexpected close.
//!
//! # Drive loop
//!
//! As everywhere in this crate: feed one input (`handle_*`, or a command), then drain
//! [`Manager::poll_transmit`] and [`Manager::poll_event`], then sleep until
//! [`Manager::poll_timeout`]. Every new Engine.IO session (the first and each reconnection)
//! starts with a handshake transmit; each transmit belongs to the session of
//! [`Manager::generation`] at the time it was drained, and inputs about an older session are
//! ignored by passing the generation back.
//!
//! When the Engine.IO session opens, [`Event::NamespaceReady`] is emitted for each namespace
//! the application wants; the application answers with [`Manager::send_connect`] and the auth
//! payload (evaluated anew on every connection, as the Node client does with an auth function).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::backoff::{Backoff, BackoffConfig};
use super::packet::{DecodeLimits, Decoder, EncodedPacket, Nsp, Packet, PacketKind};
use super::DisconnectReason;
use crate::engine::client::{self as eng, ClientConfig, ClientSession, OpenError, Transmit};
use crate::engine::{CloseReason, Frame, Message, OpenData};
use crate::error::UsageError;
use crate::id::IdGenerator;

/// Manager settings (the Node client's manager options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ManagerConfig {
    /// Engine.IO settings (transports, upgrade, open timeout).
    pub engine: ClientConfig,
    /// Whether to reconnect after an unexpected close (Node `reconnection`, true).
    pub reconnection: bool,
    /// Backoff between attempts.
    pub backoff: BackoffConfig,
    /// Bound on emits buffered per namespace while it is not connected (default 1024).
    pub max_buffered: usize,
    /// Bound on acks awaited at once (default 1024).
    pub max_pending_acks: usize,
    /// Decoder limits: attachments per packet, their total bytes, and the time a binary packet
    /// has to complete (one of the manager's timers; past it the session closes with
    /// `parse error`, like undecodable bytes, and reconnects as after any parse error).
    pub decode: DecodeLimits,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        Self {
            engine: ClientConfig::default(),
            reconnection: true,
            backoff: BackoffConfig::default(),
            max_buffered: 1024,
            max_pending_acks: 1024,
            decode: DecodeLimits::default(),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The Engine.IO session opened (manager `open`).
    Open(OpenData),
    /// The server pinged (manager `ping`).
    Ping,
    /// The connection now uses the websocket.
    Upgraded,
    /// Send the CONNECT for `nsp` now, with [`Manager::send_connect`].
    NamespaceReady {
        /// The namespace.
        nsp: Nsp,
    },
    /// The namespace is connected (socket `connect`), with the id the server gave it.
    Connected {
        /// The namespace.
        nsp: Nsp,
        /// The socket id.
        sid: String,
    },
    /// The server refused the namespace (socket `connect_error`); the payload is the JSON of
    /// CONNECT_ERROR (`{"message":..,"data":..}`).
    ConnectError {
        /// The namespace.
        nsp: Nsp,
        /// The payload.
        data: Bytes,
    },
    /// An event from the server; `packet.id` is set when the server wants an ack.
    Event {
        /// The namespace.
        nsp: Nsp,
        /// The packet.
        packet: Packet,
    },
    /// The server answered an ack this client asked for.
    Ack {
        /// The namespace.
        nsp: Nsp,
        /// The packet (`id` is the ack id).
        packet: Packet,
    },
    /// An ack did not come before its deadline.
    AckTimeout {
        /// The namespace.
        nsp: Nsp,
        /// The ack id.
        id: u64,
    },
    /// The socket of `nsp` was disconnected (socket `disconnect`).
    Disconnected {
        /// The namespace.
        nsp: Nsp,
        /// Why.
        reason: DisconnectReason,
    },
    /// The Engine.IO session closed (manager `close`).
    Closed(CloseReason),
    /// The handshake failed (manager `error`).
    Error(OpenError),
    /// A reconnection attempt starts now (manager `reconnect_attempt`).
    ReconnectAttempt(u32),
    /// A reconnection attempt failed (manager `reconnect_error`).
    ReconnectError(OpenError),
    /// Reconnected after this many attempts (manager `reconnect`).
    Reconnected(u32),
    /// No attempts left (manager `reconnect_failed`).
    ReconnectFailed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NsState {
    /// Wanted, not yet asked for (waiting for the engine to open).
    Idle,
    /// CONNECT sent.
    Connecting,
    /// Connected.
    Connected,
}

#[derive(Debug)]
struct Namespace {
    nsp: Nsp,
    state: NsState,
    buffer: VecDeque<EncodedPacket>,
}

/// The client's manager (see the module docs).
#[derive(Debug)]
pub struct Manager {
    config: ManagerConfig,
    engine: Option<ClientSession>,
    generation: u64,
    decoder: Decoder,
    namespaces: Vec<Namespace>,
    acks: BTreeMap<(Nsp, u64), Option<Instant>>,
    ack_deadlines: BTreeSet<(Instant, Nsp, u64)>,
    next_ack_id: u64,
    backoff: Backoff,
    rng: IdGenerator,
    reconnect_at: Option<Instant>,
    /// When the binary packet being reassembled must be complete.
    attachments_deadline: Option<Instant>,
    reconnecting: bool,
    skip_reconnect: bool,
    /// The engine was asked to close and waits for its POST in flight before it does.
    closing: bool,
    /// Open a new engine as soon as the closing one is closed (`open`/`connect` came while it
    /// was closing).
    reopen: bool,
    events: VecDeque<Event>,
}

impl Manager {
    /// A manager that has not connected yet; `rng` drives the backoff jitter.
    pub fn new(config: ManagerConfig, rng: IdGenerator) -> Self {
        Self {
            config,
            engine: None,
            generation: 0,
            decoder: Decoder::new(config.decode),
            namespaces: Vec::new(),
            acks: BTreeMap::new(),
            ack_deadlines: BTreeSet::new(),
            next_ack_id: 0,
            backoff: Backoff::new(config.backoff),
            rng,
            reconnect_at: None,
            attachments_deadline: None,
            reconnecting: false,
            skip_reconnect: false,
            closing: false,
            reopen: false,
            events: VecDeque::new(),
        }
    }

    /// Opens the connection (manager `open()`); a no-op when already open or opening. While
    /// the engine is closing (a `close` waiting for the POST in flight), a new one opens as
    /// soon as it is closed.
    pub fn open(&mut self, now: Instant) {
        if self.closing {
            self.reopen = true;
            return;
        }
        if self.engine.as_ref().is_some_and(|e| !e.is_closed()) {
            return;
        }
        self.skip_reconnect = false;
        self.reconnect_at = None;
        self.start_engine(now);
    }

    /// The generation of the current Engine.IO session (incremented on each (re)connection).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The Engine.IO session, if any.
    pub fn engine(&self) -> Option<&ClientSession> {
        self.engine.as_ref()
    }

    /// Whether the namespace is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.namespaces
            .iter()
            .any(|n| n.state == NsState::Connected && n.nsp.as_str() == nsp)
    }

    /// Whether a reconnection is scheduled.
    pub fn is_reconnecting(&self) -> bool {
        self.reconnect_at.is_some()
    }

    /// Number of acks awaited.
    pub fn pending_acks(&self) -> usize {
        self.acks.len()
    }

    /// Adds a namespace the application wants (socket `connect()`); opens the manager if
    /// needed. When the engine is open, [`Event::NamespaceReady`] follows at once.
    pub fn connect(&mut self, now: Instant, nsp: Nsp) {
        if !self.namespaces.iter().any(|n| n.nsp == nsp) {
            self.namespaces.push(Namespace {
                nsp: nsp.clone(),
                state: NsState::Idle,
                buffer: VecDeque::new(),
            });
        }
        match &self.engine {
            _ if self.closing => self.reopen = true,
            Some(e) if e.is_open() => {
                if let Some(n) = self.namespaces.iter().find(|n| n.nsp == nsp) {
                    if n.state == NsState::Idle {
                        self.events.push_back(Event::NamespaceReady { nsp });
                    }
                }
            }
            Some(e) if !e.is_closed() => {}
            _ => {
                if self.reconnect_at.is_none() {
                    self.open(now);
                }
            }
        }
    }

    /// Sends the CONNECT for `nsp` with an optional auth object (JSON text).
    pub fn send_connect(&mut self, nsp: &Nsp, auth: Option<Bytes>) -> Result<(), UsageError> {
        let Some(n) = self.namespaces.iter_mut().find(|n| n.nsp == *nsp) else {
            return Err(UsageError::NotConnected(nsp.to_string()));
        };
        if n.state != NsState::Idle {
            return Err(UsageError::InvalidState("CONNECT already sent"));
        }
        let engine = self
            .engine
            .as_mut()
            .filter(|e| e.is_open())
            .ok_or(UsageError::InvalidState("engine not open"))?;
        let p = Packet::connect(nsp.clone(), auth).encode();
        engine.send_frames(p.frames(), p.frame_count())?;
        n.state = NsState::Connecting;
        Ok(())
    }

    /// Disconnects the socket of `nsp` (socket `disconnect()`): DISCONNECT is sent if it was
    /// connected, it is no longer reconnected, and when no namespace is left the Engine.IO
    /// session closes for good.
    pub fn disconnect(&mut self, now: Instant, nsp: &Nsp) {
        let Some(i) = self.namespaces.iter().position(|n| n.nsp == *nsp) else {
            return;
        };
        let n = self.namespaces.remove(i);
        if n.state == NsState::Connected {
            if let Some(e) = self.engine.as_mut() {
                let p = Packet::disconnect(nsp.clone()).encode();
                let _ = e.send_frames(p.frames(), p.frame_count());
            }
        }
        self.drop_acks(nsp);
        self.events.push_back(Event::Disconnected {
            nsp: nsp.clone(),
            reason: DisconnectReason::IoClientDisconnect,
        });
        if self.namespaces.is_empty() {
            self.close(now);
        }
    }

    /// Closes the manager: no reconnection until [`Manager::open`] is called again.
    pub fn close(&mut self, _now: Instant) {
        self.skip_reconnect = true;
        self.reconnect_at = None;
        self.reconnecting = false;
        self.reopen = false;
        for n in &mut self.namespaces {
            if n.state == NsState::Connected {
                self.events.push_back(Event::Disconnected {
                    nsp: n.nsp.clone(),
                    reason: DisconnectReason::IoClientDisconnect,
                });
            }
            n.state = NsState::Idle;
        }
        if let Some(e) = self.engine.as_mut() {
            e.close();
            self.closing = !e.is_closed();
        }
        self.pump();
    }

    /// Emits a packet on `nsp`: sent at once when the namespace is connected, otherwise
    /// buffered until it is (bounded by `max_buffered`), or dropped when `volatile` (returns
    /// `Ok(false)` then). The packet is never sent twice.
    pub fn emit(
        &mut self,
        nsp: &Nsp,
        p: EncodedPacket,
        volatile: bool,
    ) -> Result<bool, UsageError> {
        let Some(n) = self.namespaces.iter_mut().find(|n| n.nsp == *nsp) else {
            return Err(UsageError::NotConnected(nsp.to_string()));
        };
        let engine = self.engine.as_mut().filter(|e| e.is_open());
        match (n.state, engine) {
            (NsState::Connected, Some(e)) => {
                if volatile && !e.is_writable() {
                    return Ok(false);
                }
                e.send_frames(p.frames(), p.frame_count())?;
                Ok(true)
            }
            _ if volatile => Ok(false),
            _ => {
                if n.buffer.len() >= self.config.max_buffered {
                    return Err(UsageError::QueueFull(self.config.max_buffered));
                }
                n.buffer.push_back(p);
                Ok(true)
            }
        }
    }

    /// Allocates the id for an event that asks for an ack.
    pub fn next_ack_id(&mut self) -> u64 {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        id
    }

    /// Emits an event packet carrying ack id `id` (from [`Manager::next_ack_id`]) and awaits
    /// the ack until `deadline` (`None`: forever). Buffered like [`Manager::emit`].
    pub fn emit_with_ack(
        &mut self,
        nsp: &Nsp,
        id: u64,
        p: EncodedPacket,
        deadline: Option<Instant>,
    ) -> Result<(), UsageError> {
        if self.acks.len() >= self.config.max_pending_acks {
            return Err(UsageError::TooManyPendingAcks(self.config.max_pending_acks));
        }
        self.emit(nsp, p, false)?;
        self.acks.insert((nsp.clone(), id), deadline);
        if let Some(t) = deadline {
            self.ack_deadlines.insert((t, nsp.clone(), id));
        }
        Ok(())
    }

    /// Stops waiting for an ack (for example when its future was dropped).
    pub fn forget_ack(&mut self, nsp: &Nsp, id: u64) {
        if let Some(Some(t)) = self.acks.remove(&(nsp.clone(), id)) {
            self.ack_deadlines.remove(&(t, nsp.clone(), id));
        }
    }

    /// Answers an event the server sent with an ack id.
    pub fn send_ack(
        &mut self,
        nsp: &Nsp,
        id: u64,
        data: Bytes,
        attachments: Vec<Bytes>,
    ) -> Result<(), UsageError> {
        let engine = self
            .engine
            .as_mut()
            .filter(|e| e.is_open())
            .ok_or(UsageError::Closed)?;
        let p = Packet::ack(nsp.clone(), id, data, attachments).encode();
        engine.send_frames(p.frames(), p.frame_count())
    }

    // ----- transport inputs, tagged with the generation they belong to -----

    /// The answer to a `GET` of session `generation`.
    pub fn handle_poll_response(
        &mut self,
        now: Instant,
        generation: u64,
        response: Result<(u16, Bytes), ()>,
    ) {
        if let Some(e) = self.current(generation) {
            e.handle_poll_response(now, response);
            self.pump_at(now);
        }
    }

    /// The answer to a `POST` of session `generation`.
    pub fn handle_post_response(&mut self, now: Instant, generation: u64, ok: bool) {
        if let Some(e) = self.current(generation) {
            e.handle_post_response(now, ok);
            self.pump_at(now);
        }
    }

    /// The websocket of session `generation` is open.
    pub fn handle_ws_open(&mut self, now: Instant, generation: u64) {
        if let Some(e) = self.current(generation) {
            e.handle_ws_open(now);
            self.pump_at(now);
        }
    }

    /// A websocket frame of session `generation`.
    pub fn handle_ws_frame(&mut self, now: Instant, generation: u64, frame: Frame) {
        if let Some(e) = self.current(generation) {
            e.handle_ws_frame(now, frame);
            self.pump_at(now);
        }
    }

    /// The websocket of session `generation` closed.
    pub fn handle_ws_closed(&mut self, now: Instant, generation: u64, error: bool) {
        if let Some(e) = self.current(generation) {
            e.handle_ws_closed(now, error);
            self.pump_at(now);
        }
    }

    /// Fires the timers due at `now`: Engine.IO heartbeat and handshake, ack deadlines,
    /// reconnection, the completion of a binary packet.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(e) = self.engine.as_mut() {
            e.handle_timeout(now);
        }
        self.pump_at(now);
        if self.attachments_deadline.is_some_and(|t| t <= now) {
            self.release_decoder();
            self.fail(CloseReason::ParseError);
            self.pump_at(now);
        }
        while let Some((t, _, _)) = self.ack_deadlines.first() {
            if *t > now {
                break;
            }
            let Some((_, nsp, id)) = self.ack_deadlines.pop_first() else {
                break;
            };
            self.acks.remove(&(nsp.clone(), id));
            self.events.push_back(Event::AckTimeout { nsp, id });
        }
        if self.reconnect_at.is_some_and(|t| t <= now) {
            self.reconnect_at = None;
            self.events
                .push_back(Event::ReconnectAttempt(self.backoff.attempts()));
            self.start_engine(now);
        }
    }

    /// The next instant at which [`Manager::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        crate::engine::earliest([
            self.engine.as_ref().and_then(|e| e.poll_timeout()),
            self.ack_deadlines.first().map(|(t, _, _)| *t),
            self.reconnect_at,
            self.attachments_deadline,
        ])
    }

    /// The next thing to do for the current session ([`Manager::generation`]).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.engine.as_mut()?.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn current(&mut self, generation: u64) -> Option<&mut ClientSession> {
        if generation != self.generation {
            return None;
        }
        self.engine.as_mut()
    }

    fn start_engine(&mut self, now: Instant) {
        self.closing = false;
        self.reopen = false;
        self.generation += 1;
        self.release_decoder();
        self.engine = Some(ClientSession::new(now, self.config.engine));
    }

    fn pump(&mut self) {
        // Commands that close the engine produce its events without a `now`; none of the
        // resulting work needs one except scheduling a reconnection, which `close` prevents.
        self.pump_inner(None);
    }

    fn pump_at(&mut self, now: Instant) {
        self.pump_inner(Some(now));
    }

    fn pump_inner(&mut self, now: Option<Instant>) {
        loop {
            let Some(e) = self.engine.as_mut().and_then(|e| e.poll_event()) else {
                return;
            };
            match e {
                eng::Event::Open(data) => {
                    if self.reconnecting {
                        self.reconnecting = false;
                        self.events
                            .push_back(Event::Reconnected(self.backoff.attempts()));
                    }
                    self.backoff.reset();
                    self.events.push_back(Event::Open(data));
                    for n in &mut self.namespaces {
                        n.state = NsState::Idle;
                        self.events
                            .push_back(Event::NamespaceReady { nsp: n.nsp.clone() });
                    }
                }
                eng::Event::Ping => self.events.push_back(Event::Ping),
                eng::Event::Upgraded => self.events.push_back(Event::Upgraded),
                eng::Event::Message(Message::Text(t)) => {
                    let r = self.decoder.decode_text(t);
                    self.on_decoded(now, r);
                }
                eng::Event::Message(Message::Binary(b)) => {
                    let r = self.decoder.decode_binary(b);
                    self.on_decoded(now, r);
                }
                eng::Event::OpenFailed(err) => {
                    if self.reconnecting {
                        self.events.push_back(Event::ReconnectError(err));
                    } else {
                        self.events.push_back(Event::Error(err));
                    }
                }
                eng::Event::Closed(reason) => self.on_engine_closed(now, reason),
            }
        }
    }

    fn on_engine_closed(&mut self, now: Option<Instant>, reason: CloseReason) {
        for n in &mut self.namespaces {
            if n.state == NsState::Connected {
                self.events.push_back(Event::Disconnected {
                    nsp: n.nsp.clone(),
                    reason: DisconnectReason::from(reason),
                });
            }
            n.state = NsState::Idle;
        }
        self.release_decoder();
        self.events.push_back(Event::Closed(reason));
        self.closing = false;
        if std::mem::take(&mut self.reopen) {
            if let Some(now) = now {
                self.skip_reconnect = false;
                self.start_engine(now);
                return;
            }
        }
        if self.skip_reconnect || !self.config.reconnection || self.namespaces.is_empty() {
            return;
        }
        let Some(now) = now else { return };
        if !self.backoff.can_retry() {
            self.reconnecting = false;
            self.events.push_back(Event::ReconnectFailed);
            self.backoff.reset();
            return;
        }
        let delay = self.backoff.next_delay(self.rng.next_f64());
        self.reconnecting = true;
        self.reconnect_at = Some(now + delay);
    }

    /// Drops a partly received binary packet and its timer.
    fn release_decoder(&mut self) {
        self.decoder.reset();
        self.attachments_deadline = None;
    }

    fn on_decoded(&mut self, now: Option<Instant>, r: Result<Option<Packet>, crate::DecodeError>) {
        // The completion timer runs from a binary packet's text part to its last attachment
        // (messages only arrive with a `now`: they come from transport inputs).
        self.attachments_deadline = match (self.attachments_deadline, now) {
            _ if !self.decoder.is_reassembling() => None,
            (Some(t), _) => Some(t),
            (None, now) => now.map(|now| now + self.config.decode.attachment_timeout),
        };
        match r {
            Ok(Some(p)) => self.on_packet(p),
            Ok(None) => {}
            Err(_) => self.fail(CloseReason::ParseError),
        }
    }

    /// A Socket.IO protocol failure: the Engine.IO session is closed with `reason`, whose
    /// `Closed` event the pump turns into disconnects and, if enabled, a reconnection.
    fn fail(&mut self, reason: CloseReason) {
        if let Some(e) = self.engine.as_mut() {
            e.fail(reason);
        }
    }

    fn on_packet(&mut self, p: Packet) {
        let Some(i) = self.namespaces.iter().position(|n| n.nsp == p.nsp) else {
            return;
        };
        match p.kind {
            PacketKind::Connect => {
                if self.namespaces[i].state != NsState::Connecting {
                    return;
                }
                let sid = serde_json::from_slice::<serde_json::Value>(&p.data)
                    .ok()
                    .and_then(|v| v.get("sid")?.as_str().map(str::to_owned));
                let Some(sid) = sid else {
                    return self.fail(CloseReason::ParseError);
                };
                let n = &mut self.namespaces[i];
                n.state = NsState::Connected;
                self.events.push_back(Event::Connected {
                    nsp: p.nsp.clone(),
                    sid,
                });
                let buffered: Vec<EncodedPacket> = n.buffer.drain(..).collect();
                if let Some(e) = self.engine.as_mut() {
                    for b in buffered {
                        let _ = e.send_frames(b.frames(), b.frame_count());
                    }
                }
            }
            PacketKind::ConnectError => {
                // The socket stays wanted but idle; Node does not retry it automatically.
                let n = self.namespaces.remove(i);
                self.events.push_back(Event::ConnectError {
                    nsp: n.nsp,
                    data: p.data,
                });
            }
            PacketKind::Disconnect => {
                let n = self.namespaces.remove(i);
                self.drop_acks(&n.nsp);
                if n.state == NsState::Connected {
                    self.events.push_back(Event::Disconnected {
                        nsp: n.nsp,
                        reason: DisconnectReason::IoServerDisconnect,
                    });
                }
                if self.namespaces.is_empty() {
                    self.skip_reconnect = true;
                    if let Some(e) = self.engine.as_mut() {
                        e.close();
                    }
                }
            }
            PacketKind::Event | PacketKind::BinaryEvent => {
                if self.namespaces[i].state == NsState::Connected {
                    self.events.push_back(Event::Event {
                        nsp: p.nsp.clone(),
                        packet: p,
                    });
                }
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                let Some(id) = p.id else { return };
                if let Some(deadline) = self.acks.remove(&(p.nsp.clone(), id)) {
                    if let Some(t) = deadline {
                        self.ack_deadlines.remove(&(t, p.nsp.clone(), id));
                    }
                    self.events.push_back(Event::Ack {
                        nsp: p.nsp.clone(),
                        packet: p,
                    });
                }
            }
        }
    }

    fn drop_acks(&mut self, nsp: &Nsp) {
        self.acks.retain(|(n, _), _| n != nsp);
        self.ack_deadlines.retain(|(_, n, _)| n != nsp);
    }
}
