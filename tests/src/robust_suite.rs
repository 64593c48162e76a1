//! What a hostile or broken peer, or a broken handler, must not do to the server: panics
//! contained, writes to a client that stopped reading bounded and timed, HTTP deadlines, the
//! bound on connections, oversized websocket messages. Generic over the runtime driver, with
//! raw TCP/websocket clients (a client library would hide or prevent the misbehaviour).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sio::{AckSender, ConnectError, Server, ServerConfig, Socket};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use crate::raw::{get, handshake, q};
use crate::{Driver, TestServer};

/// A raw websocket client.
pub type Ws = WebSocket<TcpStream>;

/// Opens a websocket session on `port` and joins `/`; returns the websocket and the Socket.IO
/// CONNECT answer.
pub fn ws_join(port: u16) -> (Ws, String) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).expect("websocket handshake");
    let open = next_text(&mut ws);
    assert!(open.starts_with("0{"), "{open}");
    ws.send(Message::text("40")).expect("send CONNECT");
    let connect = next_text(&mut ws);
    assert!(connect.starts_with("40{"), "{connect}");
    (ws, connect)
}

/// The next text message that is not a ping (pings are answered).
pub fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.read().expect("read") {
            Message::Text(t) if t.as_str() == "2" => {
                ws.send(Message::text("3")).expect("pong");
            }
            Message::Text(t) => return t.as_str().to_owned(),
            _ => {}
        }
    }
}

/// Disconnect reasons reported by the server's handlers, in order.
#[derive(Clone)]
struct Reasons {
    tx: Arc<Mutex<mpsc::Sender<String>>>,
}

impl Reasons {
    fn new() -> (Self, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel();
        (
            Self {
                tx: Arc::new(Mutex::new(tx)),
            },
            rx,
        )
    }

    fn send(&self, s: String) {
        let _ = self.tx.lock().unwrap_or_else(|e| e.into_inner()).send(s);
    }

    /// Reports every disconnect of the main namespace.
    fn install(&self, io: &Server) {
        let me = self.clone();
        io.on_connection(move |socket: Socket| {
            let me = me.clone();
            async move {
                socket.on_disconnect(move |_s: Socket, reason| {
                    let me = me.clone();
                    async move { me.send(reason.to_string()) }
                });
            }
        });
    }
}

