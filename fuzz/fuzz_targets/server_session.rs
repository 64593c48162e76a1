//! The server side of one Socket.IO connection (`socket::server::Connection` over an Engine.IO
//! `ServerSession`), driven as a runtime would by an arbitrary sequence of transport inputs,
//! application commands and clock steps.
//!
//! The harness behaves like a correct runtime: long-polling requests only while the session is
//! on polling, websocket frames only on an open websocket, timers fired in order at their
//! instants. After every input it drains `poll_transmit` and `poll_event` and checks:
//! * nothing panics; exactly one `Closed`, and after it no event and no transmit, ever;
//! * a poll response only answers a held `GET`; its body, and every websocket frame, decodes
//!   (Engine.IO, then Socket.IO for messages); websocket frames only go to an open websocket;
//!   the first transmit is the `open` packet;
//! * the Socket.IO events follow the namespace life cycle: `Connect` for a namespace neither
//!   pending nor joined; `Event`/`Ack` only on a joined one; `Ack`/`AckTimeout` once per
//!   awaited ack; `Disconnect` only for a joined one; every socket disconnected before
//!   `Closed`; nothing from the client once the application closed the connection;
//! * `accept` and `reject` of a namespace fail only when the connection is closed or closing
//!   or nothing is pending for it (never for a full queue: a CONNECT that passed middleware
//!   is always answered), and a failed `accept` leaves the namespace not joined;
//! * the attachments buffered for an incomplete binary packet stay under
//!   `max_attachment_bytes`, and while any are buffered the completion timer is armed, at
//!   most `attachment_timeout` away; a closed connection buffers none;
//! * after `Input::Timeout` at `now` and the drain, `poll_timeout()` is `None` or after `now`;
//! * at the end, once the clock has run past the heartbeat deadline (`ping_interval +
//!   ping_timeout` after the last input) with no pong, the connection is closed.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use common::{frames_of, nsp_name, Body, EnginePkt};
use libfuzzer_sys::fuzz_target;
use sio_proto::engine::packet::decode_payload;
use sio_proto::engine::server::{
    EngineConfig, EngineServer, HttpResponse, Input as SInput, Method, Reply, Request, Route,
    SessionRequest, Transmit,
};
use sio_proto::engine::{CloseReason, Frame, Message, Packet as EPacket, TransportKind};
use sio_proto::socket::packet::{DecodeLimits, Decoder};
use sio_proto::socket::server::{Connection, ConnectionConfig, Event};
use sio_proto::socket::{Nsp, Packet};
use sio_proto::{IdGenerator, UsageError};

const PING_INTERVAL: Duration = Duration::from_millis(1000);
const PING_TIMEOUT: Duration = Duration::from_millis(1000);
const CLOSE_TIMEOUT: Duration = Duration::from_millis(1500);
const MAX_PENDING_ACKS: usize = 4;
const MAX_ATTACHMENT_BYTES: usize = 64;
const ATTACHMENT_TIMEOUT: Duration = Duration::from_millis(700);

#[derive(Debug, Arbitrary)]
struct RouteInput {
    method: u8,
    query: String,
    websocket_upgrade: bool,
    origin: Option<Vec<u8>>,
    known: Option<bool>,
}

#[derive(Debug, Arbitrary)]
enum Step {
    PollGet,
    PollPost(Body),
    PostStarted,
    PostAborted,
    PollAborted,
    WsOpen,
    WsFrames(Vec<EnginePkt>),
    WsRaw {
        binary: bool,
        data: Vec<u8>,
    },
    WsClosed {
        error: bool,
    },
    Accept(u8),
    Reject {
        nsp: u8,
        data: bool,
    },
    Emit {
        nsp: u8,
        bin: u8,
        volatile: bool,
    },
    EmitWithAck {
        nsp: u8,
        bin: u8,
        deadline_ms: Option<u16>,
    },
    SendAck {
        nsp: u8,
        id: u8,
        bin: u8,
    },
    Disconnect {
        nsp: u8,
        close: bool,
    },
    Close {
        shutting_down: bool,
    },
    Advance(u16),
    SpuriousTimeout,
}

