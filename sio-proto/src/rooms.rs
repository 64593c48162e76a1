//! Rooms of one namespace, and who receives a broadcast.
//!
//! [`RoomIndex`] is the bookkeeping that Node's default, in-memory adapter (`socket.io-adapter`)
//! keeps for every namespace: which sockets are in which room, and the reverse. The sio layer asks
//! it two kinds of question:
//!
//! * membership: `socket.join(..)`, `socket.leave(..)`, `socket.rooms`, the automatic leave-all on
//!   disconnect;
//! * fan-out: given a [`BroadcastFilter`] (`io.to(..).except(..)`, `socket.broadcast`, ...), which
//!   sockets get the packet ([`RoomIndex::select`], [`RoomIndex::select_into`],
//!   [`RoomIndex::for_each_recipient`]).
//!
//! The rules are those of the in-memory adapter:
//!
//! * every socket is in a room named after its own id as soon as it is added, so `to(socket_id)`
//!   addresses exactly that socket;
//! * a room exists only while it has members: the last leave deletes it, so
//!   [`RoomIndex::all_rooms`] never lists an empty room;
//! * a broadcast to several rooms reaches the union of their members, each socket once;
//! * with no target room it reaches every socket of the namespace;
//! * members of any `except` room are left out, and so is the excepted socket (the sender, for
//!   `socket.broadcast.emit` and `socket.to(room).emit`).
//!
//! Like the rest of the crate this is sans-IO and deterministic: the hash tables use
//! [`SeededState`], keyed by a seed the runtime injects, never by an operating-system RNG.
//! The order in which recipients are produced is unspecified.
//!
//! ```
//! use sio_proto::rooms::{BroadcastFilter, RoomIndex};
//!
//! let mut rooms = RoomIndex::new();
//! rooms.add_socket(1u32, "sid-1");
//! rooms.add_socket(2u32, "sid-2");
//! rooms.add_socket(3u32, "sid-3");
//! rooms.join(&1, "lobby");
//! rooms.join(&2, "lobby");
//!
//! // socket 1 does `socket.to("lobby").emit(..)`: the sender is left out.
//! let to_lobby = rooms.select(&BroadcastFilter::all().to("lobby").without(1));
//! assert_eq!(to_lobby, vec![2]);
//!
//! // `io.except("lobby").emit(..)`
//! assert_eq!(rooms.select(&BroadcastFilter::all().except("lobby")), vec![3]);
//! ```

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// A room name. Cheap to clone; the index stores each room name once and shares it.
pub type Room = Arc<str>;

/// Up to this many distinct target rooms, a multi-room broadcast removes duplicates by asking the
/// rooms already visited instead of building a set of seen sockets.
const SCAN_LIMIT: usize = 4;

/// A [`BuildHasher`] keyed by an explicit seed rather than by the operating system's RNG.
///
/// [`std::collections::hash_map::RandomState`] draws its keys from the OS, which this sans-IO
/// crate never does. `SeededState` gives the same protection against crafted collisions (room
/// names may come from clients) when the runtime seeds it from its own entropy, and gives
/// reproducible behaviour when seeded with a constant. [`SeededState::default`] uses the all-zero
/// seed: deterministic, but predictable.
#[derive(Debug, Clone)]
pub struct SeededState {
    /// A hasher that has already absorbed the seed; every hasher handed out is a copy of it.
    keyed: DefaultHasher,
}

impl SeededState {
    /// A hasher builder keyed by 16 bytes. Equal seeds give equal hashes (within one build of
    /// the program).
    pub fn from_seed(seed: [u8; 16]) -> Self {
        let mut keyed = DefaultHasher::new();
        keyed.write(&seed);
        Self { keyed }
    }
}

impl Default for SeededState {
    /// The all-zero seed.
    fn default() -> Self {
        Self::from_seed([0; 16])
    }
}

impl BuildHasher for SeededState {
    type Hasher = DefaultHasher;

    fn build_hasher(&self) -> DefaultHasher {
        self.keyed.clone()
    }
}

