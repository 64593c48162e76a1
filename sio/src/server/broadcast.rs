//! Broadcasting: a [`BroadcastOperator`] built from a namespace or from a socket (rooms,
//! exceptions, flags), then `emit` — recipients chosen by the namespace's adapter, the packet
//! encoded once.

use std::time::Duration;

use futures_util::future::join_all;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_proto::rooms::{BroadcastFilter, Room};

use sio_proto::socket::EncodedPacket;

use sio_proto::cluster::{bridge, Value};

use super::adapter::{ClusterError, LocalSockets, ServerSideAnswer, SocketInfo};
use super::handshake::SocketId;
use super::inbox::{AckError, EmitError};
use super::namespace::{Namespace, Socket};
use super::server_side::{decode_value, first_arg};
use super::socket::encode_event;
use crate::payload;
use crate::runtime::BoxFuture;

/// A broadcast under construction: rooms, exceptions and flags, then `emit`.
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Namespace,
    filter: BroadcastFilter<SocketId>,
    volatile: bool,
    /// Node's `compress` flag (`false`: sent uncompressed where websockets compress).
    compress: bool,
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

/// What a broadcast with acks collected ([`BroadcastOperator::emit_with_ack`]).
#[derive(Debug)]
pub struct BroadcastAcks<R> {
    /// This server's recipients, one entry each: the answer or why there is none.
    pub local: Vec<AckResponse<R>>,
    /// The other servers' clients' answers (with a cluster adapter), in arrival order. The
    /// cluster does not say which socket sent which; an entry is an error when the answer
    /// did not deserialise into `R`.
    pub remote: Vec<Result<R, ClusterError>>,
    /// Why some answers of the other servers are missing: [`ClusterError::Timeout`] with
    /// how many (clients that did not answer in time, plus one per server that never said
    /// how many clients it had), or the cluster could not be asked. `None`: all arrived.
    pub remote_error: Option<ClusterError>,
}

impl<R> Default for BroadcastAcks<R> {
    fn default() -> Self {
        Self {
            local: Vec::new(),
            remote: Vec::new(),
            remote_error: None,
        }
    }
}

