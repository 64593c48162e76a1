//! The adapter hooks a cluster adapter relies on: broadcasts and server-side emits reach
//! `*_remote` (unless `local`), rooms go through the adapter, cluster operations ask it for
//! the other servers' part, and what the other servers ask is done through the
//! `LocalSockets` the namespace gives it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::StreamExt;
use serde_json::{json, Value};
use sio::client::{ClientOptions, ClientSocket, Transport};
use sio::server::{
    Adapter, ClusterError, InMemoryAdapter, LocalSockets, ServerSideAnswer, SocketId, SocketInfo,
};
use sio::{BoxFuture, Server, ServerConfig, ServerSideAck, Socket};
use sio_proto::cluster::Value as CValue;
use sio_proto::rooms::{BroadcastFilter, Room};
use sio_proto::socket::{EncodedPacket, Nsp, Packet};
use sio_tests::{timeout, Driver, Tokio};

#[derive(Default)]
struct Recording {
    inner: InMemoryAdapter,
    remote: Arc<Mutex<Vec<String>>>,
    local: Arc<Mutex<Option<Arc<dyn LocalSockets>>>>,
}

impl Adapter for Recording {
    fn add_socket(&self, id: &SocketId) {
        self.inner.add_socket(id)
    }
    fn join(&self, id: &SocketId, rooms: &[&str]) {
        self.inner.join(id, rooms)
    }
    fn leave(&self, id: &SocketId, room: &str) {
        self.inner.leave(id, room)
    }
    fn remove_socket(&self, id: &SocketId) -> Vec<Room> {
        self.inner.remove_socket(id)
    }
    fn rooms_of(&self, id: &SocketId) -> Vec<Room> {
        self.inner.rooms_of(id)
    }
    fn rooms(&self) -> Vec<Room> {
        self.inner.rooms()
    }
    fn for_each_recipient(&self, f: &BroadcastFilter<SocketId>, cb: &mut dyn FnMut(&SocketId)) {
        self.inner.for_each_recipient(f, cb)
    }
    fn broadcast_remote(
        &self,
        packet: &EncodedPacket,
        filter: &BroadcastFilter<SocketId>,
        volatile: bool,
    ) {
        let rooms: Vec<String> = filter.rooms.iter().map(|r| r.to_string()).collect();
        let volatile = if volatile { " volatile" } else { "" };
        self.remote.lock().unwrap().push(format!(
            "broadcast {} to {rooms:?}{volatile}",
            String::from_utf8_lossy(&packet.text)
        ));
    }
    fn server_side_emit_remote(&self, data: Vec<CValue>) {
        self.remote
            .lock()
            .unwrap()
            .push(format!("server-side {}", CValue::Array(data)));
    }
    fn server_side_emit_with_ack_remote(
        &self,
        data: Vec<CValue>,
        timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<CValue>, ClusterError>> {
        self.remote.lock().unwrap().push(format!(
            "server-side with ack {} {timeout:?}",
            CValue::Array(data)
        ));
        let answers = vec![CValue::from("from a"), CValue::from("from b")];
        Box::pin(std::future::ready(Ok(answers)))
    }
    fn init(&self, local: Arc<dyn LocalSockets>) {
        *self.local.lock().unwrap() = Some(local);
    }
    fn fetch_remote(
        &self,
        filter: &BroadcastFilter<SocketId>,
        _timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<SocketInfo>, ClusterError>> {
        let rooms: Vec<String> = filter.rooms.iter().map(|r| r.to_string()).collect();
        self.remote.lock().unwrap().push(format!("fetch {rooms:?}"));
        let other = SocketInfo {
            id: SocketId::from("elsewhere"),
            handshake: json!({"url": "/socket.io/?EIO=4"}),
            rooms: vec![Room::from("elsewhere"), Room::from("r1")],
            data: json!({"name": "remote"}),
        };
        Box::pin(std::future::ready(Ok(vec![other])))
    }
    fn join_remote(&self, filter: &BroadcastFilter<SocketId>, rooms: &[Room]) {
        let to: Vec<String> = filter.rooms.iter().map(|r| r.to_string()).collect();
        let rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
        self.remote
            .lock()
            .unwrap()
            .push(format!("join {to:?} {rooms:?}"));
    }
    fn disconnect_remote(&self, _filter: &BroadcastFilter<SocketId>, close: bool) {
        self.remote
            .lock()
            .unwrap()
            .push(format!("disconnect close={close}"));
    }
    fn server_count(&self) -> BoxFuture<Result<usize, ClusterError>> {
        Box::pin(std::future::ready(Ok(3)))
    }
}

#[test]
fn broadcasts_and_server_side_emits_reach_the_adapter() {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let l2 = log.clone();
    let config = ServerConfig {
        adapter: Arc::new(move |_| {
            Box::new(Recording {
                remote: l2.clone(),
                ..Recording::default()
            })
        }),
        ..ServerConfig::default()
    };
    let io = sio::Server::new(Arc::new(sio_tokio::TokioRuntime), config);
    io.to("room1").emit("news", "hello").unwrap();
    io.volatile().emit("tick", &1).unwrap();
    io.of("/chat")
        .broadcast()
        .local()
        .emit("local-only", &())
        .unwrap();
    io.server_side_emit("sync", &1).unwrap();
    let answers: Vec<String> = Tokio::block_on(io.server_side_emit_with_ack(
        "sync?",
        &(1, "two"),
        Some(Duration::from_secs(1)),
    ))
    .expect("answers");
    assert_eq!(answers, ["from a", "from b"]);
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "broadcast 42[\"news\",\"hello\"] to [\"room1\"]".to_owned(),
            "broadcast 42[\"tick\",1] to [] volatile".to_owned(),
            "server-side [\"sync\", 1]".to_owned(),
            "server-side with ack [\"sync?\", 1, \"two\"] Some(1s)".to_owned(),
        ]
    );
}

