//! The demo pages in a real browser: Debian's Chromium (`/usr/bin/chromium`, or `CHROMIUM`)
//! driven by playwright-core (`tests/js/browser.js`). The servers are the examples' own code,
//! included as modules: two chat pages exchange messages and switch rooms, the emit cheat sheet
//! runs room, ack, binary and namespace emits between two pages, the axum example echoes and
//! reports its socket on its own route, and a page of another origin connects over long-polling
//! with an `authorization` header (a real CORS preflight) while a server that does not allow
//! that origin is refused. On a failure each open page is screenshotted into
//! `target/browser-artifacts` (or `SIO_ARTIFACTS`).

// Both examples include `shared/page.rs` as their own module.
#![allow(clippy::duplicate_mod)]

#[path = "../../sio-tokio/examples/shared/chat_app.rs"]
#[allow(dead_code)]
mod chat_app;

#[path = "../../sio-tokio/examples/emit_cheatsheet.rs"]
#[allow(dead_code)]
mod emit_cheatsheet;

#[path = "../../sio-tokio/examples/axum_attach.rs"]
#[allow(dead_code)]
mod axum_attach;

use std::path::PathBuf;
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use serde_json::json;
use sio::server::Cors;
use sio::{AckSender, ServerConfig, Socket};
use tokio::net::TcpListener;

/// The Chromium to drive: `CHROMIUM`, or Debian's.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "the browser tests need Chromium at {} (`apt-get install chromium`, or set CHROMIUM)",
        path.display()
    );
    path
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    (listener, url)
}

/// The cross-origin page, served from its own origin; it loads the client bundle from
/// `server` and connects there, and to `refusing` (which does not allow this origin).
fn cors_page(server: &str, refusing: &str) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>cross-origin</title>
<pre id="welcome"></pre><pre id="echo"></pre><pre id="refused"></pre>
<script src="{server}/socket.io/socket.io.min.js"></script>
<script>
  const opts = {{ transports: ["polling"], reconnection: false, extraHeaders: {{ authorization: "Bearer browser-token" }} }};
  const socket = io("{server}", opts);
  socket.on("welcome", (w) => {{
    document.getElementById("welcome").textContent = JSON.stringify(w);
    socket.emit("echo", "cross-origin", (back) => {{ document.getElementById("echo").textContent = "echo: " + back; }});
  }});
  const refused = io("{refusing}", opts);
  refused.on("connect", () => {{ document.getElementById("refused").textContent = "connected"; }});
  refused.on("connect_error", (e) => {{ document.getElementById("refused").textContent = "refused: " + e.message; }});
</script>"#
    )
}

#[test]
fn demo_pages_in_chromium() {
    let chromium = chromium();
    sio_tests::ensure_node_modules();
    let dist = sio_tests::js_dir().join("node_modules/socket.io-client/dist");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let urls = rt.block_on(async {
        // The chat demo.
        let (config, script) = chat_app::with_bundle(&dist);
        let io = sio_tokio::new_server(config);
        chat_app::install(&io);
        let (listener, chat) = bind().await;
        tokio::spawn(sio_tokio::serve_with(
            listener,
            io,
            Some(chat_app::page(&script)),
        ));
        // The emit cheat sheet and the axum example, as they run.
        let (listener, cheatsheet) = bind().await;
        tokio::spawn(emit_cheatsheet::serve(listener));
        let (listener, axum_url) = bind().await;
        tokio::spawn(axum_attach::serve(listener));

        // Cross-origin: the page's origin, a server that allows it, one that does not.
        let (page_listener, page_url) = bind().await;
        let (allowing, allowing_url) = bind().await;
        let (refusing, refusing_url) = bind().await;
        let io = sio_tokio::new_server(
            ServerConfig::default()
                .serve_client(&dist)
                .cors(Cors::origins([page_url.as_str()])),
        );
        io.on_connection(|socket: Socket| async move {
            let header = |name: &str| {
                socket
                    .handshake()
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let _ = socket.emit(
                "welcome",
                &json!({
                    "authorization": header("authorization"),
                    "origin": header("origin"),
                    "transport": socket.transport(),
                }),
            );
            socket.on(
                "echo",
                |_: Socket, text: String, ack: AckSender| async move {
                    let _ = ack.send(&text);
                },
            );
        });
        tokio::spawn(sio_tokio::serve(allowing, io));
        let io = sio_tokio::new_server(
            ServerConfig::default().cors(Cors::origins(["http://elsewhere.invalid"])),
        );
        tokio::spawn(sio_tokio::serve(refusing, io));
        let page = Html(cors_page(&allowing_url, &refusing_url));
        let app = axum::Router::new().route("/", get(move || async move { page }));
        tokio::spawn(async move { axum::serve(page_listener, app).await });

        [chat, cheatsheet, axum_url, page_url]
    });

    let artifacts = std::env::var_os("SIO_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-artifacts")
        });
    let [chat, cheatsheet, axum_url, cors] = urls;
    let args = [
        "--chromium",
        chromium.to_str().expect("utf-8 path"),
        "--artifacts",
        artifacts.to_str().expect("utf-8 path"),
        "--chat",
        &chat,
        "--cheatsheet",
        &cheatsheet,
        "--axum",
        &axum_url,
        "--cors",
        &cors,
    ];
    let out = sio_tests::run_node("browser.js", &args, Duration::from_secs(150))
        .unwrap_or_else(|out| panic!("the browser scenarios failed:\n{out}"));
    for scenario in ["chat", "cheatsheet", "axum", "cors"] {
        assert!(
            out.lines().any(|l| l == format!("ok {scenario}")),
            "scenario {scenario} did not pass:\n{out}"
        );
    }
    drop(rt);
}
