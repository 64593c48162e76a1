//! The client side of Socket.IO: a [`Manager`] owns one Engine.IO client session at a time,
//! multiplexes namespaces on it, keeps the acks it awaits, buffers emits made while a
//! namespace is not connected, runs the at-least-once retry queue of each namespace, and
//! reconnects with backoff after an unexpected close.
//!
//! # Drive loop
//!
//! As everywhere in this crate: feed one input ([`Manager::handle`] with an [`Input`], or a
//! command), then drain [`Manager::poll_transmit`] and [`Manager::poll_event`], then sleep
//! until [`Manager::poll_timeout`]. Every new Engine.IO session (the first and each
//! reconnection) starts with a handshake transmit; each transmit belongs to the session of
//! [`Manager::generation`] at the time it was drained, and inputs about an older session are
//! ignored by passing the generation back ([`Input::Engine`]).
//!
//! When the Engine.IO session opens, [`Event::NamespaceReady`] is emitted for each namespace
//! the application wants; the application answers with [`Manager::send_connect`] and the auth
//! payload (evaluated anew on every connection, as the Node client does with an auth function).
//!
//! # Emits and acks (socket.io-client's `Socket`)
//!
//! - [`Manager::emit`] and [`Manager::emit_with_ack`] send at once while the namespace is
//!   connected; otherwise the packet waits in the namespace's buffer (`sendBuffer`) until it
//!   connects, also while the application does not want the namespace (after `disconnect`,
//!   a refused CONNECT, or before `connect`). A volatile emit is dropped instead.
//! - [`Manager::emit_queued`] is socket.io-client's `retries` (`_addToQueue`/`_drainQueue`):
//!   one queued emit at a time is in flight, each try with a new ack id and its own deadline;
//!   a try that times out or is cut by a disconnection is sent again (on reconnection for the
//!   latter) until `1 + retries` tries were made, then the emit fails.
//! - Every awaited ack ends in exactly one [`Event::Ack`]: the answer, a timeout, or
//!   [`AckError::Disconnected`] when the socket is disconnected after the packet left (an ack
//!   of a packet still buffered keeps waiting, as in socket.io-client's `_clearAcks`).

mod emit;
mod event;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

pub use self::emit::QueuedEmit;
use self::emit::{Awaited, Namespace, NsState};
use self::event::parse_connect_error;
pub use self::event::{AckError, Event};
use super::acks::AckTable;
use super::backoff::{Backoff, BackoffConfig};
use super::packet::{DecodeLimits, Decoder, Nsp, Packet, PacketKind};
use super::DisconnectReason;
use crate::engine::client::{self as eng, ClientConfig, ClientSession, OpenError, Transmit};
use crate::engine::{CloseReason, Message};
use crate::error::UsageError;
use crate::id::IdGenerator;
use crate::timer::{TimerKind, TimerTable};

/// An input from the transport or the clock: what [`Manager::handle`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An input about the Engine.IO session of `generation` (the [`Manager::generation`] at
    /// the time its transmit was drained); ignored when that session is no longer the current
    /// one. A wrapped [`eng::Input::Timeout`] is [`Input::Timeout`], whatever the generation.
    Engine {
        /// The session the input is about.
        generation: u64,
        /// The input.
        input: eng::Input,
    },
    /// The instant returned by [`Manager::poll_timeout`] passed: fires every timer due
    /// (Engine.IO heartbeat and handshake, ack deadlines, reconnection, the completion of a
    /// binary packet).
    Timeout,
}

/// The manager's own timers (the Engine.IO session and the [`AckTable`] keep theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The binary packet being reassembled must be complete.
    Attachments,
    /// The next reconnection attempt.
    Reconnect,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[Timer::Attachments, Timer::Reconnect];
    fn index(self) -> usize {
        self as usize
    }
}

