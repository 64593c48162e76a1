//! The adapter: where a namespace keeps its rooms and how it finds the recipients of a
//! broadcast. The default is in memory ([`InMemoryAdapter`], over `sio_proto`'s `RoomIndex`); a
//! cluster adapter (for example one speaking the wire format of `@socket.io/redis-adapter`)
//! implements the same trait and also carries broadcasts and cluster operations to the other
//! servers through the `*_remote` hooks, which do nothing with a single server. What the other
//! servers ask of this one, it does through the [`LocalSockets`] the namespace gives it
//! ([`Adapter::init`]).

use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

use sio_proto::cluster::Value;
use sio_proto::rooms::{BroadcastFilter, Room, RoomIndex, SeededState};
use sio_proto::socket::EncodedPacket;

use super::handshake::SocketId;
use super::AdapterFactory;
use crate::runtime::BoxFuture;
use crate::sync::{read, write};

/// Room bookkeeping and recipient selection for one namespace.
///
/// Every method is synchronous and short: the namespace calls them while it holds no other
/// lock, and never across an await.
pub trait Adapter: Send + Sync + 'static {
    /// A socket connected; it joins the room named after its id.
    fn add_socket(&self, id: &SocketId);
    /// The socket joins `rooms`.
    fn join(&self, id: &SocketId, rooms: &[&str]);
    /// The socket leaves `room`.
    fn leave(&self, id: &SocketId, room: &str);
    /// The socket disconnected: it leaves every room; returns them.
    fn remove_socket(&self, id: &SocketId) -> Vec<Room>;
    /// The rooms of a socket.
    fn rooms_of(&self, id: &SocketId) -> Vec<Room>;
    /// Every room with at least one member.
    fn rooms(&self) -> Vec<Room>;
    /// Calls `f` once for each local socket the filter selects.
    fn for_each_recipient(&self, filter: &BroadcastFilter<SocketId>, f: &mut dyn FnMut(&SocketId));
    /// The namespace that owns this adapter exists: `local` acts on its sockets (what the
    /// other servers of a cluster ask for). Called once, before any socket connects.
    fn init(&self, _local: Arc<dyn LocalSockets>) {}
    /// A broadcast leaves this server: forward it to the other servers (never called for a
    /// `local` one), `volatile` when it may be dropped for a client that is not ready (Node's
    /// `volatile` flag). It must not wait for the cluster: a cluster adapter queues it, bounded.
    fn broadcast_remote(
        &self,
        _packet: &EncodedPacket,
        _filter: &BroadcastFilter<SocketId>,
        _volatile: bool,
    ) {
    }
    /// `serverSideEmit` without an acknowledgement: `data` (`[event, ...args]`, binary
    /// arguments as MessagePack binaries) goes to the other servers. Not awaited.
    fn server_side_emit_remote(&self, _data: Vec<Value>) {}
    /// `serverSideEmit` with an acknowledgement: `data` goes to the other servers and the
    /// future resolves to one answer per other server (the first argument its listener
    /// answered), or [`ClusterError::Timeout`] when some did not answer within `timeout` (the
    /// adapter's own request timeout when `None`, or when it is shorter). No other server:
    /// no answers.
    fn server_side_emit_with_ack_remote(
        &self,
        _data: Vec<Value>,
        _timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<Value>, ClusterError>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
    /// A broadcast with acknowledgements leaves this server: `packet` (without an ack id) goes
    /// to the sockets `filter` selects on the other servers, and the future resolves to their
    /// clients' acknowledgements (each the first argument of one ack), with how many were
    /// missing at the deadline (`timeout`, the adapter's request timeout when `None`).
    /// Never called for a `local` broadcast.
    fn broadcast_with_ack_remote(
        &self,
        _packet: &EncodedPacket,
        _filter: &BroadcastFilter<SocketId>,
        _timeout: Option<Duration>,
    ) -> BoxFuture<Result<RemoteAcks, ClusterError>> {
        Box::pin(std::future::ready(Ok(RemoteAcks::default())))
    }
    /// `fetchSockets`: the sockets of the other servers that `filter` selects.
    fn fetch_remote(
        &self,
        _filter: &BroadcastFilter<SocketId>,
        _timeout: Option<Duration>,
    ) -> BoxFuture<Result<Vec<SocketInfo>, ClusterError>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
    /// `socketsJoin` on the other servers (not awaited, as in Node).
    fn join_remote(&self, _filter: &BroadcastFilter<SocketId>, _rooms: &[Room]) {}
    /// `socketsLeave` on the other servers (not awaited).
    fn leave_remote(&self, _filter: &BroadcastFilter<SocketId>, _rooms: &[Room]) {}
    /// `disconnectSockets` on the other servers (not awaited).
    fn disconnect_remote(&self, _filter: &BroadcastFilter<SocketId>, _close: bool) {}
    /// How many servers the cluster has, this one included.
    fn server_count(&self) -> BoxFuture<Result<usize, ClusterError>> {
        Box::pin(std::future::ready(Ok(1)))
    }
}

