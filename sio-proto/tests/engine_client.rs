//! The Engine.IO v4 client session driven directly: HTTP answers and websocket frames are
//! handed in by the test, time is virtual.

// The crate bans `Instant::now` (time is an argument); a test needs one origin for its clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use sio_proto::engine::client::{ClientConfig, ClientSession, Event, Input, OpenError, Transmit};
use sio_proto::engine::{CloseReason, Frame, Message, OpenData, TransportKind};
use sio_proto::UsageError;

const SID: &str = "lv_VI97HAXpY6yYWAAAC";

// ----- helpers -----

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn drain(c: &mut ClientSession) -> (Vec<Transmit>, Vec<Event>) {
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

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn frame(s: &str) -> Frame {
    Frame::Text(b(s))
}

fn ws(s: &str) -> Transmit {
    Transmit::Ws(frame(s))
}

fn poll_get() -> Transmit {
    Transmit::PollGet {
        query: format!("EIO=4&transport=polling&sid={SID}"),
    }
}

fn post(body: &str) -> Transmit {
    Transmit::PollPost {
        query: format!("EIO=4&transport=polling&sid={SID}"),
        body: b(body),
    }
}

fn ws_connect() -> Transmit {
    Transmit::WsConnect {
        query: format!("EIO=4&transport=websocket&sid={SID}"),
    }
}

fn open_data(upgrades: &[&str], max_payload: u64) -> OpenData {
    OpenData {
        sid: SID.to_owned(),
        upgrades: upgrades.iter().map(|s| s.to_string()).collect(),
        ping_interval: 25_000,
        ping_timeout: 20_000,
        max_payload,
    }
}

fn open_body(upgrades: &[&str], max_payload: u64) -> Bytes {
    let list = upgrades
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(",");
    b(&format!(
        r#"0{{"sid":"{SID}","upgrades":[{list}],"pingInterval":25000,"pingTimeout":20000,"maxPayload":{max_payload}}}"#
    ))
}

/// A polling client whose handshake completed at `t0` (the poll `GET` is in flight).
fn open_client(t0: Instant, config: ClientConfig, upgrades: &[&str]) -> ClientSession {
    let mut c = ClientSession::new(t0, config);
    drain(&mut c);
    c.handle(
        t0,
        Input::PollResponse(Ok((200, open_body(upgrades, 1_000_000)))),
    );
    let (_, e) = drain(&mut c);
    assert!(matches!(e.as_slice(), [Event::Open(_)]), "{e:?}");
    c
}

/// A client that has sent `2probe` on the upgrade websocket (the poll `GET` is in flight).
fn probing_client(t0: Instant) -> ClientSession {
    let mut c = open_client(t0, ClientConfig::default(), &["websocket"]);
    c.handle(t0, Input::WsOpen);
    assert_eq!(drain(&mut c), (vec![ws("2probe")], vec![]));
    c
}

/// A client that completed the upgrade at `t0`.
fn upgraded_client(t0: Instant) -> ClientSession {
    let mut c = probing_client(t0);
    c.handle(t0, Input::WsFrame(frame("3probe")));
    c.handle(t0, Input::PollResponse(Ok((200, b("6")))));
    assert_eq!(drain(&mut c), (vec![ws("5")], vec![Event::Upgraded]));
    c
}

// ----- handshake -----

#[test]
fn handshake_is_a_polling_get_with_eio_4() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    assert_eq!(
        drain(&mut c),
        (
            vec![Transmit::PollGet {
                query: "EIO=4&transport=polling".into()
            }],
            vec![]
        )
    );
    assert_eq!(c.poll_timeout(), Some(t0 + ms(20_000)));
    assert!(!c.is_open());
}

