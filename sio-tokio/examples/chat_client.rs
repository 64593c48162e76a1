//! A command-line client for the chat demo (`cargo run -p sio-tokio --example chat`), on tokio.
//!
//! Run: `cargo run -p sio-tokio --example chat_client -- [URL] [NICK]` (URL defaults to
//! `http://127.0.0.1:3000`). Type a line to send it to your room; `/nick NAME` changes your
//! nickname, `/join ROOM` moves you to another room (the server acknowledges), `/quit` leaves.
//! Stop the server and start it again: the client reconnects by itself, and the lines typed
//! meanwhile are sent once it is back. The same client runs on smol and async-std:
//! `cargo run -p sio-async-std --example chat_client_smol` / `--features async-std --example
//! chat_client_async_std`.

use std::sync::Arc;

#[path = "shared/chat_client.rs"]
mod chat_client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    chat_client::run(Arc::new(sio_tokio::TokioRuntime)).await
}
