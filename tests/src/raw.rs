//! A minimal HTTP/1.1 client over a plain `TcpStream`, for the tests that look at what a
//! client library hides (exact status codes, bodies, headers).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Header lines, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
pub fn request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "Content-Length: {}\r\nContent-Type: text/plain;charset=UTF-8\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// `GET /socket.io/?<query>`.
pub fn get(port: u16, query: &str) -> Answer {
    request(port, "GET", &format!("/socket.io/?{query}"), &[], b"")
}

/// `POST /socket.io/?<query>` with `body`.
pub fn post(port: u16, query: &str, body: &[u8]) -> Answer {
    request(port, "POST", &format!("/socket.io/?{query}"), &[], body)
}

/// A polling handshake; returns the session id.
pub fn handshake(port: u16) -> String {
    let a = get(port, "EIO=4&transport=polling");
    assert_eq!(a.status, 200, "{}", a.text());
    let json: serde_json::Value = serde_json::from_slice(&a.body[1..]).expect("open packet JSON");
    json["sid"].as_str().expect("sid").to_owned()
}

/// `EIO=4&transport=polling&sid=<sid>`.
pub fn q(sid: &str) -> String {
    format!("EIO=4&transport=polling&sid={sid}")
}

/// A websocket on `/socket.io/?<query>` over a plain `TcpStream`, with extra request headers.
pub fn ws_connect(
    port: u16,
    query: &str,
    headers: &[(&str, &str)],
) -> Result<
    (
        tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
        tungstenite::handshake::client::Response,
    ),
    tungstenite::Error,
> {
    use tungstenite::client::IntoClientRequest;
    let url = format!("ws://127.0.0.1:{port}/socket.io/?{query}");
    let mut req = url.into_client_request()?;
    for (k, v) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(k.as_bytes()).expect("header name");
        let value = tungstenite::http::HeaderValue::from_str(v).expect("header value");
        req.headers_mut().insert(name, value);
    }
    let (ws, resp) = tungstenite::connect(req)?;
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    }
    Ok((ws, resp))
}

/// Opens the upgrade websocket of polling session `sid` and completes the probe (`2probe`,
/// `3probe`); the upgrade itself (`5`) is left to the caller.
pub fn probe(
    port: u16,
    sid: &str,
) -> tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>> {
    let (mut ws, resp) = ws_connect(port, &format!("EIO=4&transport=websocket&sid={sid}"), &[])
        .expect("upgrade websocket");
    assert_eq!(resp.status().as_u16(), 101);
    ws.send(tungstenite::Message::text("2probe"))
        .expect("send 2probe");
    let pong = ws.read().expect("read 3probe");
    assert_eq!(pong.into_text().expect("text").as_str(), "3probe");
    ws
}
