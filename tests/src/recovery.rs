//! Connection state recovery end to end: the npm client against our server, our client
//! against the npm server and against ours, each connection going through a TCP [`Proxy`]
//! that the test cuts (the transport dies; nobody says goodbye) and holds shut while the
//! server emits to the socket, its room and everyone.

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sio::client::Transport;
use sio::{Args, ClientOptions, ClientSocket, RecoveryConfig, Server, ServerConfig, Socket};

use crate::process::Guarded;
use crate::{ensure_node_modules, js_dir, Driver};

/// A TCP proxy on 127.0.0.1 to one port: [`Proxy::cut`] shuts every connection it carries,
/// [`Proxy::hold`] refuses new ones (accepted and closed at once) until released.
pub struct Proxy {
    /// Its port.
    pub port: u16,
    state: Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    held: AtomicBool,
    stop: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Proxy {
    /// Starts a proxy to `127.0.0.1:target`.
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(ProxyState::default());
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.stop.load(Ordering::Acquire) {
                    break;
                }
                let Ok(client) = client else { continue };
                if st.held.load(Ordering::Acquire) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let pairs = [(&client, &server), (&server, &client)];
                for (from, to) in pairs {
                    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
                let mut conns = locked(&st.conns);
                conns.push(client);
                conns.push(server);
            }
        });
        Self { port, state }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Shuts down every connection carried now, both ways.
    pub fn cut(&self) {
        for c in locked(&self.state.conns).drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    /// While `on`, new connections are closed as soon as they are accepted.
    pub fn hold(&self, on: bool) {
        self.state.held.store(on, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        self.cut();
        // Wakes the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A node script whose stdout lines come on a channel; killed on drop.
pub struct NodeLines {
    _child: Guarded,
    _stdin: ChildStdin,
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
    pending: std::collections::VecDeque<String>,
}

impl NodeLines {
    /// Runs `node <script> <args..>` in `tests/js`.
    pub fn spawn(script: &str, args: &[&str]) -> Self {
        ensure_node_modules();
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed to run the recovery tests");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            _child: Guarded::new(child),
            _stdin: stdin,
            rx,
            seen: Vec::new(),
            pending: std::collections::VecDeque::new(),
        }
    }

    /// Lines to be read again (in their order, before any other), then the next ones from
    /// the script.
    fn replay(&mut self, lines: Vec<String>) {
        for line in lines.into_iter().rev() {
            self.pending.push_front(line);
        }
    }

    /// The first line from now on for which `f` gives a value, within `limit`; panics with
    /// what was seen otherwise.
    pub fn wait<T>(&mut self, limit: Duration, mut f: impl FnMut(&str) -> Option<T>) -> T {
        while let Some(line) = self.pending.pop_front() {
            let v = f(&line);
            if let Some(v) = v {
                return v;
            }
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    let v = f(&line);
                    self.seen.push(line);
                    if let Some(v) = v {
                        return v;
                    }
                }
                Err(_) => panic!("no expected line within {limit:?}; seen:\n{:#?}", self.seen),
            }
        }
    }

    /// Like [`NodeLines::wait`] without blocking the thread: polled from an async test.
    pub async fn wait_async<T>(
        &mut self,
        rt: &dyn sio::Runtime,
        limit: Duration,
        mut f: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            while let Ok(line) = self.rx.try_recv() {
                let v = f(&line);
                self.seen.push(line);
                if let Some(v) = v {
                    return v;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no expected line within {limit:?}; seen:\n{:#?}",
                self.seen
            );
            crate::sleep(rt, Duration::from_millis(10)).await;
        }
    }
}

/// One line of `recovery_client.js`.
fn client_line(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or(Value::Null)
}

fn server_config(window: Duration) -> ServerConfig {
    ServerConfig::default()
        .ping_interval(Duration::from_millis(500))
        .ping_timeout(Duration::from_millis(1000))
        .connection_state_recovery(RecoveryConfig {
            max_disconnection_duration: window,
            ..RecoveryConfig::default()
        })
}

/// Our server for the npm client: a new socket joins `r` and gets shared data; every
/// disconnection's reason goes to `disconnects`.
fn npm_client_app(io: &Server, disconnects: mpsc::Sender<String>) {
    let disconnects = Mutex::new(disconnects);
    io.on_connection(move |s: Socket| {
        let tx = locked(&disconnects).clone();
        async move {
            if !s.recovered() {
                s.join(["r"]);
                let _ = s.set_shared_data(&json!({ "first": s.id() }));
            }
            s.on_disconnect(move |_s: Socket, reason| {
                let _ = tx.send(reason.to_string());
                async {}
            });
        }
    });
}

/// The npm client connects through a proxy; the test cuts it and emits meanwhile.
struct NpmCase {
    srv: crate::TestServer,
    proxy: Proxy,
    client: NodeLines,
    disconnects: mpsc::Receiver<String>,
    mode: &'static str,
    msgs: Vec<Value>,
}

impl NpmCase {
    fn start<D: Driver>(mode: &'static str, window: Duration) -> (Self, String) {
        let (tx, disconnects) = mpsc::channel();
        let srv = D::start(server_config(window), |io| npm_client_app(io, tx));
        let proxy = Proxy::start(srv.port);
        let mut client = NodeLines::spawn("recovery_client.js", &[&proxy.url(), mode]);
        let id = Self::connected(&mut client, mode, false);
        let case = Self {
            srv,
            proxy,
            client,
            disconnects,
            mode,
            msgs: Vec::new(),
        };
        (case, id)
    }

    /// Waits for a connection (and its upgrade); checks `recovered`; returns the id. Lines
    /// read past meanwhile (events that came before the upgrade) are read again later.
    fn connected(client: &mut NodeLines, mode: &str, recovered: bool) -> String {
        // Events seen before the `connect` line (one that got through just before a cut, say)
        // are read again by whoever waits for them next.
        let mut before = Vec::new();
        let (id, r) = client.wait(Duration::from_secs(20), |l| {
            let v = client_line(l);
            let found = (v["type"] == "connect").then(|| {
                (
                    v["id"].as_str().unwrap_or("").to_owned(),
                    v["recovered"].clone(),
                )
            });
            if found.is_none() {
                before.push(l.to_owned());
            }
            found
        });
        client.replay(before);
        assert_eq!(r, Value::Bool(recovered), "recovered flag of {id}");
        if mode == "upgrade" {
            let mut passed = Vec::new();
            client.wait(Duration::from_secs(10), |l| {
                let up = client_line(l)["type"] == "upgraded";
                if !up {
                    passed.push(l.to_owned());
                }
                up.then_some(())
            });
            client.replay(passed);
        }
        id
    }

    /// Collects `msg` events until one carries `last`: each with its value and an offset.
    fn receive_until(&mut self, last: Value) {
        let msgs = &mut self.msgs;
        self.client.wait(Duration::from_secs(20), |l| {
            let v = client_line(l);
            if v["type"] != "event" || v["name"] != "msg" {
                return None;
            }
            let args = v["args"].as_array().cloned().unwrap_or_default();
            assert_eq!(args.len(), 2, "a value and an offset: {l}");
            assert!(args[1].is_string(), "the offset is a string: {l}");
            msgs.push(args[0].clone());
            (args[0] == last).then_some(())
        });
    }

    /// Cuts the client's connections and waits until our server has seen the socket go.
    fn cut_and_wait_for_server(&mut self) {
        self.proxy.hold(true);
        self.proxy.cut();
        let reason = self
            .disconnects
            .recv_timeout(Duration::from_secs(10))
            .expect("the server saw the disconnection");
        assert!(
            ["transport close", "transport error", "ping timeout"].contains(&reason.as_str()),
            "{reason}"
        );
    }
}

/// The npm client cut off from our server recovers its socket: same id, rooms and data, and
/// every packet sent meanwhile (to the socket, its room, everyone; also one sent as the
/// transport died) arrives once and in order; volatile and non-matching ones do not.
pub fn npm_client_recovers<D: Driver>(mode: &'static str) {
    let (mut case, id) = NpmCase::start::<D>(mode, Duration::from_secs(120));
    let io = case.srv.server.clone();
    let socket = io.of("/").get_socket(&id).expect("our socket");
    socket.join(["extra"]);
    socket.emit("msg", &1).unwrap();
    io.to("r").emit("msg", &2).unwrap();
    case.receive_until(json!(2));

    case.proxy.hold(true);
    case.proxy.cut();
    // Sent as the transport dies: lost on the wire or queued for a socket about to go.
    socket.emit("msg", &3).unwrap();
    let reason = case
        .disconnects
        .recv_timeout(Duration::from_secs(10))
        .expect("the server saw the disconnection");
    assert!(!reason.is_empty());
    assert!(io.of("/").get_socket(&id).is_none());
    // While it is away.
    socket.emit("msg", &4).unwrap();
    io.to("r").emit("msg", &5).unwrap();
    io.to(id.as_str()).emit("msg", &6).unwrap();
    io.to("extra").except("nobody").emit("msg", &7).unwrap();
    io.volatile().emit("msg", &"volatile").unwrap();
    io.to("other").emit("msg", &"other room").unwrap();
    io.except("r").emit("msg", &"excluded").unwrap();
    io.emit("msg", &8).unwrap();
    case.proxy.hold(false);

    let again = NpmCase::connected(&mut case.client, case.mode, true);
    assert_eq!(again, id, "the same socket id");
    case.receive_until(json!(8));
    let s = io.of("/").get_socket(&id).expect("recovered socket");
    assert!(s.recovered());
    let mut rooms: Vec<String> = s.rooms().iter().map(|r| r.to_string()).collect();
    rooms.sort();
    let mut want = vec![id.clone(), "extra".into(), "r".into()];
    want.sort();
    assert_eq!(rooms, want);
    assert_eq!(s.shared_data(), json!({ "first": id }));
    // And on as before.
    s.emit("msg", &9).unwrap();
    io.to("r").emit("msg", &10).unwrap();
    case.receive_until(json!(10));
    let want: Vec<Value> = (1..=10).map(|n| json!(n)).collect();
    assert_eq!(
        case.msgs,
        want,
        "every packet once, in order ({mode}, {})",
        D::NAME
    );
}

/// After the window, the npm client gets a new socket.
pub fn npm_client_gets_a_new_socket_after_the_window<D: Driver>(mode: &'static str) {
    let (mut case, id) = NpmCase::start::<D>(mode, Duration::from_millis(500));
    let io = case.srv.server.clone();
    io.emit("msg", &1).unwrap();
    case.receive_until(json!(1));
    case.cut_and_wait_for_server();
    io.emit("msg", &"gone").unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    case.proxy.hold(false);
    let again = NpmCase::connected(&mut case.client, case.mode, false);
    assert_ne!(again, id);
    let s = io.of("/").get_socket(&again).expect("new socket");
    assert!(!s.recovered());
    io.emit("msg", &2).unwrap();
    case.receive_until(json!(2));
    assert_eq!(case.msgs, vec![json!(1), json!(2)]);
}

/// Which server our client talks to.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    /// `tests/js/recovery_server.js`.
    Node,
    /// Ours, doing what that script does.
    Ours,
}

