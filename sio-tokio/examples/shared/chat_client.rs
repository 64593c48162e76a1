//! The command-line chat client, shared by the tokio, async-std and smol versions
//! (`chat_client`, `chat_client_async_std`, `chat_client_smol`): only the runtime it is given
//! differs. Included with `#[path]`; not part of the library.
//!
//! Arguments: `[URL] [NICK]` (URL defaults to `http://127.0.0.1:3000`). Type a line to send it
//! to your room; `/nick NAME` changes your nickname, `/join ROOM` moves you to another room
//! (the server acknowledges), `/quit` leaves. Stop the server and start it again: the client
//! reconnects by itself, and the lines typed meanwhile are sent once it is back.

use std::io::BufRead;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sio::client::{io, ClientOptions, ClientSocket};
use sio::Runtime;

/// What the server broadcasts.
#[derive(Debug, Deserialize)]
struct ChatLine {
    user: String,
    room: String,
    text: String,
}

/// What the server expects for "chat message".
#[derive(Debug, Serialize)]
struct Outgoing<'a> {
    text: &'a str,
}

/// The lines of stdin, read on a thread of their own so that the executor never blocks on
/// the terminal; the stream ends with stdin.
fn stdin_lines() -> mpsc::UnboundedReceiver<std::io::Result<String>> {
    let (tx, rx) = mpsc::unbounded();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let stop = line.is_err();
            if tx.unbounded_send(line).is_err() || stop {
                break;
            }
        }
    });
    rx
}

/// Runs the client on `rt` until `/quit` or the end of stdin.
pub async fn run(rt: Arc<dyn Runtime>) -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:3000".to_owned());
    let nick = args.next();

    let opts = ClientOptions {
        // Register the handlers first, then connect.
        auto_connect: false,
        ..ClientOptions::default()
    };
    let socket = io(rt.clone(), &url, opts)?;

    socket.on("welcome", |_: ClientSocket, line: ChatLine| async move {
        println!("* {}", line.text);
    });
    socket.on(
        "chat message",
        |_: ClientSocket, line: ChatLine| async move {
            println!("[#{}] {}: {}", line.room, line.user, line.text);
        },
    );
    socket.on_connect(move |s: ClientSocket| {
        let nick = nick.clone();
        async move {
            println!("* connected (id {})", s.id().unwrap_or_default());
            // The server forgets the nickname with the connection: send it on every connect.
            if let Some(n) = nick {
                let _ = s.emit("nick", &n);
            }
        }
    });
    socket.on_connect_error(|_: ClientSocket, message, _| async move {
        eprintln!("* cannot connect: {message}");
    });
    let (gone_tx, mut gone) = mpsc::unbounded();
    socket.on_disconnect(move |s: ClientSocket, reason| {
        let gone_tx = gone_tx.clone();
        async move {
            if s.active() {
                println!("* disconnected ({reason}), reconnecting...");
            } else {
                println!("* disconnected ({reason})");
                let _ = gone_tx.unbounded_send(());
            }
        }
    });
    socket
        .manager()
        .on_reconnect_attempt(|n| eprintln!("* reconnection attempt {n}"));
    socket.connect();

    println!("type a message, /nick NAME, /join ROOM or /quit");
    let mut lines = stdin_lines();
    while let Some(line) = lines.next().await {
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" {
            break;
        } else if let Some(name) = line.strip_prefix("/nick ") {
            socket.emit("nick", name.trim())?;
        } else if let Some(room) = line.strip_prefix("/join ") {
            let joined = socket
                .emit_with_ack::<_, String>("join", room.trim(), Some(Duration::from_secs(5)))
                .await;
            match joined {
                Ok(room) => println!("* you are now in #{room}"),
                Err(e) => eprintln!("* /join failed: {e}"),
            }
        } else {
            socket.emit("chat message", &Outgoing { text: line })?;
        }
    }
    if socket.connected() {
        socket.disconnect();
        // Wait until the DISCONNECT left (bounded, in case the connection is gone already).
        let limit = rt.sleep_until(rt.now() + Duration::from_secs(2));
        let _ = futures_util::future::select(pin!(gone.next()), limit).await;
    }
    Ok(())
}