/// The cluster side of the hooks, with a real client: `fetch_sockets` merges this server's
/// sockets (handshake, rooms, shared data) with the adapter's answer, operations reach the
/// adapter unless `local`, and the adapter acts on this server's sockets through the
/// `LocalSockets` it was given (a delivery reaches the client; join, describe, disconnect).
#[test]
fn cluster_operations_go_through_the_adapter() {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let local: Arc<Mutex<Option<Arc<dyn LocalSockets>>>> = Arc::default();
    let (l2, loc2) = (log.clone(), local.clone());
    let config = ServerConfig {
        adapter: Arc::new(move |name| {
            assert_eq!(name, "/");
            Box::new(Recording {
                remote: l2.clone(),
                local: loc2.clone(),
                ..Recording::default()
            })
        }),
        ..ServerConfig::default()
    };
    let srv = Tokio::start(config, |io: &Server| {
        io.on_connection(|s: Socket| async move {
            s.join(["r1"]);
            s.set_shared_data(&json!({"name": "here"})).unwrap();
            s.emit("ready", &()).unwrap();
        });
    });
    let io = srv.server.clone();
    let url = srv.url();
    Tokio::block_on(async move {
        let rt = Tokio::runtime();
        let opts = ClientOptions {
            transports: vec![Transport::WebSocket],
            reconnection: false,
            ..ClientOptions::default()
        };
        let client: ClientSocket = sio::client::io(rt.clone(), &url, opts).expect("client");
        let (tx, mut rx) = mpsc::unbounded::<(String, Value)>();
        for event in ["ready", "from-remote"] {
            let tx = tx.clone();
            client.on(event, move |_: ClientSocket, v: Value| {
                let tx = tx.clone();
                async move {
                    let _ = tx.unbounded_send((event.to_owned(), v));
                }
            });
        }
        let dtx = tx.clone();
        client.on_disconnect(move |_, reason| {
            let tx = dtx.clone();
            async move {
                let _ = tx.unbounded_send(("disconnect".to_owned(), json!(format!("{reason:?}"))));
            }
        });
        assert_eq!(next(&rt, &mut rx).await.0, "ready");

        // fetch_sockets: this server's socket, described, and the other servers' (the adapter).
        let all = io.to("r1").fetch_sockets().await.expect("fetch");
        assert_eq!(all.len(), 2);
        let here = all
            .iter()
            .find(|s| s.local_socket().is_some())
            .expect("local");
        assert!(here.rooms().iter().any(|r| &**r == "r1"));
        assert_eq!(here.data::<Value>().unwrap(), json!({"name": "here"}));
        assert!(here.handshake()["url"]
            .as_str()
            .unwrap()
            .starts_with("/socket.io/"));
        let there = all
            .iter()
            .find(|s| s.local_socket().is_none())
            .expect("remote");
        assert_eq!(there.id(), "elsewhere");
        assert_eq!(there.data::<Value>().unwrap(), json!({"name": "remote"}));
        assert_eq!(io.server_count().await.unwrap(), 3);
        // A local operation never reaches the adapter.
        assert_eq!(io.local().fetch_sockets().await.unwrap().len(), 1);
        io.to("r1").sockets_join(["r2"]);

        // What another server asks, done here.
        let ops = local.lock().unwrap().clone().expect("init called");
        let filter = BroadcastFilter::all().to("r2");
        let described = ops.describe(&filter);
        assert_eq!(described.len(), 1);
        assert_eq!(described[0].data, json!({"name": "here"}));
        let nsp = Nsp::new("/").unwrap();
        let packet = Packet::event(
            nsp,
            Bytes::from_static(b"[\"from-remote\",7]"),
            None,
            vec![],
        );
        ops.deliver(&packet.encode(), &filter, false);
        assert_eq!(
            next(&rt, &mut rx).await,
            ("from-remote".to_owned(), json!(7))
        );
        ops.join(&BroadcastFilter::all(), &[Room::from("r3")]);
        assert_eq!(ops.describe(&BroadcastFilter::all().to("r3")).len(), 1);

        // Another server's server-side event runs this server's listener, which answers.
        io.on_server_side("add", |(a, b): (u32, u32), ack: ServerSideAck| async move {
            assert!(ack.expected());
            ack.send(&(a + b)).unwrap();
            ack.send(&0).unwrap();
        });
        let (atx, arx) = futures_channel::oneshot::channel();
        let answer: ServerSideAnswer = Box::new(move |v| {
            let _ = atx.send(v);
        });
        let data = vec![CValue::from("add"), CValue::from(40), CValue::from(2)];
        ops.server_side_event(data, Some(answer)).await;
        assert_eq!(arx.await.expect("answered"), CValue::from(42));
        // An event nobody listens to is not answered.
        let (atx, arx) = futures_channel::oneshot::channel::<CValue>();
        let answer: ServerSideAnswer = Box::new(move |v| {
            let _ = atx.send(v);
        });
        ops.server_side_event(vec![CValue::from("nobody")], Some(answer))
            .await;
        assert!(arx.await.is_err());

        ops.disconnect(&BroadcastFilter::all().to("r3"), false);
        assert_eq!(next(&rt, &mut rx).await.0, "disconnect");
    });
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "fetch [\"r1\"]".to_owned(),
            "join [\"r1\"] [\"r2\"]".to_owned(),
        ]
    );
}

