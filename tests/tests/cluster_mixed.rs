//! A mixed cluster: one npm `socket.io` server on `@socket.io/redis-adapter` and one of ours on
//! `sio-redis`, sharing a real `redis-server`, with our client connected to each, for the
//! classic adapter and the sharded one (in its three subscription modes). Broadcasts cross in
//! both directions exactly once (to all, to a room, except a room), each side's `fetchSockets`
//! lists the other's sockets with their rooms and data, remote joins act on the other side,
//! both count two servers, server-side emits and broadcasts with acks cross, and a Redis
//! restart is survived.
//!
//! Waits are on events, bounded; fixed waits only where a test checks that something does NOT
//! happen ([`QUIET`]).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sio::client::{ClientAckSender, ClientSocket, Transport};
use sio::server::{AckSender, ClusterError};
use sio::{Server, ServerConfig, ServerSideAck, Socket};
use sio_redis::{AdapterMode, RedisAdapterOptions, RedisCluster};
use sio_tests::cluster::{
    ask, connect, emitter, join_when_settled, record, AdapterKind, Control, NodeClusterServer,
    SubscriptionMode,
};
use sio_tests::redis_server::RedisServer;
use sio_tests::{Driver, TestServer, Tokio};

/// How long a "does NOT happen" check waits.
const QUIET: Duration = Duration::from_millis(300);
/// How long a condition may take to hold.
const WAIT: Duration = Duration::from_secs(10);

const WS: &[Transport] = &[Transport::WebSocket];

/// The handlers the Node cluster server has on `/`, on ours. A join is answered once the
/// room's channel is subscribed (sharded dynamic modes), as Node's test server does.
fn handlers(io: &Server, cluster: RedisCluster) {
    io.on_connection(move |s: Socket| {
        let cluster = cluster.clone();
        async move {
            join_when_settled(&s, &cluster);
            more_handlers(&s);
        }
    });
}

fn more_handlers(s: &Socket) {
    s.on(
        "setData",
        |s: Socket, data: Value, ack: AckSender| async move {
            s.set_shared_data(&data).expect("JSON");
            let _ = ack.send(&json!({"ok": true}));
        },
    );
    s.on("whoami", |s: Socket, _: Value, ack: AckSender| async move {
        let _ = ack.send(&json!({"id": s.id()}));
    });
}

/// Our adapter's mode for Node's `kind`.
fn mode_of(kind: AdapterKind) -> AdapterMode {
    match kind {
        AdapterKind::Classic { .. } => AdapterMode::Classic,
        AdapterKind::Sharded(m) => AdapterMode::Sharded(match m {
            SubscriptionMode::Static => sio_redis::SubscriptionMode::Static,
            SubscriptionMode::Dynamic => sio_redis::SubscriptionMode::Dynamic,
            SubscriptionMode::DynamicPrivate => sio_redis::SubscriptionMode::DynamicPrivate,
        }),
    }
}

/// Our server on the cluster of the Redis at `url`, speaking `kind`.
fn start_ours(url: &str, kind: AdapterKind) -> (TestServer, RedisCluster) {
    start_ours_with(
        url,
        RedisAdapterOptions {
            mode: mode_of(kind),
            ..RedisAdapterOptions::default()
        },
    )
}

/// Our server on the cluster of the Redis at `url`, with the adapter's `options`.
fn start_ours_with(url: &str, options: RedisAdapterOptions) -> (TestServer, RedisCluster) {
    let cluster = Tokio::block_on(async {
        RedisCluster::new(Tokio::runtime(), url, options).expect("redis URL")
    });
    let config = ServerConfig {
        adapter: cluster.adapter_factory(),
        ..ServerConfig::default()
    };
    let c = cluster.clone();
    let srv = Tokio::start(config, move |io| handlers(io, c));
    let deadline = Instant::now() + WAIT;
    while !cluster.is_subscribed() {
        assert!(Instant::now() < deadline, "never subscribed to Redis");
        std::thread::sleep(Duration::from_millis(10));
    }
    (srv, cluster)
}

async fn id_of(s: &ClientSocket) -> String {
    let who = ask(s, "whoami", &()).await;
    who["id"].as_str().expect("an id").to_owned()
}

/// Polls `check` until it holds, within [`WAIT`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        sio_tests::sleep(&*Tokio::runtime(), Duration::from_millis(20)).await;
    }
}

