//! The chat demo: a page at `http://127.0.0.1:3000` (two browser tabs can talk), rooms,
//! nicknames, and a Socket.IO server on the same port — on tokio.
//!
//! Run: `cargo run -p sio-tokio --example chat` (`PORT` changes the port). The page loads the
//! client bundle served by this server when `SIO_CLIENT_DIST` (or the default
//! `tests/js/node_modules/socket.io-client/dist`) exists, installing it first when it does not
//! (`npm ci --prefix tests/js`, as the tests do).
//! The same application runs on smol and async-std: `cargo run -p sio-async-std --example
//! chat_smol` / `--features async-std --example chat_async_std`.

#[path = "shared/chat_app.rs"]
mod chat_app;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    chat_app::init_logging();
    let (config, script) = chat_app::config();
    let io = sio_tokio::new_server(config);
    chat_app::install(&io);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", chat_app::port())).await?;
    println!("chat server on http://{}", listener.local_addr()?);
    sio_tokio::serve_with(listener, io, Some(chat_app::page(&script))).await
}
