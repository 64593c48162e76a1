//! Our client (`sio::client`) against the real npm `socket.io` server running in Node
//! (`tests/js/node_server.js`), and against our own server (the scenario application of
//! [`crate::app`]): every scenario over websocket-only, polling-only and polling→websocket
//! upgrade. Generic over the runtime [`Driver`] (the client and our server both run on it);
//! instantiated per runtime with [`crate::client_node_suite!`]. Waits are on events (with a time
//! limit), never on sleeps, except where a test checks that something does NOT happen.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_channel::mpsc::{unbounded, TryRecvError, UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sio::client::{
    Auth, ClientAckError, ClientAckSender, ClientOptions, ClientSocket, DisconnectReason, Transport,
};
use sio::{Args, Parser, Runtime};

use crate::node_server::NodeServer;
use crate::{app, sleep, timeout, Driver, TestServer};

/// How long one wait for an event may take.
const WAIT: Duration = Duration::from_secs(10);
/// How long one scenario may take.
const LIMIT: Duration = Duration::from_secs(45);

/// The transports a scenario runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Websocket only.
    WebSocket,
    /// Long-polling only.
    Polling,
    /// Long-polling, then the upgrade to websocket.
    Upgrade,
}

impl Mode {
    fn transports(self) -> Vec<Transport> {
        match self {
            Mode::WebSocket => vec![Transport::WebSocket],
            Mode::Polling => vec![Transport::Polling],
            Mode::Upgrade => vec![Transport::Polling, Transport::WebSocket],
        }
    }

    /// The transport in use once connected (and upgraded).
    fn transport(self) -> &'static str {
        match self {
            Mode::Polling => "polling",
            Mode::WebSocket | Mode::Upgrade => "websocket",
        }
    }
}

/// A server the client is tested against.
// The scenarios run on `Driver::block_on`, never spawned: their futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait Target: Sized {
    /// Whether this is the Node server (which has a few more events).
    const NODE: bool;
    /// The parser the server speaks (the scenarios' client uses the same).
    const PARSER: Parser = Parser::Json;
    /// Starts it on a free port (outside the runtime).
    fn start() -> Self;
    /// `http://127.0.0.1:<port>`.
    fn url(&self) -> String;
    /// Stops it: its connections end.
    async fn kill(&mut self);
    /// Starts it again on the same port.
    async fn restart(&mut self);
}

impl Target for NodeServer {
    const NODE: bool = true;

    fn start() -> Self {
        NodeServer::start()
    }

    fn url(&self) -> String {
        NodeServer::url(self)
    }

    async fn kill(&mut self) {
        NodeServer::kill(self);
    }

    async fn restart(&mut self) {
        NodeServer::restart(self);
    }
}

/// The Node server over HTTPS (certificate of the test CA `tests/js/tls/ca.der`).
pub struct NodeTls(NodeServer);

impl Target for NodeTls {
    const NODE: bool = true;

    fn start() -> Self {
        NodeTls(NodeServer::start_tls())
    }

    fn url(&self) -> String {
        self.0.url()
    }

    async fn kill(&mut self) {
        self.0.kill();
    }

    async fn restart(&mut self) {
        self.0.restart();
    }
}

/// A TLS configuration trusting the test CA only.
fn test_ca_tls() -> Arc<sio::client::rustls::ClientConfig> {
    let mut roots = sio::client::rustls::RootCertStore::empty();
    roots
        .add(sio::client::rustls::pki_types::CertificateDer::from(
            include_bytes!("../js/tls/ca.der").to_vec(),
        ))
        .expect("the test CA certificate");
    Arc::new(sio::client::tls_config_with_roots(roots))
}

/// Our server with the scenario application on driver `D`, restartable on its port.
pub struct OurServer<D> {
    port: u16,
    parser: Parser,
    server: Option<TestServer>,
    driver: PhantomData<fn() -> D>,
}

impl<D: Driver> OurServer<D> {
    fn new(server: TestServer, parser: Parser) -> Self {
        Self {
            port: server.port,
            parser,
            server: Some(server),
            driver: PhantomData,
        }
    }

    /// Starts the server on `port` again, retrying while the port cannot be bound yet.
    async fn start_on(port: u16, parser: Parser) -> Self {
        let mut tries = 0;
        loop {
            match D::start_on_port(app::config().parser(parser), app::setup, port) {
                Ok(server) => return Self::new(server, parser),
                Err(e) => {
                    tries += 1;
                    assert!(tries < 200, "cannot bind 127.0.0.1:{port}: {e}");
                    sleep(&*D::runtime(), Duration::from_millis(25)).await;
                }
            }
        }
    }
}

impl<D: Driver> Target for OurServer<D> {
    const NODE: bool = false;

    fn start() -> Self {
        Self::new(D::start(app::config(), app::setup), Parser::Json)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn kill(&mut self) {
        if let Some(mut s) = self.server.take() {
            s.close().await;
        }
    }

    async fn restart(&mut self) {
        self.kill().await;
        *self = Self::start_on(self.port, self.parser).await;
    }
}

/// Our server with `socket.io-msgpack-parser`.
pub struct OurMsgpack<D>(OurServer<D>);

impl<D: Driver> Target for OurMsgpack<D> {
    const NODE: bool = false;
    const PARSER: Parser = Parser::MsgPack;

    fn start() -> Self {
        let config = app::config().parser(Parser::MsgPack);
        OurMsgpack(OurServer::new(
            D::start(config, app::setup),
            Parser::MsgPack,
        ))
    }

    fn url(&self) -> String {
        self.0.url()
    }

    async fn kill(&mut self) {
        self.0.kill().await;
    }

    async fn restart(&mut self) {
        self.0.restart().await;
    }
}

/// The Node server with `socket.io-msgpack-parser`.
pub struct NodeMsgpack(NodeServer);

impl Target for NodeMsgpack {
    const NODE: bool = true;
    const PARSER: Parser = Parser::MsgPack;