/// The next event of `rx`, within ten seconds of `rt`'s clock.
async fn next(
    rt: &Arc<dyn sio::Runtime>,
    rx: &mut mpsc::UnboundedReceiver<(String, Value)>,
) -> (String, Value) {
    timeout(&**rt, Duration::from_secs(10), rx.next())
        .await
        .expect("timed out waiting for an event")
        .expect("channel closed")
}

/// With connection state recovery on, what another server broadcasts reaches this server's
/// sockets with an offset like a local broadcast: the client, which takes a last string
/// argument for one, gets the arguments as they were sent.
#[test]
fn remote_broadcasts_get_offsets_with_recovery() {
    let local: Arc<Mutex<Option<Arc<dyn LocalSockets>>>> = Arc::default();
    let loc2 = local.clone();
    let config = ServerConfig {
        adapter: Arc::new(move |_| {
            Box::new(Recording {
                local: loc2.clone(),
                ..Recording::default()
            })
        }),
        ..ServerConfig::default()
    }
    .connection_state_recovery(sio::RecoveryConfig::default());
    let srv = Tokio::start(config, |io: &Server| {
        io.on_connection(|s: Socket| async move {
            s.emit("ready", &()).unwrap();
        });
    });
    let url = srv.url();
    Tokio::block_on(async move {
        let rt = Tokio::runtime();
        let opts = ClientOptions {
            transports: vec![Transport::WebSocket],
            reconnection: false,
            ..ClientOptions::default()
        };
        let client: ClientSocket = sio::client::io(rt.clone(), &url, opts).expect("client");
        let (tx, mut rx) = mpsc::unbounded::<(String, Value)>();
        for event in ["ready", "from-remote"] {
            let tx = tx.clone();
            client.on(event, move |_: ClientSocket, args: sio::Args| {
                let tx = tx.clone();
                async move {
                    let v = Value::Array(args.to_values().unwrap_or_default());
                    let _ = tx.unbounded_send((event.to_owned(), v));
                }
            });
        }
        assert_eq!(next(&rt, &mut rx).await, ("ready".to_owned(), json!([])));
        let ops = local.lock().unwrap().clone().expect("init called");
        let packet = Packet::event(
            Nsp::new("/").unwrap(),
            Bytes::from_static(b"[\"from-remote\",\"text\"]"),
            None,
            vec![],
        );
        ops.deliver(&packet.encode(), &BroadcastFilter::all(), false);
        assert_eq!(
            next(&rt, &mut rx).await,
            ("from-remote".to_owned(), json!(["text"]))
        );
    });
}
