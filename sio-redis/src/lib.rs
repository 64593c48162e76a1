//! A Redis adapter for `sio` servers that speaks the wire format of the npm package
//! `@socket.io/redis-adapter` (8.x): Rust and Node servers on one Redis form one cluster.
//! Broadcasts, `fetch_sockets`, `sockets_join`/`sockets_leave`, `disconnect_sockets`,
//! server-side emits and `server_count` reach every server.
//!
//! Both of Node's adapters are here ([`RedisAdapterOptions::mode`]): the classic one
//! (`createAdapter`: PUBLISH, SUBSCRIBE and PSUBSCRIBE) and the sharded one
//! (`createShardedAdapter`, Redis 7: SPUBLISH and SSUBSCRIBE, in its three subscription
//! modes). The protocol is `sio_proto::cluster::ClusterNode` (one per namespace): this crate
//! only moves its bytes with the `redis` crate, on tokio or smol/async-std (the `redis` crate
//! follows the runtime it is called from). Messages are received on a RESP3 connection (Redis 6
//! or later; the sharded adapter needs Redis 7).
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use sio::ServerConfig;
//! use sio_redis::{RedisAdapterOptions, RedisCluster};
//!
//! let rt: Arc<dyn sio::Runtime> = Arc::new(sio_tokio::TokioRuntime);
//! let cluster = RedisCluster::new(rt, "redis://127.0.0.1:6379", RedisAdapterOptions::default())
//!     .expect("a valid Redis URL");
//! let io = sio_tokio::new_server(ServerConfig {
//!     adapter: cluster.adapter_factory(),
//!     ..ServerConfig::default()
//! });
//! # }
//! ```
//!
//! Local delivery never waits for Redis: a broadcast reaches this server's sockets at once and
//! its copy for the others is queued (bounded in bytes, [`RedisAdapterOptions::max_queued_bytes`]).
//! While Redis is down, local delivery goes on, cluster operations fail at once with
//! [`ClusterError::Unavailable`], and the adapter reconnects (with back-off) and subscribes again
//! by itself.

#![warn(missing_docs)]

mod tasks;

use tasks::{drain, publisher, subscriber};

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_channel::{mpsc, oneshot};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use sio::runtime::Sleep;
use sio::server::{
    Adapter, AdapterFactory, ClusterError, InMemoryAdapter, LocalSockets, RemoteAcks,
    ServerSideAnswer, SocketId, SocketInfo,
};
use sio::{BoxFuture, Runtime};
use sio_proto::cluster::channel::{self, ClassicChannel};
use sio_proto::cluster::classic::Target;
use sio_proto::cluster::node::{
    AckBroadcastError, NodeConfig, NodeEvent, NodeInput, Publish, RequestResult,
};
use sio_proto::cluster::{
    BroadcastOptions, ClusterNode, FetchedSocket, IssueError, Missing, Outcome, Value,
};

pub use sio_proto::cluster::channel::SubscriptionMode;
pub use sio_proto::cluster::AdapterMode;
use sio_proto::rooms::{BroadcastFilter, Room};
use sio_proto::socket::{EncodedPacket, Nsp};

/// Settings of a [`RedisCluster`], Node's names in brackets.
#[derive(Debug, Clone)]
pub struct RedisAdapterOptions {
    /// The channel prefix (`key`, `"socket.io"`): servers with the same key form one cluster.
    pub key: String,
    /// How long a request to the other servers waits for their answers (`requestsTimeout`,
    /// 5 s).
    pub requests_timeout: Duration,
    /// Answers go to the requester's own channel (`publishOnSpecificResponseChannel`, off).
    pub publish_on_specific_response_channel: bool,
    /// Bound on what waits to be published, and on what was received and waits to be handled,
    /// in bytes (8 MiB each): over it, a message is dropped (and counted) rather than queued.
    pub max_queued_bytes: usize,
    /// Which of Node's adapters to speak: [`AdapterMode::Classic`] (`createAdapter`, the
    /// default) or [`AdapterMode::Sharded`] (`createShardedAdapter`, whose `channelPrefix` is
    /// [`RedisAdapterOptions::key`]). Every server of a cluster must use the same.
    pub mode: AdapterMode,
}