const SHARDED_STATIC: AdapterKind = AdapterKind::Sharded(SubscriptionMode::Static);
const SHARDED_PRIVATE: AdapterKind = AdapterKind::Sharded(SubscriptionMode::DynamicPrivate);

#[test]
fn a_rust_server_joins_a_node_cluster_classic() {
    joins_a_node_cluster(AdapterKind::CLASSIC);
}

#[test]
fn a_rust_server_joins_a_node_cluster_sharded_dynamic() {
    joins_a_node_cluster(AdapterKind::SHARDED);
}

#[test]
fn a_rust_server_joins_a_node_cluster_sharded_static() {
    joins_a_node_cluster(SHARDED_STATIC);
}

#[test]
fn a_rust_server_joins_a_node_cluster_sharded_dynamic_private() {
    joins_a_node_cluster(SHARDED_PRIVATE);
}

fn joins_a_node_cluster(kind: AdapterKind) {
    let redis = RedisServer::start();
    let node = NodeClusterServer::start(&redis.url(), kind);
    let (ours, cluster) = start_ours(&redis.url(), kind);
    let io = ours.server.clone();
    Tokio::block_on(async {
        let ctl = Control::connect::<Tokio>(&node.url()).await;
        ctl.wait_server_count(2).await;
        assert_eq!(io.server_count().await.expect("server count"), 2);

        let cn = connect::<Tokio>(&node.url(), "/", WS).await;
        let cr = connect::<Tokio>(&ours.url(), "/", WS).await;
        let (id_n, id_r) = (id_of(&cn).await, id_of(&cr).await);
        let mut news_n = record::<Tokio, Value>(&cn, "news");
        let mut news_r = record::<Tokio, Value>(&cr, "news");

        // A broadcast from ours reaches both clients, once; one from Node too.
        io.emit("news", &json!({"n": 1})).unwrap();
        assert_eq!(news_n.recv().await, json!({"n": 1}));
        assert_eq!(news_r.recv().await, json!({"n": 1}));
        ctl.op("broadcast", json!({"event": "news", "args": [{"n": 2}]}))
            .await;
        assert_eq!(news_n.recv().await, json!({"n": 2}));
        assert_eq!(news_r.recv().await, json!({"n": 2}));
        news_n.none_within(QUIET).await;
        news_r.none_within(QUIET).await;
        // A volatile broadcast crosses with Node's `volatile` flag (delivered to ready clients).
        io.volatile().emit("news", "volatile").unwrap();
        assert_eq!(news_n.recv().await, json!("volatile"));
        assert_eq!(news_r.recv().await, json!("volatile"));

        // Binary arguments cross as binary.
        let mut bin_n = record::<Tokio, bytes::Bytes>(&cn, "bin");
        io.emit("bin", &bytes::Bytes::from_static(b"\x00\x01\xff"))
            .unwrap();
        assert_eq!(&bin_n.recv().await[..], b"\x00\x01\xff");

        // Rooms: a member on the other side only.
        ask(&cn, "join", "blue").await;
        ask(&cr, "join", "red").await;
        io.to("blue").emit("news", "for blue").unwrap();
        assert_eq!(news_n.recv().await, json!("for blue"));
        ctl.op(
            "broadcast",
            json!({"event": "news", "args": ["for red"], "rooms": ["red"]}),
        )
        .await;
        assert_eq!(news_r.recv().await, json!("for red"));
        io.except("blue").emit("news", "not blue").unwrap();
        assert_eq!(news_r.recv().await, json!("not blue"));
        news_n.none_within(QUIET).await;
        news_r.none_within(QUIET).await;

        // fetch_sockets from ours lists Node's socket with its rooms and data, and the other
        // way round.
        ask(&cn, "setData", &json!({"name": "from node"})).await;
        ask(&cr, "setData", &json!({"name": "from rust"})).await;
        let all = io.fetch_sockets().await.expect("fetch");
        assert_eq!(all.len(), 2, "{all:?}");
        let theirs = all.iter().find(|s| s.id() == id_n).expect("Node's socket");
        assert!(theirs.local_socket().is_none());
        assert!(theirs.rooms().iter().any(|r| &**r == "blue"), "{theirs:?}");
        assert_eq!(
            theirs.data::<Value>().unwrap(),
            json!({"name": "from node"})
        );
        let blue = io.to("blue").fetch_sockets().await.expect("fetch blue");
        assert_eq!(blue.len(), 1);
        assert_eq!(blue[0].id(), id_n);

        let seen = ctl.op("fetchSockets", json!({})).await;
        let seen = seen.as_array().expect("a list");
        let mine = seen
            .iter()
            .find(|s| s["id"] == json!(id_r))
            .unwrap_or_else(|| panic!("our socket {id_r} missing from {seen:?}"));
        assert_eq!(mine["data"], json!({"name": "from rust"}));
        let rooms: Vec<String> = serde_json::from_value(mine["rooms"].clone()).unwrap();
        assert!(rooms.contains(&"red".to_owned()), "{rooms:?}");

        // Remote joins: ours makes Node's socket join, Node makes ours join.
        io.to(id_n.as_str()).sockets_join(["green"]);
        eventually("Node's socket in green", || async {
            let green = ctl.op("fetchSockets", json!({"rooms": ["green"]})).await;
            green.as_array().map(Vec::len) == Some(1) && green[0]["id"] == json!(id_n)
        })
        .await;
        ctl.op(
            "socketsJoin",
            json!({"rooms": ["yellow"], "targetRooms": [id_r]}),
        )
        .await;
        eventually("our socket in yellow", || async {
            io.of("/")
                .sockets()
                .iter()
                .any(|s| s.rooms().iter().any(|r| &**r == "yellow"))
        })
        .await;

        // A RemoteSocket emits to its socket wherever it is.
        theirs.emit("news", "just you").unwrap();
        assert_eq!(news_n.recv().await, json!("just you"));
        news_r.none_within(QUIET).await;
    });
    assert_eq!(cluster.malformed(), 0);
    drop(node);
    drop(redis);
}