    fn start() -> Self {
        NodeMsgpack(NodeServer::start_msgpack())
    }

    fn url(&self) -> String {
        self.0.url()
    }

    async fn kill(&mut self) {
        self.0.kill();
    }

    async fn restart(&mut self) {
        self.0.restart();
    }
}

thread_local! {
    /// The parser of the scenario running on this thread ([`Target::PARSER`], set by [`run`]).
    static PARSER: std::cell::Cell<Parser> = const { std::cell::Cell::new(Parser::Json) };
}

/// Test options: one transport mode, a fresh manager, no reconnection, connect by hand.
fn options(mode: Mode) -> ClientOptions {
    ClientOptions {
        transports: mode.transports(),
        force_new: true,
        reconnection: false,
        auto_connect: false,
        parser: PARSER.with(std::cell::Cell::get),
        ..ClientOptions::default()
    }
}

/// Options that reconnect quickly.
fn reconnecting(mode: Mode) -> ClientOptions {
    ClientOptions {
        reconnection: true,
        reconnection_delay: Duration::from_millis(100),
        reconnection_delay_max: Duration::from_millis(400),
        ..options(mode)
    }
}

/// The receiving end of an event channel, with the runtime whose clock times its waits.
struct Events<T> {
    rx: UnboundedReceiver<T>,
    rt: Arc<dyn Runtime>,
}

impl<T> Events<T> {
    /// The next value if one is there already.
    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.rx.try_recv()
    }
}

/// An event channel whose waits run on `D`'s clock.
fn channel<D: Driver, T>() -> (UnboundedSender<T>, Events<T>) {
    let (tx, rx) = unbounded();
    let rt = D::runtime();
    (tx, Events { rx, rt })
}

/// The next value of an event channel, within [`WAIT`] (the caller's line is in the panic).
#[track_caller]
fn next<T>(rx: &mut Events<T>) -> impl Future<Output = T> + '_ {
    let at = std::panic::Location::caller();
    async move {
        match timeout(&*rx.rt, WAIT, rx.rx.next()).await {
            Some(Some(v)) => v,
            Some(None) => panic!("event channel closed (waiting at {at})"),
            None => panic!("timed out waiting for an event at {at}"),
        }
    }
}

/// Sends the arguments of every `name` event into a channel.
fn forward<D: Driver, T: DeserializeOwned + Send + 'static>(
    s: &ClientSocket,
    name: &str,
) -> Events<T> {
    let (tx, rx) = channel::<D, _>();
    s.on(name, move |_: ClientSocket, v: T| {
        let tx = tx.clone();
        async move {
            let _ = tx.unbounded_send(v);
        }
    });
    rx
}

/// Lifecycle events of a socket (and upgrades of its manager), as channels.
struct Watch {
    mode: Mode,
    connects: Events<String>,
    disconnects: Events<DisconnectReason>,
    errors: Events<(String, Option<Value>)>,
    upgrades: Events<()>,
}

impl Watch {
    fn new<D: Driver>(s: &ClientSocket, mode: Mode) -> Self {
        let (ctx, connects) = channel::<D, _>();
        s.on_connect(move |s: ClientSocket| {
            let tx = ctx.clone();
            async move {
                let _ = tx.unbounded_send(s.id().unwrap_or_default());
            }
        });
        let (dtx, disconnects) = channel::<D, _>();
        s.on_disconnect(move |_, reason| {
            let tx = dtx.clone();
            async move {
                let _ = tx.unbounded_send(reason);
            }
        });
        let (etx, errors) = channel::<D, _>();
        s.on_connect_error(move |_, message, data| {
            let tx = etx.clone();
            async move {
                let _ = tx.unbounded_send((message, data));
            }
        });
        let (utx, upgrades) = channel::<D, _>();
        s.manager().on_upgrade(move || {
            let _ = utx.unbounded_send(());
        });
        Self {
            mode,
            connects,
            disconnects,
            errors,
            upgrades,
        }
    }

    /// Waits for the next `connect` (and, in upgrade mode, the upgrade); returns the id.
    async fn connected(&mut self) -> String {
        let id = next(&mut self.connects).await;
        if self.mode == Mode::Upgrade {
            next(&mut self.upgrades).await;
        }
        id
    }
}

/// A socket of `nsp` (`/...`, may carry a query) on `url`, not connected yet, on `D`.
fn open<D: Driver>(url: &str, mode: Mode, nsp: &str, opts: ClientOptions) -> (ClientSocket, Watch) {
    let s = D::io(&format!("{url}{nsp}"), opts).expect("io()");
    let w = Watch::new::<D>(&s, mode);
    (s, w)
}

/// A connected socket of the main namespace.
async fn connected<D: Driver>(url: &str, mode: Mode, opts: ClientOptions) -> (ClientSocket, Watch) {
    let (s, mut w) = open::<D>(url, mode, "/", opts);
    s.connect();
    w.connected().await;
    (s, w)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct File {
    name: String,
    data: Bytes,
    parts: Vec<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    inner: Bytes,
}

// ----------------------------------------------------------------------------------------
// Scenarios, run against both servers.
// ----------------------------------------------------------------------------------------

pub async fn connect<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, mut w) = open::<D>(&t.url(), mode, "/", options(mode));
    let mut welcome = forward::<D, Value>(&s, "welcome");
    let (ptx, mut pings) = channel::<D, _>();
    s.manager().on_ping(move || {
        let _ = ptx.unbounded_send(());
    });
    assert!(!s.connected());
    s.connect();
    let id = w.connected().await;
    assert!(s.connected());
    assert!(s.active());
    assert_eq!(s.id().as_deref(), Some(id.as_str()));
    let wv = next(&mut welcome).await;
    assert_eq!(wv["id"], json!(id));
    assert_eq!(wv["nsp"], json!("/"));
    let who: Value = s
        .emit_with_ack("whoami", &json!({}), Some(WAIT))
        .await
        .expect("whoami");
    assert_eq!(who["id"], json!(id));
    assert_eq!(who["transport"], json!(mode.transport()));
    assert_eq!(s.manager().transport(), Some(mode.transport()));
    assert!(s.manager().engine_id().is_some());
    if T::NODE {
        assert_eq!(who["connId"], json!(s.manager().engine_id()));
        // The Node server pings every second; the client answers (or it would be dropped).
        next(&mut pings).await;
        next(&mut pings).await;
    }
    s.disconnect();
    assert_eq!(
        next(&mut w.disconnects).await,
        DisconnectReason::IoClientDisconnect
    );
    assert!(!s.connected());
    assert_eq!(s.id(), None);
}

