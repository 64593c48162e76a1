//! The Engine.IO v4 server driven directly: raw requests, raw frames, virtual time.
//!
//! Every test reads one real `Instant` as the origin of virtual time and moves it forward by
//! adding durations; nothing sleeps. Expected bytes and statuses are the Node `engine.io`
//! server's (`docs/engine.io-protocol/v4-current.md` where the specification says it).

// The crate bans `Instant::now` (time is an argument); a test needs one origin for its clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use sio_proto::engine::server::ClosedSessions;
use sio_proto::engine::server::{
    EngineConfig, EngineServer, ErrorCode, Event, HttpResponse, Input, Method, Reply, Request,
    Route, ServerSession, SessionRequest, Transmit, Transports,
};
use sio_proto::engine::{CloseReason, Frame, Message, TransportKind};
use sio_proto::{IdGenerator, ProtocolError, UsageError};

// ----- helpers -----

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn router(config: EngineConfig) -> EngineServer {
    EngineServer::new(config, IdGenerator::from_u64(1))
}

/// A router whose index holds one open session on `transport` (handle 7); returns its id.
fn router_with_session(transport: TransportKind) -> (EngineServer<u32>, String) {
    let mut r = EngineServer::new(EngineConfig::default(), IdGenerator::from_u64(1));
    let sid = r
        .accept(Instant::now(), TransportKind::Polling, 7)
        .sid()
        .to_owned();
    if transport == TransportKind::WebSocket {
        r.upgraded(&sid);
    }
    (r, sid)
}

fn request(method: Method, query: &str) -> Request<'_> {
    Request {
        method,
        query,
        websocket_upgrade: false,
        origin: None,
    }
}

/// Drains transmits, then events, as the drive loop does.
fn drain(s: &mut ServerSession) -> (Vec<Transmit>, Vec<Event>) {
    let mut t = Vec::new();
    while let Some(x) = s.poll_transmit() {
        t.push(x);
    }
    let mut e = Vec::new();
    while let Some(x) = s.poll_event() {
        e.push(x);
    }
    (t, e)
}

fn poll(body: &str) -> Transmit {
    Transmit::PollResponse(HttpResponse::payload(Bytes::copy_from_slice(
        body.as_bytes(),
    )))
}

fn ws(text: &str) -> Transmit {
    Transmit::Ws(text_frame(text))
}

fn text_frame(text: &str) -> Frame {
    Frame::Text(Bytes::copy_from_slice(text.as_bytes()))
}

fn text_msg(s: &str) -> Event {
    Event::Message(Message::text(s))
}

