//! `rooms::RoomIndex`: membership, the own-room rule and recipient selection, against a naive
//! model in a property test.
//!
//! The own-room rule, as an application sees it through Node's API: every socket is in the room
//! named after its id until it leaves it, so `to(id)` and `except(id)` address it;
//! `socket.broadcast` leaves the sender out whatever rooms it is in.

use std::hash::BuildHasher;
use std::sync::Arc;

use proptest::prelude::*;
use sio_proto::rooms::{BroadcastFilter, Room, RoomIndex, SeededState};

type Id = Arc<str>;

fn id(s: &str) -> Id {
    Id::from(s)
}

fn ids(v: Vec<Id>) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|k| k.to_string()).collect();
    v.sort();
    v
}

fn names(rooms: impl Iterator<Item = Room>) -> Vec<String> {
    let mut v: Vec<String> = rooms.map(|r| r.to_string()).collect();
    v.sort();
    v
}

fn members(idx: &RoomIndex<Id>, room: &str) -> Vec<String> {
    ids(idx.sockets_in(room).cloned().collect())
}

/// Sockets "s1", "s2", "s3".
fn three() -> RoomIndex<Id> {
    let mut idx = RoomIndex::new();
    for k in 1..=3 {
        idx.add_socket(id(&format!("s{k}")));
    }
    idx
}

#[test]
fn add_socket_puts_it_in_its_own_room() {
    let mut idx = RoomIndex::new();
    idx.add_socket(id("abc"));
    assert!(idx.contains(&id("abc")));
    assert_eq!(idx.len(), 1);
    assert_eq!(names(idx.rooms_of(&id("abc"))), ["abc"]);
    assert_eq!(members(&idx, "abc"), ["abc"]);
    assert!(idx.in_room(&id("abc"), "abc"));
    assert_eq!(idx.room_len("abc"), 1);
    assert_eq!(names(idx.all_rooms()), ["abc"]);
    assert_eq!(idx.room_count(), 1);
}

#[test]
fn join_then_leave() {
    let mut idx = three();
    idx.join(&id("s1"), "lobby");
    idx.join(&id("s1"), "lobby");
    idx.join(&id("s2"), "lobby");
    assert_eq!(idx.room_len("lobby"), 2);
    assert_eq!(names(idx.rooms_of(&id("s1"))), ["lobby", "s1"]);
    idx.leave(&id("s1"), "lobby");
    assert!(!idx.in_room(&id("s1"), "lobby"));
    assert_eq!(members(&idx, "lobby"), ["s2"]);
    assert_eq!(names(idx.rooms_of(&id("s1"))), ["s1"]);
}

#[test]
fn join_many_joins_each_room() {
    let mut idx = three();
    idx.join_many(&id("s1"), ["a", "b", "a", "s1"]);
    assert_eq!(names(idx.rooms_of(&id("s1"))), ["a", "b", "s1"]);
}

#[test]
fn join_adds_an_unknown_socket_in_its_own_room() {
    let mut idx = RoomIndex::new();
    idx.join(&id("s5"), "lobby");
    assert!(idx.contains(&id("s5")));
    assert_eq!(names(idx.rooms_of(&id("s5"))), ["lobby", "s5"]);
}

#[test]
fn leaving_a_room_one_is_not_in_is_a_no_op() {
    let mut idx = three();
    idx.join(&id("s2"), "lobby");
    idx.leave(&id("s1"), "lobby");
    idx.leave(&id("s1"), "nowhere");
    idx.leave(&id("s9"), "lobby");
    idx.leave(&id("s9"), "s9");
    assert_eq!(idx.room_len("lobby"), 1);
    assert_eq!(idx.len(), 3);
    assert!(!idx.contains(&id("s9")));
    assert_eq!(idx.room_count(), 4);
    // An unknown socket that left "its own room" is in it once added.
    idx.add_socket(id("s9"));
    assert!(idx.in_room(&id("s9"), "s9"));
}

#[test]
fn last_leave_deletes_the_room() {
    let mut idx = three();
    idx.join(&id("s1"), "lobby");
    idx.leave(&id("s1"), "lobby");
    assert!(!idx.all_rooms().any(|r| &*r == "lobby"));
    // Leaving even one's own room keeps the socket known.
    idx.leave(&id("s1"), "s1");
    assert!(idx.contains(&id("s1")));
    assert_eq!(idx.rooms_of(&id("s1")).count(), 0);
    assert_eq!(names(idx.all_rooms()), ["s2", "s3"]);
}