/// Waits until `cond` holds, for at most `limit`.
fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// A panic in an event handler, an ack callback, a packet middleware or a disconnect handler
/// is caught: the connection lives on, and a handler that panics on disconnect does not leak
/// the session.
pub fn handler_panics_are_contained<D: Driver>() {
    let srv: TestServer = D::start(ServerConfig::default(), |io| {
        io.on_connection(|socket: Socket| async move {
            socket.on("boom", |_: Socket| async move { panic!("handler boom") });
            socket.on("sync-boom", |_: Socket, n: i64| {
                assert!(n != 1, "panics before its future exists");
                async move {}
            });
            socket.on("ping", |socket: Socket| async move {
                let _ = socket.emit("pong", &());
            });
            socket.on_disconnect(|_s: Socket, _r| async move { panic!("disconnect boom") });
        });
    });
    let (mut ws, _) = ws_join(srv.port);
    ws.send(Message::text(r#"42["boom"]"#)).expect("send");
    ws.send(Message::text(r#"42["sync-boom",1]"#))
        .expect("send");
    ws.send(Message::text(r#"42["ping"]"#)).expect("send");
    assert_eq!(next_text(&mut ws), r#"42["pong"]"#);
    assert_eq!(srv.server.session_count(), 1);
    assert_eq!(srv.server.of("/").sockets().len(), 1);
    drop(ws);
    assert!(
        wait_until(Duration::from_secs(10), || srv.server.session_count() == 0
            && srv.server.of("/").sockets().is_empty()),
        "the session leaked: {} sessions",
        srv.server.session_count()
    );
}

/// A middleware that panics refuses the connection with `Internal server error`; the
/// connection stays usable for other namespaces.
pub fn middleware_panic_refuses_the_namespace<D: Driver>() {
    let srv = D::start(ServerConfig::default(), |io| {
        io.of("/mw").use_middleware(|s: Socket| async move {
            if s.id().is_empty() {
                return Err(ConnectError::new("no id"));
            }
            panic!("middleware boom")
        });
    });
    let (mut ws, _) = ws_join(srv.port);
    ws.send(Message::text("40/mw,")).expect("send");
    assert_eq!(
        next_text(&mut ws),
        r#"44/mw,{"message":"Internal server error"}"#
    );
    ws.send(Message::text(r#"42["x"]"#)).expect("send");
    assert_eq!(srv.server.session_count(), 1);
}

fn flood_config() -> ServerConfig {
    let mut c = ServerConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200));
    c.engine.max_queue_bytes = 256 << 20;
    c.max_inbox_bytes = 256 << 20;
    c
}

/// Emits `n` text packets of 64 KiB to the socket that asks with `flood`.
fn install_flood(io: &Server) {
    io.on_connection(|socket: Socket| async move {
        socket.on("flood", |socket: Socket, n: usize| async move {
            let blob = "x".repeat(64 << 10);
            for _ in 0..n {
                let _ = socket.emit("blob", &blob);
            }
        });
    });
}

/// A client that stops reading while the server writes to it: its heartbeat still runs, so
/// it is closed by `ping timeout` (the write that waits does not stop the connection's task).
pub fn blocked_write_keeps_the_heartbeat<D: Driver>() {
    let (reasons, rx) = Reasons::new();
    let srv = D::start(flood_config(), |io| {
        reasons.install(io);
        install_flood(io);
    });
    let (mut ws, _) = ws_join(srv.port);
    // 64 MiB: far more than the socket buffers take, less than the queue bound.
    ws.send(Message::text(r#"42["flood",1024]"#)).expect("send");
    // From here on the client reads nothing and answers no ping.
    let reason = rx.recv_timeout(Duration::from_secs(20));
    assert_eq!(reason.as_deref(), Ok("ping timeout"));
    assert!(wait_until(Duration::from_secs(10), || srv
        .server
        .session_count()
        == 0));
    drop(ws);
}

/// A client that stops reading while more than the queue bound in bytes is sent to it is
/// disconnected with `send buffer full`; another client is not disturbed.
pub fn slow_reader_over_the_byte_bound_is_disconnected<D: Driver>() {
    let (reasons, rx) = Reasons::new();
    let mut config = ServerConfig::default();
    config.engine.max_queue_bytes = 4 << 20;
    config.max_inbox_bytes = 4 << 20;
    let srv = D::start(config, |io| {
        reasons.install(io);
        install_flood(io);
        io.on_connection(|socket: Socket| async move {
            socket.on("ping", |socket: Socket| async move {
                let _ = socket.emit("pong", &());
            });
        });
    });
    let (mut slow, _) = ws_join(srv.port);
    let (mut other, _) = ws_join(srv.port);
    slow.send(Message::text(r#"42["flood",1024]"#))
        .expect("send");
    let reason = rx.recv_timeout(Duration::from_secs(20));
    assert_eq!(reason.as_deref(), Ok("send buffer full"));
    assert!(wait_until(Duration::from_secs(10), || srv
        .server
        .session_count()
        == 1));
    other.send(Message::text(r#"42["ping"]"#)).expect("send");
    assert_eq!(next_text(&mut other), r#"42["pong"]"#);
    drop(slow);
}

/// A websocket message over `maxHttpBufferSize` is answered with close code 1009.
pub fn oversized_websocket_message_closes_with_1009<D: Driver>() {
    let srv = D::start(ServerConfig::default().max_http_buffer_size(1000), |_| {});
    let (mut ws, _) = ws_join(srv.port);
    let big = format!(r#"42["x","{}"]"#, "y".repeat(2000));
    ws.send(Message::text(big)).expect("send");
    let code = loop {
        match ws.read() {
            Ok(Message::Close(frame)) => break frame.map(|f| f.code),
            Ok(_) => continue,
            Err(e) => panic!("no close frame, the connection ended with {e}"),
        }
    };
    assert_eq!(code, Some(CloseCode::Size));
}

/// Whether the server closes `s` (EOF, or a reset) within `limit`; the bytes read before.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(got),
            Err(_) => return None,
        }
    }
}

/// How long a test waits for a connection that a deadline of a few hundred milliseconds must
/// close: generous, so that a loaded machine does not fail it; a connection kept open for good
/// still fails.
const CLOSE_BOUND: Duration = Duration::from_secs(15);

fn http_timeouts() -> ServerConfig {
    ServerConfig {
        http_header_timeout: Duration::from_millis(300),
        http_body_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    }
}

/// Half a request head (slowloris) is not kept open: the connection is closed once the
/// header deadline passed. The same deadline closes a kept-alive connection left idle.
pub fn header_deadline_closes_slow_and_idle_connections<D: Driver>() {
    let srv = D::start(http_timeouts(), |_| {});
    let mut half = TcpStream::connect(("127.0.0.1", srv.port)).expect("connect");
    half.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    assert!(
        closed_within(&mut half, CLOSE_BOUND).is_some(),
        "a half-sent request head is kept open"
    );

    let mut idle = TcpStream::connect(("127.0.0.1", srv.port)).expect("connect");
    idle.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let answer = closed_within(&mut idle, CLOSE_BOUND).expect("idle connection closed");
    assert!(answer.starts_with(b"HTTP/1.1 404"), "{answer:?}");
}

/// A long-polling POST whose body does not come in time gets 408 and its connection is
/// closed: with a `Content-Length` longer than what is sent, and as a chunked body that
/// never ends.
pub fn body_deadline_answers_408<D: Driver>() {
    let srv = D::start(http_timeouts(), |_| {});
    let sid = handshake(srv.port);
    let heads = [
        format!(
            "POST /socket.io/?{} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4hello",
            q(&sid)
        ),
        format!(
            "POST /socket.io/?{} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n4hello\r\n",
            q(&sid)
        ),
    ];
    for head in heads {
        let mut s = TcpStream::connect(("127.0.0.1", srv.port)).expect("connect");
        s.write_all(head.as_bytes()).expect("write");
        let answer = closed_within(&mut s, CLOSE_BOUND).expect("connection closed");
        assert!(
            answer.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
}

/// Over `max_connections` a new connection is closed at once; below it again, accepted.
pub fn max_connections_bounds_open_connections<D: Driver>() {
    let srv = D::start(ServerConfig::default().max_connections(3), |_| {});
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", srv.port)).expect("connect"))
        .collect();
    assert!(wait_until(Duration::from_secs(10), || srv
        .server
        .open_connections()
        == 3));
    let mut fourth = TcpStream::connect(("127.0.0.1", srv.port)).expect("connect");
    assert_eq!(
        closed_within(&mut fourth, CLOSE_BOUND),
        Some(Vec::new()),
        "the connection over the bound was not closed"
    );
    drop(held);
    assert!(wait_until(Duration::from_secs(10), || srv
        .server
        .open_connections()
        == 0));
    let a = get(srv.port, "EIO=4&transport=polling");
    assert_eq!(a.status, 200);
}

/// Emits `n` events `n` (payload: their index) to the socket whose id comes with `order`,
/// alternating a direct emit to it (`socket.emit`, through its connection's queue) with a
/// broadcast to it (`io.to(id).emit`, which may write straight into its websocket when its
/// connection has nothing else on its way out).
fn install_order(io: &Server) {
    on_targeted(io, "order", |ns, id, n| async move {
        let Some(target) = ns.sockets().into_iter().find(|s| s.id() == id) else {
            return;
        };
        for i in 0..n {
            if i % 3 == 2 {
                let _ = target.emit("n", &i);
            } else {
                let _ = ns.to(id.as_str()).emit("n", &i);
            }
            if i % 100 == 99 {
                // The target's connection may drain its queue and go idle.
                YieldNow(false).await;
            }
        }
    });
}

/// Handles `event` on every socket of `/`: its arguments, a socket id and a number, go to `f`
/// with the namespace; the event's ack, when asked, is sent once `f` is done.
fn on_targeted<F, Fut>(io: &Server, event: &'static str, f: F)
where
    F: Fn(sio::Namespace, String, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let ns = io.of("/");
    io.on_connection(move |socket: Socket| {
        let (ns, f) = (ns.clone(), f.clone());
        async move {
            socket.on(
                event,
                move |_: Socket, (id, n): (String, usize), ack: AckSender| {
                    let done = f(ns.clone(), id, n);
                    async move {
                        done.await;
                        let _ = ack.send(&());
                    }
                },
            );
        }
    });
}

/// The socket id in a Socket.IO CONNECT answer (`40{"sid":..}`).
fn connect_sid(connect: &str) -> String {
    serde_json::from_str::<serde_json::Value>(&connect[2..]).expect("sid")["sid"]
        .as_str()
        .expect("sid")
        .to_owned()
}

/// A future that lets the runtime run other tasks once.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// The `n` events `n` a websocket receives next, their indexes in the order they came.
fn read_order(ws: &mut Ws, n: usize) -> Vec<usize> {
    (0..n)
        .map(|_| {
            let t = next_text(ws);
            let v: serde_json::Value = serde_json::from_str(&t[2..]).expect("an event");
            assert_eq!(v[0], "n", "{t}");
            v[1].as_u64().expect("an index") as usize
        })
        .collect()
}

/// A broadcast written straight into a recipient's websocket never overtakes what an earlier
/// emit left in that connection's queue, and direct writes happen once the connection is idle.
pub fn direct_broadcast_writes_keep_the_order<D: Driver>() {
    let srv = D::start(ServerConfig::default(), install_order);
    let (mut target, connect) = ws_join(srv.port);
    let id = connect_sid(&connect);
    let (mut sender, _) = ws_join(srv.port);
    for round in 0..3 {
        let n = 3000;
        sender
            .send(Message::text(format!(r#"42["order","{id}",{n}]"#)))
            .expect("send");
        let got = read_order(&mut target, n);
        let expected: Vec<usize> = (0..n).collect();
        assert!(
            got == expected,
            "round {round}: out of order: {:?}",
            first_difference(&got)
        );
    }
    let m = srv.server.metrics();
    assert!(m.packets_out_direct > 0, "no direct write: {m:?}");
    assert!(m.packets_out >= 9000, "{m:?}");
}

fn first_difference(got: &[usize]) -> Option<(usize, usize)> {
    got.iter().copied().enumerate().find(|&(i, v)| i != v)
}

/// A broadcast frame the socket takes only in part is finished before anything else is
/// written to that websocket: a client that stops reading while large broadcasts pile up
/// gets them all whole and in order once it reads again.
pub fn direct_writes_finish_a_partly_written_frame_first<D: Driver>() {
    // Room for everything in the queue: what the socket does not take waits there.
    let mut config = ServerConfig::default();
    config.engine.max_queue_bytes = 64 << 20;
    config.max_inbox_bytes = 64 << 20;
    let srv = D::start(config, |io| {
        on_targeted(io, "big", |ns, id, i| async move {
            // 64 KiB frames: the first ones fill the socket buffers, part of one is left
            // over, the rest wait in the queue.
            let blob = "x".repeat(64 << 10);
            let _ = ns.to(id.as_str()).emit("big", &(i, &blob));
        });
    });
    let (mut slow, connect) = ws_join(srv.port);
    let id = connect_sid(&connect);
    let (mut sender, _) = ws_join(srv.port);
    // Each emit runs alone (its handler yields to the server between them, so the slow
    // connection is idle and the broadcast is written directly while the socket takes it).
    // 12.5 MiB in all: more than the socket buffers take.
    let n = 200;
    for i in 0..n {
        sender
            .send(Message::text(format!(r#"42{i}["big","{id}",{i}]"#)))
            .expect("send");
    }
    // Every broadcast was made (each event is acked after its emit) before the slow client
    // reads anything.
    for _ in 0..n {
        let ack = next_text(&mut sender);
        assert!(ack.starts_with("43"), "{ack}");
    }
    for i in 0..n {
        let t = next_text(&mut slow);
        let v: serde_json::Value = serde_json::from_str(&t[2..]).expect("a whole event");
        assert_eq!(v[0], "big");
        assert_eq!(v[1].as_u64(), Some(i as u64), "out of order");
        assert_eq!(v[2].as_str().map(str::len), Some(64 << 10));
    }
    let m = srv.server.metrics();
    assert!(m.packets_out_direct > 0, "no direct write: {m:?}");
}

/// A client frame sent in the same write as the upgrade request (before the `101`) is read:
/// what the HTTP side read past the request reaches the websocket.
pub fn a_frame_pipelined_with_the_upgrade_request_is_read<D: Driver>() {
    let srv = D::start(ServerConfig::default(), |_| {});
    let mut s = TcpStream::connect(("127.0.0.1", srv.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut out = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        .to_vec();
    // A masked text frame: `40`, the Socket.IO CONNECT.
    let mask = [1u8, 2, 3, 4];
    out.extend_from_slice(&[0x81, 0x80 | 2]);
    out.extend_from_slice(&mask);
    out.extend(b"40".iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    s.write_all(&out).expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // The `101`, the Engine.IO open, then the CONNECT answer `40{"sid":..}`.
    while !String::from_utf8_lossy(&got).contains("40{\"sid\"") {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
}

/// Instantiates the suite for a driver.
#[macro_export]
macro_rules! robust_suite {
    ($driver:ty) => {
        $crate::robust_suite!(@ $driver;
            handler_panics_are_contained,
            middleware_panic_refuses_the_namespace,
            blocked_write_keeps_the_heartbeat,
            slow_reader_over_the_byte_bound_is_disconnected,
            oversized_websocket_message_closes_with_1009,
            header_deadline_closes_slow_and_idle_connections,
            body_deadline_answers_408,
            max_connections_bounds_open_connections,
            direct_broadcast_writes_keep_the_order,
            direct_writes_finish_a_partly_written_frame_first,
            a_frame_pipelined_with_the_upgrade_request_is_read,
        );
    };
    (@ $driver:ty; $($name:ident),* $(,)?) => {
        $( #[test] fn $name() { $crate::robust_suite::$name::<$driver>(); } )*
    };
}