fn body(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn ok() -> HttpResponse {
    HttpResponse::ok()
}

/// A polling session whose handshake `GET` has been answered with the `open` packet.
fn polling_session(t0: Instant, config: EngineConfig) -> ServerSession {
    let mut s = router(config).accept(t0, TransportKind::Polling, ());
    let (t, e) = drain(&mut s);
    assert_eq!(t.len(), 1, "handshake answer: {t:?}");
    assert!(matches!(&t[0], Transmit::PollResponse(r) if r.body.starts_with(b"0{")));
    assert!(e.is_empty());
    s
}

/// A polling session with a long-poll `GET` held at `at`.
fn polling_session_with_get(t0: Instant, config: EngineConfig, at: Instant) -> ServerSession {
    let mut s = polling_session(t0, config);
    assert_eq!(s.handle(at, Input::PollGet), Reply::Held);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    s
}

/// A polling session that completed the upgrade to websocket at `t0`.
fn upgraded_session(t0: Instant, config: EngineConfig) -> ServerSession {
    let mut s = polling_session(t0, config);
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.handle(t0, Input::WsFrame(text_frame("2probe")));
    s.handle(t0, Input::WsFrame(text_frame("5")));
    let (t, e) = drain(&mut s);
    assert_eq!(t, vec![ws("3probe")]);
    assert_eq!(e, vec![Event::Upgrading, Event::Upgraded]);
    assert_eq!(s.transport(), TransportKind::WebSocket);
    s
}

fn assert_reject<H: std::fmt::Debug>(route: Route<H>, status: u16, json: &str) {
    match route {
        Route::Respond(r) => {
            assert_eq!(r.status, status);
            assert_eq!(r.content_type, Some("application/json"));
            assert_eq!(std::str::from_utf8(&r.body).unwrap(), json);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

// ----- handshake -----

#[test]
fn polling_handshake_answers_first_get_with_open_packet() {
    let t0 = Instant::now();
    let mut s = router(EngineConfig::default()).accept(t0, TransportKind::Polling, ());
    let sid = s.sid().to_owned();
    let (t, e) = drain(&mut s);
    let expected = format!(
        r#"0{{"sid":"{sid}","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
    );
    assert_eq!(t, vec![poll(&expected)]);
    assert!(e.is_empty());
}

#[test]
fn open_packet_fields_follow_the_configuration() {
    let t0 = Instant::now();
    let config = EngineConfig {
        ping_interval: ms(300),
        ping_timeout: ms(200),
        max_http_buffer_size: 1234,
        ..EngineConfig::default()
    };
    let mut s = router(config).accept(t0, TransportKind::Polling, ());
    let (t, _) = drain(&mut s);
    let Transmit::PollResponse(r) = &t[0] else {
        panic!("{t:?}")
    };
    let v: serde_json::Value = serde_json::from_slice(&r.body[1..]).unwrap();
    assert_eq!(v["sid"], s.sid());
    assert_eq!(v["sid"].as_str().unwrap().len(), 20);
    assert_eq!(v["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(v["pingInterval"], 300);
    assert_eq!(v["pingTimeout"], 200);
    assert_eq!(v["maxPayload"], 1234);
}

#[test]
fn open_packet_offers_no_upgrade_when_upgrades_are_off() {
    let t0 = Instant::now();
    let config = EngineConfig {
        allow_upgrades: false,
        ..EngineConfig::default()
    };
    let mut s = router(config).accept(t0, TransportKind::Polling, ());
    let (t, _) = drain(&mut s);
    let Transmit::PollResponse(r) = &t[0] else {
        panic!("{t:?}")
    };
    let v: serde_json::Value = serde_json::from_slice(&r.body[1..]).unwrap();
    assert_eq!(v["upgrades"], serde_json::json!([]));
}

#[test]
fn session_ids_come_from_the_seed() {
    let t0 = Instant::now();
    let mut a = router(EngineConfig::default());
    let mut b = router(EngineConfig::default());
    let a1 = a.accept(t0, TransportKind::Polling, ()).sid().to_owned();
    let a2 = a.accept(t0, TransportKind::Polling, ()).sid().to_owned();
    let b1 = b.accept(t0, TransportKind::Polling, ()).sid().to_owned();
    assert_eq!(a1, b1);
    assert_ne!(a1, a2);
}

#[test]
fn route_accepts_polling_handshake() {
    let mut r = router(EngineConfig::default());
    let route = r.route(
        Instant::now(),
        &request(Method::Get, "EIO=4&transport=polling&t=N8hyd6w"),
    );
    assert_eq!(route, Route::Handshake(TransportKind::Polling.into()));
}

#[test]
fn websocket_only_handshake_sends_open_as_first_ws_frame() {
    let t0 = Instant::now();
    let mut r = router(EngineConfig::default());
    let req = Request {
        websocket_upgrade: true,
        ..request(Method::Get, "EIO=4&transport=websocket")
    };
    assert_eq!(
        r.route(Instant::now(), &req),
        Route::Handshake(TransportKind::WebSocket.into())
    );
    let mut s = r.accept(t0, TransportKind::WebSocket, ());
    let sid = s.sid().to_owned();
    let (t, e) = drain(&mut s);
    let expected = format!(
        r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
    );
    assert_eq!(t, vec![ws(&expected)]);
    assert!(e.is_empty());
    assert_eq!(s.transport(), TransportKind::WebSocket);
}

// ----- router rejections -----

#[test]
fn route_rejects_unknown_transport() {
    let mut r = router(EngineConfig::default());
    let route = r.route(
        Instant::now(),
        &request(Method::Get, "EIO=4&transport=carrier-pigeon"),
    );
    assert_reject(route, 400, r#"{"code":0,"message":"Transport unknown"}"#);
}

#[test]
fn route_rejects_missing_transport() {
    let mut r = router(EngineConfig::default());
    let route = r.route(Instant::now(), &request(Method::Get, "EIO=4"));
    assert_reject(route, 400, r#"{"code":0,"message":"Transport unknown"}"#);
}

#[test]
fn route_rejects_disabled_transport() {
    let mut r = router(EngineConfig {
        transports: Transports {
            polling: true,
            websocket: false,
        },
        ..EngineConfig::default()
    });
    let req = Request {
        websocket_upgrade: true,
        ..request(Method::Get, "EIO=4&transport=websocket")
    };
    assert_reject(
        r.route(Instant::now(), &req),
        400,
        r#"{"code":0,"message":"Transport unknown"}"#,
    );
}

#[test]
fn route_rejects_unknown_sid() {
    let (mut r, _) = router_with_session(TransportKind::Polling);
    let route = r.route(
        Instant::now(),
        &request(Method::Get, "EIO=4&transport=polling&sid=nope"),
    );
    assert_reject(route, 400, r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[test]
fn route_rejects_post_handshake_as_bad_handshake_method() {
    let mut r = router(EngineConfig::default());
    let route = r.route(
        Instant::now(),
        &request(Method::Post, "EIO=4&transport=polling"),
    );
    assert_reject(route, 400, r#"{"code":2,"message":"Bad handshake method"}"#);
}

#[test]
fn route_rejects_websocket_handshake_without_upgrade_header() {
    let mut r = router(EngineConfig::default());
    let route = r.route(
        Instant::now(),
        &request(Method::Get, "EIO=4&transport=websocket"),
    );
    assert_reject(route, 400, r#"{"code":3,"message":"Bad request"}"#);
}

#[test]
fn route_rejects_missing_eio() {
    let mut r = router(EngineConfig::default());
    let route = r.route(Instant::now(), &request(Method::Get, "transport=polling"));
    assert_reject(
        route,
        400,
        r#"{"code":5,"message":"Unsupported protocol version"}"#,
    );
}

#[test]
fn route_rejects_eio_3() {
    let mut r = router(EngineConfig::default());
    let route = r.route(
        Instant::now(),
        &request(Method::Get, "EIO=3&transport=polling"),
    );
    assert_reject(
        route,
        400,
        r#"{"code":5,"message":"Unsupported protocol version"}"#,
    );
}

#[test]
fn route_rejects_polling_request_for_upgraded_session() {
    let (mut r, sid) = router_with_session(TransportKind::WebSocket);
    let q = format!("EIO=4&transport=polling&sid={sid}");
    for method in [Method::Get, Method::Post] {
        let route = r.route(Instant::now(), &request(method, &q));
        assert_reject(route, 400, r#"{"code":3,"message":"Bad request"}"#);
    }
}

#[test]
fn route_rejects_origin_with_control_chars() {
    let mut r = router(EngineConfig::default());
    let req = Request {
        origin: Some(b"http://example.com\r\nX-Evil: 1"),
        ..request(Method::Get, "EIO=4&transport=polling")
    };
    assert_reject(
        r.route(Instant::now(), &req),
        400,
        r#"{"code":3,"message":"Bad request"}"#,
    );
}

#[test]
fn route_accepts_origin_with_tab_and_high_bytes() {
    // Node's `checkInvalidHeaderChar` allows `\t`, 0x20..=0x7e and 0x80..=0xff.
    let mut r = router(EngineConfig::default());
    let req = Request {
        origin: Some(b"http://ex\tample.\xc3\xa9"),
        ..request(Method::Get, "EIO=4&transport=polling")
    };
    assert_eq!(
        r.route(Instant::now(), &req),
        Route::Handshake(TransportKind::Polling.into())
    );
}

#[test]
fn forbidden_is_403_with_node_body() {
    let e = HttpResponse::error(ErrorCode::Forbidden);
    assert_eq!(e.status, 403);
    assert_eq!(e.content_type, Some("application/json"));
    assert_eq!(&e.body[..], br#"{"code":4,"message":"Forbidden"}"#);
}

#[test]
fn route_sends_get_and_post_with_sid_to_the_session_with_its_handle() {
    let (mut r, sid) = router_with_session(TransportKind::Polling);
    let q = format!("EIO=4&transport=polling&sid={sid}");
    assert_eq!(
        r.route(Instant::now(), &request(Method::Get, &q)),
        Route::Session {
            kind: SessionRequest::PollGet,
            handle: 7
        }
    );
    assert_eq!(
        r.route(Instant::now(), &request(Method::Post, &q)),
        Route::Session {
            kind: SessionRequest::PollPost,
            handle: 7
        }
    );
    // Any other method for a known session is a bad request.
    assert_reject(
        r.route(Instant::now(), &request(Method::Other, &q)),
        400,
        r#"{"code":3,"message":"Bad request"}"#,
    );
}

#[test]
fn route_sends_websocket_with_sid_to_the_session_as_upgrade() {
    let (mut r, sid) = router_with_session(TransportKind::Polling);
    let q = format!("EIO=4&transport=websocket&sid={sid}");
    let req = Request {
        websocket_upgrade: true,
        ..request(Method::Get, &q)
    };
    assert_eq!(
        r.route(Instant::now(), &req),
        Route::Session {
            kind: SessionRequest::WebSocket,
            handle: 7
        }
    );
}

#[test]
fn route_sends_websocket_with_sid_of_upgraded_session_to_the_session() {
    // As Node: the websocket handshake completes, then the session refuses that websocket.
    let (mut r, sid) = router_with_session(TransportKind::WebSocket);
    let q = format!("EIO=4&transport=websocket&sid={sid}");
    let req = Request {
        websocket_upgrade: true,
        ..request(Method::Get, &q)
    };
    assert_eq!(
        r.route(Instant::now(), &req),
        Route::Session {
            kind: SessionRequest::WebSocket,
            handle: 7
        }
    );
}

#[test]
fn upgraded_session_refuses_a_second_websocket_and_is_unaffected() {
    let t0 = Instant::now();
    let mut s = upgraded_session(t0, EngineConfig::default());
    assert!(matches!(
        s.handle(t0 + ms(1), Input::WsOpen),
        Reply::Refused(ProtocolError::Unexpected(_))
    ));
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert!(!s.is_closed());
    s.send(Message::text("still")).unwrap();
    assert_eq!(drain(&mut s), (vec![ws("4still")], vec![]));
    s.handle(t0 + ms(2), Input::WsFrame(text_frame("4here")));
    assert_eq!(drain(&mut s), (vec![], vec![text_msg("here")]));
}

#[test]
fn route_answers_noop_to_a_get_for_a_session_closed_by_its_client() {
    let t0 = Instant::now();
    let (mut r, sid) = router_with_session(TransportKind::Polling);
    assert_eq!(r.remove(t0, &sid, true), Some(7));
    let q = format!("EIO=4&transport=polling&sid={sid}");
    assert_eq!(
        r.route(t0, &request(Method::Get, &q)),
        Route::Respond(HttpResponse::payload(Bytes::from_static(b"6")))
    );
    // Anything else for that id is an unknown session, as in Node.
    assert_reject(
        r.route(t0, &request(Method::Post, &q)),
        400,
        r#"{"code":1,"message":"Session ID unknown"}"#,
    );
    let ws_q = format!("EIO=4&transport=websocket&sid={sid}");
    let ws_req = Request {
        websocket_upgrade: true,
        ..request(Method::Get, &ws_q)
    };
    assert_reject(
        r.route(t0, &ws_req),
        400,
        r#"{"code":1,"message":"Session ID unknown"}"#,
    );
    // Once the linger time is over, the id is unknown to a GET too.
    assert_reject(
        r.route(t0 + ms(5_000), &request(Method::Get, &q)),
        400,
        r#"{"code":1,"message":"Session ID unknown"}"#,
    );
}

#[test]
fn the_router_indexes_sessions_until_they_are_removed() {
    let t0 = Instant::now();
    let mut r: EngineServer<&str> =
        EngineServer::new(EngineConfig::default(), IdGenerator::from_u64(9));
    assert!(r.is_empty());
    let a = r.accept(t0, TransportKind::Polling, "a").sid().to_owned();
    let b = r.accept(t0, TransportKind::WebSocket, "b").sid().to_owned();
    assert_eq!(r.len(), 2);
    assert_eq!((r.get(&a), r.get(&b)), (Some(&"a"), Some(&"b")));
    let mut handles: Vec<&str> = r.handles().copied().collect();
    handles.sort();
    assert_eq!(handles, ["a", "b"]);
    // A session that opened on websocket takes no long-polling request.
    assert_reject(
        r.route(
            t0,
            &request(Method::Get, &format!("EIO=4&transport=polling&sid={b}")),
        ),
        400,
        r#"{"code":3,"message":"Bad request"}"#,
    );
    // A session closed otherwise than by its client over long-polling is forgotten at once.
    assert_eq!(r.remove(t0, &a, false), Some("a"));
    assert_eq!(r.remove(t0, &a, false), None);
    assert_eq!((r.len(), r.get(&a)), (1, None));
    assert_reject(
        r.route(
            t0,
            &request(Method::Get, &format!("EIO=4&transport=polling&sid={a}")),
        ),
        400,
        r#"{"code":1,"message":"Session ID unknown"}"#,
    );
}

#[test]
fn the_router_learns_an_upgrade() {
    let t0 = Instant::now();
    let (mut r, sid) = router_with_session(TransportKind::Polling);
    let q = format!("EIO=4&transport=polling&sid={sid}");
    assert!(matches!(
        r.route(t0, &request(Method::Get, &q)),
        Route::Session { .. }
    ));
    r.upgraded(&sid);
    assert_reject(
        r.route(t0, &request(Method::Get, &q)),
        400,
        r#"{"code":3,"message":"Bad request"}"#,
    );
    // Unknown ids are ignored.
    r.upgraded("nope");
    assert_eq!(r.len(), 1);
}

#[test]
fn closed_sessions_forget_ids_after_the_linger_time() {
    let t0 = Instant::now();
    let config = EngineConfig {
        closed_linger: ms(5_000),
        ..EngineConfig::default()
    };
    let mut c = ClosedSessions::new(&config);
    c.insert(t0, "a");
    c.insert(t0 + ms(1_000), "b");
    assert!(c.contains(t0 + ms(4_999), "a"));
    assert!(!c.contains(t0 + ms(5_000), "a"));
    assert!(c.contains(t0 + ms(5_000), "b"));
    assert!(!c.contains(t0 + ms(6_000), "b"));
    assert!(c.is_empty());
}

#[test]
fn closed_sessions_keep_at_most_the_bound_oldest_first_out() {
    let t0 = Instant::now();
    let config = EngineConfig {
        max_closed_lingering: 3,
        ..EngineConfig::default()
    };
    let mut c = ClosedSessions::new(&config);
    for (i, sid) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        c.insert(t0 + ms(i as u64), sid);
        assert!(c.len() <= 3);
    }
    let now = t0 + ms(10);
    assert!(!c.contains(now, "a"));
    assert!(!c.contains(now, "b"));
    assert!(c.contains(now, "c") && c.contains(now, "d") && c.contains(now, "e"));
    // Inserting an id twice keeps one entry.
    c.insert(now, "e");
    assert_eq!(c.len(), 3);
    assert!(c.contains(now, "c"));
}

// ----- heartbeat -----

#[test]
fn ping_is_sent_after_ping_interval() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0 + ms(1));
    assert_eq!(s.poll_timeout(), Some(t0 + ms(25_000)));
    s.handle(t0 + ms(24_999), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    s.handle(t0 + ms(25_000), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![poll("2")], vec![]));
}

#[test]
fn pong_keeps_session_alive_and_schedules_next_ping() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    s.handle(t0 + ms(25_000), Input::Timeout);
    assert_eq!(drain(&mut s).0, vec![poll("2")]);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(45_000)));

    assert_eq!(
        s.handle(t0 + ms(30_000), Input::PollPost(body("3"))),
        Reply::Http(ok())
    );
    assert_eq!(s.poll_timeout(), Some(t0 + ms(55_000)));
    assert_eq!(s.handle(t0 + ms(30_000), Input::PollGet), Reply::Held);
    s.handle(t0 + ms(45_000), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert!(!s.is_closed());

    s.handle(t0 + ms(55_000), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![poll("2")], vec![]));
}

#[test]
fn missing_pong_closes_with_ping_timeout_and_held_get_gets_close() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    s.handle(t0 + ms(25_000), Input::Timeout);
    assert_eq!(drain(&mut s).0, vec![poll("2")]);
    assert_eq!(s.handle(t0 + ms(25_010), Input::PollGet), Reply::Held);

    s.handle(t0 + ms(44_999), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    s.handle(t0 + ms(45_000), Input::Timeout);
    assert_eq!(
        drain(&mut s),
        (
            vec![poll("1")],
            vec![Event::Closed(CloseReason::PingTimeout)]
        )
    );
    assert!(s.is_closed());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn ping_on_websocket_is_a_ws_frame() {
    let t0 = Instant::now();
    let mut s = upgraded_session(t0, EngineConfig::default());
    s.handle(t0 + ms(25_000), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![ws("2")], vec![]));
    s.handle(t0 + ms(25_100), Input::WsFrame(text_frame("3")));
    assert_eq!(s.poll_timeout(), Some(t0 + ms(50_100)));
}

#[test]
fn missing_pong_on_websocket_closes_the_websocket() {
    let t0 = Instant::now();
    let mut s = upgraded_session(t0, EngineConfig::default());
    s.handle(t0 + ms(25_000), Input::Timeout);
    assert_eq!(drain(&mut s).0, vec![ws("2")]);
    s.handle(t0 + ms(45_000), Input::Timeout);
    assert_eq!(
        drain(&mut s),
        (
            vec![Transmit::WsClose],
            vec![Event::Closed(CloseReason::PingTimeout)]
        )
    );
}

#[test]
fn get_after_the_pong_deadline_finds_the_session_closed_without_a_timer_call() {
    // pingInterval 300 ms, pingTimeout 200 ms, a client that never answers: a GET handled
    // at 500 ms sees the session closed even though the driver's timer has not fired yet.
    let t0 = Instant::now();
    let config = EngineConfig {
        ping_interval: ms(300),
        ping_timeout: ms(200),
        ..EngineConfig::default()
    };
    let mut s = polling_session(t0, config);
    assert_eq!(
        s.handle(t0 + ms(500), Input::PollGet),
        Reply::Http(HttpResponse::error(ErrorCode::UnknownSid))
    );
    assert_eq!(
        drain(&mut s),
        (vec![], vec![Event::Closed(CloseReason::PingTimeout)])
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn get_just_before_the_pong_deadline_is_held_and_carries_the_ping() {
    let t0 = Instant::now();
    let config = EngineConfig {
        ping_interval: ms(300),
        ping_timeout: ms(200),
        ..EngineConfig::default()
    };
    let mut s = polling_session(t0, config);
    assert_eq!(s.handle(t0 + ms(499), Input::PollGet), Reply::Held);
    assert_eq!(drain(&mut s), (vec![poll("2")], vec![]));
    assert_eq!(s.poll_timeout(), Some(t0 + ms(500)));
}

#[test]
fn pong_deadline_counts_from_when_the_ping_was_due() {
    // A driver that fires the ping timer late does not stretch the heartbeat.
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    s.handle(t0 + ms(25_300), Input::Timeout);
    assert_eq!(drain(&mut s).0, vec![poll("2")]);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(45_000)));
}

#[test]
fn a_post_handled_after_every_deadline_closes_the_session_first() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    // Ping due at 25 s, pong deadline at 45 s: a message at 50 s comes too late.
    let r = s.handle(t0 + ms(50_000), Input::PollPost(body("4late")));
    assert!(matches!(r, Reply::Http(r) if r.status == 400));
    assert_eq!(
        drain(&mut s).1,
        vec![Event::Closed(CloseReason::PingTimeout)]
    );
}

// ----- long-polling data -----

#[test]
fn post_with_several_packets_yields_messages_in_order_and_ok() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(
        s.handle(t0, Input::PollPost(body("4a\x1e4b"))),
        Reply::Http(ok())
    );
    assert_eq!(drain(&mut s), (vec![], vec![text_msg("a"), text_msg("b")]));
}

#[test]
fn post_binary_segment_yields_binary_message() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(
        s.handle(t0, Input::PollPost(body("4hello\x1ebAQIDBA=="))),
        Reply::Http(ok())
    );
    assert_eq!(
        drain(&mut s).1,
        vec![
            text_msg("hello"),
            Event::Message(Message::binary(vec![1u8, 2, 3, 4]))
        ]
    );
}

#[test]
fn queued_messages_are_delivered_to_the_next_get_joined_by_separator() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    s.send(Message::text("a")).unwrap();
    s.send(Message::text("b")).unwrap();
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert_eq!(s.queued(), 2);
    assert_eq!(s.handle(t0 + ms(5), Input::PollGet), Reply::Held);
    assert_eq!(drain(&mut s), (vec![poll("4a\x1e4b")], vec![]));
    assert_eq!(s.queued(), 0);
}

#[test]
fn held_get_is_answered_as_soon_as_a_message_is_sent() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    s.send(Message::text("now")).unwrap();
    assert_eq!(drain(&mut s), (vec![poll("4now")], vec![]));
}

#[test]
fn binary_message_is_base64_on_polling() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    s.send(Message::text("hello")).unwrap();
    s.send(Message::binary(vec![1u8, 2, 3, 4])).unwrap();
    assert_eq!(s.handle(t0, Input::PollGet), Reply::Held);
    assert_eq!(drain(&mut s).0, vec![poll("4hello\x1ebAQIDBA==")]);
}

#[test]
fn overlapping_get_is_rejected_and_closes_session() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    assert_eq!(
        s.handle(t0 + ms(1), Input::PollGet),
        Reply::Http(HttpResponse::empty(400))
    );
    assert_eq!(
        drain(&mut s),
        (
            vec![poll("1")],
            vec![Event::Closed(CloseReason::TransportError)]
        )
    );
    assert!(s.is_closed());
}

#[test]
fn client_close_packet_releases_held_get_with_noop() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    assert_eq!(
        s.handle(t0 + ms(1), Input::PollPost(body("1"))),
        Reply::Http(ok())
    );
    assert_eq!(
        drain(&mut s),
        (
            vec![poll("6")],
            vec![Event::Closed(CloseReason::TransportClose)]
        )
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn messages_before_client_close_in_one_post_are_delivered() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(
        s.handle(t0, Input::PollPost(body("4last\x1e1\x1e4ignored"))),
        Reply::Http(ok())
    );
    assert_eq!(
        drain(&mut s).1,
        vec![text_msg("last"), Event::Closed(CloseReason::TransportClose)]
    );
}

#[test]
fn aborted_long_poll_closes_with_transport_close() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    s.handle(t0 + ms(1), Input::PollAborted);
    assert_eq!(
        drain(&mut s),
        (vec![], vec![Event::Closed(CloseReason::TransportClose)])
    );
}

