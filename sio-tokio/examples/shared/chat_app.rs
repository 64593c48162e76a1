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
/// URL the page should load.
pub fn config() -> (ServerConfig, String) {
    let dist = std::env::var("SIO_CLIENT_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("tests/js/node_modules/socket.io-client/dist"));
    if dist.join("socket.io.min.js").exists() {
        (
            ServerConfig::default().serve_client(&dist),
            "/socket.io/socket.io.min.js".to_owned(),
        )
    } else {
        (
            ServerConfig::default(),
            "https://cdn.socket.io/4.8.1/socket.io.min.js".to_owned(),
        )
    }
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

/// Serves the page at `/`.
pub fn page(script: &str) -> sio::server::Fallback {
    let page = Bytes::from(PAGE.replace("{{CLIENT_SCRIPT}}", script));
    Arc::new(move |req| {
        (req.uri().path() == "/").then(|| {
            http::Response::builder()
                .header("content-type", "text/html; charset=utf-8")
                .body(Full::new(page.clone()))
                .unwrap_or_default()
        })
    })
}
