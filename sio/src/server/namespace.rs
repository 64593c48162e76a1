//! Namespaces, their middleware and connection handlers, and broadcasting.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::future::join_all;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_proto::rooms::{BroadcastFilter, Room};

use super::adapter::Adapter;
use sio_proto::socket::Nsp;

use super::socket::{encode_event, read, write, AckError, EmitError, Socket, SocketId};
use crate::payload;
use crate::runtime::BoxFuture;

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

pub(crate) struct NsInner {
    name: String,
    nsp: Nsp,
    on_connection: RwLock<Vec<ConnectionHandler>>,
    middlewares: RwLock<Vec<Middleware>>,
    sockets: RwLock<HashMap<SocketId, Socket>>,
    pub(crate) adapter: Box<dyn Adapter>,
    ack_ids: AtomicU64,
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
    pub(crate) fn new(nsp: Nsp, adapter: Box<dyn Adapter>) -> Self {
        Self {
            inner: Arc::new(NsInner {
                name: nsp.as_str().to_owned(),
                nsp,
                on_connection: RwLock::default(),
                middlewares: RwLock::default(),
                sockets: RwLock::default(),
                adapter,
                ack_ids: AtomicU64::new(0),
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
        self.inner.adapter.add_socket(&s.sid());
        write(&self.inner.sockets).insert(s.sid(), s.clone());
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

    /// A broadcast to the whole namespace.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone(), BroadcastFilter::all())
    }

    /// A broadcast to the members of `room` (call again for a union of rooms).
    pub fn to(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// Same as [`Namespace::to`].
    pub fn within(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.to(room)
    }

    /// A broadcast to everyone but the members of `room`.
    pub fn except(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.broadcast().except(room)
    }

    /// A volatile broadcast to the whole namespace.
    pub fn volatile(&self) -> BroadcastOperator {
        self.broadcast().volatile()
    }

    /// A broadcast to the whole namespace whose acks are awaited for at most `d`.
    pub fn timeout(&self, d: Duration) -> BroadcastOperator {
        self.broadcast().timeout(d)
    }

    /// Emits to every socket of the namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.broadcast().emit(event, data)
    }

    /// The matching sockets (Node's `fetchSockets`).
    pub fn fetch_sockets(&self) -> Vec<Socket> {
        self.broadcast().fetch_sockets()
    }

    /// Makes every socket join `rooms` (Node's `socketsJoin`).
    pub fn sockets_join<'a>(&self, rooms: impl IntoIterator<Item = &'a str> + Clone) {
        self.broadcast().sockets_join(rooms)
    }

    /// Makes every socket leave `room` (Node's `socketsLeave`).
    pub fn sockets_leave(&self, room: &str) {
        self.broadcast().sockets_leave(room)
    }

    /// Disconnects every socket (Node's `disconnectSockets`).
    pub fn disconnect_sockets(&self, close: bool) {
        self.broadcast().disconnect_sockets(close)
    }

    fn recipients(&self, filter: &BroadcastFilter<SocketId>) -> Vec<Socket> {
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

/// A broadcast under construction: rooms, exceptions and flags, then `emit`.
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Namespace,
    filter: BroadcastFilter<SocketId>,
    volatile: bool,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("ns", &self.ns.name())
            .field("filter", &self.filter)
            .field("volatile", &self.volatile)
            .finish()
    }
}

/// One socket's answer to a broadcast with ack.
#[derive(Debug)]
pub struct AckResponse<R> {
    /// Who answered (or failed to).
    pub socket: SocketId,
    /// The answer, or why there is none.
    pub result: Result<R, AckError>,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Namespace, filter: BroadcastFilter<SocketId>) -> Self {
        Self {
            ns,
            filter,
            volatile: false,
            timeout: None,
        }
    }

    /// Adds `room` to the targets (a union).
    pub fn to(mut self, room: impl Into<Room>) -> Self {
        self.filter = self.filter.to(room);
        self
    }

    /// Same as [`BroadcastOperator::to`].
    pub fn within(self, room: impl Into<Room>) -> Self {
        self.to(room)
    }

    /// Excludes the members of `room`.
    pub fn except(mut self, room: impl Into<Room>) -> Self {
        self.filter = self.filter.except(room);
        self
    }

    /// Only this server's sockets (every socket, with the in-memory adapter).
    pub fn local(mut self) -> Self {
        self.filter = self.filter.local();
        self
    }

    /// Drops the packet for recipients that cannot take it at once.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Accepted for API parity; websocket compression is not negotiated by this server.
    pub fn compress(self, _compress: bool) -> Self {
        self
    }

    /// How long [`BroadcastOperator::emit_with_ack`] waits for answers.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Emits to every recipient. The packet is encoded once; each recipient costs a queue
    /// push. A recipient whose queue is full is skipped (its client does not keep up).
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        let p = encode_event(&self.ns.nsp(), event, data, None)?;
        if !self.filter.local {
            self.ns.inner.adapter.broadcast_remote(&p, &self.filter);
        }
        for s in self.ns.recipients(&self.filter) {
            if self.volatile {
                let _ = s.inner.conn.push(super::inbox::Input::Volatile(p.clone()));
            } else {
                let _ = s.send_encoded(p.clone());
            }
        }
        Ok(())
    }

    /// Emits and collects every recipient's ack (or why it did not come) within the timeout.
    pub async fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + 'static>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<AckResponse<R>>, EmitError> {
        let id = self.ns.next_ack_id();
        let p = encode_event(&self.ns.nsp(), event, data, Some(id))?;
        let waits = self.ns.recipients(&self.filter).into_iter().map(|s| {
            let rx = s.request_ack(id, p.clone(), self.timeout);
            let socket = s.sid();
            async move {
                let result = match rx {
                    Err(e) => Err(AckError::Emit(e)),
                    Ok(rx) => match rx.await {
                        Err(_) => Err(AckError::Disconnected),
                        Ok(Err(e)) => Err(e),
                        Ok(Ok(packet)) => payload::decode(&packet.data, 0, &packet.attachments)
                            .map_err(AckError::from),
                    },
                };
                AckResponse { socket, result }
            }
        });
        Ok(join_all(waits).await)
    }

    /// The matching sockets.
    pub fn fetch_sockets(&self) -> Vec<Socket> {
        self.ns.recipients(&self.filter)
    }

    /// Makes the matching sockets join `rooms`.
    pub fn sockets_join<'a>(&self, rooms: impl IntoIterator<Item = &'a str> + Clone) {
        for s in self.fetch_sockets() {
            s.join(rooms.clone());
        }
    }

    /// Makes the matching sockets leave `room`.
    pub fn sockets_leave(&self, room: &str) {
        for s in self.fetch_sockets() {
            s.leave(room);
        }
    }

    /// Disconnects the matching sockets.
    pub fn disconnect_sockets(&self, close: bool) {
        for s in self.fetch_sockets() {
            s.disconnect(close);
        }
    }
}
