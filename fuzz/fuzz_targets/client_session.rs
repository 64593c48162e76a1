//! The Engine.IO client session (`engine::client::ClientSession`), driven as a runtime would by
//! an arbitrary sequence of server answers, websocket events, application commands and clock
//! steps.
//!
//! The harness answers only requests that are in flight and feeds websocket events only to a
//! websocket it was asked to open. After every input it drains `poll_transmit` and
//! `poll_event` and checks:
//! * nothing panics; exactly one `Closed`, and after it no event and no transmit, ever;
//!   `OpenFailed` only before `Open` and always followed by `Closed`; `Open` at most once and
//!   before any `Message`, `Ping` or `Upgraded`;
//! * at most one long-polling `GET` and one `POST` in flight, one websocket at a time; POST
//!   bodies and websocket frames decode; a POST body of several packets fits `maxPayload`;
//! * frames go only to an open websocket; no websocket is left open once the session closed;
//! * after `Input::Timeout` at `now` and the drain, `poll_timeout()` is `None` or after `now`;
//! * once the clock has run past the open timeout and the heartbeat deadline
//!   (`pingInterval + pingTimeout`) with no server input, the session is closed.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use common::{frames_of, Body, EnginePkt};
use libfuzzer_sys::fuzz_target;
use sio_proto::engine::client::{ClientConfig, ClientSession, Event, Input as CInput, Transmit};
use sio_proto::engine::packet::{decode_payload, encode_payload, OpenData};
use sio_proto::engine::{CloseReason, Frame, Message, Packet, TransportKind};

const OPEN_TIMEOUT: Duration = Duration::from_millis(2000);

#[derive(Debug, Arbitrary)]
struct OpenInput {
    sid: u8,
    websocket: bool,
    ping_interval: u16,
    ping_timeout: u16,
    max_payload: u16,
    /// Packets after the `open` in the same answer.
    then: Vec<EnginePkt>,
}

impl OpenInput {
    fn frames(&self) -> Vec<Frame> {
        let open = OpenData {
            sid: format!("sid{}", self.sid % 4),
            upgrades: if self.websocket {
                vec!["websocket".to_owned()]
            } else {
                Vec::new()
            },
            ping_interval: u64::from(self.ping_interval),
            ping_timeout: u64::from(self.ping_timeout),
            max_payload: u64::from(self.max_payload),
        };
        let mut frames = vec![open.to_packet().encode()];
        frames.extend(frames_of(&self.then));
        frames
    }
}

#[derive(Debug, Arbitrary)]
enum Answer {
    Open(OpenInput),
    Ok(Body),
    Status(u16, Vec<u8>),
    TransportError,
}

#[derive(Debug, Arbitrary)]
enum Step {
    PollResponse(Answer),
    PostResponse { ok: bool },
    WsOpen,
    WsOpenPacket(OpenInput),
    WsFrames(Vec<EnginePkt>),
    WsRaw { binary: bool, data: Vec<u8> },
    WsClosed { error: bool },
    SendText(String),
    SendBinary(Vec<u8>),
    SendFrames(u8),
    Close,
    Fail(u8),
    Advance(u16),
    SpuriousTimeout,
}

#[derive(Debug, Arbitrary)]
struct Input {
    websocket: bool,
    upgrade: bool,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ws {
    None,
    Connecting,
    Open,
}

struct Harness {
    s: ClientSession,
    now: Instant,
    gets: usize,
    posts: usize,
    ws: Ws,
    opened: Option<OpenData>,
    open_failed: bool,
    closed: bool,
}

impl Harness {
    fn drain(&mut self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.s.poll_transmit() {
                progress = true;
                assert!(!self.closed, "transmit {t:?} after Closed");
                self.on_transmit(t);
            }
            while let Some(e) = self.s.poll_event() {
                progress = true;
                self.on_event(e);
            }
            if !progress {
                break;
            }
        }
        assert_eq!(
            self.s.is_closed(),
            self.closed,
            "is_closed() vs Closed event"
        );
        assert!(
            !self.open_failed || self.closed,
            "OpenFailed without Closed"
        );
        if self.closed && !common::skip("ws-leak") {
            assert_eq!(self.ws, Ws::None, "websocket left open by a closed session");
        }
    }

