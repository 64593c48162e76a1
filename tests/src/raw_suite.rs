//! Raw HTTP and websocket checks of the server, for what client libraries hide: status codes,
//! JSON error bodies, the handshake, protocol violations. Generic over the runtime driver.

use std::time::Duration;

use serde_json::json;
use sio::ServerConfig;

use crate::raw::{get, handshake, post, q, request};
use crate::{app, Driver};

fn start<D: Driver>() -> u16 {
    D::start(app::config(), app::setup).port
}

/// The polling handshake answer: status, content type, open packet fields.
pub fn handshake_json<D: Driver>() {
    let port = start::<D>();
    let a = get(port, "EIO=4&transport=polling&t=abc");
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(a.body[0], b'0');
    let open: serde_json::Value = serde_json::from_slice(&a.body[1..]).unwrap();
    assert_eq!(open["sid"].as_str().unwrap().len(), 20);
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(open["pingInterval"], json!(25000));
    assert_eq!(open["pingTimeout"], json!(20000));
    assert_eq!(open["maxPayload"], json!(1000000));
}

/// Every immediate error answer, with Node's codes and messages.
pub fn error_answers<D: Driver>() {
    let port = start::<D>();
    let cases = [
        ("GET", "EIO=4&transport=carrier-pigeon", 400, 0, "Transport unknown"),
        ("GET", "EIO=4", 400, 0, "Transport unknown"),
        ("GET", "EIO=4&transport=polling&sid=nope", 400, 1, "Session ID unknown"),
        ("POST", "EIO=4&transport=polling", 400, 2, "Bad handshake method"),
        ("GET", "EIO=4&transport=websocket", 400, 3, "Bad request"),
        ("GET", "EIO=3&transport=polling", 400, 5, "Unsupported protocol version"),
        ("GET", "transport=polling", 400, 5, "Unsupported protocol version"),
    ];
    for (method, query, status, code, message) in cases {
        let a = request(port, method, &format!("/socket.io/?{query}"), &[], b"");
        assert_eq!(a.status, status, "{method} {query}");
        assert_eq!(a.header("content-type"), Some("application/json"), "{query}");
        assert_eq!(a.json(), json!({"code": code, "message": message}), "{query}");
    }
    let a = request(port, "GET", "/elsewhere", &[], b"");
    assert_eq!(a.status, 404);
}

/// Long-polling exchange: CONNECT, then an event with an ack, over raw requests.
pub fn polling_exchange<D: Driver>() {
    let port = start::<D>();
    let sid = handshake(port);
    let a = post(port, &q(&sid), b"40");
    assert_eq!((a.status, a.text().as_str()), (200, "ok"));
    let g = get(port, &q(&sid));
    let text = g.text();
    assert!(text.starts_with("40{\"sid\":\""), "{text}");
    assert!(text.contains("\u{1e}42[\"welcome\""), "{text}");
    let a = post(port, &q(&sid), b"421[\"echo\",{\"x\":1}]\x1e422[\"echo\",2]");
    assert_eq!(a.status, 200);
    let g = get(port, &q(&sid));
    assert_eq!(g.text(), "431[{\"x\":1}]\u{1e}432[2]");
}

/// A malformed packet closes that session with `parse error` and leaves another one alone.
pub fn malformed_packet_closes_only_that_session<D: Driver>() {
    let port = start::<D>();
    let (a, b) = (handshake(port), handshake(port));
    for sid in [&a, &b] {
        assert_eq!(post(port, &q(sid), b"40").status, 200);
        assert!(get(port, &q(sid)).text().starts_with("40"));
    }
    assert_eq!(post(port, &q(&a), b"42{not an array").status, 200);
    // As in Node, the closing session hands its `close` packet to the next long-poll...
    assert_eq!(get(port, &q(&a)).text(), "1");
    // ...and is gone after that.
    let g = get(port, &q(&a));
    assert_eq!(g.status, 400, "{}", g.text());
    assert_eq!(g.json(), json!({"code": 1, "message": "Session ID unknown"}));
    assert_eq!(post(port, &q(&b), b"421[\"echo\",\"still here\"]").status, 200);
    assert_eq!(get(port, &q(&b)).text(), "431[\"still here\"]");
}

