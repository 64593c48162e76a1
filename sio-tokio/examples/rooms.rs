//! Rooms: `join` / `leave`, broadcasting to a room, and the server-side operations on the
//! sockets of a room — `sockets`, `sockets_join`, `sockets_leave`,
//! `disconnect_sockets` (Node's `io.in(room).fetchSockets()`, `.socketsJoin()`,
//! `.socketsLeave()`, `.disconnectSockets()`).
//!
//! Run: `cargo run -p sio-tokio --example rooms`, then open <http://127.0.0.1:3008> in two or
//! three tabs with different names (`PORT` changes the port). The page loads the official
//! client bundle from this server when `tests/js/node_modules/socket.io-client/dist` exists
//! (`npm ci --prefix tests/js`, or `SIO_CLIENT_DIST`), and a public CDN copy otherwise.
//!
//! Every socket is also in the room named after its id (that is how `io.to(socket_id)`
//! reaches it); the lists below leave those rooms out. Rooms exist while they have members.

#[path = "shared/page.rs"]
mod page;

use serde::Serialize;
use sio::{AckSender, Namespace, ServerConfig, Socket};

const DEFAULT_PORT: u16 = 3008;

#[derive(Clone)]
struct Name(String);

fn name_of(socket: &Socket) -> String {
    socket
        .data::<Name>()
        .map(|n| n.0)
        .unwrap_or_else(|| socket.id().to_owned())
}

/// The rooms `socket` joined (without the room of its own id).
fn rooms_of(socket: &Socket) -> Vec<String> {
    let mut rooms: Vec<String> = socket
        .rooms()
        .iter()
        .filter(|r| r.as_ref() != socket.id())
        .map(|r| r.to_string())
        .collect();
    rooms.sort();
    rooms
}

/// Every room of the namespace that has members (without the rooms of socket ids).
fn all_rooms(ns: &Namespace) -> Vec<String> {
    let mut rooms: Vec<String> = ns
        .rooms()
        .iter()
        .filter(|r| ns.get_socket(r).is_none())
        .map(|r| r.to_string())
        .collect();
    rooms.sort();
    rooms
}

/// Tells everyone which rooms exist now.
fn announce_rooms(ns: &Namespace) {
    let _ = ns.emit("rooms", &all_rooms(ns));
}

#[derive(Serialize)]
struct Member {
    id: String,
    name: String,
    rooms: Vec<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (config, script) = page::with_client_bundle(ServerConfig::default());
    let io = sio_tokio::new_server(config);

