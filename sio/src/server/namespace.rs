//! Namespaces and the handles of their sockets. The two refer to each other (a socket knows
//! its namespace, a namespace its sockets), so both types are defined here, with what a
//! namespace does itself: handlers, middleware, membership, rooms. A socket's API is in
//! [`super::socket`]; broadcasting, from a namespace or a socket, in [`super::broadcast`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use sio_proto::rooms::{BroadcastFilter, Room};
use sio_proto::socket::{DisconnectReason, EncodedPacket, Nsp, Packet, Parser};

use super::adapter::Adapter;
use super::adapter::ServerSideAck;
use super::handshake::{Handshake, SocketId};
use super::inbox::ConnHandle;
use super::recovery::Recovery;
use crate::handler::BoxedHandler;
use crate::runtime::BoxFuture;
use crate::sync::{read, write};

/// Why a middleware refused a connection: the client's `connect_error` gets `message` and
/// `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// The message (`err.message` on the client).
    pub message: String,
    /// Extra data (`err.data` on the client).
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }

    /// Adds data.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

type ConnectionHandler = Arc<dyn Fn(Socket) -> BoxFuture<()> + Send + Sync>;
type Middleware = Arc<dyn Fn(Socket) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;

/// A listener of a server-side event, type-erased: the event as a packet of this namespace.
pub(crate) type ServerSideHandler =
    Arc<dyn Fn(&Packet, ServerSideAck) -> BoxFuture<()> + Send + Sync>;

pub(crate) struct NsInner {
    name: String,
    nsp: Nsp,
    on_connection: RwLock<Vec<ConnectionHandler>>,
    middlewares: RwLock<Vec<Middleware>>,
    /// By id. The ids are the server's own random strings (no peer chooses one), so a fast
    /// hasher without a key does: a broadcast looks up every recipient here.
    sockets: RwLock<HashMap<SocketId, Socket, rustc_hash::FxBuildHasher>>,
    pub(crate) adapter: Box<dyn Adapter>,
    ack_ids: AtomicU64,
    pub(crate) server_side: RwLock<HashMap<String, Vec<ServerSideHandler>>>,
    /// Connection state recovery, when the server has it on.
    pub(crate) recovery: Option<Recovery>,
    /// The server's parser: what one packet sent to many sockets is converted to, once.
    parser: Parser,
    /// The server's counters (a fan-out counts what it wrote directly).
    pub(crate) metrics: Arc<super::metrics::Metrics>,
    /// The server's runtime (a fan-out writes outside its I/O budget).
    pub(crate) rt: Arc<dyn crate::Runtime>,
}

/// A namespace (`io.of("/chat")`). Cloning is cheap.
#[derive(Clone)]
pub struct Namespace {
    pub(crate) inner: Arc<NsInner>,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Namespace").field(&self.inner.name).finish()
    }
}

impl Namespace {
    pub(crate) fn new(
        nsp: Nsp,
        adapter: Box<dyn Adapter>,
        recovery: Option<Recovery>,
        parser: Parser,
        metrics: Arc<super::metrics::Metrics>,
        rt: Arc<dyn crate::Runtime>,
    ) -> Self {
        Self {
            inner: Arc::new(NsInner {
                name: nsp.as_str().to_owned(),
                nsp,
                on_connection: RwLock::default(),
                middlewares: RwLock::default(),
                sockets: RwLock::default(),
                adapter,
                ack_ids: AtomicU64::new(0),
                server_side: RwLock::default(),
                recovery,
                parser,
                metrics,
                rt,
            }),
        }
    }

