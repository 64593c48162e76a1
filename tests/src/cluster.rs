//! Clusters for the cluster tests: Node servers (`tests/js/cluster_server.js`, the npm
//! `socket.io` server on `@socket.io/redis-adapter`) sharing one Redis ([`RedisServer`]),
//! and the Rust-side tools to drive them with our client (`sio::client`): a connected socket
//! of `/`, the `/control` namespace the servers expose ([`Control`]), and event channels with
//! bounded waits ([`Events`]).
//!
//! A Node server is one member; a Rust server with the Rust cluster adapter can join the same
//! Redis under the same key prefix and be driven by the same tests.
//!
//! [`RedisServer`]: crate::redis_server::RedisServer

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sio::client::{io, ClientOptions, ClientSocket, Transport};
use sio::Runtime;

use crate::process::Guarded;
use crate::{ensure_node_modules, js_dir, sleep, timeout, Driver};

/// How long one wait for an event or an answer may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// The `subscriptionMode` of the sharded adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionMode {
    /// Two channels per namespace.
    Static,
    /// Plus one channel per public room (the default).
    Dynamic,
    /// Plus one channel per room, private ones (socket ids) included.
    DynamicPrivate,
}

impl SubscriptionMode {
    fn arg(self) -> &'static str {
        match self {
            SubscriptionMode::Static => "static",
            SubscriptionMode::Dynamic => "dynamic",
            SubscriptionMode::DynamicPrivate => "dynamic-private",
        }
    }
}

/// Which adapter of `@socket.io/redis-adapter` a Node server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    /// `createAdapter` (PUBLISH/PSUBSCRIBE), with its `publishOnSpecificResponseChannel`.
    Classic {
        /// Answers to requests go to the requester's own channel.
        specific_response_channel: bool,
    },
    /// `createShardedAdapter` (SPUBLISH/SSUBSCRIBE, Redis 7).
    Sharded(SubscriptionMode),
}

impl AdapterKind {
    /// The classic adapter with its default options.
    pub const CLASSIC: AdapterKind = AdapterKind::Classic {
        specific_response_channel: false,
    };
    /// The sharded adapter with its default options.
    pub const SHARDED: AdapterKind = AdapterKind::Sharded(SubscriptionMode::Dynamic);
}

/// Everything a cluster server is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The adapter.
    pub kind: AdapterKind,
    /// The channel prefix (`key` of the classic adapter, `channelPrefix` of the sharded one;
    /// `socket.io` when `None`).
    pub key: Option<String>,
    /// The classic adapter's `requestsTimeout` (5 s when `None`).
    pub requests_timeout: Option<Duration>,
}

impl ClusterOptions {
    /// `kind` with the default prefix and timeout.
    pub fn new(kind: AdapterKind) -> Self {
        Self {
            kind,
            key: None,
            requests_timeout: None,
        }
    }

    fn args(&self, redis_url: &str) -> Vec<String> {
        let mut a: Vec<String> = vec!["--redis".into(), redis_url.into()];
        match self.kind {
            AdapterKind::Classic {
                specific_response_channel,
            } => {
                a.extend(["--adapter".into(), "classic".into()]);
                if specific_response_channel {
                    a.push("--specific-response-channel".into());
                }
            }
            AdapterKind::Sharded(mode) => {
                a.extend(["--adapter".into(), "sharded".into()]);
                a.extend(["--subscription-mode".into(), mode.arg().into()]);
            }
        }
        if let Some(k) = &self.key {
            a.extend(["--key".into(), k.clone()]);
        }
        if let Some(t) = self.requests_timeout {
            a.extend(["--requests-timeout".into(), t.as_millis().to_string()]);
        }
        a
    }
}