#[test]
fn leaving_and_joining_the_own_room() {
    let mut idx = three();
    idx.leave(&id("s3"), "s3");
    assert!(!idx.in_room(&id("s3"), "s3"));
    assert_eq!(idx.room_len("s3"), 0);
    assert!(idx.select(&BroadcastFilter::all().to("s3")).is_empty());
    assert_eq!(ids(idx.select(&BroadcastFilter::all())), ["s1", "s2", "s3"]);
    assert_eq!(
        ids(idx.select(&BroadcastFilter::all().except("s3"))),
        ["s1", "s2", "s3"]
    );
    idx.join(&id("s3"), "s3");
    assert_eq!(ids(idx.select(&BroadcastFilter::all().to("s3"))), ["s3"]);
    idx.leave(&id("s3"), "s3");
    idx.add_socket(id("s3"));
    assert!(idx.in_room(&id("s3"), "s3"));
}

#[test]
fn a_room_named_like_a_socket_holds_both() {
    let mut idx = three();
    idx.join(&id("s1"), "s2");
    assert!(idx.in_room(&id("s1"), "s2"));
    assert_eq!(members(&idx, "s2"), ["s1", "s2"]);
    assert_eq!(idx.room_len("s2"), 2);
    assert_eq!(names(idx.all_rooms()), ["s1", "s2", "s3"]);
    assert_eq!(
        ids(idx.select(&BroadcastFilter::all().to("s2"))),
        ["s1", "s2"]
    );
    assert_eq!(
        ids(idx.select(&BroadcastFilter::all().except("s2"))),
        ["s3"]
    );
    // The owner leaving its own room leaves the stored room alone, and the other way round.
    idx.leave(&id("s2"), "s2");
    assert_eq!(members(&idx, "s2"), ["s1"]);
    idx.leave(&id("s1"), "s2");
    assert_eq!(idx.room_len("s2"), 0);
    assert_eq!(names(idx.all_rooms()), ["s1", "s3"]);
}

#[test]
fn remove_socket_returns_rooms_and_deletes_empty_ones() {
    let mut idx = three();
    idx.join_many(&id("s1"), ["solo", "shared"]);
    idx.join(&id("s2"), "shared");
    let left = idx.remove_socket(&id("s1"));
    assert_eq!(names(left.into_iter()), ["s1", "shared", "solo"]);
    assert!(!idx.contains(&id("s1")));
    assert_eq!(names(idx.all_rooms()), ["s2", "s3", "shared"]);
    assert_eq!(members(&idx, "shared"), ["s2"]);
    assert!(idx.remove_socket(&id("s1")).is_empty());
    assert!(idx.select(&BroadcastFilter::all().to("s1")).is_empty());
    // A socket that left its own room does not report it.
    idx.leave(&id("s2"), "s2");
    assert_eq!(names(idx.remove_socket(&id("s2")).into_iter()), ["shared"]);
    idx.add_socket(id("s2"));
    assert!(idx.in_room(&id("s2"), "s2"));
}

#[test]
fn union_of_rooms_has_no_duplicates() {
    let mut idx = three();
    idx.join_many(&id("s1"), ["a", "b"]);
    idx.join_many(&id("s2"), ["b", "c"]);
    idx.join(&id("s3"), "c");
    let f = BroadcastFilter::all().to("a").to("b").to("a").to("missing");
    assert_eq!(ids(idx.select(&f)), ["s1", "s2"]);
    let f = BroadcastFilter::all().to("a").to("b").to("c");
    assert_eq!(ids(idx.select(&f)), ["s1", "s2", "s3"]);
    let f = BroadcastFilter::all().to("s1").to("a").to("s1");
    assert_eq!(ids(idx.select(&f)), ["s1"]);
}

#[test]
fn union_of_many_rooms_has_no_duplicates() {
    let mut idx = RoomIndex::new();
    for n in 0..20u32 {
        let k = id(&format!("s{n}"));
        idx.add_socket(k.clone());
        idx.join_many(&k, ["all", if n % 2 == 0 { "even" } else { "odd" }]);
    }
    let mut f = BroadcastFilter::all().to("all").to("even").to("odd");
    for k in 0..10 {
        f = f.to(format!("s{k}"));
    }
    assert_eq!(idx.select(&f).len(), 20);
    let mut f = BroadcastFilter::all();
    for k in 0..10 {
        f = f.to(format!("s{k}")).to(format!("s{k}"));
    }
    assert_eq!(idx.select(&f).len(), 10);
}

