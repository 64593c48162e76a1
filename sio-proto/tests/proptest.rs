//! Property tests: codec round-trips, payload framing, attachment reassembly independent of
//! chunking, and "any input sequence in increasing time never panics and the session ends by
//! its heartbeat deadline".

// The crate bans `Instant::now` (time is an argument); a test needs one origin for its clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde_json::Value;
use sio_proto::engine::packet::{decode_payload, encode_payload, payload_frame_len};
use sio_proto::engine::server::{
    EngineConfig, EngineServer, Event as EngineEvent, HttpResponse, Input as SInput, Reply,
    ServerSession, Transmit,
};
use sio_proto::engine::{CloseReason, Frame, Message, Packet as EnginePacket, TransportKind};
use sio_proto::socket::packet::{DecodeLimits, MAX_ACK_ID, RESERVED_EVENTS};
use sio_proto::socket::server::{Connection, ConnectionConfig, Event as SocketEvent};
use sio_proto::socket::{Decoder, Nsp, Packet, PacketKind};
use sio_proto::IdGenerator;

// ----- strategies -----

fn json_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap())
}

/// Simple JSON values (no nesting): what most emits carry.
fn simple_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e12f64..1.0e12).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn json_args() -> impl Strategy<Value = Vec<Value>> {
    vec(simple_json(), 0..5)
}