/// A body over `maxHttpBufferSize` gets 413 and the session goes on.
pub fn oversized_body_is_413<D: Driver>() {
    let port = D::start(ServerConfig::default().max_http_buffer_size(1000), app::setup).port;
    let sid = handshake(port);
    let big = vec![b'4'; 1001];
    assert_eq!(post(port, &q(&sid), &big).status, 413);
    assert_eq!(post(port, &q(&sid), b"40").status, 200);
    assert!(get(port, &q(&sid)).text().starts_with("40"));
}

/// Two GETs at once: one gets 400, the other the `close` packet, and the session is gone.
pub fn concurrent_get_closes_the_session<D: Driver>() {
    let port = start::<D>();
    let sid = handshake(port);
    let query = q(&sid);
    let first = {
        let query = query.clone();
        std::thread::spawn(move || get(port, &query))
    };
    let second = get(port, &query);
    let first = first.join().unwrap();
    let mut answers = [(first.status, first.text()), (second.status, second.text())];
    answers.sort();
    assert_eq!(answers[0], (200, "1".to_owned()));
    assert_eq!(answers[1].0, 400);
    assert_eq!(get(port, &query).status, 400);
}

/// A client that never answers the ping is closed after `pingTimeout`.
pub fn missing_pong_closes_the_session<D: Driver>() {
    let config = ServerConfig::default()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(200));
    let port = D::start(config, app::setup).port;
    let sid = handshake(port);
    assert_eq!(get(port, &q(&sid)).text(), "2");
    // No pong: the next long-poll is answered with `close` when the timeout fires.
    assert_eq!(get(port, &q(&sid)).text(), "1");
    assert_eq!(get(port, &q(&sid)).status, 400);
}

/// The pong keeps a session alive across several ping intervals.
pub fn pong_keeps_the_session<D: Driver>() {
    let config = ServerConfig::default()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(300));
    let port = D::start(config, app::setup).port;
    let sid = handshake(port);
    for _ in 0..3 {
        assert_eq!(get(port, &q(&sid)).text(), "2");
        assert_eq!(post(port, &q(&sid), b"3").status, 200);
    }
}

/// A websocket-only session, raw: open packet, CONNECT, event, and a malformed frame that
/// closes the connection.
pub fn raw_websocket<D: Driver>() {
    use tungstenite::Message;
    let port = start::<D>();
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, resp) = tungstenite::connect(url).expect("websocket handshake");
    assert_eq!(resp.status().as_u16(), 101);
    let open = ws.read().unwrap().into_text().unwrap();
    assert!(open.starts_with("0{\"sid\""), "{open}");
    let open: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    assert_eq!(open["upgrades"], json!([]));
    ws.send(Message::text("40")).unwrap();
    let connect = ws.read().unwrap().into_text().unwrap();
    assert!(connect.starts_with("40{\"sid\":\""), "{connect}");
    let welcome = ws.read().unwrap().into_text().unwrap();
    assert!(welcome.starts_with("42[\"welcome\""), "{welcome}");
    ws.send(Message::text("421[\"echo\",\"ws\"]")).unwrap();
    assert_eq!(ws.read().unwrap().into_text().unwrap().as_str(), "431[\"ws\"]");
    ws.send(Message::text("42{broken")).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(m) => panic!("unexpected frame after a parse error: {m:?}"),
        }
    }
}

/// Instantiates the raw suite for a driver.
#[macro_export]
macro_rules! raw_suite {
    ($driver:ty) => {
        $crate::raw_suite!(@ $driver; handshake_json, error_answers, polling_exchange,
            malformed_packet_closes_only_that_session, oversized_body_is_413,
            concurrent_get_closes_the_session, missing_pong_closes_the_session,
            pong_keeps_the_session, raw_websocket);
    };
    (@ $driver:ty; $($name:ident),*) => {
        $( #[test] fn $name() { $crate::raw_suite::$name::<$driver>(); } )*
    };
}