pub async fn query_auth_and_handshake<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let mut o = options(mode);
    o.auth = Some(Auth::Value(json!({"token": "abc"})));
    o.extra_headers = vec![("X-Sio-Test".into(), "yes".into())];
    let (s, mut w) = open::<D>(&t.url(), mode, "/?room=blue", o);
    s.connect();
    w.connected().await;
    let h: Value = s
        .emit_with_ack("handshake", &json!({}), Some(WAIT))
        .await
        .expect("handshake");
    assert_eq!(h["query"], json!("blue"));
    assert_eq!(h["auth"], json!({"token": "abc"}));
    if T::NODE {
        assert_eq!(h["header"], json!("yes"));
    }
}

pub async fn echo_ack<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, _w) = connected::<D>(&t.url(), mode, options(mode)).await;
    let payload = json!({"a": 1, "b": "x", "nested": {"list": [1, 2, {"c": null}], "t": true},
        "u": "é€😀\"\\\n"});
    let back: Value = s
        .emit_with_ack("echo", &payload, Some(WAIT))
        .await
        .expect("echo");
    assert_eq!(back, payload);
    // Several arguments in the answer.
    let (sum, n): (i64, usize) = s
        .emit_with_ack("sum", &vec![1, 2, 3], Some(WAIT))
        .await
        .expect("sum");
    assert_eq!((sum, n), (6, 3));
    // The event is not acked: the ack times out.
    let r = s
        .emit_with_ack::<_, Value>("seq-echo", &1, Some(Duration::from_millis(300)))
        .await;
    assert!(matches!(r, Err(ClientAckError::Timeout)), "{r:?}");
}

pub async fn server_asks_client_for_ack<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, mut w) = open::<D>(&t.url(), mode, "/", options(mode));
    s.on(
        "question",
        |_: ClientSocket, n: i64, ack: ClientAckSender| async move {
            assert!(ack.expected());
            let _ = ack.send(&(n * 2));
        },
    );
    let mut answers = forward::<D, Value>(&s, "answer");
    s.connect();
    w.connected().await;
    s.emit("ask-me", &21).expect("emit");
    assert_eq!(next(&mut answers).await, json!(42));
    // A handler that does not answer: the server's ack times out.
    s.on("question", |_: ClientSocket, _n: i64| async move {});
    s.emit("ask-me", &1).expect("emit");
    assert_eq!(next(&mut answers).await, json!("timeout"));
}

pub async fn binary_both_ways<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, _w) = connected::<D>(&t.url(), mode, options(mode)).await;
    let f = File {
        name: "f.bin".into(),
        data: Bytes::from_static(&[1, 2, 3, 255]),
        parts: vec![
            Bytes::from_static(&[4]),
            Bytes::new(),
            Bytes::from(vec![7u8; 70_000]),
        ],
    };
    let back: File = s
        .emit_with_ack("binary-echo", &f, Some(WAIT))
        .await
        .expect("binary-echo");
    assert_eq!(back, f);
    let mut bin = forward::<D, (Bytes, Inner)>(&s, "binary");
    s.emit("send-me-binary", &()).expect("emit");
    let (a, b) = next(&mut bin).await;
    assert_eq!(&a[..], &[0xde, 0xad]);
    assert_eq!(&b.inner[..], &[0xbe, 0xef]);
}

pub async fn events_in_order<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, _w) = connected::<D>(&t.url(), mode, options(mode)).await;
    let mut seq = forward::<D, u64>(&s, "seq");
    for i in 0..200u64 {
        s.emit("seq-echo", &i).expect("emit");
    }
    for i in 0..200u64 {
        assert_eq!(next(&mut seq).await, i);
    }
}

/// `once` takes the next occurrence only; `next_event` awaits one (and times out); a manager
/// listener removed with `off` is not called.
pub async fn once_next_event_and_off<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, mut w) = open::<D>(&t.url(), mode, "/", options(mode));
    let (tx_a, mut opened_a) = channel::<D, &'static str>();
    let (tx_b, mut opened_b) = channel::<D, &'static str>();
    let a = s.manager().on_open(move || {
        let _ = tx_a.unbounded_send("a");
    });
    s.manager().on_open(move || {
        let _ = tx_b.unbounded_send("b");
    });
    assert!(s.manager().off(a));
    assert!(!s.manager().off(a), "removed once");
    s.connect();
    w.connected().await;
    assert_eq!(next(&mut opened_b).await, "b");
    assert!(
        opened_a.try_recv().is_err(),
        "a removed listener was called"
    );

    let (tx, mut firsts) = channel::<D, u64>();
    s.once("seq", move |_: ClientSocket, v: u64| {
        let tx = tx.clone();
        async move {
            let _ = tx.unbounded_send(v);
        }
    });
    s.emit("seq-echo", &1u64).expect("emit");
    s.emit("seq-echo", &2u64).expect("emit");
    assert_eq!(next(&mut firsts).await, 1);
    // The second one found no handler; then the next one is awaited.
    let _: Value = s
        .emit_with_ack("echo", &0, Some(WAIT))
        .await
        .expect("the echo's ack comes after the second seq");
    assert!(firsts.try_recv().is_err(), "once ran twice");
    let third = s.next_event::<u64>("seq", WAIT);
    s.emit("seq-echo", &3u64).expect("emit");
    assert_eq!(third.await, Ok(3));
    let started = Instant::now();
    assert_eq!(
        s.next_event::<u64>("never", Duration::from_millis(200))
            .await,
        Err(sio::client::NextEventError::Timeout)
    );
    assert!(started.elapsed() >= Duration::from_millis(190));
    // A handler registered over a waiting one ends the wait.
    let waiting = s.next_event::<u64>("seq", WAIT);
    let mut later = forward::<D, u64>(&s, "seq");
    assert_eq!(waiting.await, Err(sio::client::NextEventError::Gone));
    s.emit("seq-echo", &4u64).expect("emit");
    assert_eq!(next(&mut later).await, 4);
}