/// A running `node cluster_server.js`: one member of a cluster, killed on drop.
pub struct NodeClusterServer {
    child: Guarded,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl NodeClusterServer {
    /// Starts a member on a free port, on the Redis at `redis_url`, with `kind` and the
    /// default prefix; returns once it listens and its adapter is subscribed.
    pub fn start(redis_url: &str, kind: AdapterKind) -> Self {
        Self::start_with(redis_url, &ClusterOptions::new(kind))
    }

    /// Starts a member with `opts`.
    pub fn start_with(redis_url: &str, opts: &ClusterOptions) -> Self {
        ensure_node_modules();
        let child = Command::new("node")
            .arg("cluster_server.js")
            .args(opts.args(redis_url))
            .current_dir(js_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node must be installed to run the cluster tests");
        let mut child = child;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let child = Guarded::new(child);
        let (tx, rx) = mpsc::channel();
        // Reads the port, then keeps draining so that the server never blocks on its output.
        // What it says goes to the test's output (shown when the test fails).
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match line.strip_prefix("PORT ") {
                    Some(p) => {
                        let _ = tx.send(p.trim().parse::<u16>().ok());
                    }
                    None => println!("cluster_server.js: {line}"),
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("cluster_server.js: {line}");
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(port)) => Self { child, port },
            other => panic!("cluster_server.js did not report its port: {other:?}"),
        }
    }

    /// Starts `n` members on one Redis.
    pub fn start_many(redis_url: &str, opts: &ClusterOptions, n: usize) -> Vec<Self> {
        (0..n).map(|_| Self::start_with(redis_url, opts)).collect()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the member (SIGKILL: nothing is said to Redis or to the clients).
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// Stops the member (SIGSTOP) or lets it go on (SIGCONT): stopped, it keeps its Redis
    /// subscriptions but answers nothing, as a server that hangs in the middle of a request.
    pub fn pause(&self, stopped: bool) {
        let pid = self.child.id().expect("a running member");
        let signal = if stopped { "-STOP" } else { "-CONT" };
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill {signal} {pid}");
    }
}

/// The receiving end of an event channel, waited on with `D`'s clock.
pub struct Events<T> {
    rx: UnboundedReceiver<T>,
    rt: Arc<dyn Runtime>,
}

impl<T> Events<T> {
    /// Wraps a channel; its waits run on `rt`'s clock.
    pub fn new(rx: UnboundedReceiver<T>, rt: Arc<dyn Runtime>) -> Self {
        Self { rx, rt }
    }

    /// The next value, within [`WAIT`] (the caller's line is in the panic).
    #[track_caller]
    pub fn recv(&mut self) -> impl std::future::Future<Output = T> + '_ {
        let at = std::panic::Location::caller();
        async move {
            match self.next_within(WAIT).await {
                Some(v) => v,
                None => panic!("timed out waiting for an event at {at}"),
            }
        }
    }

    /// The next value, or `None` when none came within `d`.
    pub async fn next_within(&mut self, d: Duration) -> Option<T> {
        match timeout(&*self.rt, d, self.rx.next()).await {
            Some(Some(v)) => Some(v),
            Some(None) => panic!("event channel closed"),
            None => None,
        }
    }

    /// Checks that nothing comes within `d` (a "does NOT happen" check: the one place a test
    /// waits for a fixed time).
    #[track_caller]
    pub fn none_within(&mut self, d: Duration) -> impl std::future::Future<Output = ()> + '_
    where
        T: std::fmt::Debug,
    {
        let at = std::panic::Location::caller();
        async move {
            if let Some(v) = self.next_within(d).await {
                panic!("unexpected event {v:?} at {at}");
            }
        }
    }
}

/// The first argument of every `event` that `s` receives, as a channel.
pub fn record<D: Driver, T: DeserializeOwned + Send + 'static>(
    s: &ClientSocket,
    event: &str,
) -> Events<T> {
    let (tx, rx) = unbounded();
    s.on(event, move |_: ClientSocket, v: T| {
        let tx = tx.clone();
        async move {
            let _ = tx.unbounded_send(v);
        }
    });
    Events::new(rx, D::runtime())
}

/// Client options for the cluster tests: `transports`, a manager of its own, no reconnection.
pub fn client_options(transports: &[Transport]) -> ClientOptions {
    ClientOptions {
        transports: transports.to_vec(),
        force_new: true,
        reconnection: false,
        auto_connect: false,
        ..ClientOptions::default()
    }
}

/// A socket of namespace `nsp` on `url` (`http://host:port`), connected with `transports`; with
/// polling then websocket, also upgraded. Panics when that does not happen within [`WAIT`].
pub async fn connect<D: Driver>(url: &str, nsp: &str, transports: &[Transport]) -> ClientSocket {
    connect_with::<D>(url, nsp, client_options(transports)).await
}

