//! The client side of Socket.IO: a [`Manager`] owns one Engine.IO client session at a time,
//! multiplexes namespaces on it, keeps the acks it awaits, buffers emits made while a
//! namespace is not connected, runs the at-least-once retry queue of each namespace, and
//! reconnects with backoff after an unexpected close.
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

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::acks::AckTable;
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
    /// Bound on emits buffered per namespace while it is not connected, and on the retry
    /// queue of each namespace (default 1024).
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
    /// Socket `connect_error`: the server refused the namespace (`refused`; the namespace is
    /// no longer wanted, and the connection closes when no namespace is), or the connection
    /// could not be established (the namespace stays wanted, reconnection goes on).
    ConnectError {
        /// The namespace.
        nsp: Nsp,
        /// The message (CONNECT_ERROR's `message`, or the connection error).
        message: String,
        /// CONNECT_ERROR's `data`, or `{"status", "body"}` of a refused handshake.
        data: Option<serde_json::Value>,
        /// Whether the server refused the namespace.
        refused: bool,
    },
    /// An event from the server; `packet.id` is set when the server wants an ack.
    Event {
        /// The namespace.
        nsp: Nsp,
        /// The packet.
        packet: Packet,
    },
    /// How an emit that asked for an ack ended: the server's ACK packet, or why none will
    /// come. Exactly one per [`Manager::emit_with_ack`] or [`Manager::emit_queued`] that
    /// returned `Ok` and was not forgotten.
    Ack {
        /// The namespace.
        nsp: Nsp,
        /// The id the emit was made with (for [`Manager::emit_queued`], [`QueuedEmit::id`],
        /// not the ack id of a try).
        id: u64,
        /// The ACK or BINARY_ACK packet, or why none will come.
        result: Result<Packet, AckError>,
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

/// Why an awaited ack will not come.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// No answer before the deadline (in the retry queue: none to the last try).
    #[error("ack timed out")]
    Timeout,
    /// The socket was disconnected after the packet left (in the retry queue: during the last
    /// try).
    #[error("socket disconnected before the ack")]
    Disconnected,
    /// A try of the retry queue could not be sent (too many acks awaited, or the Engine.IO
    /// queue is full).
    #[error("the emit could not be sent: {0}")]
    NotSent(UsageError),
}

/// An emit of the at-least-once retry queue (socket.io-client's `retries`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEmit {
    /// The id its [`Event::Ack`] carries (chosen by the application; each try gets its own
    /// ack id on the wire).
    pub id: u64,
    /// The JSON array of the event: its name, then its arguments (placeholders for the
    /// attachments).
    pub data: Bytes,
    /// The binary attachments.
    pub attachments: Vec<Bytes>,
    /// How long each try waits for its ack (`None`: until a disconnection).
    pub timeout: Option<Duration>,
    /// Tries after the first (socket.io-client's `retries`).
    pub retries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NsState {
    /// Not wanted (never connected, or ended by `disconnect`, the server or a refused
    /// CONNECT); kept while emits wait in its buffer or queue.
    Inactive,
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
    /// Emits waiting for the namespace to connect (`sendBuffer`), with their ack ids.
    buffer: VecDeque<(EncodedPacket, Option<u64>)>,
    /// The retry queue (`_queue`) and how many tries its head had.
    queue: VecDeque<QueuedEmit>,
    tries: u32,
    /// The ack id of the head's try in flight.
    in_flight: Option<u64>,
}

impl Namespace {
    fn new(nsp: Nsp, state: NsState) -> Self {
        Self {
            nsp,
            state,
            buffer: VecDeque::new(),
            queue: VecDeque::new(),
            tries: 0,
            in_flight: None,
        }
    }

    fn active(&self) -> bool {
        self.state != NsState::Inactive
    }
}

