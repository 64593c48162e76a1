//! The adapter: where a namespace keeps its rooms and how it finds the recipients of a
//! broadcast. The default is in memory ([`InMemoryAdapter`], over `sio_proto`'s `RoomIndex`); a
//! cluster adapter (for example one speaking the wire format of `@socket.io/redis-adapter`)
//! implements the same trait and also forwards broadcasts and cluster operations to the other
//! servers through the `*_remote` hooks, which do nothing with a single server.

use std::sync::RwLock;

use sio_proto::rooms::{BroadcastFilter, Room, RoomIndex};
use sio_proto::socket::EncodedPacket;

use super::socket::{read, write, SocketId};

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
    /// A broadcast leaves this server: forward it to the other servers unless `filter.local`.
    /// The in-memory adapter has no other server.
    fn broadcast_remote(&self, _packet: &EncodedPacket, _filter: &BroadcastFilter<SocketId>) {}
    /// `serverSideEmit`: forward an event to the other servers.
    fn server_side_emit_remote(&self, _packet: &EncodedPacket) {}
}

/// The default adapter: rooms in memory, no other server.
#[derive(Debug, Default)]
pub struct InMemoryAdapter {
    rooms: RwLock<RoomIndex<SocketId>>,
}

impl Adapter for InMemoryAdapter {
    fn add_socket(&self, id: &SocketId) {
        write(&self.rooms).add_socket(id.clone(), id);
    }

    fn join(&self, id: &SocketId, rooms: &[&str]) {
        write(&self.rooms).join_many(id, rooms.iter().copied());
    }

    fn leave(&self, id: &SocketId, room: &str) {
        write(&self.rooms).leave(id, room);
    }

    fn remove_socket(&self, id: &SocketId) -> Vec<Room> {
        write(&self.rooms).remove_socket(id)
    }

    fn rooms_of(&self, id: &SocketId) -> Vec<Room> {
        read(&self.rooms).rooms_of(id).cloned().collect()
    }

    fn rooms(&self) -> Vec<Room> {
        read(&self.rooms).all_rooms().cloned().collect()
    }

    fn for_each_recipient(&self, filter: &BroadcastFilter<SocketId>, f: &mut dyn FnMut(&SocketId)) {
        read(&self.rooms).for_each_recipient(filter, f);
    }
}
