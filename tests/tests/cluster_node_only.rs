//! The cluster harness on a Node-only cluster: two npm `socket.io` servers on
//! `@socket.io/redis-adapter` sharing a real `redis-server`, driven through their `/control`
//! namespace, observed by our client (`sio::client`, on tokio) connected to each of them; the
//! same behind a real nginx with the shipped sticky-session configurations; and a Redis outage.
//!
//! Waits are on events, bounded; fixed waits only where a test checks that something does NOT
//! happen ([`QUIET`]).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sio::client::{ClientAckSender, ClientSocket, DisconnectReason, Transport};
use sio_tests::cluster::{
    ask, connect, record, AdapterKind, ClusterOptions, Control, Events, NodeClusterServer,
    SubscriptionMode,
};
use sio_tests::nginx::{Nginx, Sticky};
use sio_tests::redis_server::RedisServer;
use sio_tests::sticky;
use sio_tests::{Driver, Tokio};

/// How long a "does NOT happen" check waits.
const QUIET: Duration = Duration::from_millis(300);

const WS: &[Transport] = &[Transport::WebSocket];

/// A Redis and two Node servers on it (the servers are dropped first, so that they do not
/// report the lost Redis).
struct Cluster {
    a: NodeClusterServer,
    b: NodeClusterServer,
    redis: RedisServer,
}

impl Cluster {
    fn start(kind: AdapterKind) -> Self {
        let redis = RedisServer::start();
        let opts = ClusterOptions::new(kind);
        let a = NodeClusterServer::start_with(&redis.url(), &opts);
        let b = NodeClusterServer::start_with(&redis.url(), &opts);
        Self { a, b, redis }
    }
}

/// Our client's socket id, as its server sees it.
async fn id_of(s: &ClientSocket) -> String {
    let who = ask(s, "whoami", &()).await;
    who["id"].as_str().expect("an id").to_owned()
}

/// Disconnections of a socket, as a channel.
fn disconnects(s: &ClientSocket) -> Events<DisconnectReason> {
    let (tx, rx) = futures_channel::mpsc::unbounded();
    s.on_disconnect(move |_, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.unbounded_send(reason);
        }
    });
    Events::new(rx, Tokio::runtime())
}

