//! Every line of the Socket.IO "emit cheat sheet", in Rust. Each variant is triggered by a client
//! event of the same name (`socket.emit("to-room", ack)`); the server runs it, prints the Rust
//! call, and answers the trigger's ack with that call (and its outcome, for the variants that
//! wait for acks). Clients log every `hello` they receive, so you can see who got what.
//!
//! Run: `cargo run -p sio-tokio --example emit_cheatsheet`, then open
//! <http://127.0.0.1:3004> in a few tabs, put them in different rooms and press the buttons
//! (`PORT` changes the port). The page loads the official client bundle from this server when
//! `tests/js/node_modules/socket.io-client/dist` exists (`npm ci --prefix tests/js`, or
//! `SIO_CLIENT_DIST`), and a public CDN copy otherwise.
//!
//! Payloads: `emit(event, &data)` sends `data` as one argument, except that a tuple spreads into
//! several arguments and `()` sends none; a `bytes::Bytes` anywhere in `data` travels as a binary
//! attachment (an `ArrayBuffer`/`Buffer` on the client).
//!
//! Node's `socket.to(socket.id)` pitfall holds here too: it reaches the room named after the
//! socket minus the socket itself, that is nobody; use `socket.emit`.

#[path = "shared/page.rs"]
mod page;

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use sio::{AckError, AckSender, Server, ServerConfig, Socket};

const DEFAULT_PORT: u16 = 3004;

/// The client events that trigger a variant (each may carry one string argument).
const VARIANTS: &[&str] = &[
    "to-sender",
    "broadcast",
    "to-room",
    "to-rooms",
    "in-room",
    "except",
    "to-socket",
    "in-namespace",
    "in-namespace-room",
    "local",
    "all",
    "volatile",
    "broadcast-volatile",
    "with-ack",
    "with-ack-callback",
    "with-timeout",
    "all-with-ack",
    "send",
    "several-args",
    "no-args",
    "binary",
    "compress",
    "reserved",
];