pub async fn message_event<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, _w) = connected::<D>(&t.url(), mode, options(mode)).await;
    let mut msgs = forward::<D, (String, i64)>(&s, "message");
    s.send(&("hello", 1)).expect("send");
    assert_eq!(next(&mut msgs).await, ("hello back".to_owned(), 1));
}

pub async fn namespaces_multiplexed<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let url = t.url();
    let mut o = options(mode);
    o.force_new = false;
    let (chat, mut wc) = open::<D>(&url, mode, "/chat", o.clone());
    let (news, mut wn) = open::<D>(&url, mode, "/news", o);
    assert_eq!(
        chat.manager(),
        news.manager(),
        "one manager for both namespaces"
    );
    let opens = Arc::new(AtomicU32::new(0));
    let o2 = opens.clone();
    chat.manager().on_open(move || {
        o2.fetch_add(1, Ordering::SeqCst);
    });
    let mut welcome_chat = forward::<D, Value>(&chat, "welcome");
    let mut welcome_news = forward::<D, Value>(&news, "welcome");
    chat.connect();
    news.connect();
    next(&mut wc.connects).await;
    next(&mut wn.connects).await;
    if mode == Mode::Upgrade {
        next(&mut wc.upgrades).await;
    }
    let a = next(&mut welcome_chat).await;
    let b = next(&mut welcome_news).await;
    assert_eq!(a["nsp"], json!("/chat"));
    assert_eq!(b["nsp"], json!("/news"));
    assert_ne!(chat.id(), news.id());
    assert_eq!(opens.load(Ordering::SeqCst), 1, "one Engine.IO connection");
    if T::NODE {
        // The server sees both sockets on the same Engine.IO connection.
        let ca: String = chat
            .emit_with_ack("conn-id", &(), Some(WAIT))
            .await
            .expect("conn-id");
        let cb: String = news
            .emit_with_ack("conn-id", &(), Some(WAIT))
            .await
            .expect("conn-id");
        assert_eq!(ca, cb);
        assert_eq!(Some(ca), chat.manager().engine_id());
        assert_eq!(a["connId"], b["connId"]);
    }
    for s in [&chat, &news] {
        let who: Value = s
            .emit_with_ack("whoami", &json!({}), Some(WAIT))
            .await
            .expect("whoami");
        assert_eq!(who["id"], json!(s.id()));
        assert_eq!(who["transport"], json!(mode.transport()));
    }
    // Leaving one namespace keeps the connection for the other.
    chat.disconnect();
    next(&mut wc.disconnects).await;
    let back: Value = news
        .emit_with_ack("echo", &json!("still here"), Some(WAIT))
        .await
        .expect("echo");
    assert_eq!(back, json!("still here"));
    news.disconnect();
}

pub async fn middleware_rejects_with_data<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let url = t.url();
    let (s, mut w) = open::<D>(&url, mode, "/private", options(mode));
    s.connect();
    let (message, data) = next(&mut w.errors).await;
    assert_eq!(message, "Not authorized");
    assert_eq!(data, Some(json!({"code": 401, "hint": "send a token"})));
    assert!(!s.connected());
    assert!(!s.active());
    let mut o = options(mode);
    o.auth = Some(Auth::Value(json!({"token": "secret"})));
    let (ok, mut wok) = open::<D>(&url, mode, "/private", o);
    ok.connect();
    wok.connected().await;
    assert!(ok.connected());
}

pub async fn server_disconnect<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, mut w) = connected::<D>(&t.url(), mode, reconnecting(mode)).await;
    let attempts = Arc::new(AtomicU32::new(0));
    let a2 = attempts.clone();
    s.manager().on_reconnect_attempt(move |_| {
        a2.fetch_add(1, Ordering::SeqCst);
    });
    s.emit("kick-me", &()).expect("emit");
    assert_eq!(
        next(&mut w.disconnects).await,
        DisconnectReason::IoServerDisconnect
    );
    assert!(!s.connected());
    assert!(
        !s.active(),
        "a socket the server disconnected is not reconnected"
    );
    // Checking that something does not happen needs a wait.
    sleep(&*D::runtime(), Duration::from_millis(500)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 0);
    assert!(w.connects.try_recv().is_err());
    // It can connect again by hand.
    s.connect();
    w.connected().await;
}

pub async fn client_disconnect_and_connect_again<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, mut w) = connected::<D>(&t.url(), mode, reconnecting(mode)).await;
    let first = s.id().expect("id");
    s.disconnect();
    assert_eq!(
        next(&mut w.disconnects).await,
        DisconnectReason::IoClientDisconnect
    );
    assert!(!s.active());
    // Emits while disconnected are buffered until the socket connects again, acks too.
    let mut seq = forward::<D, u64>(&s, "seq");
    s.emit("seq-echo", &7u64).expect("emit");
    let echoed = s.emit_with_ack::<_, Value>("echo", &json!("offline"), Some(WAIT));
    s.connect();
    let second = w.connected().await;
    assert_ne!(first, second);
    assert_eq!(next(&mut seq).await, 7);
    assert_eq!(echoed.await.expect("echo"), json!("offline"));

    // Closing the manager disconnects its sockets without ending them; opening it again
    // reconnects them.
    s.manager().close();
    assert_eq!(
        next(&mut w.disconnects).await,
        DisconnectReason::IoClientDisconnect
    );
    assert!(s.active());
    s.manager().open();
    let third = w.connected().await;
    assert_ne!(second, third);
    let back: Value = s
        .emit_with_ack("echo", &json!(3), Some(WAIT))
        .await
        .expect("echo");
    assert_eq!(back, json!(3));
}