/// With Redis gone, local delivery goes on and cluster operations fail at once; when Redis is
/// back, the adapter subscribes again by itself and broadcasts cross again.
#[test]
fn redis_down_then_back_classic() {
    redis_down_then_back(AdapterKind::CLASSIC);
}

#[test]
fn redis_down_then_back_sharded() {
    redis_down_then_back(AdapterKind::SHARDED);
}

fn redis_down_then_back(kind: AdapterKind) {
    let mut redis = RedisServer::start();
    let node = NodeClusterServer::start(&redis.url(), kind);
    let (ours, cluster) = start_ours(&redis.url(), kind);
    let io = ours.server.clone();
    Tokio::block_on(async {
        let ctl = Control::connect::<Tokio>(&node.url()).await;
        ctl.wait_server_count(2).await;
        let cn = connect::<Tokio>(&node.url(), "/", WS).await;
        let cr = connect::<Tokio>(&ours.url(), "/", WS).await;
        let mut news_n = record::<Tokio, Value>(&cn, "news");
        let mut news_r = record::<Tokio, Value>(&cr, "news");

        redis.kill();
        // Local delivery does not wait for Redis.
        io.emit("news", "while down").unwrap();
        assert_eq!(news_r.recv().await, json!("while down"));
        // A cluster operation fails quickly with a clear error.
        let started = Instant::now();
        eventually("fetch fails while Redis is down", || async {
            io.fetch_sockets().await.is_err()
        })
        .await;
        assert!(started.elapsed() < WAIT);

        redis.restart();
        eventually("subscribed again", || async { cluster.is_subscribed() }).await;
        ctl.wait_server_count(2).await;
        // Broadcasts cross again, both ways.
        let deadline = Instant::now() + WAIT;
        loop {
            io.emit("news", "back").unwrap();
            if news_n
                .next_within(Duration::from_millis(200))
                .await
                .is_some()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a broadcast from ours never reached Node's client again"
            );
        }
        ctl.op("broadcast", json!({"event": "news", "args": ["from node"]}))
            .await;
        loop {
            // Drain what ours delivered locally meanwhile.
            let v = news_r.recv().await;
            if v == json!("from node") {
                break;
            }
        }
    });
    drop(node);
    drop(redis);
}

/// Server-side emits both ways, with and without acks; broadcasts with acks from either side
/// collect the answers of the clients of both servers; timeouts say how many are missing.
#[test]
fn server_side_emits_and_broadcasts_with_acks_classic() {
    server_side_emits_and_broadcasts_with_acks(AdapterKind::CLASSIC);
}

#[test]
fn server_side_emits_and_broadcasts_with_acks_sharded() {
    server_side_emits_and_broadcasts_with_acks(AdapterKind::SHARDED);
}