#[derive(Debug, Arbitrary)]
struct Input {
    websocket: bool,
    route: Option<RouteInput>,
    steps: Vec<Step>,
}

fn server_packet(nsp: &Nsp, bin: u8, id: Option<u64>, ack: bool) -> Packet {
    let attachments: Vec<Bytes> = (0..bin % 4).map(|i| Bytes::from(vec![i; 3])).collect();
    let mut data = String::from(if ack { "[" } else { r#"["srv""# });
    for i in 0..attachments.len() {
        if i > 0 || !ack {
            data.push(',');
        }
        data.push_str(&format!(r#"{{"_placeholder":true,"num":{i}}}"#));
    }
    data.push(']');
    if ack {
        Packet::ack(nsp.clone(), id.unwrap_or(0), Bytes::from(data), attachments)
    } else {
        Packet::event(nsp.clone(), Bytes::from(data), id, attachments)
    }
}

struct Harness {
    conn: Connection,
    now: Instant,
    /// Whether a long-polling GET is held by the session.
    get_held: bool,
    /// Whether a long-polling POST was announced and has not ended.
    post_started: bool,
    /// Whether a websocket (the transport or an upgrade probe) is open.
    ws_open: bool,
    saw_open_packet: bool,
    closed: bool,
    app_closed: bool,
    pending: BTreeSet<Nsp>,
    connected: BTreeSet<Nsp>,
    awaited: BTreeSet<(Nsp, u64)>,
    next_ack: u64,
    /// The client's view of what the server sent (Socket.IO reassembly).
    client_decoder: Decoder,
}

impl Harness {
    fn on_server_frame(&mut self, f: Frame) {
        let p = EPacket::decode(f).expect("server frame must decode");
        if !self.saw_open_packet {
            assert!(
                matches!(p, EPacket::Open(_)),
                "first packet is {p:?}, not open"
            );
            self.saw_open_packet = true;
            return;
        }
        match p {
            EPacket::Message(Message::Text(t)) => {
                self.client_decoder
                    .decode_text(t)
                    .expect("server Socket.IO text must decode");
            }
            EPacket::Message(Message::Binary(b)) => {
                self.client_decoder
                    .decode_binary(b)
                    .expect("server attachment must be expected");
            }
            EPacket::Open(_) => panic!("second open packet"),
            _ => {}
        }
    }

    fn drain(&mut self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.conn.poll_transmit() {
                progress = true;
                assert!(!self.closed, "transmit {t:?} after Closed");
                match t {
                    Transmit::PollResponse(r) if r.status != 200 => {
                        assert!(self.get_held, "poll rejection without a held GET");
                        assert_eq!(r.status, 400);
                        self.get_held = false;
                    }
                    Transmit::PollResponse(r) => {
                        assert!(self.get_held, "poll response without a held GET");
                        self.get_held = false;
                        let packets =
                            decode_payload(r.body.clone(), usize::MAX).expect("poll response body");
                        for p in packets {
                            self.on_server_frame(p.encode());
                        }
                    }
                    Transmit::Ws(f) | Transmit::WsUncompressed(f) => {
                        assert!(self.ws_open, "websocket frame {f:?} with no websocket");
                        // `3probe` answers on the probe, outside the message stream.
                        if f != Frame::Text(Bytes::from_static(b"3probe")) {
                            self.on_server_frame(f);
                        }
                    }
                    Transmit::WsClose => self.ws_open = false,
                }
            }
            while let Some(e) = self.conn.poll_event() {
                progress = true;
                self.on_event(e);
            }
            if !progress {
                break;
            }
        }
        assert_eq!(
            self.conn.is_closed(),
            self.closed,
            "is_closed() vs Closed event"
        );
        for n in 0..common::NSPS.len() as u8 {
            let nsp = Nsp::new(nsp_name(n)).unwrap();
            assert_eq!(
                self.conn.is_connected(&nsp),
                self.connected.contains(&nsp),
                "is_connected({nsp:?}) vs the events"
            );
        }
        assert_eq!(
            self.conn.pending_acks(),
            self.awaited.len(),
            "pending_acks()"
        );
        let buffered = self.conn.buffered_attachment_bytes();
        assert!(
            buffered <= MAX_ATTACHMENT_BYTES,
            "{buffered} attachment bytes held"
        );
        if buffered > 0 {
            assert!(!self.closed, "attachments held by a closed connection");
            assert!(
                self.conn
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now + ATTACHMENT_TIMEOUT),
                "attachments held without their completion timer"
            );
        }
    }

    fn on_event(&mut self, e: Event) {
        assert!(!self.closed, "event {e:?} after Closed");
        match e {
            Event::Connect { nsp, .. } => {
                assert!(
                    !self.app_closed || common::skip("after-close"),
                    "Connect {nsp:?} after the application closed"
                );
                // A pending namespace may have been dropped by a client DISCONNECT (no event):
                // only a joined one must not be connected again.
                assert!(
                    !self.connected.contains(&nsp),
                    "second Connect for joined {nsp:?}"
                );
                self.pending.insert(nsp);
            }
            Event::Event { nsp, packet } => {
                assert!(
                    !self.app_closed || common::skip("after-close"),
                    "Event on {nsp:?} after the application closed"
                );
                assert!(self.connected.contains(&nsp), "Event on unjoined {nsp:?}");
                assert!(packet.kind.is_event());
                assert_eq!(packet.nsp, nsp);
            }
            Event::Ack { nsp, packet } => {
                assert!(
                    !self.app_closed || common::skip("after-close"),
                    "Ack on {nsp:?} after the application closed"
                );
                assert!(self.connected.contains(&nsp), "Ack on unjoined {nsp:?}");
                assert!(packet.kind.is_ack());
                let id = packet.id.expect("ack id");
                assert!(
                    self.awaited.remove(&(nsp.clone(), id)),
                    "Ack {id} on {nsp:?} nobody awaited"
                );
            }
            Event::AckTimeout { nsp, id } => {
                assert!(
                    self.awaited.remove(&(nsp.clone(), id)),
                    "AckTimeout {id} on {nsp:?} nobody awaited"
                );
            }
            Event::Disconnect { nsp, .. } => {
                assert!(
                    self.connected.remove(&nsp),
                    "Disconnect of unjoined {nsp:?}"
                );
                self.awaited.retain(|(n, _)| *n != nsp);
            }
            Event::Upgraded => {
                assert_eq!(self.conn.engine().transport(), TransportKind::WebSocket);
            }
            Event::Closed(_) => {
                assert!(
                    self.connected.is_empty(),
                    "Closed with sockets still joined: {:?}",
                    self.connected
                );
                self.closed = true;
                self.awaited.clear();
                self.pending.clear();
            }
        }
    }

    /// Fires the timers due up to `target`, each at its own instant, then sets the clock.
    fn advance_to(&mut self, target: Instant) {
        for _ in 0..256 {
            match self.conn.poll_timeout() {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    self.fire(self.now);
                }
                _ => {
                    self.now = self.now.max(target);
                    return;
                }
            }
        }
        panic!("timers keep firing without the clock moving");
    }

    fn fire(&mut self, now: Instant) {
        self.conn.handle(now, SInput::Timeout);
        self.drain();
        if let Some(t) = self.conn.poll_timeout() {
            assert!(
                t > now,
                "poll_timeout() is {:?} before now after Input::Timeout at now",
                now - t
            );
        }
    }

    fn polling(&self) -> bool {
        self.conn.engine().transport() == TransportKind::Polling
    }

    fn step(&mut self, s: &Step) {
        let now = self.now;
        match s {
            Step::PollGet => {
                if !self.polling() {
                    return;
                }
                let was_held = self.get_held;
                match self.conn.handle(now, SInput::PollGet) {
                    Reply::Held => {
                        assert!(!was_held || self.closed, "overlapping GET held");
                        self.get_held = true;
                    }
                    Reply::Http(r) if r.status == 200 => {
                        assert!(self.closed, "a GET answered at once on an open session");
                        assert_eq!(&r.body[..], b"6", "late GET answered with {r:?}");
                    }
                    Reply::Http(_) => {}
                    r => panic!("a GET replied {r:?}"),
                }
            }
            Step::PollPost(b) => {
                if self.polling() {
                    self.post_started = false;
                    let r = self.conn.handle(now, SInput::PollPost(b.bytes()));
                    assert!(
                        matches!(&r, Reply::Http(h) if matches!(h.status, 200 | 400 | 413)),
                        "POST reply {r:?}"
                    );
                }
            }
            Step::PostStarted => {
                if self.polling() {
                    // One POST at a time: a second one is refused (and closes the session).
                    let r = self.conn.handle(now, SInput::PollPostStarted);
                    if self.post_started {
                        assert_eq!(r, Reply::Http(HttpResponse::empty(400)));
                    } else {
                        assert_eq!(r, Reply::None, "a first POST refused");
                        self.post_started = true;
                    }
                }
            }
            Step::PostAborted => {
                if self.post_started {
                    self.post_started = false;
                    self.conn.handle(now, SInput::PollPostAborted);
                }
            }
            Step::PollAborted => {
                if self.get_held {
                    self.get_held = false;
                    self.conn.handle(now, SInput::PollAborted);
                }
            }
            Step::WsOpen => {
                if self.polling()
                    && !self.ws_open
                    && self.conn.handle(now, SInput::WsOpen) == Reply::None
                {
                    assert!(!self.closed, "websocket accepted by a closed session");
                    self.ws_open = true;
                }
            }
            Step::WsFrames(pkts) => {
                for f in frames_of(pkts) {
                    if !self.ws_open {
                        break;
                    }
                    self.conn.handle(now, SInput::WsFrame(f));
                    self.drain();
                }
            }
            Step::WsRaw { binary, data } => {
                if self.ws_open {
                    let b = Bytes::copy_from_slice(data);
                    let f = if *binary {
                        Frame::Binary(b)
                    } else {
                        Frame::Text(b)
                    };
                    self.conn.handle(now, SInput::WsFrame(f));
                }
            }
            Step::WsClosed { error } => {
                if self.ws_open {
                    self.ws_open = false;
                    self.conn.handle(now, SInput::WsClosed { error: *error });
                }
            }
            Step::Accept(n) => {
                let nsp = Nsp::new(nsp_name(*n)).unwrap();
                let was_joined = self.conn.is_connected(&nsp);
                match self.conn.accept(&nsp, "socket-id") {
                    Ok(()) => {
                        assert!(!was_joined, "accepted {nsp:?} twice");
                        assert!(
                            self.pending.remove(&nsp),
                            "accepted {nsp:?} without Connect"
                        );
                        self.connected.insert(nsp);
                    }
                    Err(e) => {
                        assert!(
                            matches!(e, UsageError::Closed | UsageError::InvalidState(_)),
                            "accept({nsp:?}) failed with {e}"
                        );
                        self.pending.remove(&nsp);
                        let joined = self.conn.is_connected(&nsp);
                        assert!(
                            joined == was_joined,
                            "accept({nsp:?}) failed ({e}) but joined the namespace"
                        );
                    }
                }
            }
            Step::Reject { nsp, data } => {
                let nsp = Nsp::new(nsp_name(*nsp)).unwrap();
                let d = serde_json::json!({ "why": 1 });
                if let Err(e) = self.conn.reject(&nsp, "nope", data.then_some(&d)) {
                    assert!(
                        matches!(e, UsageError::Closed | UsageError::InvalidState(_)),
                        "reject({nsp:?}) failed with {e}"
                    );
                }
                self.pending.remove(&nsp);
                assert!(!self.conn.is_connected(&nsp) || self.connected.contains(&nsp));
            }
            Step::Emit { nsp, bin, volatile } => {
                let nsp = Nsp::new(nsp_name(*nsp)).unwrap();
                if !self.connected.contains(&nsp) {
                    return;
                }
                let p = server_packet(&nsp, *bin, None, false).encode();
                if *volatile {
                    self.conn.send_volatile(&p);
                } else {
                    let _ = self.conn.send_encoded(&p);
                }
            }
            Step::EmitWithAck {
                nsp,
                bin,
                deadline_ms,
            } => {
                let nsp = Nsp::new(nsp_name(*nsp)).unwrap();
                let id = self.next_ack;
                self.next_ack += 1;
                let p = server_packet(&nsp, *bin, Some(id), false).encode();
                let deadline = deadline_ms.map(|ms| now + Duration::from_millis(u64::from(ms)));
                if self.conn.send_with_ack(&nsp, id, &p, deadline).is_ok() {
                    assert!(
                        self.connected.contains(&nsp),
                        "ack awaited on unjoined {nsp:?}"
                    );
                    assert!(self.awaited.len() < MAX_PENDING_ACKS, "pending ack bound");
                    self.awaited.insert((nsp, id));
                }
                // A send over the queue bounds closes the connection (`send buffer full`),
                // and its awaited acks go with it.
                let expected = if self.conn.is_closed() {
                    0
                } else {
                    self.awaited.len()
                };
                assert_eq!(self.conn.pending_acks(), expected, "pending_acks()");
            }
            Step::SendAck { nsp, id, bin } => {
                let nsp = Nsp::new(nsp_name(*nsp)).unwrap();
                if !self.connected.contains(&nsp) {
                    return;
                }
                let p = server_packet(&nsp, *bin, Some(u64::from(*id % 8)), true);
                let _ = self
                    .conn
                    .send_ack(&nsp, p.id.unwrap_or(0), p.data, p.attachments);
            }
            Step::Disconnect { nsp, close } => {
                let nsp = Nsp::new(nsp_name(*nsp)).unwrap();
                self.conn.disconnect(now, &nsp, *close);
                if *close {
                    self.app_closed = true;
                }
            }
            Step::Close { shutting_down } => {
                let reason = if *shutting_down {
                    CloseReason::ServerShuttingDown
                } else {
                    CloseReason::ForcedClose
                };
                self.conn.close(now, reason);
                self.app_closed = true;
            }
            Step::Advance(ms) => {
                self.advance_to(now + Duration::from_millis(u64::from(*ms)));
            }
            Step::SpuriousTimeout => self.fire(now),
        }
        self.drain();
    }
}

fn check_route(config: EngineConfig, now: Instant, r: &RouteInput) {
    let method = match r.method % 4 {
        0 => Method::Get,
        1 => Method::Post,
        2 => Method::Options,
        _ => Method::Other,
    };
    let req = Request {
        method,
        query: &r.query,
        websocket_upgrade: r.websocket_upgrade,
        origin: r.origin.as_deref(),
    };
    // With a known session, its id comes first in the query (the first occurrence wins).
    let mut server = EngineServer::new(config, IdGenerator::from_u64(7));
    let known = r.known;
    let query = match known {
        Some(ws) => {
            let sid = server
                .accept(now, TransportKind::Polling, ())
                .sid()
                .to_owned();
            if ws {
                server.upgraded(&sid);
            }
            format!("sid={sid}&{}", r.query)
        }
        None => r.query.clone(),
    };
    let req = Request {
        query: &query,
        ..req
    };
    let q = sio_proto::engine::server::Query::parse(&query);
    let route = server.route(now, &req);
    match route {
        Route::Handshake(h) => {
            let t = h.transport;
            assert_eq!(method, Method::Get);
            assert!(q.sid.is_none());
            // v3 is off by default.
            assert_eq!(q.eio, Some("4"));
            assert_eq!(h.protocol, sio_proto::engine::Protocol::V4);
            assert_eq!(q.transport, Some(t.as_str()));
            assert!(t == TransportKind::Polling || r.websocket_upgrade);
        }
        Route::Session { kind, handle: () } => {
            assert!(q.sid.is_some());
            // A websocket for an upgraded session still goes to it (which refuses it).
            assert!(
                known == Some(false) || kind == SessionRequest::WebSocket && known.is_some(),
                "session route for a non-polling session"
            );
            match kind {
                SessionRequest::PollGet => assert_eq!(method, Method::Get),
                SessionRequest::PollPost => assert_eq!(method, Method::Post),
                SessionRequest::WebSocket => assert!(r.websocket_upgrade),
            }
        }
        Route::Respond(e) => {
            // (No session was closed by its client: no `noop`, only errors.)
            assert_eq!(e.content_type, Some(HttpResponse::JSON));
            let v: serde_json::Value = serde_json::from_slice(&e.body).expect("error body JSON");
            let code = v["code"].as_u64().expect("error code");
            assert_eq!(e.status, if code == 4 { 403 } else { 400 });
        }
    }
}

fuzz_target!(|input: Input| {
    let config = EngineConfig {
        ping_interval: PING_INTERVAL,
        ping_timeout: PING_TIMEOUT,
        upgrade_timeout: Duration::from_millis(700),
        max_http_buffer_size: 512,
        max_queue: 16,
        max_packets_per_payload: 16,
        close_timeout: CLOSE_TIMEOUT,
        ..EngineConfig::default()
    };
    let mut server = EngineServer::new(config, IdGenerator::from_u64(1));
    let start = Instant::now();
    if let Some(r) = &input.route {
        check_route(config, start, r);
    }
    let transport = if input.websocket {
        TransportKind::WebSocket
    } else {
        TransportKind::Polling
    };
    let session = server.accept(start, transport, ());
    let conn_config = ConnectionConfig {
        connect_timeout: Duration::from_millis(3000),
        max_pending_acks: MAX_PENDING_ACKS,
        max_namespaces: 3,
        decode: DecodeLimits {
            max_attachments: 3,
            max_attachment_bytes: MAX_ATTACHMENT_BYTES,
            attachment_timeout: ATTACHMENT_TIMEOUT,
        },
        // The session model reads the JSON parser's text frames.
        parser: sio_proto::socket::Parser::Json,
    };
    let mut h = Harness {
        conn: Connection::new(start, session, conn_config),
        now: start,
        get_held: transport == TransportKind::Polling,
        post_started: false,
        ws_open: transport == TransportKind::WebSocket,
        saw_open_packet: false,
        closed: false,
        app_closed: false,
        pending: BTreeSet::new(),
        connected: BTreeSet::new(),
        awaited: BTreeSet::new(),
        next_ack: 0,
        client_decoder: Decoder::new(DecodeLimits {
            max_attachments: 16,
            ..DecodeLimits::default()
        }),
    };
    h.drain();
    assert!(h.saw_open_packet, "no open packet at the handshake");

    for s in input.steps.iter().take(128) {
        h.step(s);
    }

    // No more input: the heartbeat must end the connection.
    const _: () =
        assert!(CLOSE_TIMEOUT.as_millis() <= PING_INTERVAL.as_millis() + PING_TIMEOUT.as_millis());
    let deadline = h.now + PING_INTERVAL + PING_TIMEOUT;
    h.advance_to(deadline);
    assert!(
        h.closed,
        "still open {:?} after the heartbeat deadline; poll_timeout in {:?}",
        h.conn.engine(),
        h.conn
            .poll_timeout()
            .map(|t| t.saturating_duration_since(h.now))
    );
});