#[test]
fn websocket_only_handshake_is_a_ws_connect() {
    let t0 = Instant::now();
    let config = ClientConfig {
        initial_transport: TransportKind::WebSocket,
        ..ClientConfig::default()
    };
    let mut c = ClientSession::new(t0, config);
    assert_eq!(
        drain(&mut c).0,
        vec![Transmit::WsConnect {
            query: "EIO=4&transport=websocket".into()
        }]
    );
    c.handle(t0, Input::WsOpen);
    c.handle(t0, Input::WsFrame(Frame::Text(open_body(&[], 1_000_000))));
    assert_eq!(
        drain(&mut c),
        (vec![], vec![Event::Open(open_data(&[], 1_000_000))])
    );
    assert_eq!(c.transport(), TransportKind::WebSocket);
}

#[test]
fn open_emits_open_then_polls_and_probes_websocket() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    c.handle(
        t0 + ms(5),
        Input::PollResponse(Ok((200, open_body(&["websocket"], 1_000_000)))),
    );
    assert_eq!(
        drain(&mut c),
        (
            vec![ws_connect(), poll_get()],
            vec![Event::Open(open_data(&["websocket"], 1_000_000))]
        )
    );
    assert_eq!(c.sid(), Some(SID));
    assert!(c.is_open());
}

#[test]
fn open_without_offered_upgrade_does_not_probe() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    c.handle(
        t0,
        Input::PollResponse(Ok((200, open_body(&[], 1_000_000)))),
    );
    assert_eq!(drain(&mut c).0, vec![poll_get()]);
}

#[test]
fn upgrade_disabled_in_config_does_not_probe() {
    let t0 = Instant::now();
    let config = ClientConfig {
        upgrade: false,
        ..ClientConfig::default()
    };
    let mut c = ClientSession::new(t0, config);
    drain(&mut c);
    c.handle(
        t0,
        Input::PollResponse(Ok((200, open_body(&["websocket"], 1_000_000)))),
    );
    assert_eq!(drain(&mut c).0, vec![poll_get()]);
}

#[test]
fn messages_sent_before_open_wait_for_the_handshake() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    c.send(Message::text("early")).unwrap();
    assert_eq!(drain(&mut c), (vec![], vec![]));
    c.handle(
        t0,
        Input::PollResponse(Ok((200, open_body(&[], 1_000_000)))),
    );
    assert_eq!(drain(&mut c).0, vec![post("4early"), poll_get()]);
}

#[test]
fn messages_in_the_handshake_response_follow_open() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    let mut body = open_body(&[], 1_000_000).to_vec();
    body.extend_from_slice(b"\x1e440");
    c.handle(t0, Input::PollResponse(Ok((200, Bytes::from(body)))));
    assert_eq!(
        drain(&mut c).1,
        vec![
            Event::Open(open_data(&[], 1_000_000)),
            Event::Message(Message::text("40"))
        ]
    );
}

#[test]
fn handshake_refused_emits_open_failed_then_closed() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    let body = b(r#"{"code":5,"message":"Unsupported protocol version"}"#);
    c.handle(t0, Input::PollResponse(Ok((400, body.clone()))));
    assert_eq!(
        drain(&mut c),
        (
            vec![],
            vec![
                Event::OpenFailed(OpenError::Refused { status: 400, body }),
                Event::Closed(CloseReason::TransportError)
            ]
        )
    );
    assert!(c.is_closed());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn handshake_answer_that_is_not_open_fails_as_invalid() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    c.handle(t0, Input::PollResponse(Ok((200, b("4hello")))));
    assert_eq!(
        drain(&mut c).1,
        vec![
            Event::OpenFailed(OpenError::Invalid),
            Event::Closed(CloseReason::ParseError)
        ]
    );
}

#[test]
fn handshake_timeout_fails_the_open() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    c.handle(t0 + ms(19_999), Input::Timeout);
    assert_eq!(drain(&mut c), (vec![], vec![]));
    c.handle(t0 + ms(20_000), Input::Timeout);
    assert_eq!(
        drain(&mut c),
        (
            vec![],
            vec![
                Event::OpenFailed(OpenError::Timeout),
                Event::Closed(CloseReason::TransportError)
            ]
        )
    );
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn handshake_transport_failure_fails_the_open() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    c.handle(t0, Input::PollResponse(Err(())));
    assert_eq!(
        drain(&mut c).1,
        vec![
            Event::OpenFailed(OpenError::Transport),
            Event::Closed(CloseReason::TransportError)
        ]
    );
}

