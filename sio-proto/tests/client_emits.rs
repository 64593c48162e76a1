//! The client manager's emits and acks, in virtual time: the at-least-once retry queue
//! (socket.io-client's `retries`), emits buffered while a namespace is not connected or not
//! wanted, which acks a disconnection fails, CONNECT_ERROR and handshake failures as
//! `connect_error`, and the ack table both sides share.
#![allow(clippy::disallowed_methods)] // a test needs one origin for its clock

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{nsp, Pair};
use sio_proto::engine::client::{Input as EInput, Transmit};
use sio_proto::engine::server::EngineConfig;
use sio_proto::socket::acks::AckTable;
use sio_proto::socket::backoff::BackoffConfig;
use sio_proto::socket::client::{
    AckError, Event, Input as MInput, Manager, ManagerConfig, QueuedEmit,
};
use sio_proto::socket::server::{self, ConnectionConfig};
use sio_proto::socket::{EncodedPacket, Nsp, Packet};
use sio_proto::{IdGenerator, UsageError};

const TRY: Duration = Duration::from_millis(300);

fn queued(id: u64, name: &str, timeout: Option<Duration>, retries: u32) -> QueuedEmit {
    QueuedEmit {
        id,
        data: Bytes::from(format!(r#"["{name}"]"#)),
        attachments: Vec::new(),
        timeout,
        retries,
    }
}

fn event(name: &str, id: Option<u64>) -> EncodedPacket {
    Packet::event(
        nsp("/"),
        Bytes::from(format!(r#"["{name}"]"#)),
        id,
        Vec::new(),
    )
    .encode()
}

/// The events the server received: name and ack id.
fn received(p: &mut Pair) -> Vec<(String, Option<u64>)> {
    p.take_server_events()
        .into_iter()
        .filter_map(|e| match e {
            server::Event::Event { packet, .. } => {
                Some((packet.event_name()?.into_owned(), packet.id))
            }
            _ => None,
        })
        .collect()
}

/// The ends of emits with ack the client reported.
fn acks(p: &mut Pair) -> Vec<(u64, Result<String, AckError>)> {
    p.take_client_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Ack { id, result, .. } => Some((
                id,
                result.map(|p| String::from_utf8_lossy(&p.data).into_owned()),
            )),
            _ => None,
        })
        .collect()
}

fn answer(p: &mut Pair, id: u64, json: &'static str) {
    p.conn()
        .send_ack(&nsp("/"), id, Bytes::from_static(json.as_bytes()), vec![])
        .unwrap();
    p.settle();
}

fn steady_backoff() -> ManagerConfig {
    ManagerConfig {
        backoff: BackoffConfig {
            randomization_factor: 0.0,
            ..BackoffConfig::default()
        },
        ..ManagerConfig::default()
    }
}

#[test]
fn retries_send_each_try_with_a_new_id_then_fail_with_timeout() {
    let mut p = Pair::default_pair();
    p.connect("/");
    p.take_client_events();
    let now = p.now;
    p.client
        .emit_queued(now, &nsp("/"), queued(100, "never", Some(TRY), 2))
        .unwrap();
    p.settle();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let got = received(&mut p);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, "never");
        ids.push(got[0].1.expect("a try asks for an ack"));
        assert!(acks(&mut p).is_empty());
        p.advance(TRY - Duration::from_millis(1));
        assert!(received(&mut p).is_empty(), "a try before its deadline");
        p.advance(Duration::from_millis(1));
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "each try has its own ack id: {ids:?}");
    assert!(received(&mut p).is_empty(), "1 + retries tries, no more");
    assert_eq!(acks(&mut p), vec![(100, Err(AckError::Timeout))]);
    assert_eq!(p.client.pending_acks(), 0);
}

#[test]
fn one_queued_emit_in_flight_and_only_the_current_try_is_answered() {
    let mut p = Pair::default_pair();
    p.connect("/");
    p.take_client_events();
    let now = p.now;
    p.client
        .emit_queued(now, &nsp("/"), queued(1, "a", Some(TRY), 1))
        .unwrap();
    p.client
        .emit_queued(now, &nsp("/"), queued(2, "b", Some(TRY), 1))
        .unwrap();
    p.settle();
    let first = received(&mut p);
    assert_eq!(first.len(), 1, "the second waits for the first: {first:?}");
    p.advance(TRY);
    let second = received(&mut p);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].0, "a");
    // The late answer to the first try is ignored; the second try's completes the emit.
    answer(&mut p, first[0].1.unwrap(), "[\"late\"]");
    assert!(acks(&mut p).is_empty());
    answer(&mut p, second[0].1.unwrap(), "[\"ok\"]");
    assert_eq!(acks(&mut p), vec![(1, Ok("[\"ok\"]".to_owned()))]);
    let next = received(&mut p);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].0, "b");
}