#[test]
fn only_unknown_rooms_select_nobody() {
    let idx = three();
    assert!(idx.select(&BroadcastFilter::all().to("missing")).is_empty());
    assert!(idx
        .select(&BroadcastFilter::all().to("missing").to("s9"))
        .is_empty());
}

#[test]
fn no_room_selects_everyone() {
    let mut idx = three();
    idx.leave(&id("s3"), "s3");
    assert_eq!(ids(idx.select(&BroadcastFilter::all())), ["s1", "s2", "s3"]);
}

#[test]
fn except_rooms_remove_their_members() {
    let mut idx = three();
    idx.join_many(&id("s1"), ["lobby", "muted"]);
    idx.join(&id("s2"), "lobby");
    let f = BroadcastFilter::all().to("lobby").except("muted");
    assert_eq!(ids(idx.select(&f)), ["s2"]);
    let f = BroadcastFilter::all()
        .except("muted")
        .except("s3")
        .except("gone");
    assert_eq!(ids(idx.select(&f)), ["s2"]);
    let f = BroadcastFilter::all().to("lobby").except("s2");
    assert_eq!(ids(idx.select(&f)), ["s1"]);
}

#[test]
fn except_socket_excludes_the_sender() {
    let mut idx = three();
    idx.join(&id("s1"), "lobby");
    idx.join(&id("s2"), "lobby");
    let f = BroadcastFilter::all().without(id("s1"));
    assert_eq!(ids(idx.select(&f)), ["s2", "s3"]);
    let f = BroadcastFilter::all().to("lobby").without(id("s1"));
    assert_eq!(ids(idx.select(&f)), ["s2"]);
    // `socket.to(own id)`: the sender is the only member, so nobody.
    let f = BroadcastFilter::all().to("s1").without(id("s1"));
    assert!(idx.select(&f).is_empty());
}

#[test]
fn to_socket_id_reaches_that_socket() {
    let idx = three();
    assert_eq!(ids(idx.select(&BroadcastFilter::all().to("s2"))), ["s2"]);
    let f = BroadcastFilter::all().to("s2").to("s3");
    assert_eq!(ids(idx.select(&f)), ["s2", "s3"]);
}

#[test]
fn empty_index_selects_nobody() {
    let idx: RoomIndex<Id> = RoomIndex::default();
    assert!(idx.is_empty());
    assert_eq!(idx.len(), 0);
    assert_eq!(idx.all_rooms().count(), 0);
    assert_eq!(idx.rooms_of(&id("s1")).count(), 0);
    assert_eq!(idx.sockets_in("x").count(), 0);
    assert!(idx.select(&BroadcastFilter::all()).is_empty());
    assert!(idx.select(&BroadcastFilter::all().to("x")).is_empty());
}

#[test]
fn select_into_clears_and_reuses_the_vec() {
    let mut idx = three();
    idx.join(&id("s1"), "lobby");
    let mut out = Vec::with_capacity(64);
    let buffer = out.as_ptr();
    idx.select_into(&BroadcastFilter::all(), &mut out);
    assert_eq!(ids(out.clone()), ["s1", "s2", "s3"]);
    idx.select_into(&BroadcastFilter::all().to("lobby"), &mut out);
    assert_eq!(ids(out.clone()), ["s1"]);
    assert_eq!(out.as_ptr(), buffer);
}

#[test]
fn local_flag_is_carried_and_ignored() {
    let idx = three();
    let f = BroadcastFilter::all().local();
    assert!(f.local);
    assert_eq!(ids(idx.select(&f)), ["s1", "s2", "s3"]);
}

