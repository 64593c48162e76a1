//! Websocket `permessage-deflate`: the bytes on the wire seen by a raw client (compressed frames
//! with RSV1 from the threshold on, plain ones below it, compressed ones from the client
//! understood, an inflation bomb stopped), the npm client against our server
//! (`tests/js/deflate_client.js`), and our client against the npm server and ours.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use sio::{ClientOptions, PerMessageDeflate};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use crate::node_server::NodeServer;
use crate::{app, run_node, timeout, Driver};

/// The interop application with websocket compression on (Node's threshold, 1 KiB).
pub fn config() -> sio::ServerConfig {
    app::config().per_message_deflate(PerMessageDeflate::default())
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct File {
    name: String,
    data: bytes::Bytes,
    parts: Vec<bytes::Bytes>,
}

const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// Raw deflate of one message, flushed, without the tail (what a peer puts in a frame).
fn compress(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    c.compress_vec(data, &mut out, flate2::FlushCompress::Sync)
        .expect("deflate");
    assert_eq!(c.total_in() as usize, data.len(), "output buffer too small");
    assert!(out.ends_with(&TAIL));
    out.truncate(out.len() - 4);
    out
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut d = flate2::Decompress::new(false);
    let mut input = data.to_vec();
    input.extend_from_slice(&TAIL);
    let mut out = Vec::with_capacity(64 << 10);
    loop {
        let done = d.total_in() as usize;
        d.decompress_vec(&input[done..], &mut out, flate2::FlushDecompress::Sync)
            .expect("inflate");
        if d.total_in() as usize == input.len() && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity());
    }
}

/// Reads an HTTP head from `tcp`: the head as text, and the bytes after it.
fn read_head(tcp: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).expect("read an HTTP head");
        assert!(n > 0, "closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    (head, buf.split_off(end + 4))
}

/// A header's value in an HTTP head (`name` in lower case).
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// A websocket client (or server) over a plain `TcpStream`, frame by frame.
struct RawWs {
    tcp: TcpStream,
    buf: Vec<u8>,
    /// The client's end (its frames are masked).
    client: bool,
}

impl RawWs {
    /// Opens `/socket.io/?<query>` offering `offer` as `Sec-WebSocket-Extensions`; returns the
    /// client and the response's extensions header.
    fn open(port: u16, query: &str, offer: Option<&str>) -> (Self, Option<String>) {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut req = format!(
            "GET /socket.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n"
        );
        if let Some(o) = offer {
            req.push_str(&format!("Sec-WebSocket-Extensions: {o}\r\n"));
        }
        req.push_str("\r\n");
        tcp.write_all(req.as_bytes()).expect("write");
        let (head, rest) = read_head(&mut tcp);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let ext = header(&head, "sec-websocket-extensions");
        let ws = Self {
            tcp,
            buf: rest,
            client: true,
        };
        (ws, ext)
    }