pub async fn reconnect_after_transport_close<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, mut w) = connected::<D>(&t.url(), mode, reconnecting(mode)).await;
    let (rtx, mut reconnects) = channel::<D, _>();
    s.manager().on_reconnect(move |n| {
        let _ = rtx.unbounded_send(n);
    });
    let first = s.id().expect("id");
    s.emit("close-my-transport", &()).expect("emit");
    let reason = next(&mut w.disconnects).await;
    assert!(reason.should_reconnect(), "{reason}");
    let second = w.connected().await;
    assert!(next(&mut reconnects).await >= 1);
    assert_ne!(first, second);
    assert!(s.connected());
}

pub async fn reconnect_after_server_restart<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let counter = Arc::new(AtomicU32::new(0));
    let c2 = counter.clone();
    let mut o = reconnecting(mode);
    o.auth = Some(Auth::func(
        move || json!({"n": c2.fetch_add(1, Ordering::SeqCst) + 1}),
    ));
    let (s, mut w) = open::<D>(&t.url(), mode, "/", o);
    let m = s.manager().clone();
    let attempts = Arc::new(AtomicU32::new(0));
    let a2 = attempts.clone();
    m.on_reconnect_attempt(move |_| {
        a2.fetch_add(1, Ordering::SeqCst);
    });
    let (etx, mut reconnect_errors) = channel::<D, _>();
    m.on_reconnect_error(move |e| {
        let _ = etx.unbounded_send(e.to_string());
    });
    let (rtx, mut reconnects) = channel::<D, _>();
    m.on_reconnect(move |n| {
        let _ = rtx.unbounded_send(n);
    });
    let mut seq = forward::<D, u64>(&s, "seq");
    s.connect();
    w.connected().await;
    let h: Value = s
        .emit_with_ack("handshake", &json!({}), Some(WAIT))
        .await
        .expect("handshake");
    assert_eq!(h["auth"], json!({"n": 1}));

    t.kill().await;
    let reason = next(&mut w.disconnects).await;
    assert!(reason.should_reconnect(), "{reason}");
    assert!(s.active());
    // Buffered while disconnected, flushed in order after the reconnection.
    for i in 0..20u64 {
        s.emit("seq-echo", &i).expect("emit");
    }
    // Volatile emits are dropped while disconnected.
    s.volatile().emit("seq-echo", &999u64).expect("volatile");
    // At least one attempt failed while the server was down.
    next(&mut reconnect_errors).await;
    t.restart().await;
    w.connected().await;
    assert!(next(&mut reconnects).await >= 1);
    assert!(attempts.load(Ordering::SeqCst) >= 2);
    for i in 0..20u64 {
        assert_eq!(next(&mut seq).await, i);
    }
    // The auth function ran again for the new connection.
    let h: Value = s
        .emit_with_ack("handshake", &json!({}), Some(WAIT))
        .await
        .expect("handshake");
    assert_eq!(h["auth"], json!({"n": 2}));
    assert!(seq.try_recv().is_err(), "the volatile emit was dropped");
}

/// Emits `data` to `relay` and returns what came back: the ack and the `relayed` event.
async fn relay<A: Serialize + ?Sized>(
    s: &ClientSocket,
    relayed: &mut Events<Args>,
    data: &A,
) -> (Args, Args) {
    let back: Args = s
        .emit_with_ack("relay", data, Some(WAIT))
        .await
        .expect("relay");
    let event = next(relayed).await;
    (back, event)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Deep {
    zeta: Vec<Bytes>,
    alpha: u8,
}

pub async fn relay_args<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, _w) = connected::<D>(&t.url(), mode, options(mode)).await;
    let mut relayed = forward::<D, Args>(&s, "relayed");
    // One null is one argument; `()` is none; an array is one argument, a tuple several.
    for (back, event) in [
        relay(&s, &mut relayed, &Value::Null).await,
        relay(&s, &mut relayed, &json!(null)).await,
    ] {
        assert_eq!((back.len(), back.json(0)), (1, Some("null")));
        assert_eq!(event, back);
    }
    let (back, event) = relay(&s, &mut relayed, &()).await;
    assert!(back.is_empty() && event.is_empty());
    let (back, _) = relay(&s, &mut relayed, &vec![1, 2]).await;
    assert_eq!((back.len(), back.json(0)), (1, Some("[1,2]")));
    let (back, _) = relay(&s, &mut relayed, &(1, 2)).await;
    assert_eq!((back.len(), back.json(1)), (2, Some("2")));
    // Object keys keep their order, both ways.
    let text = r#"{"zeta":1,"alpha":{"y":[{"d":0,"c":1}]},"mid":null}"#;
    let raw = serde_json::value::RawValue::from_string(text.to_owned()).expect("raw");
    let (back, event) = relay(&s, &mut relayed, &(&raw, "x")).await;
    assert_eq!(back.json(0), Some(text));
    assert_eq!(event, back);
    // Binary at any depth.
    let deep = Deep {
        zeta: vec![Bytes::new(), Bytes::from_static(&[255])],
        alpha: 1,
    };
    let mut args = Args::new();
    args.push(&Bytes::from_static(&[1, 2, 3])).expect("push");
    args.push(&deep).expect("push");
    args.push("tail").expect("push");
    let (back, event) = relay(&s, &mut relayed, &args).await;
    assert_eq!(back.len(), 3);
    assert_eq!(back.get::<Bytes>(0).expect("bytes"), &[1, 2, 3][..]);
    assert_eq!(back.get::<Deep>(1).expect("deep"), deep);
    assert!(back
        .json(1)
        .is_some_and(|j| j.starts_with(r#"{"zeta":[{"_placeholder""#)));
    assert_eq!(back.get::<String>(2).expect("tail"), "tail");
    assert_eq!(event, back);
    // What came back is relayed again unchanged.
    let (again, _) = relay(&s, &mut relayed, &back).await;
    assert_eq!(again, back);

    // The server asks with these arguments; a handler taking `Args` answers with them.
    let mut answers = forward::<D, Args>(&s, "answer-args");
    s.on(
        "question-args",
        |_: ClientSocket, args: Args, ack: ClientAckSender| async move {
            let _ = ack.send(&args);
        },
    );
    s.emit("ask-args", &args).expect("emit");
    assert_eq!(next(&mut answers).await, back);
    // An ack of one null is one argument.
    s.on(
        "question-args",
        |_: ClientSocket, _: Args, ack: ClientAckSender| async move {
            let _ = ack.send(&Value::Null);
        },
    );
    s.emit("ask-args", &1).expect("emit");
    let answer = next(&mut answers).await;
    assert_eq!((answer.len(), answer.json(0)), (1, Some("null")));
}

pub async fn handler_arguments<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, _w) = connected::<D>(&t.url(), mode, options(mode)).await;
    let (etx, mut errors) = channel::<D, String>();
    s.on_error(move |_, e| {
        let _ = etx.unbounded_send(e.to_owned());
    });
    let mut strings = forward::<D, String>(&s, "relayed");
    // Does not fit `String`: reported, the handler does not run.
    s.emit("relay", &5).expect("emit");
    let e = next(&mut errors).await;
    assert!(e.contains("relayed"), "{e}");
    // Extra arguments are ignored.
    s.emit("relay", &("a", "b")).expect("emit");
    assert_eq!(next(&mut strings).await, "a");
    assert!(strings.try_recv().is_err(), "the handler ran for 5");
    // A missing `Option` is `None`.
    let mut pairs = forward::<D, (String, Option<i64>)>(&s, "relayed");
    s.emit("relay", &"only").expect("emit");
    assert_eq!(next(&mut pairs).await, ("only".to_owned(), None));
    s.emit("relay", &("two", 2, "extra")).expect("emit");
    assert_eq!(next(&mut pairs).await, ("two".to_owned(), Some(2)));
    assert!(errors.try_recv().is_err());
}