impl Default for RedisAdapterOptions {
    fn default() -> Self {
        Self {
            key: "socket.io".to_owned(),
            requests_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            max_queued_bytes: 8 << 20,
            mode: AdapterMode::Classic,
        }
    }
}

/// The Redis side of one server: its connections, its node id, and the protocol state of each
/// namespace. Cloning is cheap (a shared handle). Give [`RedisCluster::adapter_factory`] to
/// the server's configuration.
#[derive(Clone)]
pub struct RedisCluster {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster")
            .field("uid", &self.shared.uid)
            .field("subscribed", &self.is_subscribed())
            .finish()
    }
}

struct Shared {
    rt: Arc<dyn Runtime>,
    /// For commands and publishing (RESP2).
    client: redis::Client,
    /// For the subscriber (RESP3: messages come as pushes, shard channels included).
    sub_client: redis::Client,
    options: RedisAdapterOptions,
    uid: String,
    seed: [u8; 32],
    namespaces: Mutex<HashMap<String, Arc<NsState>>>,
    /// To the subscriber task.
    cmds: mpsc::UnboundedSender<Cmd>,
    /// To the publisher task; `queued_bytes` counts what waits there.
    publish: mpsc::UnboundedSender<Publish>,
    queued_bytes: AtomicUsize,
    /// The connection for commands and publishing, while it works.
    conn: Mutex<Option<MultiplexedConnection>>,
    /// The subscriber is connected and every namespace subscribed.
    subscribed: AtomicBool,
    /// Messages for the other servers that were dropped (queue full, Redis down).
    dropped: AtomicU64,
    /// Messages received and dropped because too many bytes of them waited to be handled.
    dropped_inbound: AtomicU64,
}

/// What the subscriber task is asked.
enum Cmd {
    /// Subscribe the channels of a new namespace.
    Subscribe(Arc<NsState>),
    /// A request started: re-read the deadlines.
    Wake,
    /// `SSUBSCRIBE` (`true`) or `SUNSUBSCRIBE` a room's shard channel.
    Shard(bool, String),
    /// Answered once every command before it is done.
    Barrier(oneshot::Sender<()>),
}

/// One namespace: its protocol state and what waits on it.
struct NsState {
    node: Mutex<ClusterNode>,
    local: OnceLock<Arc<dyn LocalSockets>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<(RequestResult, Outcome)>>>,
}

impl RedisCluster {
    /// A cluster member on the Redis at `url` (`redis://host:port`), running its tasks on `rt`.
    /// Connects in the background (and again whenever the connection is lost).
    pub fn new(
        rt: Arc<dyn Runtime>,
        url: &str,
        options: RedisAdapterOptions,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let info = client.get_connection_info().clone();
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let sub_client = redis::Client::open(info.set_redis_settings(resp3))?;
        let seed = sio::runtime::os_seed();
        let uid = sio_proto::cluster::node_uid(&seed);
        let (cmds, cmd_rx) = mpsc::unbounded();
        let (publish, publish_rx) = mpsc::unbounded();
        let shared = Arc::new(Shared {
            rt: rt.clone(),
            client,
            sub_client,
            options,
            uid,
            seed,
            namespaces: Mutex::default(),
            cmds,
            publish,
            queued_bytes: AtomicUsize::new(0),
            conn: Mutex::new(None),
            subscribed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            dropped_inbound: AtomicU64::new(0),
        });
        rt.spawn(Box::pin(subscriber(Arc::downgrade(&shared), cmd_rx)));
        rt.spawn(Box::pin(publisher(Arc::downgrade(&shared), publish_rx)));
        Ok(Self { shared })
    }

