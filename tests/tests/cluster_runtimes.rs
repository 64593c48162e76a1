//! One cluster of three servers on one real `redis-server`: ours on tokio, ours on smol (both on
//! `sio-redis`) and an npm `socket.io` server on `@socket.io/redis-adapter`, a client of ours
//! and an npm `socket.io-client` on each, with the classic adapter and with the sharded one. A broadcast from each server reaches every client exactly once, a room with members
//! on all three servers gets a room broadcast from each, and each of our servers counts three
//! servers and fetches every socket.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sio::client::{ClientSocket, Transport};
use sio::{Server, ServerConfig, Socket};
use sio_redis::{AdapterMode, RedisAdapterOptions, RedisCluster};
use sio_tests::cluster::{
    ask, connect, join_when_settled, record, AdapterKind, Control, Events, NodeClusterServer,
    NpmClient,
};
use sio_tests::redis_server::RedisServer;
use sio_tests::{Driver, Smol, TestServer, Tokio};

/// How long a "does NOT happen" check waits.
const QUIET: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(10);
const WS: &[Transport] = &[Transport::WebSocket];

/// A join is answered once the room's channel is subscribed (sharded dynamic mode).
fn handlers(io: &Server, cluster: RedisCluster) {
    io.on_connection(move |s: Socket| {
        let cluster = cluster.clone();
        async move {
            join_when_settled(&s, &cluster);
        }
    });
}

/// Our server on driver `D`, on the cluster of the Redis at `url`.
fn start_ours<D: Driver>(url: &str, mode: AdapterMode) -> (TestServer, RedisCluster) {
    let options = RedisAdapterOptions {
        mode,
        ..RedisAdapterOptions::default()
    };
    let cluster =
        D::block_on(async { RedisCluster::new(D::runtime(), url, options).expect("redis URL") });
    let config = ServerConfig {
        adapter: cluster.adapter_factory(),
        ..ServerConfig::default()
    };
    let c = cluster.clone();
    let srv = D::start(config, move |io| handlers(io, c));
    let deadline = Instant::now() + WAIT;
    while !cluster.is_subscribed() {
        assert!(Instant::now() < deadline, "{}: never subscribed", D::NAME);
        std::thread::sleep(Duration::from_millis(10));
    }
    (srv, cluster)
}

/// Every client got `want` once, and nothing more.
async fn once_each(all: &mut [Events<Value>], want: &Value) {
    for e in all.iter_mut() {
        assert_eq!(&e.recv().await, want);
    }
    for e in all.iter_mut() {
        e.none_within(QUIET).await;
    }
}

#[test]
fn tokio_smol_and_node_servers_in_one_cluster_classic() {
    three_servers(AdapterKind::CLASSIC, AdapterMode::Classic);
}

#[test]
fn tokio_smol_and_node_servers_in_one_cluster_sharded() {
    three_servers(
        AdapterKind::SHARDED,
        AdapterMode::Sharded(sio_redis::SubscriptionMode::Dynamic),
    );
}

fn three_servers(kind: AdapterKind, mode: AdapterMode) {
    let redis = RedisServer::start();
    let node = NodeClusterServer::start(&redis.url(), kind);
    let (on_tokio, _c1) = start_ours::<Tokio>(&redis.url(), mode);
    let (on_smol, _c2) = start_ours::<Smol>(&redis.url(), mode);
    let (io_t, io_s) = (on_tokio.server.clone(), on_smol.server.clone());
    Tokio::block_on(async {
        let ctl = Control::connect::<Tokio>(&node.url()).await;
        ctl.wait_server_count(3).await;
        assert_eq!(io_t.server_count().await.unwrap(), 3);
        assert_eq!(io_s.server_count().await.unwrap(), 3);

        // The npm socket.io-client on each server (websocket, long-polling, upgraded), and
        // ours on each.
        let npm = [
            NpmClient::connect::<Tokio>(&node.url(), "/", "websocket"),
            NpmClient::connect::<Tokio>(&on_tokio.url(), "/", "polling"),
            NpmClient::connect::<Tokio>(&on_smol.url(), "/", "upgrade"),
        ];
        let clients: Vec<ClientSocket> = vec![
            connect::<Tokio>(&node.url(), "/", WS).await,
            connect::<Tokio>(&on_tokio.url(), "/", WS).await,
            connect::<Tokio>(&on_smol.url(), "/", WS).await,
        ];
        let mut news: Vec<Events<Value>> = clients
            .iter()
            .map(|c| record::<Tokio, Value>(c, "news"))
            .chain(npm.iter().map(|c| c.record("news")))
            .collect();

        io_t.emit("news", "from tokio").unwrap();
        once_each(&mut news, &json!("from tokio")).await;
        io_s.emit("news", "from smol").unwrap();
        once_each(&mut news, &json!("from smol")).await;
        ctl.op("broadcast", json!({"event": "news", "args": ["from node"]}))
            .await;
        once_each(&mut news, &json!("from node")).await;

        // A room with a member on every server.
        for c in &clients {
            ask(c, "join", "everywhere").await;
        }
        for c in &npm {
            assert_eq!(
                c.ask("join", &[json!("everywhere")]).await,
                json!({"ok": true})
            );
        }
        io_s.to("everywhere").emit("news", "room, smol").unwrap();
        once_each(&mut news, &json!("room, smol")).await;
        ctl.op(
            "broadcast",
            json!({"event": "news", "args": ["room, node"], "rooms": ["everywhere"]}),
        )
        .await;
        once_each(&mut news, &json!("room, node")).await;

        // Each of ours fetches every socket of the cluster.
        for io in [&io_t, &io_s] {
            let all = io.to("everywhere").fetch_sockets().await.expect("fetch");
            assert_eq!(all.len(), 6, "{all:?}");
            for c in &npm {
                assert!(all.iter().any(|s| s.id() == c.id), "{} missing", c.id);
            }
        }
    });
}