#[test]
fn overlapping_post_is_rejected_and_closes_the_session() {
    // Node's "data request overlap from client": the second POST gets an empty 400 at once,
    // and the session closes with `transport error`; the held GET carries the `close`.
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    assert_eq!(s.handle(t0 + ms(1), Input::PollPostStarted), Reply::None);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert_eq!(
        s.handle(t0 + ms(2), Input::PollPostStarted),
        Reply::Http(HttpResponse::empty(400))
    );
    assert_eq!(
        drain(&mut s),
        (
            vec![poll("1")],
            vec![Event::Closed(CloseReason::TransportError)]
        )
    );
    // The first POST's body, when it comes, finds the session gone.
    assert_eq!(
        s.handle(t0 + ms(3), Input::PollPost(body("4late"))),
        Reply::Http(HttpResponse::error(ErrorCode::UnknownSid))
    );
    assert_eq!(drain(&mut s), (vec![], vec![]));
}

#[test]
fn overlapping_post_without_a_held_get_closes_on_the_next_get() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0, Input::PollPostStarted), Reply::None);
    assert_eq!(
        s.handle(t0, Input::PollPostStarted),
        Reply::Http(HttpResponse::empty(400))
    );
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert!(!s.is_closed());
    // Closing: what the first POST carries is ignored, as Node does once closing.
    assert_eq!(
        s.handle(t0 + ms(1), Input::PollPost(body("4ignored"))),
        Reply::Http(ok())
    );
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert_eq!(s.handle(t0 + ms(2), Input::PollGet), Reply::Held);
    assert_eq!(
        drain(&mut s),
        (
            vec![poll("1")],
            vec![Event::Closed(CloseReason::TransportError)]
        )
    );
}