impl<R> BroadcastAcks<R> {
    /// Every answer that arrived and deserialised, this server's first.
    pub fn answers(&self) -> impl Iterator<Item = &R> + '_ {
        self.local
            .iter()
            .filter_map(|a| a.result.as_ref().ok())
            .chain(self.remote.iter().filter_map(|r| r.as_ref().ok()))
    }

    /// Whether every recipient, on every server, answered with a value of type `R`.
    pub fn is_complete(&self) -> bool {
        self.remote_error.is_none()
            && self.local.iter().all(|a| a.result.is_ok())
            && self.remote.iter().all(Result::is_ok)
    }
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Namespace, filter: BroadcastFilter<SocketId>) -> Self {
        Self {
            ns,
            filter,
            volatile: false,
            compress: true,
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

    /// Node's `compress(flag)`: with `false` the broadcast is sent uncompressed, even on
    /// websockets with `permessage-deflate`.
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// How long [`BroadcastOperator::emit_with_ack`] waits for answers.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Emits to every recipient. The packet is encoded once; each recipient costs a queue
    /// push. A recipient whose queue is full is skipped (its client does not keep up).
    ///
    /// ```no_run
    /// # fn demo(io: sio::Server, socket: sio::Socket) -> Result<(), sio::EmitError> {
    /// io.emit("news", &"to everyone")?; // io.emit(..)
    /// io.to("room1").to("room2").except("muted").emit("news", &"rooms")?;
    /// io.of("/chat").to("lobby").emit("news", &"another namespace")?;
    /// socket.to("lobby").emit("news", &"the room, not me")?; // socket.to(..)
    /// io.volatile().emit("tick", &1)?; // may be dropped for a client that is not ready
    /// io.to("room1").local().emit("news", &"this server only")?; // cluster: no Redis
    /// # Ok(()) }
    /// ```
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        let mut p = encode_event(&self.ns.nsp(), event, data, None)?;
        p.uncompressed = !self.compress;
        if !self.filter.local {
            self.ns
                .inner
                .adapter
                .broadcast_remote(&p, &self.filter, self.volatile);
        }
        if let (false, Some(r)) = (self.volatile, self.ns.recovery()) {
            r.emit(&self.ns, &p, &self.filter);
            return Ok(());
        }
        fan_out(&self.ns, &self.ns.wire(&p), &self.filter, self.volatile);
        Ok(())
    }

    /// Emits and collects every recipient's ack (or why it did not come) within the timeout:
    /// this server's recipients one by one, and, with a cluster adapter and unless `local`,
    /// the answers of the other servers' clients (Node's `timeout(t).emit(.., (err,
    /// responses) => ..)`), with how many of those are missing.
    pub async fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + 'static>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<BroadcastAcks<R>, EmitError> {
        let id = self.ns.next_ack_id();
        let mut p = encode_event(&self.ns.nsp(), event, data, Some(id))?;
        p.uncompressed = !self.compress;
        let remote = if self.filter.local {
            None
        } else {
            let bare = encode_event(&self.ns.nsp(), event, data, None)?;
            Some(
                self.ns
                    .inner
                    .adapter
                    .broadcast_with_ack_remote(&bare, &self.filter, self.timeout),
            )
        };
        let p = self.ns.wire(&p);
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
        let mut out = BroadcastAcks::default();
        match remote {
            None => out.local = join_all(waits).await,
            Some(remote) => {
                let (local, remote) = futures_util::future::join(join_all(waits), remote).await;
                out.local = local;
                match remote {
                    Ok(acks) => {
                        let nsp = self.ns.nsp();
                        out.remote = acks
                            .acks
                            .into_iter()
                            .map(|v| decode_value(v, &nsp))
                            .collect();
                        if acks.missing > 0 {
                            out.remote_error = Some(ClusterError::Timeout {
                                missing: acks.missing,
                            });
                        }
                    }
                    Err(e) => out.remote_error = Some(e),
                }
            }
        }
        Ok(out)
    }

    /// The matching sockets of this server.
    pub fn sockets(&self) -> Vec<Socket> {
        self.ns.recipients(&self.filter)
    }

    /// The matching sockets of every server of the cluster (Node's `fetchSockets`): this
    /// server's at once, the others' as they answer (within the operator's timeout, or the
    /// adapter's). With a single server, the same sockets as [`BroadcastOperator::sockets`].
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, ClusterError> {
        let mut out: Vec<RemoteSocket> = self
            .sockets()
            .into_iter()
            .map(|s| RemoteSocket::local(&self.ns, s))
            .collect();
        if !self.filter.local {
            let remote = self
                .ns
                .inner
                .adapter
                .fetch_remote(&self.filter, self.timeout);
            for info in remote.await? {
                out.push(RemoteSocket {
                    ns: self.ns.clone(),
                    info,
                    socket: None,
                });
            }
        }
        Ok(out)
    }

    /// Makes the matching sockets join `rooms`, on every server.
    pub fn sockets_join<'a>(&self, rooms: impl IntoIterator<Item = &'a str> + Clone) {
        for s in self.sockets() {
            s.join(rooms.clone());
        }
        if !self.filter.local {
            let rooms: Vec<Room> = rooms.into_iter().map(Room::from).collect();
            self.ns.inner.adapter.join_remote(&self.filter, &rooms);
        }
    }

    /// Makes the matching sockets leave `room`, on every server.
    pub fn sockets_leave(&self, room: &str) {
        for s in self.sockets() {
            s.leave(room);
        }
        if !self.filter.local {
            self.ns
                .inner
                .adapter
                .leave_remote(&self.filter, &[Room::from(room)]);
        }
    }

    /// Disconnects the matching sockets, on every server.
    pub fn disconnect_sockets(&self, close: bool) {
        for s in self.sockets() {
            s.disconnect(close);
        }
        if !self.filter.local {
            self.ns.inner.adapter.disconnect_remote(&self.filter, close);
        }
    }
}

/// A socket of any server of the cluster, as `fetch_sockets` returns it (Node's
/// `RemoteSocket`): its id, handshake, rooms and shared data as they were when fetched, and
/// operations that reach it wherever it is (through its own room).
#[derive(Clone)]
pub struct RemoteSocket {
    ns: Namespace,
    info: SocketInfo,
    socket: Option<Socket>,
}

