//! The chat demo as a cluster: two servers on one Redis, in one process, on
//! `http://127.0.0.1:3000` and `http://127.0.0.1:3001`. Open the page of each in its own tab:
//! a message typed on one server's page appears on the other's, through Redis, in
//! `@socket.io/redis-adapter`'s format (a Node server on the same Redis with the npm adapter
//! joins the same chat).
//!
//! Run: `redis-server --port 6379 --save '' &` then
//! `cargo run -p sio-redis --example chat_cluster`. `REDIS_URL` (default
//! `redis://127.0.0.1:6379`) and `PORT` (the first server's port, default 3000; the second
//! takes the next one) change where it runs. Behind a load balancer, use one of the sticky
//! configurations of `deploy/nginx/` (README, "Running several servers").

#[path = "../../sio-tokio/examples/shared/chat_app.rs"]
mod chat_app;

use std::sync::Arc;

use sio_redis::{RedisAdapterOptions, RedisCluster};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    chat_app::init_logging();
    let first = chat_app::port();
    let mut servers = Vec::new();
    for port in [first, first + 1] {
        // One cluster member per server, as if each ran on its own machine.
        let rt: Arc<dyn sio::Runtime> = Arc::new(sio_tokio::TokioRuntime);
        let cluster = RedisCluster::new(rt, &redis, RedisAdapterOptions::default())?;
        let (config, script) = chat_app::config();
        let io = sio_tokio::new_server(sio::ServerConfig {
            adapter: cluster.adapter_factory(),
            ..config
        });
        chat_app::install(&io);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!(
            "chat server {} on http://{} (Redis {redis})",
            cluster.uid(),
            listener.local_addr()?
        );
        servers.push(tokio::spawn(sio_tokio::serve_with(
            listener,
            io,
            Some(chat_app::page(&script)),
        )));
    }
    for s in servers {
        s.await??;
    }
    Ok(())
}