// ----- heartbeat -----

#[test]
fn ping_is_answered_with_pong() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    c.handle(t0 + ms(25_000), Input::PollResponse(Ok((200, b("2")))));
    assert_eq!(
        drain(&mut c),
        (vec![post("3"), poll_get()], vec![Event::Ping])
    );
}

#[test]
fn ping_pushes_the_ping_deadline() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    assert_eq!(c.poll_timeout(), Some(t0 + ms(45_000)));
    c.handle(t0 + ms(25_000), Input::PollResponse(Ok((200, b("2")))));
    assert_eq!(c.poll_timeout(), Some(t0 + ms(70_000)));
}

#[test]
fn no_ping_within_interval_plus_timeout_closes_with_ping_timeout() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    c.handle(t0 + ms(44_999), Input::Timeout);
    assert_eq!(drain(&mut c), (vec![], vec![]));
    c.handle(t0 + ms(45_000), Input::Timeout);
    assert_eq!(
        drain(&mut c),
        (vec![], vec![Event::Closed(CloseReason::PingTimeout)])
    );
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn ping_on_websocket_is_answered_on_websocket() {
    let t0 = Instant::now();
    let mut c = upgraded_client(t0);
    c.handle(t0 + ms(25_000), Input::WsFrame(frame("2")));
    assert_eq!(drain(&mut c), (vec![ws("3")], vec![Event::Ping]));
}

// ----- data -----

#[test]
fn poll_response_messages_are_delivered_in_order_and_polling_continues() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    c.handle(t0, Input::PollResponse(Ok((200, b("4hello\x1ebAQIDBA==")))));
    assert_eq!(
        drain(&mut c),
        (
            vec![poll_get()],
            vec![
                Event::Message(Message::text("hello")),
                Event::Message(Message::binary(vec![1u8, 2, 3, 4]))
            ]
        )
    );
}

#[test]
fn only_one_post_is_in_flight() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    c.send(Message::text("a")).unwrap();
    c.send(Message::text("b")).unwrap();
    c.send(Message::binary(vec![1u8, 2, 3, 4])).unwrap();
    assert_eq!(drain(&mut c).0, vec![post("4a")]);
    c.handle(t0, Input::PostResponse { ok: true });
    assert_eq!(drain(&mut c).0, vec![post("4b\x1ebAQIDBA==")]);
}

#[test]
fn post_batching_respects_max_payload() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    c.handle(t0, Input::PollResponse(Ok((200, open_body(&[], 20)))));
    drain(&mut c);
    // Each message is 9 bytes on the wire: two fit in 20 with their separator, three do not.
    c.send(Message::text("00000000")).unwrap();
    for m in ["11111111", "22222222", "33333333"] {
        c.send(Message::text(m)).unwrap();
    }
    assert_eq!(drain(&mut c).0, vec![post("400000000")]);
    c.handle(t0, Input::PostResponse { ok: true });
    assert_eq!(drain(&mut c).0, vec![post("411111111\x1e422222222")]);
    c.handle(t0, Input::PostResponse { ok: true });
    assert_eq!(drain(&mut c).0, vec![post("433333333")]);
}

#[test]
fn message_larger_than_max_payload_is_still_sent_alone() {
    let t0 = Instant::now();
    let mut c = ClientSession::new(t0, ClientConfig::default());
    drain(&mut c);
    c.handle(t0, Input::PollResponse(Ok((200, open_body(&[], 4)))));
    drain(&mut c);
    c.send(Message::text("a")).unwrap();
    c.send(Message::text("toolong")).unwrap();
    c.send(Message::text("b")).unwrap();
    assert_eq!(drain(&mut c).0, vec![post("4a")]);
    c.handle(t0, Input::PostResponse { ok: true });
    assert_eq!(drain(&mut c).0, vec![post("4toolong")]);
    c.handle(t0, Input::PostResponse { ok: true });
    assert_eq!(drain(&mut c).0, vec![post("4b")]);
}