impl std::fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("id", &self.info.id)
            .field("local", &self.socket.is_some())
            .field("rooms", &self.info.rooms)
            .finish()
    }
}

impl RemoteSocket {
    fn local(ns: &Namespace, s: Socket) -> Self {
        Self {
            ns: ns.clone(),
            info: describe(&s),
            socket: Some(s),
        }
    }

    /// The socket id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// The handshake, as Node describes one.
    pub fn handshake(&self) -> &serde_json::Value {
        &self.info.handshake
    }

    /// The rooms it was in (its own id included).
    pub fn rooms(&self) -> &[Room] {
        &self.info.rooms
    }

    /// Its shared data ([`Socket::set_shared_data`]), read as `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.info.data)
    }

    /// The socket itself when it is connected to this server.
    pub fn local_socket(&self) -> Option<&Socket> {
        self.socket.as_ref()
    }

    fn target(&self) -> BroadcastOperator {
        self.ns.to(Room::from(&*self.info.id))
    }

    /// Emits `event` to it, wherever it is.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        match &self.socket {
            Some(s) => s.emit(event, data),
            None => self.target().emit(event, data),
        }
    }

    /// Makes it join `rooms`.
    pub fn join<'a>(&self, rooms: impl IntoIterator<Item = &'a str> + Clone) {
        match &self.socket {
            Some(s) => s.join(rooms),
            None => self.target().sockets_join(rooms),
        }
    }

    /// Makes it leave `room`.
    pub fn leave(&self, room: &str) {
        match &self.socket {
            Some(s) => s.leave(room),
            None => self.target().sockets_leave(room),
        }
    }

    /// Disconnects it; with `close`, its connection too.
    pub fn disconnect(&self, close: bool) {
        match &self.socket {
            Some(s) => s.disconnect(close),
            None => self.target().disconnect_sockets(close),
        }
    }
}

/// A socket as the cluster describes it.
fn describe(s: &Socket) -> SocketInfo {
    SocketInfo {
        id: s.sid(),
        handshake: s.handshake().to_json(),
        rooms: s.rooms(),
        data: s.shared_data(),
    }
}

/// What a namespace's adapter may do to the namespace's sockets on this server (for the other
/// servers of a cluster). Holds the namespace weakly: the namespace owns its adapter.
struct LocalOps(std::sync::Weak<super::namespace::NsInner>);

impl LocalOps {
    fn ns(&self) -> Option<Namespace> {
        self.0.upgrade().map(|inner| Namespace { inner })
    }
}

impl LocalSockets for LocalOps {
    fn deliver(&self, packet: &EncodedPacket, filter: &BroadcastFilter<SocketId>, volatile: bool) {
        let Some(ns) = self.ns() else { return };
        if let (false, Some(r)) = (volatile, ns.recovery()) {
            // Recorded here like a local broadcast: this server's sockets get it with an
            // offset (a recovering client takes a last string argument for one).
            r.emit(&ns, packet, filter);
            return;
        }
        fan_out(&ns, &ns.wire(packet), filter, volatile);
    }

    fn describe(&self, filter: &BroadcastFilter<SocketId>) -> Vec<SocketInfo> {
        let Some(ns) = self.ns() else {
            return Vec::new();
        };
        ns.recipients(filter).iter().map(describe).collect()
    }

    fn join(&self, filter: &BroadcastFilter<SocketId>, rooms: &[Room]) {
        let Some(ns) = self.ns() else { return };
        for s in ns.recipients(filter) {
            s.join(rooms.iter().map(|r| &**r));
        }
    }

    fn leave(&self, filter: &BroadcastFilter<SocketId>, rooms: &[Room]) {
        let Some(ns) = self.ns() else { return };
        for s in ns.recipients(filter) {
            for r in rooms {
                s.leave(r);
            }
        }
    }

    fn disconnect(&self, filter: &BroadcastFilter<SocketId>, close: bool) {
        let Some(ns) = self.ns() else { return };
        for s in ns.recipients(filter) {
            s.disconnect(close);
        }
    }