/// A server of either kind doing what `recovery_server.js` does.
enum PeerServer {
    Node(NodeLines, u16),
    Ours(crate::TestServer, mpsc::Receiver<String>),
}

impl PeerServer {
    fn start<D: Driver>(peer: Peer, window: Duration) -> Self {
        match peer {
            Peer::Node => {
                let ms = window.as_millis().to_string();
                let mut lines = NodeLines::spawn("recovery_server.js", &[&ms]);
                let port = lines.wait(Duration::from_secs(20), |l| {
                    l.strip_prefix("PORT ")
                        .and_then(|p| p.trim().parse::<u16>().ok())
                });
                PeerServer::Node(lines, port)
            }
            Peer::Ours => {
                let (tx, rx) = mpsc::channel();
                let srv = D::start(server_config(window), |io| our_peer_app(io, tx));
                PeerServer::Ours(srv, rx)
            }
        }
    }

    fn port(&self) -> u16 {
        match self {
            PeerServer::Node(_, port) => *port,
            PeerServer::Ours(srv, _) => srv.port,
        }
    }

    /// Waits until the server saw a socket disconnect (and emitted to it meanwhile).
    async fn disconnected(&mut self, rt: &dyn sio::Runtime) {
        match self {
            PeerServer::Node(lines, _) => {
                lines
                    .wait_async(rt, Duration::from_secs(10), |l| {
                        l.starts_with("DISCONNECT ").then_some(())
                    })
                    .await
            }
            PeerServer::Ours(_, rx) => {
                let deadline = Instant::now() + Duration::from_secs(10);
                while rx.try_recv().is_err() {
                    assert!(Instant::now() < deadline, "no disconnection seen");
                    crate::sleep(rt, Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// What `recovery_server.js` does, on our server.
fn our_peer_app(io: &Server, disconnects: mpsc::Sender<String>) {
    let disconnects = Mutex::new(disconnects);
    let server = io.clone();
    io.on_connection(move |s: Socket| {
        let tx = locked(&disconnects).clone();
        let io = server.clone();
        async move {
            if !s.recovered() {
                s.join(["r"]);
            }
            s.on("send", |s: Socket, n: Value| async move {
                let _ = s.emit("msg", &n);
            });
            s.on_disconnect(move |s: Socket, reason| {
                let _ = io.to(s.id()).emit("msg", &"to-id");
                let _ = io.to("r").emit("msg", &"to-room");
                let _ = io.emit("msg", &"to-all");
                let _ = io.volatile().emit("msg", &"volatile");
                let _ = tx.send(format!("{} {reason}", s.id()));
                async {}
            });
        }
    });
}

/// Our client, cut off from `peer`, recovers its socket and gets what the server sent while
/// it was away, once, in order, without the offsets among the arguments; after the window it
/// gets a new socket.
pub fn our_client_recovers<D: Driver>(peer: Peer, mode: &'static str, expire: bool) {
    let window = if expire {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(120)
    };
    let mut server = PeerServer::start::<D>(peer, window);
    let proxy = Proxy::start(server.port());
    let transports = match mode {
        "websocket" => vec![Transport::WebSocket],
        "polling" => vec![Transport::Polling],
        _ => vec![Transport::Polling, Transport::WebSocket],
    };
    let opts = ClientOptions {
        transports,
        force_new: true,
        reconnection_delay: Duration::from_millis(100),
        reconnection_delay_max: Duration::from_millis(100),
        randomization_factor: 0.0,
        ..ClientOptions::default()
    };
    D::block_on(async move {
        let rt = D::runtime();
        let rt = &*rt;
        let msgs: Arc<Mutex<Vec<Vec<Value>>>> = Arc::default();
        let socket = D::io(&proxy.url(), opts).expect("client");
        let m = msgs.clone();
        socket.on("msg", move |_: ClientSocket, args: Args| {
            locked(&m).push(args.to_values().unwrap_or_default());
            async {}
        });
        let wait_for = |n: usize| {
            let msgs = msgs.clone();
            async move {
                let deadline = Instant::now() + Duration::from_secs(20);
                while locked(&msgs).len() < n {
                    assert!(
                        Instant::now() < deadline,
                        "{n} messages expected, got {:?}",
                        locked(&msgs)
                    );
                    crate::sleep(rt, Duration::from_millis(10)).await;
                }
            }
        };
        let connected = |want_recovered: bool| {
            let socket = socket.clone();
            async move {
                let deadline = Instant::now() + Duration::from_secs(20);
                while !socket.connected() {
                    assert!(Instant::now() < deadline, "not connected");
                    crate::sleep(rt, Duration::from_millis(10)).await;
                }
                assert_eq!(socket.recovered(), want_recovered);
                socket.id().expect("an id")
            }
        };
        let id = connected(false).await;
        if mode == "upgrade" {
            let deadline = Instant::now() + Duration::from_secs(10);
            while socket.manager().transport() != Some("websocket") {
                assert!(Instant::now() < deadline, "not upgraded");
                crate::sleep(rt, Duration::from_millis(10)).await;
            }
        }
        socket.emit("send", &1).unwrap();
        socket.emit("send", &2).unwrap();
        wait_for(2).await;

        proxy.hold(true);
        proxy.cut();
        server.disconnected(rt).await;
        if expire {
            crate::sleep(rt, Duration::from_millis(1200)).await;
        }
        proxy.hold(false);
        let deadline = Instant::now() + Duration::from_secs(20);
        while socket.connected() {
            // Our client may not have seen the cut yet.
            assert!(Instant::now() < deadline, "never disconnected");
            crate::sleep(rt, Duration::from_millis(10)).await;
        }
        let again = connected(!expire).await;
        let want: Vec<Vec<Value>> = if expire {
            assert_ne!(again, id);
            socket.emit("send", &3).unwrap();
            wait_for(3).await;
            vec![vec![json!(1)], vec![json!(2)], vec![json!(3)]]
        } else {
            assert_eq!(again, id);
            wait_for(5).await;
            socket.emit("send", &3).unwrap();
            wait_for(6).await;
            [
                json!(1),
                json!(2),
                json!("to-id"),
                json!("to-room"),
                json!("to-all"),
                json!(3),
            ]
            .into_iter()
            .map(|v| vec![v])
            .collect()
        };
        // Nothing more comes (no volatile, no duplicate).
        crate::sleep(rt, Duration::from_millis(300)).await;
        assert_eq!(*locked(&msgs), want, "{peer:?} {mode} {}", D::NAME);
        socket.disconnect();
    });
}

/// Instantiates the recovery tests for a driver.
#[macro_export]
macro_rules! recovery_suite {
    ($driver:ty) => {
        $crate::recovery_suite!(@ $driver; websocket, polling, upgrade);
    };
    (@ $driver:ty; $($mode:ident),*) => {
        $(
            mod $mode {
                use $crate::recovery::{self, Peer};
                #[test]
                fn npm_client_recovers() {
                    recovery::npm_client_recovers::<$driver>(stringify!($mode));
                }
                #[test]
                fn npm_client_gets_a_new_socket_after_the_window() {
                    recovery::npm_client_gets_a_new_socket_after_the_window::<$driver>(stringify!($mode));
                }
                #[test]
                fn our_client_recovers_from_node() {
                    recovery::our_client_recovers::<$driver>(Peer::Node, stringify!($mode), false);
                }
                #[test]
                fn our_client_gets_a_new_socket_from_node_after_the_window() {
                    recovery::our_client_recovers::<$driver>(Peer::Node, stringify!($mode), true);
                }
                #[test]
                fn our_client_recovers_from_ours() {
                    recovery::our_client_recovers::<$driver>(Peer::Ours, stringify!($mode), false);
                }
                #[test]
                fn our_client_gets_a_new_socket_from_ours_after_the_window() {
                    recovery::our_client_recovers::<$driver>(Peer::Ours, stringify!($mode), true);
                }
            }
        )*
    };
}
