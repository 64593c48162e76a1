//! Engine.IO v3 clients (Socket.IO v2, Node's `allowEIO3`): the npm `socket.io-client` 2.x
//! against our server (`tests/js/v2_client.js`), and raw checks of the v3 framing that the npm
//! client in Node does not use (binary long-polling payloads) or hides (the heartbeat).

use std::time::Duration;

use sio::ServerConfig;

use crate::raw::{get, request, ws_connect};
use crate::{app, run_node, Driver};

/// The scenario server: the interop application, v3 allowed, a 300 ms heartbeat (the v2
/// client pings at that interval, so the scenarios exercise it).
pub fn config() -> ServerConfig {
    let mut c = app::config().allow_eio3(true);
    c.engine.ping_interval = Duration::from_millis(300);
    c.engine.ping_timeout = Duration::from_millis(1000);
    c
}

/// Runs one scenario of `tests/js/v2_client.js` in one transport mode.
pub fn v2_scenario<D: Driver>(mode: &str, scenario: &str) {
    let srv = D::start(config(), app::setup);
    match run_node(
        "v2_client.js",
        &[&srv.url(), mode, scenario],
        Duration::from_secs(30),
    ) {
        Ok(out) => assert!(out.trim_end().ends_with("PASS"), "{out}"),
        Err(out) => panic!(
            "v2 scenario {scenario} ({mode}, {}) failed:\n{out}",
            D::NAME
        ),
    }
}

/// One entry of a v3 long-polling payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A text packet (type digit first).
    Text(String),
    /// A binary packet: its type byte, then the data.
    Binary(Vec<u8>),
}

/// Writes text packets as a v3 text payload: `<UTF-16 length>:<packet>` each.
pub fn text_payload(packets: &[&str]) -> String {
    packets
        .iter()
        .map(|p| format!("{}:{p}", p.encode_utf16().count()))
        .collect()
}

/// Writes entries as a v3 binary payload.
pub fn binary_payload(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (kind, data) = match e {
            Entry::Text(t) => (0u8, t.as_bytes()),
            Entry::Binary(b) => (1u8, &b[..]),
        };
        out.push(kind);
        out.extend(data.len().to_string().bytes().map(|d| d - b'0'));
        out.push(0xff);
        out.extend_from_slice(data);
    }
    out
}

/// Reads a v3 payload, text or binary (told by its first byte).
pub fn parse_payload(body: &[u8]) -> Vec<Entry> {
    let mut out = Vec::new();
    if body.first().is_some_and(|&b| b <= 1) {
        let mut i = 0;
        while i < body.len() {
            let kind = body[i];
            let end = i + 1 + body[i + 1..].iter().position(|&c| c == 0xff).expect("0xff");
            let len = body[i + 1..end]
                .iter()
                .fold(0usize, |n, &d| n * 10 + d as usize);
            let data = body[end + 1..end + 1 + len].to_vec();
            out.push(match kind {
                0 => Entry::Text(String::from_utf8(data).expect("UTF-8 entry")),
                _ => Entry::Binary(data),
            });
            i = end + 1 + len;
        }
        return out;
    }
    let text = std::str::from_utf8(body).expect("a text payload is UTF-8");
    let mut rest = text;
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(':').expect("length");
        let units: usize = len.parse().expect("decimal length");
        let mut taken = 0;
        let mut bytes = 0;
        for c in tail.chars() {
            if taken == units {
                break;
            }
            taken += c.len_utf16();
            bytes += c.len_utf8();
        }
        assert_eq!(taken, units, "length {units} in {text:?}");
        out.push(Entry::Text(tail[..bytes].to_owned()));
        rest = &tail[bytes..];
    }
    out
}

fn v3_q(sid: &str) -> String {
    format!("EIO=3&transport=polling&sid={sid}")
}

/// A v3 polling handshake (`extra` appended to the query); the session id and the open data.
fn v3_handshake(port: u16, extra: &str) -> (String, serde_json::Value) {
    let a = get(port, &format!("EIO=3&transport=polling{extra}"));
    assert_eq!(a.status, 200, "{}", a.text());
    let entries = parse_payload(&a.body);
    let Some(Entry::Text(open)) = entries.first() else {
        panic!("no open packet: {entries:?}");
    };
    let open: serde_json::Value = serde_json::from_str(&open[1..]).expect("open JSON");
    (open["sid"].as_str().expect("sid").to_owned(), open)
}

