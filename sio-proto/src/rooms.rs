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
//! * every socket is in a room named after its own id (its *own room*) as soon as it is known, so
//!   `to(socket_id)` addresses exactly that socket and `except(socket_id)` leaves it out; it may
//!   leave its own room (`socket.leave(socket.id)`) and join it again;
//! * a room exists only while it has members: the last leave deletes it, so
//!   [`RoomIndex::all_rooms`] never lists an empty room;
//! * a broadcast to several rooms reaches the union of their members, each socket once;
//! * with no target room it reaches every socket of the namespace, whatever rooms it is in;
//! * members of any `except` room are left out, and so is the excepted socket (the sender, for
//!   `socket.broadcast.emit` and `socket.to(room).emit`).
//!
//! The own room is implicit: a socket key names its own room ([`SocketKey`]), and the index only
//! remembers the few sockets that left theirs. Storing it as a room would cost a room and two
//! small sets per socket for a room that only ever holds that socket. Any other room may be named
//! like a socket id; its members and that socket (while in its own room) are then its members.
//!
//! Like the rest of the crate this is sans-IO and deterministic: the hash tables use
//! [`SeededState`], keyed by a seed the runtime injects, never by an operating-system RNG.
//! The order in which recipients are produced is unspecified.
//!
//! ```
//! use std::sync::Arc;
//! use sio_proto::rooms::{BroadcastFilter, RoomIndex};
//!
//! let [a, b, c]: [Arc<str>; 3] = ["sid-a".into(), "sid-b".into(), "sid-c".into()];
//! let mut rooms = RoomIndex::new();
//! for k in [&a, &b, &c] {
//!     rooms.add_socket(k.clone());
//! }
//! rooms.join(&a, "lobby");
//! rooms.join(&b, "lobby");
//!
//! // socket a does `socket.to("lobby").emit(..)`: the sender is left out.
//! let to_lobby = rooms.select(&BroadcastFilter::all().to("lobby").without(a.clone()));
//! assert_eq!(to_lobby, vec![b.clone()]);
//!
//! // `io.except("lobby").emit(..)`, and `io.to("sid-b").emit(..)`
//! assert_eq!(rooms.select(&BroadcastFilter::all().except("lobby")), vec![c.clone()]);
//! assert_eq!(rooms.select(&BroadcastFilter::all().to("sid-b")), vec![b.clone()]);
//! ```

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// A room name. Cheap to clone; the index stores each room name once and shares it.
pub type Room = Arc<str>;

/// Up to this many distinct target rooms, a multi-room broadcast removes duplicates by asking the
/// rooms already visited instead of building a set of seen sockets.
const SCAN_LIMIT: usize = 4;

/// A socket key of a [`RoomIndex`]: the socket id, which is also the name of its own room.
///
/// `Borrow<str>` must give that id (so that hashing and equality agree with `str`'s), and
/// [`SocketKey::own_room`] the same text as a [`Room`].
pub trait SocketKey: Clone + Eq + Hash + Borrow<str> {
    /// The name of the socket's own room: its id.
    fn own_room(&self) -> Room;
}

impl SocketKey for Arc<str> {
    /// The key itself (a reference count, no copy).
    fn own_room(&self) -> Room {
        Arc::clone(self)
    }
}

impl SocketKey for String {
    fn own_room(&self) -> Room {
        Room::from(self.as_str())
    }
}
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
/// `K` is the socket key, the socket id ([`SocketKey`]); `S` is the hasher builder,
/// [`SeededState`] unless given (see [`RoomIndex::with_hasher`]).
///
/// Invariants: a socket is in a stored room exactly when the room is among that socket's stored
/// rooms; no stored room is empty, and none holds the socket its name is the id of (that socket's
/// membership is its own room, kept implicitly). A known socket may be in no room at all (after
/// leaving even its own room, which Node allows); it still receives broadcasts addressed to
/// everyone.
#[derive(Debug, Clone)]
pub struct RoomIndex<K, S = SeededState> {
    /// Members of every non-empty room, own rooms excepted.
    rooms: HashMap<Room, HashSet<K, S>, S>,
    /// Every known socket, with the rooms it is in besides its own (possibly none).
    sockets: HashMap<K, RoomSet<S>, S>,
    /// Known sockets that left their own room (rare).
    left_own: HashSet<K, S>,
    /// Builder for the inner sets.
    hasher: S,
}

