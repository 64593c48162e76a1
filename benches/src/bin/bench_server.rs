//! The server side of the load measurement (`benches/load.sh`, `benches/src/bin/sio_load.rs`):
//! one server core (a tokio `current_thread` runtime), default configuration, two events.
//!
//! - `echo` with an ack: the ack carries the payload back;
//! - `broadcast`: the payload goes to every socket of the main namespace, the sender included,
//!   as the event `bcast`.
//!
//! With `TICK_HZ` set (> 0), a server-side timer also broadcasts `bcast` to everyone that many
//! times a second, its payload `{"t":<microseconds since the Unix epoch>}`.
//!
//! With `WORKERS` set above 1, the server runs on a multi-threaded tokio runtime with that
//! many worker threads instead of one core.
//!
//! With `REDIS_URL` set, the server is a member of a cluster on that Redis (`sio-redis`, the
//! classic adapter): a broadcast also goes to the clients of the other servers (the `cluster`
//! case of `benches/load.sh`).
//!
//! Built with the feature `lock-stats` and run with `LOCK_STATS=<file>`, it writes the table of
//! `sio::lock_stats` (every lock the server took, by place) to that file every second.
//!
//! Run: `PORT=0 cargo run --release -p sio-benches --bin bench_server`. It prints `PID <pid>`
//! and `PORT <port>` (`PORT` unset or 0: a free port) and serves on 127.0.0.1 until killed.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sio::{AckSender, ServerConfig, Socket};

fn main() -> std::io::Result<()> {
    let workers: usize = env_or("WORKERS", 1);
    let rt = if workers > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    rt.block_on(run())
}

async fn run() -> std::io::Result<()> {
    let mut config = ServerConfig::default();
    let cluster = match std::env::var("REDIS_URL") {
        Ok(url) => {
            let rt: Arc<dyn sio::Runtime> = Arc::new(sio_tokio::TokioRuntime);
            let cluster = sio_redis::RedisCluster::new(rt, &url, Default::default())
                .map_err(std::io::Error::other)?;
            config.adapter = cluster.adapter_factory();
            Some(cluster)
        }
        Err(_) => None,
    };
    let io = sio_tokio::new_server(config);
    if let Some(cluster) = cluster {
        // The port is printed once the cluster's messages for "/" arrive.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cluster.is_subscribed() {
            if Instant::now() > deadline {
                return Err(std::io::Error::other("never subscribed to Redis"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cluster
            .subscriptions_settled()
            .await
            .map_err(std::io::Error::other)?;
    }
    io.on_connection(|socket: Socket| async move {
        socket.on(
            "echo",
            |_: Socket, payload: Value, ack: AckSender| async move {
                let _ = ack.send(&payload);
            },
        );
        socket.on("broadcast", |socket: Socket, payload: Value| async move {
            let _ = socket.ns().emit("bcast", &payload);
        });
    });

    let hz: f64 = env_or("TICK_HZ", 0.0);
    if hz > 0.0 {
        let ns = io.of("/");
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / hz));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                every.tick().await;
                let t = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_micros() as u64;
                let _ = ns.emit("bcast", &serde_json::json!({ "t": t }));
            }
        });
    }

    #[cfg(feature = "lock-stats")]
    if let Ok(path) = std::env::var("LOCK_STATS") {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                let table = sio::lock_stats::table(&sio::lock_stats::report());
                let _ = std::fs::write(&path, table);
            }
        });
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", env_or("PORT", 0u16))).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "PID {}", std::process::id())?;
    writeln!(out, "PORT {}", listener.local_addr()?.port())?;
    out.flush()?;
    drop(out);
    sio_tokio::serve(listener, io).await
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
