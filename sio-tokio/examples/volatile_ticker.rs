//! A background task that emits a volatile `tick` to every client of a namespace twice a
//! second: `ns.broadcast().volatile().emit(..)`. A volatile packet is dropped for a client
//! whose transport cannot take it right now (a long-polling client between two requests, a
//! connection in the middle of its upgrade to websocket, a websocket with earlier packets still
//! queued) instead of being queued behind them: right for data where only the latest value
//! matters (positions, prices, clocks).
//!
//! Run: `cargo run -p sio-tokio --example volatile_ticker`, then open
//! <http://127.0.0.1:3005> (`PORT` changes the port). The page counts the ticks it received
//! and the ones it missed (gaps in the sequence numbers). The page loads the official client
//! bundle from this server when `tests/js/node_modules/socket.io-client/dist` exists (`npm ci
//! --prefix tests/js`, or `SIO_CLIENT_DIST`), and a public CDN copy otherwise.

#[path = "shared/page.rs"]
mod page;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sio::{ServerConfig, Socket};

const DEFAULT_PORT: u16 = 3005;
const PERIOD: Duration = Duration::from_millis(500);

#[derive(Serialize)]
struct Tick {
    n: u64,
    /// Server time, milliseconds since the Unix epoch.
    time: u128,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (config, script) = page::with_client_bundle(ServerConfig::default());
    let io = sio_tokio::new_server(config);

    io.on_connection(|socket: Socket| async move {
        println!("connect    {} over {}", socket.id(), socket.transport());
        socket.on_disconnect(|socket: Socket, reason| async move {
            println!("disconnect {} ({reason})", socket.id());
        });
    });

    // The ticker: an ordinary tokio task holding a handle on the namespace.
    let ns = io.of("/");
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PERIOD);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut n = 0u64;
        loop {
            every.tick().await;
            n += 1;
            let time = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            if let Err(e) = ns.broadcast().volatile().emit("tick", &Tick { n, time }) {
                eprintln!("tick {n}: {e}");
            }
            if n % 20 == 0 {
                println!("tick {n}: {} clients", ns.len());
            }
        }
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", page::port(DEFAULT_PORT))).await?;
    println!("volatile ticker on http://{}", listener.local_addr()?);
    sio_tokio::serve_with(listener, io, Some(page::page(PAGE, &script))).await
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sio: volatile ticker</title>
<style>body { font: 15px system-ui, sans-serif; margin: 2em; } #tick { font-size: 48px; font-variant-numeric: tabular-nums; }</style>
<h1>volatile ticker</h1>
<div id="tick">–</div>
<p>received <b id="received">0</b>, missed <b id="missed">0</b>, transport <b id="transport">?</b></p>
<p><button id="toggle">disconnect</button> (ticks sent while disconnected are not replayed)</p>
<script src="{{CLIENT_SCRIPT}}"></script>
<script>
  const $ = (id) => document.getElementById(id);
  const socket = io();
  let last = null, received = 0, missed = 0;
  socket.on("connect", () => {
    $("transport").textContent = socket.io.engine.transport.name;
    socket.io.engine.once("upgrade", (t) => { $("transport").textContent = t.name; });
  });
  socket.on("disconnect", () => { $("transport").textContent = "disconnected"; last = null; });
  socket.on("tick", ({ n, time }) => {
    received++;
    if (last !== null && n > last + 1) missed += n - last - 1;
    last = n;
    $("tick").textContent = "tick " + n + " at " + new Date(time).toLocaleTimeString();
    $("received").textContent = received;
    $("missed").textContent = missed;
  });
  $("toggle").onclick = () => {
    if (socket.connected) { socket.disconnect(); $("toggle").textContent = "connect"; }
    else { socket.connect(); $("toggle").textContent = "disconnect"; }
  };
</script>
"#;
