//! The client's HTTP side against real peers: long-polling on kept-alive connections (counted
//! by a TCP relay in front of the server: two connections carry a whole polling session, and
//! none stays open once the session upgraded), a real HTTP proxy (Debian's `tinyproxy`:
//! polling forwarded in absolute form, websockets and `https` through `CONNECT` tunnels, Basic
//! credentials, `NO_PROXY`), the proxy taken from `HTTP_PROXY`/`HTTPS_PROXY` in a child process
//! with that environment, and the system's root certificates (`SSL_CERT_FILE` naming the test
//! CA) for `https` and `wss`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sio::client::{ClientSocket, Proxy, Transport};
use sio::{AckSender, ClientOptions, ServerConfig, Socket};
use sio_tests::node_server::NodeServer;
use sio_tests::tinyproxy::Tinyproxy;

const WAIT: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Our server with an `echo` event (acked with its argument) on a free port; its URL.
async fn echo_server() -> String {
    let io = sio_tokio::new_server(ServerConfig::default());
    io.on_connection(|s: Socket| async move {
        s.on("echo", |_: Socket, v: Value, ack: AckSender| async move {
            let _ = ack.send(&v);
        });
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(sio_tokio::serve(listener, io));
    url
}

fn options(transports: &[Transport]) -> ClientOptions {
    ClientOptions {
        transports: transports.to_vec(),
        force_new: true,
        reconnection: false,
        proxy: Proxy::None,
        ..ClientOptions::default()
    }
}

/// An acked `echo` of `v`, within [`WAIT`].
async fn echo(s: &ClientSocket, v: &Value) {
    let back = tokio::time::timeout(WAIT, s.emit_with_ack::<_, Value>("echo", v, None))
        .await
        .expect("the echo in time")
        .expect("the echo's ack");
    assert_eq!(&back, v);
}

/// Waits until `ready` holds, for at most `limit`.
async fn until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP relay to `target` that counts the connections it accepted and those still open.
struct Relay {
    url: String,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

async fn relay(target: &str) -> Relay {
    let target = target.trim_start_matches("http://").to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (accepted, open) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, o) = (accepted.clone(), open.clone());
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            o.fetch_add(1, Ordering::SeqCst);
            let (target, o) = (target.clone(), o.clone());
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
                o.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Relay {
        url,
        accepted,
        open,
    }
}

#[test]
fn long_polling_reuses_kept_alive_connections() {
    runtime().block_on(async {
        let server = echo_server().await;
        let relay = relay(&server).await;

        // A whole polling session (handshake, CONNECT, 40 acked round trips, each a POST and
        // a long-poll answered) on the two connections of the pool.
        let s = sio_tokio::io(&relay.url, options(&[Transport::Polling])).expect("io()");
        for i in 0..40 {
            echo(&s, &json!({ "n": i })).await;
        }
        let accepted = relay.accepted.load(Ordering::SeqCst);
        assert!(
            accepted <= 2,
            "{accepted} connections for one polling session (one per request before pooling)"
        );
        s.disconnect();
        s.manager().close();
        // Well within the server's own limit on idle connections (10 s), which would close
        // them anyway.
        let soon = Duration::from_secs(3);
        until(
            "the polling connections closed with the session",
            soon,
            || relay.open.load(Ordering::SeqCst) == 0,
        )
        .await;

        // Upgraded to websocket: the idle polling connections are closed, the websocket stays.
        let before = relay.accepted.load(Ordering::SeqCst);
        let s = sio_tokio::io(
            &relay.url,
            options(&[Transport::Polling, Transport::WebSocket]),
        )
        .expect("io()");
        echo(&s, &json!("before the upgrade")).await;
        until("the upgrade", WAIT, || {
            s.manager().transport() == Some("websocket")
        })
        .await;
        echo(&s, &json!("after the upgrade")).await;
        until("only the websocket left open", soon, || {
            relay.open.load(Ordering::SeqCst) == 1
        })
        .await;
        let used = relay.accepted.load(Ordering::SeqCst) - before;
        assert!(
            used <= 3,
            "{used} connections for polling, then a websocket"
        );
        s.manager().close();
    });
}

#[test]
fn through_a_real_http_proxy() {
    runtime().block_on(async {
        let server = echo_server().await;
        let authority = server.trim_start_matches("http://").to_owned();
        // A proxy of its own for each case: a session's last requests (its close) may reach
        // the proxy after the next case began.

        // Long-polling over plain http: absolute-form requests forwarded by the proxy.
        let proxy = Tinyproxy::start(None);
        let mut o = options(&[Transport::Polling]);
        o.proxy = Proxy::url(proxy.url());
        let s = sio_tokio::io(&server, o).expect("io()");
        echo(&s, &json!("polling through the proxy")).await;
        s.manager().close();
        let lines = proxy.requests();
        let prefix = format!("http://{authority}/socket.io/?EIO=4&transport=polling");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("GET {prefix}"))),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("POST {prefix}&sid="))),
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| !l.starts_with("CONNECT")), "{lines:?}");

        // A websocket: a CONNECT tunnel, nothing else.
        let proxy = Tinyproxy::start(None);
        let mut o = options(&[Transport::WebSocket]);
        o.proxy = Proxy::url(proxy.url());
        let s = sio_tokio::io(&server, o).expect("io()");
        echo(&s, &json!("websocket through the proxy")).await;
        s.manager().close();
        assert_eq!(proxy.requests(), [format!("CONNECT {authority} HTTP/1.1")]);

        // Polling, then the upgrade: both through the proxy.
        let proxy = Tinyproxy::start(None);
        let mut o = options(&[Transport::Polling, Transport::WebSocket]);
        o.proxy = Proxy::url(proxy.url());
        let s = sio_tokio::io(&server, o).expect("io()");
        echo(&s, &json!(1)).await;
        until("the upgrade", WAIT, || {
            s.manager().transport() == Some("websocket")
        })
        .await;
        echo(&s, &json!(2)).await;
        s.manager().close();
        let lines = proxy.requests();
        assert!(
            lines.iter().any(|l| l.starts_with("GET http://")),
            "{lines:?}"
        );
        assert!(
            lines.contains(&format!("CONNECT {authority} HTTP/1.1")),
            "{lines:?}"
        );

        // A host of `no_proxy` is reached directly.
        let proxy = Tinyproxy::start(None);
        let mut o = options(&[Transport::Polling, Transport::WebSocket]);
        o.proxy = Proxy::Url {
            url: proxy.url(),
            no_proxy: "localhost,127.0.0.1".into(),
        };
        let s = sio_tokio::io(&server, o).expect("io()");
        echo(&s, &json!("direct")).await;
        until("the upgrade", WAIT, || {
            s.manager().transport() == Some("websocket")
        })
        .await;
        s.manager().close();
        assert_eq!(proxy.requests(), Vec::<String>::new());
    });
}