#[test]
fn a_try_cut_by_a_disconnection_is_sent_again_on_reconnection() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        steady_backoff(),
    );
    p.connect("/");
    let now = p.now;
    p.client
        .emit_queued(now, &nsp("/"), queued(7, "x", None, 1))
        .unwrap();
    p.settle();
    assert_eq!(received(&mut p).len(), 1);
    p.take_client_events();
    // The server goes away: the try ends, one is left.
    let now = p.now;
    p.conn()
        .close(now, sio_proto::engine::CloseReason::ForcedClose);
    p.advance(Duration::from_secs(2));
    assert!(acks(&mut p).is_empty());
    let again = received(&mut p);
    assert_eq!(again.len(), 1, "sent again once connected: {again:?}");
    assert_eq!(p.handshakes, 2);
    // Cut again during the last try: the emit fails.
    let now = p.now;
    p.conn()
        .close(now, sio_proto::engine::CloseReason::ForcedClose);
    p.settle();
    assert_eq!(acks(&mut p), vec![(7, Err(AckError::Disconnected))]);
}

#[test]
fn the_retry_queue_is_bounded() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        ManagerConfig {
            max_buffered: 2,
            ..ManagerConfig::default()
        },
    );
    let now = p.now;
    for i in 0..2 {
        p.client
            .emit_queued(now, &nsp("/"), queued(i, "q", None, 1))
            .unwrap();
    }
    assert_eq!(
        p.client
            .emit_queued(now, &nsp("/"), queued(2, "q", None, 1)),
        Err(UsageError::QueueFull(2))
    );
}

#[test]
fn emits_before_the_namespace_is_wanted_wait_for_connect() {
    let mut p = Pair::default_pair();
    assert_eq!(
        p.client.emit(&nsp("/"), event("early", None), false),
        Ok(true)
    );
    p.client
        .emit_with_ack(&nsp("/"), 5, event("asks", Some(5)), None)
        .unwrap();
    assert_eq!(
        p.client.emit(&nsp("/"), event("volatile", None), true),
        Ok(false)
    );
    p.settle();
    assert!(p.conn.is_none(), "emits alone open nothing");
    p.connect("/");
    assert_eq!(
        received(&mut p),
        vec![("early".to_owned(), None), ("asks".to_owned(), Some(5))]
    );
    answer(&mut p, 5, "[1]");
    assert_eq!(acks(&mut p), vec![(5, Ok("[1]".to_owned()))]);
}

#[test]
fn disconnect_fails_the_acks_of_packets_that_left_and_keeps_buffered_ones() {
    let mut p = Pair::default_pair();
    p.connect("/");
    p.client
        .emit_with_ack(&nsp("/"), 1, event("sent", Some(1)), None)
        .unwrap();
    p.settle();
    p.take_client_events();
    let now = p.now;
    p.client.disconnect(now, &nsp("/"));
    p.settle();
    let ev = p.take_client_events();
    let at = |e: &dyn Fn(&Event) -> bool| ev.iter().position(e).expect("event");
    let disconnected = at(&|e| matches!(e, Event::Disconnected { .. }));
    let failed = at(&|e| {
        *e == Event::Ack {
            nsp: nsp("/"),
            id: 1,
            result: Err(AckError::Disconnected),
        }
    });
    assert!(disconnected < failed, "{ev:?}");
    // Emitted while disconnected: buffered with its ack, sent on the next connect.
    p.client
        .emit_with_ack(&nsp("/"), 2, event("later", Some(2)), None)
        .unwrap();
    p.settle();
    received(&mut p);
    assert!(acks(&mut p).is_empty());
    p.connect("/");
    assert_eq!(received(&mut p), vec![("later".to_owned(), Some(2))]);
    answer(&mut p, 2, "[2]");
    assert_eq!(acks(&mut p), vec![(2, Ok("[2]".to_owned()))]);
}

#[test]
fn a_buffered_packet_whose_ack_timed_out_is_not_sent() {
    let mut p = Pair::default_pair();
    let deadline = p.now + Duration::from_millis(100);
    p.client
        .emit_with_ack(&nsp("/"), 3, event("stale", Some(3)), Some(deadline))
        .unwrap();
    p.advance(Duration::from_millis(100));
    assert_eq!(acks(&mut p), vec![(3, Err(AckError::Timeout))]);
    p.connect("/");
    assert!(received(&mut p).is_empty());
}

#[test]
fn a_forgotten_ack_is_not_reported() {
    let mut p = Pair::default_pair();
    p.connect("/");
    p.client
        .emit_with_ack(&nsp("/"), 4, event("q", Some(4)), None)
        .unwrap();
    p.client.forget_ack(&nsp("/"), 4);
    p.settle();
    answer(&mut p, 4, "[]");
    assert!(acks(&mut p).is_empty());
    assert_eq!(p.client.pending_acks(), 0);
}

#[test]
fn refused_last_namespace_closes_the_connection() {
    let mut p = Pair::default_pair();
    p.policy = Box::new(|_, _| Err(("nope".into(), None)));
    p.connect("/");
    let ev = p.take_client_events();
    assert!(ev.contains(&Event::ConnectError {
        nsp: nsp("/"),
        message: "nope".into(),
        data: None,
        refused: true,
    }));
    assert!(
        ev.iter().any(|e| matches!(e, Event::Closed(_))),
        "no namespace left: {ev:?}"
    );
    assert!(!p.client.is_reconnecting());
}