fn server_side_emits_and_broadcasts_with_acks(kind: AdapterKind) {
    let redis = RedisServer::start();
    let node = NodeClusterServer::start(&redis.url(), kind);
    let (ours, cluster) = start_ours(&redis.url(), kind);
    let io = ours.server.clone();
    let (notes_tx, notes_rx) = futures_channel::mpsc::unbounded::<String>();
    let mut notes = sio_tests::cluster::Events::new(notes_rx, Tokio::runtime());
    io.on_server_side("note", move |text: String, ack: ServerSideAck| {
        let tx = notes_tx.clone();
        async move {
            assert!(!ack.expected());
            let _ = tx.unbounded_send(text);
        }
    });
    io.on_server_side("add", |(a, b): (i64, i64), ack: ServerSideAck| async move {
        ack.send(&json!({"sum": a + b, "from": "rust"})).unwrap();
    });
    Tokio::block_on(async {
        let ctl = Control::connect::<Tokio>(&node.url()).await;
        ctl.wait_server_count(2).await;
        let cn = connect::<Tokio>(&node.url(), "/", WS).await;
        let cr = connect::<Tokio>(&ours.url(), "/", WS).await;
        for (c, side) in [(&cn, "node"), (&cr, "rust")] {
            c.on(
                "question",
                move |_: ClientSocket, q: String, ack: ClientAckSender| async move {
                    let _ = ack.send(&format!("{side} client: {q}"));
                },
            );
        }
        let mut news_n = record::<Tokio, Value>(&cn, "news");

        // Rust -> Node with an ack: one answer, from the Node server's listener.
        let port = node.url().rsplit(':').next().unwrap().to_owned();
        let pongs: Vec<String> = io
            .server_side_emit_with_ack("ping-server", &"hi", Some(WAIT))
            .await
            .expect("Node answers");
        assert_eq!(pongs, [format!("pong from node {port}")]);
        // Rust -> Node without: Node's listener emits to its own client.
        io.server_side_emit("server-news", &json!({"via": "rust"}))
            .unwrap();
        assert_eq!(news_n.recv().await, json!({"via": "rust"}));

        // Node -> Rust with an ack: our listener answers.
        let r = ctl
            .op(
                "serverSideEmit",
                json!({"event": "add", "args": [40, 2], "withAck": true, "timeout": 5000}),
            )
            .await;
        assert_eq!(r["err"], Value::Null, "{r}");
        assert_eq!(r["responses"], json!([{"sum": 42, "from": "rust"}]));
        // Node -> Rust without: our listener runs.
        let r = ctl
            .op(
                "serverSideEmit",
                json!({"event": "note", "args": ["from node"], "withAck": false}),
            )
            .await;
        assert_eq!(r["ok"], json!(true), "{r}");
        assert_eq!(notes.recv().await, "from node");

        // A broadcast with acks from ours: both clients answer.
        let acks = io
            .timeout(WAIT)
            .emit_with_ack::<_, String>("question", &"q1")
            .await
            .expect("emitted");
        assert!(acks.is_complete(), "{acks:?}");
        assert_eq!(acks.local.len(), 1);
        assert_eq!(
            acks.local[0].result.as_ref().unwrap().as_str(),
            "rust client: q1"
        );
        let remote: Vec<&String> = acks.remote.iter().map(|r| r.as_ref().unwrap()).collect();
        assert_eq!(remote, ["node client: q1"]);
        // From Node: our client's answer is among the responses.
        let r = ctl
            .op(
                "broadcastWithAck",
                json!({"event": "question", "args": ["q2"], "timeout": 5000}),
            )
            .await;
        assert_eq!(r["err"], Value::Null, "{r}");
        let mut got: Vec<String> = serde_json::from_value(r["responses"].clone()).unwrap();
        got.sort();
        assert_eq!(got, ["node client: q2", "rust client: q2"]);

        // Timeouts: a client of Node's that never answers is counted missing...
        let _silent = connect::<Tokio>(&node.url(), "/", WS).await;
        eventually("three clients", || async {
            io.fetch_sockets().await.map(|v| v.len()) == Ok(3)
        })
        .await;
        let acks = io
            .timeout(Duration::from_millis(500))
            .emit_with_ack::<_, String>("question", &"q3")
            .await
            .expect("emitted");
        assert_eq!(acks.local.len(), 1);
        assert!(acks.local[0].result.is_ok());
        assert_eq!(acks.remote.len(), 1, "{acks:?}");
        assert!(
            matches!(
                acks.remote_error,
                Some(ClusterError::Timeout { missing: 1 })
            ),
            "{acks:?}"
        );
        // ...and so is a server whose listener never answers.
        let started = Instant::now();
        let r = io
            .server_side_emit_with_ack::<_, Value>(
                "nobody-listens",
                &(),
                Some(Duration::from_millis(300)),
            )
            .await;
        assert_eq!(r, Err(ClusterError::Timeout { missing: 1 }));
        assert!(started.elapsed() < Duration::from_secs(3));
        // Node's side: a client of ours that never answers.
        let _quiet = connect::<Tokio>(&ours.url(), "/", WS).await;
        let r = ctl
            .op(
                "broadcastWithAck",
                json!({"event": "question", "args": ["q4"], "timeout": 500}),
            )
            .await;
        assert!(r["err"].is_string(), "{r}");
        let mut got: Vec<String> = serde_json::from_value(r["responses"].clone()).unwrap();
        got.sort();
        assert_eq!(got, ["node client: q4", "rust client: q4"]);
    });
    assert_eq!(cluster.malformed(), 0);
    drop(node);
    drop(redis);
}