#[test]
fn posts_one_after_the_other_are_not_an_overlap() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0, Input::PollPostStarted), Reply::None);
    assert_eq!(s.handle(t0, Input::PollPost(body("4a"))), Reply::Http(ok()));
    assert_eq!(s.handle(t0 + ms(1), Input::PollPostStarted), Reply::None);
    // This one ends without a body (refused as too large, or its client went away).
    s.handle(t0 + ms(2), Input::PollPostAborted);
    assert_eq!(s.handle(t0 + ms(3), Input::PollPostStarted), Reply::None);
    assert_eq!(
        s.handle(t0 + ms(3), Input::PollPost(body("4b"))),
        Reply::Http(ok())
    );
    assert_eq!(drain(&mut s), (vec![], vec![text_msg("a"), text_msg("b")]));
    assert!(!s.is_closed());
}

#[test]
fn a_session_that_ends_answers_its_held_get() {
    // However a polling session ends, a GET it holds is answered (`close`), never left to
    // the driver.
    let t0 = Instant::now();
    let config = EngineConfig {
        ping_interval: ms(100),
        ping_timeout: ms(50),
        ..EngineConfig::default()
    };
    let mut s = polling_session_with_get(t0, config, t0);
    // The ping answers the held GET; the next GET is held while the pong is awaited.
    s.handle(t0 + ms(100), Input::Timeout);
    assert_eq!(drain(&mut s).0, vec![poll("2")]);
    assert_eq!(s.handle(t0 + ms(101), Input::PollGet), Reply::Held);
    s.handle(t0 + ms(150), Input::Timeout);
    assert_eq!(
        drain(&mut s),
        (
            vec![poll("1")],
            vec![Event::Closed(CloseReason::PingTimeout)]
        )
    );
}