/// What the manager keeps about an awaited ack.
#[derive(Debug, Clone, Copy)]
struct Awaited {
    /// The id the application knows the emit by.
    request: u64,
    /// Whether the packet left (false while it waits in a buffer).
    sent: bool,
    /// A try of the retry queue.
    queued: bool,
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
            acks: AckTable::new(config.max_pending_acks),
            next_ack_id: 0,
            last_input: None,
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
        self.last_input = Some(now);
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
                if self.reconnect_at.is_none() {
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
        let p = Packet::connect(nsp.clone(), auth).encode();
        engine.send_frames(p.frames(), p.frame_count())?;
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
                let p = Packet::disconnect(nsp.clone()).encode();
                let _ = e.send_frames(p.frames(), p.frame_count());
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

    /// Emits a packet on `nsp`: sent at once when the namespace is connected, otherwise
    /// buffered until it is (bounded by `max_buffered`), or dropped when `volatile` (returns
    /// `Ok(false)` then). The packet is never sent twice.
    pub fn emit(
        &mut self,
        nsp: &Nsp,
        p: EncodedPacket,
        volatile: bool,
    ) -> Result<bool, UsageError> {
        if volatile {
            let connected = self.is_connected(nsp);
            let engine = self.engine.as_mut().filter(|e| e.is_open());
            return match engine {
                Some(e) if connected && e.is_writable() => {
                    e.send_frames(p.frames(), p.frame_count())?;
                    Ok(true)
                }
                _ => Ok(false),
            };
        }
        let i = self.index_or_insert(nsp);
        let r = self.send_or_buffer(i, p, None);
        self.collect_unused();
        r.map(|_| true)
    }

    /// Allocates the id for an event that asks for an ack.
    pub fn next_ack_id(&mut self) -> u64 {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        id
    }

    /// Emits an event packet carrying ack id `id` (from [`Manager::next_ack_id`]) and awaits
    /// the ack until `deadline` (`None`: forever); [`Event::Ack`] tells how it ended. Buffered
    /// like [`Manager::emit`]; a buffered packet whose deadline passes is not sent.
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
        if self.acks.contains(nsp, id) {
            return Err(UsageError::InvalidState("ack id already awaited"));
        }
        let i = self.index_or_insert(nsp);
        let r = self.send_or_buffer(i, p, Some(id));
        self.collect_unused();
        let sent = r?;
        let awaited = Awaited {
            request: id,
            sent,
            queued: false,
        };
        self.acks.insert(nsp, id, deadline, awaited)
    }

    /// Adds an emit to the retry queue of `nsp` (socket.io-client's `retries`; see the module
    /// docs); it is sent when every earlier one ended and the namespace is connected.
    /// [`Event::Ack`] with [`QueuedEmit::id`] tells how it ended. Fails with
    /// [`UsageError::QueueFull`] when `max_buffered` emits are queued.
    pub fn emit_queued(
        &mut self,
        now: Instant,
        nsp: &Nsp,
        emit: QueuedEmit,
    ) -> Result<(), UsageError> {
        self.last_input = Some(now);
        let i = self.index_or_insert(nsp);
        if self.namespaces[i].queue.len() >= self.config.max_buffered {
            self.collect_unused();
            return Err(UsageError::QueueFull(self.config.max_buffered));
        }
        self.namespaces[i].queue.push_back(emit);
        self.drive_queue(i, false);
        Ok(())
    }

