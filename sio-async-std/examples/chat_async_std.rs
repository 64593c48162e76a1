//! The chat demo on async-std: the same application as the tokio `chat` example, on
//! `http://127.0.0.1:3000` (`PORT` changes it).
//!
//! Run: `cargo run -p sio-async-std --features async-std --example chat_async_std`

#[path = "../../sio-tokio/examples/shared/chat_app.rs"]
mod chat_app;

fn main() -> std::io::Result<()> {
    async_std::task::block_on(async {
        chat_app::init_logging();
        let (config, script) = chat_app::config();
        let io = sio_async_std::new_server(sio_async_std::AsyncStdRuntime, config);
        chat_app::install(&io);
        let listener = smol::net::TcpListener::bind(("127.0.0.1", chat_app::port())).await?;
        println!(
            "chat server (async-std) on http://{}",
            listener.local_addr()?
        );
        sio_async_std::serve_with(listener, io, Some(chat_app::page(&script))).await
    })
}
