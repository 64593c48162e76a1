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
    let mut text = g.text();
    assert!(text.starts_with("40{\"sid\":\""), "{text}");
    // The connection handler's `welcome` usually leaves with the CONNECT answer, but a GET
    // that reaches the session before the handler ran gets the CONNECT answer alone.
    if !text.contains("42[\"welcome\"") {
        text.push('\u{1e}');
        text.push_str(&get(port, &q(&sid)).text());
    }
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

/// Two POSTs at once (Node: "data request overlap from client"): the second gets an empty 400
/// and the session closes with `transport error`; the first is still answered, and the next
/// GET gets the `close` packet.
pub fn concurrent_post_closes_the_session<D: Driver>() {
    use std::io::{Read, Write};
    let port = start::<D>();
    // The first POST's head goes out before the second connects; should the second still
    // reach the session first (no overlap then), the scenario is tried again.
    for _ in 0..20 {
        let sid = handshake(port);
        let query = q(&sid);
        let body = br#"42["x"]"#;
        let mut first = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        first.set_read_timeout(Some(Duration::from_secs(30))).ok();
        write!(
            first,
            "POST /socket.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Connection: close\r\nContent-Length: {}\r\n\
             Content-Type: text/plain;charset=UTF-8\r\n\r\n",
            body.len()
        )
        .unwrap();
        first.write_all(&body[..2]).unwrap();
        let second = post(port, &query, b"3");
        first.write_all(&body[2..]).unwrap();
        let mut raw = Vec::new();
        let _ = first.read_to_end(&mut raw);
        let raw = String::from_utf8_lossy(&raw).into_owned();
        // Whichever reached the session second is the overlapping one.
        match (raw.starts_with("HTTP/1.1 200"), second.status) {
            // One after the other: no overlap this time.
            (true, 200) => continue,
            (true, 400) => assert_eq!(second.text(), ""),
            (false, 200) => assert!(raw.starts_with("HTTP/1.1 400"), "{raw}"),
            _ => panic!("unexpected answers: {raw:?} and {second:?}"),
        }
        assert_eq!(get(port, &query).text(), "1");
        assert_eq!(get(port, &query).status, 400);
        return;
    }
    panic!("the second POST never overlapped the first");
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

/// CORS with a list of origins and credentials: allowed origins are echoed (preflight
/// included), others get no `Access-Control-Allow-Origin`; `Vary` as Node's `cors` sends it.
pub fn cors_headers<D: Driver>() {
    let config = ServerConfig::default().cors(
        sio::Cors::origins(["http://good.example"])
            .with_credentials()
            .expect("credentials for a list of origins"),
    );
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
    assert_eq!(a.header("vary"), Some("Origin"));
    // Methods and allowed headers are for preflights only.
    assert_eq!(a.header("access-control-allow-methods"), None);
    assert_eq!(a.header("access-control-allow-headers"), None);
    let a = request(
        port,
        "GET",
        target,
        &[("Origin", "http://evil.example")],
        b"",
    );
    // Not refused (no enforcement by default), but nothing grants the origin access.
    assert_eq!(a.status, 200);
    assert_eq!(a.header("access-control-allow-origin"), None);
    assert_eq!(a.header("vary"), Some("Origin"));
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
    assert_eq!(a.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(
        a.header("access-control-allow-methods"),
        Some("GET,HEAD,PUT,PATCH,POST,DELETE")
    );
    // No `Access-Control-Request-Headers`: no `Access-Control-Allow-Headers`.
    assert_eq!(a.header("access-control-allow-headers"), None);
    assert_eq!(
        a.header("vary"),
        Some("Origin, Access-Control-Request-Headers")
    );
    assert!(a.body.is_empty());
}

/// `CorsOrigins::Any` sends a literal `*` (never the request's origin), never with
/// credentials: that combination is refused when the configuration is written.
pub fn cors_any_is_a_literal_star<D: Driver>() {
    assert_eq!(
        sio::Cors::any().with_credentials().err(),
        Some(sio::CorsError::CredentialsWithAnyOrigin)
    );
    let port = D::start(ServerConfig::default().cors(sio::Cors::any()), app::setup).port;
    let target = "/socket.io/?EIO=4&transport=polling";
    for headers in [&[("Origin", "http://any.example")][..], &[][..]] {
        let a = request(port, "GET", target, headers, b"");
        assert_eq!(a.status, 200);
        assert_eq!(a.header("access-control-allow-origin"), Some("*"));
        assert_eq!(a.header("access-control-allow-credentials"), None);
        assert_eq!(a.header("vary"), None);
    }
    let a = request(
        port,
        "OPTIONS",
        target,
        &[
            ("Origin", "http://any.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,x-custom"),
        ],
        b"",
    );
    assert_eq!(a.status, 204);
    assert_eq!(a.header("access-control-allow-origin"), Some("*"));
    assert_eq!(a.header("access-control-allow-credentials"), None);
    assert_eq!(
        a.header("access-control-allow-methods"),
        Some("GET,HEAD,PUT,PATCH,POST,DELETE")
    );
    assert_eq!(
        a.header("access-control-allow-headers"),
        Some("content-type,x-custom")
    );
    assert_eq!(a.header("vary"), Some("Access-Control-Request-Headers"));
}

/// A preflight's `Access-Control-Allow-Headers` echoes `Access-Control-Request-Headers`, for an
/// allowed origin and (as Node's `cors` does) for any other; only the origin header differs.
pub fn cors_preflight_reflects_request_headers<D: Driver>() {
    let config =
        ServerConfig::default().cors(sio::Cors::predicate(|o| o.ends_with(".good.example")));
    let port = D::start(config, app::setup).port;
    let target = "/socket.io/?EIO=4&transport=polling";
    for (origin, allowed) in [
        ("https://app.good.example", true),
        ("https://evil.example", false),
    ] {
        let a = request(
            port,
            "OPTIONS",
            target,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "x-token, content-type"),
            ],
            b"",
        );
        assert_eq!(a.status, 204, "{origin}");
        assert_eq!(
            a.header("access-control-allow-origin"),
            allowed.then_some(origin),
            "{origin}"
        );
        assert_eq!(a.header("access-control-allow-credentials"), None);
        assert_eq!(
            a.header("access-control-allow-headers"),
            Some("x-token, content-type"),
            "{origin}"
        );
        assert_eq!(
            a.header("access-control-allow-methods"),
            Some("GET,HEAD,PUT,PATCH,POST,DELETE")
        );
        assert_eq!(
            a.header("vary"),
            Some("Origin, Access-Control-Request-Headers")
        );
    }
}