#[test]
fn a_proxy_that_wants_credentials() {
    let proxy = Tinyproxy::start(Some(("sio", "s3cret")));
    runtime().block_on(async {
        let server = echo_server().await;
        let with_credentials = proxy.url().replace("http://", "http://sio:s3cret@");
        for transports in [[Transport::Polling], [Transport::WebSocket]] {
            let mut o = options(&transports);
            o.proxy = Proxy::url(&with_credentials);
            let s = sio_tokio::io(&server, o).expect("io()");
            echo(&s, &json!(format!("{transports:?} with credentials"))).await;
            s.manager().close();

            // Without them the proxy answers 407, and the error says so.
            let mut o = options(&transports);
            o.proxy = Proxy::url(proxy.url());
            o.auto_connect = false;
            let s = sio_tokio::io(&server, o).expect("io()");
            let (tx, rx) = tokio::sync::oneshot::channel();
            let tx = std::sync::Mutex::new(Some(tx));
            s.on_connect_error(move |_, message: String, _| {
                if let Some(tx) = tx.lock().expect("lock").take() {
                    let _ = tx.send(message);
                }
                async {}
            });
            s.connect();
            let message = tokio::time::timeout(WAIT, rx)
                .await
                .expect("a connect_error in time")
                .expect("the message");
            assert!(message.contains("407"), "{transports:?}: {message}");
            s.manager().close();
        }
    });
}

#[test]
fn https_and_wss_through_the_proxy_with_the_systems_roots() {
    // The system's roots are read from `SSL_CERT_FILE`, which only a new process sees: the
    // child test below runs with it naming the test CA, and a proxy from the environment.
    let node = NodeServer::start_tls();
    let proxy = Tinyproxy::start(None);
    let ca = sio_tests::js_dir().join("tls/ca.pem");
    let run = |extra: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
        cmd.args([
            "--exact",
            "child_with_environment",
            "--ignored",
            "--nocapture",
        ])
        .env("SSL_CERT_FILE", &ca)
        .env("SIO_CHILD_URL", node.url());
        for name in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            cmd.env_remove(name);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("the child test runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "the child failed:\n{text}");
        assert!(text.contains("child: connected over"), "{text}");
    };
    let authority = node.url().trim_start_matches("https://").to_owned();

    // `HTTPS_PROXY`: polling and websocket in CONNECT tunnels, TLS inside them (the child's
    // process has ended: every request it made is in the log).
    run(&[("HTTPS_PROXY", &proxy.url())]);
    let lines = proxy.requests();
    let tunnels = lines
        .iter()
        .filter(|l| **l == format!("CONNECT {authority} HTTP/1.1"))
        .count();
    assert!(tunnels >= 2, "{lines:?}");
    assert_eq!(tunnels, lines.len(), "{lines:?}");

    // `NO_PROXY` lists the host: no tunnel. `HTTP_PROXY` alone does not apply to https.
    run(&[("HTTPS_PROXY", &proxy.url()), ("NO_PROXY", "127.0.0.1")]);
    run(&[("HTTP_PROXY", &proxy.url())]);
    assert_eq!(
        proxy.requests().len(),
        lines.len(),
        "{:?}",
        proxy.requests()
    );
}

/// Run by the test above in a child process (with `SIO_CHILD_URL` set): connects to that
/// `https` server with the system's roots and the proxy of the environment, over polling and
/// over websocket.
#[test]
#[ignore = "run by https_and_wss_through_the_proxy_with_the_systems_roots"]
fn child_with_environment() {
    let Ok(url) = std::env::var("SIO_CHILD_URL") else {
        panic!("run by https_and_wss_through_the_proxy_with_the_systems_roots, not alone");
    };
    let tls = Arc::new(sio::client::tls_config_native_roots().expect("the system's roots"));
    runtime().block_on(async {
        for transports in [[Transport::Polling], [Transport::WebSocket]] {
            let mut o = options(&transports);
            o.proxy = Proxy::FromEnv;
            o.tls = Some(tls.clone());
            let s = sio_tokio::io(&url, o).expect("io()");
            echo(&s, &json!("over TLS")).await;
            println!(
                "child: connected over {:?}",
                s.manager().transport().expect("connected")
            );
            s.manager().close();
        }
    });
}
