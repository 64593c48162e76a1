//! The chat demo on smol: the same application as the tokio `chat` example, on
//! `http://127.0.0.1:3000` (`PORT` changes it).
//!
//! Run: `cargo run -p sio-async-std --example chat_smol`

#[path = "../../sio-tokio/examples/shared/chat_app.rs"]
mod chat_app;

fn main() -> std::io::Result<()> {
    smol::block_on(async {
        chat_app::init_logging();
        let (config, script) = chat_app::config();
        let io = sio_async_std::new_server(sio_async_std::SmolRuntime, config);
        chat_app::install(&io);
        let listener = smol::net::TcpListener::bind(("127.0.0.1", chat_app::port())).await?;
        println!("chat server (smol) on http://{}", listener.local_addr()?);
        sio_async_std::serve_with(listener, io, Some(chat_app::page(&script))).await
    })
}
