//! The command-line chat client on async-std: the same client as the tokio `chat_client`
//! example, for any of the chat servers (`chat`, `chat_async_std`, `chat_smol`).
//!
//! Run: `cargo run -p sio-async-std --features async-std --example chat_client_async_std -- [URL] [NICK]` (URL
//! defaults to `http://127.0.0.1:3000`). Type a line to send it to your room; `/nick NAME`,
//! `/join ROOM`, `/quit`.

use std::sync::Arc;

#[path = "../../sio-tokio/examples/shared/chat_client.rs"]
mod chat_client;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    async_std::task::block_on(chat_client::run(Arc::new(sio_async_std::AsyncStdRuntime)))
}
