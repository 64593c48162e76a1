//! Two of our servers (on `sio-redis`, one Redis) behind a real nginx with the shipped
//! sticky-session configurations: polling-only clients and polling → websocket upgrades stay on
//! the server nginx picked, a cluster broadcast reaches them wherever they are, and a chat
//! message sent through nginx reaches a client of the other server.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sio::client::Transport;
use sio::server::AckSender;
use sio::{Server, ServerConfig, Socket};
use sio_redis::{RedisAdapterOptions, RedisCluster};
use sio_tests::cluster::{ask, connect, record};
use sio_tests::nginx::{Nginx, Sticky};
use sio_tests::redis_server::RedisServer;
use sio_tests::{sticky, Driver, TestServer, Tokio};

const WAIT: Duration = Duration::from_secs(10);

/// What the sticky checks ask (`whoami`, `echo`), and the chat: a `chat message` goes to every
/// client of the cluster.
fn handlers(io: &Server, port: u16) {
    io.on_connection(move |s: Socket| async move {
        s.on(
            "whoami",
            move |s: Socket, _: Value, ack: AckSender| async move {
                let _ = ack.send(&json!({"id": s.id(), "port": port, "transport": s.transport()}));
            },
        );
        s.on("echo", |_: Socket, v: Value, ack: AckSender| async move {
            let _ = ack.send(&v);
        });
        s.on("chat message", |s: Socket, text: String| async move {
            let _ = s.ns().emit("chat message", &text);
        });
    });
}

/// One of ours on the cluster of the Redis at `url`, subscribed, with [`handlers`].
fn start_ours(url: &str) -> (TestServer, RedisCluster) {
    let cluster = Tokio::block_on(async {
        RedisCluster::new(Tokio::runtime(), url, RedisAdapterOptions::default()).expect("redis URL")
    });
    let config = ServerConfig {
        adapter: cluster.adapter_factory(),
        ..ServerConfig::default()
    };
    let srv = Tokio::start(config, |_| {});
    handlers(&srv.server, srv.port);
    let deadline = Instant::now() + WAIT;
    while !cluster.is_subscribed() {
        assert!(Instant::now() < deadline, "never subscribed to Redis");
        std::thread::sleep(Duration::from_millis(10));
    }
    (srv, cluster)
}

/// A Redis and two of ours on it.
struct Pair {
    a: TestServer,
    b: TestServer,
    _clusters: [RedisCluster; 2],
    _redis: RedisServer,
}

impl Pair {
    fn start() -> Self {
        let redis = RedisServer::start();
        let (a, ca) = start_ours(&redis.url());
        let (b, cb) = start_ours(&redis.url());
        let io = a.server.clone();
        Tokio::block_on(async move {
            let deadline = Instant::now() + WAIT;
            while io.server_count().await.ok() != Some(2) {
                assert!(
                    Instant::now() < deadline,
                    "the servers never saw each other"
                );
                sio_tests::sleep(&*Tokio::runtime(), Duration::from_millis(20)).await;
            }
        });
        Self {
            a,
            b,
            _clusters: [ca, cb],
            _redis: redis,
        }
    }

    fn ports(&self) -> [u16; 2] {
        [self.a.port, self.b.port]
    }
}

#[test]
fn two_rust_servers_behind_nginx_sticky_by_address() {
    let p = Pair::start();
    let nginx = Nginx::start(&p.ports(), Sticky::IpHash);
    let io_a = p.a.server.clone();
    Tokio::block_on(async {
        sticky::sticky_by_address(&nginx, p.ports(), |arg| {
            io_a.emit("news", &arg).expect("broadcast");
            std::future::ready(())
        })
        .await;

        // The chat: a message sent through nginx (polling, then upgraded) reaches a client of
        // the other server, and the sender's own.
        let via = connect::<Tokio>(
            &nginx.url(),
            "/",
            &[Transport::Polling, Transport::WebSocket],
        )
        .await;
        let picked = ask(&via, "whoami", &()).await["port"].as_u64().unwrap();
        let other = if picked == u64::from(p.a.port) {
            p.b.url()
        } else {
            p.a.url()
        };
        let there = connect::<Tokio>(&other, "/", &[Transport::WebSocket]).await;
        assert_ne!(
            ask(&there, "whoami", &()).await["port"].as_u64().unwrap(),
            picked
        );
        let mut heard_there = record::<Tokio, String>(&there, "chat message");
        let mut heard_here = record::<Tokio, String>(&via, "chat message");
        via.emit("chat message", &"hello from behind nginx")
            .unwrap();
        assert_eq!(heard_there.recv().await, "hello from behind nginx");
        assert_eq!(heard_here.recv().await, "hello from behind nginx");
        heard_there.none_within(Duration::from_millis(300)).await;
    });
}

#[test]
fn two_rust_servers_behind_nginx_sticky_by_cookie() {
    let p = Pair::start();
    let nginx = Nginx::start(&p.ports(), Sticky::Cookie);
    sticky::sticky_by_cookie(&nginx, p.ports());
    Tokio::block_on(sticky::sticky_by_cookie_client(&nginx, p.ports()));
}
