//! A server-side socket's API: one client on one namespace (the handle itself is defined
//! with its namespace, [`super::namespace`]; its broadcasts are in [`super::broadcast`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_channel::oneshot;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_proto::rooms::Room;
use sio_proto::socket::{DisconnectReason, EncodedPacket, Nsp, Packet};

pub use super::handshake::{Handshake, Headers, SocketId};
pub use super::inbox::{AckError, EmitError};
use super::inbox::{AckReply, ConnHandle, Input};
pub use super::namespace::Socket;
use super::namespace::{Namespace, SocketInner};
use crate::handler::{boxed, BoxedHandler, EventHandler, HandlerSocket};
use crate::payload::{self, PayloadError};
use crate::runtime::BoxFuture;

/// Answers an event whose sender asked for an ack. Sending is a no-op when no ack was asked.
#[derive(Debug, Clone)]
pub struct AckSender {
    pub(crate) nsp: Nsp,
    pub(crate) id: Option<u64>,
    pub(crate) conn: ConnHandle,
}

impl AckSender {
    /// Whether the client asked for an ack.
    pub fn expected(&self) -> bool {
        self.id.is_some()
    }

    /// Sends the ack with `data` as its arguments (a tuple or an [`Args`](crate::Args)
    /// spreads into several, `()` is none, one `null` is one).
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), EmitError> {
        let Some(id) = self.id else { return Ok(()) };
        let (json, attachments) = payload::to_payload(None, data)?;
        let p = Packet::ack(self.nsp.clone(), id, json, attachments).encode();
        self.conn.push(Input::Packet(p))
    }
}

impl HandlerSocket for Socket {
    type Ack = AckSender;
    fn report_bad_args(&self, packet: &Packet, e: &PayloadError) {
        self.report_bad_args_inner(packet, e)
    }
}

impl Socket {
    pub(crate) fn new(id: SocketId, ns: Namespace, conn: ConnHandle, handshake: Handshake) -> Self {
        Self {
            inner: Arc::new(SocketInner {
                id,
                ns,
                conn,
                handshake,
                connected: AtomicBool::new(false),
                handlers: RwLock::default(),
                listeners: RwLock::default(),
                data: Mutex::default(),
                pid: std::sync::OnceLock::new(),
                recovered: AtomicBool::new(false),
            }),
        }
    }

    /// The socket id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The socket id as a shared string.
    pub fn sid(&self) -> SocketId {
        self.inner.id.clone()
    }

    /// The namespace.
    pub fn ns(&self) -> &Namespace {
        &self.inner.ns
    }

    /// The handshake details.
    pub fn handshake(&self) -> &Handshake {
        &self.inner.handshake
    }

    /// Whether the socket is connected.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Whether this socket is one that was recovered (Node's `socket.recovered`, with
    /// [`ServerConfig::connection_state_recovery`](super::ServerConfig::connection_state_recovery)):
    /// its client came back within the window after its transport died, and got the same id,
    /// rooms and data, and every packet it missed.
    pub fn recovered(&self) -> bool {
        self.inner.recovered.load(Ordering::Acquire)
    }

    pub(crate) fn pid(&self) -> Option<String> {
        self.inner.pid.get().map(|p| p.to_string())
    }

    /// Marks the socket as accepted with recovery on: its private id, whether it was
    /// recovered.
    pub(crate) fn set_recovery(&self, pid: &str, recovered: bool) {
        let _ = self.inner.pid.set(pid.into());
        self.inner.recovered.store(recovered, Ordering::Release);
    }

    pub(crate) fn data_snapshot(&self) -> http::Extensions {
        lock(&self.inner.data).clone()
    }

    pub(crate) fn restore_data(&self, data: http::Extensions) {
        *lock(&self.inner.data) = data;
    }