/// What a namespace lets its adapter do to its sockets on this server, for the other servers
/// of a cluster. Every method acts on the sockets `filter` selects here (its `local` flag is
/// ignored).
pub trait LocalSockets: Send + Sync {
    /// Delivers `packet` (dropped for a recipient that cannot take it now when `volatile`).
    fn deliver(&self, packet: &EncodedPacket, filter: &BroadcastFilter<SocketId>, volatile: bool);
    /// Describes the sockets (Node's `fetchSockets` entries).
    fn describe(&self, filter: &BroadcastFilter<SocketId>) -> Vec<SocketInfo>;
    /// The sockets join `rooms`.
    fn join(&self, filter: &BroadcastFilter<SocketId>, rooms: &[Room]);
    /// The sockets leave `rooms`.
    fn leave(&self, filter: &BroadcastFilter<SocketId>, rooms: &[Room]);
    /// The sockets are disconnected; with `close`, their connections too.
    fn disconnect(&self, filter: &BroadcastFilter<SocketId>, close: bool);
    /// Every room with members on this server.
    fn rooms(&self) -> Vec<Room>;
    /// Sends `packet` (an event without an ack id) with an ack id of this server to each socket
    /// `filter` selects, and returns one future per recipient: the first argument of its
    /// acknowledgement, `None` when none came within `timeout` (or it disconnected). The
    /// number of futures is the client count a cluster reports.
    fn deliver_with_ack(
        &self,
        packet: &EncodedPacket,
        filter: &BroadcastFilter<SocketId>,
        timeout: Option<Duration>,
    ) -> Vec<BoxFuture<Option<Value>>>;
    /// Another server's `serverSideEmit`: `data` is `[event, ...args]`. The namespace runs
    /// the listeners registered for the event ([`Namespace::on_server_side`]); the returned
    /// future runs them (the adapter spawns it). With `answer`, the first listener to answer
    /// calls it once (an event without listener, or whose listeners never answer, is not
    /// answered: the requester's timeout says so).
    ///
    /// [`Namespace::on_server_side`]: super::Namespace::on_server_side
    fn server_side_event(
        &self,
        data: Vec<Value>,
        answer: Option<ServerSideAnswer>,
    ) -> BoxFuture<()>;
}

/// How a server-side event from another server is answered: called at most once, with the
/// first argument of the answer.
pub type ServerSideAnswer = Box<dyn FnOnce(Value) + Send>;

/// The other servers' part of a broadcast with acknowledgements
/// ([`Adapter::broadcast_with_ack_remote`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteAcks {
    /// The acknowledgements that arrived (each the first argument of one client's ack), in
    /// arrival order. The wire does not say which socket sent which.
    pub acks: Vec<Value>,
    /// How many were missing at the deadline: acknowledgements of clients the other servers
    /// counted, plus one for each server that never said how many clients it had.
    pub missing: usize,
}

/// One socket as a cluster describes it: an entry of `fetchSockets`.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketInfo {
    /// The socket id.
    pub id: SocketId,
    /// Its handshake, as Node describes one (`headers`, `time`, `address`, `xdomain`,
    /// `secure`, `issued`, `url`, `query`, `auth`).
    pub handshake: serde_json::Value,
    /// Its rooms (its own id included).
    pub rooms: Vec<Room>,
    /// Its shared data (Node's `socket.data`; see [`Socket::set_shared_data`](super::Socket::set_shared_data)).
    pub data: serde_json::Value,
}

/// Why a cluster operation did not complete.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError {
    /// The cluster cannot be reached now (its bus is down); nothing was waited for.
    #[error("the cluster is unreachable: {0}")]
    Unavailable(String),
    /// Too many operations are waiting for answers.
    #[error("too many cluster requests in flight")]
    Busy,
    /// Not every server (or client) answered in time.
    #[error("{missing} answer(s) missing at the deadline")]
    Timeout {
        /// How many answers were missing.
        missing: usize,
    },
    /// The arguments could not be carried to the other servers, or an answer did not
    /// deserialise into the expected type.
    #[error("cluster payload: {0}")]
    Payload(String),
}

/// The default adapter: rooms in memory ([`RoomIndex`], which also selects the recipients), no
/// other server.
#[derive(Debug)]
pub struct InMemoryAdapter {
    rooms: RwLock<RoomIndex<SocketId>>,
}

