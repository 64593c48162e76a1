//! The chat demo's application, shared by the tokio, async-std and smol versions: rooms,
//! nicknames, and the page. Included with `#[path]` by each `chat` example.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use sio::{Server, ServerConfig, Socket};

const PAGE: &str = include_str!("chat.html");

#[derive(Debug, Clone, Deserialize)]
struct Outgoing {
    text: String,
}

#[derive(Debug, Clone, Serialize)]
struct ChatLine {
    user: String,
    room: String,
    text: String,
}

#[derive(Clone)]
struct Session {
    nick: String,
    room: String,
}

fn session(s: &Socket) -> Session {
    s.data::<Session>().unwrap_or(Session {
        nick: format!("guest-{}", &s.id()[..4]),
        room: "lobby".into(),
    })
}

/// The server configuration: `serveClient` from `SIO_CLIENT_DIST` (default
/// `tests/js/node_modules/socket.io-client/dist`) when it exists; returns it with the script
/// URL the page should load. When the default bundle is missing it is installed the way the
/// tests install it (`npm ci --prefix tests/js`); when that cannot be done, the script URL is
/// empty and the page says what to run (no public CDN: the demo works offline).
pub fn config() -> (ServerConfig, String) {
    let given = std::env::var("SIO_CLIENT_DIST").map(PathBuf::from).ok();
    let dist = given
        .clone()
        .unwrap_or_else(|| PathBuf::from("tests/js/node_modules/socket.io-client/dist"));
    let bundle = dist.join("socket.io.min.js");
    if !bundle.exists() && given.is_none() && PathBuf::from("tests/js/package-lock.json").exists() {
        println!("the client bundle is not installed yet: running `{INSTALL}`");
        let installed = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix", "tests/js"])
            .status();
        if !matches!(installed, Ok(s) if s.success()) {
            eprintln!("`{INSTALL}` failed ({installed:?})");
        }
    }
    if bundle.exists() {
        with_bundle(&dist)
    } else {
        eprintln!(
            "no client bundle at {}: run `{INSTALL}` (Node.js with npm) in the repository, or \
             set SIO_CLIENT_DIST to a socket.io-client dist directory, then restart",
            bundle.display()
        );
        (ServerConfig::default(), String::new())
    }
}

/// The server configuration serving the client bundle of `dist` (a `socket.io-client/dist`
/// directory), and the script URL the page loads it from.
pub fn with_bundle(dist: &std::path::Path) -> (ServerConfig, String) {
    (
        ServerConfig::default().serve_client(dist),
        "/socket.io/socket.io.min.js".to_owned(),
    )
}

/// How the client bundle is installed, as the tests install it.
const INSTALL: &str = "npm ci --prefix tests/js";

/// Logs what the server does to the terminal (`tracing`): at `info` (refused requests,
/// warnings), or at the level `RUST_LOG` names (`debug` shows every session and socket, with
/// its id, transport and address, and why it closed).
pub fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt().with_max_level(level).init();
}

/// The port: `PORT`, or 3000.
pub fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

/// Installs the chat handlers.
pub fn install(io: &Server) {
    io.on_connection(|socket: Socket| async move {
        let me = session(&socket);
        socket.set_data(me.clone());
        socket.join([me.room.as_str()]);
        let _ = socket.emit(
            "welcome",
            &ChatLine {
                user: "server".into(),
                room: me.room.clone(),
                text: format!("you are {} in #{}", me.nick, me.room),
            },
        );
        let _ = socket.to(me.room.as_str()).emit(
            "chat message",
            &ChatLine {
                user: "server".into(),
                room: me.room.clone(),
                text: format!("{} joined", me.nick),
            },
        );

        socket.on("nick", |socket: Socket, nick: String| async move {
            let mut me = session(&socket);
            let old = std::mem::replace(&mut me.nick, nick.chars().take(32).collect());
            socket.set_data(me.clone());
            let line = ChatLine {
                user: "server".into(),
                room: me.room.clone(),
                text: format!("{old} is now {}", me.nick),
            };
            let _ = socket.ns().to(me.room.as_str()).emit("chat message", &line);
        });

        socket.on(
            "join",
            |socket: Socket, room: String, ack: sio::AckSender| async move {
                let mut me = session(&socket);
                let room: String = room.chars().take(32).collect();
                socket.leave(&me.room);
                socket.join([room.as_str()]);
                me.room = room.clone();
                socket.set_data(me.clone());
                let _ = ack.send(&room);
                let _ = socket.to(room.as_str()).emit(
                    "chat message",
                    &ChatLine {
                        user: "server".into(),
                        room: room.clone(),
                        text: format!("{} joined", me.nick),
                    },
                );
            },
        );

        socket.on("chat message", |socket: Socket, msg: Outgoing| async move {
            let me = session(&socket);
            let line = ChatLine {
                user: me.nick,
                room: me.room.clone(),
                text: msg.text.chars().take(500).collect(),
            };
            let _ = socket.ns().to(me.room.as_str()).emit("chat message", &line);
        });

        socket.on_disconnect(|socket: Socket, reason| async move {
            let me = session(&socket);
            let _ = socket.ns().to(me.room.as_str()).emit(
                "chat message",
                &ChatLine {
                    user: "server".into(),
                    room: me.room,
                    text: format!("{} left ({reason})", me.nick),
                },
            );
        });
    });
}

/// Serves the page at `/`; without a client bundle (`script` empty), a page that says how to
/// install it.
pub fn page(script: &str) -> sio::server::Fallback {
    let page = if script.is_empty() {
        format!(
            "<!doctype html><meta charset=utf-8><title>sio chat</title>\
             <p>The Socket.IO client bundle is not installed. In the repository, run \
             <code>{INSTALL}</code> (Node.js with npm), then restart the chat server.</p>"
        )
    } else {
        PAGE.replace("{{CLIENT_SCRIPT}}", script)
    };
    let page = Bytes::from(page);
    Arc::new(move |req| {
        (req.uri().path() == "/").then(|| {
            http::Response::builder()
                .header("content-type", "text/html; charset=utf-8")
                .body(Full::new(page.clone()))
                .unwrap_or_default()
        })
    })
}