#[test]
fn string_keys_work() {
    let mut idx: RoomIndex<String> = RoomIndex::with_hasher(SeededState::from_seed([9; 16]));
    idx.add_socket("sid-a".to_owned());
    idx.add_socket("sid-b".to_owned());
    let f = BroadcastFilter::all().without("sid-a".to_owned());
    assert_eq!(idx.select(&f), ["sid-b"]);
    assert_eq!(idx.select(&BroadcastFilter::all().to("sid-a")), ["sid-a"]);
    assert_eq!(names(idx.rooms_of(&"sid-a".to_owned())), ["sid-a"]);
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

/// Rooms the operations use: "s0" and "s1" are also the ids of sockets 0 and 1.
const ROOMS: [&str; 5] = ["a", "b", "c", "s0", "s1"];

#[derive(Debug, Clone)]
enum Op {
    Add(u8),
    Join(u8, usize),
    JoinOwn(u8),
    JoinMany(u8, Vec<usize>),
    Leave(u8, usize),
    LeaveOwn(u8),
    Remove(u8),
}

fn sid(s: u8) -> String {
    format!("s{s}")
}

fn op() -> impl Strategy<Value = Op> {
    let s = 0u8..4;
    let r = 0..ROOMS.len();
    prop_oneof![
        s.clone().prop_map(Op::Add),
        (s.clone(), r.clone()).prop_map(|(s, r)| Op::Join(s, r)),
        s.clone().prop_map(Op::JoinOwn),
        (s.clone(), prop::collection::vec(r.clone(), 0..3)).prop_map(|(s, rs)| Op::JoinMany(s, rs)),
        (s.clone(), r).prop_map(|(s, r)| Op::Leave(s, r)),
        s.clone().prop_map(Op::LeaveOwn),
        s.prop_map(Op::Remove),
    ]
}

fn filter() -> impl Strategy<Value = BroadcastFilter<Id>> {
    // "zz" never exists; "s2" and "s3" are own rooms only.
    let room = prop::sample::select(vec!["a", "b", "c", "s0", "s1", "s2", "s3", "zz"]);
    (
        prop::collection::vec(room.clone(), 0..7),
        prop::collection::vec(room, 0..3),
        prop::option::of(0u8..5),
        any::<bool>(),
    )
        .prop_map(|(rooms, except, except_socket, local)| BroadcastFilter {
            rooms: rooms.into_iter().map(Room::from).collect(),
            except: except.into_iter().map(Room::from).collect(),
            except_socket: except_socket.map(|s| id(&sid(s))),
            local,
        })
}

/// The plain model: known sockets and (socket, room) memberships, the own room stored as
/// any other (as Node's adapter does).
#[derive(Default)]
struct Model {
    sockets: Vec<String>,
    members: Vec<(String, String)>,
}

impl Model {
    fn add(&mut self, s: &str) {
        if !self.sockets.iter().any(|m| m == s) {
            self.sockets.push(s.to_owned());
        }
        self.join(s, s);
    }

    fn join(&mut self, s: &str, room: &str) {
        if !self.sockets.iter().any(|m| m == s) {
            self.add(s);
        }
        if !self.in_room(s, room) {
            self.members.push((s.to_owned(), room.to_owned()));
        }
    }

    fn leave(&mut self, s: &str, room: &str) {
        self.members.retain(|(ms, mr)| !(ms == s && mr == room));
    }

    fn rooms_of(&self, s: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .members
            .iter()
            .filter(|(ms, _)| ms == s)
            .map(|(_, r)| r.clone())
            .collect();
        v.sort();
        v
    }

    fn in_room(&self, s: &str, room: &str) -> bool {
        self.members.iter().any(|(ms, mr)| ms == s && mr == room)
    }

    fn select(&self, f: &BroadcastFilter<Id>) -> Vec<String> {
        let mut v: Vec<String> = self
            .sockets
            .iter()
            .filter(|s| f.rooms.is_empty() || f.rooms.iter().any(|r| self.in_room(s, r)))
            .filter(|s| !f.except.iter().any(|r| self.in_room(s, r)))
            .filter(|s| f.except_socket.as_deref() != Some(s.as_str()))
            .cloned()
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
        let mut idx: RoomIndex<Id> = RoomIndex::new();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Add(s) => {
                    idx.add_socket(id(&sid(s)));
                    model.add(&sid(s));
                }
                Op::Join(s, r) => {
                    idx.join(&id(&sid(s)), ROOMS[r]);
                    model.join(&sid(s), ROOMS[r]);
                }
                Op::JoinOwn(s) => {
                    idx.join(&id(&sid(s)), &sid(s));
                    model.join(&sid(s), &sid(s));
                }
                Op::JoinMany(s, rs) => {
                    idx.join_many(&id(&sid(s)), rs.iter().map(|&r| ROOMS[r]));
                    if !model.sockets.contains(&sid(s)) {
                        model.add(&sid(s));
                    }
                    for r in rs {
                        model.join(&sid(s), ROOMS[r]);
                    }
                }
                Op::Leave(s, r) => {
                    idx.leave(&id(&sid(s)), ROOMS[r]);
                    model.leave(&sid(s), ROOMS[r]);
                }
                Op::LeaveOwn(s) => {
                    idx.leave(&id(&sid(s)), &sid(s));
                    model.leave(&sid(s), &sid(s));
                }
                Op::Remove(s) => {
                    let left = idx.remove_socket(&id(&sid(s)));
                    prop_assert_eq!(names(left.into_iter()), model.rooms_of(&sid(s)));
                    model.sockets.retain(|ms| *ms != sid(s));
                    model.members.retain(|(ms, _)| *ms != sid(s));
                }
            }

            // Index and model agree on membership, and no room is empty.
            let mut model_sockets = model.sockets.clone();
            model_sockets.sort();
            prop_assert_eq!(ids(idx.sockets().cloned().collect()), model_sockets);
            let mut model_rooms: Vec<String> =
                model.members.iter().map(|(_, r)| r.clone()).collect();
            model_rooms.sort();
            model_rooms.dedup();
            prop_assert_eq!(names(idx.all_rooms()), model_rooms.clone());
            prop_assert_eq!(idx.room_count(), model_rooms.len());
            for room in ["a", "b", "c", "s0", "s1", "s2", "s3", "s4"] {
                let expected: Vec<String> = model
                    .sockets
                    .iter()
                    .filter(|s| model.in_room(s, room))
                    .cloned()
                    .collect();
                prop_assert_eq!(idx.room_len(room), expected.len());
                let mut expected = expected;
                expected.sort();
                prop_assert_eq!(members(&idx, room), expected);
            }
            for s in 0..5u8 {
                prop_assert_eq!(names(idx.rooms_of(&id(&sid(s)))), model.rooms_of(&sid(s)));
                for room in ["a", "s0", "s1", "s2"] {
                    prop_assert_eq!(idx.in_room(&id(&sid(s)), room), model.in_room(&sid(s), room));
                }
            }
        }

        let mut reused = Vec::new();
        for f in &filters {
            let expected = model.select(f);
            prop_assert_eq!(ids(idx.select(f)), expected.clone());
            idx.select_into(f, &mut reused);
            prop_assert_eq!(ids(reused.clone()), expected.clone());
            let mut each = Vec::new();
            idx.for_each_recipient(f, |k| each.push(k.clone()));
            prop_assert_eq!(ids(each), expected);
        }
    }
}