/// [`connect`] with `opts` (their `transports` are used).
pub async fn connect_with<D: Driver>(url: &str, nsp: &str, opts: ClientOptions) -> ClientSocket {
    let transports = opts.transports.clone();
    let s = io(D::runtime(), &format!("{url}{nsp}"), opts).expect("io()");
    let (ctx, mut connects) = unbounded::<()>();
    s.on_connect(move |_| {
        let tx = ctx.clone();
        async move {
            let _ = tx.unbounded_send(());
        }
    });
    let (utx, mut upgrades) = unbounded::<()>();
    s.manager().on_upgrade(move || {
        let _ = utx.unbounded_send(());
    });
    s.connect();
    let rt = D::runtime();
    timeout(&*rt, WAIT, connects.next())
        .await
        .unwrap_or_else(|| panic!("{url}{nsp}: not connected within {WAIT:?}"));
    let upgrade = transports.len() > 1 && transports.last() == Some(&Transport::WebSocket);
    if upgrade && s.manager().transport() != Some("websocket") {
        timeout(&*rt, WAIT, upgrades.next())
            .await
            .unwrap_or_else(|| panic!("{url}{nsp}: not upgraded within {WAIT:?}"));
    }
    s
}

/// Emits `event` with `arg` and waits for the ack (within [`WAIT`]); panics on an `{error}`
/// answer.
pub async fn ask<T: serde::Serialize + ?Sized>(s: &ClientSocket, event: &str, arg: &T) -> Value {
    let v: Value = s
        .emit_with_ack(event, arg, Some(WAIT))
        .await
        .unwrap_or_else(|e| panic!("{event}: no answer: {e:?}"));
    if let Some(err) = v.get("error") {
        panic!("{event}: the server failed: {err}");
    }
    v
}

/// The `/control` namespace of a cluster server: operations on its namespace `/`, across the
/// cluster.
pub struct Control {
    socket: ClientSocket,
    rt: Arc<dyn Runtime>,
}

impl Control {
    /// Connects to the `/control` namespace of the server at `url` (websocket).
    pub async fn connect<D: Driver>(url: &str) -> Self {
        Self {
            socket: connect::<D>(url, "/control", &[Transport::WebSocket]).await,
            rt: D::runtime(),
        }
    }

    /// Performs `{op, ..args}` and returns its result; panics when the server failed.
    pub async fn op(&self, op: &str, args: Value) -> Value {
        let mut req = args;
        if req.is_null() {
            req = json!({});
        }
        req["op"] = json!(op);
        ask(&self.socket, "do", &req).await
    }

    /// `serverCount` of the cluster, as this server sees it.
    pub async fn server_count(&self) -> u64 {
        let v = self.op("serverCount", Value::Null).await;
        v.as_u64()
            .unwrap_or_else(|| panic!("serverCount: not a number: {v}"))
    }

    /// Waits until the cluster counts `n` servers (within [`WAIT`]); a member subscribes
    /// before it reports its port, so this is a check more than a wait.
    pub async fn wait_server_count(&self, n: u64) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let count = self.server_count().await;
            if count == n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the cluster counts {count} servers, not {n}"
            );
            sleep(&*self.rt, Duration::from_millis(20)).await;
        }
    }
}