    fn on_transmit(&mut self, t: Transmit) {
        match t {
            Transmit::PollGet { query } => {
                assert!(
                    query.starts_with("EIO=4&transport=polling"),
                    "GET query {query}"
                );
                if let Some(o) = self.s.handshake() {
                    assert!(
                        query.ends_with(&format!("&sid={}", o.sid)),
                        "GET query {query}"
                    );
                }
                self.gets += 1;
                assert!(self.gets <= 1, "two long-polling GETs in flight");
            }
            Transmit::PollPost { query, body } => {
                // The POST may be transmitted before the `Open` event is drained.
                let o = self
                    .s
                    .handshake()
                    .expect("POST before the handshake")
                    .clone();
                assert_eq!(query, format!("EIO=4&transport=polling&sid={}", o.sid));
                self.posts += 1;
                assert!(
                    self.posts <= 1 || common::skip("close-post"),
                    "two POSTs in flight"
                );
                let packets = decode_payload(body.clone(), usize::MAX).expect("POST body");
                assert!(
                    packets.len() == 1
                        || body.len() as u64 <= o.max_payload
                        || common::skip("close-post"),
                    "POST of {} packets, {} bytes, over maxPayload {}",
                    packets.len(),
                    body.len(),
                    o.max_payload
                );
            }
            Transmit::WsConnect { query } => {
                assert_eq!(self.ws, Ws::None, "second websocket");
                assert!(
                    query.starts_with("EIO=4&transport=websocket"),
                    "ws query {query}"
                );
                self.ws = Ws::Connecting;
            }
            Transmit::Ws(f) | Transmit::WsUncompressed(f) => {
                assert_eq!(self.ws, Ws::Open, "frame {f:?} on no open websocket");
                Packet::decode(f).expect("websocket frame");
            }
            Transmit::WsClose => self.ws = Ws::None,
        }
    }

    fn on_event(&mut self, e: Event) {
        assert!(!self.closed, "event {e:?} after Closed");
        match e {
            Event::Open(o) => {
                assert!(self.opened.is_none(), "second Open");
                assert!(!self.open_failed, "Open after OpenFailed");
                assert_eq!(self.s.handshake(), Some(&o));
                self.opened = Some(o);
            }
            Event::Message(_) | Event::Ping => {
                assert!(self.opened.is_some(), "{e:?} before Open");
            }
            Event::Upgraded => {
                assert!(self.opened.is_some(), "Upgraded before Open");
                assert_eq!(self.s.transport(), TransportKind::WebSocket);
            }
            Event::OpenFailed(_) => {
                assert!(self.opened.is_none(), "OpenFailed after Open");
                assert!(!self.open_failed, "second OpenFailed");
                self.open_failed = true;
            }
            Event::Closed(_) => self.closed = true,
        }
    }