// ----- upgrade -----

#[test]
fn probe_is_answered_with_3probe_and_held_get_with_noop() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    assert_eq!(s.handle(t0 + ms(1), Input::WsOpen), Reply::None);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert!(s.is_upgrading());
    s.handle(t0 + ms(2), Input::WsFrame(text_frame("2probe")));
    assert_eq!(
        drain(&mut s),
        (vec![ws("3probe"), poll("6")], vec![Event::Upgrading])
    );
    assert_eq!(s.transport(), TransportKind::Polling);
}

#[test]
fn upgrade_packet_completes_the_upgrade() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.handle(t0, Input::WsFrame(text_frame("2probe")));
    drain(&mut s);
    s.handle(t0 + ms(3), Input::WsFrame(text_frame("5")));
    assert_eq!(drain(&mut s), (vec![], vec![Event::Upgraded]));
    assert_eq!(s.transport(), TransportKind::WebSocket);
    assert!(!s.is_upgrading());
    // The upgrade timer is gone: only the ping remains.
    assert_eq!(s.poll_timeout(), Some(t0 + ms(25_000)));
}

#[test]
fn messages_queued_during_upgrade_leave_as_ws_frames_after_it() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.handle(t0, Input::WsFrame(text_frame("2probe")));
    assert_eq!(drain(&mut s).0, vec![ws("3probe")]);
    s.send(Message::text("x")).unwrap();
    s.send(Message::binary(vec![9u8])).unwrap();
    assert_eq!(drain(&mut s), (vec![], vec![]));
    s.handle(t0 + ms(1), Input::WsFrame(text_frame("5")));
    assert_eq!(
        drain(&mut s),
        (
            vec![
                ws("4x"),
                Transmit::Ws(Frame::Binary(Bytes::from_static(&[9])))
            ],
            vec![Event::Upgraded]
        )
    );
    s.send(Message::text("y")).unwrap();
    assert_eq!(drain(&mut s).0, vec![ws("4y")]);
}

/// A session whose probe succeeded (`3probe` sent, no `GET` held), upgrade pending.
fn probed_session(t0: Instant) -> ServerSession {
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.handle(t0, Input::WsFrame(text_frame("2probe")));
    assert_eq!(drain(&mut s), (vec![ws("3probe")], vec![Event::Upgrading]));
    s
}

#[test]
fn get_during_pending_upgrade_is_held_then_400_when_the_upgrade_completes() {
    let t0 = Instant::now();
    let mut s = probed_session(t0);
    assert_eq!(s.handle(t0 + ms(1), Input::PollGet), Reply::Held);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    s.handle(t0 + ms(2), Input::WsFrame(text_frame("5")));
    assert_eq!(
        drain(&mut s),
        (
            vec![Transmit::PollResponse(HttpResponse {
                status: 400,
                content_type: Some("application/json"),
                body: Bytes::from_static(br#"{"code":3,"message":"Bad request"}"#)
            })],
            vec![Event::Upgraded]
        )
    );
    assert_eq!(s.transport(), TransportKind::WebSocket);
    // The release timer is gone with the held GET: only the ping remains.
    assert_eq!(s.poll_timeout(), Some(t0 + ms(25_000)));
}

#[test]
fn get_after_the_upgrade_is_400_transport_mismatch() {
    let t0 = Instant::now();
    let mut s = probed_session(t0);
    s.handle(t0 + ms(1), Input::WsFrame(text_frame("5")));
    drain(&mut s);
    assert_eq!(
        s.handle(t0 + ms(2), Input::PollGet),
        Reply::Http(HttpResponse::error(ErrorCode::BadRequest))
    );
}

#[test]
fn get_during_pending_upgrade_is_released_with_noop_after_the_delay() {
    // The client may need this GET answered to finish pausing its polling (as Node's
    // fast-upgrade check does every 100 ms).
    let t0 = Instant::now();
    let mut s = probed_session(t0);
    s.send(Message::text("later")).unwrap();
    assert_eq!(s.handle(t0 + ms(10), Input::PollGet), Reply::Held);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(110)));
    s.handle(t0 + ms(109), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    s.handle(t0 + ms(110), Input::Timeout);
    // `noop`, not the queued message: that one goes out on the websocket after the upgrade.
    assert_eq!(drain(&mut s), (vec![poll("6")], vec![]));
    s.handle(t0 + ms(120), Input::WsFrame(text_frame("5")));
    assert_eq!(drain(&mut s), (vec![ws("4later")], vec![Event::Upgraded]));
}