// ----------------------------------------------------------------------------------------
// Scenarios that need events only the Node server has.
// ----------------------------------------------------------------------------------------

pub async fn server_asks_with_binary<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let (s, mut w) = open::<D>(&t.url(), mode, "/", options(mode));
    s.on(
        "bin-question",
        |_: ClientSocket, data: Bytes, ack: ClientAckSender| async move {
            #[derive(Serialize)]
            struct Answer {
                data: Bytes,
                label: &'static str,
            }
            let _ = ack.send(&Answer {
                data: Bytes::from(vec![data.len() as u8, 9]),
                label: "ok",
            });
        },
    );
    let mut answers = forward::<D, Value>(&s, "bin-answer");
    s.connect();
    w.connected().await;
    s.emit("ask-binary", &()).expect("emit");
    assert_eq!(
        next(&mut answers).await,
        json!({"isBuffer": true, "bytes": [3, 9], "label": "ok"})
    );
}

pub async fn binary_nested_reaches_node_as_buffers<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    #[derive(Serialize)]
    struct Deep {
        bin: Bytes,
    }
    #[derive(Serialize)]
    struct Nested {
        deep: Deep,
    }
    #[derive(Serialize)]
    struct Check {
        data: Bytes,
        parts: Vec<Bytes>,
        nested: Nested,
    }
    let (s, _w) = connected::<D>(&t.url(), mode, options(mode)).await;
    let c = Check {
        data: Bytes::from_static(b"\x00\x01\x02"),
        parts: vec![Bytes::from_static(b"ab"), Bytes::from(vec![1u8; 1000])],
        nested: Nested {
            deep: Deep {
                bin: Bytes::from_static(&[42]),
            },
        },
    };
    let r: Value = s
        .emit_with_ack("binary-check", &c, Some(WAIT))
        .await
        .expect("binary-check");
    assert_eq!(
        r,
        json!({"data": [0, 1, 2], "parts": [2, 1000], "nested": [42]})
    );
}

pub async fn retries_at_least_once<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let mut o = options(mode);
    o.retries = 2;
    o.ack_timeout = Some(Duration::from_millis(300));
    let (s, _w) = connected::<D>(&t.url(), mode, o).await;
    // The server acks only the second try.
    let n: u32 = s
        .emit_with_ack("flaky", &"a", None)
        .await
        .expect("acked on the second try");
    assert_eq!(n, 2);
    // Never acked: fails after 1 + retries tries.
    let r = s
        .emit_with_ack::<_, Value>("never-acks", &1, Some(Duration::from_millis(100)))
        .await;
    assert!(matches!(r, Err(ClientAckError::Timeout)), "{r:?}");
    let n: u32 = s
        .emit_with_ack("flaky", &"b", None)
        .await
        .expect("acked on the second try");
    assert_eq!(n, 2);
}

/// `https`/`wss` with a certificate of the test CA; refused with the default (public) roots.
pub async fn tls<D: Driver, T: Target>(t: &mut T, mode: Mode) {
    let url = t.url();
    assert!(url.starts_with("https://"));
    // The public roots do not know the test CA: the handshake fails.
    let (refused, mut wr) = open::<D>(&url, mode, "/", options(mode));
    refused.connect();
    let (message, _) = next(&mut wr.errors).await;
    assert!(message.contains("transport"), "{message}");
    assert!(!refused.connected());

    let mut o = options(mode);
    o.tls = Some(test_ca_tls());
    let (s, mut w) = open::<D>(&url, mode, "/", o);
    s.connect();
    let id = w.connected().await;
    let who: Value = s
        .emit_with_ack("whoami", &json!({}), Some(WAIT))
        .await
        .expect("whoami");
    assert_eq!(who["id"], json!(id));
    assert_eq!(who["transport"], json!(mode.transport()));
    let f = File {
        name: "tls.bin".into(),
        data: Bytes::from(vec![5u8; 100_000]),
        parts: vec![Bytes::from_static(b"x")],
    };
    let back: File = s
        .emit_with_ack("binary-echo", &f, Some(WAIT))
        .await
        .expect("binary-echo");
    assert_eq!(back, f);
}