    fn rooms(&self) -> Vec<Room> {
        self.ns().map(|ns| ns.rooms()).unwrap_or_default()
    }

    fn deliver_with_ack(
        &self,
        packet: &EncodedPacket,
        filter: &BroadcastFilter<SocketId>,
        timeout: Option<Duration>,
    ) -> Vec<BoxFuture<Option<Value>>> {
        let Some(ns) = self.ns() else {
            return Vec::new();
        };
        let id = ns.next_ack_id();
        let with_id = bridge::from_encoded(packet).and_then(|mut p| {
            p.id = Some(id);
            bridge::to_encoded(&p, &ns.nsp())
        });
        let p = match with_id {
            Ok(p) => ns.wire(&p),
            Err(e) => {
                tracing::warn!(error = %e, "a cluster broadcast with acks cannot be sent");
                return Vec::new();
            }
        };
        ns.recipients(filter)
            .into_iter()
            .filter_map(|s| {
                let rx = s.request_ack(id, p.clone(), timeout).ok()?;
                let wait: BoxFuture<Option<Value>> = Box::pin(async move {
                    match rx.await {
                        Ok(Ok(ack)) => first_arg(&ack),
                        _ => None,
                    }
                });
                Some(wait)
            })
            .collect()
    }

    fn server_side_event(
        &self,
        data: Vec<Value>,
        answer: Option<ServerSideAnswer>,
    ) -> BoxFuture<()> {
        match self.ns() {
            Some(ns) => ns.run_server_side(data, answer),
            None => Box::pin(async {}),
        }
    }
}

/// Gives a new namespace's adapter its [`LocalSockets`].
pub(crate) fn attach(ns: &Namespace) {
    let ops: std::sync::Arc<dyn LocalSockets> =
        std::sync::Arc::new(LocalOps(std::sync::Arc::downgrade(&ns.inner)));
    ns.inner.adapter.init(ops);
}

/// Broadcasts from a namespace.
impl Namespace {
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

    /// The sockets of every server of the cluster (Node's `fetchSockets`).
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, ClusterError> {
        self.broadcast().fetch_sockets().await
    }

    /// This server's sockets of the namespace.
    pub fn sockets(&self) -> Vec<Socket> {
        self.broadcast().sockets()
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
}

/// Broadcasts from a socket (every recipient but the socket itself).
impl Socket {
    /// A broadcast to `room` from this socket: every member but this socket.
    pub fn to(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// Same as [`Socket::to`].
    pub fn within(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.to(room)
    }

    /// A broadcast excluding `room`'s members and this socket.
    pub fn except(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.broadcast().except(room)
    }

    /// A broadcast to the whole namespace but this socket.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(
            self.inner.ns.clone(),
            BroadcastFilter::all().without(self.inner.id.clone()),
        )
    }
}

/// Sends `p` (in the namespace's wire form) to this server's recipients of `filter`: written
/// straight into the websockets whose task has nothing on its way out ([`super::direct`]),
/// queued in the inboxes of the others. A volatile packet always goes through the inbox (its
/// task drops it when the transport cannot take it at once).
fn fan_out(ns: &Namespace, p: &EncodedPacket, filter: &BroadcastFilter<SocketId>, volatile: bool) {
    let recipients = ns.recipients(filter);
    if volatile || !p.attachments.is_empty() || p.text.is_empty() {
        for s in recipients {
            if volatile {
                let _ = s.inner.conn.push(super::inbox::Input::Volatile(p.clone()));
            } else {
                let _ = s.send_encoded(p.clone());
            }
        }
        return;
    }
    let mut frame = None;
    let mut written = 0u64;
    ns.inner.rt.unbudgeted(&mut || {
        for s in &recipients {
            if s.connected() && s.inner.conn.write_direct(&mut frame, &p.text) {
                written += 1;
            } else {
                let _ = s.send_encoded(p.clone());
            }
        }
    });
    if written > 0 {
        let m = &ns.inner.metrics;
        super::metrics::Metrics::add(&m.packets_out, written);
        super::metrics::Metrics::add(&m.packets_out_direct, written);
        super::metrics::Metrics::add(&m.bytes_out, written * p.text.len() as u64);
    }
}
