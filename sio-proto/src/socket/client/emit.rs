//! Emits and acks of the client [`Manager`]: the namespaces' buffers (socket.io-client's
//! `sendBuffer`), the at-least-once retry queues (`_queue`), and which acks end how.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::event::{AckError, Event};
use super::Manager;
use crate::error::UsageError;
use crate::socket::packet::{EncodedPacket, Nsp, Packet};

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
pub(super) enum NsState {
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
pub(super) struct Namespace {
    pub(super) nsp: Nsp,
    pub(super) state: NsState,
    /// Emits waiting for the namespace to connect (`sendBuffer`), with their ack ids.
    pub(super) buffer: VecDeque<(EncodedPacket, Option<u64>)>,
    /// The retry queue (`_queue`) and how many tries its head had.
    pub(super) queue: VecDeque<QueuedEmit>,
    pub(super) tries: u32,
    /// The ack id of the head's try in flight.
    pub(super) in_flight: Option<u64>,
    /// Connection state recovery: the private id the server gave the socket, and the offset
    /// of the last event received, sent back in the next CONNECT.
    pub(super) pid: Option<String>,
    pub(super) offset: Option<String>,
    /// Events that came while the CONNECT was pending (a server recovering the socket sends
    /// the missed ones before its reply), delivered once it is connected.
    pub(super) received: VecDeque<Packet>,
}

impl Namespace {
    pub(super) fn new(nsp: Nsp, state: NsState) -> Self {
        Self {
            nsp,
            state,
            buffer: VecDeque::new(),
            queue: VecDeque::new(),
            tries: 0,
            in_flight: None,
            pid: None,
            offset: None,
            received: VecDeque::new(),
        }
    }

    pub(super) fn active(&self) -> bool {
        self.state != NsState::Inactive
    }
}

/// What the manager keeps about an awaited ack.
#[derive(Debug, Clone, Copy)]
pub(super) struct Awaited {
    /// The id the application knows the emit by.
    pub(super) request: u64,
    /// Whether the packet left (false while it waits in a buffer).
    pub(super) sent: bool,
    /// A try of the retry queue.
    pub(super) queued: bool,
}

impl Manager {
    /// Emits a packet on `nsp`: sent at once when the namespace is connected, otherwise
    /// buffered until it is (bounded by `max_buffered`), or dropped when `volatile` (returns
    /// `Ok(false)` then). The packet is never sent twice.
    pub fn emit(
        &mut self,
        nsp: &Nsp,
        p: EncodedPacket,
        volatile: bool,
    ) -> Result<bool, UsageError> {
        let p = self.to_wire(&p)?;
        if volatile {
            let connected = self.is_connected(nsp);
            let engine = self.engine.as_mut().filter(|e| e.is_open());
            return match engine {
                Some(e) if connected && e.is_writable() => {
                    e.send_frames_with(p.frames(), p.frame_count(), !p.uncompressed)?;
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

    /// Fires the ack deadlines due at `now`.
    pub(super) fn expire_acks(&mut self, now: Instant) {
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
    }

    /// Namespace `i` connected: its buffer leaves (`emitBuffered`), then its retry queue
    /// (`_drainQueue(true)`).
    pub(super) fn on_connected(&mut self, i: usize) {
        let n = &mut self.namespaces[i];
        let buffered = std::mem::take(&mut n.buffer);
        if let Some(e) = self.engine.as_mut() {
            for (b, ack) in buffered {
                let _ = e.send_frames_with(b.frames(), b.frame_count(), !b.uncompressed);
                if let Some(a) = ack.and_then(|id| self.acks.get_mut(&n.nsp, id)) {
                    a.sent = true;
                }
            }
        }
        self.drive_queue(i, true);
    }

    /// An ACK or BINARY_ACK on namespace `i`.
    pub(super) fn on_ack(&mut self, i: usize, p: Packet) {
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

    /// The namespace `nsp`, added (not wanted) if unknown, for emits to wait in.
    pub(super) fn index_or_insert(&mut self, nsp: &Nsp) -> usize {
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
    pub(super) fn collect_unused(&mut self) {
        self.namespaces
            .retain(|n| n.active() || !n.buffer.is_empty() || !n.queue.is_empty());
    }

    /// A packet in the JSON form as the parser sends it.
    pub(super) fn to_wire(&self, p: &EncodedPacket) -> Result<EncodedPacket, UsageError> {
        self.config
            .parser
            .convert(p)
            .map(std::borrow::Cow::into_owned)
            .ok_or(UsageError::InvalidState("not an encoded packet"))
    }

    /// Sends a packet if namespace `i` is connected (`Ok(true)`), buffers it otherwise.
    pub(super) fn send_or_buffer(
        &mut self,
        i: usize,
        p: EncodedPacket,
        ack: Option<u64>,
    ) -> Result<bool, UsageError> {
        let p = self.to_wire(&p)?;
        let n = &mut self.namespaces[i];
        match self.engine.as_mut().filter(|e| e.is_open()) {
            Some(e) if n.state == NsState::Connected => {
                e.send_frames_with(p.frames(), p.frame_count(), !p.uncompressed)?;
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
    pub(super) fn fail_sent_acks(&mut self, i: usize) {
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
    pub(super) fn try_failed(&mut self, i: usize, id: u64, err: AckError) {
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
    pub(super) fn finish_head(&mut self, i: usize, result: Result<Packet, AckError>) {
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
    pub(super) fn drive_queue(&mut self, i: usize, force: bool) {
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
            let p =
                self.config
                    .parser
                    .encode(&Packet::event(nsp.clone(), data, Some(id), attachments));
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
                    e.send_frames_with(p.frames(), p.frame_count(), !p.uncompressed)
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
}
