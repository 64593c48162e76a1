//! The adapter: where a namespace keeps its rooms and how it finds the recipients of a
//! broadcast. The default is in memory ([`InMemoryAdapter`], over `sio_proto`'s `RoomIndex`); a
//! cluster adapter (for example one speaking the wire format of `@socket.io/redis-adapter`)
//! implements the same trait and also forwards broadcasts and cluster operations to the other
//! servers through the `*_remote` hooks, which do nothing with a single server.

use std::collections::HashSet;
use std::sync::RwLock;

use sio_proto::rooms::{BroadcastFilter, Room, RoomIndex};
use sio_proto::socket::EncodedPacket;

use super::handshake::SocketId;
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
    /// A broadcast leaves this server: forward it to the other servers unless `filter.local`.
    /// The in-memory adapter has no other server.
    fn broadcast_remote(&self, _packet: &EncodedPacket, _filter: &BroadcastFilter<SocketId>) {}
    /// `serverSideEmit`: forward an event to the other servers.
    fn server_side_emit_remote(&self, _packet: &EncodedPacket) {}
}

#[derive(Debug, Default)]
struct State {
    /// Every socket, and the rooms it joined besides its own.
    rooms: RoomIndex<SocketId>,
    /// Sockets that left their own room (Node allows it; rare).
    left_own: HashSet<SocketId>,
}

impl State {
    /// Whether `k` is in its own room.
    fn in_own_room(&self, k: &SocketId) -> bool {
        self.rooms.contains(k) && !self.left_own.contains(k)
    }

    /// The socket whose own room is `room`, if any.
    fn own_room_owner(&self, room: &str) -> Option<SocketId> {
        let k = SocketId::from(room);
        self.in_own_room(&k).then_some(k)
    }

    fn in_room(&self, k: &SocketId, room: &str) -> bool {
        self.rooms.in_room(k, room) || (**k == *room && !self.left_own.contains(k))
    }
}

/// The default adapter: rooms in memory, no other server.
///
/// A socket's own room (named after its id) is implicit rather than stored: it would cost a
/// room and two small sets per connection (about 1 KiB) for a room that only ever holds
/// that socket.
#[derive(Debug, Default)]
pub struct InMemoryAdapter {
    state: RwLock<State>,
}

impl Adapter for InMemoryAdapter {
    fn add_socket(&self, id: &SocketId) {
        let mut st = write(&self.state);
        st.rooms.join_many(id, std::iter::empty::<&str>());
        st.left_own.remove(id);
    }

    fn join(&self, id: &SocketId, rooms: &[&str]) {
        let mut st = write(&self.state);
        for room in rooms {
            if **id == **room {
                st.left_own.remove(id);
                st.rooms.join_many(id, std::iter::empty::<&str>());
            } else {
                st.rooms.join(id, room);
            }
        }
    }

    fn leave(&self, id: &SocketId, room: &str) {
        let mut st = write(&self.state);
        if **id == *room {
            if st.rooms.contains(id) {
                st.left_own.insert(id.clone());
            }
        } else {
            st.rooms.leave(id, room);
        }
    }

    fn remove_socket(&self, id: &SocketId) -> Vec<Room> {
        let mut st = write(&self.state);
        let own = st.in_own_room(id);
        let mut rooms = st.rooms.remove_socket(id);
        st.left_own.remove(id);
        if own {
            rooms.push(id.clone());
        }
        rooms
    }

    fn rooms_of(&self, id: &SocketId) -> Vec<Room> {
        let st = read(&self.state);
        let mut rooms: Vec<Room> = st.rooms.rooms_of(id).cloned().collect();
        if st.in_own_room(id) {
            rooms.push(id.clone());
        }
        rooms
    }

    fn rooms(&self) -> Vec<Room> {
        let st = read(&self.state);
        let mut rooms: Vec<Room> = st.rooms.all_rooms().cloned().collect();
        let stored: HashSet<&str> = rooms.iter().map(|r| &**r).collect();
        let own: Vec<Room> = st
            .rooms
            .sockets()
            .filter(|k| !st.left_own.contains(*k) && !stored.contains(&***k))
            .cloned()
            .collect();
        rooms.extend(own);
        rooms
    }

    fn for_each_recipient(&self, filter: &BroadcastFilter<SocketId>, f: &mut dyn FnMut(&SocketId)) {
        let st = read(&self.state);
        let excluded = |k: &SocketId| {
            filter.except_socket.as_ref() == Some(k)
                || filter.except.iter().any(|e| st.in_room(k, e))
        };
        if filter.rooms.is_empty() {
            for k in st.rooms.sockets() {
                if !excluded(k) {
                    f(k);
                }
            }
            return;
        }
        if let [room] = &filter.rooms[..] {
            // One room: its members, and its owner if it is a socket's own room (unless that
            // socket also joined a stored room of the same name).
            for k in st.rooms.sockets_in(room) {
                if !excluded(k) {
                    f(k);
                }
            }
            if let Some(k) = st.own_room_owner(room) {
                if !st.rooms.in_room(&k, room) && !excluded(&k) {
                    f(&k);
                }
            }
            return;
        }
        let mut seen: HashSet<SocketId> = HashSet::new();
        for room in &filter.rooms {
            for k in st.rooms.sockets_in(room) {
                if !excluded(k) && seen.insert(k.clone()) {
                    f(k);
                }
            }
            if let Some(k) = st.own_room_owner(room) {
                if !excluded(&k) && seen.insert(k.clone()) {
                    f(&k);
                }
            }
        }
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
}