    /// The server's end of a websocket handshake on `tcp`, answering `extensions`, with
    /// `first` as a compressed text frame in the same write as the `101`; returns it and the
    /// request's head.
    fn accept(mut tcp: TcpStream, extensions: &str, first: &str) -> (Self, String) {
        tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let (head, rest) = read_head(&mut tcp);
        let key = header(&head, "sec-websocket-key").expect("Sec-WebSocket-Key");
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n"
        );
        let ws = Self {
            tcp,
            buf: rest,
            client: false,
        };
        let mut bytes = answer.into_bytes();
        bytes.extend(ws.frame_bytes(OpCode::Data(Data::Text), &compress(first.as_bytes()), true));
        let mut ws = ws;
        ws.tcp.write_all(&bytes).expect("write");
        (ws, head)
    }

    /// The next frame: its header and unmasked payload; `None` when the server closed the TCP
    /// connection.
    fn frame(&mut self) -> Option<(FrameHeader, Vec<u8>)> {
        loop {
            let mut cursor = std::io::Cursor::new(&self.buf[..]);
            if let Some((h, len)) = FrameHeader::parse(&mut cursor).expect("frame header") {
                let start = cursor.position() as usize;
                let end = start + len as usize;
                if self.buf.len() >= end {
                    let mut payload = self.buf[start..end].to_vec();
                    if let Some(m) = h.mask {
                        for (i, b) in payload.iter_mut().enumerate() {
                            *b ^= m[i & 3];
                        }
                    }
                    self.buf.drain(..end);
                    return Some((h, payload));
                }
            }
            let mut chunk = [0u8; 65536];
            match self.tcp.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next data frame as text (inflated when RSV1 is set) and whether it was compressed.
    fn text(&mut self) -> (String, bool) {
        loop {
            let (h, p) = self.frame().expect("a frame");
            if let OpCode::Data(Data::Text) = h.opcode {
                assert!(h.is_final);
                let p = if h.rsv1 { inflate(&p) } else { p };
                return (String::from_utf8(p).expect("UTF-8"), h.rsv1);
            }
        }
    }

    /// Sends a masked text frame, compressed (RSV1) when `compressed`.
    fn send(&mut self, text: &str, compressed: bool) {
        let payload = if compressed {
            compress(text.as_bytes())
        } else {
            text.as_bytes().to_vec()
        };
        self.send_raw(OpCode::Data(Data::Text), &payload, compressed);
    }

    fn send_raw(&mut self, opcode: OpCode, payload: &[u8], rsv1: bool) {
        let out = self.frame_bytes(opcode, payload, rsv1);
        self.tcp.write_all(&out).expect("write frame");
    }

    /// One final frame as this end writes it (masked from a client).
    fn frame_bytes(&self, opcode: OpCode, payload: &[u8], rsv1: bool) -> Vec<u8> {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let h = FrameHeader {
            is_final: true,
            rsv1,
            opcode,
            mask: self.client.then_some(mask),
            ..FrameHeader::default()
        };
        let mut out = Vec::new();
        h.format(payload.len() as u64, &mut out).expect("header");
        if self.client {
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        } else {
            out.extend_from_slice(payload);
        }
        out
    }
}

/// The bytes on the wire: the extension agreed in the handshake, frames from the threshold on
/// compressed (RSV1, raw deflate without the tail) and below it plain, a compressed message
/// from the client understood, and a message that inflates beyond `maxHttpBufferSize` closing
/// that session (and no other). Without the option, no extension is agreed.
pub fn raw_frames<D: Driver>() {
    let mut c = config();
    c.engine.max_http_buffer_size = 100_000;
    let port = D::start(c, app::setup).port;
    let query = "EIO=4&transport=websocket";
    let (mut ws, ext) = RawWs::open(
        port,
        query,
        Some("permessage-deflate; client_max_window_bits"),
    );
    assert_eq!(
        ext.as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );
    let (open, compressed) = ws.text();
    assert!(open.starts_with("0{") && !compressed, "{open}");
    ws.send("40", false);
    let (connect, compressed) = ws.text();
    assert!(connect.starts_with("40{") && !compressed, "{connect}");
    let (welcome, compressed) = ws.text();
    assert!(welcome.starts_with("42[\"welcome\"") && !compressed);

    // Echo of 5000 characters: the answer is compressed; a small one is not.
    let big = "compressible text ".repeat(300);
    ws.send(&format!(r#"421["echo","{big}"]"#), false);
    let (answer, compressed) = ws.text();
    assert_eq!(answer, format!(r#"431["{big}"]"#));
    assert!(compressed, "a 5 KiB answer left uncompressed");
    ws.send(r#"422["echo","small"]"#, false);
    assert_eq!(ws.text(), (r#"432["small"]"#.to_owned(), false));

    // A compressed message from the client.
    ws.send(&format!(r#"423["echo","{big}"]"#), true);
    assert_eq!(ws.text(), (format!(r#"433["{big}"]"#), true));

    // `compress(false)` on an emit and on a broadcast: uncompressed whatever the size.
    ws.send(&format!(r#"42["uncompressed-echo","{big}"]"#), false);
    assert_eq!(ws.text(), (format!(r#"42["echoed","{big}"]"#), false));
    assert_eq!(ws.text(), (format!(r#"42["echoed-room","{big}"]"#), false));
    assert_eq!(
        ws.text(),
        (format!(r#"42["echoed-compressed","{big}"]"#), true)
    );

    // Another session, to see that the bomb below disturbs only its own.
    let (mut other, _) = RawWs::open(port, query, Some("permessage-deflate"));
    other.text();
    other.send("40", false);
    other.text();
    other.text();

    // 5 MB of zeros compress to a few KiB: over the 100 kB bound once inflated.
    let bomb = format!(r#"42["echo","{}"]"#, "0".repeat(5_000_000));
    ws.send(&bomb, true);
    loop {
        match ws.frame() {
            None => break,
            Some((h, _)) if h.opcode == OpCode::Control(Control::Close) => break,
            Some(_) => {}
        }
    }
    other.send(r#"427["echo","still here"]"#, false);
    assert_eq!(other.text().0, r#"437["still here"]"#);

    // Without the option: no extension, nothing compressed.
    let port = D::start(app::config(), app::setup).port;
    let (mut ws, ext) = RawWs::open(port, query, Some("permessage-deflate"));
    assert_eq!(ext, None);
    ws.text();
    ws.send("40", false);
    ws.text();
    ws.text();
    ws.send(&format!(r#"421["echo","{big}"]"#), false);
    assert_eq!(ws.text(), (format!(r#"431["{big}"]"#), false));
}

/// The npm client (which offers `permessage-deflate` with Node's 1 KiB threshold) against our
/// server with compression on, in `mode`.
pub fn npm_client<D: Driver>(mode: &str) {
    let srv = D::start(config(), app::setup);
    match run_node(
        "deflate_client.js",
        &[&srv.url(), mode],
        Duration::from_secs(30),
    ) {
        Ok(out) => assert!(out.trim_end().ends_with("PASS"), "{out}"),
        Err(out) => panic!("deflate_client.js ({mode}, {}) failed:\n{out}", D::NAME),
    }
}

/// Our client (compression offered by default) against `url` over websocket: large and small
/// echoes, text and binary, arrive intact.
fn our_client_echoes<D: Driver>(url: &str) {
    let opts = ClientOptions {
        transports: vec![sio::client::Transport::WebSocket],
        force_new: true,
        reconnection: false,
        ..ClientOptions::default()
    };
    assert_eq!(opts.per_message_deflate, Some(PerMessageDeflate::default()));
    D::block_on(async {
        let s = D::io(url, opts).expect("io()");
        let big: String = (0..20_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let value = json!({"text": big, "list": [1, 2, 3], "é": "😀"});
        let echoed = timeout(
            &*D::runtime(),
            Duration::from_secs(10),
            s.emit_with_ack::<_, Value>("echo", &value, None),
        )
        .await
        .expect("echo in time")
        .expect("echo ack");
        assert_eq!(echoed, value);
        let small = timeout(
            &*D::runtime(),
            Duration::from_secs(10),
            s.emit_with_ack::<_, Value>("echo", &json!("small"), None),
        )
        .await
        .expect("echo in time")
        .expect("echo ack");
        assert_eq!(small, json!("small"));
        let file = File {
            name: "f".repeat(3000),
            data: bytes::Bytes::from(vec![7u8; 50_000]),
            parts: vec![bytes::Bytes::from_static(b"small")],
        };
        let back = timeout(
            &*D::runtime(),
            Duration::from_secs(10),
            s.emit_with_ack::<_, File>("binary-echo", &file, None),
        )
        .await
        .expect("binary echo in time")
        .expect("binary echo ack");
        assert_eq!(back, file);
        s.disconnect();
    });
}

/// Our client against the npm server with `perMessageDeflate` on (the server reports what its
/// websocket agreed).
pub fn our_client_against_node<D: Driver>() {
    let node = NodeServer::start_deflate();
    our_client_echoes::<D>(&node.url());
    // The npm server's view of the last websocket: the extension was agreed.
    let opts = ClientOptions {
        transports: vec![sio::client::Transport::WebSocket],
        force_new: true,
        reconnection: false,
        ..ClientOptions::default()
    };
    D::block_on(async {
        let s = D::io(&node.url(), opts).expect("io()");
        let ext = timeout(
            &*D::runtime(),
            Duration::from_secs(10),
            s.emit_with_ack::<_, Value>("ws-extensions", &(), None),
        )
        .await
        .expect("in time")
        .expect("ack");
        assert!(
            ext.as_str()
                .is_some_and(|e| e.contains("permessage-deflate")),
            "{ext}"
        );
        s.disconnect();
    });
}

/// Our client's frames on the wire, read by a raw server that agrees to `permessage-deflate`:
/// compressed from the threshold on, plain below it and with `compress(false)`.
pub fn our_client_frames<D: Driver>() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let big = "x".repeat(3000);
    let expected = big.clone();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        // The `open` packet compressed, in the same write as the `101` (as a server with a
        // threshold of 0 sends it): the client must not read it before deflate is on.
        let open = r#"0{"sid":"s1","upgrades":[],"pingInterval":60000,"pingTimeout":60000,"maxPayload":1000000}"#;
        let (mut ws, head) = RawWs::accept(
            tcp,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            open,
        );
        assert!(head.contains("permessage-deflate"), "no offer: {head}");
        assert_eq!(ws.text(), ("40".to_owned(), false));
        ws.send(r#"40{"sid":"k1"}"#, false);
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(ws.text());
        }
        // Compressed by the server too: the client inflates it.
        ws.send(&format!(r#"42["back","{expected}"]"#), true);
        seen
    });
    D::block_on(async {
        let opts = ClientOptions {
            transports: vec![sio::client::Transport::WebSocket],
            force_new: true,
            reconnection: false,
            ..ClientOptions::default()
        };
        let s = D::io(&format!("http://127.0.0.1:{port}"), opts).expect("io()");
        let back = s.next_event::<String>("back", Duration::from_secs(10));
        s.emit("big", &big).expect("emit");
        s.compress(false).emit("big", &big).expect("emit");
        s.emit("small", &"s").expect("emit");
        let got = back.await.expect("the event in time");
        assert_eq!(got, big);
        s.disconnect();
    });
    let seen = server.join().expect("server thread");
    assert_eq!(
        seen,
        vec![
            (format!(r#"42["big","{}"]"#, "x".repeat(3000)), true),
            (format!(r#"42["big","{}"]"#, "x".repeat(3000)), false),
            (r#"42["small","s"]"#.to_owned(), false),
        ]
    );
}

/// Our client against our server with compression on.
pub fn our_client_against_ours<D: Driver>() {
    let srv = D::start(config(), app::setup);
    our_client_echoes::<D>(&srv.url());
}

/// Instantiates the websocket compression suite for a driver.
#[macro_export]
macro_rules! deflate_suite {
    ($driver:ty) => {
        #[test]
        fn raw_frames() {
            $crate::deflate::raw_frames::<$driver>();
        }
        #[test]
        fn npm_client_websocket() {
            $crate::deflate::npm_client::<$driver>("websocket");
        }
        #[test]
        fn npm_client_upgrade() {
            $crate::deflate::npm_client::<$driver>("upgrade");
        }
        #[test]
        fn our_client_against_node() {
            $crate::deflate::our_client_against_node::<$driver>();
        }
        #[test]
        fn our_client_frames() {
            $crate::deflate::our_client_frames::<$driver>();
        }
        #[test]
        fn our_client_against_ours() {
            $crate::deflate::our_client_against_ours::<$driver>();
        }
    };
}
