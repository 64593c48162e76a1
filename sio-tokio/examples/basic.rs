//! The smallest useful server: a client connects, the server greets it, the client emits an
//! event and the server answers with another one.
//!
//! Run: `cargo run -p sio-tokio --example basic`, then open <http://127.0.0.1:3001> (`PORT`
//! changes the port). The page loads the official client bundle from this server when
//! `tests/js/node_modules/socket.io-client/dist` exists (`npm ci --prefix tests/js`, or
//! `SIO_CLIENT_DIST`), and a public CDN copy otherwise.
//!
//! What it shows:
//! - `io.on_connection`: one call per connected client, with its [`Socket`];
//! - `socket.emit(event, &data)`: a struct travels as one JSON argument;
//! - `socket.on(event, |socket, data: T| ...)`: `T` is deserialised from the argument;
//! - `socket.on_disconnect`: the reason, as Node names it.

#[path = "shared/page.rs"]
mod page;

use serde::Serialize;
use sio::{ServerConfig, Socket};

const DEFAULT_PORT: u16 = 3001;

#[derive(Serialize)]
struct Hello {
    id: String,
    transport: &'static str,
    text: &'static str,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (config, script) = page::with_client_bundle(ServerConfig::default());
    let io = sio_tokio::new_server(config);

    io.on_connection(|socket: Socket| async move {
        println!("connect    {} over {}", socket.id(), socket.transport());

        // Server -> client, as soon as the client is connected.
        let _ = socket.emit(
            "hello",
            &Hello {
                id: socket.id().to_owned(),
                transport: socket.transport(),
                text: "welcome!",
            },
        );

        // Client -> server, answered with another event.
        socket.on("greet", |socket: Socket, name: String| async move {
            println!("greet      {} says their name is {name:?}", socket.id());
            let _ = socket.emit("greeting", &format!("Hello, {name}!"));
        });

        socket.on_disconnect(|socket: Socket, reason| async move {
            println!("disconnect {} ({reason})", socket.id());
        });
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", page::port(DEFAULT_PORT))).await?;
    println!("basic example on http://{}", listener.local_addr()?);
    sio_tokio::serve_with(listener, io, Some(page::page(PAGE, &script))).await
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sio: basic</title>
<style>body { font: 15px system-ui, sans-serif; margin: 2em; } #log { background: #f4f4f4; padding: 1em; }</style>
<h1>basic</h1>
<form id="f"><input id="name" value="Ada" autocomplete="off"> <button>greet</button></form>
<pre id="log"></pre>
<script src="{{CLIENT_SCRIPT}}"></script>
<script>
  const log = (...a) => { document.getElementById("log").textContent += a.map((x) => typeof x === "string" ? x : JSON.stringify(x)).join(" ") + "\n"; };
  const socket = io();
  socket.on("connect", () => log("connected as", socket.id));
  socket.on("hello", (msg) => log("hello:", msg));
  socket.on("greeting", (text) => log("greeting:", text));
  socket.on("disconnect", (reason) => log("disconnected:", reason));
  document.getElementById("f").addEventListener("submit", (e) => {
    e.preventDefault();
    socket.emit("greet", document.getElementById("name").value);
  });
</script>
"#;