// ----------------------------------------------------------------------------------------

/// A scenario's future (borrowing its target).
pub type Scenario<'a> = std::pin::Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Runs scenario `f` in `mode` on driver `D` against a fresh target, within `LIMIT`.
pub fn run<D: Driver, T: Target, F>(mode: Mode, f: F)
where
    F: for<'a> FnOnce(&'a mut T, Mode) -> Scenario<'a>,
{
    PARSER.with(|p| p.set(T::PARSER));
    let mut target = T::start();
    D::block_on(async {
        timeout(&*D::runtime(), LIMIT, f(&mut target, mode))
            .await
            .expect("scenario timed out");
    });
}

/// Nothing listens: `connect_error` on every attempt, `reconnect_failed` after the last one.
pub fn unreachable_server<D: Driver>() {
    D::block_on(async {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let o = ClientOptions {
            reconnection_attempts: Some(2),
            reconnection_delay: Duration::from_millis(20),
            reconnection_delay_max: Duration::from_millis(40),
            ..reconnecting(Mode::Upgrade)
        };
        let (s, mut w) = open::<D>(&format!("http://127.0.0.1:{port}"), Mode::Upgrade, "/", o);
        let (ftx, mut failed) = channel::<D, _>();
        s.manager().on_reconnect_failed(move || {
            let _ = ftx.unbounded_send(());
        });
        let (etx, mut errors) = channel::<D, _>();
        s.manager().on_error(move |e| {
            let _ = etx.unbounded_send(e.to_string());
        });
        s.connect();
        // The first attempt and the two reconnection attempts.
        for _ in 0..3 {
            let (msg, _) = next(&mut w.errors).await;
            assert!(msg.contains("transport"), "{msg}");
            // The cause, as the I/O layer saw it.
            assert!(
                msg.contains(&format!("connect to 127.0.0.1:{port}")),
                "{msg}"
            );
            assert!(msg.contains("refused"), "{msg}");
            next(&mut errors).await;
        }
        next(&mut failed).await;
        assert!(!s.connected());
        let cause = s.manager().last_error().expect("a cause");
        assert!(cause.contains("refused"), "{cause}");
    });
}

/// A server that stops reading once the socket is connected: the client's writes back up,
/// and its task still runs its timers (an ack deadline fires) and takes commands, instead of
/// waiting inside a write for a peer that never reads.
pub fn server_that_stops_reading<D: Driver>() {
    use std::io::Read;
    use tungstenite::Message;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let mut ws = tungstenite::accept(tcp).expect("websocket handshake");
        let open = r#"0{"sid":"s1","upgrades":[],"pingInterval":60000,"pingTimeout":60000,"maxPayload":100000000}"#;
        ws.send(Message::text(open)).expect("open");
        // The client's CONNECT, then the server's answer; after that, nothing is read.
        loop {
            match ws.read().expect("read") {
                Message::Text(t) if t.starts_with("40") => break,
                _ => {}
            }
        }
        ws.send(Message::text(r#"40{"sid":"k1"}"#))
            .expect("connect");
        let mut tcp = ws.into_inner();
        let _ = stop_rx.recv_timeout(WAIT * 3);
        // Drain a little so the client's close can finish; the test is over.
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = [0u8; 4096];
        while let Ok(n) = tcp.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    D::block_on(async {
        let url = format!("http://127.0.0.1:{port}");
        let (s, _w) = connected::<D>(&url, Mode::WebSocket, options(Mode::WebSocket)).await;
        // Far more than the socket buffers on both sides take.
        let chunk = "x".repeat(1 << 20);
        for _ in 0..64 {
            let _ = s.emit("fill", &(chunk.as_str(),));
        }
        let ack = s.emit_with_ack::<_, Value>("ping", &(), Some(Duration::from_millis(300)));
        match timeout(&*D::runtime(), WAIT, ack).await {
            Some(Err(ClientAckError::Timeout)) => {}
            Some(other) => panic!("expected an ack timeout, got {other:?}"),
            None => panic!("the client's task is stuck writing: no ack timeout"),
        }
        s.disconnect();
    });
    let _ = stop_tx.send(());
    server.join().expect("server thread");
}

/// Long-polling answers compressed by the server (gzip and deflate, as Node's
/// `httpCompression` sends them to a client that accepts them) are inflated, within
/// `max_http_response_size` measured after inflating: a small answer that inflates past it
/// (a compression bomb) fails the transport, with that cause.
pub fn compressed_polling_and_bombs<D: Driver>() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let gzip = |b: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    };
    let deflate = |b: &[u8]| {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    };
    let big = format!(
        r#"40{{"sid":"k1"}}{}42["big","{}"]"#,
        '\u{1e}',
        "x".repeat(4000)
    );
    // The answers to the long-polls with a session id, in order.
    let answers = std::sync::Mutex::new(std::collections::VecDeque::from([
        ("gzip", gzip(big.as_bytes())),
        ("deflate", deflate(br#"42["big","small"]"#)),
        ("gzip", gzip(&vec![b'4'; 50 << 20])),
    ]));
    let (connect_tx, connect_rx) = std::sync::mpsc::channel::<()>();
    let connect_rx = std::sync::Mutex::new(connect_rx);
    let server = std::thread::spawn(move || {
        std::thread::scope(|scope| {
            for _ in 0..6 {
                let Ok((mut tcp, _)) = listener.accept() else {
                    break;
                };
                let (answers, connect_rx, connect_tx) = (&answers, &connect_rx, connect_tx.clone());
                scope.spawn(move || {
                    let mut r = BufReader::new(tcp.try_clone().unwrap());
                    let mut head = String::new();
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let mut body = vec![0; len];
                    let _ = r.read_exact(&mut body);
                    let (encoding, payload) = if head.starts_with("POST") {
                        if body.starts_with(b"40") {
                            let _ = connect_tx.send(());
                        }
                        ("", b"ok".to_vec())
                    } else if !head.contains("sid=") {
                        let open = r#"0{"sid":"s1","upgrades":[],"pingInterval":60000,"pingTimeout":60000,"maxPayload":1000000}"#;
                        ("", open.as_bytes().to_vec())
                    } else {
                        if answers.lock().unwrap().len() == 3 {
                            // The CONNECT reply only once the CONNECT was sent.
                            let _ = connect_rx.lock().unwrap().recv_timeout(WAIT);
                        }
                        match answers.lock().unwrap().pop_front() {
                            Some(a) => a,
                            None => return,
                        }
                    };
                    let mut out = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: {}\r\n",
                        payload.len()
                    );
                    if !encoding.is_empty() {
                        out.push_str(&format!("Content-Encoding: {encoding}\r\n"));
                    }
                    out.push_str("\r\n");
                    let _ = tcp.write_all(out.as_bytes());
                    let _ = tcp.write_all(&payload);
                });
            }
        });
    });
    D::block_on(async {
        let url = format!("http://127.0.0.1:{port}");
        let o = ClientOptions {
            max_http_response_size: 1 << 20,
            ..options(Mode::Polling)
        };
        let (s, mut w) = open::<D>(&url, Mode::Polling, "/", o);
        let (tx, mut bigs) = channel::<D, _>();
        s.on("big", move |_: ClientSocket, v: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.unbounded_send(v);
            }
        });
        s.connect();
        w.connected().await;
        assert_eq!(next(&mut bigs).await, "x".repeat(4000));
        assert_eq!(next(&mut bigs).await, "small");
        // The bomb: 50 MiB once inflated, over the 1 MiB bound.
        let reason = next(&mut w.disconnects).await;
        assert_eq!(reason, DisconnectReason::TransportError);
        let cause = s.manager().last_error().unwrap_or_default();
        assert!(cause.contains("inflated"), "{cause}");
        s.disconnect();
    });
    drop(server);
}