#[test]
fn failed_post_closes_with_transport_error() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    c.send(Message::text("a")).unwrap();
    drain(&mut c);
    c.handle(t0, Input::PostResponse { ok: false });
    assert_eq!(
        drain(&mut c).1,
        vec![Event::Closed(CloseReason::TransportError)]
    );
}

#[test]
fn server_close_packet_closes_with_transport_close() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    c.handle(t0, Input::PollResponse(Ok((200, b("4bye\x1e1")))));
    assert_eq!(
        drain(&mut c),
        (
            vec![],
            vec![
                Event::Message(Message::text("bye")),
                Event::Closed(CloseReason::TransportClose)
            ]
        )
    );
}

#[test]
fn send_beyond_queue_bound_is_queue_full() {
    let t0 = Instant::now();
    let config = ClientConfig {
        max_queue: 2,
        ..ClientConfig::default()
    };
    let mut c = ClientSession::new(t0, config);
    c.send(Message::text("1")).unwrap();
    c.send(Message::text("2")).unwrap();
    assert_eq!(c.send(Message::text("3")), Err(UsageError::QueueFull(2)));
}

#[test]
fn send_after_close_is_usage_error_closed() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    c.close();
    assert_eq!(c.send(Message::text("late")), Err(UsageError::Closed));
}

// ----- upgrade -----

#[test]
fn ws_open_sends_2probe() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &["websocket"]);
    c.handle(t0 + ms(1), Input::WsOpen);
    assert_eq!(drain(&mut c), (vec![ws("2probe")], vec![]));
    assert_eq!(c.transport(), TransportKind::Polling);
}

#[test]
fn after_3probe_the_client_waits_for_the_get_in_flight() {
    let t0 = Instant::now();
    let mut c = probing_client(t0);
    c.handle(t0 + ms(1), Input::WsFrame(frame("3probe")));
    assert_eq!(drain(&mut c), (vec![], vec![]));
    assert_eq!(c.transport(), TransportKind::Polling);
    // Polling is paused: a send neither posts nor upgrades yet.
    c.send(Message::text("q")).unwrap();
    assert_eq!(drain(&mut c), (vec![], vec![]));
}

#[test]
fn upgrade_completes_when_the_get_in_flight_returns() {
    let t0 = Instant::now();
    let mut c = probing_client(t0);
    c.handle(t0 + ms(1), Input::WsFrame(frame("3probe")));
    c.handle(t0 + ms(2), Input::PollResponse(Ok((200, b("6")))));
    assert_eq!(drain(&mut c), (vec![ws("5")], vec![Event::Upgraded]));
    assert_eq!(c.transport(), TransportKind::WebSocket);
}

#[test]
fn sends_queued_while_paused_leave_as_ws_frames_after_upgrade() {
    let t0 = Instant::now();
    let mut c = probing_client(t0);
    c.handle(t0 + ms(1), Input::WsFrame(frame("3probe")));
    c.send(Message::text("q")).unwrap();
    c.send(Message::binary(vec![7u8])).unwrap();
    c.handle(t0 + ms(2), Input::PollResponse(Ok((200, b("6")))));
    assert_eq!(
        drain(&mut c),
        (
            vec![
                ws("5"),
                ws("4q"),
                Transmit::Ws(Frame::Binary(Bytes::from_static(&[7])))
            ],
            vec![Event::Upgraded]
        )
    );
    c.send(Message::text("after")).unwrap();
    assert_eq!(drain(&mut c).0, vec![ws("4after")]);
}

#[test]
fn upgrade_waits_for_the_post_in_flight_too() {
    let t0 = Instant::now();
    let mut c = probing_client(t0);
    c.send(Message::text("a")).unwrap();
    assert_eq!(drain(&mut c).0, vec![post("4a")]);
    c.handle(t0, Input::WsFrame(frame("3probe")));
    c.handle(t0, Input::PollResponse(Ok((200, b("6")))));
    assert_eq!(drain(&mut c), (vec![], vec![]));
    c.handle(t0, Input::PostResponse { ok: true });
    assert_eq!(drain(&mut c), (vec![ws("5")], vec![Event::Upgraded]));
}