/// Polls until `count` entries other than pongs and noops arrived; returns them.
fn poll_entries(port: u16, sid: &str, count: usize) -> Vec<Entry> {
    let mut seen = Vec::new();
    for _ in 0..20 {
        let a = get(port, &v3_q(sid));
        assert_eq!(a.status, 200, "{}", a.text());
        seen.extend(
            parse_payload(&a.body)
                .into_iter()
                .filter(|e| !matches!(e, Entry::Text(t) if t == "3" || t == "6")),
        );
        if seen.len() >= count {
            return seen;
        }
    }
    panic!("only {seen:?}");
}

fn post_binary(port: u16, sid: &str, body: &[u8]) -> crate::raw::Answer {
    request(
        port,
        "POST",
        &format!("/socket.io/?{}", v3_q(sid)),
        &[("Content-Type", "application/octet-stream")],
        body,
    )
}

/// Over polling without `b64`: the handshake in v3 framing, the main namespace joined at once
/// with the Engine.IO id as socket id, binary payloads both ways (a binary event with an ack,
/// answered with a binary ack in an `application/octet-stream` payload), the client's ping
/// answered, UTF-16 lengths.
pub fn polling_binary_payloads<D: Driver>() {
    let port = D::start(config(), app::setup).port;
    let (sid, open) = v3_handshake(port, "");
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    // CONNECT of `/` without payload, then the welcome event.
    let entries = poll_entries(port, &sid, 2);
    assert_eq!(entries[0], Entry::Text("40".into()));
    let Entry::Text(welcome) = &entries[1] else {
        panic!("{entries:?}")
    };
    let w: serde_json::Value = serde_json::from_str(&welcome[2..]).expect("welcome");
    assert_eq!(w, serde_json::json!(["welcome", {"id": sid, "nsp": "/"}]));

    // A binary event with an ack, in a binary payload, beside a ping.
    let event =
        r#"451-0["binary-echo",{"name":"é😀","data":{"_placeholder":true,"num":0},"parts":[]}]"#;
    let mut attachment = vec![4u8];
    attachment.extend_from_slice(&[0, 1, 2, 255]);
    let body = binary_payload(&[
        Entry::Text(event.into()),
        Entry::Binary(attachment),
        Entry::Text("2".into()),
    ]);
    let a = post_binary(port, &sid, &body);
    assert_eq!((a.status, a.text().as_str()), (200, "ok"));
    let mut got = Vec::new();
    for _ in 0..10 {
        let a = get(port, &v3_q(&sid));
        assert_eq!(a.status, 200);
        let entries = parse_payload(&a.body);
        if entries.iter().any(|e| matches!(e, Entry::Binary(_))) {
            assert_eq!(
                a.header("content-type"),
                Some("application/octet-stream"),
                "{entries:?}"
            );
        }
        got.extend(entries);
        if got.iter().any(|e| matches!(e, Entry::Binary(_))) {
            break;
        }
    }
    assert!(got.contains(&Entry::Text("3".into())), "no pong: {got:?}");
    let ack = got
        .iter()
        .position(|e| matches!(e, Entry::Text(t) if t.starts_with("461-0")))
        .unwrap_or_else(|| panic!("no binary ack: {got:?}"));
    assert_eq!(
        got[ack],
        Entry::Text(
            r#"461-0[{"name":"é😀","data":{"_placeholder":true,"num":0},"parts":[]}]"#.into()
        )
    );
    assert_eq!(got[ack + 1], Entry::Binary(vec![4, 0, 1, 2, 255]));

    // Text payload POST with non-ASCII text: lengths in UTF-16 code units.
    let body = text_payload(&[r#"420["echo","ça 😀"]"#, "2"]);
    let a = crate::raw::post(port, &v3_q(&sid), body.as_bytes());
    assert_eq!((a.status, a.text().as_str()), (200, "ok"));
    let got = poll_entries(port, &sid, 1);
    assert_eq!(got[0], Entry::Text(r#"430["ça 😀"]"#.into()));
}

/// With `b64=1` (what the npm v2 client sends from Node) binary data comes base64 in a text
/// payload (`b4...`), and a binary event sent that way is understood.
pub fn polling_base64<D: Driver>() {
    let port = D::start(config(), app::setup).port;
    let (sid, _) = v3_handshake(port, "&b64=1");
    poll_entries(port, &sid, 2);
    let event =
        r#"451-0["binary-echo",{"name":"x","data":{"_placeholder":true,"num":0},"parts":[]}]"#;
    // [0xca, 0xfe] in base64.
    let body = text_payload(&[event, "b4yv4="]);
    let a = crate::raw::post(port, &v3_q(&sid), body.as_bytes());
    assert_eq!((a.status, a.text().as_str()), (200, "ok"));
    let a = get(port, &v3_q(&sid));
    assert_eq!(a.header("content-type"), Some("text/plain; charset=UTF-8"));
    let got = parse_payload(&a.body);
    assert_eq!(
        got,
        vec![
            Entry::Text(
                r#"461-0[{"name":"x","data":{"_placeholder":true,"num":0},"parts":[]}]"#.into()
            ),
            Entry::Text("b4yv4=".into()),
        ]
    );
}

/// Over a v3 websocket: binary frames carry their type byte both ways, the client's ping is
/// answered, a namespace's query is its auth and its socket id `nsp#sid`.
pub fn websocket_frames<D: Driver>() {
    use tungstenite::Message;
    let port = D::start(config(), app::setup).port;
    let (mut ws, _) = ws_connect(port, "EIO=3&transport=websocket", &[]).expect("websocket");
    let read_text = |ws: &mut tungstenite::WebSocket<_>| loop {
        match ws.read().expect("frame") {
            Message::Text(t) => return t.to_string(),
            Message::Binary(b) => return format!("binary:{:?}", &b[..]),
            _ => continue,
        }
    };
    let open = read_text(&mut ws);
    assert!(open.starts_with("0{"), "{open}");
    let sid = serde_json::from_str::<serde_json::Value>(&open[1..]).expect("open")["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    assert_eq!(read_text(&mut ws), "40");
    assert!(read_text(&mut ws).starts_with("42[\"welcome\""));

    ws.send(Message::text("2")).expect("ping");
    assert_eq!(read_text(&mut ws), "3");

    ws.send(Message::text(
        r#"451-7["binary-echo",{"name":"n","data":{"_placeholder":true,"num":0},"parts":[]}]"#,
    ))
    .expect("event");
    ws.send(Message::binary(vec![4u8, 9, 8, 7]))
        .expect("attachment");
    assert_eq!(
        read_text(&mut ws),
        r#"461-7[{"name":"n","data":{"_placeholder":true,"num":0},"parts":[]}]"#
    );
    assert_eq!(read_text(&mut ws), "binary:[4, 9, 8, 7]");

    ws.send(Message::text("40/private?token=secret&x=a+b,"))
        .expect("connect");
    assert_eq!(read_text(&mut ws), "40/private,");
    let welcome = read_text(&mut ws);
    let w: serde_json::Value = serde_json::from_str(&welcome["42/private,".len()..]).expect("w");
    assert_eq!(w[1]["id"], format!("/private#{sid}"));
    ws.send(Message::text(r#"42/private,1["handshake",null]"#))
        .expect("handshake event");
    let hs = read_text(&mut ws);
    let hs: serde_json::Value = serde_json::from_str(&hs["43/private,1".len()..]).expect("hs");
    assert_eq!(
        hs[0]["auth"],
        serde_json::json!({"token": "secret", "x": "a b"})
    );
}

/// A v3 websocket of a client without binary support (`b64=1`, as socket.io-client 2.x with
/// `forceBase64`): binary data travels as `b4` + base64 text frames, both ways.
pub fn websocket_base64<D: Driver>() {
    use tungstenite::Message;
    let port = D::start(config(), app::setup).port;
    let (mut ws, _) = ws_connect(port, "EIO=3&transport=websocket&b64=1", &[]).expect("websocket");
    let read = |ws: &mut tungstenite::WebSocket<_>, n: usize| {
        let mut texts = Vec::new();
        while texts.len() < n {
            match ws.read().expect("frame") {
                Message::Text(t) => texts.push(t.to_string()),
                Message::Binary(b) => panic!("a binary frame for a b64 client: {b:?}"),
                _ => {}
            }
        }
        texts
    };
    let texts = read(&mut ws, 3);
    assert!(texts[0].starts_with("0{") && texts[1] == "40", "{texts:?}");
    ws.send(Message::text(
        r#"451-3["binary-echo",{"name":"b","data":{"_placeholder":true,"num":0},"parts":[]}]"#,
    ))
    .expect("event");
    ws.send(Message::text("b4yv4="))
        .expect("attachment as base64");
    assert_eq!(
        read(&mut ws, 2),
        vec![
            r#"461-3[{"name":"b","data":{"_placeholder":true,"num":0},"parts":[]}]"#.to_owned(),
            "b4yv4=".to_owned(),
        ]
    );
}

/// The v3 heartbeat: the server sends no ping, and a client that does not ping within
/// `ping_interval + ping_timeout` is closed (its held poll gets `close`); a pong from the
/// client (the wrong direction) closes the session too, and so does a flood of pings whose
/// pongs are never read (over the queue bound, not buffered for).
pub fn heartbeat<D: Driver>() {
    let mut c = config();
    c.engine.ping_interval = Duration::from_millis(200);
    c.engine.ping_timeout = Duration::from_millis(200);
    let port = D::start(c, app::setup).port;
    let (sid, _) = v3_handshake(port, "");
    poll_entries(port, &sid, 2);
    // Held until the session ends at about 400 ms: never a ping, then `close`.
    let a = get(port, &v3_q(&sid));
    assert_eq!(parse_payload(&a.body), vec![Entry::Text("1".into())]);
    let a = get(port, &v3_q(&sid));
    assert_eq!(a.status, 400);

    let (sid, _) = v3_handshake(port, "");
    let a = crate::raw::post(port, &v3_q(&sid), text_payload(&["3"]).as_bytes());
    assert_eq!(a.status, 200);
    let a = get(port, &v3_q(&sid));
    assert_eq!(a.status, 400, "{}", a.text());

    let mut c = config();
    c.engine.max_queue = 100;
    let port = D::start(c, app::setup).port;
    let (sid, _) = v3_handshake(port, "");
    let flood = "1:2".repeat(150);
    let a = crate::raw::post(port, &v3_q(&sid), flood.as_bytes());
    assert_eq!(a.status, 200);
    let a = get(port, &v3_q(&sid));
    assert_eq!(
        a.status,
        400,
        "the session outlived its queue bound: {}",
        a.text()
    );
}

/// Off by default: Node's answer to a v3 handshake.
pub fn refused_by_default<D: Driver>() {
    let port = D::start(app::config(), app::setup).port;
    for query in ["EIO=3&transport=polling", "EIO=3&transport=polling&b64=1"] {
        let a = get(port, query);
        assert_eq!(a.status, 400);
        assert_eq!(
            a.json(),
            serde_json::json!({"code": 5, "message": "Unsupported protocol version"})
        );
    }
}

/// Instantiates the Engine.IO v3 suite for a driver: the npm v2 client's scenarios in every
/// transport mode, and the raw framing checks.
#[macro_export]
macro_rules! eio3_suite {
    ($driver:ty) => {
        $crate::eio3_suite!(@ $driver;
            connect, echo_ack, server_asks_client_for_ack, binary_both_ways, namespace_with_query,
            middleware_rejects, invalid_namespace, heartbeat, server_disconnect, mixed_broadcast,
        );
        mod raw {
            #[test] fn polling_binary_payloads() { $crate::eio3::polling_binary_payloads::<$driver>(); }
            #[test] fn polling_base64() { $crate::eio3::polling_base64::<$driver>(); }
            #[test] fn websocket_frames() { $crate::eio3::websocket_frames::<$driver>(); }
            #[test] fn websocket_base64() { $crate::eio3::websocket_base64::<$driver>(); }
            #[test] fn heartbeat() { $crate::eio3::heartbeat::<$driver>(); }
            #[test] fn refused_by_default() { $crate::eio3::refused_by_default::<$driver>(); }
        }
    };
    (@ $driver:ty; $($scenario:ident),* $(,)?) => {
        mod websocket {
            $( #[test] fn $scenario() { $crate::eio3::v2_scenario::<$driver>("websocket", stringify!($scenario)); } )*
        }
        mod polling {
            $( #[test] fn $scenario() { $crate::eio3::v2_scenario::<$driver>("polling", stringify!($scenario)); } )*
        }
        mod upgrade {
            $( #[test] fn $scenario() { $crate::eio3::v2_scenario::<$driver>("upgrade", stringify!($scenario)); } )*
        }
    };
}