    /// The adapter factory for [`sio::ServerConfig::adapter`]: each namespace gets a
    /// [`RedisAdapter`] of this cluster.
    pub fn adapter_factory(&self) -> AdapterFactory {
        let shared = self.shared.clone();
        Arc::new(move |name: &str| {
            let nsp = Nsp::new(name).unwrap_or_else(|_| Nsp::new("/").expect("the main namespace"));
            let mut config = NodeConfig::new(nsp, shared.uid.clone());
            config.key = shared.options.key.clone();
            config.requests_timeout = shared.options.requests_timeout;
            config.publish_on_specific_response_channel =
                shared.options.publish_on_specific_response_channel;
            let mut seed = shared.seed;
            for (i, b) in name.bytes().enumerate() {
                seed[i % 32] ^= b;
            }
            let node = ClusterNode::new(config, shared.options.mode, seed);
            let ns = Arc::new(NsState {
                node: Mutex::new(node),
                local: OnceLock::new(),
                waiting: Mutex::default(),
            });
            Box::new(RedisAdapter {
                rooms: InMemoryAdapter::new(),
                ns,
                shared: shared.clone(),
            }) as Box<dyn Adapter>
        })
    }

    /// This server's node id in the cluster.
    pub fn uid(&self) -> &str {
        &self.shared.uid
    }

    /// Whether the subscriber is connected and every namespace subscribed (messages of the
    /// other servers arrive).
    pub fn is_subscribed(&self) -> bool {
        self.shared.subscribed.load(Ordering::Acquire)
    }

    /// Messages for the other servers dropped so far (queue over its bound, Redis down).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Messages from the other servers dropped so far because too many bytes of them waited
    /// to be handled.
    pub fn dropped_inbound(&self) -> u64 {
        self.shared.dropped_inbound.load(Ordering::Relaxed)
    }

    /// Resolves once every subscription asked so far is confirmed by Redis: in the sharded
    /// dynamic modes a room's channel is subscribed when the room is created here, and a
    /// broadcast to it from another server reaches this one only after that (Node has the same
    /// gap). Fails with [`ClusterError::Timeout`] after [`RedisAdapterOptions::requests_timeout`]
    /// (Redis down, say).
    pub async fn subscriptions_settled(&self) -> Result<(), ClusterError> {
        let (tx, mut rx) = oneshot::channel();
        if self.shared.cmds.unbounded_send(Cmd::Barrier(tx)).is_err() {
            return Err(ClusterError::Unavailable("the adapter stopped".to_owned()));
        }
        let rt = &*self.shared.rt;
        let deadline = rt.now() + self.shared.options.requests_timeout;
        match sio::runtime::within(rt, deadline, &mut rx).await {
            Some(r) => r.map_err(|_| ClusterError::Unavailable("the adapter stopped".to_owned())),
            None => Err(ClusterError::Timeout { missing: 1 }),
        }
    }