/// Who a broadcast goes to: the in-memory adapter's `BroadcastOptions` without the packet flags.
///
/// * `rooms`: the union of these rooms' members; empty means every socket of the namespace
///   (`io.emit`). A room that does not exist contributes nobody, so a filter naming only unknown
///   rooms selects nobody (it does **not** fall back to everyone).
/// * `except`: members of any of these rooms are left out (`.except(room)`).
/// * `except_socket`: this socket is left out (the sender, for `socket.broadcast.emit` and
///   `socket.to(room).emit`).
/// * `local`: the `.local` flag. It only matters to adapters that span several servers; the
///   in-memory [`RoomIndex`] ignores it and simply carries it for the layers that care.
///
/// Build one with [`BroadcastFilter::all`] and the chaining helpers:
///
/// ```
/// use sio_proto::rooms::BroadcastFilter;
///
/// let f = BroadcastFilter::all().to("a").to("b").except("muted").without(7u32).local();
/// assert_eq!(f.rooms.len(), 2);
/// assert_eq!(f.except_socket, Some(7));
/// assert!(f.local);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastFilter<K> {
    /// Target rooms (union); empty means every socket.
    pub rooms: Vec<Room>,
    /// Rooms whose members are excluded.
    pub except: Vec<Room>,
    /// A single socket that is excluded, typically the sender.
    pub except_socket: Option<K>,
    /// Only this server's sockets; ignored by the in-memory index.
    pub local: bool,
}

impl<K> BroadcastFilter<K> {
    /// Every socket of the namespace, nobody excluded (`io.emit`).
    pub fn all() -> Self {
        Self {
            rooms: Vec::new(),
            except: Vec::new(),
            except_socket: None,
            local: false,
        }
    }

    /// Adds a target room (`.to(room)` / `.in(room)`); several calls target the union.
    #[must_use]
    pub fn to(mut self, room: impl Into<Room>) -> Self {
        self.rooms.push(room.into());
        self
    }

    /// Excludes the members of `room` (`.except(room)`); several calls exclude them all.
    #[must_use]
    pub fn except(mut self, room: impl Into<Room>) -> Self {
        self.except.push(room.into());
        self
    }

    /// Excludes one socket, typically the sender (`socket.broadcast`). Replaces any socket
    /// excluded before.
    #[must_use]
    pub fn without(mut self, socket: K) -> Self {
        self.except_socket = Some(socket);
        self
    }

    /// Sets the `local` flag (`.local`).
    #[must_use]
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }
}

impl<K> Default for BroadcastFilter<K> {
    /// Same as [`BroadcastFilter::all`].
    fn default() -> Self {
        Self::all()
    }
}

/// The room index of one namespace: sockets by room and rooms by socket.
///
/// `K` is the socket key chosen by the caller (a small `Copy` handle or the socket id itself);
/// `S` is the hasher builder, [`SeededState`] unless given (see [`RoomIndex::with_hasher`]).
///
/// Invariants: a socket is in a room exactly when the room is among that socket's rooms; no room
/// is empty. A known socket may be in no room at all (after leaving even its own room, which
/// Node allows); it still receives broadcasts addressed to everyone.
#[derive(Debug, Clone)]
pub struct RoomIndex<K, S = SeededState> {
    /// Members of every non-empty room.
    rooms: HashMap<Room, HashSet<K, S>, S>,
    /// Rooms of every known socket (possibly none).
    sockets: HashMap<K, HashSet<Room, S>, S>,
    /// Builder for the inner sets.
    hasher: S,
}

impl<K> RoomIndex<K> {
    /// An empty index hashing with the all-zero seed (see [`SeededState`]).
    pub fn new() -> Self {
        Self::with_hasher(SeededState::default())
    }
}

impl<K, S: Default + Clone> Default for RoomIndex<K, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K, S: Clone> RoomIndex<K, S> {
    /// An empty index using `hasher` for all its tables, e.g. a [`SeededState`] seeded by the
    /// runtime when room names come from clients.
    pub fn with_hasher(hasher: S) -> Self {
        Self {
            rooms: HashMap::with_hasher(hasher.clone()),
            sockets: HashMap::with_hasher(hasher.clone()),
            hasher,
        }
    }
}

impl<K: Clone + Eq + Hash, S: BuildHasher + Clone> RoomIndex<K, S> {
    /// Adds socket `k` and makes it join the room `own_room` (its socket id), as Node does on
    /// connect. If `k` is already known its rooms are kept and it (re)joins `own_room`.
    pub fn add_socket(&mut self, k: K, own_room: &str) {
        self.ensure_socket(&k);
        self.join(&k, own_room);
    }