#[test]
fn get_during_pending_upgrade_is_released_by_any_input_after_the_delay() {
    let t0 = Instant::now();
    let mut s = probed_session(t0);
    assert_eq!(s.handle(t0 + ms(10), Input::PollGet), Reply::Held);
    // No `Input::Timeout`: the `upgrade` frame comes late, the GET was due for release first.
    s.handle(t0 + ms(200), Input::WsFrame(text_frame("5")));
    assert_eq!(drain(&mut s), (vec![poll("6")], vec![Event::Upgraded]));
}

#[test]
fn get_during_pending_upgrade_is_handled_normally_when_the_upgrade_is_cancelled() {
    let t0 = Instant::now();
    let mut s = probed_session(t0);
    s.send(Message::text("m")).unwrap();
    assert_eq!(s.handle(t0 + ms(1), Input::PollGet), Reply::Held);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    // A wrong packet on the probe cancels the upgrade: the GET carries the queue.
    s.handle(t0 + ms(2), Input::WsFrame(text_frame("4oops")));
    assert_eq!(drain(&mut s), (vec![Transmit::WsClose, poll("4m")], vec![]));
    assert_eq!(s.transport(), TransportKind::Polling);
    // No release timer left behind.
    assert_eq!(s.poll_timeout(), Some(t0 + ms(25_000)));
}

#[test]
fn get_during_pending_upgrade_stays_held_when_the_probe_websocket_closes() {
    let t0 = Instant::now();
    let mut s = probed_session(t0);
    assert_eq!(s.handle(t0 + ms(1), Input::PollGet), Reply::Held);
    s.handle(t0 + ms(2), Input::WsClosed { error: false });
    assert_eq!(drain(&mut s), (vec![], vec![]));
    // An ordinary long-poll again: the next message answers it.
    s.send(Message::text("m")).unwrap();
    assert_eq!(drain(&mut s), (vec![poll("4m")], vec![]));
}

#[test]
fn upgrade_timeout_closes_probe_and_session_keeps_polling() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0 + ms(1_000), Input::WsOpen), Reply::None);
    s.handle(t0 + ms(1_000), Input::WsFrame(text_frame("2probe")));
    assert_eq!(drain(&mut s).0, vec![ws("3probe")]);
    s.send(Message::text("m")).unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + ms(11_000)));

    s.handle(t0 + ms(11_000), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![Transmit::WsClose], vec![]));
    assert!(!s.is_upgrading());
    assert!(!s.is_closed());
    assert_eq!(s.transport(), TransportKind::Polling);

    assert_eq!(s.handle(t0 + ms(11_001), Input::PollGet), Reply::Held);
    assert_eq!(drain(&mut s).0, vec![poll("4m")]);
    assert_eq!(
        s.handle(t0 + ms(11_002), Input::PollPost(body("4up"))),
        Reply::Http(ok())
    );
    assert_eq!(drain(&mut s).1, vec![text_msg("up")]);
}

#[test]
fn second_websocket_while_upgrading_is_refused() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    assert!(matches!(
        s.handle(t0 + ms(1), Input::WsOpen),
        Reply::Refused(ProtocolError::Unexpected(_))
    ));
    // The first probe is unaffected.
    s.handle(t0 + ms(2), Input::WsFrame(text_frame("2probe")));
    assert_eq!(drain(&mut s), (vec![ws("3probe")], vec![Event::Upgrading]));
}

#[test]
fn websocket_is_refused_when_upgrades_are_off() {
    let t0 = Instant::now();
    let config = EngineConfig {
        allow_upgrades: false,
        ..EngineConfig::default()
    };
    let mut s = polling_session(t0, config);
    assert!(s.handle(t0, Input::WsOpen) != Reply::None);
    assert!(!s.is_upgrading());
}

#[test]
fn wrong_probe_payload_cancels_the_upgrade() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.handle(t0, Input::WsFrame(text_frame("2nope")));
    assert_eq!(drain(&mut s), (vec![Transmit::WsClose], vec![]));
    assert!(!s.is_upgrading());
    assert!(!s.is_closed());
}

#[test]
fn upgrade_packet_without_probe_completes_the_upgrade_as_in_node() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.handle(t0, Input::WsFrame(text_frame("5")));
    assert_eq!(drain(&mut s), (vec![], vec![Event::Upgraded]));
    assert_eq!(s.transport(), TransportKind::WebSocket);
}

#[test]
fn probe_websocket_closing_leaves_polling_session_open() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.handle(t0 + ms(1), Input::WsClosed { error: false });
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert!(!s.is_upgrading());
    assert!(!s.is_closed());
    assert_eq!(s.poll_timeout(), Some(t0 + ms(25_000)));
}

// ----- limits and errors -----

#[test]
fn post_over_max_http_buffer_size_is_413_and_session_untouched() {
    let t0 = Instant::now();
    let config = EngineConfig {
        max_http_buffer_size: 10,
        ..EngineConfig::default()
    };
    let mut s = polling_session_with_get(t0, config, t0);
    assert_eq!(
        s.handle(t0, Input::PollPost(body("4aaaaaaaaaa"))),
        Reply::Http(HttpResponse::empty(413))
    );
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert!(!s.is_closed());
    assert_eq!(
        s.handle(t0, Input::PollPost(body("4aaaaaaaaa"))),
        Reply::Http(ok())
    );
    assert_eq!(drain(&mut s).1, vec![text_msg("aaaaaaaaa")]);
}

#[test]
fn malformed_post_body_closes_with_parse_error() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    // Node still answers the POST with `ok`, then closes the session.
    assert_eq!(
        s.handle(t0, Input::PollPost(body("x-not-a-packet"))),
        Reply::Http(ok())
    );
    assert_eq!(
        drain(&mut s),
        (
            vec![poll("1")],
            vec![Event::Closed(CloseReason::ParseError)]
        )
    );
}

#[test]
fn packets_before_a_malformed_segment_are_delivered_as_in_node() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(
        s.handle(t0, Input::PollPost(body("4a\x1e9"))),
        Reply::Http(ok())
    );
    assert_eq!(
        drain(&mut s).1,
        vec![text_msg("a"), Event::Closed(CloseReason::ParseError)]
    );
}

#[test]
fn empty_post_body_closes_with_parse_error() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(
        s.handle(t0, Input::PollPost(Bytes::new())),
        Reply::Http(ok())
    );
    assert_eq!(
        drain(&mut s).1,
        vec![Event::Closed(CloseReason::ParseError)]
    );
}

#[test]
fn get_after_client_close_over_polling_is_answered_with_noop() {
    // The long-poll raced the client's `close`: it gets what it would have got had it been
    // held when the `close` came.
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert!(!s.lingers());
    assert_eq!(s.handle(t0, Input::PollPost(body("1"))), Reply::Http(ok()));
    assert_eq!(
        drain(&mut s),
        (vec![], vec![Event::Closed(CloseReason::TransportClose)])
    );
    assert!(s.lingers());
    assert_eq!(
        s.handle(t0 + ms(1), Input::PollGet),
        Reply::Http(HttpResponse::payload(Bytes::from_static(b"6")))
    );
    assert_eq!(drain(&mut s), (vec![], vec![]));
}

