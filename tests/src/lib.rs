//! End-to-end test harness: start one of our servers on a free loopback port with a given
//! runtime driver, run the real npm peers (installed from `tests/js/package-lock.json` on first
//! use), and the application every scenario talks to.
//!
//! The suites are written against [`Driver`], so that one suite runs on every runtime.

pub mod app;
pub mod client_suite;
pub mod cluster;
pub mod deflate;
pub mod eio3;
pub mod nginx;
pub mod node_server;
pub mod process;
pub mod raw;
pub mod raw_suite;
pub mod recovery;
pub mod redis_server;
pub mod robust_suite;
pub mod sticky;
pub mod tinyproxy;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use futures_util::future::{select, Either};
use sio::{BoxFuture, Server, ServerConfig};

/// A server under test.
pub struct TestServer {
    /// The server handle.
    pub server: Server,
    /// Its port on 127.0.0.1.
    pub port: u16,
    accept: AcceptLoop,
}

impl TestServer {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops accepting (the listener is closed when this returns, so the port can be bound
    /// again), then closes the server ([`Server::close`]: every connection ends). Dropping a
    /// `TestServer` without calling this leaves it running.
    pub async fn close(&mut self) {
        self.accept.stop().await;
        self.server.close().await;
    }
}

/// The accept loop of a [`TestServer`], raced against a stop signal so that it can be ended
/// on every runtime (tokio could abort its task; async-std and smol tasks are detached).
struct AcceptLoop {
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<()>>,
}

impl AcceptLoop {
    /// Wraps `serve` (which owns the listener) into the task to spawn.
    fn new(
        serve: impl Future<Output = std::io::Result<()>> + Send + 'static,
    ) -> (Self, BoxFuture<()>) {
        let (stop, stop_rx) = oneshot::channel::<()>();
        let (stopped_tx, stopped) = oneshot::channel::<()>();
        let task = async move {
            {
                // A dropped `AcceptLoop` (its sender gone) does not stop the server.
                let stop = pin!(async move {
                    if stop_rx.await.is_err() {
                        std::future::pending::<()>().await;
                    }
                });
                let serve = pin!(serve);
                let _ = select(serve, stop).await;
                // `serve`, and the listener with it, is dropped here.
            }
            let _ = stopped_tx.send(());
        };
        let this = Self {
            stop: Some(stop),
            stopped: Some(stopped),
        };
        (this, Box::pin(task))
    }

    /// Ends the loop; resolves once the listener is closed.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
    }
}

/// `127.0.0.1:port`.
fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A runtime driver the suites run on.
pub trait Driver {
    /// The runtime's name.
    const NAME: &'static str;
    /// Starts a server with `config` on `port` of 127.0.0.1 (0: a free one), after `setup`
    /// installed its handlers; an error when the port cannot be bound. Does not block: it may be
    /// called from inside [`Driver::block_on`].
    fn start_on_port(
        config: ServerConfig,
        setup: impl FnOnce(&Server),
        port: u16,
    ) -> std::io::Result<TestServer>;
    /// Starts a server with `config` on a free port, after `setup` installed its handlers.
    fn start(config: ServerConfig, setup: impl FnOnce(&Server)) -> TestServer {
        Self::start_on_port(config, setup, 0).expect("bind 127.0.0.1:0")
    }
    /// Starts a plain Engine.IO server on a free port; returns the port.
    fn start_engine(setup: impl FnOnce(&sio::engine::EngineIo)) -> u16;
    /// Runs a future on the driver's runtime to completion (for Rust-side clients and checks).
    fn block_on<F: Future>(f: F) -> F::Output;
    /// The runtime for clients (`sio::client::io`), to be used inside [`Driver::block_on`].
    fn runtime() -> Arc<dyn sio::Runtime>;
    /// A client socket through the driver's own one-line entry point (`sio_tokio::io`,
    /// `sio_async_std::io`, `sio_async_std::io_on`), inside [`Driver::block_on`].
    fn io(url: &str, opts: sio::ClientOptions) -> Result<sio::ClientSocket, sio::ClientError>;
}

