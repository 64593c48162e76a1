//! Attaching Socket.IO to an existing axum 0.8 application: axum keeps its own routes (`/`, a
//! page, and `/health`), and [`sio_tokio::SioService`] is mounted under `/socket.io/` with
//! `Router::route_service`. Long-polling and the websocket upgrade both go through axum.
//!
//! Run: `cargo run -p sio-tokio --example axum_attach`, then open <http://127.0.0.1:3002>
//! (`PORT` changes the port) and <http://127.0.0.1:3002/health>. The page loads the official
//! client bundle from this server when `tests/js/node_modules/socket.io-client/dist` exists
//! (`npm ci --prefix tests/js`, or `SIO_CLIENT_DIST`), and a public CDN copy otherwise.
//!
//! Notes:
//! - `route_service("/socket.io/", ..)` matches that path exactly, which is all the protocol
//!   needs; the second route, `/socket.io/{*file}`, is only for the client bundle.
//! - Do not use `nest_service("/socket.io", ..)`: it strips the prefix from the URI, and the
//!   Socket.IO server would no longer recognise its path.
//! - `SioService` reads the client's address from a `SocketAddr` request extension; axum puts
//!   it in `ConnectInfo<SocketAddr>` instead, so a small middleware copies it over, and the
//!   server is started with `into_make_service_with_connect_info`.

#[path = "shared/page.rs"]
mod page;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use sio::{AckSender, Server, ServerConfig, Socket};
use sio_tokio::SioService;

const DEFAULT_PORT: u16 = 3002;

#[derive(Clone)]
struct App {
    io: Server,
    page: Html<String>,
}

#[derive(Serialize)]
struct Welcome<'a> {
    id: &'a str,
    transport: &'a str,
    address: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", page::port(DEFAULT_PORT))).await?;
    println!("axum + Socket.IO on http://{}", listener.local_addr()?);
    serve(listener).await
}

/// The axum application with Socket.IO on `listener` (the browser tests run it as it is).
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let (config, script) = page::with_client_bundle(ServerConfig::default());
    let io = sio_tokio::new_server(config);

    io.on_connection(|socket: Socket| async move {
        let address = socket.handshake().address.map(|a| a.to_string());
        println!(
            "connect    {} over {} from {}",
            socket.id(),
            socket.transport(),
            address.as_deref().unwrap_or("?")
        );
        let _ = socket.emit(
            "welcome",
            &Welcome {
                id: socket.id(),
                transport: socket.transport(),
                address,
            },
        );
        // `transport` reports what the socket uses now: `polling` right after the
        // handshake, `websocket` once the client has upgraded.
        socket.on(
            "echo",
            |socket: Socket, text: String, ack: AckSender| async move {
                let _ = ack.send(&(text, socket.transport()));
            },
        );
        socket.on_disconnect(|socket: Socket, reason| async move {
            println!("disconnect {} ({reason})", socket.id());
        });
    });

    let app = App {
        io: io.clone(),
        page: Html(PAGE.replace("{{CLIENT_SCRIPT}}", &script)),
    };
    let router = Router::new()
        .route("/", get(|State(app): State<App>| async move { app.page }))
        .route("/health", get(health))
        .route_service("/socket.io/", SioService::new(io.clone()))
        .route_service("/socket.io/{*file}", SioService::new(io))
        .layer(axum::middleware::from_fn(peer_address))
        .with_state(app);

    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// An ordinary axum handler that can look at the Socket.IO server.
async fn health(State(app): State<App>) -> String {
    format!(
        "ok: {} Engine.IO sessions, {} sockets on /\n",
        app.io.session_count(),
        app.io.of("/").len()
    )
}

/// Copies axum's `ConnectInfo<SocketAddr>` into the plain `SocketAddr` extension that
/// `SioService` reads (`socket.handshake().address`).
async fn peer_address(mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        req.extensions_mut().insert(addr);
    }
    next.run(req).await
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sio: axum</title>
<style>body { font: 15px system-ui, sans-serif; margin: 2em; } #log { background: #f4f4f4; padding: 1em; }</style>
<h1>Socket.IO under axum</h1>
<p>This page and <a href="/health">/health</a> are axum routes; <code>/socket.io/</code> is the Socket.IO service.</p>
<form id="f"><input id="text" value="hello axum" autocomplete="off"> <button>echo</button></form>
<pre id="log"></pre>
<script src="{{CLIENT_SCRIPT}}"></script>
<script>
  const log = (...a) => { document.getElementById("log").textContent += a.map((x) => typeof x === "string" ? x : JSON.stringify(x)).join(" ") + "\n"; };
  const socket = io();
  socket.on("connect", () => {
    log("connected over", socket.io.engine.transport.name);
    socket.io.engine.once("upgrade", (t) => log("upgraded to", t.name));
  });
  socket.on("welcome", (msg) => log("welcome:", msg));
  socket.on("disconnect", (reason) => log("disconnected:", reason));
  document.getElementById("f").addEventListener("submit", (e) => {
    e.preventDefault();
    socket.emit("echo", document.getElementById("text").value, (text, transport) => log("echo:", text, "(server sees " + transport + ")"));
  });
</script>
"#;