#[test]
fn get_on_session_closed_otherwise_is_rejected_as_unknown_sid() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    s.close(t0, CloseReason::ForcedClose);
    assert_eq!(s.handle(t0, Input::PollGet), Reply::Held);
    drain(&mut s);
    assert!(s.is_closed());
    assert!(!s.lingers());
    assert_eq!(
        s.handle(t0, Input::PollGet),
        Reply::Http(HttpResponse::error(ErrorCode::UnknownSid))
    );
}

#[test]
fn client_close_over_websocket_does_not_linger() {
    let t0 = Instant::now();
    let mut s = upgraded_session(t0, EngineConfig::default());
    s.handle(t0, Input::WsFrame(text_frame("1")));
    assert!(s.is_closed());
    assert!(!s.lingers());
}

// ----- server close -----

#[test]
fn server_close_on_polling_delivers_queued_message_then_close() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    s.send(Message::text("bye")).unwrap();
    s.close(t0 + ms(1), CloseReason::ForcedClose);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert!(!s.is_closed());
    assert_eq!(s.handle(t0 + ms(2), Input::PollGet), Reply::Held);
    assert_eq!(
        drain(&mut s),
        (
            vec![poll("4bye\x1e1")],
            vec![Event::Closed(CloseReason::ForcedClose)]
        )
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn server_close_with_held_get_answers_close_at_once() {
    let t0 = Instant::now();
    let mut s = polling_session_with_get(t0, EngineConfig::default(), t0);
    s.close(t0 + ms(1), CloseReason::ServerShuttingDown);
    assert_eq!(
        drain(&mut s),
        (
            vec![poll("1")],
            vec![Event::Closed(CloseReason::ServerShuttingDown)]
        )
    );
}

#[test]
fn server_close_without_get_closes_at_close_timeout() {
    let t0 = Instant::now();
    let config = EngineConfig {
        close_timeout: ms(5_000),
        ..EngineConfig::default()
    };
    let mut s = polling_session(t0, config);
    s.close(t0 + ms(1_000), CloseReason::ForcedClose);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(6_000)));
    s.handle(t0 + ms(5_999), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    s.handle(t0 + ms(6_000), Input::Timeout);
    assert_eq!(
        drain(&mut s),
        (vec![], vec![Event::Closed(CloseReason::ForcedClose)])
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn closing_session_does_not_report_a_past_ping_deadline() {
    // Closing at 20 s with the default 30 s close timeout: the 25 s ping must not be sent,
    // and its deadline must not stay in `poll_timeout` (the runtime would spin on it). As in
    // Node, the pong deadline is armed all the same and bounds the closing session.
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    s.close(t0 + ms(20_000), CloseReason::ForcedClose);
    s.handle(t0 + ms(25_000), Input::Timeout);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    let next = s.poll_timeout().expect("still closing");
    assert!(next > t0 + ms(25_000), "poll_timeout in the past: {next:?}");
    assert_eq!(next, t0 + ms(45_000));
}

#[test]
fn pong_while_closing_does_not_schedule_another_ping() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    s.handle(t0 + ms(25_000), Input::Timeout);
    s.close(t0 + ms(25_001), CloseReason::ForcedClose);
    assert_eq!(
        s.handle(t0 + ms(25_002), Input::PollPost(body("3"))),
        Reply::Http(ok())
    );
    // The pong is ignored while closing: no next ping is scheduled, and the pending pong
    // deadline (45 s, before the 55 s close deadline) ends the session.
    assert_eq!(s.poll_timeout(), Some(t0 + ms(45_000)));
    s.handle(t0 + ms(45_000), Input::Timeout);
    let (_, events) = drain(&mut s);
    assert_eq!(events, vec![Event::Closed(CloseReason::PingTimeout)]);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn server_close_on_websocket_flushes_then_closes_the_websocket() {
    let t0 = Instant::now();
    let mut s = upgraded_session(t0, EngineConfig::default());
    s.send(Message::text("bye")).unwrap();
    s.close(t0 + ms(1), CloseReason::ForcedClose);
    assert_eq!(
        drain(&mut s),
        (
            vec![ws("4bye"), Transmit::WsClose],
            vec![Event::Closed(CloseReason::ForcedClose)]
        )
    );
}

// ----- websocket transport -----

#[test]
fn ws_frames_become_message_events() {
    let t0 = Instant::now();
    let mut s = upgraded_session(t0, EngineConfig::default());
    s.handle(t0, Input::WsFrame(text_frame("4hello")));
    s.handle(
        t0,
        Input::WsFrame(Frame::Binary(Bytes::from_static(&[1, 2]))),
    );
    assert_eq!(
        drain(&mut s).1,
        vec![
            text_msg("hello"),
            Event::Message(Message::binary(vec![1u8, 2]))
        ]
    );
}

#[test]
fn ws_frame_over_size_limit_closes_with_transport_error() {
    let t0 = Instant::now();
    let config = EngineConfig {
        max_http_buffer_size: 10,
        ..EngineConfig::default()
    };
    let mut s = router(config).accept(t0, TransportKind::WebSocket, ());
    drain(&mut s);
    s.handle(t0, Input::WsFrame(text_frame("4aaaaaaaaaa")));
    assert_eq!(
        drain(&mut s),
        (
            vec![Transmit::WsClose],
            vec![Event::Closed(CloseReason::TransportError)]
        )
    );
}

#[test]
fn ws_close_closes_with_transport_close() {
    let t0 = Instant::now();
    let mut s = router(EngineConfig::default()).accept(t0, TransportKind::WebSocket, ());
    drain(&mut s);
    s.handle(t0 + ms(1), Input::WsClosed { error: false });
    assert_eq!(
        drain(&mut s),
        (vec![], vec![Event::Closed(CloseReason::TransportClose)])
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn ws_failure_closes_with_transport_error() {
    let t0 = Instant::now();
    let mut s = router(EngineConfig::default()).accept(t0, TransportKind::WebSocket, ());
    drain(&mut s);
    s.handle(t0 + ms(1), Input::WsClosed { error: true });
    assert_eq!(
        drain(&mut s),
        (vec![], vec![Event::Closed(CloseReason::TransportError)])
    );
}

#[test]
fn close_packet_on_websocket_closes_it_with_transport_close() {
    let t0 = Instant::now();
    let mut s = router(EngineConfig::default()).accept(t0, TransportKind::WebSocket, ());
    drain(&mut s);
    s.handle(t0, Input::WsFrame(text_frame("1")));
    assert_eq!(
        drain(&mut s),
        (
            vec![Transmit::WsClose],
            vec![Event::Closed(CloseReason::TransportClose)]
        )
    );
}

#[test]
fn empty_ws_text_frame_closes_with_parse_error() {
    let t0 = Instant::now();
    let mut s = router(EngineConfig::default()).accept(t0, TransportKind::WebSocket, ());
    drain(&mut s);
    s.handle(t0, Input::WsFrame(text_frame("")));
    assert_eq!(
        drain(&mut s),
        (
            vec![Transmit::WsClose],
            vec![Event::Closed(CloseReason::ParseError)]
        )
    );
}

// ----- commands -----

#[test]
fn send_after_close_is_usage_error_closed() {
    let t0 = Instant::now();
    let mut s = router(EngineConfig::default()).accept(t0, TransportKind::WebSocket, ());
    s.handle(t0, Input::WsClosed { error: false });
    drain(&mut s);
    assert_eq!(s.send(Message::text("late")), Err(UsageError::Closed));
}

#[test]
fn send_while_closing_is_usage_error_closed() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    s.close(t0, CloseReason::ForcedClose);
    assert_eq!(s.send(Message::text("late")), Err(UsageError::Closed));
}

#[test]
fn send_beyond_queue_bound_closes_with_send_buffer_full() {
    let t0 = Instant::now();
    let config = EngineConfig {
        max_queue: 2,
        ..EngineConfig::default()
    };
    let mut s = polling_session(t0, config);
    s.send(Message::text("1")).unwrap();
    s.send(Message::text("2")).unwrap();
    assert_eq!(s.send(Message::text("3")), Err(UsageError::QueueFull(2)));
    // The client is not reading: the session ends and what it pinned is released.
    assert!(s.is_closed());
    assert_eq!((s.queued(), s.queued_bytes()), (0, 0));
    let (_, e) = drain(&mut s);
    assert_eq!(e, vec![Event::Closed(CloseReason::SendBufferFull)]);
    assert_eq!(CloseReason::SendBufferFull.as_str(), "send buffer full");
}

#[test]
fn send_frames_over_the_bound_queues_none_of_them() {
    let t0 = Instant::now();
    let config = EngineConfig {
        max_queue: 3,
        ..EngineConfig::default()
    };
    let mut s = polling_session(t0, config);
    s.send(Message::text("1")).unwrap();
    s.send(Message::text("2")).unwrap();
    let frames = [
        text_frame("451-[\"b\"]"),
        Frame::Binary(Bytes::from_static(b"x")),
    ];
    assert_eq!(
        s.send_frames(frames.iter().cloned(), 2),
        Err(UsageError::QueueFull(3))
    );
    assert_eq!(s.queued(), 0);
    assert!(s.is_closed());
}

#[test]
fn queued_bytes_over_the_bound_close_a_websocket_session_that_does_not_read() {
    let t0 = Instant::now();
    let config = EngineConfig {
        max_queue_bytes: 100_000,
        ..EngineConfig::default()
    };
    let mut s = upgraded_session(t0, config);
    drain(&mut s);
    let big = Message::text("4".repeat(40_000));
    // The runtime does not drain: the writes are blocked.
    s.send(big.clone()).unwrap();
    s.send(big.clone()).unwrap();
    assert_eq!(s.queued_bytes(), 80_002);
    assert_eq!(s.send(big), Err(UsageError::QueueFull(4096)));
    assert_eq!((s.queued(), s.queued_bytes()), (0, 0));
    let (t, e) = drain(&mut s);
    assert_eq!(t, vec![Transmit::WsClose]);
    assert_eq!(e, vec![Event::Closed(CloseReason::SendBufferFull)]);
}

#[test]
fn queued_bytes_go_down_as_frames_are_written() {
    let t0 = Instant::now();
    let config = EngineConfig {
        max_queue_bytes: 100_000,
        ..EngineConfig::default()
    };
    let mut s = upgraded_session(t0, config);
    drain(&mut s);
    let big = Message::text("4".repeat(40_000));
    for _ in 0..10 {
        s.send(big.clone()).unwrap();
        assert_eq!(s.queued_bytes(), 40_001);
        let (t, _) = drain(&mut s);
        assert_eq!(t.len(), 1);
        assert_eq!(s.queued_bytes(), 0);
    }
    assert!(!s.is_closed());
}

// ----- timers -----

#[test]
fn poll_timeout_is_the_minimum_of_the_timers() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.poll_timeout(), Some(t0 + ms(25_000)));
    // A probe at 20 s: upgrade deadline 30 s, later than the ping.
    assert_eq!(s.handle(t0 + ms(20_000), Input::WsOpen), Reply::None);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(25_000)));
    // The ping at 25 s arms the pong deadline (45 s): the upgrade deadline is now first.
    s.handle(t0 + ms(25_000), Input::Timeout);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(30_000)));
    s.handle(t0 + ms(30_000), Input::Timeout);
    assert_eq!(drain(&mut s).0, vec![Transmit::WsClose]);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(45_000)));
}