/// Publishes `ops` with the npm `@socket.io/redis-emitter` (`tests/js/emitter.js`, see there
/// for the operations) on the Redis at `redis_url`; returns once all is published. Panics when
/// the script fails or takes more than 20 s.
pub fn emitter(redis_url: &str, ops: &Value) {
    ensure_node_modules();
    let child = Command::new("node")
        .arg("emitter.js")
        .args(["--redis", redis_url, "--ops", &ops.to_string()])
        .current_dir(js_dir())
        .stdin(Stdio::null())
        .spawn()
        .expect("node must be installed to run the cluster tests");
    let mut child = Guarded::new(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait() {
            assert!(status.success(), "emitter.js failed: {status}");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "emitter.js did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where an [`NpmClient`]'s received events go: the channel of their name once recorded, a
/// backlog before (so that none is missed).
#[derive(Default)]
struct Routes {
    senders: HashMap<String, UnboundedSender<Value>>,
    backlog: HashMap<String, Vec<Value>>,
}

/// One socket of the npm `socket.io-client` (`tests/js/cluster_client.js`), driven from the
/// test: its received events come on channels ([`NpmClient::record`]), its emits with an ack
/// are awaited ([`NpmClient::ask`]). Killed on drop.
pub struct NpmClient {
    _child: Guarded,
    stdin: Mutex<ChildStdin>,
    /// The socket id.
    pub id: String,
    routes: Arc<Mutex<Routes>>,
    acks: futures_util::lock::Mutex<Events<(u64, Value)>>,
    next_ack: AtomicU64,
    rt: Arc<dyn Runtime>,
}

impl NpmClient {
    /// Connects to namespace `nsp` of `url` with `mode` (`websocket`, `polling` or `upgrade`);
    /// returns once connected (and upgraded). Its waits run on `D`'s clock.
    pub fn connect<D: Driver>(url: &str, nsp: &str, mode: &str) -> Self {
        ensure_node_modules();
        let mut child = Command::new("node")
            .arg("cluster_client.js")
            .args([format!("{url}{nsp}"), mode.to_owned()])
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed to run the cluster tests");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let child = Guarded::new(child);
        let (id_tx, id_rx) = mpsc::channel();
        let (ack_tx, ack_rx) = unbounded();
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let r = routes.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("CONNECTED ") {
                    let _ = id_tx.send(id.to_owned());
                } else if let Some(rest) = line.strip_prefix("EVENT ") {
                    let Ok(Value::Array(mut v)) = serde_json::from_str::<Value>(rest) else {
                        continue;
                    };
                    if v.is_empty() {
                        continue;
                    }
                    let name = v.remove(0).as_str().unwrap_or_default().to_owned();
                    let arg = if v.len() == 1 {
                        v.remove(0)
                    } else {
                        Value::Array(v)
                    };
                    let mut routes = r.lock().unwrap_or_else(|e| e.into_inner());
                    match routes.senders.get(&name) {
                        Some(tx) => {
                            let _ = tx.unbounded_send(arg);
                        }
                        None => routes.backlog.entry(name).or_default().push(arg),
                    }
                } else if let Some(rest) = line.strip_prefix("ACK ") {
                    let (n, v) = rest.split_once(' ').unwrap_or((rest, "null"));
                    let v = serde_json::from_str(v).unwrap_or(Value::Null);
                    let _ = ack_tx.unbounded_send((n.parse().unwrap_or(u64::MAX), v));
                }
            }
        });
        let id = id_rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the npm client did not connect to {url}{nsp} ({mode})"));
        Self {
            _child: child,
            stdin: Mutex::new(stdin),
            id,
            routes,
            acks: futures_util::lock::Mutex::new(Events::new(ack_rx, D::runtime())),
            next_ack: AtomicU64::new(0),
            rt: D::runtime(),
        }
    }

    /// The argument of every `event` this socket received (an array when there were several),
    /// those before this call included, as a channel.
    pub fn record(&self, event: &str) -> Events<Value> {
        let (tx, rx) = unbounded();
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        for v in routes.backlog.remove(event).unwrap_or_default() {
            let _ = tx.unbounded_send(v);
        }
        routes.senders.insert(event.to_owned(), tx);
        Events::new(rx, self.rt.clone())
    }

    /// Emits `event` with `args`, without an ack.
    pub fn emit(&self, event: &str, args: &[Value]) {
        self.send(&json!({"emit": event, "args": args}));
    }

    /// Emits `event` with `args` and an ack; its answer (panics on a timeout or an error
    /// answer).
    pub async fn ask(&self, event: &str, args: &[Value]) -> Value {
        let n = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let mut acks = self.acks.lock().await;
        self.send(&json!({"emit": event, "args": args, "ack": n}));
        loop {
            let (m, v) = acks.recv().await;
            if m == n {
                if let Some(e) = v.get("$error").or_else(|| v.get("error")) {
                    panic!("{event}: {e}");
                }
                return v;
            }
        }
    }

    fn send(&self, cmd: &Value) {
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(stdin, "{cmd}").expect("the npm client ended");
        stdin.flush().expect("the npm client ended");
    }
}

/// Our server's `("join", room, ack)`, as Node's test server has it: the socket joins `room`,
/// and the ack comes once the room's channel is subscribed (the sharded adapter's dynamic
/// modes subscribe a room's channel when the room is created).
pub fn join_when_settled(s: &sio::Socket, cluster: &sio_redis::RedisCluster) {
    let cluster = cluster.clone();
    s.on(
        "join",
        move |s: sio::Socket, room: String, ack: sio::AckSender| {
            let cluster = cluster.clone();
            async move {
                s.join([room.as_str()]);
                cluster.subscriptions_settled().await.expect("subscribed");
                let _ = ack.send(&json!({"ok": true}));
            }
        },
    );
}