/// The rooms of one socket besides its own: usually none or a few, kept in a vector (no table
/// and no hasher of their own: an idle socket costs its key and this); past
/// [`RoomSet::FEW`] rooms, a hash set.
#[derive(Debug, Clone)]
enum RoomSet<S> {
    Few(Vec<Room>),
    // Boxed on purpose: the set and its hasher inline would make every entry four times larger.
    #[allow(clippy::box_collection)]
    Many(Box<HashSet<Room, S>>),
}

impl<S> Default for RoomSet<S> {
    fn default() -> Self {
        RoomSet::Few(Vec::new())
    }
}

impl<S: BuildHasher + Clone> RoomSet<S> {
    /// Rooms kept in the vector before it becomes a hash set (a lookup scans at most these).
    const FEW: usize = 16;

    fn contains(&self, room: &str) -> bool {
        match self {
            RoomSet::Few(v) => v.iter().any(|r| &**r == room),
            RoomSet::Many(set) => set.contains(room),
        }
    }

    /// Adds `room` (not in the set yet).
    fn insert(&mut self, room: Room, hasher: &S) {
        match self {
            RoomSet::Few(v) if v.len() < Self::FEW => v.push(room),
            RoomSet::Few(v) => {
                let mut set = HashSet::with_capacity_and_hasher(v.len() + 1, hasher.clone());
                set.extend(v.drain(..));
                set.insert(room);
                *self = RoomSet::Many(Box::new(set));
            }
            RoomSet::Many(set) => {
                set.insert(room);
            }
        }
    }

    /// Removes `room`; whether it was there.
    fn remove(&mut self, room: &str) -> bool {
        match self {
            RoomSet::Few(v) => match v.iter().position(|r| &**r == room) {
                Some(i) => {
                    v.swap_remove(i);
                    if v.is_empty() {
                        *v = Vec::new();
                    }
                    true
                }
                None => false,
            },
            RoomSet::Many(set) => set.remove(room),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Room> + '_ {
        let (few, many) = match self {
            RoomSet::Few(v) => (Some(v.iter()), None),
            RoomSet::Many(set) => (None, Some(set.iter())),
        };
        few.into_iter().flatten().chain(many.into_iter().flatten())
    }

    fn into_vec(self) -> Vec<Room> {
        match self {
            RoomSet::Few(v) => v,
            RoomSet::Many(set) => set.into_iter().collect(),
        }
    }
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
            left_own: HashSet::with_hasher(hasher.clone()),
            hasher,
        }
    }
}

/// The id of a socket key, to look it up in the tables (whose hashing agrees with `str`'s).
fn id<K: Borrow<str>>(k: &K) -> &str {
    k.borrow()
}

/// The members of one room as the index holds them: a stored set, the socket whose own room it
/// is, or both (disjoint, by the index's invariant).
struct Members<'a, K, S> {
    stored: Option<&'a HashSet<K, S>>,
    owner: Option<&'a K>,
}

impl<'a, K: Eq + Hash, S: BuildHasher> Members<'a, K, S> {
    fn contains(&self, k: &K) -> bool {
        self.owner == Some(k) || self.stored.is_some_and(|set| set.contains(k))
    }

    fn len(&self) -> usize {
        self.stored.map_or(0, HashSet::len) + usize::from(self.owner.is_some())
    }

    fn is_empty(&self) -> bool {
        self.stored.is_none() && self.owner.is_none()
    }

    fn iter(&self) -> impl Iterator<Item = &'a K> {
        self.stored.into_iter().flatten().chain(self.owner)
    }

    /// Where `k`, if it is a member, is kept: the address [`Members::for_each`] hands out for it.
    fn locate(&self, k: Option<&K>) -> Option<*const K> {
        let k = k?;
        let found = match self.owner {
            Some(owner) if owner == k => Some(owner),
            _ => self.stored.and_then(|set| set.get(k)),
        };
        found.map(std::ptr::from_ref)
    }

    /// Calls `f` for each member: the fan-out loop, without an iterator adapter's per-item
    /// bookkeeping.
    fn for_each(&self, mut f: impl FnMut(&'a K)) {
        if let Some(set) = self.stored {
            for k in set {
                f(k);
            }
        }
        if let Some(k) = self.owner {
            f(k);
        }
    }

    /// Whether both are the same room (the same room named twice in a filter).
    fn same(&self, other: &Self) -> bool {
        let ptr = |o: Option<&HashSet<K, S>>| o.map(std::ptr::from_ref);
        let key = |o: Option<&K>| o.map(std::ptr::from_ref);
        ptr(self.stored) == ptr(other.stored) && key(self.owner) == key(other.owner)
    }
}

