//! The system events of a server socket's life, in order: middleware (which may refuse the
//! connection: the client gets `connect_error`), `connection`, `disconnecting` (the socket is
//! still in its rooms) and `disconnect` (with the reason, as Node names it).
//!
//! Run: `cargo run -p sio-tokio --example system_events`, then open <http://127.0.0.1:3003>
//! in two tabs (`PORT` changes the port). The page loads the official client bundle from this
//! server when `tests/js/node_modules/socket.io-client/dist` exists (`npm ci --prefix
//! tests/js`, or `SIO_CLIENT_DIST`), and a public CDN copy otherwise.
//!
//! What it shows:
//! - a middleware of the main namespace (`io.use_middleware`, Node's `io.use`) that checks
//!   `socket.handshake().auth` and refuses with a [`ConnectError`] carrying a message and data
//!   (the client's `err.message` and `err.data`);
//! - a middleware of another namespace (`io.of("/admin").use_middleware`, Node's
//!   `io.of("/admin").use`), run only for connections to that namespace;
//! - `connection`, `disconnecting` (rooms still visible: the socket tells each of its rooms it
//!   is leaving) and `disconnect` with its reason (`client namespace disconnect`,
//!   `server namespace disconnect`, `transport close`, `forced close`, `ping timeout`, ...);
//! - the server ending a socket two ways: `socket.disconnect(false)` (the client sees
//!   `io server disconnect` and stays disconnected) and `socket.close_connection()` (the client
//!   sees `transport close` and reconnects);
//! - `socket.on_error`: arguments that do not deserialise into the handler's type.

#[path = "shared/page.rs"]
mod page;

use serde::Serialize;
use serde_json::json;
use sio::{ConnectError, DisconnectReason, ServerConfig, Socket};

const DEFAULT_PORT: u16 = 3003;

/// Who the middleware let in, kept in the socket's data.
#[derive(Clone)]
struct User(String);

#[derive(Serialize)]
struct Leaving<'a> {
    name: &'a str,
    room: &'a str,
    reason: &'a str,
}

fn name_of(socket: &Socket) -> String {
    socket.data::<User>().map(|u| u.0).unwrap_or_default()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (config, script) = page::with_client_bundle(ServerConfig::default());
    let io = sio_tokio::new_server(config);

    // 1. Middleware of the main namespace: runs before `connection`, may refuse.
    io.use_middleware(|socket: Socket| async move {
        let auth = &socket.handshake().auth;
        println!("middleware {} auth = {auth}", socket.id());
        if auth["token"] != "secret" {
            return Err(ConnectError::new("not authorized")
                .with_data(json!({ "hint": "connect with auth: { token: \"secret\", name }" })));
        }
        let name = auth["name"].as_str().unwrap_or("anonymous").to_owned();
        socket.set_data(User(name));
        Ok(())
    });

    // 2. `connection`.
    io.on_connection(|socket: Socket| async move {
        let name = name_of(&socket);
        println!(
            "connection {} ({name}) over {}",
            socket.id(),
            socket.transport()
        );
        socket.join(["lobby"]);
        let _ = socket.to("lobby").emit("joined", &name);

        // 3. `disconnecting`: called synchronously, while the socket is still in its rooms.
        socket.on_disconnecting(|socket: &Socket, reason: DisconnectReason| {
            let rooms = socket.rooms();
            println!(
                "disconnecting {} reason={reason} rooms={rooms:?}",
                socket.id()
            );
            let name = name_of(socket);
            for room in rooms {
                if &*room == socket.id() {
                    continue; // every socket is in the room named after its id
                }
                let _ = socket.to(room.clone()).emit(
                    "leaving",
                    &Leaving {
                        name: &name,
                        room: room.as_ref(),
                        reason: reason.as_str(),
                    },
                );
            }
        });

        // 4. `disconnect`: the socket has left its rooms by now.
        socket.on_disconnect(|socket: Socket, reason: DisconnectReason| async move {
            println!(
                "disconnect {} reason={reason} rooms={:?}",
                socket.id(),
                socket.rooms()
            );
        });

        socket.on_error(|socket: &Socket, err: &str| {
            println!("error      {}: {err}", socket.id());
        });

        // The server ends this socket only: the client sees `io server disconnect` and does
        // not reconnect by itself.
        socket.on("kick-me", |socket: Socket| async move {
            socket.disconnect(false);
        });
        // The server drops the whole connection: the client sees `transport close` and
        // reconnects (through the middleware again).
        socket.on("close-me", |socket: Socket| async move {
            socket.close_connection();
        });
        // Emit a number to see `on_error`.
        socket.on("shout", |socket: Socket, text: String| async move {
            let _ = socket.ns().emit("shout", &text.to_uppercase());
        });
    });

    // A namespace with its own middleware, run for `/admin` connections only (after the
    // Engine.IO handshake, independently of the main namespace's middleware).
    let admin = io.of("/admin");
    admin.use_middleware(|socket: Socket| async move {
        if socket.handshake().auth["role"] == "admin" {
            Ok(())
        } else {
            Err(ConnectError::new("admins only").with_data(json!({ "need": "role: admin" })))
        }
    });
    admin.on_connection(|socket: Socket| async move {
        println!("connection {} on /admin", socket.id());
        let _ = socket.emit("admin", &"welcome to /admin");
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", page::port(DEFAULT_PORT))).await?;
    println!("system events example on http://{}", listener.local_addr()?);
    sio_tokio::serve_with(listener, io, Some(page::page(PAGE, &script))).await
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sio: system events</title>
<style>body { font: 15px system-ui, sans-serif; margin: 2em; } #log { background: #f4f4f4; padding: 1em; } button { margin: 2px; }</style>
<h1>system events</h1>
<p>
  name <input id="name" value="alice" size="8"> token <input id="token" value="secret" size="8">
  <button id="connect">connect /</button>
  role <input id="role" value="admin" size="6"> <button id="admin">connect /admin</button>
</p>
<p>
  <button id="kick">kick-me (server disconnect)</button>
  <button id="close">close-me (server closes the connection)</button>
  <button id="shout">shout 42 (bad arguments)</button>
  <button id="bye">disconnect (client)</button>
</p>
<p>Open a second tab to see <code>joined</code> and <code>leaving</code> from the other one.</p>
<pre id="log"></pre>
<script src="{{CLIENT_SCRIPT}}"></script>
<script>
  const log = (...a) => { document.getElementById("log").textContent += a.map((x) => typeof x === "string" ? x : JSON.stringify(x)).join(" ") + "\n"; };
  const $ = (id) => document.getElementById(id);
  let socket = null;
  const watch = (s, label) => {
    s.on("connect", () => log(label, "connect", s.id));
    s.on("connect_error", (err) => log(label, "connect_error:", err.message, err.data || ""));
    s.on("disconnect", (reason) => log(label, "disconnect:", reason, s.active ? "(will reconnect)" : "(stays disconnected)"));
    s.onAny((ev, ...args) => log(label, ev + ":", ...args));
  };
  $("connect").onclick = () => {
    if (socket) socket.disconnect();
    socket = io({ forceNew: true, auth: { token: $("token").value, name: $("name").value } });
    watch(socket, "/");
  };
  $("admin").onclick = () => watch(io("/admin", { forceNew: true, auth: { role: $("role").value } }), "/admin");
  $("kick").onclick = () => socket && socket.emit("kick-me");
  $("close").onclick = () => socket && socket.emit("close-me");
  $("shout").onclick = () => socket && socket.emit("shout", 42);
  $("bye").onclick = () => socket && socket.disconnect();
</script>
"#;