fn json_object() -> impl Strategy<Value = Value> {
    btree_map("[a-zA-Z_]{1,8}", simple_json(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// A namespace `/[a-z]{0,8}`; `/` is the main namespace.
fn namespace() -> impl Strategy<Value = Nsp> {
    "/[a-z]{0,8}".prop_map(|s| Nsp::new(&s).unwrap())
}

fn event_name() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("reserved event name", |s| {
        !RESERVED_EVENTS.contains(&s.as_str())
    })
}

fn ack_id() -> impl Strategy<Value = u64> {
    0..=MAX_ACK_ID
}

fn placeholder(num: usize) -> Value {
    serde_json::json!({ "_placeholder": true, "num": num })
}

fn attachments(max: usize) -> impl Strategy<Value = Vec<Bytes>> {
    vec(vec(any::<u8>(), 0..32).prop_map(Bytes::from), 1..=max)
}

/// The JSON of an event: the name, the arguments, then one placeholder per attachment.
fn event_data(name: String, args: Vec<Value>, attachments: usize) -> Bytes {
    let mut a = vec![Value::from(name)];
    a.extend(args);
    a.extend((0..attachments).map(placeholder));
    json_bytes(&Value::Array(a))
}

fn binary_event() -> impl Strategy<Value = Packet> {
    (
        namespace(),
        event_name(),
        json_args(),
        option::of(ack_id()),
        attachments(DecodeLimits::default().max_attachments),
    )
        .prop_map(|(nsp, name, args, id, att)| {
            let data = event_data(name, args, att.len());
            Packet::event(nsp, data, id, att)
        })
}

fn socket_packet() -> impl Strategy<Value = Packet> {
    let max = DecodeLimits::default().max_attachments;
    prop_oneof![
        (namespace(), option::of(json_object()))
            .prop_map(|(nsp, auth)| Packet::connect(nsp, auth.as_ref().map(json_bytes))),
        namespace().prop_map(Packet::disconnect),
        (namespace(), event_name(), json_args(), option::of(ack_id())).prop_map(
            |(nsp, name, args, id)| Packet::event(nsp, event_data(name, args, 0), id, vec![])
        ),
        (namespace(), ack_id(), json_args()).prop_map(|(nsp, id, args)| Packet::ack(
            nsp,
            id,
            json_bytes(&Value::Array(args)),
            vec![]
        )),
        (namespace(), any::<String>(), option::of(simple_json()))
            .prop_map(|(nsp, message, data)| Packet::connect_error(nsp, &message, data.as_ref())),
        binary_event(),
        (namespace(), ack_id(), json_args(), attachments(max)).prop_map(
            |(nsp, id, mut args, att)| {
                args.extend((0..att.len()).map(placeholder));
                Packet::ack(nsp, id, json_bytes(&Value::Array(args)), att)
            }
        ),
    ]
}

/// Text packet data; `no_separator` removes the long-polling record separator.
fn text(no_separator: bool) -> impl Strategy<Value = Bytes> {
    any::<String>().prop_map(move |s| {
        let s = if no_separator {
            s.replace('\u{1e}', "")
        } else {
            s
        };
        Bytes::from(s)
    })
}

fn engine_packet(no_separator: bool) -> impl Strategy<Value = EnginePacket> {
    prop_oneof![
        text(no_separator).prop_map(EnginePacket::Open),
        Just(EnginePacket::Close),
        text(no_separator).prop_map(EnginePacket::Ping),
        text(no_separator).prop_map(EnginePacket::Pong),
        text(no_separator).prop_map(|t| EnginePacket::Message(Message::Text(t))),
        vec(any::<u8>(), 0..64)
            .prop_map(|b| EnginePacket::Message(Message::Binary(Bytes::from(b)))),
        Just(EnginePacket::Upgrade),
        Just(EnginePacket::Noop),
    ]
}

// ----- codec round-trips -----

/// Encodes `p` to frames and decodes them back through the Engine.IO and Socket.IO layers.
fn socket_roundtrip(p: &Packet) -> Result<Packet, TestCaseError> {
    let mut decoder = Decoder::new(DecodeLimits::default());
    let mut out = None;
    let frames: Vec<Frame> = p.encode().frames().collect();
    prop_assert_eq!(frames.len(), 1 + p.attachments.len());
    for (i, f) in frames.into_iter().enumerate() {
        prop_assert!(out.is_none(), "packet complete before frame {}", i);
        out = match EnginePacket::decode(f).unwrap() {
            EnginePacket::Message(Message::Text(t)) => decoder.decode_text(t).unwrap(),
            EnginePacket::Message(Message::Binary(b)) => decoder.decode_binary(b).unwrap(),
            other => return Err(TestCaseError::fail(format!("not a message: {other:?}"))),
        };
    }
    prop_assert!(!decoder.is_reassembling());
    out.ok_or_else(|| TestCaseError::fail("packet never completed"))
}

proptest! {
    #[test]
    fn engine_packet_roundtrips_through_a_frame(p in engine_packet(false)) {
        prop_assert_eq!(EnginePacket::decode(p.encode()).unwrap(), p);
    }

    #[test]
    fn payload_framing_roundtrips(packets in vec(engine_packet(true), 1..20)) {
        let frames: Vec<Frame> = packets.iter().map(EnginePacket::encode).collect();
        let body = encode_payload(&frames);
        let expected_len = frames.iter().map(payload_frame_len).sum::<usize>() + frames.len() - 1;
        prop_assert_eq!(body.len(), expected_len);
        prop_assert_eq!(decode_payload(body, frames.len()).unwrap(), packets);
    }

    #[test]
    fn payload_over_the_packet_bound_is_refused(packets in vec(engine_packet(true), 2..20)) {
        let frames: Vec<Frame> = packets.iter().map(EnginePacket::encode).collect();
        let max = frames.len() - 1;
        prop_assert_eq!(
            decode_payload(encode_payload(&frames), max),
            Err(sio_proto::DecodeError::TooManyPackets(max))
        );
    }

    #[test]
    fn socket_packet_roundtrips(p in socket_packet()) {
        let back = socket_roundtrip(&p)?;
        prop_assert_eq!(&back, &p);
        if p.kind.is_binary() {
            prop_assert!(back.value().is_ok());
        }
    }

    #[test]
    fn event_name_survives_the_roundtrip(
        nsp in namespace(),
        name in event_name(),
        args in json_args(),
        id in option::of(ack_id()),
    ) {
        let p = Packet::event(nsp, event_data(name.clone(), args, 0), id, vec![]);
        let back = socket_roundtrip(&p)?;
        prop_assert_eq!(back.kind, PacketKind::Event);
        let got = back.event_name();
        prop_assert_eq!(got.as_deref(), Some(name.as_str()));
    }
}

// ----- attachment reassembly independent of chunking -----

fn drain_conn(c: &mut Connection) -> (Vec<Transmit>, Vec<SocketEvent>) {
    let mut t = Vec::new();
    while let Some(x) = c.poll_transmit() {
        t.push(x);
    }
    let mut e = Vec::new();
    while let Some(x) = c.poll_event() {
        e.push(x);
    }
    (t, e)
}

/// A server connection (polling, handshake answered) whose client joined `nsp`.
fn connected(t0: Instant, nsp: &Nsp) -> Result<Connection, TestCaseError> {
    let mut router = EngineServer::new(EngineConfig::default(), IdGenerator::from_u64(3));
    let session = router.accept(t0, TransportKind::Polling, ());
    let mut c = Connection::new(t0, session, ConnectionConfig::default());
    drain_conn(&mut c);
    let connect: Vec<Frame> = Packet::connect(nsp.clone(), None)
        .encode()
        .frames()
        .collect();
    prop_assert_eq!(
        c.handle(t0, SInput::PollPost(encode_payload(&connect))),
        Reply::Http(HttpResponse::ok())
    );
    prop_assert_eq!(
        drain_conn(&mut c).1,
        vec![SocketEvent::Connect {
            nsp: nsp.clone(),
            auth: Bytes::new()
        }]
    );
    c.accept(nsp, "socket-1").unwrap();
    drain_conn(&mut c);
    Ok(c)
}

fn upgrade(c: &mut Connection, now: Instant) -> Result<(), TestCaseError> {
    assert_eq!(c.handle(now, SInput::WsOpen), Reply::None);
    c.handle(
        now,
        SInput::WsFrame(Frame::Text(Bytes::from_static(b"2probe"))),
    );
    c.handle(now, SInput::WsFrame(Frame::Text(Bytes::from_static(b"5"))));
    prop_assert_eq!(drain_conn(c).1, vec![SocketEvent::Upgraded]);
    Ok(())
}

/// Sends `frames` in POST bodies, starting a new body after frame `i` when `cuts[i]`.
fn post_in_chunks(
    c: &mut Connection,
    now: Instant,
    frames: &[Frame],
    cuts: &[bool],
) -> Result<Vec<SocketEvent>, TestCaseError> {
    let mut events = Vec::new();
    let mut chunk = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        chunk.push(f.clone());
        if i + 1 == frames.len() || cuts.get(i).copied().unwrap_or(false) {
            let r = c.handle(now, SInput::PollPost(encode_payload(&chunk)));
            prop_assert_eq!(r, Reply::Http(HttpResponse::ok()));
            events.extend(drain_conn(c).1);
            chunk.clear();
        }
    }
    Ok(events)
}

#[derive(Debug, Clone, Copy)]
enum Delivery {
    /// Every frame in POST bodies.
    Polling,
    /// Every frame on the websocket, after an upgrade.
    WebSocket,
    /// The first `n` frames in POST bodies, the rest on the websocket after an upgrade.
    Mixed(usize),
}

fn delivery() -> impl Strategy<Value = Delivery> {
    prop_oneof![
        Just(Delivery::Polling),
        Just(Delivery::WebSocket),
        (1usize..12).prop_map(Delivery::Mixed),
    ]
}

proptest! {
    #[test]
    fn binary_event_reassembly_is_independent_of_chunking(
        p in binary_event(),
        how in delivery(),
        cuts in vec(any::<bool>(), 11),
    ) {
        let t0 = Instant::now();
        let mut c = connected(t0, &p.nsp)?;
        let frames: Vec<Frame> = p.encode().frames().collect();
        let mut events = Vec::new();
        match how {
            Delivery::Polling => events.extend(post_in_chunks(&mut c, t0, &frames, &cuts)?),
            Delivery::WebSocket => {
                upgrade(&mut c, t0)?;
                for f in &frames {
                    c.handle(t0, SInput::WsFrame(f.clone()));
                    events.extend(drain_conn(&mut c).1);
                }
            }
            Delivery::Mixed(n) => {
                let n = n.min(frames.len());
                events.extend(post_in_chunks(&mut c, t0, &frames[..n], &cuts)?);
                upgrade(&mut c, t0)?;
                for f in &frames[n..] {
                    c.handle(t0, SInput::WsFrame(f.clone()));
                    events.extend(drain_conn(&mut c).1);
                }
            }
        }
        prop_assert_eq!(
            events,
            vec![SocketEvent::Event { nsp: p.nsp.clone(), packet: p.clone() }]
        );
        prop_assert!(!c.is_closed());
    }
}

// ----- any input sequence ends by the heartbeat deadline -----

const CANNED_WS: &[&str] = &[
    "2probe", "5", "3", "4hello", "2probe", "5", "3", "1", "2", "6", "3probe",
];
const CANNED_POST: &[&str] = &[
    "3",
    "4a\x1e4b",
    "1",
    "bAQIDBA==",
    "2probe",
    "4x\x1e3",
    "6\x1e5",
];

#[derive(Debug, Clone)]
enum Input {
    PollGet,
    PollPost(Vec<u8>),
    PollPostCanned(usize),
    PollAborted,
    WsOpen,
    WsFrame {
        binary: bool,
        data: Vec<u8>,
    },
    WsFrameCanned(usize),
    WsClosed {
        error: bool,
    },
    Send {
        binary: bool,
    },
    Close {
        shutting_down: bool,
    },
    Step(u64),
    /// What a well-behaved client would do next (see [`Runtime::cooperate`]): keeps random
    /// sequences reaching the upgraded and heartbeat states.
    Cooperate(u8),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        1 => Just(Input::PollGet),
        1 => vec(any::<u8>(), 0..80).prop_map(Input::PollPost),
        2 => (0..CANNED_POST.len()).prop_map(Input::PollPostCanned),
        1 => Just(Input::PollAborted),
        1 => Just(Input::WsOpen),
        1 => (any::<bool>(), vec(any::<u8>(), 0..80))
            .prop_map(|(binary, data)| Input::WsFrame { binary, data }),
        2 => (0..CANNED_WS.len()).prop_map(Input::WsFrameCanned),
        1 => any::<bool>().prop_map(|error| Input::WsClosed { error }),
        2 => any::<bool>().prop_map(|binary| Input::Send { binary }),
        1 => any::<bool>().prop_map(|shutting_down| Input::Close { shutting_down }),
        4 => (0u64..100).prop_map(Input::Step),
        2 => (0u64..3_000).prop_map(Input::Step),
        3 => Just(Input::Cooperate(0)),
        5 => Just(Input::Cooperate(1)),
        3 => Just(Input::Cooperate(2)),
        2 => Just(Input::Cooperate(3)),
    ]
}