/// Waits for `f` until `d` has passed on `rt`'s clock; `None` when the time ran out.
pub async fn timeout<F: Future>(rt: &dyn sio::Runtime, d: Duration, f: F) -> Option<F::Output> {
    let deadline = rt.sleep_until(rt.now() + d);
    match select(pin!(f), deadline).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// Sleeps for `d` on `rt`.
pub async fn sleep(rt: &dyn sio::Runtime, d: Duration) {
    rt.sleep_until(rt.now() + d).await;
}

/// The tokio driver.
pub struct Tokio;

fn tokio_rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// Binds a tokio listener like `TcpListener::bind` does (`SO_REUSEADDR`, backlog 1024), without
/// awaiting; needs the runtime's context.
fn bind_tokio(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(loopback(port))?;
    socket.listen(1024)
}

impl Driver for Tokio {
    const NAME: &'static str = "tokio";

    fn start_on_port(
        config: ServerConfig,
        setup: impl FnOnce(&Server),
        port: u16,
    ) -> std::io::Result<TestServer> {
        let rt = tokio_rt();
        let _guard = rt.enter();
        let listener = bind_tokio(port)?;
        let port = listener.local_addr().expect("local addr").port();
        let server = sio_tokio::new_server(config);
        setup(&server);
        let (accept, task) = AcceptLoop::new(sio_tokio::serve(listener, server.clone()));
        rt.spawn(task);
        Ok(TestServer {
            server,
            port,
            accept,
        })
    }

    fn start_engine(setup: impl FnOnce(&sio::engine::EngineIo)) -> u16 {
        let rt = tokio_rt();
        let _guard = rt.enter();
        let listener = bind_tokio(0).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let eio =
            sio::engine::EngineIo::new(Arc::new(sio_tokio::TokioRuntime), ServerConfig::default());
        setup(&eio);
        rt.spawn(sio_tokio::serve(listener, eio.server().clone()));
        port
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio_rt().block_on(f)
    }

    fn runtime() -> Arc<dyn sio::Runtime> {
        Arc::new(sio_tokio::TokioRuntime)
    }
    fn io(url: &str, opts: sio::ClientOptions) -> Result<sio::ClientSocket, sio::ClientError> {
        sio_tokio::io(url, opts)
    }
}

/// Binds an `async-io` listener (async-std and smol), without awaiting.
fn bind_async_io(port: u16) -> std::io::Result<smol::net::TcpListener> {
    smol::Async::<std::net::TcpListener>::bind(loopback(port)).map(smol::net::TcpListener::from)
}

/// Starts a server on an `async-io` runtime (async-std or smol): bind, then serve on the
/// server's own runtime.
fn start_async_io(
    rt: impl sio::Runtime,
    config: ServerConfig,
    setup: impl FnOnce(&Server),
    port: u16,
) -> std::io::Result<TestServer> {
    let listener = bind_async_io(port)?;
    let port = listener.local_addr().expect("local addr").port();
    let server = sio_async_std::new_server(rt, config);
    setup(&server);
    let (accept, task) = AcceptLoop::new(sio_async_std::serve(listener, server.clone()));
    server.runtime().spawn(task);
    Ok(TestServer {
        server,
        port,
        accept,
    })
}

fn start_engine_async_io(rt: impl sio::Runtime, setup: impl FnOnce(&sio::engine::EngineIo)) -> u16 {
    let listener = bind_async_io(0).expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    let eio = sio::engine::EngineIo::new(Arc::new(rt), ServerConfig::default());
    setup(&eio);
    let server = eio.server().clone();
    let s2 = server.clone();
    server.runtime().spawn(Box::pin(async move {
        let _ = sio_async_std::serve(listener, s2).await;
    }));
    port
}

/// The async-std driver.
pub struct AsyncStd;

impl Driver for AsyncStd {
    const NAME: &'static str = "async-std";

    fn start_on_port(
        config: ServerConfig,
        setup: impl FnOnce(&Server),
        port: u16,
    ) -> std::io::Result<TestServer> {
        start_async_io(sio_async_std::AsyncStdRuntime, config, setup, port)
    }

    fn start_engine(setup: impl FnOnce(&sio::engine::EngineIo)) -> u16 {
        start_engine_async_io(sio_async_std::AsyncStdRuntime, setup)
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        async_std::task::block_on(f)
    }

    fn runtime() -> Arc<dyn sio::Runtime> {
        Arc::new(sio_async_std::AsyncStdRuntime)
    }
    fn io(url: &str, opts: sio::ClientOptions) -> Result<sio::ClientSocket, sio::ClientError> {
        sio_async_std::io_on(sio_async_std::AsyncStdRuntime, url, opts)
    }
}

/// The smol driver.
pub struct Smol;

impl Driver for Smol {
    const NAME: &'static str = "smol";

    fn start_on_port(
        config: ServerConfig,
        setup: impl FnOnce(&Server),
        port: u16,
    ) -> std::io::Result<TestServer> {
        start_async_io(sio_async_std::SmolRuntime, config, setup, port)
    }

    fn start_engine(setup: impl FnOnce(&sio::engine::EngineIo)) -> u16 {
        start_engine_async_io(sio_async_std::SmolRuntime, setup)
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        smol::block_on(f)
    }

    fn runtime() -> Arc<dyn sio::Runtime> {
        Arc::new(sio_async_std::SmolRuntime)
    }
    fn io(url: &str, opts: sio::ClientOptions) -> Result<sio::ClientSocket, sio::ClientError> {
        sio_async_std::io(url, opts)
    }
}

/// The `tests/js` folder.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Installs the npm packages of `tests/js` once per process (from the lock file), unless they
/// are there already.
pub fn ensure_node_modules() {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let dir = js_dir();
    let ready = [
        "socket.io-client",
        "socket.io",
        "@socket.io/redis-adapter",
        "@socket.io/redis-emitter",
        "redis",
        "socket.io-msgpack-parser",
        "socket.io-client-v2",
        "playwright-core",
    ]
    .iter()
    .all(|p| {
        dir.join("node_modules")
            .join(p)
            .join("package.json")
            .exists()
    });
    if !ready {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm must be installed to run the interop tests");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    *done = true;
}

/// Runs `node <script> <args..>` in `tests/js` with a time limit; returns its output, or the
/// output as the error when it failed.
pub fn run_node(script: &str, args: &[&str], limit: Duration) -> Result<String, String> {
    ensure_node_modules();
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(js_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("node did not finish: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Runs one client scenario of `tests/js/client_scenarios.js` against a fresh server of the
/// scenario application on driver `D`, in transport mode `mode`.
pub fn client_scenario<D: Driver>(mode: &str, scenario: &str) {
    let srv = D::start(app::config(), app::setup);
    let url = srv.url();
    match run_node(
        "client_scenarios.js",
        &[&url, mode, scenario],
        Duration::from_secs(30),
    ) {
        Ok(out) => assert!(out.trim_end().ends_with("PASS"), "{out}"),
        Err(out) => panic!("scenario {scenario} ({mode}, {}) failed:\n{out}", D::NAME),
    }
}

/// [`client_scenario`] with both ends on `socket.io-msgpack-parser`.
pub fn client_scenario_msgpack<D: Driver>(mode: &str, scenario: &str) {
    let srv = D::start(app::config().parser(sio::Parser::MsgPack), app::setup);
    let url = srv.url();
    match run_node(
        "client_scenarios.js",
        &[&url, mode, scenario, "msgpack"],
        Duration::from_secs(30),
    ) {
        Ok(out) => assert!(out.trim_end().ends_with("PASS"), "{out}"),
        Err(out) => panic!(
            "scenario {scenario} ({mode}, msgpack, {}) failed:\n{out}",
            D::NAME
        ),
    }
}

/// Instantiates the scenarios that hold with `socket.io-msgpack-parser` on both ends (all but
/// those that read the JSON text of packets), in every transport mode.
#[macro_export]
macro_rules! client_msgpack_suite {
    ($driver:ty) => {
        $crate::client_msgpack_suite!(@ $driver;
            msgpack_on_the_wire, connect, handshake_details, echo_ack, multiple_arguments, server_asks_client_for_ack, server_ack_callback, server_ack_timeout, binary_both_ways, events_in_order, message_event, rooms, broadcast_excludes_sender, namespaces_multiplexed, invalid_namespace, middleware_rejects_with_data, auth_function_is_called, dynamic_namespace, server_disconnect, server_disconnect_with_close, client_disconnect_reason_and_disconnecting_rooms, fetch_sockets_and_sockets_join, broadcast_with_ack, on_any_and_middleware, volatile_ticks_arrive, relay_binary_args, one_null_is_one_argument, extra_arguments_ignored, bad_arguments_reported, reconnect_after_transport_close,
        );
    };
    (@ $driver:ty; $($scenario:ident),* $(,)?) => {
        mod websocket {
            $( #[test] fn $scenario() { $crate::client_scenario_msgpack::<$driver>("websocket", stringify!($scenario)); } )*
        }
        mod polling {
            $( #[test] fn $scenario() { $crate::client_scenario_msgpack::<$driver>("polling", stringify!($scenario)); } )*
        }
        mod upgrade {
            $( #[test] fn $scenario() { $crate::client_scenario_msgpack::<$driver>("upgrade", stringify!($scenario)); } )*
        }
    };
}

/// Instantiates the client interop suite (every scenario of `tests/js/client_scenarios.js` in
/// every transport mode) for a driver.
#[macro_export]
macro_rules! client_interop_suite {
    ($driver:ty) => {
        $crate::client_interop_suite!(@ $driver;
            connect, handshake_details, echo_ack, multiple_arguments, server_asks_client_for_ack, server_ack_timeout, server_ack_callback, binary_both_ways, events_in_order, message_event, rooms, broadcast_excludes_sender, namespaces_multiplexed, invalid_namespace, middleware_rejects_with_data, auth_function_is_called, dynamic_namespace, server_disconnect, server_disconnect_with_close, client_disconnect_reason_and_disconnecting_rooms, fetch_sockets_and_sockets_join, broadcast_with_ack, on_any_and_middleware, volatile_ticks_arrive, reconnect_after_transport_close, relay_args, relay_binary_args, one_null_is_one_argument, extra_arguments_ignored, bad_arguments_reported,
        );
    };
    (@ $driver:ty; $($scenario:ident),* $(,)?) => {
        mod websocket {
            $( #[test] fn $scenario() { $crate::client_scenario::<$driver>("websocket", stringify!($scenario)); } )*
        }
        mod polling {
            $( #[test] fn $scenario() { $crate::client_scenario::<$driver>("polling", stringify!($scenario)); } )*
        }
        mod upgrade {
            $( #[test] fn $scenario() { $crate::client_scenario::<$driver>("upgrade", stringify!($scenario)); } )*
        }
    };
}