    /// The Engine.IO transport currently in use (`polling` or `websocket`).
    pub fn transport(&self) -> &'static str {
        self.inner.conn.transport().as_str()
    }

    /// Stores a value of type `T` in the socket's data (Node's `socket.data`), replacing any.
    pub fn set_data<T: Clone + Send + Sync + 'static>(&self, value: T) {
        lock(&self.inner.data).insert(value);
    }

    /// A copy of the value of type `T` in the socket's data.
    pub fn data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        lock(&self.inner.data).get::<T>().cloned()
    }

    /// Sets the data the other servers of a cluster see for this socket (Node's
    /// `socket.data`, what `fetch_sockets` reports); JSON, so that Node's servers read it too.
    pub fn set_shared_data<T: Serialize + ?Sized>(
        &self,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        let v = serde_json::to_value(value)?;
        lock(&self.inner.data).insert(SharedData(v));
        Ok(())
    }

    /// The data set with [`Socket::set_shared_data`] (`Null` when none).
    pub fn shared_data(&self) -> serde_json::Value {
        lock(&self.inner.data)
            .get::<SharedData>()
            .map(|d| d.0.clone())
            .unwrap_or_default()
    }

    /// Registers the handler of `event`, replacing an earlier one. How the handler's data
    /// takes the arguments: see [`EventHandler`] ([`Args`](crate::Args) takes them all, as
    /// they came).
    ///
    /// ```no_run
    /// # fn demo(socket: sio::Socket) {
    /// use sio::{AckSender, Socket};
    ///
    /// // Node: socket.on("chat", (text, ack) => { socket.broadcast.emit("chat", text); ack("ok") })
    /// socket.on("chat", |socket: Socket, text: String, ack: AckSender| async move {
    ///     let _ = socket.broadcast().emit("chat", &text);
    ///     let _ = ack.send(&"ok");
    /// });
    /// // Several arguments as a tuple; none at all: a handler of the socket alone.
    /// socket.on("move", |_: Socket, (x, y): (i32, i32)| async move { println!("{x},{y}") });
    /// socket.on("ping", |socket: Socket| async move { let _ = socket.emit("pong", &()); });
    /// # }
    /// ```
    pub fn on<M, H: EventHandler<Socket, M>>(&self, event: impl Into<String>, handler: H) {
        write(&self.inner.handlers).insert(event.into(), boxed(handler));
    }

    /// Removes the handler of `event`.
    pub fn off(&self, event: &str) {
        write(&self.inner.handlers).remove(event);
    }

    /// Registers a listener called for every incoming event, before its handler.
    pub fn on_any(&self, f: impl Fn(&Socket, &str, &Packet) + Send + Sync + 'static) {
        write(&self.inner.listeners).rare().any.push(Arc::new(f));
    }

    /// Registers a listener called for every event this socket emits.
    pub fn on_any_outgoing(&self, f: impl Fn(&Socket, &str) + Send + Sync + 'static) {
        write(&self.inner.listeners)
            .rare()
            .any_outgoing
            .push(Arc::new(f));
    }

    /// Adds a per-packet middleware (Node's `socket.use`): an error drops the packet and is
    /// reported to the `on_error` listeners.
    pub fn use_packet(
        &self,
        f: impl Fn(&Socket, &str, &Packet) -> Result<(), String> + Send + Sync + 'static,
    ) {
        write(&self.inner.listeners)
            .rare()
            .middlewares
            .push(Arc::new(f));
    }

    /// Registers a listener for errors of per-packet middleware and argument decoding.
    pub fn on_error(&self, f: impl Fn(&Socket, &str) + Send + Sync + 'static) {
        write(&self.inner.listeners)
            .rare()
            .on_error
            .push(Arc::new(f));
    }

    /// Registers a `disconnect` handler.
    pub fn on_disconnect<F, Fut>(&self, f: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        write(&self.inner.listeners)
            .on_disconnect
            .push(Arc::new(move |s, r| Box::pin(f(s, r))));
    }

    /// Registers a `disconnecting` listener: called while the socket still is in its rooms.
    pub fn on_disconnecting(&self, f: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static) {
        write(&self.inner.listeners)
            .rare()
            .on_disconnecting
            .push(Arc::new(f));
    }

    /// Emits `event` with `data` (a tuple or an [`Args`](crate::Args) spreads into several
    /// arguments, `()` is none, one `null` is one; `bytes::Bytes` anywhere travels as a binary
    /// attachment).
    ///
    /// ```no_run
    /// # fn demo(socket: sio::Socket) -> Result<(), sio::EmitError> {
    /// socket.emit("hello", &"world")?; // socket.emit("hello", "world")
    /// socket.emit("score", &("alice", 42))?; // socket.emit("score", "alice", 42)
    /// socket.emit("file", &bytes::Bytes::from_static(b"\x00\x01"))?; // a Buffer
    /// # Ok(()) }
    /// ```
    ///
    /// With connection state recovery on, the event is kept for the socket and sent with an
    /// offset: if the socket is disconnected now, its client gets it when it recovers the
    /// socket (as in Node, the emit does not fail then).
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.emit_flagged(event, data, true)
    }

    fn emit_flagged<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        compress: bool,
    ) -> Result<(), EmitError> {
        let mut p = encode_event(&self.inner.ns.nsp(), event, data, None)?;
        p.uncompressed = !compress;
        self.notify_outgoing(event);
        if let Some(r) = self.inner.ns.recovery() {
            let own = sio_proto::rooms::BroadcastFilter::all().to(&*self.inner.id);
            r.emit(&self.inner.ns, &p, &own);
            return Ok(());
        }
        self.send_encoded(p)
    }

    /// Emits `event` only if it can leave at once (Node's `socket.volatile.emit`).
    pub fn emit_volatile<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        let p = encode_event(&self.inner.ns.nsp(), event, data, None)?;
        self.notify_outgoing(event);
        if !self.connected() {
            return Ok(());
        }
        let _ = self.inner.conn.push(Input::Volatile(p));
        Ok(())
    }

    /// Emits the `message` event (Node's `socket.send`).
    pub fn send<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), EmitError> {
        self.emit("message", data)
    }

    /// Emits `event` and waits for the client's ack, deserialised as `R` (one argument: that
    /// argument; several: the array), for at most `timeout` (`None`: forever).
    ///
    /// ```no_run
    /// # async fn demo(socket: sio::Socket) -> Result<(), sio::AckError> {
    /// use std::time::Duration;
    ///
    /// // Node: const answer = await socket.timeout(5000).emitWithAck("question", "ready?")
    /// let answer: String = socket
    ///     .emit_with_ack("question", &"ready?", Some(Duration::from_secs(5)))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + 'static>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
    ) -> Result<R, AckError> {
        self.emit_with_ack_flagged(event, data, timeout, true).await
    }

    async fn emit_with_ack_flagged<T: Serialize + ?Sized, R: DeserializeOwned + 'static>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
        compress: bool,
    ) -> Result<R, AckError> {
        let id = self.inner.ns.next_ack_id();
        let mut p = encode_event(&self.inner.ns.nsp(), event, data, Some(id))?;
        p.uncompressed = !compress;
        self.notify_outgoing(event);
        let rx = self.request_ack(id, p, timeout)?;
        let packet = rx.await.map_err(|_| AckError::Disconnected)??;
        Ok(payload::decode(&packet.data, 0, &packet.attachments)?)
    }

    /// Emits `event` and calls `callback` with the client's ack (or the reason there is none:
    /// timeout, disconnection). The callback runs on the connection's task: keep it short.
    pub fn emit_with_ack_callback<T, R, F>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
        callback: F,
    ) -> Result<(), EmitError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned + 'static,
        F: FnOnce(Result<R, AckError>) + Send + 'static,
    {
        let id = self.inner.ns.next_ack_id();
        let p = encode_event(&self.inner.ns.nsp(), event, data, Some(id))?;
        self.notify_outgoing(event);
        let reply = AckReply::Callback(Box::new(move |r: Result<Packet, AckError>| {
            callback(r.and_then(|packet| {
                payload::decode(&packet.data, 0, &packet.attachments).map_err(AckError::from)
            }))
        }));
        self.push_ack_request(id, p, timeout, reply)
    }

    /// Node's `socket.compress(flag)`: the emit made through the answer is sent uncompressed
    /// when `compress` is `false`, even on a websocket with `permessage-deflate`
    /// ([`ServerConfig::per_message_deflate`](crate::ServerConfig::per_message_deflate)).
    ///
    /// ```no_run
    /// # fn demo(socket: sio::Socket) -> Result<(), sio::EmitError> {
    /// socket.compress(false).emit("already-compressed", &bytes::Bytes::from_static(b"..."))?;
    /// # Ok(()) }
    /// ```
    pub fn compress(&self, compress: bool) -> Compress<'_> {
        Compress {
            socket: self,
            compress,
        }
    }

    pub(crate) fn request_ack(
        &self,
        id: u64,
        p: EncodedPacket,
        timeout: Option<Duration>,
    ) -> Result<oneshot::Receiver<Result<Packet, AckError>>, EmitError> {
        let (tx, rx) = oneshot::channel();
        self.push_ack_request(id, p, timeout, AckReply::Future(tx))?;
        Ok(rx)
    }

    fn push_ack_request(
        &self,
        id: u64,
        p: EncodedPacket,
        timeout: Option<Duration>,
        reply: AckReply,
    ) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        self.inner
            .conn
            .push(Input::AckRequest(Box::new(super::inbox::AckRequest {
                nsp: self.inner.ns.nsp(),
                id,
                packet: p,
                timeout,
                reply,
            })))
    }

    /// Joins rooms.
    pub fn join<'a>(&self, rooms: impl IntoIterator<Item = &'a str>) {
        self.inner.ns.join(&self.inner.id, rooms);
    }

    /// Leaves a room.
    pub fn leave(&self, room: &str) {
        self.inner.ns.leave(&self.inner.id, room);
    }

    /// The rooms the socket is in (its own id included).
    pub fn rooms(&self) -> Vec<Room> {
        self.inner.ns.rooms_of(&self.inner.id)
    }

    /// Disconnects the socket (`server namespace disconnect`); with `close`, the whole
    /// underlying connection too.
    pub fn disconnect(&self, close: bool) {
        let _ = self.inner.conn.push(Input::Disconnect {
            nsp: self.inner.ns.nsp(),
            close,
        });
    }

    /// Closes the underlying connection without a DISCONNECT packet (Node's
    /// `socket.conn.close()`): every socket of the connection is disconnected with
    /// `forced close`, and the client sees `transport close` and reconnects.
    pub fn close_connection(&self) {
        let _ = self
            .inner
            .conn
            .push(Input::Close(sio_proto::engine::CloseReason::ForcedClose));
    }

    pub(crate) fn send_encoded(&self, p: EncodedPacket) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        self.inner.conn.push(Input::Packet(p))
    }

    pub(crate) fn notify_outgoing(&self, event: &str) {
        let listeners = read(&self.inner.listeners).copy(|r| &r.any_outgoing);
        for l in listeners {
            l(self, event);
        }
    }

    pub(crate) fn handler(&self, event: &str) -> Option<BoxedHandler<Socket>> {
        read(&self.inner.handlers).get(event).cloned()
    }

    /// Runs per-packet middleware and `on_any` listeners; false when the packet is dropped.
    pub(crate) fn pre_dispatch(&self, event: &str, packet: &Packet) -> bool {
        let (mws, any) = {
            let l = read(&self.inner.listeners);
            (l.copy(|r| &r.middlewares), l.copy(|r| &r.any))
        };
        for m in mws {
            if let Err(e) = m(self, event, packet) {
                self.report_error(&e);
                return false;
            }
        }
        for a in any {
            a(self, event, packet);
        }
        true
    }

    fn report_bad_args_inner(&self, packet: &Packet, e: &PayloadError) {
        let name = packet.event_name().unwrap_or_default();
        tracing::warn!(
            nsp = self.inner.ns.name(),
            event = &*name,
            socket = self.id(),
            error = %e,
            "event arguments do not fit the handler; the handler did not run"
        );
        self.report_error(&format!("invalid arguments for {name:?}: {e}"));
    }

    fn report_error(&self, e: &str) {
        let l = read(&self.inner.listeners).copy(|r| &r.on_error);
        for f in l {
            f(self, e);
        }
    }

    pub(crate) fn run_disconnecting(&self, reason: DisconnectReason) {
        let l = read(&self.inner.listeners).copy(|r| &r.on_disconnecting);
        for f in l {
            f(self, reason);
        }
    }

    pub(crate) fn disconnect_futures(&self, reason: DisconnectReason) -> Vec<BoxFuture<()>> {
        let l = read(&self.inner.listeners).on_disconnect.clone();
        l.into_iter().map(|f| f(self.clone(), reason)).collect()
    }
}

/// The shared data, kept among the socket's typed data.
#[derive(Clone)]
struct SharedData(serde_json::Value);

/// Encodes an EVENT once (see [`payload::encode_event`]), refusing reserved names.
pub(crate) fn encode_event<T: Serialize + ?Sized>(
    nsp: &Nsp,
    event: &str,
    data: &T,
    id: Option<u64>,
) -> Result<EncodedPacket, EmitError> {
    if sio_proto::socket::packet::RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::Reserved(event.to_owned()));
    }
    Ok(payload::encode_event(nsp, event, data, id)?)
}

pub(crate) use crate::sync::{lock, read, write};

/// An emit with Node's `compress` flag ([`Socket::compress`]).
#[derive(Clone, Copy)]
pub struct Compress<'a> {
    socket: &'a Socket,
    compress: bool,
}

impl Compress<'_> {
    /// [`Socket::emit`] with the flag.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.socket.emit_flagged(event, data, self.compress)
    }

    /// [`Socket::emit_with_ack`] with the flag.
    pub async fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + 'static>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
    ) -> Result<R, AckError> {
        self.socket
            .emit_with_ack_flagged(event, data, timeout, self.compress)
            .await
    }
}