    io.on_connection(|socket: Socket| async move {
        let name = socket.handshake().auth["name"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| socket.id()[..6].to_owned());
        println!("connect    {} as {name}", socket.id());
        socket.set_data(Name(name));
        let _ = socket.emit("rooms", &all_rooms(socket.ns()));

        socket.on(
            "join",
            |socket: Socket, room: String, ack: AckSender| async move {
                socket.join([room.as_str()]);
                let _ = ack.send(&rooms_of(&socket));
                // To the room, the sender excluded (`socket.to`): the others learn who came.
                let _ = socket.to(room.as_str()).emit(
                    "said",
                    &(&room, "server", format!("{} joined", name_of(&socket))),
                );
                announce_rooms(socket.ns());
            },
        );

        socket.on(
            "leave",
            |socket: Socket, room: String, ack: AckSender| async move {
                socket.leave(&room);
                let _ = ack.send(&rooms_of(&socket));
                announce_rooms(socket.ns());
            },
        );

        // To the room, the sender included (`socket.ns().to`), whether or not the sender is a
        // member: rooms are a server-side notion, anyone may address one.
        socket.on(
            "say",
            |socket: Socket, (room, text): (String, String)| async move {
                let _ = socket
                    .ns()
                    .to(room.as_str())
                    .emit("said", &(&room, name_of(&socket), text));
            },
        );

        // `sockets`: this server's sockets of a room, with their data and rooms
        // (`fetch_sockets().await` asks every server of a cluster).
        socket.on(
            "who",
            |socket: Socket, room: String, ack: AckSender| async move {
                let members: Vec<Member> = socket
                    .ns()
                    .to(room.as_str())
                    .sockets()
                    .iter()
                    .map(|s| Member {
                        id: s.id().to_owned(),
                        name: name_of(s),
                        rooms: rooms_of(s),
                    })
                    .collect();
                let _ = ack.send(&members);
            },
        );

        // `sockets_join`: everyone in `from` also joins `to`.
        socket.on(
            "gather",
            |socket: Socket, (from, to): (String, String)| async move {
                let ns = socket.ns();
                ns.to(from.as_str()).sockets_join([to.as_str()]);
                let _ = ns.to(to.as_str()).emit(
                    "said",
                    &(&to, "server", format!("everyone in {from} is here too")),
                );
                announce_rooms(ns);
            },
        );

        // `sockets_leave`: everyone leaves `room` (the room disappears).
        socket.on("scatter", |socket: Socket, room: String| async move {
            let ns = socket.ns();
            let _ = ns
                .to(room.as_str())
                .emit("said", &(&room, "server", "this room is closing"));
            ns.to(room.as_str()).sockets_leave(&room);
            announce_rooms(ns);
        });

        // `disconnect_sockets`: every member of `room` is disconnected (the client sees
        // `io server disconnect`); with `true`, their whole connections would be closed.
        socket.on("kick-room", |socket: Socket, room: String| async move {
            socket.ns().to(room.as_str()).disconnect_sockets(false);
        });

        socket.on_disconnect(|socket: Socket, reason| async move {
            println!("disconnect {} ({reason})", name_of(&socket));
            announce_rooms(socket.ns());
        });
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", page::port(DEFAULT_PORT))).await?;
    println!("rooms example on http://{}", listener.local_addr()?);
    sio_tokio::serve_with(listener, io, Some(page::page(PAGE, &script))).await
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sio: rooms</title>
<style>body { font: 15px system-ui, sans-serif; margin: 2em; } #log { background: #f4f4f4; padding: 1em; white-space: pre-wrap; } p { margin: .4em 0; }</style>
<h1>rooms</h1>
<p>name <input id="name" size="8"> <button id="connect">connect</button> <span id="status">not connected</span></p>
<p>room <input id="room" value="red" size="8">
  <button id="join">join</button> <button id="leave">leave</button> <button id="who">who is there (fetch_sockets)</button>
  <button id="scatter">everyone leaves (sockets_leave)</button> <button id="kick">disconnect them all (disconnect_sockets)</button></p>
<p>say <input id="text" autocomplete="off"> <button id="say">to the room</button></p>
<p>members of <input id="from" value="red" size="8"> also join <input id="to" value="party" size="8"> <button id="gather">sockets_join</button></p>
<p>my rooms: <b id="mine">–</b>; rooms with members: <b id="all">–</b></p>
<pre id="log"></pre>
<script src="{{CLIENT_SCRIPT}}"></script>
<script>
  const $ = (id) => document.getElementById(id);
  const log = (...a) => { $("log").textContent += a.map((x) => typeof x === "string" ? x : JSON.stringify(x)).join(" ") + "\n"; };
  $("name").value = ["ada", "bob", "cy", "dee"][Math.floor(Math.random() * 4)];
  let socket = null;
  const mine = (rooms) => { $("mine").textContent = rooms.join(", ") || "–"; };
  $("connect").onclick = () => {
    if (socket) socket.disconnect();
    socket = io({ forceNew: true, auth: { name: $("name").value } });
    socket.on("connect", () => { $("status").textContent = "connected as " + socket.id; mine([]); });
    socket.on("disconnect", (reason) => { $("status").textContent = "disconnected: " + reason; });
    socket.on("rooms", (all) => { $("all").textContent = all.join(", ") || "–"; });
    socket.on("said", (room, from, text) => log("[" + room + "] " + from + ": " + text));
  };
  const room = () => $("room").value;
  $("join").onclick = () => socket.emit("join", room(), mine);
  $("leave").onclick = () => socket.emit("leave", room(), mine);
  $("who").onclick = () => socket.emit("who", room(), (members) => log("in " + room() + ":", members.map((m) => m.name + " " + JSON.stringify(m.rooms)).join("; ") || "nobody"));
  $("say").onclick = () => socket.emit("say", room(), $("text").value);
  $("gather").onclick = () => socket.emit("gather", $("from").value, $("to").value);
  $("scatter").onclick = () => socket.emit("scatter", room());
  $("kick").onclick = () => socket.emit("kick-room", room());
  $("connect").click();
</script>
"#;