/// Runs one variant of the cheat sheet for `socket`; returns what it did.
async fn run(io: &Server, socket: &Socket, variant: &str, arg: Option<String>) -> String {
    let me = socket.id();
    match variant {
        // basic emit back to the sender
        "to-sender" => {
            let _ = socket.emit("hello", &format!("to the sender only ({me})"));
            r#"socket.emit("hello", ..)"#.into()
        }
        // to all clients in the current namespace except the sender
        "broadcast" => {
            let _ = socket
                .broadcast()
                .emit("hello", &format!("broadcast from {me}"));
            r#"socket.broadcast().emit("hello", ..)"#.into()
        }
        // to all clients in room1 except the sender
        "to-room" => {
            let _ = socket.to("room1").emit("hello", &format!("room1 but {me}"));
            r#"socket.to("room1").emit("hello", ..)"#.into()
        }
        // to all clients in room1 and/or room2 except the sender (each socket once)
        "to-rooms" => {
            let _ = socket
                .to("room1")
                .to("room2")
                .emit("hello", &format!("room1 or room2 but {me}"));
            r#"socket.to("room1").to("room2").emit("hello", ..)"#.into()
        }
        // to all clients in room1, the sender included (Node's `io.in("room1")`)
        "in-room" => {
            let _ = io.within("room1").emit("hello", &"room1, sender included");
            r#"io.within("room1").emit("hello", ..)"#.into()
        }
        // to all clients in room1 and/or room2 except those in room3
        "except" => {
            let _ = io
                .to("room1")
                .to("room2")
                .except("room3")
                .emit("hello", &"room1 or room2, not room3");
            r#"io.to("room1").to("room2").except("room3").emit("hello", ..)"#.into()
        }
        // to one socket by id (a private message): every socket is in the room of its id
        "to-socket" => {
            let target = arg.unwrap_or_default();
            let _ = io
                .to(target.as_str())
                .emit("hello", &format!("private message from {me}"));
            format!(r#"io.to({target:?}).emit("hello", ..)"#)
        }
        // to all clients in the namespace "/myNamespace"
        "in-namespace" => {
            let _ = io
                .of("/myNamespace")
                .emit("hello", &"everyone in /myNamespace");
            r#"io.of("/myNamespace").emit("hello", ..)"#.into()
        }
        // to all clients in room1 of the namespace "/myNamespace"
        "in-namespace-room" => {
            let _ = io
                .of("/myNamespace")
                .to("room1")
                .emit("hello", &"room1 of /myNamespace");
            r#"io.of("/myNamespace").to("room1").emit("hello", ..)"#.into()
        }
        // to all clients on this node (the same as all, with the in-memory adapter)
        "local" => {
            let _ = io
                .of("/")
                .broadcast()
                .local()
                .emit("hello", &"every client of this server");
            r#"io.of("/").broadcast().local().emit("hello", ..)"#.into()
        }
        // to all connected clients (of the main namespace)
        "all" => {
            let _ = io.emit("hello", &"everyone on /");
            r#"io.emit("hello", ..)"#.into()
        }
        // a message that may be dropped if the transport is not ready to send it now
        "volatile" => {
            let _ = socket.emit_volatile("hello", &"volatile, to the sender");
            r#"socket.emit_volatile("hello", ..)"#.into()
        }
        "broadcast-volatile" => {
            let _ = socket
                .broadcast()
                .volatile()
                .emit("hello", &format!("volatile broadcast from {me}"));
            r#"socket.broadcast().volatile().emit("hello", ..)"#.into()
        }
        // with an acknowledgement (waits as long as it takes)
        "with-ack" => {
            let answer = socket
                .emit_with_ack::<_, Value>("question", &"what is 6 x 7?", None)
                .await;
            format!(r#"socket.emit_with_ack("question", .., None) -> {answer:?}"#)
        }
        // with an acknowledgement handled by a callback (it runs on the connection's task)
        "with-ack-callback" => {
            let me = socket.clone();
            let r = socket.emit_with_ack_callback(
                "question",
                &"what is 6 x 7?",
                Some(Duration::from_secs(5)),
                move |answer: Result<Value, AckError>| {
                    println!("{} with-ack-callback answer {answer:?}", me.id());
                    let _ = me.emit("hello", &format!("your answer: {answer:?}"));
                },
            );
            format!(
                r#"socket.emit_with_ack_callback("question", .., Some(5s), |answer| ..) -> {r:?}"#
            )
        }
        // with a timeout: `Err(AckError::Timeout)` when the client does not answer in time
        "with-timeout" => {
            let answer = socket
                .emit_with_ack::<_, Value>(
                    "slow-question",
                    &"nobody answers this one",
                    Some(Duration::from_secs(1)),
                )
                .await;
            format!(r#"socket.emit_with_ack("slow-question", .., Some(1s)) -> {answer:?}"#)
        }
        // to all clients, with one acknowledgement per client
        "all-with-ack" => {
            let responses = io
                .of("/")
                .broadcast()
                .timeout(Duration::from_secs(2))
                .emit_with_ack::<_, Value>("poll", &"favourite number?")
                .await;
            let summary = match responses {
                Ok(all) => all
                    .local
                    .iter()
                    .map(|r| match &r.result {
                        Ok(v) => format!("{}: {v}", r.socket),
                        Err(e) => format!("{}: {e}", r.socket),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(e) => e.to_string(),
            };
            format!(
                r#"io.of("/").broadcast().timeout(2s).emit_with_ack("poll", ..) -> [{summary}]"#
            )
        }
        // the `message` event (Node's `socket.send`)
        "send" => {
            let _ = socket.send(&"sent with socket.send");
            r#"socket.send(..) (the "message" event)"#.into()
        }
        // a tuple spreads into several arguments
        "several-args" => {
            let _ = socket.emit("hello", &(1, "two", json!({ "three": 3 })));
            r#"socket.emit("hello", &(1, "two", json!({"three": 3}))) (3 arguments)"#.into()
        }
        // `()` is no argument at all
        "no-args" => {
            let _ = socket.emit("hello", &());
            r#"socket.emit("hello", &()) (no argument)"#.into()
        }
        // `Bytes` travels as a binary attachment
        "binary" => {
            let _ = socket.emit(
                "hello",
                &("binary", Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef])),
            );
            r#"socket.emit("hello", &("binary", Bytes::from_static(..)))"#.into()
        }
        // this one message not compressed (it matters when `ServerConfig::per_message_deflate` is on)
        "compress" => {
            let _ = socket.compress(false).emit("hello", &"uncompressed");
            r#"socket.compress(false).emit("hello", ..)"#.into()
        }
        // reserved event names are refused
        "reserved" => {
            let r = socket.emit("disconnect", &"nope");
            format!(r#"socket.emit("disconnect", ..) -> {r:?}"#)
        }
        other => format!("unknown variant {other}"),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", page::port(DEFAULT_PORT))).await?;
    println!("emit cheat sheet on http://{}", listener.local_addr()?);
    serve(listener).await
}

/// The cheat-sheet server and its page on `listener` (the browser tests run it as it is).
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let (config, script) = page::with_client_bundle(ServerConfig::default());
    let io = sio_tokio::new_server(config);

    let server = io.clone();
    io.on_connection(move |socket: Socket| {
        let io = server.clone();
        async move {
            println!("connect    {}", socket.id());
            // Each variant is an event of its own name.
            for &variant in VARIANTS {
                let io = io.clone();
                socket.on(
                    variant,
                    move |socket: Socket, arg: Option<String>, ack: AckSender| {
                        let io = io.clone();
                        async move {
                            let what = run(&io, &socket, variant, arg).await;
                            println!("{} {variant:<18} {what}", socket.id());
                            let _ = ack.send(&what);
                        }
                    },
                );
            }
            // Room membership, so that the room variants have someone to reach.
            socket.on(
                "rooms",
                |socket: Socket, rooms: Vec<String>, ack: AckSender| async move {
                    for r in socket.rooms() {
                        if &*r != socket.id() {
                            socket.leave(&r);
                        }
                    }
                    socket.join(rooms.iter().map(String::as_str));
                    let now: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                    let _ = ack.send(&now);
                },
            );
            // The client's `socket.send(..)` arrives as `message`.
            socket.on("message", |socket: Socket, text: String| async move {
                println!("{} message {text:?}", socket.id());
                let _ = socket.send(&format!("you said {text:?}"));
            });
        }
    });

    io.of("/myNamespace")
        .on_connection(|socket: Socket| async move {
            socket.join(["room1"]);
        });

    sio_tokio::serve_with(listener, io, Some(page::page(PAGE, &script))).await
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sio: emit cheat sheet</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5em; } #log { background: #f4f4f4; padding: 1em; white-space: pre-wrap; }
  button { margin: 2px; } .me { color: #777; }
</style>
<h1>emit cheat sheet</h1>
<p class="me" id="me">connecting…</p>
<p>rooms:
  <label><input type="checkbox" name="room" value="room1">room1</label>
  <label><input type="checkbox" name="room" value="room2">room2</label>
  <label><input type="checkbox" name="room" value="room3">room3</label>
  <button id="rooms">set rooms</button>
  &nbsp; target socket id (for to-socket) <input id="target" size="22">
  &nbsp; <label><input type="checkbox" id="answer" checked>answer questions</label>
</p>
<p id="buttons"></p>
<p><button id="send">client socket.send("hi")</button> <button id="clear">clear log</button></p>
<pre id="log"></pre>
<script src="{{CLIENT_SCRIPT}}"></script>
<script>
  const VARIANTS = ["to-sender", "broadcast", "to-room", "to-rooms", "in-room", "except", "to-socket",
    "in-namespace", "in-namespace-room", "local", "all", "volatile", "broadcast-volatile", "with-ack",
    "with-ack-callback", "with-timeout", "all-with-ack", "send", "several-args", "no-args", "binary",
    "compress", "reserved"];
  const $ = (id) => document.getElementById(id);
  const fmt = (x) => x instanceof ArrayBuffer ? "<binary " + [...new Uint8Array(x)].map((b) => b.toString(16)).join(" ") + ">" : typeof x === "string" ? x : JSON.stringify(x);
  const log = (...a) => { $("log").textContent += a.map(fmt).join(" ") + "\n"; };
  const socket = io();
  const other = io("/myNamespace");
  socket.on("connect", () => { $("me").textContent = "I am " + socket.id + " on /"; });
  socket.onAny((ev, ...args) => { if (ev !== "question" && ev !== "slow-question" && ev !== "poll") log("/ got", ev + ":", ...args); });
  other.onAny((ev, ...args) => log("/myNamespace got", ev + ":", ...args));
  socket.on("question", (q, cb) => { log("/ got question:", q); if ($("answer").checked) cb(42); });
  socket.on("slow-question", (q, cb) => log("/ got slow-question (not answering):", q));
  socket.on("poll", (q, cb) => { log("/ got poll:", q); if ($("answer").checked) cb(Math.floor(Math.random() * 100)); });
  for (const v of VARIANTS) {
    const b = document.createElement("button");
    b.textContent = v;
    b.onclick = () => {
      const done = (what) => log("server ran:", what);
      if (v === "to-socket") socket.emit(v, $("target").value, done); else socket.emit(v, done);
    };
    $("buttons").appendChild(b);
  }
  $("rooms").onclick = () => {
    const rooms = [...document.querySelectorAll("input[name=room]:checked")].map((c) => c.value);
    socket.emit("rooms", rooms, (now) => log("now in rooms:", now));
  };
  $("send").onclick = () => socket.send("hi");
  $("clear").onclick = () => { $("log").textContent = ""; };
</script>
"#;