    /// Stops waiting for the ack `id` of [`Manager::emit_with_ack`] (for example when its
    /// future was dropped): no [`Event::Ack`] for it. A buffered packet is still sent.
    pub fn forget_ack(&mut self, nsp: &Nsp, id: u64) {
        if self.acks.get_mut(nsp, id).is_some_and(|a| !a.queued) {
            self.acks.remove(nsp, id);
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
        if let Some(e) = self.current(now, generation) {
            e.handle_poll_response(now, response);
            self.pump_at(now);
        }
    }

    /// The answer to a `POST` of session `generation`.
    pub fn handle_post_response(&mut self, now: Instant, generation: u64, ok: bool) {
        if let Some(e) = self.current(now, generation) {
            e.handle_post_response(now, ok);
            self.pump_at(now);
        }
    }

    /// The websocket of session `generation` is open.
    pub fn handle_ws_open(&mut self, now: Instant, generation: u64) {
        if let Some(e) = self.current(now, generation) {
            e.handle_ws_open(now);
            self.pump_at(now);
        }
    }

    /// A websocket frame of session `generation`.
    pub fn handle_ws_frame(&mut self, now: Instant, generation: u64, frame: Frame) {
        if let Some(e) = self.current(now, generation) {
            e.handle_ws_frame(now, frame);
            self.pump_at(now);
        }
    }

    /// The websocket of session `generation` closed.
    pub fn handle_ws_closed(&mut self, now: Instant, generation: u64, error: bool) {
        if let Some(e) = self.current(now, generation) {
            e.handle_ws_closed(now, error);
            self.pump_at(now);
        }
    }

    /// Fires the timers due at `now`: Engine.IO heartbeat and handshake, ack deadlines (a
    /// try of a retry queue is sent again), reconnection, the completion of a binary packet.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_input = Some(now);
        if let Some(e) = self.engine.as_mut() {
            e.handle_timeout(now);
        }
        self.pump_at(now);
        if self.attachments_deadline.is_some_and(|t| t <= now) {
            self.release_decoder();
            self.fail(CloseReason::ParseError);
            self.pump_at(now);
        }
        while let Some((nsp, id, a)) = self.acks.pop_expired(now) {
            let Some(i) = self.namespaces.iter().position(|n| n.nsp == nsp) else {
                continue;
            };
            if a.queued {
                self.try_failed(i, id, AckError::Timeout);
                continue;
            }
            // As socket.io-client: a packet whose ack timed out is not sent any more.
            self.namespaces[i]
                .buffer
                .retain(|(_, ack)| *ack != Some(id));
            self.events.push_back(Event::Ack {
                nsp,
                id: a.request,
                result: Err(AckError::Timeout),
            });
        }
        self.collect_unused();
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
            self.acks.next_deadline(),
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

    fn current(&mut self, now: Instant, generation: u64) -> Option<&mut ClientSession> {
        self.last_input = Some(now);
        if generation != self.generation {
            return None;
        }
        self.engine.as_mut()
    }

    fn active_index(&self, nsp: &Nsp) -> Option<usize> {
        self.namespaces
            .iter()
            .position(|n| n.active() && n.nsp == *nsp)
    }

    /// The namespace `nsp`, added (not wanted) if unknown, for emits to wait in.
    fn index_or_insert(&mut self, nsp: &Nsp) -> usize {
        match self.namespaces.iter().position(|n| n.nsp == *nsp) {
            Some(i) => i,
            None => {
                self.namespaces
                    .push(Namespace::new(nsp.clone(), NsState::Inactive));
                self.namespaces.len() - 1
            }
        }
    }

    /// Forgets the namespaces nobody wants and no emit waits in.
    fn collect_unused(&mut self) {
        self.namespaces
            .retain(|n| n.active() || !n.buffer.is_empty() || !n.queue.is_empty());
    }

    /// Sends a packet if namespace `i` is connected (`Ok(true)`), buffers it otherwise.
    fn send_or_buffer(
        &mut self,
        i: usize,
        p: EncodedPacket,
        ack: Option<u64>,
    ) -> Result<bool, UsageError> {
        let n = &mut self.namespaces[i];
        match self.engine.as_mut().filter(|e| e.is_open()) {
            Some(e) if n.state == NsState::Connected => {
                e.send_frames(p.frames(), p.frame_count())?;
                Ok(true)
            }
            _ => {
                if n.buffer.len() >= self.config.max_buffered {
                    return Err(UsageError::QueueFull(self.config.max_buffered));
                }
                n.buffer.push_back((p, ack));
                Ok(false)
            }
        }
    }

    /// The socket of namespace `i` was disconnected: the acks of packets that left will not
    /// come (socket.io-client's `_clearAcks`).
    fn fail_sent_acks(&mut self, i: usize) {
        let nsp = self.namespaces[i].nsp.clone();
        for (id, a) in self.acks.take_where(&nsp, |a| a.sent) {
            if a.queued {
                self.try_failed(i, id, AckError::Disconnected);
            } else {
                self.events.push_back(Event::Ack {
                    nsp: nsp.clone(),
                    id: a.request,
                    result: Err(AckError::Disconnected),
                });
            }
        }
    }

    /// The try `id` of the retry queue of namespace `i` ended without an ack: the emit fails
    /// once its tries are used up, and the queue moves on (`_addToQueue`'s callback).
    fn try_failed(&mut self, i: usize, id: u64, err: AckError) {
        let n = &mut self.namespaces[i];
        if n.in_flight != Some(id) {
            return;
        }
        n.in_flight = None;
        if n.queue.front().is_some_and(|q| n.tries > q.retries) {
            self.finish_head(i, Err(err));
        }
        self.drive_queue(i, false);
    }

    /// The head of the retry queue of namespace `i` ended.
    fn finish_head(&mut self, i: usize, result: Result<Packet, AckError>) {
        let n = &mut self.namespaces[i];
        n.tries = 0;
        if let Some(q) = n.queue.pop_front() {
            self.events.push_back(Event::Ack {
                nsp: n.nsp.clone(),
                id: q.id,
                result,
            });
        }
    }

    /// Sends the head of the retry queue of namespace `i` when it is connected and nothing is
    /// in flight, or again with `force` (`_drainQueue`).
    fn drive_queue(&mut self, i: usize, force: bool) {
        let Some(now) = self.last_input else { return };
        loop {
            let n = &mut self.namespaces[i];
            if n.state != NsState::Connected || (n.in_flight.is_some() && !force) {
                return;
            }
            let Some(head) = n.queue.front() else { return };
            let (nsp, data, attachments) =
                (n.nsp.clone(), head.data.clone(), head.attachments.clone());
            let deadline = head.timeout.map(|d| now + d);
            let request = head.id;
            if let Some(old) = n.in_flight.take() {
                self.acks.remove(&nsp, old);
            }
            self.namespaces[i].tries += 1;
            let mut id = self.next_ack_id();
            while self.acks.contains(&nsp, id) {
                id = self.next_ack_id();
            }
            let p = Packet::event(nsp.clone(), data, Some(id), attachments).encode();
            let awaited = Awaited {
                request,
                sent: true,
                queued: true,
            };
            let sent = self
                .acks
                .insert(&nsp, id, deadline, awaited)
                .and_then(|()| {
                    let e = self.engine.as_mut().filter(|e| e.is_open());
                    let e = e.ok_or(UsageError::Closed)?;
                    e.send_frames(p.frames(), p.frame_count())
                });
            match sent {
                Ok(()) => {
                    self.namespaces[i].in_flight = Some(id);
                    return;
                }
                Err(e) => {
                    self.acks.remove(&nsp, id);
                    self.finish_head(i, Err(AckError::NotSent(e)));
                }
            }
        }
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
        self.reconnect_at = None;
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
        let Some(i) = self.active_index(&p.nsp) else {
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
                self.namespaces[i].state = NsState::Connected;
                self.events.push_back(Event::Connected {
                    nsp: p.nsp.clone(),
                    sid,
                });
                // `emitBuffered`, then `_drainQueue(true)`.
                let buffered = std::mem::take(&mut self.namespaces[i].buffer);
                if let Some(e) = self.engine.as_mut() {
                    for (b, ack) in buffered {
                        let _ = e.send_frames(b.frames(), b.frame_count());
                        if let Some(a) = ack.and_then(|id| self.acks.get_mut(&p.nsp, id)) {
                            a.sent = true;
                        }
                    }
                }
                self.drive_queue(i, true);
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
                let Some(a) = self.acks.remove(&p.nsp, id) else {
                    // An ack nobody waits for (late or unknown) is ignored, as in Node.
                    return;
                };
                if !a.queued {
                    self.events.push_back(Event::Ack {
                        nsp: p.nsp.clone(),
                        id: a.request,
                        result: Ok(p),
                    });
                } else if self.namespaces[i].in_flight == Some(id) {
                    self.namespaces[i].in_flight = None;
                    self.finish_head(i, Ok(p));
                    self.drive_queue(i, false);
                }
            }
        }
    }

    /// As in Node, the connection closes when no socket wants it any more.
    fn close_if_unused(&mut self) {
        if !self.namespaces.iter().any(Namespace::active) {
            self.shut();
        }
    }
}

/// The CONNECT_ERROR payload: `{"message": .., "data": ..}` (Socket.IO v5), or a string
/// (v4).
fn parse_connect_error(data: &[u8]) -> (String, Option<serde_json::Value>) {
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(serde_json::Value::Object(mut m)) => {
            let message = m
                .get("message")
                .and_then(|v| v.as_str())
                .unwrap_or("connect error")
                .to_owned();
            (message, m.remove("data"))
        }
        Ok(serde_json::Value::String(s)) => (s, None),
        _ => ("connect error".to_owned(), None),
    }
}
