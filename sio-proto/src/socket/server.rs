//! The server side of one Socket.IO connection: an Engine.IO [`ServerSession`] plus the
//! namespaces the client joined on it, the ack bookkeeping and the connect timeout.
//!
//! # Drive loop
//!
//! Exactly as for the Engine.IO session (see [`crate::engine::server`]): feed one [`Input`]
//! (the Engine.IO session's) to [`Connection::handle`], then drain
//! [`Connection::poll_transmit`] and [`Connection::poll_event`] until both are empty, and
//! sleep until [`Connection::poll_timeout`]. The connection drains its Engine.IO session
//! itself (the layers compose by draining).
//!
//! Decisions that belong to the application come out as events and go back in as commands: a
//! [`Event::Connect`] is answered with [`Connection::accept`] (after middleware) or
//! [`Connection::reject`]; an [`Event::Event`] with an ack id is answered with
//! [`Connection::send_ack`].
//!
//! # Socket.IO v2 clients
//!
//! Over an Engine.IO v3 session (see [`crate::engine::v3`]) the connection speaks Socket.IO
//! protocol v4, as Node does for such clients: the main namespace is joined without a CONNECT
//! (an [`Event::Connect`] for `/` comes at once, and no connect timeout runs); a CONNECT
//! carries its query in the namespace (`/chat?token=x`), given as the auth object
//! `{"token":"x"}`; the CONNECT reply has no payload; CONNECT_ERROR carries the error's data
//! or its message as it is.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::acks::AckTable;
use super::msgpack::Parser;
use super::packet::{DecodeLimits, Decoder, EncodedPacket, Nsp, Packet, PacketKind};
use super::DisconnectReason;
use crate::engine::server::{self as eng, ServerSession, Transmit};
pub use crate::engine::server::{Input, Reply};
use crate::engine::{CloseReason, Message, Protocol};
use crate::error::UsageError;
use crate::timer::{TimerKind, TimerTable};

/// Socket.IO server settings for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Time the client has to join a namespace before the connection is closed (Node
    /// `connectTimeout`, 45 s).
    pub connect_timeout: Duration,
    /// Bound on acks this server awaits on one connection (default 1024): over it, an emit
    /// with an ack is refused with [`UsageError::TooManyPendingAcks`].
    pub max_pending_acks: usize,
    /// Bound on namespaces one connection may join (default 64). It also bounds the namespace
    /// control replies (CONNECT, CONNECT_ERROR, DISCONNECT), which are queued beyond the
    /// Engine.IO `max_queue` so that a decision is never lost to a full queue: a CONNECT that
    /// arrives while the outbound queue holds `max_queue + max_namespaces` frames (a client
    /// asking without reading the answers) closes the connection.
    pub max_namespaces: usize,
    /// Decoder limits: attachments per packet, their total bytes, and the time a binary
    /// packet has to complete (one of this connection's timers; past it the connection
    /// closes with `parse error`).
    pub decode: DecodeLimits,
    /// The parser (Node's `parser` option): the default one, or `socket.io-msgpack-parser`.
    /// Packets given to the connection are in the JSON form; it converts them.
    pub parser: Parser,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(45_000),
            max_pending_acks: 1024,
            max_namespaces: 64,
            decode: DecodeLimits::default(),
            parser: Parser::Json,
        }
    }
}

/// What happened on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The client asks to join `nsp`; answer with [`Connection::accept`] or
    /// [`Connection::reject`] (`Invalid namespace` for an unknown one).
    Connect {
        /// The namespace.
        nsp: Nsp,
        /// The auth payload as JSON text (empty when none was sent).
        auth: Bytes,
    },
    /// An event on a joined namespace; `packet.id` is set when the client wants an ack.
    Event {
        /// The namespace.
        nsp: Nsp,
        /// The EVENT or BINARY_EVENT packet, attachments included.
        packet: Packet,
    },
    /// The client answered an ack this server asked for.
    Ack {
        /// The namespace.
        nsp: Nsp,
        /// The ACK or BINARY_ACK packet (`packet.id` is the ack id).
        packet: Packet,
    },
    /// An ack this server asked for did not come before its deadline.
    AckTimeout {
        /// The namespace.
        nsp: Nsp,
        /// The ack id.
        id: u64,
    },
    /// The socket of `nsp` is disconnected.
    Disconnect {
        /// The namespace.
        nsp: Nsp,
        /// Why.
        reason: DisconnectReason,
    },
    /// The connection now uses the websocket.
    Upgraded,
    /// The connection is closed; all its sockets were disconnected before this event.
    Closed(CloseReason),
}

