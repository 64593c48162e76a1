//! What an operator sees: the server's `tracing` output, captured as text by a `fmt`
//! subscriber installed once for this test binary. Refused requests are logged with their
//! reason (Node's `connection_error`, target `sio::connection_error`), a session is a span
//! carrying its sid, transport and remote address, its close is logged with its reason, a
//! socket's connection and disconnection are logged, and a handler's panic is reported.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sio::{ServerConfig, Socket};
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
    let l = line_with(&[
        "sio::connection_error",
        "request refused",
        "Transport unknown",
    ]);
    assert!(l.contains("carrier-pigeon"), "{l}");
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