// ---- the own-room rule, scenario by scenario ------------------------------------------

/// Sockets "a", "b", "c" (ids as Node's would be), "a" and "b" in "lobby".
fn lobby() -> (RoomIndex<Id>, [Id; 3]) {
    let mut rooms = RoomIndex::with_hasher(SeededState::from_seed([42; 16]));
    let ids: [Id; 3] = ["a".into(), "b".into(), "c".into()];
    for k in &ids {
        rooms.add_socket(k.clone());
    }
    rooms.join_many(&ids[0], ["lobby"]);
    rooms.join_many(&ids[1], ["lobby"]);
    (rooms, ids)
}

#[test]
fn to_an_id_reaches_that_socket_only() {
    let (rooms, [a, _, c]) = lobby();
    assert_eq!(ids(rooms.select(&BroadcastFilter::all().to("c"))), ["c"]);
    // `socket.to(own id).emit(..)`: the sender is left out, nobody remains.
    let f = BroadcastFilter::all().to("a").without(a.clone());
    assert!(rooms.select(&f).is_empty());
    // `socket.to(other id).emit(..)`
    let f = BroadcastFilter::all().to("c").without(a);
    assert_eq!(ids(rooms.select(&f)), ["c"]);
    assert!(rooms.in_room(&c, "c"));
}

#[test]
fn except_an_id_leaves_that_socket_out() {
    let (rooms, [a, ..]) = lobby();
    assert_eq!(
        ids(rooms.select(&BroadcastFilter::all().except("b"))),
        ["a", "c"]
    );
    let f = BroadcastFilter::all().to("lobby").except("a");
    assert_eq!(ids(rooms.select(&f)), ["b"]);
    let f = BroadcastFilter::all().except("c").without(a);
    assert_eq!(ids(rooms.select(&f)), ["b"]);
}