/// The connection's own timers (the Engine.IO session and the [`AckTable`] keep theirs), in
/// the order the ones due at the same call fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The binary packet being reassembled must be complete.
    Attachments,
    /// The client must have joined a namespace (`connect_timeout`).
    Connect,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[Timer::Attachments, Timer::Connect];
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
struct Namespace {
    nsp: Nsp,
    connected: bool,
}

/// One Socket.IO connection on the server (see the module docs).
#[derive(Debug)]
pub struct Connection {
    engine: ServerSession,
    /// Shared by a server's connections (one copy per server, not per connection).
    config: Arc<ConnectionConfig>,
    decoder: Decoder,
    namespaces: Vec<Namespace>,
    acks: AckTable<()>,
    timers: TimerTable<Timer, 2>,
    /// The time of the latest input (for what a command sets off, such as a close).
    last_input: Instant,
    events: VecDeque<Event>,
    closed: bool,
    /// The connection is being closed (by the application or after a violation): nothing the
    /// client still sends is delivered.
    closing: bool,
}

impl Connection {
    /// Wraps a new Engine.IO session.
    pub fn new(
        now: Instant,
        engine: ServerSession,
        config: impl Into<Arc<ConnectionConfig>>,
    ) -> Self {
        let config = config.into();
        let mut timers = TimerTable::default();
        let mut namespaces = Vec::new();
        let mut events = VecDeque::new();
        if engine.protocol() == Protocol::V3 {
            // Node joins the main namespace of a v2 client at once.
            namespaces.push(Namespace {
                nsp: Nsp::ROOT,
                connected: false,
            });
            events.push_back(Event::Connect {
                nsp: Nsp::ROOT,
                auth: Bytes::from_static(b"{}"),
            });
        } else {
            timers.set(Timer::Connect, now + config.connect_timeout);
        }
        Self {
            engine,
            decoder: Decoder::with_parser(config.decode, config.parser),
            namespaces,
            acks: AckTable::new(config.max_pending_acks),
            config,
            timers,
            last_input: now,
            events,
            closed: false,
            closing: false,
        }
    }

    /// The Engine.IO session.
    pub fn engine(&self) -> &ServerSession {
        &self.engine
    }

    /// The Engine.IO session id.
    pub fn sid(&self) -> &str {
        self.engine.sid()
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether `nsp` is joined.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.namespaces
            .iter()
            .any(|n| n.connected && n.nsp.as_str() == nsp)
    }

    /// Number of acks awaited.
    pub fn pending_acks(&self) -> usize {
        self.acks.len()
    }

    /// Bytes of binary attachments held for a packet not yet complete (at most
    /// [`DecodeLimits::max_attachment_bytes`]).
    pub fn buffered_attachment_bytes(&self) -> usize {
        self.decoder.buffered_bytes()
    }

    // ----- transport and clock inputs -----

    /// Feeds one input from the transport or the clock to the Engine.IO session and turns
    /// what it reports into Socket.IO events; [`Input::Timeout`] also fires the connection's
    /// timers (connect timeout, ack deadlines, the completion of a binary packet). The reply
    /// is the session's (see [`Input`]).
    pub fn handle(&mut self, now: Instant, input: Input) -> Reply {
        let timeout = matches!(input, Input::Timeout);
        let post_started = matches!(input, Input::PollPostStarted);
        let r = self.engine.handle(now, input);
        if post_started && r != Reply::None && !self.closed {
            // The session is closing with `transport error`: so are its sockets, at once.
            self.protocol_violation(now, CloseReason::TransportError);
        }
        self.pump(now);
        if timeout {
            self.fire_due(now);
        }
        r
    }

