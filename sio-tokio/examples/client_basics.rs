//! The Socket.IO client in one page: connect, events both ways, acks both ways (the client
//! asks the server, the server asks the client), binary, two namespaces on one connection,
//! connect errors from a middleware, disconnect.
//!
//! Run: `cargo run -p sio-tokio --example client_basics`. It starts a small server on a free
//! port, runs the client against it, prints what happens, and exits. To use another server
//! (for example the Node one), pass its URL: the server part is then skipped, and the server
//! must have the same events.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sio::client::{Auth, ClientAckSender, ClientOptions, ClientSocket};
use sio::{AckSender, ConnectError, Socket};

#[derive(Debug, Serialize, Deserialize)]
struct Upload {
    name: String,
    data: Bytes,
}

/// The server side of the demo.
fn setup(server: &sio::Server) {
    server.on_connection(|socket: Socket| async move {
        let _ = socket.emit("hello", &format!("welcome, {}", socket.id()));
        // The client asks, the server answers.
        socket.on(
            "add",
            |_: Socket, (a, b): (i64, i64), ack: AckSender| async move {
                let _ = ack.send(&(a + b));
            },
        );
        socket.on(
            "upload",
            |_: Socket, u: Upload, ack: AckSender| async move {
                let _ = ack.send(&format!("{}: {} bytes", u.name, u.data.len()));
            },
        );
        // The server asks, the client answers.
        socket.on("quiz", |s: Socket| async move {
            let answer = s
                .emit_with_ack::<_, String>(
                    "question",
                    "what is your name?",
                    Some(Duration::from_secs(2)),
                )
                .await;
            let _ = s.emit("quiz result", &format!("the client said {answer:?}"));
        });
    });
    let admin = server.of("/admin");
    admin.use_middleware(|s: Socket| async move {
        if s.handshake().auth.get("token").and_then(Value::as_str) == Some("let-me-in") {
            Ok(())
        } else {
            Err(ConnectError::new("not authorized").with_data(json!({"hint": "send a token"})))
        }
    });
    admin.on_connection(|socket: Socket| async move {
        let _ = socket.emit("hello", &"welcome to /admin");
    });
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}", listener.local_addr()?);
            let server = sio_tokio::new_server(sio::ServerConfig::default());
            setup(&server);
            tokio::spawn(sio_tokio::serve(listener, server));
            println!("server on {url}");
            url
        }
    };
    let opts = ClientOptions {
        auto_connect: false,
        ..ClientOptions::default()
    };

    // ----- the main namespace -----
    let socket = sio_tokio::io(&url, opts.clone())?;
    let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel::<String>();
    socket.on("hello", |_: ClientSocket, text: String| async move {
        println!("server says: {text}");
    });
    // Answering the server's ack: take a `ClientAckSender`.
    socket.on(
        "question",
        |_: ClientSocket, q: String, ack: ClientAckSender| async move {
            println!("server asks: {q}");
            let _ = ack.send("a Rust client");
        },
    );
    let tx = done_tx.clone();
    socket.on("quiz result", move |_: ClientSocket, r: String| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(r);
        }
    });
    let (connected_tx, mut connected) = tokio::sync::mpsc::unbounded_channel();
    socket.on_connect(move |s: ClientSocket| {
        let tx = connected_tx.clone();
        async move {
            println!("connected to / as {}", s.id().unwrap_or_default());
            let _ = tx.send(());
        }
    });
    socket.connect();
    connected.recv().await;
    println!(
        "transport: {}",
        socket.manager().transport().unwrap_or("none")
    );

    // Asking the server: `emit_with_ack` resolves with the answer (a tuple spreads into
    // several arguments).
    let sum: i64 = socket
        .emit_with_ack("add", &(2, 3), Some(Duration::from_secs(5)))
        .await?;
    println!("2 + 3 = {sum}");
    // Binary: `Bytes` anywhere in the data travels as an attachment.
    let upload = Upload {
        name: "photo.jpg".into(),
        data: Bytes::from(vec![0xff; 50_000]),
    };
    let r: String = socket
        .emit_with_ack("upload", &upload, Some(Duration::from_secs(5)))
        .await?;
    println!("upload: {r}");
    // The server asks the client.
    socket.emit("quiz", &())?;
    println!("{}", done.recv().await.unwrap_or_default());

    // ----- a second namespace on the same connection -----
    let mut admin_opts = opts.clone();
    let bad = sio_tokio::io(&format!("{url}/admin"), admin_opts.clone())?;
    let (err_tx, mut errors) = tokio::sync::mpsc::unbounded_channel();
    bad.on_connect_error(move |_: ClientSocket, message, data| {
        let tx = err_tx.clone();
        async move {
            let _ = tx.send(format!("{message} ({})", data.unwrap_or_default()));
        }
    });
    bad.connect();
    println!(
        "/admin without a token: {}",
        errors.recv().await.unwrap_or_default()
    );
    // As in Node, `io()` gives a namespace that already has a live socket a new connection:
    // drop the refused one first.
    drop(bad);
    admin_opts.auth = Some(Auth::Value(json!({"token": "let-me-in"})));
    // `force_new` is off: this socket shares the connection of the first one.
    let admin = sio_tokio::io(&format!("{url}/admin"), admin_opts)?;
    let (hello_tx, mut hello) = tokio::sync::mpsc::unbounded_channel();
    admin.on("hello", move |_: ClientSocket, text: String| {
        let tx = hello_tx.clone();
        async move {
            let _ = tx.send(text);
        }
    });
    admin.connect();
    println!("/admin: {}", hello.recv().await.unwrap_or_default());
    println!(
        "same connection for / and /admin: {}",
        admin.manager() == socket.manager()
    );

    // ----- leaving -----
    admin.disconnect();
    socket.disconnect();
    // Let the DISCONNECT packets leave before the runtime stops.
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}