    /// Malformed messages received and dropped so far, over every namespace.
    pub fn malformed(&self) -> u64 {
        lock(&self.shared.namespaces)
            .values()
            .map(|ns| lock(&ns.node).malformed())
            .sum()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unavailable(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Unavailable(e.to_string())
}

impl Shared {
    /// Moves what the node wants published to the publisher, within the byte bound.
    fn flush(&self, ns: &NsState) {
        let mut out = Vec::new();
        {
            let mut node = lock(&ns.node);
            while let Some(p) = node.poll_publish() {
                out.push(p);
            }
        }
        for p in out {
            let len = p.payload.len() + p.channel.len();
            let queued = self.queued_bytes.fetch_add(len, Ordering::AcqRel);
            if queued + len > self.options.max_queued_bytes {
                self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel = %p.channel, "cluster publish queue full; message dropped");
                continue;
            }
            if self.publish.unbounded_send(p).is_err() {
                self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            }
        }
    }

    /// The connection for commands, made if needed.
    async fn connection(&self) -> Result<MultiplexedConnection, ClusterError> {
        if let Some(c) = lock(&self.conn).clone() {
            return Ok(c);
        }
        let c = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(unavailable)?;
        *lock(&self.conn) = Some(c.clone());
        Ok(c)
    }

    /// How many servers listen on `channel` (`PUBSUB NUMSUB`, or `SHARDNUMSUB` for the
    /// sharded adapter).
    async fn numsub(&self, channel: &str) -> Result<usize, ClusterError> {
        if !self.subscribed.load(Ordering::Acquire) {
            return Err(ClusterError::Unavailable(
                "not subscribed to Redis (connecting)".to_owned(),
            ));
        }
        let mut c = self.connection().await?;
        let r: redis::RedisResult<(String, usize)> = redis::cmd("PUBSUB")
            .arg(match self.options.mode {
                AdapterMode::Classic => "NUMSUB",
                AdapterMode::Sharded(_) => "SHARDNUMSUB",
            })
            .arg(channel)
            .query_async(&mut c)
            .await;
        match r {
            Ok((_, n)) => Ok(n),
            Err(e) => {
                *lock(&self.conn) = None;
                Err(unavailable(e))
            }
        }
    }

    /// Starts a request with `issue` (given the number of other servers) and waits for its
    /// end, or for `timeout` when it comes first (the request is then cancelled: what arrived
    /// is kept). Also returns the number of other servers.
    async fn request(
        self: &Arc<Self>,
        ns: &Arc<NsState>,
        timeout: Option<Duration>,
        issue: impl FnOnce(&mut ClusterNode, Instant, usize) -> Result<String, Issue>,
    ) -> Result<Option<(RequestResult, Outcome, usize)>, ClusterError> {
        let count_channel = lock(&ns.node).count_channel().to_owned();
        let servers = self.numsub(&count_channel).await?;
        let others = servers.saturating_sub(1);
        let (tx, mut rx) = oneshot::channel();
        let issued = {
            let mut node = lock(&ns.node);
            let now = self.rt.now();
            issue(&mut node, now, others)
        };
        let id = match issued {
            Ok(id) => id,
            Err(Issue::Nothing) => return Ok(None),
            Err(Issue::Full) => return Err(ClusterError::Busy),
            Err(Issue::Bad(e)) => return Err(ClusterError::Payload(e)),
        };
        lock(&ns.waiting).insert(id.clone(), tx);
        self.flush(ns);
        let _ = self.cmds.unbounded_send(Cmd::Wake);
        if let Some(t) = timeout {
            let first = sio::runtime::within(&*self.rt, self.rt.now() + t, &mut rx).await;
            match first {
                Some(r) => return done(r, others),
                None => {
                    lock(&ns.node).cancel(&id);
                    drain(self, ns);
                }
            }
        }
        done(rx.await, others)
    }
}

fn done(
    r: Result<(RequestResult, Outcome), oneshot::Canceled>,
    others: usize,
) -> Result<Option<(RequestResult, Outcome, usize)>, ClusterError> {
    match r {
        Ok((result, outcome)) => Ok(Some((result, outcome, others))),
        Err(_) => Err(ClusterError::Unavailable("the adapter stopped".to_owned())),
    }
}

/// Why a request was not issued.
enum Issue {
    /// Nothing to wait for (no other server).
    Nothing,
    /// Too many requests pending.
    Full,
    /// What was to be sent cannot be.
    Bad(String),
}

impl From<IssueError> for Issue {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::NothingExpected => Issue::Nothing,
            IssueError::Full => Issue::Full,
        }
    }
}

impl From<AckBroadcastError> for Issue {
    fn from(e: AckBroadcastError) -> Self {
        match e {
            AckBroadcastError::Issue(e) => e.into(),
            AckBroadcastError::Packet(e) => Issue::Bad(e.to_string()),
        }
    }
}

/// How many answers a request that ended with `outcome` lacks, `got` having arrived of the
/// `others` expected.
fn missing(outcome: &Outcome, got: usize, others: usize) -> usize {
    match outcome {
        Outcome::Complete => 0,
        Outcome::TimedOut(Missing::Count(n)) => *n,
        Outcome::TimedOut(Missing::Nodes(v)) => v.len(),
        Outcome::Cancelled => others.saturating_sub(got),
    }
}

/// One namespace's adapter: rooms in memory, the cluster through Redis.
pub struct RedisAdapter {
    rooms: InMemoryAdapter,
    ns: Arc<NsState>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("uid", &self.shared.uid)
            .finish()
    }
}

