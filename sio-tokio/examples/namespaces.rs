//! Namespaces: separate communication channels over one connection.
//!
//! - `/chat` and `/news` are static namespaces (`io.of(name)`), each with its own connection
//!   handler, events and broadcasts: a `/news` headline never reaches `/chat`;
//! - `/team-<name>` namespaces are dynamic (`io.of_dynamic(matcher, setup)`, Node's
//!   `io.of(/^\/team-\w+$/)`): each is created on its first connection and set up by `setup`;
//! - the main namespace `/` answers `stats` with the sockets of every namespace;
//! - the client multiplexes: `io("/chat")` and `io("/news")` of one page share one Engine.IO
//!   connection; an unknown namespace gets `connect_error` "Invalid namespace".
//!
//! Run: `cargo run -p sio-tokio --example namespaces`, then open <http://127.0.0.1:3007> in
//! two tabs (`PORT` changes the port). The page loads the official client bundle from this
//! server when `tests/js/node_modules/socket.io-client/dist` exists (`npm ci --prefix
//! tests/js`, or `SIO_CLIENT_DIST`), and a public CDN copy otherwise.

#[path = "shared/page.rs"]
mod page;

use std::sync::{Arc, Mutex};

use sio::{AckSender, Namespace, ServerConfig, Socket};

const DEFAULT_PORT: u16 = 3007;

/// A short name for a socket in messages.
fn who(socket: &Socket) -> String {
    socket.id()[..6].to_owned()
}

/// Names like `/team-red`: the dynamic namespaces this server accepts.
fn is_team(name: &str) -> bool {
    name.strip_prefix("/team-")
        .is_some_and(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (config, script) = page::with_client_bundle(ServerConfig::default());
    let io = sio_tokio::new_server(config);

    // `/chat`: messages go to everyone in `/chat`.
    io.of("/chat").on_connection(|socket: Socket| async move {
        println!("/chat      {} connected", socket.id());
        let _ = socket.broadcast().emit(
            "said",
            &("server", format!("{} joined /chat", who(&socket))),
        );
        socket.on("say", |socket: Socket, text: String| async move {
            let _ = socket.ns().emit("said", &(who(&socket), text));
        });
    });

    // `/news`: the headlines so far on connection, then each new one to every subscriber.
    let headlines = Arc::new(Mutex::new(vec!["Namespaces demo starts".to_owned()]));
    io.of("/news").on_connection(move |socket: Socket| {
        let headlines = headlines.clone();
        async move {
            println!("/news      {} connected", socket.id());
            let so_far = headlines.lock().unwrap().clone();
            let _ = socket.emit("headlines", &so_far);
            socket.on("publish", move |socket: Socket, title: String| {
                let headlines = headlines.clone();
                async move {
                    headlines.lock().unwrap().push(title.clone());
                    let _ = socket.ns().emit("headline", &title);
                }
            });
        }
    });

    // `/team-<name>`: created on first use, each one a separate namespace. The setup closure
    // also keeps a list of them, for the statistics below.
    let teams: Arc<Mutex<Vec<Namespace>>> = Arc::default();
    let created = teams.clone();
    io.of_dynamic(is_team, move |ns: &Namespace| {
        println!("{:<10} created", ns.name());
        created.lock().unwrap().push(ns.clone());
        ns.on_connection(|socket: Socket| async move {
            let ns = socket.ns();
            println!(
                "{:<10} {} connected ({} members)",
                ns.name(),
                socket.id(),
                ns.len()
            );
            let _ = socket.emit("welcome", &format!("welcome to {}", ns.name()));
            socket.on("say", |socket: Socket, text: String| async move {
                let _ = socket.ns().emit("said", &(who(&socket), text));
            });
        });
    });

    // `/`: how many sockets each namespace has, and how many connections carry them.
    let server = io.clone();
    io.on_connection(move |socket: Socket| {
        let (io, teams) = (server.clone(), teams.clone());
        async move {
            // No argument besides the ack callback: the data type is `()`.
            socket.on("stats", move |_: Socket, _: (), ack: AckSender| {
                let (io, teams) = (io.clone(), teams.clone());
                async move {
                    let mut counts: Vec<(String, usize)> = ["/", "/chat", "/news"]
                        .iter()
                        .map(|&name| (name.to_owned(), io.of(name).len()))
                        .collect();
                    for ns in teams.lock().unwrap().iter() {
                        counts.push((ns.name().to_owned(), ns.len()));
                    }
                    let _ = ack.send(&(counts, io.session_count()));
                }
            });
        }
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", page::port(DEFAULT_PORT))).await?;
    println!("namespaces example on http://{}", listener.local_addr()?);
    sio_tokio::serve_with(listener, io, Some(page::page(PAGE, &script))).await
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sio: namespaces</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 2em; }
  .cols { display: flex; gap: 1em; } .cols > div { flex: 1; } pre { background: #f4f4f4; padding: .6em; min-height: 8em; white-space: pre-wrap; }
</style>
<h1>namespaces</h1>
<p>One Engine.IO connection, several namespaces. <button id="stats">stats</button>
  <button id="bad">connect to /nope</button> <span id="out"></span></p>
<div class="cols">
  <div><h3>/chat</h3><form id="chatf"><input id="chat" autocomplete="off"> <button>say</button></form><pre id="chatlog"></pre></div>
  <div><h3>/news</h3><form id="newsf"><input id="news" autocomplete="off"> <button>publish</button></form><pre id="newslog"></pre></div>
  <div><h3>team</h3><form id="teamf">/team-<input id="team" value="red" size="6"> <button>join</button></form>
    <form id="tsayf"><input id="tsay" autocomplete="off"> <button>say</button></form><pre id="teamlog"></pre></div>
</div>
<script src="{{CLIENT_SCRIPT}}"></script>
<script>
  const $ = (id) => document.getElementById(id);
  const add = (id, ...a) => { $(id).textContent += a.map((x) => typeof x === "string" ? x : JSON.stringify(x)).join(" ") + "\n"; };
  const main = io();           // these three share one connection (one Manager)
  const chat = io("/chat");
  const news = io("/news");
  let team = null;
  chat.on("said", (from, text) => add("chatlog", from + ":", text));
  news.on("headlines", (all) => all.forEach((h) => add("newslog", "• " + h)));
  news.on("headline", (h) => add("newslog", "• " + h));
  $("chatf").onsubmit = (e) => { e.preventDefault(); chat.emit("say", $("chat").value); $("chat").value = ""; };
  $("newsf").onsubmit = (e) => { e.preventDefault(); news.emit("publish", $("news").value); $("news").value = ""; };
  $("teamf").onsubmit = (e) => {
    e.preventDefault();
    if (team) team.disconnect();
    const name = "/team-" + $("team").value;
    $("teamlog").textContent = "";
    team = io(name);
    team.on("welcome", (w) => add("teamlog", w));
    team.on("said", (from, text) => add("teamlog", from + ":", text));
    team.on("connect_error", (err) => add("teamlog", "connect_error:", err.message));
  };
  $("tsayf").onsubmit = (e) => { e.preventDefault(); if (team) team.emit("say", $("tsay").value); $("tsay").value = ""; };
  $("stats").onclick = () => main.emit("stats", (counts, sessions) => { $("out").textContent = JSON.stringify(counts) + ", " + sessions + " connection(s)"; });
  $("bad").onclick = () => io("/nope").on("connect_error", (err) => { $("out").textContent = "/nope: " + err.message; });
</script>
"#;
