//! A plain Engine.IO echo server at `/engine.io/` (no Socket.IO layer), like Node's
//! `engine.io` package: every text or binary message comes back as it was.
//!
//! Run: `cargo run -p sio-tokio --example engine_echo` (`PORT` changes the port, default 3011),
//! then for example with the npm `engine.io-client`:
//! `new (require("engine.io-client").Socket)("ws://127.0.0.1:3011")`.

use std::sync::Arc;

use sio::engine::{EngineIo, EngineSocket};
use sio::ServerConfig;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3011);
    let eio = EngineIo::new(Arc::new(sio_tokio::TokioRuntime), ServerConfig::default());
    eio.on_connection(|socket: EngineSocket| async move {
        println!("{} connected over {}", socket.id(), socket.transport());
        socket.on_message(|socket, message| {
            let _ = socket.send(message);
        });
        socket.on_close(|socket: EngineSocket, reason| async move {
            println!("{} closed: {reason}", socket.id());
        });
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "engine.io echo server on http://{}/engine.io/",
        listener.local_addr()?
    );
    sio_tokio::serve(listener, eio.server().clone()).await
}