fn to_msgpack_value(v: &serde_json::Value) -> Value {
    rmpv::ext::to_value(v).unwrap_or(Value::Nil)
}

fn to_json_value(v: Value) -> serde_json::Value {
    rmpv::ext::from_value(v).unwrap_or(serde_json::Value::Null)
}

impl RedisAdapter {
    /// Applies a change of membership; in the sharded dynamic modes, tells the node which
    /// rooms were created (`fresh`, asked before the change) or emptied (`touched`, asked after)
    /// and has their channels (un)subscribed. The node's lock is held across, so that the
    /// room's state and its subscription change together.
    fn membership<R>(
        &self,
        fresh: &[&str],
        change: impl FnOnce(&InMemoryAdapter) -> R,
        touched: impl FnOnce(&R) -> Vec<String>,
    ) -> R {
        let mut node = lock(&self.ns.node);
        if !node.tracks_rooms() {
            drop(node);
            return change(&self.rooms);
        }
        let created: Vec<&str> = fresh
            .iter()
            .copied()
            .filter(|r| self.rooms.room_len(r) == 0)
            .collect();
        let r = change(&self.rooms);
        let mut cmds = Vec::new();
        for room in created {
            cmds.extend(node.room_created(room).map(|c| Cmd::Shard(true, c)));
        }
        for room in touched(&r) {
            if self.rooms.room_len(&room) == 0 {
                cmds.extend(node.room_deleted(&room).map(|c| Cmd::Shard(false, c)));
            }
        }
        drop(node);
        for c in cmds {
            let _ = self.shared.cmds.unbounded_send(c);
        }
        r
    }
}

impl Adapter for RedisAdapter {
    fn add_socket(&self, id: &SocketId) {
        self.membership(&[&**id], |r| r.add_socket(id), |_| Vec::new())
    }
    fn join(&self, id: &SocketId, rooms: &[&str]) {
        self.membership(rooms, |r| r.join(id, rooms), |_| Vec::new())
    }
    fn leave(&self, id: &SocketId, room: &str) {
        self.membership(&[], |r| r.leave(id, room), |_| vec![room.to_owned()])
    }
    fn remove_socket(&self, id: &SocketId) -> Vec<Room> {
        self.membership(
            &[],
            |r| r.remove_socket(id),
            |left| left.iter().map(|r| r.to_string()).collect(),
        )
    }
    fn rooms_of(&self, id: &SocketId) -> Vec<Room> {
        self.rooms.rooms_of(id)
    }
    fn rooms(&self) -> Vec<Room> {
        self.rooms.rooms()
    }
    fn for_each_recipient(&self, f: &BroadcastFilter<SocketId>, cb: &mut dyn FnMut(&SocketId)) {
        self.rooms.for_each_recipient(f, cb)
    }

    fn init(&self, local: Arc<dyn LocalSockets>) {
        let _ = self.ns.local.set(local);
        let nsp = lock(&self.ns.node).config().nsp.as_str().to_owned();
        lock(&self.shared.namespaces).insert(nsp, self.ns.clone());
        let _ = self
            .shared
            .cmds
            .unbounded_send(Cmd::Subscribe(self.ns.clone()));
    }

    fn broadcast_remote(
        &self,
        packet: &EncodedPacket,
        filter: &BroadcastFilter<SocketId>,
        volatile: bool,
    ) {
        let opts = BroadcastOptions::from_filter(filter).volatile(volatile);
        let r = lock(&self.ns.node).broadcast(packet, &opts);
        if let Err(e) = r {
            tracing::warn!(error = %e, "broadcast not published to the cluster");
        }
        self.shared.flush(&self.ns);
    }

