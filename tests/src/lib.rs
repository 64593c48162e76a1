//! End-to-end test harness: start one of our servers on a free loopback port with a given
//! runtime driver, run the real npm peers (installed from `tests/js/package-lock.json` on first
//! use), and the application every scenario talks to.
//!
//! The suites are written against [`Driver`], so that one suite runs on every runtime.

pub mod app;
pub mod node_server;
pub mod raw;
pub mod raw_suite;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sio::{Server, ServerConfig};

/// A server under test.
pub struct TestServer {
    /// The server handle.
    pub server: Server,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl TestServer {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A runtime driver the suites run on.
pub trait Driver {
    /// The runtime's name.
    const NAME: &'static str;
    /// Starts a server with `config` on a free port, after `setup` installed its handlers.
    fn start(config: ServerConfig, setup: impl FnOnce(&Server)) -> TestServer;
    /// Starts a plain Engine.IO server on a free port; returns the port.
    fn start_engine(setup: impl FnOnce(&sio::engine::EngineIo)) -> u16;
    /// Runs a future on the driver's runtime to completion (for Rust-side clients and checks).
    fn block_on<F: std::future::Future>(f: F) -> F::Output;
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

impl Driver for Tokio {
    const NAME: &'static str = "tokio";

    fn start(config: ServerConfig, setup: impl FnOnce(&Server)) -> TestServer {
        let rt = tokio_rt();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let server = {
            let _guard = rt.enter();
            sio_tokio::new_server(config)
        };
        setup(&server);
        rt.spawn(sio_tokio::serve(listener, server.clone()));
        TestServer { server, port }
    }

    fn start_engine(setup: impl FnOnce(&sio::engine::EngineIo)) -> u16 {
        let rt = tokio_rt();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let eio = sio::engine::EngineIo::new(
            std::sync::Arc::new(sio_tokio::TokioRuntime),
            ServerConfig::default(),
        );
        setup(&eio);
        rt.spawn(sio_tokio::serve(listener, eio.server().clone()));
        port
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio_rt().block_on(f)
    }
}

/// Starts a server on an `async-io` runtime (async-std or smol): bind, then serve on the
/// server's own runtime.
fn start_async_io(
    rt: impl sio::Runtime,
    config: ServerConfig,
    setup: impl FnOnce(&Server),
) -> TestServer {
    let listener =
        smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    let server = sio_async_std::new_server(rt, config);
    setup(&server);
    let s2 = server.clone();
    server.runtime().spawn(Box::pin(async move {
        let _ = sio_async_std::serve(listener, s2).await;
    }));
    TestServer { server, port }
}

fn start_engine_async_io(rt: impl sio::Runtime, setup: impl FnOnce(&sio::engine::EngineIo)) -> u16 {
    let listener =
        smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    let eio = sio::engine::EngineIo::new(std::sync::Arc::new(rt), ServerConfig::default());
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

    fn start(config: ServerConfig, setup: impl FnOnce(&Server)) -> TestServer {
        start_async_io(sio_async_std::AsyncStdRuntime, config, setup)
    }

    fn start_engine(setup: impl FnOnce(&sio::engine::EngineIo)) -> u16 {
        start_engine_async_io(sio_async_std::AsyncStdRuntime, setup)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        async_std::task::block_on(f)
    }
}

/// The smol driver.
pub struct Smol;

impl Driver for Smol {
    const NAME: &'static str = "smol";

    fn start(config: ServerConfig, setup: impl FnOnce(&Server)) -> TestServer {
        start_async_io(sio_async_std::SmolRuntime, config, setup)
    }

    fn start_engine(setup: impl FnOnce(&sio::engine::EngineIo)) -> u16 {
        start_engine_async_io(sio_async_std::SmolRuntime, setup)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        smol::block_on(f)
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
    let ready = ["socket.io-client", "socket.io"].iter().all(|p| {
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

/// Instantiates the client interop suite (every scenario in every transport mode) for a driver.
#[macro_export]
macro_rules! client_interop_suite {
    ($driver:ty; $($scenario:ident),* $(,)?) => {
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