// ----- the manager driven directly, with raw server answers -----

const HANDSHAKE: &[u8] =
    br#"0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

fn events(m: &mut Manager) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

/// A manager with `/` connecting over long-polling (its CONNECT sent).
fn connecting(now: Instant) -> Manager {
    let mut m = Manager::new(ManagerConfig::default(), IdGenerator::from_u64(1));
    m.connect(now, Nsp::ROOT);
    while m.poll_transmit().is_some() {}
    m.handle(
        now,
        MInput::Engine {
            generation: 1,
            input: EInput::PollResponse(Ok((200, Bytes::from_static(HANDSHAKE)))),
        },
    );
    for e in events(&mut m) {
        if let Event::NamespaceReady { nsp } = e {
            m.send_connect(&nsp, None).unwrap();
        }
    }
    let t: Vec<Transmit> = std::iter::from_fn(|| m.poll_transmit()).collect();
    assert!(t.iter().any(|t| matches!(t, Transmit::PollGet { .. })));
    m
}

#[test]
fn connect_error_payloads_are_parsed() {
    let cases: [(&str, &str, Option<serde_json::Value>); 3] = [
        (
            r#"44{"message":"Not authorized","data":{"code":42}}"#,
            "Not authorized",
            Some(serde_json::json!({"code": 42})),
        ),
        // Socket.IO v4 servers send the message alone.
        (r#"44"v4 style""#, "v4 style", None),
        (
            r#"44{"data":1}"#,
            "connect error",
            Some(serde_json::json!(1)),
        ),
    ];
    for (frame, message, data) in cases {
        let now = Instant::now();
        let mut m = connecting(now);
        m.handle(
            now,
            MInput::Engine {
                generation: 1,
                input: EInput::PollResponse(Ok((200, Bytes::from_static(frame.as_bytes())))),
            },
        );
        let ev = events(&mut m);
        assert!(
            ev.contains(&Event::ConnectError {
                nsp: Nsp::ROOT,
                message: message.into(),
                data,
                refused: true,
            }),
            "{frame}: {ev:?}"
        );
        assert!(!m.is_connected("/"));
    }
}

#[test]
fn a_refused_handshake_is_connect_error_for_every_waiting_namespace() {
    let now = Instant::now();
    let mut m = Manager::new(
        ManagerConfig {
            reconnection: false,
            ..ManagerConfig::default()
        },
        IdGenerator::from_u64(1),
    );
    m.connect(now, Nsp::ROOT);
    m.connect(now, Nsp::new("/chat").unwrap());
    while m.poll_transmit().is_some() {}
    let body = br#"{"code":3,"message":"Bad request"}"#;
    m.handle(
        now,
        MInput::Engine {
            generation: 1,
            input: EInput::PollResponse(Ok((400, Bytes::from_static(body)))),
        },
    );
    let ev = events(&mut m);
    assert!(matches!(ev[0], Event::Error(_)), "{ev:?}");
    for ns in ["/", "/chat"] {
        assert!(
            ev.contains(&Event::ConnectError {
                nsp: Nsp::new(ns).unwrap(),
                message: "handshake refused with HTTP 400".into(),
                data: Some(serde_json::json!({
                    "status": 400,
                    "body": {"code": 3, "message": "Bad request"},
                })),
                refused: false,
            }),
            "{ev:?}"
        );
    }
}

// ----- the ack table -----

#[test]
fn ack_table_fires_deadlines_in_order_and_is_bounded() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let (a, b) = (nsp("/"), nsp("/b"));
    let mut t: AckTable<&str> = AckTable::new(3);
    t.insert(&a, 1, Some(ms(20)), "a1").unwrap();
    t.insert(&b, 1, Some(ms(10)), "b1").unwrap();
    t.insert(&a, 2, None, "a2").unwrap();
    assert_eq!(
        t.insert(&a, 3, None, "a3"),
        Err(UsageError::TooManyPendingAcks(3))
    );
    assert_eq!(t.next_deadline(), Some(ms(10)));
    assert_eq!(t.pop_expired(ms(9)), None);
    assert_eq!(t.pop_expired(ms(30)), Some((b.clone(), 1, "b1")));
    assert_eq!(t.pop_expired(ms(30)), Some((a.clone(), 1, "a1")));
    assert_eq!(t.pop_expired(ms(30)), None);
    assert_eq!(t.next_deadline(), None);
    // An answer removes the entry and its deadline.
    t.insert(&b, 2, Some(ms(40)), "b2").unwrap();
    assert_eq!(t.remove(&b, 2), Some("b2"));
    assert_eq!(t.next_deadline(), None);
    // The same id again replaces the entry.
    t.insert(&a, 2, Some(ms(50)), "a2'").unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t.next_deadline(), Some(ms(50)));
    t.insert(&b, 5, Some(ms(60)), "b5").unwrap();
    assert_eq!(t.take_where(&b, |v| v.starts_with('b')), vec![(5, "b5")]);
    t.drop_namespace(&a);
    assert!(t.is_empty());
    assert_eq!(t.next_deadline(), None);
}