    /// Fires the connection's timers due at `now`, then the ack deadlines.
    fn fire_due(&mut self, now: Instant) {
        while !self.closed {
            let Some((timer, _)) = self.timers.pop_expired(now) else {
                break;
            };
            match timer {
                Timer::Attachments => {
                    // The attachments announced by a binary packet did not all come in time.
                    self.protocol_violation(now, CloseReason::ParseError);
                    self.pump(now);
                    return;
                }
                Timer::Connect => {
                    if !self.namespaces.iter().any(|n| n.connected) {
                        self.close(now, CloseReason::ForcedClose);
                        return;
                    }
                }
            }
        }
        if self.closed {
            return;
        }
        while let Some((nsp, id, ())) = self.acks.pop_expired(now) {
            self.events.push_back(Event::AckTimeout { nsp, id });
        }
    }

    /// The next instant at which [`Input::Timeout`] must be handled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        crate::engine::earliest([
            self.engine.poll_timeout(),
            self.timers.next(),
            self.acks.next_deadline(),
        ])
    }

    /// The next thing to write.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.engine.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        let e = self.events.pop_front();
        if e.is_none() && self.events.capacity() > 0 {
            // Events are large (a packet each) and usually come one or two at a time: an
            // idle connection should not keep a queue's worth of them allocated (measured:
            // about 1 KiB per connection). Re-allocating on the next event is cheap.
            self.events = VecDeque::new();
        }
        e
    }

    // ----- commands -----

    /// Accepts the pending CONNECT to `nsp`, giving the socket the id `socket_id`: the CONNECT
    /// reply is queued and the namespace is joined.
    ///
    /// The reply does not count against the outbound queue bound, so a full queue does not
    /// refuse it. Fails only with [`UsageError::Closed`] when the connection is closed or
    /// closing (its pending namespaces are gone then), or [`UsageError::InvalidState`] when no
    /// CONNECT to `nsp` is pending (never asked for, already answered, or withdrawn by the
    /// client). After a failure the namespace is neither joined nor pending.
    pub fn accept(&mut self, nsp: &Nsp, socket_id: &str) -> Result<(), UsageError> {
        self.accept_with_pid(nsp, socket_id, None)
    }

    /// [`Connection::accept`], the reply also giving the client its private id `pid` (with
    /// connection state recovery: [`super::recovery`]). Packets the socket missed are sent
    /// after it, with [`Connection::send_encoded`].
    pub fn accept_with_pid(
        &mut self,
        nsp: &Nsp,
        socket_id: &str,
        pid: Option<&str>,
    ) -> Result<(), UsageError> {
        if self.closing || self.closed {
            return Err(UsageError::Closed);
        }
        let Some(i) = self.pending_namespace(nsp) else {
            return Err(UsageError::InvalidState(
                "no pending CONNECT for this namespace",
            ));
        };
        let data = match (self.v2(), pid) {
            // Socket.IO v4's reply has no payload (and v2 clients know no recovery).
            (true, _) => None,
            (false, None) => Some(serde_json::json!({ "sid": socket_id })),
            (false, Some(pid)) => Some(serde_json::json!({ "sid": socket_id, "pid": pid })),
        }
        .map(|d| Bytes::from(d.to_string()));
        let p = self
            .config
            .parser
            .encode(&Packet::connect(nsp.clone(), data));
        // Joined only once the CONNECT reply is queued.
        if let Err(e) = self.send_control(&p) {
            self.namespaces.remove(i);
            return Err(e);
        }
        if let Some(n) = self.namespaces.get_mut(i) {
            n.connected = true;
        }
        Ok(())
    }

    /// Refuses the pending CONNECT to `nsp` with CONNECT_ERROR `{"message", "data"}` (to a v2
    /// client: `data`, or else `message`, as it is); the namespace is no longer pending.
    ///
    /// Like the CONNECT reply, CONNECT_ERROR does not count against the outbound queue bound.
    /// Fails only with [`UsageError::Closed`] when the connection is closed or closing, or
    /// [`UsageError::InvalidState`] when no CONNECT to `nsp` is pending.
    pub fn reject(
        &mut self,
        nsp: &Nsp,
        message: &str,
        data: Option<&serde_json::Value>,
    ) -> Result<(), UsageError> {
        let p = if self.v2() {
            // Node sends `err.data || err.message`: a falsy `data` gives the message.
            let falsy = |d: &&serde_json::Value| {
                matches!(d, serde_json::Value::Null | serde_json::Value::Bool(false))
                    || d.as_f64() == Some(0.0)
                    || d.as_str() == Some("")
            };
            let data = match data.filter(|d| !falsy(d)) {
                Some(d) => d.clone(),
                None => message.into(),
            };
            Packet::connect_error_v4(nsp.clone(), &data)
        } else {
            Packet::connect_error(nsp.clone(), message, data)
        };
        self.refuse(nsp, &p)
    }

    /// Refuses the pending CONNECT to `nsp`, a namespace that does not exist: CONNECT_ERROR
    /// `{"message":"Invalid namespace"}`, in that form for v2 clients too, as Node sends it.
    pub fn reject_invalid_namespace(&mut self, nsp: &Nsp) -> Result<(), UsageError> {
        let p = Packet::connect_error(nsp.clone(), "Invalid namespace", None);
        self.refuse(nsp, &p)
    }

    fn refuse(&mut self, nsp: &Nsp, p: &Packet) -> Result<(), UsageError> {
        if self.closing || self.closed {
            return Err(UsageError::Closed);
        }
        let Some(i) = self.pending_namespace(nsp) else {
            return Err(UsageError::InvalidState(
                "no pending CONNECT for this namespace",
            ));
        };
        self.namespaces.remove(i);
        self.send_control(&self.config.parser.encode(p))
    }

    /// The id a socket of `nsp` gets when the client is a Socket.IO v2 one (over Engine.IO v3),
    /// as Node gives it: the Engine.IO session id for `/`, `<nsp>#<session id>` otherwise.
    /// `None` for current clients, whose socket ids are drawn at random.
    pub fn v2_socket_id(&self, nsp: &Nsp) -> Option<String> {
        if !self.v2() {
            return None;
        }
        Some(if nsp.is_root() {
            self.sid().to_owned()
        } else {
            format!("{nsp}#{}", self.sid())
        })
    }

    /// Whether the client speaks Socket.IO v4 (a v2 client, over Engine.IO v3).
    fn v2(&self) -> bool {
        self.engine.protocol() == Protocol::V3
    }

    fn pending_namespace(&self, nsp: &Nsp) -> Option<usize> {
        self.namespaces
            .iter()
            .position(|n| !n.connected && n.nsp == *nsp)
    }

    /// Queues a namespace control packet (CONNECT, CONNECT_ERROR, DISCONNECT: text only)
    /// beyond the queue bound; they are bounded by `max_namespaces` (see [`ConnectionConfig`]).
    fn send_control(&mut self, p: &EncodedPacket) -> Result<(), UsageError> {
        self.engine.send_frames_unbounded(p.frames())
    }

    /// Queues an encoded packet (the same [`EncodedPacket`] may go to any number of
    /// connections). The namespace in it must be joined, unless it is a CONNECT/CONNECT_ERROR.
    ///
    /// A send over the Engine.IO queue bounds is refused and closes the connection (`send
    /// buffer full`): [`Event::Closed`] follows, after the sockets' disconnects.
    pub fn send_encoded(&mut self, p: &EncodedPacket) -> Result<(), UsageError> {
        let p = self
            .config
            .parser
            .convert(p)
            .ok_or(UsageError::InvalidState("not an encoded packet"))?;
        let r = self
            .engine
            .send_frames_with(p.frames(), p.frame_count(), !p.uncompressed);
        if r.is_err() {
            // The session may have closed: report it now, not at the next input.
            self.pump(self.last_input);
        }
        r
    }

    /// Queues `p` only if it can leave at once (volatile emit); returns whether it was sent.
    pub fn send_volatile(&mut self, p: &EncodedPacket) -> bool {
        self.engine.is_writable() && self.send_encoded(p).is_ok()
    }

    /// Sends an event packet that asks for an ack with id `id` (allocated by the caller: Node
    /// shares one counter per namespace, so that a broadcast with ack can use one encoding),
    /// and awaits the ack until `deadline` (`None`: forever).
    pub fn send_with_ack(
        &mut self,
        nsp: &Nsp,
        id: u64,
        p: &EncodedPacket,
        deadline: Option<Instant>,
    ) -> Result<(), UsageError> {
        if !self.is_connected(nsp) {
            return Err(UsageError::NotConnected(nsp.to_string()));
        }
        if self.acks.len() >= self.config.max_pending_acks {
            return Err(UsageError::TooManyPendingAcks(self.config.max_pending_acks));
        }
        self.send_encoded(p)?;
        self.acks.insert(nsp, id, deadline, ())
    }

    /// Answers an event that asked for an ack.
    pub fn send_ack(
        &mut self,
        nsp: &Nsp,
        id: u64,
        data: Bytes,
        attachments: Vec<Bytes>,
    ) -> Result<(), UsageError> {
        self.send_encoded(&Packet::ack(nsp.clone(), id, data, attachments).encode())
    }

    /// Disconnects the socket of `nsp` from the server side: DISCONNECT is sent, the socket is
    /// gone with `server namespace disconnect`. With `close`, the whole connection closes too.
    pub fn disconnect(&mut self, now: Instant, nsp: &Nsp, close: bool) {
        if let Some(i) = self
            .namespaces
            .iter()
            .position(|n| n.connected && n.nsp == *nsp)
        {
            // Fails only when the session is closed, and then the client needs no DISCONNECT.
            let p = self.config.parser.encode(&Packet::disconnect(nsp.clone()));
            let _ = self.send_control(&p);
            self.namespaces.remove(i);
            self.acks.drop_namespace(nsp);
            self.events.push_back(Event::Disconnect {
                nsp: nsp.clone(),
                reason: DisconnectReason::ServerNamespaceDisconnect,
            });
        }
        if close {
            self.close_with(
                now,
                CloseReason::ForcedClose,
                DisconnectReason::ForcedServerClose,
            );
        }
    }

    /// Closes the connection (`forced close` or `server shutting down`); every joined socket
    /// is disconnected with the matching reason.
    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        self.close_with(now, reason, DisconnectReason::from(reason));
    }

    fn close_with(&mut self, now: Instant, reason: CloseReason, sockets: DisconnectReason) {
        if self.closed {
            return;
        }
        self.closing = true;
        self.release_decoder();
        self.disconnect_all(sockets);
        self.engine.close(now, reason);
        self.pump(now);
    }

    /// Drops a partly received binary packet and its timer.
    fn release_decoder(&mut self) {
        self.decoder.reset();
        self.timers.stop(Timer::Attachments);
    }

    fn disconnect_all(&mut self, reason: DisconnectReason) {
        for n in self.namespaces.drain(..) {
            if n.connected {
                self.events
                    .push_back(Event::Disconnect { nsp: n.nsp, reason });
            }
        }
        self.acks.clear();
    }

    /// Drains the Engine.IO session's events into Socket.IO events.
    fn pump(&mut self, now: Instant) {
        self.last_input = now;
        while let Some(e) = self.engine.poll_event() {
            match e {
                // Once closing, nothing the client sends is decoded (nor buffered).
                eng::Event::Message(_) if self.closing || self.closed => {}
                eng::Event::Message(Message::Text(t)) => {
                    let r = self.decoder.decode_text(t);
                    self.on_decoded(now, r);
                }
                eng::Event::Message(Message::Binary(b)) => {
                    let r = self.decoder.decode_binary(b);
                    self.on_decoded(now, r);
                }
                eng::Event::Upgrading => {}
                eng::Event::Upgraded => self.events.push_back(Event::Upgraded),
                eng::Event::Closed(reason) => {
                    if !self.closed {
                        self.disconnect_all(DisconnectReason::from(reason));
                        self.closed = true;
                        self.timers.clear();
                        self.release_decoder();
                        self.events.push_back(Event::Closed(reason));
                    }
                }
            }
        }
    }

    fn on_decoded(&mut self, now: Instant, r: Result<Option<Packet>, crate::DecodeError>) {
        if self.closed || self.closing {
            return;
        }
        // The completion timer runs from a binary packet's text part to its last attachment.
        if !self.decoder.is_reassembling() {
            self.timers.stop(Timer::Attachments);
        } else if self.timers.get(Timer::Attachments).is_none() {
            self.timers.set(
                Timer::Attachments,
                now + self.config.decode.attachment_timeout,
            );
        }
        match r {
            Ok(Some(p)) => self.on_packet(now, p),
            Ok(None) => {}
            Err(_) => self.protocol_violation(now, CloseReason::ParseError),
        }
    }

    fn protocol_violation(&mut self, now: Instant, reason: CloseReason) {
        self.closing = true;
        self.release_decoder();
        self.disconnect_all(DisconnectReason::from(reason));
        self.engine.close(now, reason);
    }

    fn on_packet(&mut self, now: Instant, mut p: Packet) {
        if self.v2() && p.kind == PacketKind::Connect {
            match v2_connect(&p.nsp) {
                Some((nsp, auth)) => {
                    p.nsp = nsp;
                    p.data = auth;
                }
                None => return self.protocol_violation(now, CloseReason::ParseError),
            }
        }
        let state = self
            .namespaces
            .iter()
            .find(|n| n.nsp == p.nsp)
            .map(|n| n.connected);
        match (p.kind, state) {
            (PacketKind::Connect, None) => {
                // Each CONNECT gets a reply queued beyond the queue bound: bounded by the
                // namespaces pending at once, and by how far beyond the bound replies a client
                // does not read may pile up.
                let unread_bound =
                    (self.engine.config().max_queue).saturating_add(self.config.max_namespaces);
                if self.namespaces.len() >= self.config.max_namespaces
                    || self.engine.queued() >= unread_bound
                {
                    return self.protocol_violation(now, CloseReason::ForcedClose);
                }
                self.namespaces.push(Namespace {
                    nsp: p.nsp.clone(),
                    connected: false,
                });
                self.events.push_back(Event::Connect {
                    nsp: p.nsp,
                    auth: p.data,
                });
            }
            (PacketKind::Event | PacketKind::BinaryEvent, Some(true)) => {
                self.events.push_back(Event::Event {
                    nsp: p.nsp.clone(),
                    packet: p,
                });
            }
            (PacketKind::Ack | PacketKind::BinaryAck, Some(true)) => {
                let Some(id) = p.id else { return };
                if self.acks.remove(&p.nsp, id).is_some() {
                    self.events.push_back(Event::Ack {
                        nsp: p.nsp.clone(),
                        packet: p,
                    });
                }
                // An ack nobody waits for (late or unknown) is ignored, as in Node.
            }
            (PacketKind::Disconnect, Some(connected)) => {
                if let Some(i) = self.namespaces.iter().position(|n| n.nsp == p.nsp) {
                    self.namespaces.remove(i);
                }
                self.acks.drop_namespace(&p.nsp);
                if connected {
                    self.events.push_back(Event::Disconnect {
                        nsp: p.nsp,
                        reason: DisconnectReason::ClientNamespaceDisconnect,
                    });
                }
            }
            // Events before the namespace is joined, a second CONNECT, or packets only a
            // server sends: Node closes the connection.
            _ => self.protocol_violation(now, CloseReason::ForcedClose),
        }
    }
}