    /// The name (`/`, `/chat`, ...).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub(crate) fn nsp(&self) -> Nsp {
        self.inner.nsp.clone()
    }

    /// `p` (in the JSON form) as the server's parser sends it: converted once for all the
    /// recipients of a broadcast (each connection would otherwise convert its copy).
    pub(crate) fn wire(&self, p: &EncodedPacket) -> EncodedPacket {
        match self.inner.parser.convert(p) {
            Some(w) => w.into_owned(),
            None => p.clone(),
        }
    }

    pub(crate) fn recovery(&self) -> Option<&Recovery> {
        self.inner.recovery.as_ref()
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.inner.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a connection handler (Node's `nsp.on("connection")`).
    pub fn on_connection<F, Fut>(&self, f: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        write(&self.inner.on_connection).push(Arc::new(move |s| Box::pin(f(s))));
    }

    /// Adds a connection middleware (Node's `nsp.use`); an error refuses the connection and
    /// reaches the client as `connect_error` with its message and data.
    ///
    /// ```no_run
    /// # fn demo(io: sio::Server) {
    /// use sio::{ConnectError, Socket};
    ///
    /// io.of("/admin").use_middleware(|socket: Socket| async move {
    ///     if socket.handshake().auth["token"] == "let me in" {
    ///         Ok(())
    ///     } else {
    ///         Err(ConnectError::new("not authorized"))
    ///     }
    /// });
    /// # }
    /// ```
    pub fn use_middleware<F, Fut>(&self, f: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        write(&self.inner.middlewares).push(Arc::new(move |s| Box::pin(f(s))));
    }

    pub(crate) fn middlewares(&self) -> Vec<Middleware> {
        read(&self.inner.middlewares).clone()
    }

    pub(crate) fn connection_handlers(&self) -> Vec<ConnectionHandler> {
        read(&self.inner.on_connection).clone()
    }

    pub(crate) fn add_socket(&self, s: &Socket) {
        self.inner.adapter.add_socket(&s.inner.id);
        write(&self.inner.sockets).insert(s.inner.id.clone(), s.clone());
    }

    pub(crate) fn remove_socket(&self, id: &SocketId) {
        write(&self.inner.sockets).remove(id);
        self.inner.adapter.remove_socket(id);
    }

    pub(crate) fn join<'a>(&self, id: &SocketId, rooms: impl IntoIterator<Item = &'a str>) {
        if read(&self.inner.sockets).contains_key(id) {
            let rooms: Vec<&str> = rooms.into_iter().collect();
            self.inner.adapter.join(id, &rooms);
        }
    }

    pub(crate) fn leave(&self, id: &SocketId, room: &str) {
        self.inner.adapter.leave(id, room);
    }

    pub(crate) fn rooms_of(&self, id: &SocketId) -> Vec<Room> {
        self.inner.adapter.rooms_of(id)
    }

    /// The socket with this id, if connected to this namespace.
    pub fn get_socket(&self, id: &str) -> Option<Socket> {
        read(&self.inner.sockets).get(id).cloned()
    }

    /// Number of connected sockets.
    pub fn len(&self) -> usize {
        read(&self.inner.sockets).len()
    }

    /// Whether no socket is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every room that has members.
    pub fn rooms(&self) -> Vec<Room> {
        self.inner.adapter.rooms()
    }

    pub(crate) fn recipients(&self, filter: &BroadcastFilter<SocketId>) -> Vec<Socket> {
        let sockets = read(&self.inner.sockets);
        let mut out = Vec::new();
        self.inner.adapter.for_each_recipient(filter, &mut |id| {
            if let Some(s) = sockets.get(id) {
                out.push(s.clone());
            }
        });
        out
    }
}

type DisconnectHandler = Arc<dyn Fn(Socket, DisconnectReason) -> BoxFuture<()> + Send + Sync>;
type DisconnectingHandler = Arc<dyn Fn(&Socket, DisconnectReason) + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(&Socket, &str) + Send + Sync>;
type AnyHandler = Arc<dyn Fn(&Socket, &str, &Packet) + Send + Sync>;
type AnyOutgoingHandler = Arc<dyn Fn(&Socket, &str) + Send + Sync>;
/// Per-packet middleware: returning an error drops the packet (the error goes to `on_error`).
type PacketMiddleware = Arc<dyn Fn(&Socket, &str, &Packet) -> Result<(), String> + Send + Sync>;

pub(crate) struct SocketInner {
    pub(crate) id: SocketId,
    pub(crate) ns: Namespace,
    pub(crate) conn: ConnHandle,
    pub(crate) handshake: Handshake,
    pub(crate) connected: AtomicBool,
    pub(super) handlers: RwLock<HashMap<String, BoxedHandler<Socket>>>,
    pub(super) listeners: RwLock<Listeners>,
    pub(super) data: Mutex<http::Extensions>,
    /// With connection state recovery: the private id its client was given, and whether the
    /// socket was recovered.
    pub(super) pid: std::sync::OnceLock<Box<str>>,
    pub(super) recovered: AtomicBool,
}

/// A socket's listeners besides its event handlers, behind one lock: `disconnect` handlers
/// (most sockets have one), and the rarely used others, allocated with the first of them (an
/// idle socket holds a few words instead of six lists and their locks).
#[derive(Default)]
pub(crate) struct Listeners {
    pub(super) on_disconnect: Vec<DisconnectHandler>,
    pub(super) rare: Option<Box<RareListeners>>,
}

#[derive(Default)]
pub(crate) struct RareListeners {
    pub(super) any: Vec<AnyHandler>,
    pub(super) any_outgoing: Vec<AnyOutgoingHandler>,
    pub(super) middlewares: Vec<PacketMiddleware>,
    pub(super) on_disconnecting: Vec<DisconnectingHandler>,
    pub(super) on_error: Vec<ErrorHandler>,
}

impl Listeners {
    /// The rare listeners, allocated if needed (to add one).
    pub(super) fn rare(&mut self) -> &mut RareListeners {
        self.rare.get_or_insert_with(Box::default)
    }

    /// A copy of one list of the rare listeners (empty when there are none).
    pub(super) fn copy<T: Clone>(&self, list: impl FnOnce(&RareListeners) -> &Vec<T>) -> Vec<T> {
        self.rare.as_deref().map(list).cloned().unwrap_or_default()
    }
}

/// A client connected to a namespace. Cloning is cheap (a shared handle).
#[derive(Clone)]
pub struct Socket {
    pub(crate) inner: Arc<SocketInner>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("nsp", &self.inner.ns.name())
            .finish()
    }
}
