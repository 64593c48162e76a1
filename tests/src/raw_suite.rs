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
        (
            "GET",
            "EIO=4&transport=carrier-pigeon",
            400,
            0,
            "Transport unknown",
        ),
        ("GET", "EIO=4", 400, 0, "Transport unknown"),
        (
            "GET",
            "EIO=4&transport=polling&sid=nope",
            400,
            1,
            "Session ID unknown",
        ),
        (
            "POST",
            "EIO=4&transport=polling",
            400,
            2,
            "Bad handshake method",
        ),
        ("GET", "EIO=4&transport=websocket", 400, 3, "Bad request"),
        (
            "GET",
            "EIO=3&transport=polling",
            400,
            5,
            "Unsupported protocol version",
        ),
        (
            "GET",
            "transport=polling",
            400,
            5,
            "Unsupported protocol version",
        ),
    ];
    for (method, query, status, code, message) in cases {
        let a = request(port, method, &format!("/socket.io/?{query}"), &[], b"");
        assert_eq!(a.status, status, "{method} {query}");
        assert_eq!(
            a.header("content-type"),
            Some("application/json"),
            "{query}"
        );
        assert_eq!(
            a.json(),
            json!({"code": code, "message": message}),
            "{query}"
        );
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
    let a = post(
        port,
        &q(&sid),
        b"421[\"echo\",{\"x\":1}]\x1e422[\"echo\",2]",
    );
    assert_eq!(a.status, 200);
    // The two acks come from two handler futures: one long-poll may carry both, or each
    // its own.
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(
            get(port, &q(&sid))
                .text()
                .split('\u{1e}')
                .map(str::to_owned),
        );
    }
    assert_eq!(got, ["431[{\"x\":1}]", "432[2]"]);
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
    assert_eq!(
        g.json(),
        json!({"code": 1, "message": "Session ID unknown"})
    );
    assert_eq!(
        post(port, &q(&b), b"421[\"echo\",\"still here\"]").status,
        200
    );
    assert_eq!(get(port, &q(&b)).text(), "431[\"still here\"]");
}

/// A body over `maxHttpBufferSize` gets 413 and the session goes on.
pub fn oversized_body_is_413<D: Driver>() {
    let port = D::start(
        ServerConfig::default().max_http_buffer_size(1000),
        app::setup,
    )
    .port;
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
    assert_eq!(
        ws.read().unwrap().into_text().unwrap().as_str(),
        "431[\"ws\"]"
    );
    ws.send(Message::text("42{broken")).unwrap();
    match ws.read() {
        Ok(Message::Close(_)) | Err(_) => {}
        Ok(m) => panic!("unexpected frame after a parse error: {m:?}"),
    }
}

/// CORS: allowed origins get the headers (preflight included), others do not.
pub fn cors_headers<D: Driver>() {
    let config = ServerConfig::default().cors(sio::Cors {
        origins: sio::CorsOrigins::List(vec!["http://good.example".into()]),
        credentials: true,
    });
    let port = D::start(config, app::setup).port;
    let target = "/socket.io/?EIO=4&transport=polling";
    let a = request(
        port,
        "GET",
        target,
        &[("Origin", "http://good.example")],
        b"",
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://good.example")
    );
    assert_eq!(a.header("access-control-allow-credentials"), Some("true"));
    let a = request(
        port,
        "GET",
        target,
        &[("Origin", "http://evil.example")],
        b"",
    );
    assert_eq!(a.header("access-control-allow-origin"), None);
    let a = request(
        port,
        "OPTIONS",
        target,
        &[("Origin", "http://good.example")],
        b"",
    );
    assert_eq!(a.status, 204);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://good.example")
    );
}

/// `allowRequest` refusing a handshake: 403 with the hook's message.
pub fn allow_request_refuses<D: Driver>() {
    let config = ServerConfig {
        allow_request: Some(std::sync::Arc::new(|info: &sio::server::RequestInfo| {
            let ok = info
                .headers
                .get("x-token")
                .is_some_and(|v| v == "let-me-in");
            Box::pin(async move {
                if ok {
                    Ok(())
                } else {
                    Err("no token".to_owned())
                }
            })
        })),
        ..ServerConfig::default()
    };
    let port = D::start(config, app::setup).port;
    let a = get(port, "EIO=4&transport=polling");
    assert_eq!(a.status, 403);
    assert_eq!(a.json(), json!({"code": 4, "message": "no token"}));
    let a = request(
        port,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &[("x-token", "let-me-in")],
        b"",
    );
    assert_eq!(a.status, 200);
}