/// What the npm `@socket.io/redis-emitter` publishes (uid `emitter`, no server behind it)
/// reaches our server: broadcasts to all, to a room, except a room, with binary, volatile;
/// remote joins and leaves, a server-side emit, and a remote disconnect.
#[test]
fn the_npm_emitter_reaches_our_clients() {
    let redis = RedisServer::start();
    let (ours, cluster) = start_ours(&redis.url(), AdapterKind::CLASSIC);
    let io = ours.server.clone();
    let (notes_tx, notes_rx) = futures_channel::mpsc::unbounded::<Value>();
    let mut notes = sio_tests::cluster::Events::new(notes_rx, Tokio::runtime());
    io.on_server_side("note", move |v: Value, _: ServerSideAck| {
        let tx = notes_tx.clone();
        async move {
            let _ = tx.unbounded_send(v);
        }
    });
    let url = redis.url();
    let emit = |ops: Value| emitter(&url, &ops);
    Tokio::block_on(async {
        let c1 = connect::<Tokio>(&ours.url(), "/", WS).await;
        let c2 = connect::<Tokio>(&ours.url(), "/", WS).await;
        ask(&c1, "join", "blue").await;
        let id2 = id_of(&c2).await;
        let mut news1 = record::<Tokio, Value>(&c1, "news");
        let mut news2 = record::<Tokio, Value>(&c2, "news");

        emit(json!([{"op": "emit", "event": "news", "args": ["all"]}]));
        assert_eq!(news1.recv().await, json!("all"));
        assert_eq!(news2.recv().await, json!("all"));
        emit(json!([{"op": "emit", "event": "news", "args": ["blue"], "rooms": ["blue"]}]));
        assert_eq!(news1.recv().await, json!("blue"));
        emit(json!([{"op": "emit", "event": "news", "args": ["not blue"], "except": ["blue"]}]));
        assert_eq!(news2.recv().await, json!("not blue"));
        emit(json!([{"op": "emit", "event": "news", "args": ["v"], "volatile": true}]));
        assert_eq!(news1.recv().await, json!("v"));
        assert_eq!(news2.recv().await, json!("v"));
        news1.none_within(QUIET).await;
        news2.none_within(QUIET).await;

        let mut bin = record::<Tokio, bytes::Bytes>(&c2, "bin");
        emit(json!([{"op": "emit", "event": "bin", "args": [[0, 1, 255]], "binary": 0}]));
        assert_eq!(&bin.recv().await[..], b"\x00\x01\xff");

        // Remote joins and leaves, by room.
        emit(json!([{"op": "socketsJoin", "rooms": ["green"], "targetRooms": [id2]}]));
        let in_green = || {
            io.of("/")
                .sockets()
                .iter()
                .filter(|s| s.rooms().iter().any(|r| &**r == "green"))
                .map(|s| s.id().to_owned())
                .collect::<Vec<_>>()
        };
        eventually("c2 in green", || {
            let ok = in_green() == [id2.clone()];
            async move { ok }
        })
        .await;
        emit(json!([{"op": "socketsLeave", "rooms": ["green"]}]));
        eventually("nobody in green", || {
            let v = in_green();
            async move { v.is_empty() }
        })
        .await;

        emit(json!([{"op": "serverSideEmit", "event": "note", "args": [{"from": "emitter"}]}]));
        assert_eq!(notes.recv().await, json!({"from": "emitter"}));

        let (tx, rx) = futures_channel::mpsc::unbounded();
        c1.on_disconnect(move |_, reason| {
            let tx = tx.clone();
            async move {
                let _ = tx.unbounded_send(format!("{reason:?}"));
            }
        });
        let mut gone = sio_tests::cluster::Events::new(rx, Tokio::runtime());
        emit(json!([{"op": "disconnectSockets", "targetRooms": ["blue"]}]));
        let reason = gone.recv().await;
        assert!(reason.contains("Server"), "{reason}");
        assert!(c2.connected(), "only blue's member goes");
    });
    assert_eq!(cluster.malformed(), 0);
    drop(redis);
}