#[test]
fn broadcast_leaves_the_sender_out() {
    let (rooms, [a, b, _]) = lobby();
    // `socket.broadcast.emit(..)`
    let f = BroadcastFilter::all().without(b.clone());
    assert_eq!(ids(rooms.select(&f)), ["a", "c"]);
    // `socket.to("lobby").to("c").emit(..)` by "a", and through both an id and a room.
    let f = BroadcastFilter::all()
        .to("lobby")
        .to("c")
        .without(a.clone());
    assert_eq!(ids(rooms.select(&f)), ["b", "c"]);
    let f = BroadcastFilter::all()
        .to("a")
        .to("lobby")
        .to("b")
        .without(a);
    assert_eq!(ids(rooms.select(&f)), ["b"]);
    let mut each = Vec::new();
    let f = BroadcastFilter::all().to("lobby").to("lobby").without(b);
    rooms.for_each_recipient(&f, |k| each.push(k.clone()));
    assert_eq!(ids(each), ["a"]);
}

#[test]
fn an_application_leaves_and_rejoins_its_own_room() {
    let (mut rooms, [a, ..]) = lobby();
    rooms.leave(&a, "a");
    assert!(!rooms.in_room(&a, "a"));
    let mut of_a: Vec<String> = rooms.rooms_of(&a).map(|r| r.to_string()).collect();
    assert_eq!(of_a, ["lobby"]);
    assert!(rooms.select(&BroadcastFilter::all().to("a")).is_empty());
    // Out of its own room, `except(id)` no longer leaves it out, and it still gets `io.emit`.
    assert_eq!(
        ids(rooms.select(&BroadcastFilter::all().except("a"))),
        ["a", "b", "c"]
    );
    assert!(!rooms.all_rooms().any(|r| &*r == "a"));

    rooms.join(&a, "a");
    of_a = rooms.rooms_of(&a).map(|r| r.to_string()).collect();
    of_a.sort();
    assert_eq!(of_a, ["a", "lobby"]);
    assert_eq!(ids(rooms.select(&BroadcastFilter::all().to("a"))), ["a"]);

    // Disconnecting reports the own room only while the socket is in it.
    rooms.leave(&a, "a");
    let left: Vec<String> = rooms
        .remove_socket(&a)
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(left, ["lobby"]);
}

#[test]
fn another_socket_may_join_a_room_named_like_an_id() {
    let (mut rooms, [a, b, c]) = lobby();
    rooms.join(&c, "a");
    assert_eq!(ids(rooms.sockets_in("a").cloned().collect()), ["a", "c"]);
    assert_eq!(
        ids(rooms.select(&BroadcastFilter::all().to("a"))),
        ["a", "c"]
    );
    assert_eq!(
        ids(rooms.select(&BroadcastFilter::all().except("a"))),
        ["b"]
    );
    // The room outlives its namesake's disconnection while it has members.
    rooms.remove_socket(&a);
    assert_eq!(ids(rooms.select(&BroadcastFilter::all().to("a"))), ["c"]);
    rooms.leave(&c, "a");
    assert_eq!(rooms.room_len("a"), 0);
    assert!(rooms.in_room(&b, "b"));
}

/// A socket in many rooms (past the few a socket keeps in a plain list, into a hash set):
/// membership, leaving, and leave-all stay exact.
#[test]
fn a_socket_in_many_rooms() {
    let mut idx = three();
    let s1 = id("s1");
    let rooms: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
    idx.join_many(&s1, &rooms);
    idx.join(&id("s2"), "r7");
    for r in &rooms {
        assert!(idx.in_room(&s1, r), "{r}");
    }
    assert_eq!(idx.rooms_of(&s1).count(), 41);
    for r in rooms.iter().step_by(2) {
        idx.leave(&s1, r);
    }
    assert!(!idx.in_room(&s1, "r0") && idx.in_room(&s1, "r1"));
    assert_eq!(idx.rooms_of(&s1).count(), 21);
    let mut left = names(idx.remove_socket(&s1).into_iter());
    left.retain(|r| r != "s1");
    let odd: Vec<String> = {
        let mut v: Vec<String> = rooms.iter().skip(1).step_by(2).cloned().collect();
        v.sort();
        v
    };
    assert_eq!(left, odd);
    assert_eq!(members(&idx, "r7"), ["s2"]);
    assert!(idx.sockets_in("r1").next().is_none());
}
