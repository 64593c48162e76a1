//! Broadcasting: a [`BroadcastOperator`] built from a namespace or from a socket (rooms,
//! exceptions, flags), then `emit` — recipients chosen by the namespace's adapter, the packet
//! encoded once.

use std::time::Duration;

use futures_util::future::join_all;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_proto::rooms::{BroadcastFilter, Room};

use super::handshake::SocketId;
use super::inbox::{AckError, EmitError};
use super::namespace::{Namespace, Socket};
use super::socket::encode_event;
use crate::payload;

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