/// A server that stops answering in the middle of the cluster's requests (SIGSTOP: its Redis
/// subscriptions stay, so it is still counted): each request of ours ends at its deadline with
/// the missing server counted, local delivery goes on meanwhile, and once it answers again the
/// requests complete again.
#[test]
fn a_server_that_hangs_is_handled_by_the_timeout() {
    let redis = RedisServer::start();
    let node = NodeClusterServer::start(&redis.url(), AdapterKind::CLASSIC);
    let (ours, cluster) = start_ours_with(
        &redis.url(),
        RedisAdapterOptions {
            requests_timeout: Duration::from_millis(500),
            ..RedisAdapterOptions::default()
        },
    );
    let io = ours.server.clone();
    Tokio::block_on(async {
        let ctl = Control::connect::<Tokio>(&node.url()).await;
        ctl.wait_server_count(2).await;
        let cr = connect::<Tokio>(&ours.url(), "/", WS).await;
        let mut news_r = record::<Tokio, Value>(&cr, "news");
        assert_eq!(io.fetch_sockets().await.expect("fetch").len(), 1);

        node.pause(true);
        let started = Instant::now();
        assert_eq!(
            io.fetch_sockets().await.map(|v| v.len()),
            Err(ClusterError::Timeout { missing: 1 })
        );
        let r = io
            .server_side_emit_with_ack::<_, Value>("ping-server", &(), None)
            .await;
        assert_eq!(r, Err(ClusterError::Timeout { missing: 1 }));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        io.emit("news", "still here").unwrap();
        assert_eq!(news_r.recv().await, json!("still here"));

        node.pause(false);
        eventually("Node answers again", || async {
            io.fetch_sockets().await.is_ok()
        })
        .await;
    });
    assert_eq!(cluster.malformed(), 0);
    drop(node);
    drop(redis);
}

/// Both queues of the adapter are bounded in bytes: a broadcast bigger than the bound is
/// dropped and counted on the way out (our clients still get it) and on the way in (from
/// Node: our clients do not), and smaller ones go on crossing both ways.
#[test]
fn the_cluster_queues_are_bounded_in_bytes() {
    let redis = RedisServer::start();
    let node = NodeClusterServer::start(&redis.url(), AdapterKind::CLASSIC);
    let (ours, cluster) = start_ours_with(
        &redis.url(),
        RedisAdapterOptions {
            max_queued_bytes: 4096,
            ..RedisAdapterOptions::default()
        },
    );
    let io = ours.server.clone();
    let big = "x".repeat(10_000);
    Tokio::block_on(async {
        let ctl = Control::connect::<Tokio>(&node.url()).await;
        ctl.wait_server_count(2).await;
        let cn = connect::<Tokio>(&node.url(), "/", WS).await;
        let cr = connect::<Tokio>(&ours.url(), "/", WS).await;
        let mut news_n = record::<Tokio, Value>(&cn, "news");
        let mut news_r = record::<Tokio, Value>(&cr, "news");

        io.emit("news", &big).unwrap();
        assert_eq!(news_r.recv().await, json!(big), "local delivery");
        assert_eq!(cluster.dropped(), 1);
        io.emit("news", "small").unwrap();
        assert_eq!(news_r.recv().await, json!("small"));
        assert_eq!(
            news_n.recv().await,
            json!("small"),
            "the big one never left"
        );

        ctl.op("broadcast", json!({"event": "news", "args": [big]}))
            .await;
        assert_eq!(news_n.recv().await, json!(big));
        ctl.op("broadcast", json!({"event": "news", "args": ["small too"]}))
            .await;
        assert_eq!(news_n.recv().await, json!("small too"));
        assert_eq!(
            news_r.recv().await,
            json!("small too"),
            "the big one never came"
        );
        assert_eq!(cluster.dropped_inbound(), 1);
    });
    assert_eq!(cluster.malformed(), 0);
    drop(node);
    drop(redis);
}
