//! `sio_tokio::SioLayer` under axum, in one call (`Router::layer`): our client connects over
//! polling, websocket and upgrade and exchanges acked events, the server sees the client's
//! address without any glue (axum's `ConnectInfo`), and the application's own routes and 404s
//! are still axum's.

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use sio::client::Transport;
use sio::{AckSender, ClientOptions, ServerConfig, Socket};
use sio_tests::raw;

#[test]
fn an_axum_app_with_the_layer() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let io = sio_tokio::new_server(ServerConfig::default());
        let (tx, mut addresses) = tokio::sync::mpsc::unbounded_channel();
        io.on_connection(move |s: Socket| {
            let _ = tx.send(s.handshake().address);
            async move {
                s.on("echo", |_: Socket, v: Value, ack: AckSender| async move {
                    let _ = ack.send(&v);
                });
            }
        });
        let app = Router::new()
            .route("/health", get(|| async { "healthy" }))
            .layer(sio_tokio::SioLayer::new(io.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        let url = format!("http://127.0.0.1:{port}");
        for transports in [
            vec![Transport::Polling],
            vec![Transport::WebSocket],
            vec![Transport::Polling, Transport::WebSocket],
        ] {
            let opts = ClientOptions {
                transports: transports.clone(),
                force_new: true,
                reconnection: false,
                ..ClientOptions::default()
            };
            let s = sio_tokio::io(&url, opts).expect("io()");
            let v = json!({"through": "axum", "transports": format!("{transports:?}")});
            let back = tokio::time::timeout(
                Duration::from_secs(10),
                s.emit_with_ack::<_, Value>("echo", &v, None),
            )
            .await
            .expect("echo in time")
            .expect("echo ack");
            assert_eq!(back, v);
            let address = tokio::time::timeout(Duration::from_secs(10), addresses.recv())
                .await
                .expect("a connection")
                .expect("an address slot");
            let address = address.expect("the client's address, found by the layer");
            assert!(address.ip().is_loopback(), "{address}");
            s.disconnect();
        }
        let answers = tokio::task::spawn_blocking(move || {
            (
                raw::request(port, "GET", "/health", &[], b""),
                raw::request(port, "GET", "/elsewhere", &[], b""),
                raw::get(port, "EIO=4&transport=polling"),
            )
        })
        .await
        .expect("raw requests");
        let (health, elsewhere, handshake) = answers;
        assert_eq!((health.status, health.text().as_str()), (200, "healthy"));
        assert_eq!(elsewhere.status, 404);
        assert_eq!(handshake.status, 200);
        assert!(handshake.text().starts_with("0{"), "{}", handshake.text());
    });
}