impl InMemoryAdapter {
    /// An adapter whose room index hashes with a key drawn from the operating system, so that
    /// room names chosen by clients cannot be crafted to collide.
    pub fn new() -> Self {
        Self::with_seed(rooms_seed(None))
    }

    /// An adapter whose room index hashes with `seed` (the server derives it from its own seed,
    /// [`ServerConfig::seed`](super::ServerConfig::seed), or from the operating system).
    pub fn with_seed(seed: [u8; 16]) -> Self {
        Self {
            rooms: RwLock::new(RoomIndex::with_hasher(SeededState::from_seed(seed))),
        }
    }

    /// How many sockets are in `room`, own rooms included (0 when it does not exist): what an
    /// adapter wrapping this one asks to tell when a room is created or emptied.
    pub fn room_len(&self, room: &str) -> usize {
        read(&self.rooms).room_len(room)
    }
}

impl Default for InMemoryAdapter {
    /// Same as [`InMemoryAdapter::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl Adapter for InMemoryAdapter {
    fn add_socket(&self, id: &SocketId) {
        write(&self.rooms).add_socket(id.clone());
    }

    fn join(&self, id: &SocketId, rooms: &[&str]) {
        write(&self.rooms).join_many(id, rooms);
    }

    fn leave(&self, id: &SocketId, room: &str) {
        write(&self.rooms).leave(id, room);
    }

    fn remove_socket(&self, id: &SocketId) -> Vec<Room> {
        write(&self.rooms).remove_socket(id)
    }

    fn rooms_of(&self, id: &SocketId) -> Vec<Room> {
        read(&self.rooms).rooms_of(id).collect()
    }

    fn rooms(&self) -> Vec<Room> {
        read(&self.rooms).all_rooms().collect()
    }

    fn for_each_recipient(&self, filter: &BroadcastFilter<SocketId>, f: &mut dyn FnMut(&SocketId)) {
        read(&self.rooms).for_each_recipient(filter, f);
    }
}

/// The factory [`ServerConfig::adapter`](super::ServerConfig::adapter) holds by default. A
/// [`Server`](super::Server) recognises it and gives each namespace an [`InMemoryAdapter`]
/// keyed by the server's seed; called directly, it keys each adapter from the operating system.
pub(crate) fn default_factory() -> AdapterFactory {
    static DEFAULT: LazyLock<AdapterFactory> =
        LazyLock::new(|| Arc::new(|_| Box::new(InMemoryAdapter::new())));
    DEFAULT.clone()
}

/// The adapter of a new namespace `name`: from `factory`, or, for the default factory, an
/// [`InMemoryAdapter`] keyed by `seed`.
pub(crate) fn make(factory: &AdapterFactory, seed: [u8; 16], name: &str) -> Box<dyn Adapter> {
    if Arc::ptr_eq(factory, &default_factory()) {
        Box::new(InMemoryAdapter::with_seed(seed))
    } else {
        factory(name)
    }
}

/// The room hashers' key of a server: derived from the server's seed when it has one (so that
/// a seeded server is deterministic), from the operating system otherwise.
pub(crate) fn rooms_seed(server_seed: Option<[u8; 32]>) -> [u8; 16] {
    let seed = server_seed.unwrap_or_else(crate::runtime::os_seed);
    let mut key = [0; 16];
    for (i, half) in key.chunks_mut(8).enumerate() {
        let mut h = DefaultHasher::new();
        h.write(b"sio rooms");
        h.write_usize(i);
        h.write(&seed);
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    key
}

/// The answer of a server-side event another server emitted with an acknowledgement (Node's
/// callback, last argument of the listener). Clones share it: the first
/// [`ServerSideAck::send`] answers, later ones do nothing.
#[derive(Clone)]
pub struct ServerSideAck(Arc<std::sync::Mutex<Option<ServerSideAnswer>>>);

impl std::fmt::Debug for ServerSideAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSideAck")
            .field("expected", &self.expected())
            .finish()
    }
}

impl ServerSideAck {
    pub(crate) fn new(answer: Option<ServerSideAnswer>) -> Self {
        Self(Arc::new(std::sync::Mutex::new(answer)))
    }

    /// Whether the emitting server waits for an answer that was not sent yet.
    pub fn expected(&self) -> bool {
        crate::sync::lock(&self.0).is_some()
    }

