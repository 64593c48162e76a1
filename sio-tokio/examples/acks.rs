//! Acknowledgements both ways.
//!
//! - client → server: the client passes a callback as the last argument of `emit`; the
//!   handler takes an [`AckSender`] and calls `ack.send(&data)` (a tuple spreads into several
//!   callback arguments, e.g. Node's `(err, result)` convention);
//! - server → client: `socket.emit_with_ack::<_, R>(event, &data, timeout)` resolves to the
//!   client's answer deserialised as `R`, or to `AckError::Timeout`;
//! - broadcast with ack: `ns.broadcast().timeout(d).emit_with_ack::<_, R>(..)` resolves to one
//!   [`sio::AckResponse`] per recipient (its answer, or why there is none).
//!
//! Run: `cargo run -p sio-tokio --example acks`, then open <http://127.0.0.1:3006> in one or
//! more tabs (`PORT` changes the port). The page loads the official client bundle from this
//! server when `tests/js/node_modules/socket.io-client/dist` exists (`npm ci --prefix
//! tests/js`, or `SIO_CLIENT_DIST`), and a public CDN copy otherwise.

#[path = "shared/page.rs"]
mod page;

use std::collections::BTreeMap;
use std::time::Duration;

use sio::{AckError, AckSender, ServerConfig, Socket};

const DEFAULT_PORT: u16 = 3006;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (config, script) = page::with_client_bundle(ServerConfig::default());
    let io = sio_tokio::new_server(config);

    io.on_connection(|socket: Socket| async move {
        println!("connect    {}", socket.id());

        // client -> server: two arguments in, one value back.
        // JS: socket.emit("add", 2, 3, (sum) => ...)
        socket.on(
            "add",
            |_: Socket, (a, b): (f64, f64), ack: AckSender| async move {
                let _ = ack.send(&(a + b));
            },
        );

        // client -> server, answered Node-style with two callback arguments `(err, result)`.
        // JS: socket.emit("divide", 1, 0, (err, q) => ...)
        socket.on(
            "divide",
            |_: Socket, (a, b): (f64, f64), ack: AckSender| async move {
                let result = if b == 0.0 {
                    Err("division by zero")
                } else {
                    Ok(a / b)
                };
                // `None` is `null`: `(null, 0.5)` or `("division by zero", null)`.
                let _ = ack.send(&(result.err(), result.ok()));
            },
        );

        // An event may or may not ask for an ack; `ack.send` without one does nothing.
        socket.on(
            "note",
            |socket: Socket, text: String, ack: AckSender| async move {
                println!(
                    "note       {}: {text:?} (ack expected: {})",
                    socket.id(),
                    ack.expected()
                );
                let _ = ack.send(&"noted");
            },
        );

        // server -> client with a timeout: the client answers "name?" after the delay it
        // chose; over a second, the server gives up.
        // JS: socket.on("name?", (delay, cb) => setTimeout(() => cb("Ada", 36), delay))
        socket.on(
            "ask-me",
            |socket: Socket, delay_ms: u64, ack: AckSender| async move {
                let answer = socket
                    .emit_with_ack::<_, (String, u32)>(
                        "name?",
                        &delay_ms,
                        Some(Duration::from_secs(1)),
                    )
                    .await;
                let report = match answer {
                    Ok((name, age)) => format!("the client says {name}, {age}"),
                    Err(AckError::Timeout) => "no answer within 1s".to_owned(),
                    Err(e) => format!("failed: {e}"),
                };
                println!("ask-me     {}: {report}", socket.id());
                let _ = ack.send(&report);
            },
        );

        // broadcast with ack: every client of the namespace votes; answers that do not come
        // within two seconds count as abstentions.
        socket.on(
            "vote",
            |socket: Socket, question: String, ack: AckSender| async move {
                let answers = socket
                    .ns()
                    .broadcast()
                    .timeout(Duration::from_secs(2))
                    .emit_with_ack::<_, String>("vote?", &question)
                    .await
                    .unwrap_or_default();
                let mut tally = BTreeMap::<String, usize>::new();
                for a in answers.local {
                    let choice = a.result.unwrap_or_else(|_| "(no answer)".to_owned());
                    *tally.entry(choice).or_default() += 1;
                }
                println!("vote       {question:?}: {tally:?}");
                let _ = socket.ns().emit("vote result", &(&question, &tally));
                let _ = ack.send(&tally);
            },
        );
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", page::port(DEFAULT_PORT))).await?;
    println!("acks example on http://{}", listener.local_addr()?);
    sio_tokio::serve_with(listener, io, Some(page::page(PAGE, &script))).await
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sio: acks</title>
<style>body { font: 15px system-ui, sans-serif; margin: 2em; } #log { background: #f4f4f4; padding: 1em; } p { margin: .4em 0; }</style>
<h1>acknowledgements</h1>
<p>client → server: <input id="a" value="6" size="3"> <input id="b" value="7" size="3">
  <button id="add">add</button> <button id="divide">divide</button> <button id="note">note (no ack)</button></p>
<p>server → client: answer "name?" after <input id="delay" value="200" size="5"> ms
  <button id="ask">ask me</button> (the server waits 1s)</p>
<p>broadcast with ack: my vote <select id="choice"><option>tabs</option><option>spaces</option></select>
  <label><input type="checkbox" id="answer" checked>answer votes</label> <button id="vote">start a vote</button></p>
<pre id="log"></pre>
<script src="{{CLIENT_SCRIPT}}"></script>
<script>
  const $ = (id) => document.getElementById(id);
  const log = (...a) => { $("log").textContent += a.map((x) => typeof x === "string" ? x : JSON.stringify(x)).join(" ") + "\n"; };
  const socket = io();
  socket.on("connect", () => log("connected as", socket.id));
  // server -> client acks: the callback is the last argument of the listener
  socket.on("name?", (delay, cb) => { log("server asks name?, answering in", delay, "ms"); setTimeout(() => cb("Ada", 36), delay); });
  socket.on("vote?", (question, cb) => { log("vote:", question); if ($("answer").checked) cb($("choice").value); });
  socket.on("vote result", (question, tally) => log("result of", question, tally));
  const nums = () => [Number($("a").value), Number($("b").value)];
  $("add").onclick = () => socket.emit("add", ...nums(), (sum) => log("add ->", sum));
  $("divide").onclick = () => socket.emit("divide", ...nums(), (err, q) => log("divide ->", err ? "error: " + err : q));
  $("note").onclick = () => socket.emit("note", "fire and forget");
  // the promise form, with a client-side timeout
  $("ask").onclick = async () => {
    try { log("ask-me ->", await socket.timeout(5000).emitWithAck("ask-me", Number($("delay").value))); }
    catch (e) { log("ask-me failed:", e.message); }
  };
  $("vote").onclick = () => socket.emit("vote", "tabs or spaces?", (tally) => log("my vote ended:", tally));
</script>
"#;