/// Everything a cluster does for its members, with one client on each of the two servers.
fn cluster_operations(kind: AdapterKind) {
    let c = Cluster::start(kind);
    Tokio::block_on(async {
        let ctl_a = Control::connect::<Tokio>(&c.a.url()).await;
        let ctl_b = Control::connect::<Tokio>(&c.b.url()).await;
        ctl_a.wait_server_count(2).await;
        assert_eq!(ctl_a.server_count().await, 2);
        assert_eq!(ctl_b.server_count().await, 2);

        let ca = connect::<Tokio>(&c.a.url(), "/", WS).await;
        let cb = connect::<Tokio>(&c.b.url(), "/", WS).await;
        let (id_a, id_b) = (id_of(&ca).await, id_of(&cb).await);
        let mut news_a = record::<Tokio, Value>(&ca, "news");
        let mut news_b = record::<Tokio, Value>(&cb, "news");

        // A broadcast from A reaches both clients, once.
        ctl_a
            .op("broadcast", json!({"event": "news", "args": [{"n": 1}]}))
            .await;
        assert_eq!(news_a.recv().await, json!({"n": 1}));
        assert_eq!(news_b.recv().await, json!({"n": 1}));
        news_a.none_within(QUIET).await;
        news_b.none_within(QUIET).await;

        // to(room): the room's only member is on B.
        ask(&cb, "join", "blue").await;
        ctl_a
            .op(
                "broadcast",
                json!({"event": "news", "args": ["for blue"], "rooms": ["blue"]}),
            )
            .await;
        assert_eq!(news_b.recv().await, json!("for blue"));
        // except(room): everyone but the room's members.
        ctl_a
            .op(
                "broadcast",
                json!({"event": "news", "args": ["not blue"], "except": ["blue"]}),
            )
            .await;
        assert_eq!(news_a.recv().await, json!("not blue"));
        news_a.none_within(QUIET).await;
        news_b.none_within(QUIET).await;

        // fetchSockets from A lists B's socket with its rooms and data.
        ask(&cb, "setData", &json!({"name": "bee"})).await;
        ask(&ca, "setData", &json!({"name": "ay"})).await;
        let all = ctl_a.op("fetchSockets", json!({})).await;
        let all = all.as_array().expect("a list");
        assert_eq!(all.len(), 2, "{all:?}");
        let b_seen = all
            .iter()
            .find(|s| s["id"] == json!(id_b))
            .unwrap_or_else(|| panic!("B's socket {id_b} missing from {all:?}"));
        let mut rooms: Vec<String> = serde_json::from_value(b_seen["rooms"].clone()).unwrap();
        rooms.sort();
        let mut want = vec![id_b.clone(), "blue".to_owned()];
        want.sort();
        assert_eq!(rooms, want);
        assert_eq!(b_seen["data"], json!({"name": "bee"}));
        assert!(all.iter().any(|s| s["id"] == json!(id_a)));
        let blue = ctl_a.op("fetchSockets", json!({"rooms": ["blue"]})).await;
        assert_eq!(blue.as_array().map(Vec::len), Some(1), "{blue}");
        assert_eq!(blue[0]["id"], json!(id_b));

        // socketsJoin / socketsLeave from A act on B's socket.
        ctl_a
            .op(
                "socketsJoin",
                json!({"rooms": ["green"], "targetRooms": [id_b]}),
            )
            .await;
        let green = ctl_a.op("fetchSockets", json!({"rooms": ["green"]})).await;
        assert_eq!(green.as_array().map(Vec::len), Some(1), "{green}");
        assert_eq!(green[0]["id"], json!(id_b));
        ctl_a.op("socketsLeave", json!({"rooms": ["green"]})).await;
        let green = ctl_a.op("fetchSockets", json!({"rooms": ["green"]})).await;
        assert_eq!(green, json!([]));

        // serverSideEmit with an ack, A -> B: B's answer.
        let r = ctl_a
            .op(
                "serverSideEmit",
                json!({"event": "ping-server", "args": ["hi"], "withAck": true, "timeout": 5000}),
            )
            .await;
        assert_eq!(
            r,
            json!({"err": null, "responses": [format!("pong from node {}", c.b.port)]})
        );

        // A broadcast with an ack: one answer per client, from both servers.
        for s in [&ca, &cb] {
            s.on(
                "question",
                |s: ClientSocket, n: i64, ack: ClientAckSender| async move {
                    let _ = ack.send(&json!({"n": n, "from": s.id()}));
                },
            );
        }
        let r = ctl_a
            .op(
                "broadcastWithAck",
                json!({"event": "question", "args": [7], "timeout": 5000}),
            )
            .await;
        assert_eq!(r["err"], Value::Null, "{r}");
        let mut from: Vec<String> = r["responses"]
            .as_array()
            .expect("responses")
            .iter()
            .map(|a| {
                assert_eq!(a["n"], json!(7));
                a["from"].as_str().expect("an id").to_owned()
            })
            .collect();
        from.sort();
        let mut want = vec![id_a.clone(), id_b.clone()];
        want.sort();
        assert_eq!(from, want);

        // disconnectSockets from B ends both clients' sockets.
        let mut gone_a = disconnects(&ca);
        let mut gone_b = disconnects(&cb);
        ctl_b.op("disconnectSockets", json!({"close": false})).await;
        assert_eq!(gone_a.recv().await, DisconnectReason::IoServerDisconnect);
        assert_eq!(gone_b.recv().await, DisconnectReason::IoServerDisconnect);
        let none = ctl_b.op("fetchSockets", json!({})).await;
        assert_eq!(none, json!([]));
    });
}

#[test]
fn classic_adapter() {
    cluster_operations(AdapterKind::CLASSIC);
}

#[test]
fn classic_adapter_specific_response_channel() {
    cluster_operations(AdapterKind::Classic {
        specific_response_channel: true,
    });
}