fn fuzz_config() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_millis(1_000),
        ping_timeout: Duration::from_millis(500),
        upgrade_timeout: Duration::from_millis(800),
        close_timeout: Duration::from_millis(2_000),
        max_http_buffer_size: 64,
        max_queue: 8,
        ..EngineConfig::default()
    }
}

/// What the runtime knows about the session's I/O.
struct Runtime {
    now: Instant,
    /// A long-polling `GET` waits for its answer.
    get_held: bool,
    /// A websocket (active or probing) is attached.
    ws_open: bool,
    /// `2probe` was sent on the attached websocket.
    probe_sent: bool,
    closed_events: usize,
}

impl Runtime {
    /// Drains the session, checking what the runtime can check; returns the number of
    /// transmits plus events.
    fn drain(&mut self, s: &mut ServerSession) -> Result<usize, TestCaseError> {
        let mut n = 0;
        while let Some(t) = s.poll_transmit() {
            n += 1;
            match t {
                Transmit::PollResponse(_) => {
                    prop_assert!(self.get_held, "a poll response with no GET held");
                    self.get_held = false;
                }
                Transmit::Ws(_) | Transmit::WsUncompressed(_) => {
                    prop_assert!(self.ws_open, "a frame with no websocket")
                }
                Transmit::WsClose => {
                    prop_assert!(self.ws_open, "WsClose with no websocket");
                    self.ws_open = false;
                    self.probe_sent = false;
                }
            }
        }
        while let Some(e) = s.poll_event() {
            n += 1;
            if let EngineEvent::Closed(_) = e {
                self.closed_events += 1;
                prop_assert!(!self.get_held, "closed with a GET left unanswered");
                prop_assert_eq!(s.poll_timeout(), None);
            }
        }
        prop_assert!(self.closed_events <= 1, "Closed seen twice");
        Ok(n)
    }