#[test]
fn poll_timeout_is_none_once_closed() {
    let t0 = Instant::now();
    let mut s = polling_session(t0, EngineConfig::default());
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.handle(t0, Input::PollPost(body("1")));
    drain(&mut s);
    assert!(s.is_closed());
    assert_eq!(s.poll_timeout(), None);
}

/// Closing while the client is switching (`3probe` sent): the probe stays, and once the client
/// sends `5` the close goes out on the websocket, so a client that paused its polling is not
/// left waiting.
#[test]
fn close_after_probe_answer_finishes_on_the_websocket() {
    use bytes::Bytes;
    use sio_proto::engine::server::{Event, Input, Reply, ServerSession, Transmit};
    use sio_proto::engine::{CloseReason, Frame, TransportKind};
    let t0 = std::time::Instant::now();
    let mut s = ServerSession::new(
        t0,
        "sid".into(),
        TransportKind::Polling,
        EngineConfig::default(),
    );
    while s.poll_transmit().is_some() {}
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.handle(
        t0,
        Input::WsFrame(Frame::Text(Bytes::from_static(b"2probe"))),
    );
    assert_eq!(
        s.poll_transmit(),
        Some(Transmit::Ws(Frame::Text(Bytes::from_static(b"3probe"))))
    );
    s.close(t0, CloseReason::ForcedClose);
    assert_eq!(s.poll_transmit(), None, "the probe is kept");
    s.handle(t0, Input::WsFrame(Frame::Text(Bytes::from_static(b"5"))));
    assert_eq!(
        s.poll_transmit(),
        Some(Transmit::Ws(Frame::Text(Bytes::from_static(b"1"))))
    );
    assert_eq!(s.poll_transmit(), Some(Transmit::WsClose));
    let events: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
    assert!(events.contains(&Event::Upgraded));
    assert_eq!(
        events.last(),
        Some(&Event::Closed(CloseReason::ForcedClose))
    );
    assert!(matches!(s.handle(t0, Input::PollGet), Reply::Http(_)));
}

/// Closing during an unanswered probe drops the probe and closes on polling.
#[test]
fn close_before_probe_answer_drops_the_probe() {
    use sio_proto::engine::server::{HttpResponse, Input, Reply, ServerSession, Transmit};
    use sio_proto::engine::{CloseReason, TransportKind};
    let t0 = std::time::Instant::now();
    let mut s = ServerSession::new(
        t0,
        "sid".into(),
        TransportKind::Polling,
        EngineConfig::default(),
    );
    while s.poll_transmit().is_some() {}
    assert_eq!(s.handle(t0, Input::WsOpen), Reply::None);
    s.close(t0, CloseReason::ForcedClose);
    assert_eq!(s.poll_transmit(), Some(Transmit::WsClose));
    assert_eq!(s.handle(t0, Input::PollGet), Reply::Held);
    assert_eq!(
        s.poll_transmit(),
        Some(Transmit::PollResponse(HttpResponse::close()))
    );
    assert!(s.is_closed());
}