    fn fetch_remote(
        &self,
        filter: &BroadcastFilter<SocketId>,
        timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<SocketInfo>, ClusterError>> {
        let opts = BroadcastOptions::from_filter(filter).timeout(timeout);
        let (shared, ns) = (self.shared.clone(), self.ns.clone());
        Box::pin(async move {
            let done = shared
                .request(&ns, timeout, |node, now, others| {
                    Ok(node.fetch_sockets(now, &opts, others)?)
                })
                .await?;
            let Some((result, outcome, others)) = done else {
                return Ok(Vec::new());
            };
            let lacking = missing(&outcome, 0, others);
            if lacking > 0 {
                return Err(ClusterError::Timeout { missing: lacking });
            }
            let RequestResult::Fetched(sockets) = result else {
                return Ok(Vec::new());
            };
            Ok(sockets
                .into_iter()
                .map(|s| SocketInfo {
                    id: SocketId::from(s.id.as_str()),
                    handshake: to_json_value(s.handshake),
                    rooms: s.rooms.iter().map(|r| Room::from(r.as_str())).collect(),
                    data: to_json_value(s.data),
                })
                .collect())
        })
    }

    fn join_remote(&self, filter: &BroadcastFilter<SocketId>, rooms: &[Room]) {
        let rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
        lock(&self.ns.node).add_sockets(&BroadcastOptions::from_filter(filter), &rooms);
        self.shared.flush(&self.ns);
    }

    fn leave_remote(&self, filter: &BroadcastFilter<SocketId>, rooms: &[Room]) {
        let rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
        lock(&self.ns.node).del_sockets(&BroadcastOptions::from_filter(filter), &rooms);
        self.shared.flush(&self.ns);
    }

    fn disconnect_remote(&self, filter: &BroadcastFilter<SocketId>, close: bool) {
        lock(&self.ns.node).disconnect_sockets(&BroadcastOptions::from_filter(filter), close);
        self.shared.flush(&self.ns);
    }

    fn server_side_emit_remote(&self, data: Vec<Value>) {
        let now = self.shared.rt.now();
        let _ = lock(&self.ns.node).server_side_emit(now, data, false, 0);
        self.shared.flush(&self.ns);
    }

    fn server_side_emit_with_ack_remote(
        &self,
        data: Vec<Value>,
        timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<Value>, ClusterError>> {
        let (shared, ns) = (self.shared.clone(), self.ns.clone());
        Box::pin(async move {
            let done = shared
                .request(&ns, timeout, |node, now, others| {
                    node.server_side_emit(now, data, true, others)?
                        .ok_or(Issue::Nothing)
                })
                .await?;
            let Some((result, outcome, others)) = done else {
                return Ok(Vec::new());
            };
            let answers = match result {
                RequestResult::ServerSideEmit(v) => v,
                _ => Vec::new(),
            };
            match missing(&outcome, answers.len(), others) {
                0 => Ok(answers),
                n => Err(ClusterError::Timeout { missing: n }),
            }
        })
    }

    fn broadcast_with_ack_remote(
        &self,
        packet: &EncodedPacket,
        filter: &BroadcastFilter<SocketId>,
        timeout: Option<Duration>,
    ) -> BoxFuture<Result<RemoteAcks, ClusterError>> {
        let opts = BroadcastOptions::from_filter(filter).timeout(timeout);
        let packet = packet.clone();
        let (shared, ns) = (self.shared.clone(), self.ns.clone());
        Box::pin(async move {
            let done = shared
                .request(&ns, None, |node, now, others| {
                    Ok(node.broadcast_with_ack(now, &packet, &opts, others)?)
                })
                .await?;
            let Some((result, outcome, others)) = done else {
                return Ok(RemoteAcks::default());
            };
            let acks = match result {
                RequestResult::BroadcastAcks(v) => v,
                _ => Vec::new(),
            };
            let missing = match outcome {
                // Cancelled: not done here; counted as every server's count missing.
                Outcome::Cancelled => others,
                o => missing(&o, acks.len(), others),
            };
            Ok(RemoteAcks { acks, missing })
        })
    }

    fn server_count(&self) -> BoxFuture<Result<usize, ClusterError>> {
        let (shared, ns) = (self.shared.clone(), self.ns.clone());
        Box::pin(async move {
            let channel = lock(&ns.node).count_channel().to_owned();
            shared.numsub(&channel).await
        })
    }
}