/// The session cookie when configured.
pub fn cookie_is_set<D: Driver>() {
    let config = ServerConfig {
        cookie: Some(sio::server::CookieConfig::default()),
        ..ServerConfig::default()
    };
    let port = D::start(config, app::setup).port;
    let a = get(port, "EIO=4&transport=polling");
    let sid = serde_json::from_slice::<serde_json::Value>(&a.body[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        a.header("set-cookie"),
        Some(format!("io={sid}; Path=/; HttpOnly; SameSite=Lax").as_str())
    );
}

/// `serveClient`: the bundle with an ETag, 304 on a match, gzip when accepted.
pub fn serve_client_bundle<D: Driver>() {
    crate::ensure_node_modules();
    let dist = crate::js_dir().join("node_modules/socket.io-client/dist");
    let port = D::start(ServerConfig::default().serve_client(&dist), app::setup).port;
    let a = request(port, "GET", "/socket.io/socket.io.js", &[], b"");
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    let on_disk = std::fs::read(dist.join("socket.io.js")).unwrap();
    assert_eq!(a.body, on_disk);
    let etag = a.header("etag").unwrap().to_owned();
    let b = request(
        port,
        "GET",
        "/socket.io/socket.io.js",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(b.status, 304);
    assert!(b.body.is_empty());
    let g = request(
        port,
        "GET",
        "/socket.io/socket.io.min.js",
        &[("Accept-Encoding", "gzip, br")],
        b"",
    );
    assert_eq!(g.status, 200);
    assert_eq!(g.header("content-encoding"), Some("gzip"));
    assert_eq!(&g.body[..2], &[0x1f, 0x8b]);
    let m = request(port, "GET", "/socket.io/socket.io.min.js.map", &[], b"");
    assert_eq!(m.header("content-type"), Some("application/json"));
    assert_eq!(
        request(port, "GET", "/socket.io/other.js", &[], b"").status,
        404
    );
}

/// `close()`: open sessions end with `close` and new handshakes are refused.
pub fn server_close<D: Driver>() {
    let srv = D::start(app::config(), app::setup);
    let port = srv.port;
    let sid = handshake(port);
    assert_eq!(post(port, &q(&sid), b"40").status, 200);
    assert!(get(port, &q(&sid)).text().starts_with("40"));
    let query = q(&sid);
    // Long-poll until the `close` packet (the `welcome` event may come first).
    let held = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..5 {
            let a = get(port, &query);
            seen.push((a.status, a.text()));
            if a.status != 200 || a.text().split('\u{1e}').next_back() == Some("1") {
                break;
            }
        }
        seen
    });
    D::block_on(srv.server.close());
    let seen = held.join().unwrap();
    assert_eq!(
        seen.last()
            .map(|(s, t)| (*s, t.split('\u{1e}').next_back().unwrap_or("").to_owned())),
        Some((200, "1".to_owned())),
        "{seen:?}"
    );
    assert_eq!(srv.server.session_count(), 0);
    assert_eq!(get(port, "EIO=4&transport=polling").status, 400);
}

/// A plain Engine.IO server echoes text and binary over polling and websocket.
pub fn engine_only_echo<D: Driver>() {
    let port = D::start_engine(|eio| {
        eio.on_connection(|s: sio::engine::EngineSocket| async move {
            s.on_message(|s, m| {
                let _ = s.send(m);
            });
        });
    });
    let target = |q: &str| format!("/engine.io/?{q}");
    let a = request(port, "GET", &target("EIO=4&transport=polling"), &[], b"");
    assert_eq!(a.status, 200);
    let sid = serde_json::from_slice::<serde_json::Value>(&a.body[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let qs = target(&q(&sid));
    assert_eq!(
        request(port, "POST", &qs, &[], b"4hello\x1ebAQIDBA==").status,
        200
    );
    assert_eq!(
        request(port, "GET", &qs, &[], b"").text(),
        "4hello\x1ebAQIDBA=="
    );
    // The Socket.IO path is not served by a plain Engine.IO server.
    assert_eq!(get(port, "EIO=4&transport=polling").status, 404);

    use tungstenite::Message;
    let url = format!("ws://127.0.0.1:{port}/engine.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tungstenite::connect(url).expect("websocket");
    assert!(ws.read().unwrap().into_text().unwrap().starts_with("0{"));
    ws.send(Message::text("4text")).unwrap();
    assert_eq!(ws.read().unwrap().into_text().unwrap().as_str(), "4text");
    ws.send(Message::binary(vec![9u8, 8, 7])).unwrap();
    assert_eq!(ws.read().unwrap().into_data().to_vec(), vec![9u8, 8, 7]);
}

/// Instantiates the raw suite for a driver.
#[macro_export]
macro_rules! raw_suite {
    ($driver:ty) => {
        $crate::raw_suite!(@ $driver; handshake_json, error_answers, polling_exchange,
            malformed_packet_closes_only_that_session, oversized_body_is_413,
            concurrent_get_closes_the_session, missing_pong_closes_the_session,
            pong_keeps_the_session, raw_websocket, cors_headers, allow_request_refuses,
            cookie_is_set, serve_client_bundle, server_close, engine_only_echo);
    };
    (@ $driver:ty; $($name:ident),*) => {
        $( #[test] fn $name() { $crate::raw_suite::$name::<$driver>(); } )*
    };
}
