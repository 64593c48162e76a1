//! What an operator sees: the server's counters (`Server::metrics`), and its `tracing`
//! output, captured as text by a `fmt` subscriber installed once for this test binary. Refused requests are logged with their
//! reason (Node's `connection_error`, target `sio::connection_error`), a session is a span
//! carrying its sid, transport and remote address, its close is logged with its reason, a
//! socket's connection and disconnection are logged, and a handler's panic is reported.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sio::{AckSender, Server, ServerConfig, Socket};
use sio_tests::raw::{get, handshake, post, q};
use sio_tests::{Driver, Tokio};

/// Everything logged so far by this test binary.
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with_target(true)
            .with_ansi(false)
            .with_writer(move || Writer(sink.clone()))
            .init();
        buf
    })
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits (bounded) until a logged line holds every one of `parts`; returns it.
fn line_with(parts: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = String::from_utf8_lossy(&log().lock().unwrap()).into_owned();
        if let Some(l) = text.lines().find(|l| parts.iter().all(|p| l.contains(p))) {
            return l.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no logged line with {parts:?} in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refused_requests_are_logged_with_their_reason() {
    log();
    let srv = Tokio::start(ServerConfig::default(), |_| {});
    assert_eq!(get(srv.port, "EIO=4&transport=carrier-pigeon").status, 400);
    line_with(&[
        "sio::connection_error",
        "request refused",
        "Transport unknown",
        "carrier-pigeon",
    ]);
    assert_eq!(get(srv.port, &q("no-such-session")).status, 400);
    line_with(&[
        "sio::connection_error",
        "Session ID unknown",
        "no-such-session",
    ]);
    assert_eq!(get(srv.port, "EIO=3&transport=polling").status, 400);
    line_with(&["sio::connection_error", "Unsupported protocol version"]);
}

#[test]
fn a_session_is_a_span_and_its_close_is_logged_with_its_reason() {
    log();
    let srv = Tokio::start(ServerConfig::default(), |io| {
        io.on_connection(|s: Socket| async move {
            s.on("boom", |_: Socket| async move {
                panic!("a handler that fails");
            });
        });
    });
    let sid = handshake(srv.port);
    assert_eq!(post(srv.port, &q(&sid), b"40").status, 200);
    let span = format!("sio_session{{sid={sid} transport=\"polling\" remote=Some(127.0.0.1:");
    line_with(&[&span, "socket connected", "nsp=/"]);
    assert_eq!(post(srv.port, &q(&sid), b"42[\"boom\"]").status, 200);
    line_with(&["a handler that fails", "panicked"]);
    // The client closes the session (Engine.IO `close` packet).
    assert_eq!(post(srv.port, &q(&sid), b"1").status, 200);
    let l = line_with(&[&span, "session closed", "reason=transport close"]);
    assert!(l.contains("DEBUG"), "{l}");
    line_with(&[&span, "socket disconnected", "reason=transport close"]);
}

/// Polls `io`'s metrics until `check` holds (bounded); returns them.
fn metrics_when(
    io: &Server,
    what: &str,
    check: impl Fn(&sio::server::ServerMetrics) -> bool,
) -> sio::server::ServerMetrics {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = io.metrics();
        if check(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what}: {m:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn metrics_count_sessions_sockets_packets_timeouts_and_refusals() {
    let srv = Tokio::start(ServerConfig::default(), |io| {
        io.on_connection(|s: Socket| async move {
            s.on("echo", |_: Socket, v: Value, ack: AckSender| async move {
                let _ = ack.send(&v);
            });
            s.on("ask", |s: Socket| async move {
                let _ = s
                    .emit_with_ack::<_, Value>("question", &1, Some(Duration::from_millis(100)))
                    .await;
            });
        });
    });
    let io = srv.server.clone();
    let m = io.metrics();
    assert_eq!(
        (m.sessions, m.sessions_opened, m.packets_in),
        (0, 0, 0),
        "{m:?}"
    );

    let sid = handshake(srv.port);
    assert_eq!(post(srv.port, &q(&sid), b"40").status, 200);
    let m = metrics_when(&io, "one socket", |m| m.sockets.get("/") == Some(&1));
    assert_eq!(
        (m.sessions, m.sessions_opened, m.packets_in),
        (1, 1, 1),
        "{m:?}"
    );
    let body = br#"421["echo",{"a":1}]"#;
    assert_eq!(post(srv.port, &q(&sid), body).status, 200);
    let m = metrics_when(&io, "the echo's ack", |m| m.packets_out == 1);
    assert_eq!(m.packets_in, 2, "{m:?}");
    assert_eq!(m.bytes_in, 2 + body.len() as u64, "{m:?}");
    // The ack, as encoded.
    assert_eq!(m.bytes_out, r#"431[{"a":1}]"#.len() as u64, "{m:?}");
    // The server asks; the client never answers.
    assert_eq!(post(srv.port, &q(&sid), br#"42["ask"]"#).status, 200);
    metrics_when(&io, "an ack timeout", |m| m.ack_timeouts == 1);

    assert_eq!(get(srv.port, "EIO=4&transport=bogus").status, 400);
    assert_eq!(get(srv.port, &q("unknown")).status, 400);
    metrics_when(&io, "two refusals", |m| m.refused_requests == 2);

    assert_eq!(post(srv.port, &q(&sid), b"1").status, 200);
    let m = metrics_when(&io, "closed", |m| m.sessions == 0);
    assert_eq!(m.sockets.get("/"), Some(&0), "{m:?}");
    assert_eq!(m.sessions_opened, 1);
    // A broadcast counts once per recipient.
    let sid2 = handshake(srv.port);
    assert_eq!(post(srv.port, &q(&sid2), b"40").status, 200);
    metrics_when(&io, "one socket again", |m| m.sockets.get("/") == Some(&1));
    let before = io.metrics().packets_out;
    io.emit("news", &json!("hi")).unwrap();
    metrics_when(&io, "the broadcast", |m| m.packets_out == before + 1);
}

/// Packets dropped over a client's queue bound are counted (volatile ones here: the session
/// stays).
#[test]
fn metrics_count_queue_overflows() {
    let config = ServerConfig {
        max_inbox: 10,
        ..ServerConfig::default()
    };
    let srv = Tokio::start(config, |io| {
        io.on_connection(|s: Socket| async move {
            s.on("flood", |s: Socket| async move {
                // All queued before the connection's task can take any.
                for i in 0..100 {
                    let _ = s.emit_volatile("v", &i);
                }
            });
        });
    });
    let io = srv.server.clone();
    let sid = handshake(srv.port);
    assert_eq!(post(srv.port, &q(&sid), b"40").status, 200);
    assert_eq!(post(srv.port, &q(&sid), br#"42["flood"]"#).status, 200);
    let m = metrics_when(&io, "90 dropped", |m| m.queue_full == 90);
    assert_eq!(m.packets_out, 10, "{m:?}");
    assert_eq!(m.sessions, 1, "volatile drops do not close the session");
}