/// With `enforce_origin`, any Engine.IO request (handshake, long-poll, websocket upgrade) from
/// a present, non-allowed `Origin` is refused with 403 and Node's JSON error; requests without
/// an `Origin` and from allowed origins go through, and a refused request leaves the session
/// alone.
pub fn cors_enforced_origin_refuses_other_sites<D: Driver>() {
    let config = ServerConfig::default().cors(
        sio::Cors::origins(["http://good.example"])
            .with_credentials()
            .expect("credentials for a list of origins")
            .enforce_origin(),
    );
    let port = D::start(config, app::setup).port;
    let evil = [("Origin", "http://evil.example")];
    let good = [("Origin", "http://good.example")];
    let forbidden = json!({"code": 4, "message": "Forbidden"});
    let handshake_target = "/socket.io/?EIO=4&transport=polling";

    let a = request(port, "GET", handshake_target, &evil, b"");
    assert_eq!(a.status, 403);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.json(), forbidden);
    assert_eq!(a.header("access-control-allow-origin"), None);
    let a = request(port, "OPTIONS", handshake_target, &evil, b"");
    assert_eq!(a.status, 403);

    let a = request(port, "GET", handshake_target, &good, b"");
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://good.example")
    );
    let sid = handshake(port); // no Origin: not a browser, not refused
    let target = format!("/socket.io/?{}", q(&sid));

    // Cross-site websocket hijacking: a websocket handshake from another site is refused,
    // new session or upgrade alike.
    for query in [
        "EIO=4&transport=websocket".to_owned(),
        format!("EIO=4&transport=websocket&sid={sid}"),
    ] {
        match crate::raw::ws_connect(port, &query, &evil) {
            Err(tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 403, "{query}");
                let body = resp.body().clone().unwrap_or_default();
                assert_eq!(
                    serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
                    forbidden
                );
            }
            other => panic!("{query}: expected 403, got {:?}", other.map(|(_, r)| r)),
        }
    }
    let a = request(port, "POST", &target, &evil, b"40");
    assert_eq!(a.status, 403);
    assert_eq!(a.json(), forbidden);
    let a = request(port, "GET", &target, &evil, b"");
    assert_eq!(a.status, 403);

    // The session never saw those requests.
    assert_eq!(request(port, "POST", &target, &good, b"40").status, 200);
    let g = request(port, "GET", &target, &good, b"");
    assert!(g.text().starts_with("40{\"sid\""), "{}", g.text());
    let (_ws, resp) = crate::raw::ws_connect(port, "EIO=4&transport=websocket", &good)
        .expect("websocket from an allowed origin");
    assert_eq!(resp.status().as_u16(), 101);
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
/// Long-polling answers of 1 KiB or more are gzip- or deflate-encoded for a client that
/// accepts it (Node's `httpCompression`); smaller ones, clients that do not, and a server with
/// it off get them as they are.
pub fn polling_responses_are_compressed<D: Driver>() {
    use std::io::Read;
    for compression in [true, false] {
        let mut config = ServerConfig::default();
        if !compression {
            config.http_compression = None;
        }
        let srv = D::start(config, |io| {
            io.on_connection(|s: sio::Socket| async move {
                s.on("big", |s: sio::Socket, n: usize| async move {
                    let _ = s.emit("data", &"x".repeat(n));
                });
            });
        });
        let sid = handshake(srv.port);
        assert_eq!(post(srv.port, &q(&sid), b"40").status, 200);
        let target = format!("/socket.io/?{}", q(&sid));
        let poll = |accept: &str| {
            let headers: &[(&str, &str)] = if accept.is_empty() {
                &[]
            } else {
                &[("Accept-Encoding", accept)]
            };
            request(srv.port, "GET", &target, headers, b"")
        };
        // The CONNECT reply is small: never compressed.
        let a = poll("gzip, deflate");
        assert_eq!(a.header("content-encoding"), None);
        assert!(a.text().starts_with("40{"), "{}", a.text());
        let expected = format!(r#"42["data","{}"]"#, "x".repeat(4000));
        for (accept, encoding) in [
            ("gzip, deflate", "gzip"),
            ("deflate", "deflate"),
            ("br", ""),
            ("", ""),
        ] {
            assert_eq!(post(srv.port, &q(&sid), br#"42["big",4000]"#).status, 200);
            let a = poll(accept);
            assert_eq!(a.status, 200);
            let want = if compression { encoding } else { "" };
            assert_eq!(a.header("content-encoding").unwrap_or(""), want, "{accept}");
            let mut body = Vec::new();
            match a.header("content-encoding") {
                Some("gzip") => {
                    flate2::read::GzDecoder::new(&a.body[..])
                        .read_to_end(&mut body)
                        .unwrap();
                }
                Some("deflate") => {
                    flate2::read::ZlibDecoder::new(&a.body[..])
                        .read_to_end(&mut body)
                        .unwrap();
                }
                _ => body = a.body.clone(),
            }
            if !want.is_empty() {
                assert!(a.body.len() < 200, "compressed: {} bytes", a.body.len());
            }
            assert_eq!(String::from_utf8_lossy(&body), expected);
        }
    }
}

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

/// Rounds of each edge-case race: each must hold every time, on every runtime.
const ROUNDS: usize = 50;

/// A websocket carrying the id of a session that already upgraded: as Node, the websocket
/// handshake completes (101) and that websocket is then closed; the session is unaffected.
pub fn edge_websocket_for_an_upgraded_session_is_closed<D: Driver>() {
    use tungstenite::Message;
    let port = start::<D>();
    for round in 0..ROUNDS {
        let sid = handshake(port);
        let mut ws = crate::raw::probe(port, &sid);
        ws.send(Message::text("5")).unwrap();
        ws.send(Message::text("40")).unwrap();
        let connect = ws.read().unwrap().into_text().unwrap();
        assert!(connect.starts_with("40{\"sid\""), "{connect}");

        let query = format!("EIO=4&transport=websocket&sid={sid}");
        let (mut second, resp) = crate::raw::ws_connect(port, &query, &[])
            .unwrap_or_else(|e| panic!("round {round}: second websocket handshake: {e}"));
        assert_eq!(resp.status().as_u16(), 101, "round {round}");
        match second.read() {
            Ok(Message::Close(_)) | Err(_) => {}
            Ok(m) => panic!("round {round}: unexpected frame on the second websocket: {m:?}"),
        }

        // The first websocket goes on.
        ws.send(Message::text("421[\"echo\",\"still here\"]"))
            .unwrap();
        loop {
            let m = ws.read().unwrap().into_text().unwrap();
            if m.starts_with("42[\"welcome\"") {
                continue;
            }
            assert_eq!(m.as_str(), "431[\"still here\"]", "round {round}");
            break;
        }
    }
}

/// The client's `close` (POST `1`) racing a long-poll: the `GET` gets 200 `6` whichever the
/// server handles first, and a `GET` sent just after the `close` too.
pub fn edge_client_close_racing_a_long_poll_gets_noop<D: Driver>() {
    use std::sync::{Arc, Barrier};
    let port = start::<D>();
    for round in 0..ROUNDS {
        let sid = handshake(port);
        let query = q(&sid);
        let barrier = Arc::new(Barrier::new(2));
        let long_poll = {
            let (query, barrier) = (query.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                get(port, &query)
            })
        };
        barrier.wait();
        let p = post(port, &query, b"1");
        let g = long_poll.join().unwrap();
        assert_eq!((p.status, p.text().as_str()), (200, "ok"), "round {round}");
        assert_eq!(
            (g.status, g.text().as_str()),
            (200, "6"),
            "round {round}: the long-poll racing the close"
        );
        assert_eq!(g.header("content-type"), Some("text/plain; charset=UTF-8"));
        // Strictly after the close: the session is gone, the late GET still gets `noop`.
        let late = get(port, &query);
        assert_eq!(
            (late.status, late.text().as_str()),
            (200, "6"),
            "round {round}"
        );
        // Anything else is an unknown session, as in Node.
        let p = post(port, &query, b"40");
        assert_eq!(p.status, 400, "round {round}");
        assert_eq!(
            p.json(),
            json!({"code": 1, "message": "Session ID unknown"})
        );
    }
}

/// pingInterval 300 ms, pingTimeout 200 ms, a polling client that never answers: a `GET`
/// sent 500 ms after the handshake finds the session gone (400), however late the server's
/// own timer wakes up.
pub fn edge_missing_pong_session_is_gone_at_the_deadline<D: Driver>() {
    let config = ServerConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200));
    let port = D::start(config, app::setup).port;
    // Five clients at a time, ten rounds each: 50 rounds, and a busier server.
    let clients: Vec<_> = (0..5)
        .map(|c| {
            std::thread::spawn(move || {
                for round in 0..ROUNDS / 5 {
                    let sid = handshake(port);
                    // The scenario's own timing (the pong deadline), not a wait for the server.
                    let answered = std::time::Instant::now();
                    let at = answered + Duration::from_millis(500);
                    std::thread::sleep(at.saturating_duration_since(std::time::Instant::now()));
                    let g = get(port, &q(&sid));
                    assert_eq!(
                        (g.status, g.json()),
                        (400, json!({"code": 1, "message": "Session ID unknown"})),
                        "client {c} round {round}: {}",
                        g.text()
                    );
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

/// Once the client sent `upgrade` (`5`) on its websocket, a long-poll `GET` gets 400, even
/// when the two reach the server at once on different threads; the session goes on over the
/// websocket.
pub fn edge_get_racing_the_upgrade_is_400<D: Driver>() {
    use std::sync::{Arc, Barrier};
    use tungstenite::Message;
    let port = start::<D>();
    for round in 0..ROUNDS {
        let sid = handshake(port);
        let mut ws = crate::raw::probe(port, &sid);
        let barrier = Arc::new(Barrier::new(2));
        let long_poll = {
            let (query, barrier) = (q(&sid), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                get(port, &query)
            })
        };
        barrier.wait();
        ws.send(Message::text("5")).unwrap();
        let g = long_poll.join().unwrap();
        assert_eq!(
            (g.status, g.json()),
            (400, json!({"code": 3, "message": "Bad request"})),
            "round {round}: {}",
            g.text()
        );
        ws.send(Message::text("40")).unwrap();
        let connect = ws.read().unwrap().into_text().unwrap();
        assert!(
            connect.starts_with("40{\"sid\""),
            "round {round}: {connect}"
        );
    }
}

/// Instantiates the raw suite for a driver.
#[macro_export]
macro_rules! raw_suite {
    ($driver:ty) => {
        $crate::raw_suite!(@ $driver; handshake_json, error_answers, polling_exchange,
            malformed_packet_closes_only_that_session, oversized_body_is_413,
            concurrent_get_closes_the_session, concurrent_post_closes_the_session,
            missing_pong_closes_the_session,
            pong_keeps_the_session, raw_websocket, cors_headers, cors_any_is_a_literal_star,
            cors_preflight_reflects_request_headers, cors_enforced_origin_refuses_other_sites,
            allow_request_refuses, polling_responses_are_compressed, cookie_is_set, serve_client_bundle, server_close,
            engine_only_echo, edge_websocket_for_an_upgraded_session_is_closed,
            edge_client_close_racing_a_long_poll_gets_noop,
            edge_missing_pong_session_is_gone_at_the_deadline,
            edge_get_racing_the_upgrade_is_400);
    };
    (@ $driver:ty; $($name:ident),*) => {
        $( #[test] fn $name() { $crate::raw_suite::$name::<$driver>(); } )*
    };
}