/// Instantiates the client suite ([`crate::client_suite`]) for a driver: every scenario against
/// the Node server, over TLS, and against our own server (on the same driver), in every
/// transport mode.
#[macro_export]
macro_rules! client_node_suite {
    (@modes $driver:ty, $target:ty; $($name:ident),* $(,)?) => {
        mod websocket {
            $crate::client_node_suite!(@tests WebSocket, $driver, $target; $($name),*);
        }
        mod polling {
            $crate::client_node_suite!(@tests Polling, $driver, $target; $($name),*);
        }
        mod upgrade {
            $crate::client_node_suite!(@tests Upgrade, $driver, $target; $($name),*);
        }
    };
    (@tests $mode:ident, $driver:ty, $target:ty; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                $crate::client_suite::run::<$driver, $target, _>(
                    $crate::client_suite::Mode::$mode,
                    |t, m| Box::pin($crate::client_suite::$name::<$driver, _>(t, m)),
                );
            }
        )*
    };
    ($driver:ty) => {
        mod node {
            $crate::client_node_suite!(@modes $driver, $crate::node_server::NodeServer;
                connect,
                query_auth_and_handshake,
                echo_ack,
                server_asks_client_for_ack,
                binary_both_ways,
                events_in_order,
                message_event,
                once_next_event_and_off,
                namespaces_multiplexed,
                middleware_rejects_with_data,
                server_disconnect,
                client_disconnect_and_connect_again,
                reconnect_after_transport_close,
                reconnect_after_server_restart,
                relay_args,
                handler_arguments,
                server_asks_with_binary,
                binary_nested_reaches_node_as_buffers,
                retries_at_least_once,
            );
        }
        mod node_msgpack {
            $crate::client_node_suite!(@modes $driver, $crate::client_suite::NodeMsgpack;
                connect,
                query_auth_and_handshake,
                echo_ack,
                server_asks_client_for_ack,
                binary_both_ways,
                events_in_order,
                message_event,
                namespaces_multiplexed,
                middleware_rejects_with_data,
                reconnect_after_transport_close,
                relay_args,
                handler_arguments,
                server_asks_with_binary,
                binary_nested_reaches_node_as_buffers,
                retries_at_least_once,
            );
        }
        mod ours_msgpack {
            $crate::client_node_suite!(@modes $driver, $crate::client_suite::OurMsgpack<$driver>;
                connect,
                query_auth_and_handshake,
                echo_ack,
                server_asks_client_for_ack,
                binary_both_ways,
                events_in_order,
                message_event,
                namespaces_multiplexed,
                middleware_rejects_with_data,
                reconnect_after_transport_close,
                relay_args,
                handler_arguments,
            );
        }
        mod node_tls {
            $crate::client_node_suite!(@modes $driver, $crate::client_suite::NodeTls; tls);
        }
        mod ours {
            $crate::client_node_suite!(@modes $driver, $crate::client_suite::OurServer<$driver>;
                connect,
                query_auth_and_handshake,
                echo_ack,
                server_asks_client_for_ack,
                binary_both_ways,
                events_in_order,
                message_event,
                once_next_event_and_off,
                namespaces_multiplexed,
                middleware_rejects_with_data,
                server_disconnect,
                client_disconnect_and_connect_again,
                reconnect_after_transport_close,
                reconnect_after_server_restart,
                relay_args,
                handler_arguments,
            );
        }
        #[test]
        fn a_server_that_stops_reading_does_not_stop_the_client() {
            $crate::client_suite::server_that_stops_reading::<$driver>();
        }
        #[test]
        fn compressed_polling_answers_and_bombs() {
            $crate::client_suite::compressed_polling_and_bombs::<$driver>();
        }
        #[test]
        fn unreachable_server_gives_connect_errors_then_reconnect_failed() {
            $crate::client_suite::unreachable_server::<$driver>();
        }
    };
}