/// The namespace and auth object of a v2 client's CONNECT, whose namespace carries the query
/// (`/chat?token=x` gives `/chat` and `{"token":"x"}`; a repeated key gives an array, as
/// Node's query parser does). `None` for a namespace that is not valid once split.
fn v2_connect(nsp: &Nsp) -> Option<(Nsp, Bytes)> {
    let Some((path, query)) = nsp.as_str().split_once('?') else {
        return Some((nsp.clone(), Bytes::from_static(b"{}")));
    };
    let nsp = Nsp::new(path).ok()?;
    let mut auth = serde_json::Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let v = serde_json::Value::from(v.into_owned());
        match auth.get_mut(k.as_ref()) {
            None => {
                auth.insert(k.into_owned(), v);
            }
            Some(serde_json::Value::Array(a)) => a.push(v),
            Some(first) => *first = serde_json::Value::Array(vec![first.take(), v]),
        }
    }
    Some((
        nsp,
        Bytes::from(serde_json::Value::Object(auth).to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v2_connect_query_is_the_auth_object() {
        let nsp = Nsp::new("/chat?token=a%20b&x=1&x=2&y=c+d&empty").unwrap();
        let (nsp, auth) = v2_connect(&nsp).unwrap();
        assert_eq!(nsp.as_str(), "/chat");
        let auth: serde_json::Value = serde_json::from_slice(&auth).unwrap();
        assert_eq!(
            auth,
            serde_json::json!({"token": "a b", "x": ["1", "2"], "y": "c d", "empty": ""})
        );
        let (nsp, auth) = v2_connect(&Nsp::new("/news").unwrap()).unwrap();
        assert_eq!((nsp.as_str(), &auth[..]), ("/news", &b"{}"[..]));
        assert!(v2_connect(&Nsp::new("/?a=b").unwrap()).is_some());
        assert!(v2_connect(&Nsp::new("/a?b=1&c=2").unwrap()).is_some());
    }
}