/// Manager settings (the Node client's manager options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ManagerConfig {
    /// Engine.IO settings (transports, upgrade, open timeout).
    pub engine: ClientConfig,
    /// Whether to reconnect after an unexpected close (Node `reconnection`, true).
    pub reconnection: bool,
    /// Backoff between attempts.
    pub backoff: BackoffConfig,
    /// Bound on emits buffered per namespace while it is not connected, and on the retry
    /// queue of each namespace (default 1024).
    pub max_buffered: usize,
    /// Bound on acks awaited at once (default 1024).
    pub max_pending_acks: usize,
    /// Decoder limits: attachments per packet, their total bytes, and the time a binary packet
    /// has to complete (one of the manager's timers; past it the session closes with
    /// `parse error`, like undecodable bytes, and reconnects as after any parse error).
    pub decode: DecodeLimits,
    /// The parser (socket.io-client's `parser` option): the default one, or
    /// `socket.io-msgpack-parser`. Packets given to the manager are in the JSON form; it
    /// converts them.
    pub parser: super::msgpack::Parser,
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
            parser: super::msgpack::Parser::Json,
        }
    }
}
/// The client's manager (see the module docs).
#[derive(Debug)]
pub struct Manager {
    config: ManagerConfig,
    engine: Option<ClientSession>,
    generation: u64,
    decoder: Decoder,
    namespaces: Vec<Namespace>,
    acks: AckTable<Awaited>,
    next_ack_id: u64,
    /// The time of the latest input (for the deadline of a try sent while draining).
    last_input: Option<Instant>,
    backoff: Backoff,
    rng: IdGenerator,
    timers: TimerTable<Timer, 2>,
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
            decoder: Decoder::with_parser(config.decode, config.parser),
            namespaces: Vec::new(),
            acks: AckTable::new(config.max_pending_acks),
            next_ack_id: 0,
            last_input: None,
            backoff: Backoff::new(config.backoff),
            rng,
            timers: TimerTable::default(),
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
        self.last_input = Some(now);
        if self.closing {
            self.reopen = true;
            return;
        }
        if self.engine.as_ref().is_some_and(|e| !e.is_closed()) {
            return;
        }
        self.skip_reconnect = false;
        self.timers.stop(Timer::Reconnect);
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
        self.timers.get(Timer::Reconnect).is_some()
    }

    /// Number of acks awaited (tries of the retry queues included, their waiting emits not).
    pub fn pending_acks(&self) -> usize {
        self.acks.len()
    }

    /// Adds a namespace the application wants (socket `connect()`); opens the manager if
    /// needed. When the engine is open, [`Event::NamespaceReady`] follows at once. Emits
    /// buffered while the namespace was not wanted are sent once it is connected.
    pub fn connect(&mut self, now: Instant, nsp: Nsp) {
        self.last_input = Some(now);
        match self.namespaces.iter_mut().find(|n| n.nsp == nsp) {
            Some(n) if !n.active() => n.state = NsState::Idle,
            Some(_) => {}
            None => self
                .namespaces
                .push(Namespace::new(nsp.clone(), NsState::Idle)),
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
                if self.timers.get(Timer::Reconnect).is_none() {
                    self.open(now);
                }
            }
        }
    }

    /// Sends the CONNECT for `nsp` with an optional auth object (JSON text).
    pub fn send_connect(&mut self, nsp: &Nsp, auth: Option<Bytes>) -> Result<(), UsageError> {
        let Some(i) = self.active_index(nsp) else {
            return Err(UsageError::NotConnected(nsp.to_string()));
        };
        if self.namespaces[i].state != NsState::Idle {
            return Err(UsageError::InvalidState("CONNECT already sent"));
        }
        let engine = self
            .engine
            .as_mut()
            .filter(|e| e.is_open())
            .ok_or(UsageError::InvalidState("engine not open"))?;
        let auth = recovery_auth(&self.namespaces[i], auth);
        let p = self
            .config
            .parser
            .encode(&Packet::connect(nsp.clone(), auth));
        engine.send_frames_with(p.frames(), p.frame_count(), !p.uncompressed)?;
        self.namespaces[i].received.clear();
        self.namespaces[i].state = NsState::Connecting;
        Ok(())
    }

    /// Disconnects the socket of `nsp` (socket `disconnect()`): DISCONNECT is sent if it was
    /// connected, it is no longer reconnected, and when no namespace is left the Engine.IO
    /// session closes for good. The acks of packets that left fail
    /// ([`AckError::Disconnected`]); buffered emits wait for a later [`Manager::connect`].
    pub fn disconnect(&mut self, now: Instant, nsp: &Nsp) {
        self.last_input = Some(now);
        let Some(i) = self.active_index(nsp) else {
            return;
        };
        let was = std::mem::replace(&mut self.namespaces[i].state, NsState::Inactive);
        if was == NsState::Connected {
            if let Some(e) = self.engine.as_mut() {
                let p = self.config.parser.encode(&Packet::disconnect(nsp.clone()));
                let _ = e.send_frames_with(p.frames(), p.frame_count(), !p.uncompressed);
            }
        }
        self.events.push_back(Event::Disconnected {
            nsp: nsp.clone(),
            reason: DisconnectReason::IoClientDisconnect,
        });
        self.fail_sent_acks(i);
        self.collect_unused();
        if !self.namespaces.iter().any(Namespace::active) {
            self.close(now);
        }
    }

    /// Closes the manager: no reconnection until [`Manager::open`] is called again.
    pub fn close(&mut self, now: Instant) {
        self.last_input = Some(now);
        for i in 0..self.namespaces.len() {
            let n = &mut self.namespaces[i];
            if !n.active() {
                continue;
            }
            let was = std::mem::replace(&mut n.state, NsState::Idle);
            if was == NsState::Connected {
                self.events.push_back(Event::Disconnected {
                    nsp: n.nsp.clone(),
                    reason: DisconnectReason::IoClientDisconnect,
                });
                self.fail_sent_acks(i);
            }
        }
        self.shut();
        self.pump();
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
        let p = self
            .config
            .parser
            .encode(&Packet::ack(nsp.clone(), id, data, attachments));
        engine.send_frames_with(p.frames(), p.frame_count(), !p.uncompressed)
    }

    // ----- transport and clock inputs -----

    /// Feeds one input from the transport or the clock (see [`Input`]).
    pub fn handle(&mut self, now: Instant, input: Input) {
        self.last_input = Some(now);
        match input {
            Input::Engine {
                input: eng::Input::Timeout,
                ..
            }
            | Input::Timeout => self.fire_due(now),
            Input::Engine { generation, input } => {
                if generation != self.generation {
                    return;
                }
                if let Some(e) = self.engine.as_mut() {
                    e.handle(now, input);
                    self.pump_at(now);
                }
            }
        }
    }

    /// Fires the timers due at `now`: the Engine.IO session's first, then the completion of a
    /// binary packet, the ack deadlines (a try of a retry queue is sent again), and the
    /// reconnection.
    fn fire_due(&mut self, now: Instant) {
        if let Some(e) = self.engine.as_mut() {
            e.handle(now, eng::Input::Timeout);
        }
        self.pump_at(now);
        // In [`Timer`] order, with the ack deadlines after the binary packet's completion and
        // before a reconnection (whose new session a try sent again would wait for).
        let mut acks_due = true;
        while let Some((timer, _)) = self.timers.pop_expired(now) {
            match timer {
                Timer::Attachments => {
                    self.release_decoder();
                    self.fail(CloseReason::ParseError);
                    self.pump_at(now);
                }
                Timer::Reconnect => {
                    self.expire_acks(now);
                    acks_due = false;
                    self.events
                        .push_back(Event::ReconnectAttempt(self.backoff.attempts()));
                    self.start_engine(now);
                }
            }
        }
        if acks_due {
            self.expire_acks(now);
        }
    }

    /// The next instant at which [`Input::Timeout`] must be handled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        crate::engine::earliest([
            self.engine.as_ref().and_then(|e| e.poll_timeout()),
            self.acks.next_deadline(),
            self.timers.next(),
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

    fn active_index(&self, nsp: &Nsp) -> Option<usize> {
        self.namespaces
            .iter()
            .position(|n| n.active() && n.nsp == *nsp)
    }

    fn start_engine(&mut self, now: Instant) {
        self.closing = false;
        self.reopen = false;
        self.generation += 1;
        self.release_decoder();
        self.engine = Some(ClientSession::new(now, self.config.engine));
    }

    /// No reconnection, and the engine closes (after its POST in flight, if any).
    fn shut(&mut self) {
        self.skip_reconnect = true;
        self.timers.stop(Timer::Reconnect);
        self.reconnecting = false;
        self.reopen = false;
        if let Some(e) = self.engine.as_mut() {
            e.close();
            self.closing = !e.is_closed();
        }
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
                self.collect_unused();
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
                    for n in self.namespaces.iter_mut().filter(|n| n.active()) {
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
                eng::Event::OpenFailed(err) => self.on_open_failed(err),
                eng::Event::Closed(reason) => self.on_engine_closed(now, reason),
            }
        }
    }

    /// The manager's `error` (or `reconnect_error`), and `connect_error` for every socket
    /// waiting for the connection (socket.io-client's `onerror`).
    fn on_open_failed(&mut self, err: OpenError) {
        let data = match &err {
            OpenError::Refused { status, body } => Some(serde_json::json!({
                "status": status,
                "body": serde_json::from_slice::<serde_json::Value>(body)
                    .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned().into()),
            })),
            _ => None,
        };
        let message = err.to_string();
        if self.reconnecting {
            self.events.push_back(Event::ReconnectError(err));
        } else {
            self.events.push_back(Event::Error(err));
        }
        for n in self.namespaces.iter().filter(|n| n.active()) {
            self.events.push_back(Event::ConnectError {
                nsp: n.nsp.clone(),
                message: message.clone(),
                data: data.clone(),
                refused: false,
            });
        }
    }

    fn on_engine_closed(&mut self, now: Option<Instant>, reason: CloseReason) {
        for i in 0..self.namespaces.len() {
            let n = &mut self.namespaces[i];
            if !n.active() {
                continue;
            }
            let was = std::mem::replace(&mut n.state, NsState::Idle);
            if was == NsState::Connected {
                self.events.push_back(Event::Disconnected {
                    nsp: n.nsp.clone(),
                    reason: DisconnectReason::from(reason),
                });
                self.fail_sent_acks(i);
            }
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
        let wanted = self.namespaces.iter().any(Namespace::active);
        if self.skip_reconnect || !self.config.reconnection || !wanted {
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
        self.timers.set(Timer::Reconnect, now + delay);
    }

    /// Drops a partly received binary packet and its timer.
    fn release_decoder(&mut self) {
        self.decoder.reset();
        self.timers.stop(Timer::Attachments);
    }

    fn on_decoded(&mut self, now: Option<Instant>, r: Result<Option<Packet>, crate::DecodeError>) {
        // The completion timer runs from a binary packet's text part to its last attachment
        // (messages only arrive with a `now`: they come from transport inputs).
        if !self.decoder.is_reassembling() {
            self.timers.stop(Timer::Attachments);
        } else if let (None, Some(now)) = (self.timers.get(Timer::Attachments), now) {
            self.timers.set(
                Timer::Attachments,
                now + self.config.decode.attachment_timeout,
            );
        }
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
        let Some(i) = self.active_index(&p.nsp) else {
            return;
        };
        match p.kind {
            PacketKind::Connect => {
                if self.namespaces[i].state != NsState::Connecting {
                    return;
                }
                let reply = serde_json::from_slice::<serde_json::Value>(&p.data).ok();
                let field = |k: &str| {
                    reply
                        .as_ref()
                        .and_then(|v| v.get(k)?.as_str().map(str::to_owned))
                };
                let (Some(sid), pid) = (field("sid"), field("pid")) else {
                    return self.fail(CloseReason::ParseError);
                };
                let n = &mut self.namespaces[i];
                // socket.io-client: recovered when the server gave back the same private id.
                let recovered = pid.is_some() && pid == n.pid;
                if !recovered {
                    n.offset = None;
                }
                n.pid = pid;
                n.state = NsState::Connected;
                let received = std::mem::take(&mut n.received);
                self.events.push_back(Event::Connected {
                    nsp: p.nsp.clone(),
                    sid,
                    recovered,
                });
                for e in received {
                    self.on_event(i, e);
                }
                self.on_connected(i);
            }
            PacketKind::ConnectError => {
                // The socket is no longer wanted; Node does not retry it automatically. Its
                // buffered emits and their acks wait for a later `connect`.
                self.namespaces[i].state = NsState::Inactive;
                let (message, data) = parse_connect_error(&p.data);
                self.events.push_back(Event::ConnectError {
                    nsp: p.nsp,
                    message,
                    data,
                    refused: true,
                });
                self.close_if_unused();
            }
            PacketKind::Disconnect => {
                let was = std::mem::replace(&mut self.namespaces[i].state, NsState::Inactive);
                if was == NsState::Connected {
                    self.events.push_back(Event::Disconnected {
                        nsp: p.nsp,
                        reason: DisconnectReason::IoServerDisconnect,
                    });
                    self.fail_sent_acks(i);
                }
                self.close_if_unused();
            }
            PacketKind::Event | PacketKind::BinaryEvent => match self.namespaces[i].state {
                NsState::Connected => self.on_event(i, p),
                NsState::Connecting => {
                    let n = &mut self.namespaces[i];
                    if n.received.len() >= self.config.max_buffered {
                        // Not delivered, so not acknowledged by an offset either: a
                        // recovering connection gets them again.
                        return self.fail(CloseReason::ParseError);
                    }
                    n.received.push_back(p);
                }
                _ => {}
            },
            PacketKind::Ack | PacketKind::BinaryAck => self.on_ack(i, p),
        }
    }

    /// An event on connected namespace `i`: with recovery on (the socket has a private id),
    /// an event without ack id ends with its offset, which is kept and taken off the
    /// arguments.
    fn on_event(&mut self, i: usize, mut p: Packet) {
        let n = &mut self.namespaces[i];
        if n.pid.is_some() && p.id.is_none() {
            if let Some((data, offset)) = super::recovery::split_offset(&p.data) {
                p.data = data;
                n.offset = Some(offset);
            }
        }
        self.events.push_back(Event::Event {
            nsp: p.nsp.clone(),
            packet: p,
        });
    }

    /// As in Node, the connection closes when no socket wants it any more.
    fn close_if_unused(&mut self) {
        if !self.namespaces.iter().any(Namespace::active) {
            self.shut();
        }
    }
}

/// The CONNECT payload of a socket that may be recovered: its auth with `pid` and `offset`
/// (socket.io-client: `{pid, offset, ...auth}`, the auth's own keys win).
fn recovery_auth(n: &Namespace, auth: Option<Bytes>) -> Option<Bytes> {
    let Some(pid) = &n.pid else { return auth };
    let mut obj = serde_json::Map::new();
    obj.insert("pid".into(), pid.as_str().into());
    if let Some(o) = &n.offset {
        obj.insert("offset".into(), o.as_str().into());
    }
    match auth
        .as_deref()
        .map(serde_json::from_slice::<serde_json::Value>)
    {
        None => {}
        Some(Ok(serde_json::Value::Object(m))) => obj.extend(m),
        // Not an object: sent as it is, without recovery.
        Some(_) => return auth,
    }
    serde_json::to_vec(&obj).ok().map(Bytes::from)
}