#[test]
fn sharded_adapter_dynamic() {
    cluster_operations(AdapterKind::Sharded(SubscriptionMode::Dynamic));
}

#[test]
fn sharded_adapter_static() {
    cluster_operations(AdapterKind::Sharded(SubscriptionMode::Static));
}

#[test]
fn sharded_adapter_dynamic_private() {
    cluster_operations(AdapterKind::Sharded(SubscriptionMode::DynamicPrivate));
}

/// Our client through nginx (sticky by address) in front of two servers
/// ([`sio_tests::sticky::sticky_by_address`]).
#[test]
fn through_nginx_sticky_by_address() {
    let c = Cluster::start(AdapterKind::CLASSIC);
    let nginx = Nginx::start(&[c.a.port, c.b.port], Sticky::IpHash);
    Tokio::block_on(async {
        let ctl_a = Control::connect::<Tokio>(&c.a.url()).await;
        ctl_a.wait_server_count(2).await;
        sticky::sticky_by_address(&nginx, [c.a.port, c.b.port], |arg| {
            let ctl = &ctl_a;
            async move {
                ctl.op("broadcast", json!({"event": "news", "args": [arg]}))
                    .await;
            }
        })
        .await;
    });
}

/// The cookie variant ([`sio_tests::sticky::sticky_by_cookie`]).
#[test]
fn through_nginx_sticky_by_cookie() {
    let c = Cluster::start(AdapterKind::CLASSIC);
    let nginx = Nginx::start(&[c.a.port, c.b.port], Sticky::Cookie);
    sticky::sticky_by_cookie(&nginx, [c.a.port, c.b.port]);
    Tokio::block_on(sticky::sticky_by_cookie_client(
        &nginx,
        [c.a.port, c.b.port],
    ));
}

/// Redis killed and started again: the members' Redis clients reconnect by themselves, and a
/// cluster broadcast reaches both clients again.
fn redis_restart(kind: AdapterKind) {
    let mut c = Cluster::start(kind);
    Tokio::block_on(async {
        let ctl_a = Control::connect::<Tokio>(&c.a.url()).await;
        ctl_a.wait_server_count(2).await;
        let ca = connect::<Tokio>(&c.a.url(), "/", WS).await;
        let cb = connect::<Tokio>(&c.b.url(), "/", WS).await;
        let mut news_a = record::<Tokio, Value>(&ca, "news");
        let mut news_b = record::<Tokio, Value>(&cb, "news");
        ctl_a
            .op("broadcast", json!({"event": "news", "args": ["before"]}))
            .await;
        assert_eq!(news_a.recv().await, json!("before"));
        assert_eq!(news_b.recv().await, json!("before"));

        c.redis.kill();
        assert!(!c.redis.ping());
        c.redis.restart();
        assert!(c.redis.ping());

        // Broadcast until one reaches B through the new Redis (A's own client gets each at
        // once, from A itself); bounded.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut i = 0u32;
        let reached = loop {
            assert!(
                Instant::now() < deadline,
                "no broadcast reached B after the Redis restart"
            );
            ctl_a
                .op("broadcast", json!({"event": "news", "args": [i]}))
                .await;
            assert_eq!(news_a.recv().await, json!(i));
            if let Some(v) = news_b.next_within(Duration::from_millis(500)).await {
                break v;
            }
            i += 1;
        };
        assert!(reached.is_u64(), "{reached}");
        // Broadcasts queued while Redis was down may still come; then one more, seen once.
        while news_b.next_within(QUIET).await.is_some() {}
        ctl_a
            .op("broadcast", json!({"event": "news", "args": ["after"]}))
            .await;
        assert_eq!(news_a.recv().await, json!("after"));
        assert_eq!(news_b.recv().await, json!("after"));
        news_b.none_within(QUIET).await;
        assert_eq!(ctl_a.server_count().await, 2);
    });
}

#[test]
fn redis_restart_classic() {
    redis_restart(AdapterKind::CLASSIC);
}

#[test]
fn redis_restart_sharded() {
    redis_restart(AdapterKind::SHARDED);
}