    fn fire_timers(&mut self, s: &mut ServerSession) -> Result<(), TestCaseError> {
        if s.poll_timeout().is_some_and(|t| t <= self.now) {
            s.handle(self.now, SInput::Timeout);
            if let Some(t) = s.poll_timeout() {
                prop_assert!(
                    t > self.now,
                    "poll_timeout not moved past now after Input::Timeout"
                );
            }
        }
        Ok(())
    }

    fn apply(&mut self, s: &mut ServerSession, input: &Input) -> Result<(), TestCaseError> {
        let now = self.now;
        match input {
            Input::PollGet => {
                if s.handle(now, SInput::PollGet) == Reply::Held {
                    prop_assert!(!self.get_held, "second GET held while one is pending");
                    self.get_held = true;
                }
            }
            Input::PollPost(body) => {
                s.handle(now, SInput::PollPost(Bytes::from(body.clone())));
            }
            Input::PollPostCanned(i) => {
                s.handle(
                    now,
                    SInput::PollPost(Bytes::from_static(CANNED_POST[*i].as_bytes())),
                );
            }
            Input::PollAborted => {
                if self.get_held {
                    self.get_held = false;
                    s.handle(now, SInput::PollAborted);
                }
            }
            Input::WsOpen => {
                self.ws_open_attempt(s)?;
            }
            Input::WsFrame { binary, data } => {
                if self.ws_open {
                    let data = Bytes::from(data.clone());
                    let f = if *binary {
                        Frame::Binary(data)
                    } else {
                        Frame::Text(data)
                    };
                    s.handle(now, SInput::WsFrame(f));
                }
            }
            Input::WsFrameCanned(i) => {
                if self.ws_open {
                    s.handle(
                        now,
                        SInput::WsFrame(Frame::Text(Bytes::from_static(CANNED_WS[*i].as_bytes()))),
                    );
                }
            }
            Input::WsClosed { error } => {
                if self.ws_open {
                    self.ws_open = false;
                    self.probe_sent = false;
                    s.handle(now, SInput::WsClosed { error: *error });
                }
            }
            Input::Send { binary } => {
                let m = if *binary {
                    Message::binary(vec![1u8, 2, 3])
                } else {
                    Message::text("server")
                };
                let _ = s.send(m);
            }
            Input::Close { shutting_down } => {
                let reason = if *shutting_down {
                    CloseReason::ServerShuttingDown
                } else {
                    CloseReason::ForcedClose
                };
                s.close(now, reason);
            }
            Input::Step(ms) => {
                self.now += Duration::from_millis(*ms);
                self.fire_timers(s)?;
            }
            Input::Cooperate(k) => self.cooperate(s, *k)?,
        }
        Ok(())
    }

