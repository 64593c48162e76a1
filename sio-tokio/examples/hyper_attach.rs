//! Socket.IO inside a plain hyper 1 server, no framework: the application's own service answers
//! every path but `/socket.io/`, which goes to the Socket.IO server with two calls
//! (`Server::owns_path`, `Server::handle_request`, given the client's address). Long-polling
//! and the websocket upgrade both go through hyper (`with_upgrades`).
//!
//! Run: `cargo run -p sio-tokio --example hyper_attach` (`PORT` changes the port, default
//! 3012), then open <http://127.0.0.1:3012/> or connect any Socket.IO client to it; it answers
//! `("echo", v, ack)` with `v`.
//!
//! With axum, `Router::layer(sio_tokio::SioLayer::new(io))` does the same in one call (see
//! `axum_attach`); with another tower stack, `SioLayer` wraps any service.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sio::{AckSender, ServerConfig, Socket};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3012);
    let io = sio_tokio::new_server(ServerConfig::default());
    io.on_connection(|socket: Socket| async move {
        println!("{} connected over {}", socket.id(), socket.transport());
        socket.on(
            "echo",
            |_: Socket, v: serde_json::Value, ack: AckSender| async move {
                let _ = ack.send(&v);
            },
        );
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://127.0.0.1:{port}");
    loop {
        let (stream, peer) = listener.accept().await?;
        let io = io.clone();
        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
            let io = io.clone();
            async move {
                if io.owns_path(req.uri().path()) {
                    let answer = io.handle_request(req, Some(peer)).await;
                    return Ok::<_, Infallible>(answer.map(Either::Left));
                }
                // The application's own pages.
                let page = Full::new(Bytes::from_static(b"hello from hyper\n"));
                Ok(Response::new(Either::Right(page)))
            }
        });
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = connection.await {
                eprintln!("connection from {peer}: {e}");
            }
        });
    }
}