    /// Makes `k` join `room`, creating the room if needed. Joining a room twice is a no-op.
    /// An unknown `k` is added implicitly (as the in-memory adapter does), without an own room.
    pub fn join(&mut self, k: &K, room: &str) {
        self.ensure_socket(k);
        let Some(rooms_of_k) = self.sockets.get_mut(k) else {
            return;
        };
        if rooms_of_k.contains(room) {
            return;
        }
        match self.rooms.get_key_value(room) {
            Some((name, _)) => {
                rooms_of_k.insert(name.clone());
                if let Some(members) = self.rooms.get_mut(room) {
                    members.insert(k.clone());
                }
            }
            None => {
                let name = Room::from(room);
                rooms_of_k.insert(name.clone());
                let mut members = HashSet::with_hasher(self.hasher.clone());
                members.insert(k.clone());
                self.rooms.insert(name, members);
            }
        }
    }

    /// Makes `k` join every room of `rooms` (`socket.join([..])`); same rules as
    /// [`RoomIndex::join`]. An unknown `k` is added even if `rooms` is empty.
    pub fn join_many<I>(&mut self, k: &K, rooms: I)
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.ensure_socket(k);
        for room in rooms {
            self.join(k, room.as_ref());
        }
    }

    /// Makes `k` leave `room`; the room is deleted if it becomes empty. Leaving a room one is
    /// not in, or leaving as an unknown socket, is a no-op. The socket stays known even when it
    /// leaves its last room.
    pub fn leave(&mut self, k: &K, room: &str) {
        let left = match self.sockets.get_mut(k) {
            Some(rooms_of_k) => rooms_of_k.remove(room),
            None => false,
        };
        if left {
            self.drop_member(room, k);
        }
    }

    /// Forgets socket `k` (leave-all on disconnect) and returns the rooms it was in, in no
    /// particular order; rooms left empty are deleted. An unknown `k` gives an empty `Vec`.
    pub fn remove_socket(&mut self, k: &K) -> Vec<Room> {
        let Some(rooms_of_k) = self.sockets.remove(k) else {
            return Vec::new();
        };
        let mut left = Vec::with_capacity(rooms_of_k.len());
        for room in rooms_of_k {
            self.drop_member(&room, k);
            left.push(room);
        }
        left
    }

    /// The rooms `k` is in (`socket.rooms`), in no particular order; nothing if `k` is unknown.
    pub fn rooms_of(&self, k: &K) -> impl Iterator<Item = &Room> {
        self.sockets.get(k).into_iter().flatten()
    }

    /// The members of `room`, in no particular order; nothing if the room does not exist.
    pub fn sockets_in(&self, room: &str) -> impl Iterator<Item = &K> {
        self.rooms.get(room).into_iter().flatten()
    }

    /// Whether `k` is in `room`.
    pub fn in_room(&self, k: &K, room: &str) -> bool {
        self.sockets
            .get(k)
            .is_some_and(|rooms_of_k| rooms_of_k.contains(room))
    }

    /// How many sockets are in `room` (0 if it does not exist).
    pub fn room_len(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, HashSet::len)
    }

    /// Whether `k` is a known socket.
    pub fn contains(&self, k: &K) -> bool {
        self.sockets.contains_key(k)
    }

    /// Every known socket, in no particular order.
    pub fn sockets(&self) -> impl Iterator<Item = &K> {
        self.sockets.keys()
    }

    /// Every existing (hence non-empty) room, in no particular order.
    pub fn all_rooms(&self) -> impl Iterator<Item = &Room> {
        self.rooms.keys()
    }

    /// The number of existing rooms.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The number of known sockets.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// Whether no socket is known.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The recipients of a broadcast, each once, in no particular order.
    pub fn select(&self, filter: &BroadcastFilter<K>) -> Vec<K> {
        let mut out = Vec::new();
        self.select_into(filter, &mut out);
        out
    }

    /// Like [`RoomIndex::select`], but clears `out` and fills it, so that its allocation can be
    /// reused from one broadcast to the next.
    pub fn select_into(&self, filter: &BroadcastFilter<K>, out: &mut Vec<K>) {
        out.clear();
        out.reserve(self.size_hint(filter));
        self.for_each_recipient(filter, |k| out.push(k.clone()));
    }

    /// Calls `f` once for every recipient of a broadcast, in no particular order, without
    /// collecting them. Allocates nothing for the common filters (everyone, or one room, with at
    /// most the sender excluded); `except` rooms and more than a few target rooms need a little
    /// scratch space.
    pub fn for_each_recipient<F: FnMut(&K)>(&self, filter: &BroadcastFilter<K>, mut f: F) {
        let excluded: Vec<&HashSet<K, S>> = filter
            .except
            .iter()
            .filter_map(|room| self.rooms.get(&**room))
            .collect();
        let skip = |k: &K| {
            filter.except_socket.as_ref() == Some(k)
                || excluded.iter().any(|members| members.contains(k))
        };

        if filter.rooms.is_empty() {
            for k in self.sockets.keys() {
                if !skip(k) {
                    f(k);
                }
            }
            return;
        }

        let mut targets: Vec<&HashSet<K, S>> = filter
            .rooms
            .iter()
            .filter_map(|room| self.rooms.get(&**room))
            .collect();
        if targets.len() <= SCAN_LIMIT {
            // The same room named twice must not force the deduplicating paths below.
            let mut distinct = 0;
            for i in 0..targets.len() {
                let members = targets[i];
                if !targets[..distinct]
                    .iter()
                    .any(|seen| std::ptr::eq(*seen, members))
                {
                    targets[distinct] = members;
                    distinct += 1;
                }
            }
            targets.truncate(distinct);
        }

        match targets.as_slice() {
            [] => {}
            [members] => {
                for k in members.iter() {
                    if !skip(k) {
                        f(k);
                    }
                }
            }
            few if few.len() <= SCAN_LIMIT => {
                // A socket is produced from the first target room that has it.
                for (i, members) in few.iter().enumerate() {
                    for k in members.iter() {
                        if !few[..i].iter().any(|earlier| earlier.contains(k)) && !skip(k) {
                            f(k);
                        }
                    }
                }
            }
            many => {
                let largest = many.iter().map(|members| members.len()).max().unwrap_or(0);
                let mut seen: HashSet<&K, S> =
                    HashSet::with_capacity_and_hasher(largest, self.hasher.clone());
                for members in many {
                    for k in members.iter() {
                        if seen.insert(k) && !skip(k) {
                            f(k);
                        }
                    }
                }
            }
        }
    }

    /// A lower bound on the number of recipients that is usually close, used to size outputs.
    fn size_hint(&self, filter: &BroadcastFilter<K>) -> usize {
        if filter.rooms.is_empty() {
            self.sockets.len()
        } else {
            filter
                .rooms
                .iter()
                .map(|room| self.room_len(room))
                .max()
                .unwrap_or(0)
        }
    }

    /// Makes `k` known, with no room, if it is not already.
    fn ensure_socket(&mut self, k: &K) {
        if !self.sockets.contains_key(k) {
            self.sockets
                .insert(k.clone(), HashSet::with_hasher(self.hasher.clone()));
        }
    }

    /// Removes `k` from the members of `room`, deleting the room if that empties it.
    fn drop_member(&mut self, room: &str, k: &K) {
        let emptied = match self.rooms.get_mut(room) {
            Some(members) => {
                members.remove(k);
                members.is_empty()
            }
            None => false,
        };
        if emptied {
            self.rooms.remove(room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted<K: Ord>(mut v: Vec<K>) -> Vec<K> {
        v.sort();
        v
    }

    fn sorted_rooms<'a>(rooms: impl Iterator<Item = &'a Room>) -> Vec<String> {
        let mut v: Vec<String> = rooms.map(|r| r.to_string()).collect();
        v.sort();
        v
    }

    /// Sockets 1, 2, 3 with own rooms "s1", "s2", "s3".
    fn three() -> RoomIndex<u32> {
        let mut idx = RoomIndex::new();
        for k in 1..=3 {
            idx.add_socket(k, &format!("s{k}"));
        }
        idx
    }

    #[test]
    fn add_socket_joins_own_room() {
        let mut idx = RoomIndex::new();
        idx.add_socket(7u32, "abc");
        assert!(idx.contains(&7));
        assert_eq!(idx.len(), 1);
        assert_eq!(sorted_rooms(idx.rooms_of(&7)), ["abc"]);
        assert_eq!(idx.sockets_in("abc").copied().collect::<Vec<_>>(), [7]);
        assert!(idx.in_room(&7, "abc"));
    }

    #[test]
    fn join_then_leave() {
        let mut idx = three();
        idx.join(&1, "lobby");
        idx.join(&1, "lobby");
        idx.join(&2, "lobby");
        assert_eq!(idx.room_len("lobby"), 2);
        assert_eq!(sorted_rooms(idx.rooms_of(&1)), ["lobby", "s1"]);
        idx.leave(&1, "lobby");
        assert!(!idx.in_room(&1, "lobby"));
        assert_eq!(sorted(idx.sockets_in("lobby").copied().collect()), [2]);
        assert_eq!(sorted_rooms(idx.rooms_of(&1)), ["s1"]);
    }

    #[test]
    fn join_many_joins_each_room() {
        let mut idx = three();
        idx.join_many(&1, ["a", "b", "a"]);
        assert_eq!(sorted_rooms(idx.rooms_of(&1)), ["a", "b", "s1"]);
    }

    #[test]
    fn join_adds_unknown_socket_without_own_room() {
        let mut idx = RoomIndex::new();
        idx.join(&5u32, "lobby");
        assert!(idx.contains(&5));
        assert_eq!(sorted_rooms(idx.rooms_of(&5)), ["lobby"]);
    }

    #[test]
    fn leaving_a_room_one_is_not_in_is_a_no_op() {
        let mut idx = three();
        idx.join(&2, "lobby");
        idx.leave(&1, "lobby");
        idx.leave(&1, "nowhere");
        idx.leave(&99, "lobby");
        assert_eq!(idx.room_len("lobby"), 1);
        assert_eq!(idx.len(), 3);
        assert!(!idx.contains(&99));
        assert_eq!(idx.room_count(), 4);
    }

    #[test]
    fn last_leave_deletes_the_room() {
        let mut idx = three();
        idx.join(&1, "lobby");
        idx.leave(&1, "lobby");
        assert!(!idx.all_rooms().any(|r| &**r == "lobby"));
        // Leaving even one's own room keeps the socket known.
        idx.leave(&1, "s1");
        assert!(idx.contains(&1));
        assert_eq!(idx.rooms_of(&1).count(), 0);
        assert_eq!(sorted_rooms(idx.all_rooms()), ["s2", "s3"]);
    }

    #[test]
    fn remove_socket_returns_rooms_and_deletes_empty_ones() {
        let mut idx = three();
        idx.join_many(&1, ["solo", "shared"]);
        idx.join(&2, "shared");
        let left = idx.remove_socket(&1);
        assert_eq!(sorted_rooms(left.iter()), ["s1", "shared", "solo"]);
        assert!(!idx.contains(&1));
        assert_eq!(sorted_rooms(idx.all_rooms()), ["s2", "s3", "shared"]);
        assert_eq!(sorted(idx.sockets_in("shared").copied().collect()), [2]);
        assert!(idx.remove_socket(&1).is_empty());
    }

    #[test]
    fn union_of_rooms_has_no_duplicates() {
        let mut idx = three();
        idx.join_many(&1, ["a", "b"]);
        idx.join_many(&2, ["b", "c"]);
        idx.join(&3, "c");
        let f = BroadcastFilter::all().to("a").to("b").to("a").to("missing");
        assert_eq!(sorted(idx.select(&f)), [1, 2]);
        let f = BroadcastFilter::all().to("a").to("b").to("c");
        assert_eq!(sorted(idx.select(&f)), [1, 2, 3]);
    }

    #[test]
    fn union_of_many_rooms_has_no_duplicates() {
        let mut idx = RoomIndex::new();
        for k in 0..20u32 {
            idx.add_socket(k, &format!("s{k}"));
            idx.join_many(&k, ["all", if k % 2 == 0 { "even" } else { "odd" }]);
        }
        let mut f = BroadcastFilter::all().to("all").to("even").to("odd");
        for k in 0..10 {
            f = f.to(format!("s{k}"));
        }
        assert_eq!(sorted(idx.select(&f)), (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn only_unknown_rooms_select_nobody() {
        let idx = three();
        assert!(idx.select(&BroadcastFilter::all().to("missing")).is_empty());
    }

    #[test]
    fn no_room_selects_everyone() {
        let mut idx = three();
        idx.leave(&3, "s3");
        assert_eq!(sorted(idx.select(&BroadcastFilter::all())), [1, 2, 3]);
    }

    #[test]
    fn except_rooms_remove_their_members() {
        let mut idx = three();
        idx.join_many(&1, ["lobby", "muted"]);
        idx.join(&2, "lobby");
        let f = BroadcastFilter::all().to("lobby").except("muted");
        assert_eq!(idx.select(&f), [2]);
        let f = BroadcastFilter::all()
            .except("muted")
            .except("s3")
            .except("gone");
        assert_eq!(idx.select(&f), [2]);
    }

    #[test]
    fn except_socket_excludes_the_sender() {
        let mut idx = three();
        idx.join(&1, "lobby");
        idx.join(&2, "lobby");
        assert_eq!(
            sorted(idx.select(&BroadcastFilter::all().without(1))),
            [2, 3]
        );
        let f = BroadcastFilter::all().to("lobby").without(1);
        assert_eq!(idx.select(&f), [2]);
    }

    #[test]
    fn to_socket_id_reaches_that_socket() {
        let idx = three();
        assert_eq!(idx.select(&BroadcastFilter::all().to("s2")), [2]);
        let f = BroadcastFilter::all().to("s2").to("s3");
        assert_eq!(sorted(idx.select(&f)), [2, 3]);
    }

    #[test]
    fn empty_index_selects_nobody() {
        let idx: RoomIndex<u32> = RoomIndex::default();
        assert!(idx.is_empty());
        assert_eq!(idx.len(), 0);
        assert_eq!(idx.all_rooms().count(), 0);
        assert_eq!(idx.rooms_of(&1).count(), 0);
        assert_eq!(idx.sockets_in("x").count(), 0);
        assert!(idx.select(&BroadcastFilter::all()).is_empty());
        assert!(idx.select(&BroadcastFilter::all().to("x")).is_empty());
    }

    #[test]
    fn select_into_clears_and_reuses_the_vec() {
        let mut idx = three();
        idx.join(&1, "lobby");
        let mut out = Vec::with_capacity(64);
        let buffer = out.as_ptr();
        idx.select_into(&BroadcastFilter::all(), &mut out);
        assert_eq!(sorted(out.clone()), [1, 2, 3]);
        idx.select_into(&BroadcastFilter::all().to("lobby"), &mut out);
        assert_eq!(out, [1]);
        assert_eq!(out.as_ptr(), buffer);
    }

    #[test]
    fn local_flag_is_carried_and_ignored() {
        let idx = three();
        let f = BroadcastFilter::all().local();
        assert!(f.local);
        assert_eq!(sorted(idx.select(&f)), [1, 2, 3]);
    }

    #[test]
    fn arc_str_keys_work() {
        let mut idx: RoomIndex<Arc<str>> = RoomIndex::with_hasher(SeededState::from_seed([9; 16]));
        let a: Arc<str> = Arc::from("sid-a");
        let b: Arc<str> = Arc::from("sid-b");
        idx.add_socket(a.clone(), &a);
        idx.add_socket(b.clone(), &b);
        let f = BroadcastFilter::all().without(a.clone());
        assert_eq!(idx.select(&f), [b]);
        assert_eq!(idx.select(&BroadcastFilter::all().to(a.clone())), [a]);
    }

    #[test]
    fn seeded_state_is_deterministic() {
        let h = |s: &SeededState| s.hash_one("lobby");
        assert_eq!(
            h(&SeededState::from_seed([1; 16])),
            h(&SeededState::from_seed([1; 16]))
        );
        assert_ne!(
            h(&SeededState::from_seed([1; 16])),
            h(&SeededState::from_seed([2; 16]))
        );
    }

    // ---- model-based property test -------------------------------------------------------

    const ROOMS: [&str; 5] = ["a", "b", "c", "s0", "s1"];

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8),
        Join(u8, usize),
        JoinMany(u8, Vec<usize>),
        Leave(u8, usize),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        let s = 0u8..4;
        let r = 0..ROOMS.len();
        prop_oneof![
            s.clone().prop_map(Op::Add),
            (s.clone(), r.clone()).prop_map(|(s, r)| Op::Join(s, r)),
            (s.clone(), prop::collection::vec(r.clone(), 0..3))
                .prop_map(|(s, rs)| Op::JoinMany(s, rs)),
            (s.clone(), r).prop_map(|(s, r)| Op::Leave(s, r)),
            s.prop_map(Op::Remove),
        ]
    }

    fn filter() -> impl Strategy<Value = BroadcastFilter<u8>> {
        // "zz" never exists.
        let room = prop::sample::select(vec!["a", "b", "c", "s0", "s1", "s2", "zz"]);
        (
            prop::collection::vec(room.clone(), 0..7),
            prop::collection::vec(room, 0..3),
            prop::option::of(0u8..5),
            any::<bool>(),
        )
            .prop_map(|(rooms, except, except_socket, local)| BroadcastFilter {
                rooms: rooms.into_iter().map(Room::from).collect(),
                except: except.into_iter().map(Room::from).collect(),
                except_socket,
                local,
            })
    }

    /// The plain model: known sockets and (socket, room) memberships.
    #[derive(Default)]
    struct Model {
        sockets: Vec<u8>,
        members: Vec<(u8, String)>,
    }

    impl Model {
        fn join(&mut self, s: u8, room: &str) {
            if !self.sockets.contains(&s) {
                self.sockets.push(s);
            }
            if !self.members.iter().any(|(ms, mr)| *ms == s && mr == room) {
                self.members.push((s, room.to_string()));
            }
        }

        fn rooms_of(&self, s: u8) -> Vec<String> {
            let mut v: Vec<String> = self
                .members
                .iter()
                .filter(|(ms, _)| *ms == s)
                .map(|(_, r)| r.clone())
                .collect();
            v.sort();
            v
        }

        fn in_room(&self, s: u8, room: &str) -> bool {
            self.members.iter().any(|(ms, mr)| *ms == s && mr == room)
        }

        fn select(&self, f: &BroadcastFilter<u8>) -> Vec<u8> {
            let mut v: Vec<u8> = self
                .sockets
                .iter()
                .copied()
                .filter(|&s| f.rooms.is_empty() || f.rooms.iter().any(|r| self.in_room(s, r)))
                .filter(|&s| !f.except.iter().any(|r| self.in_room(s, r)))
                .filter(|&s| f.except_socket != Some(s))
                .collect();
            v.sort();
            v
        }
    }

    proptest! {
        #[test]
        fn select_matches_naive_model(
            ops in prop::collection::vec(op(), 0..40),
            filters in prop::collection::vec(filter(), 1..6),
        ) {
            let mut idx: RoomIndex<u8> = RoomIndex::new();
            let mut model = Model::default();
            for op in ops {
                match op {
                    Op::Add(s) => {
                        idx.add_socket(s, &format!("s{s}"));
                        model.join(s, &format!("s{s}"));
                    }
                    Op::Join(s, r) => {
                        idx.join(&s, ROOMS[r]);
                        model.join(s, ROOMS[r]);
                    }
                    Op::JoinMany(s, rs) => {
                        idx.join_many(&s, rs.iter().map(|&r| ROOMS[r]));
                        if !model.sockets.contains(&s) {
                            model.sockets.push(s);
                        }
                        for r in rs {
                            model.join(s, ROOMS[r]);
                        }
                    }
                    Op::Leave(s, r) => {
                        idx.leave(&s, ROOMS[r]);
                        model.members.retain(|(ms, mr)| !(*ms == s && mr == ROOMS[r]));
                    }
                    Op::Remove(s) => {
                        let left = idx.remove_socket(&s);
                        prop_assert_eq!(sorted_rooms(left.iter()), model.rooms_of(s));
                        model.sockets.retain(|&ms| ms != s);
                        model.members.retain(|(ms, _)| *ms != s);
                    }
                }

                // Index and model agree on membership, and no room is empty.
                prop_assert_eq!(sorted(idx.sockets().copied().collect()), sorted(model.sockets.clone()));
                let mut model_rooms: Vec<String> = model.members.iter().map(|(_, r)| r.clone()).collect();
                model_rooms.sort();
                model_rooms.dedup();
                prop_assert_eq!(sorted_rooms(idx.all_rooms()), model_rooms);
                for s in 0..5u8 {
                    prop_assert_eq!(sorted_rooms(idx.rooms_of(&s)), model.rooms_of(s));
                }
            }

            let mut reused = Vec::new();
            for f in &filters {
                let picked = idx.select(f);
                prop_assert_eq!(sorted(picked.clone()), model.select(f));
                idx.select_into(f, &mut reused);
                prop_assert_eq!(sorted(reused.clone()), model.select(f));
            }
        }
    }
}