    fn ws_open_attempt(&mut self, s: &mut ServerSession) -> Result<(), TestCaseError> {
        if s.handle(self.now, SInput::WsOpen) == Reply::None {
            prop_assert!(!self.ws_open, "a second websocket accepted");
            self.ws_open = true;
            self.probe_sent = false;
        }
        Ok(())
    }

    /// Sends `text` the way the client would: on the websocket once upgraded, else by POST.
    fn client_send(&mut self, s: &mut ServerSession, text: &'static str) {
        let data = Bytes::from_static(text.as_bytes());
        if s.transport() == TransportKind::WebSocket && self.ws_open {
            s.handle(self.now, SInput::WsFrame(Frame::Text(data)));
        } else if s.transport() == TransportKind::Polling {
            s.handle(self.now, SInput::PollPost(data));
        }
    }

    /// 0: pong; 1: the next upgrade step; 2: a long-poll GET if none is held; 3: a message.
    fn cooperate(&mut self, s: &mut ServerSession, k: u8) -> Result<(), TestCaseError> {
        match k {
            0 => self.client_send(s, "3"),
            1 if s.transport() == TransportKind::Polling => {
                if !self.ws_open {
                    self.ws_open_attempt(s)?;
                } else {
                    let text: &'static [u8] = if self.probe_sent { b"5" } else { b"2probe" };
                    self.probe_sent = true;
                    s.handle(
                        self.now,
                        SInput::WsFrame(Frame::Text(Bytes::from_static(text))),
                    );
                }
            }
            2 if !self.get_held => self.apply(s, &Input::PollGet)?,
            3 => self.client_send(s, "4hi"),
            _ => {}
        }
        Ok(())
    }
}

proptest! {
    #[test]
    fn any_input_sequence_ends_by_the_heartbeat_deadline(
        websocket_first in any::<bool>(),
        inputs in vec(input(), 0..60),
    ) {
        let t0 = Instant::now();
        let config = fuzz_config();
        let transport = if websocket_first { TransportKind::WebSocket } else { TransportKind::Polling };
        let mut s = EngineServer::new(config, IdGenerator::from_u64(5)).accept(t0, transport, ());
        let mut rt = Runtime {
            now: t0,
            get_held: !websocket_first,
            ws_open: websocket_first,
            probe_sent: false,
            closed_events: 0,
        };
        rt.drain(&mut s)?;

        for input in &inputs {
            let closed_before = rt.closed_events == 1;
            rt.apply(&mut s, input)?;
            let n = rt.drain(&mut s)?;
            if closed_before {
                prop_assert_eq!(n, 0, "output after Closed, on {:?}", input);
            }
        }

        // No more pongs: the session must close by the latest possible deadline.
        let end = rt.now;
        let bound = end
            + config.ping_interval
            + config.ping_timeout
            + config.upgrade_timeout
            + config.close_timeout;
        for _ in 0..100 {
            let Some(t) = s.poll_timeout() else { break };
            prop_assert!(t <= bound, "deadline {:?} after the bound", t - end);
            rt.now = rt.now.max(t);
            s.handle(rt.now, SInput::Timeout);
            if let Some(next) = s.poll_timeout() {
                prop_assert!(next > rt.now, "poll_timeout not moved past now after Input::Timeout");
            }
            rt.drain(&mut s)?;
        }
        prop_assert_eq!(s.poll_timeout(), None);
        prop_assert!(s.is_closed());
        prop_assert_eq!(rt.closed_events, 1);
    }
}