    /// Answers with `data` (what the emitting server receives as this server's answer; Node
    /// passes on one value, so a tuple arrives as an array). Does nothing when no answer is
    /// expected or one was sent already; fails when `data` does not serialise.
    pub fn send<T: serde::Serialize + ?Sized>(&self, data: &T) -> Result<(), ClusterError> {
        let value = rmpv::ext::to_value(data).map_err(|e| ClusterError::Payload(e.to_string()))?;
        if let Some(answer) = crate::sync::lock(&self.0).take() {
            answer(value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SocketId {
        SocketId::from(s)
    }

    fn select(a: &InMemoryAdapter, filter: BroadcastFilter<SocketId>) -> Vec<String> {
        let mut out = Vec::new();
        a.for_each_recipient(&filter, &mut |k| out.push(k.to_string()));
        out.sort();
        out
    }

    fn sorted(mut v: Vec<Room>) -> Vec<String> {
        let mut v: Vec<String> = v.drain(..).map(|r| r.to_string()).collect();
        v.sort();
        v
    }

    fn three() -> InMemoryAdapter {
        let a = InMemoryAdapter::default();
        for s in ["a", "b", "c"] {
            a.add_socket(&id(s));
        }
        a.join(&id("a"), &["red", "blue"]);
        a.join(&id("b"), &["blue"]);
        a
    }

    #[test]
    fn own_room_is_listed_and_targetable() {
        let a = three();
        assert_eq!(sorted(a.rooms_of(&id("a"))), ["a", "blue", "red"]);
        assert_eq!(select(&a, BroadcastFilter::all().to("b")), ["b"]);
        assert_eq!(
            select(&a, BroadcastFilter::all().to("b").to("red")),
            ["a", "b"]
        );
        assert_eq!(select(&a, BroadcastFilter::all().except("b")), ["a", "c"]);
        assert_eq!(sorted(a.rooms()), ["a", "b", "blue", "c", "red"]);
    }

    #[test]
    fn union_except_and_sender() {
        let a = three();
        assert_eq!(select(&a, BroadcastFilter::all()), ["a", "b", "c"]);
        assert_eq!(select(&a, BroadcastFilter::all().to("blue")), ["a", "b"]);
        assert_eq!(
            select(&a, BroadcastFilter::all().to("blue").to("red").to("c")),
            ["a", "b", "c"]
        );
        assert_eq!(
            select(&a, BroadcastFilter::all().to("blue").except("red")),
            ["b"]
        );
        assert_eq!(
            select(&a, BroadcastFilter::all().to("blue").without(id("a"))),
            ["b"]
        );
        assert_eq!(
            select(&a, BroadcastFilter::all().to("nowhere")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn leaving_and_rejoining_the_own_room() {
        let a = three();
        a.leave(&id("c"), "c");
        assert_eq!(
            select(&a, BroadcastFilter::all().to("c")),
            Vec::<String>::new()
        );
        assert!(a.rooms_of(&id("c")).is_empty());
        assert_eq!(select(&a, BroadcastFilter::all()), ["a", "b", "c"]);
        a.join(&id("c"), &["c"]);
        assert_eq!(select(&a, BroadcastFilter::all().to("c")), ["c"]);
    }

    #[test]
    fn a_room_named_like_a_socket_holds_both() {
        let a = three();
        a.join(&id("a"), &["b"]);
        assert_eq!(select(&a, BroadcastFilter::all().to("b")), ["a", "b"]);
        assert_eq!(select(&a, BroadcastFilter::all().except("b")), ["c"]);
    }

    #[test]
    fn remove_socket_returns_every_room_and_forgets_it() {
        let a = three();
        assert_eq!(sorted(a.remove_socket(&id("a"))), ["a", "blue", "red"]);
        assert_eq!(select(&a, BroadcastFilter::all()), ["b", "c"]);
        assert_eq!(
            select(&a, BroadcastFilter::all().to("a")),
            Vec::<String>::new()
        );
        assert_eq!(sorted(a.rooms()), ["b", "blue", "c"]);
    }

    #[test]
    fn the_default_factory_is_recognised_and_keyed_by_the_server_seed() {
        let config = super::super::ServerConfig::default();
        assert!(Arc::ptr_eq(&config.adapter, &default_factory()));
        assert_eq!(rooms_seed(Some([7; 32])), rooms_seed(Some([7; 32])));
        assert_ne!(rooms_seed(Some([7; 32])), rooms_seed(Some([8; 32])));
        assert_ne!(rooms_seed(None), rooms_seed(None));
        assert_ne!(rooms_seed(Some([0; 32])), [0; 16]);
        let a = make(&default_factory(), [3; 16], "/");
        a.add_socket(&id("x"));
        assert_eq!(sorted(a.rooms()), ["x"]);
    }

    #[test]
    fn another_factory_is_called_with_the_namespace() {
        let names: Arc<RwLock<Vec<String>>> = Arc::default();
        let seen = names.clone();
        let factory: AdapterFactory = Arc::new(move |name| {
            write(&seen).push(name.to_owned());
            Box::new(InMemoryAdapter::default())
        });
        make(&factory, [0; 16], "/chat");
        assert_eq!(*read(&names), ["/chat"]);
    }
}