impl<K: SocketKey, S: BuildHasher + Clone> RoomIndex<K, S> {
    /// Adds socket `k`, in its own room, as Node does on connect. If `k` is already known its
    /// rooms are kept and it (re)joins its own room.
    pub fn add_socket(&mut self, k: K) {
        self.left_own.remove(id(&k));
        self.ensure_socket(&k);
    }

    /// Makes `k` join `room`, creating the room if needed. Joining a room twice is a no-op;
    /// joining the room named after `k` is joining its own room again. An unknown `k` is added
    /// implicitly (in its own room, as with [`RoomIndex::add_socket`]).
    pub fn join(&mut self, k: &K, room: &str) {
        if room == id(k) {
            self.add_socket(k.clone());
            return;
        }
        self.ensure_socket(k);
        let Some(rooms_of_k) = self.sockets.get_mut(id(k)) else {
            return;
        };
        if rooms_of_k.contains(room) {
            return;
        }
        match self.rooms.get_key_value(room) {
            Some((name, _)) => {
                rooms_of_k.insert(name.clone(), &self.hasher);
                if let Some(members) = self.rooms.get_mut(room) {
                    members.insert(k.clone());
                }
            }
            None => {
                let name = Room::from(room);
                rooms_of_k.insert(name.clone(), &self.hasher);
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

    /// Makes `k` leave `room`; a room is deleted when it becomes empty. Leaving the room named
    /// after `k` leaves its own room (until it joins it again, or is added again). Leaving a room
    /// one is not in, or leaving as an unknown socket, is a no-op. The socket stays known even
    /// when it leaves its last room.
    pub fn leave(&mut self, k: &K, room: &str) {
        if room == id(k) {
            if self.sockets.contains_key(id(k)) {
                self.left_own.insert(k.clone());
            }
            return;
        }
        let left = match self.sockets.get_mut(id(k)) {
            Some(rooms_of_k) => rooms_of_k.remove(room),
            None => false,
        };
        if left {
            self.drop_member(room, k);
        }
    }

    /// Forgets socket `k` (leave-all on disconnect) and returns the rooms it was in, its own room
    /// included unless it had left it, in no particular order; rooms left empty are deleted. An
    /// unknown `k` gives an empty `Vec`.
    pub fn remove_socket(&mut self, k: &K) -> Vec<Room> {
        let Some(rooms_of_k) = self.sockets.remove(id(k)) else {
            return Vec::new();
        };
        let in_own = !self.left_own.remove(id(k));
        let mut left = rooms_of_k.into_vec();
        left.reserve(usize::from(in_own));
        for room in &left {
            self.drop_member(room, k);
        }
        if in_own {
            left.push(k.own_room());
        }
        left
    }

    /// The rooms `k` is in (`socket.rooms`), its own room included unless it left it, in no
    /// particular order; nothing if `k` is unknown.
    pub fn rooms_of<'a>(&'a self, k: &'a K) -> impl Iterator<Item = Room> + 'a {
        let own = self.in_own_room(k).then(|| k.own_room());
        self.sockets
            .get(id(k))
            .into_iter()
            .flat_map(RoomSet::iter)
            .cloned()
            .chain(own)
    }

    /// The members of `room`, in no particular order; nothing if the room does not exist.
    pub fn sockets_in<'a>(&'a self, room: &str) -> impl Iterator<Item = &'a K> + 'a {
        self.members(room).iter()
    }

    /// Whether `k` is in `room`.
    pub fn in_room(&self, k: &K, room: &str) -> bool {
        if room == id(k) {
            self.in_own_room(k)
        } else {
            self.sockets
                .get(id(k))
                .is_some_and(|rooms_of_k| rooms_of_k.contains(room))
        }
    }

    /// How many sockets are in `room` (0 if it does not exist).
    pub fn room_len(&self, room: &str) -> usize {
        self.members(room).len()
    }

    /// Whether `k` is a known socket.
    pub fn contains(&self, k: &K) -> bool {
        self.sockets.contains_key(id(k))
    }

    /// Every known socket, in no particular order.
    pub fn sockets(&self) -> impl Iterator<Item = &K> {
        self.sockets.keys()
    }

    /// Every existing (hence non-empty) room, own rooms included, each once, in no particular
    /// order. Visits every socket.
    pub fn all_rooms(&self) -> impl Iterator<Item = Room> + '_ {
        let own = self
            .sockets
            .keys()
            .filter(|k| !self.left_own.contains(id(*k)) && !self.rooms.contains_key(id(*k)))
            .map(SocketKey::own_room);
        self.rooms.keys().cloned().chain(own)
    }

    /// The number of existing rooms, own rooms included. Visits every socket.
    pub fn room_count(&self) -> usize {
        self.all_rooms().count()
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
    /// most the sender excluded); `except` rooms and several target rooms need a little scratch
    /// space.
    pub fn for_each_recipient<F: FnMut(&K)>(&self, filter: &BroadcastFilter<K>, mut f: F) {
        let excluded: Vec<Members<'_, K, S>> = filter
            .except
            .iter()
            .map(|room| self.members(room))
            .filter(|members| !members.is_empty())
            .collect();
        let in_excluded = |k: &K| excluded.iter().any(|members| members.contains(k));
        // The excepted socket is recognised by the address of its key in the table being
        // walked, found once, rather than by comparing every id with it.
        let sender = filter.except_socket.as_ref();

        let one: [Members<'_, K, S>; 1];
        let several: Vec<Members<'_, K, S>>;
        let targets: &[Members<'_, K, S>] = match filter.rooms.as_slice() {
            [] => {
                let sender = sender.and_then(|s| self.sockets.get_key_value(id(s)));
                let sender = sender.map(|(k, _)| std::ptr::from_ref(k));
                for k in self.sockets.keys() {
                    if sender != Some(std::ptr::from_ref(k)) && !in_excluded(k) {
                        f(k);
                    }
                }
                return;
            }
            [room] => {
                one = [self.members(room)];
                &one
            }
            rooms => {
                let mut targets: Vec<Members<'_, K, S>> = rooms
                    .iter()
                    .map(|room| self.members(room))
                    .filter(|members| !members.is_empty())
                    .collect();
                if targets.len() <= SCAN_LIMIT {
                    // The same room named twice must not force the deduplicating paths below.
                    let mut i = 0;
                    while i < targets.len() {
                        if targets[..i].iter().any(|seen| seen.same(&targets[i])) {
                            targets.remove(i);
                        } else {
                            i += 1;
                        }
                    }
                }
                several = targets;
                &several
            }
        };

        match targets {
            [] => {}
            [members] => {
                let sender = members.locate(sender);
                members.for_each(|k| {
                    if sender != Some(std::ptr::from_ref(k)) && !in_excluded(k) {
                        f(k);
                    }
                });
            }
            few if few.len() <= SCAN_LIMIT => {
                // A socket is produced from the first target room that has it.
                for (i, members) in few.iter().enumerate() {
                    let sender = members.locate(sender);
                    members.for_each(|k| {
                        if sender != Some(std::ptr::from_ref(k))
                            && !few[..i].iter().any(|earlier| earlier.contains(k))
                            && !in_excluded(k)
                        {
                            f(k);
                        }
                    });
                }
            }
            many => {
                let largest = many.iter().map(Members::len).max().unwrap_or(0);
                let mut seen: HashSet<&K, S> =
                    HashSet::with_capacity_and_hasher(largest, self.hasher.clone());
                for members in many {
                    let sender = members.locate(sender);
                    members.for_each(|k| {
                        if sender != Some(std::ptr::from_ref(k))
                            && seen.insert(k)
                            && !in_excluded(k)
                        {
                            f(k);
                        }
                    });
                }
            }
        }
    }

    /// Whether the known socket `k` is in its own room.
    fn in_own_room(&self, k: &K) -> bool {
        self.sockets.contains_key(id(k)) && !self.left_own.contains(id(k))
    }

    /// The members of `room`: its stored members, and the socket it is the own room of, if
    /// that socket is known and in it.
    fn members(&self, room: &str) -> Members<'_, K, S> {
        let owner = self
            .sockets
            .get_key_value(room)
            .map(|(k, _)| k)
            .filter(|k| !self.left_own.contains(id(*k)));
        Members {
            stored: self.rooms.get(room),
            owner,
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

    /// Makes `k` known, with no stored room, if it is not already.
    fn ensure_socket(&mut self, k: &K) {
        if !self.sockets.contains_key(id(k)) {
            self.sockets.insert(k.clone(), RoomSet::default());
        }
    }

    /// Removes `k` from the members of the stored `room`, deleting the room if that empties it.
    fn drop_member(&mut self, room: &str, k: &K) {
        let emptied = match self.rooms.get_mut(room) {
            Some(members) => {
                members.remove(id(k));
                members.is_empty()
            }
            None => false,
        };
        if emptied {
            self.rooms.remove(room);
        }
    }
}