    fn advance_to(&mut self, target: Instant) {
        for _ in 0..256 {
            match self.s.poll_timeout() {
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
        self.s.handle(now, CInput::Timeout);
        self.drain();
        if let Some(t) = self.s.poll_timeout() {
            assert!(
                t > now,
                "poll_timeout() {:?} before now after Input::Timeout at now",
                now - t
            );
        }
    }

    fn ws_frames(&mut self, frames: Vec<Frame>) {
        for f in frames {
            if self.ws != Ws::Open {
                break;
            }
            self.s.handle(self.now, CInput::WsFrame(f));
            self.drain();
        }
    }

    fn step(&mut self, step: &Step) {
        let now = self.now;
        match step {
            Step::PollResponse(a) => {
                if self.gets == 0 {
                    return;
                }
                self.gets -= 1;
                let r = match a {
                    Answer::Open(o) => Ok((200, encode_payload(&o.frames()))),
                    Answer::Ok(b) => Ok((200, b.bytes())),
                    Answer::Status(st, b) => Ok((*st, Bytes::copy_from_slice(b))),
                    Answer::TransportError => Err(()),
                };
                self.s.handle(now, CInput::PollResponse(r));
            }
            Step::PostResponse { ok } => {
                if self.posts == 0 {
                    return;
                }
                self.posts -= 1;
                self.s.handle(now, CInput::PostResponse { ok: *ok });
            }
            Step::WsOpen => {
                if self.ws == Ws::Connecting {
                    self.ws = Ws::Open;
                    self.s.handle(now, CInput::WsOpen);
                }
            }
            Step::WsOpenPacket(o) => self.ws_frames(o.frames()),
            Step::WsFrames(p) => self.ws_frames(frames_of(p)),
            Step::WsRaw { binary, data } => {
                let b = Bytes::copy_from_slice(data);
                self.ws_frames(vec![if *binary {
                    Frame::Binary(b)
                } else {
                    Frame::Text(b)
                }]);
            }
            Step::WsClosed { error } => {
                if self.ws != Ws::None {
                    self.ws = Ws::None;
                    self.s.handle(now, CInput::WsClosed { error: *error });
                }
            }
            Step::SendText(t) => {
                // A text message holding the record separator cannot travel over long-polling
                // (Engine.IO v4 does not escape it; Socket.IO's JSON never contains it raw).
                let r = self.s.send(Message::text(t.replace('\u{1e}', " ")));
                assert!(r.is_err() || !self.closed);
            }
            Step::SendBinary(b) => {
                let _ = self.s.send(Message::binary(b.clone()));
            }
            Step::SendFrames(n) => {
                let n = usize::from(n % 6);
                let frames = (0..n).map(|i| {
                    if i == 0 {
                        Frame::Text(Bytes::from_static(
                            b"451-[\"x\",{\"_placeholder\":true,\"num\":0}]",
                        ))
                    } else {
                        Frame::Binary(Bytes::from(vec![1u8; i]))
                    }
                });
                let _ = self.s.send_frames(frames, n);
            }
            Step::Close => self.s.close(),
            Step::Fail(r) => self.s.fail(match r % 3 {
                0 => CloseReason::ParseError,
                1 => CloseReason::TransportError,
                _ => CloseReason::ForcedClose,
            }),
            Step::Advance(ms) => self.advance_to(now + Duration::from_millis(u64::from(*ms))),
            Step::SpuriousTimeout => self.fire(now),
        }
        self.drain();
    }
}

fuzz_target!(|input: Input| {
    let config = ClientConfig {
        initial_transport: if input.websocket {
            TransportKind::WebSocket
        } else {
            TransportKind::Polling
        },
        upgrade: input.upgrade,
        open_timeout: OPEN_TIMEOUT,
        max_queue: 8,
        max_packets_per_payload: 16,
    };
    let start = Instant::now();
    let mut h = Harness {
        s: ClientSession::new(start, config),
        now: start,
        gets: 0,
        posts: 0,
        ws: Ws::None,
        opened: None,
        open_failed: false,
        closed: false,
    };
    h.drain();
    assert!(
        h.gets + usize::from(h.ws != Ws::None) == 1,
        "no handshake transmit"
    );

    for s in input.steps.iter().take(128) {
        h.step(s);
    }

    // No more server input: the open timeout or the heartbeat must end the session.
    let heartbeat = h.opened.as_ref().map_or(Duration::ZERO, |o| {
        Duration::from_millis(o.ping_interval + o.ping_timeout)
    });
    let deadline = h.now + OPEN_TIMEOUT.max(heartbeat);
    h.advance_to(deadline);
    assert!(
        h.closed,
        "client session still open after the heartbeat deadline"
    );
});