#[test]
fn probe_answered_with_something_else_closes_ws_and_keeps_polling() {
    let t0 = Instant::now();
    let mut c = probing_client(t0);
    c.handle(t0 + ms(1), Input::WsFrame(frame("3nope")));
    assert_eq!(drain(&mut c), (vec![Transmit::WsClose], vec![]));
    assert_eq!(c.transport(), TransportKind::Polling);
    assert!(c.is_open());
    c.handle(
        t0 + ms(2),
        Input::PollResponse(Ok((200, b("4still polling")))),
    );
    assert_eq!(
        drain(&mut c),
        (
            vec![poll_get()],
            vec![Event::Message(Message::text("still polling"))]
        )
    );
    c.send(Message::text("up")).unwrap();
    assert_eq!(drain(&mut c).0, vec![post("4up")]);
}

#[test]
fn probe_websocket_failing_keeps_polling() {
    let t0 = Instant::now();
    let mut c = probing_client(t0);
    c.handle(t0, Input::WsClosed { error: true });
    assert_eq!(drain(&mut c), (vec![], vec![]));
    assert!(c.is_open());
    c.send(Message::text("up")).unwrap();
    assert_eq!(drain(&mut c).0, vec![post("4up")]);
}

#[test]
fn messages_on_websocket_after_upgrade_are_delivered() {
    let t0 = Instant::now();
    let mut c = upgraded_client(t0);
    c.handle(t0, Input::WsFrame(frame("4hi")));
    c.handle(
        t0,
        Input::WsFrame(Frame::Binary(Bytes::from_static(&[1, 2]))),
    );
    assert_eq!(
        drain(&mut c).1,
        vec![
            Event::Message(Message::text("hi")),
            Event::Message(Message::binary(vec![1u8, 2]))
        ]
    );
}

#[test]
fn websocket_closing_after_upgrade_closes_with_transport_close() {
    let t0 = Instant::now();
    let mut c = upgraded_client(t0);
    c.handle(t0, Input::WsClosed { error: false });
    assert_eq!(
        drain(&mut c),
        (vec![], vec![Event::Closed(CloseReason::TransportClose)])
    );
}

// ----- close -----

#[test]
fn close_on_polling_posts_a_close_packet() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    c.close();
    assert_eq!(
        drain(&mut c),
        (
            vec![post("1")],
            vec![Event::Closed(CloseReason::ForcedClose)]
        )
    );
    assert!(c.is_closed());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn close_on_polling_waits_for_the_post_in_flight() {
    let t0 = Instant::now();
    let mut c = open_client(t0, ClientConfig::default(), &[]);
    c.send(Message::text("a")).unwrap();
    assert_eq!(drain(&mut c).0, vec![post("4a")]);
    c.send(Message::text("b")).unwrap();
    c.close();
    assert_eq!(drain(&mut c).0, vec![]);
    c.handle(t0, Input::PostResponse { ok: true });
    assert_eq!(drain(&mut c).0, vec![post("4b\x1e1")]);
}

#[test]
fn close_on_websocket_closes_the_websocket() {
    let t0 = Instant::now();
    let mut c = upgraded_client(t0);
    c.close();
    assert_eq!(
        drain(&mut c),
        (
            vec![Transmit::WsClose],
            vec![Event::Closed(CloseReason::ForcedClose)]
        )
    );
}

#[test]
fn close_during_probe_closes_the_probe_websocket() {
    let t0 = Instant::now();
    let mut c = probing_client(t0);
    c.close();
    assert_eq!(
        drain(&mut c),
        (
            vec![post("1"), Transmit::WsClose],
            vec![Event::Closed(CloseReason::ForcedClose)]
        )
    );
}
