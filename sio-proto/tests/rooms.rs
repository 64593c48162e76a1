//! The own-room rule of `rooms::RoomIndex`, as an application sees it through Node's API: every
//! socket is in the room named after its id until it leaves it, so `to(id)` and `except(id)`
//! address it; `socket.broadcast` leaves the sender out whatever rooms it is in.

use std::sync::Arc;

use sio_proto::rooms::{BroadcastFilter, RoomIndex, SeededState};

type Id = Arc<str>;

fn sorted(v: Vec<Id>) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|k| k.to_string()).collect();
    v.sort();
    v
}

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
    assert_eq!(sorted(rooms.select(&BroadcastFilter::all().to("c"))), ["c"]);
    // `socket.to(own id).emit(..)`: the sender is left out, nobody remains.
    let f = BroadcastFilter::all().to("a").without(a.clone());
    assert!(rooms.select(&f).is_empty());
    // `socket.to(other id).emit(..)`
    let f = BroadcastFilter::all().to("c").without(a);
    assert_eq!(sorted(rooms.select(&f)), ["c"]);
    assert!(rooms.in_room(&c, "c"));
}

#[test]
fn except_an_id_leaves_that_socket_out() {
    let (rooms, [a, ..]) = lobby();
    assert_eq!(
        sorted(rooms.select(&BroadcastFilter::all().except("b"))),
        ["a", "c"]
    );
    let f = BroadcastFilter::all().to("lobby").except("a");
    assert_eq!(sorted(rooms.select(&f)), ["b"]);
    let f = BroadcastFilter::all().except("c").without(a);
    assert_eq!(sorted(rooms.select(&f)), ["b"]);
}

#[test]
fn broadcast_leaves_the_sender_out() {
    let (rooms, [a, b, _]) = lobby();
    // `socket.broadcast.emit(..)`
    let f = BroadcastFilter::all().without(b.clone());
    assert_eq!(sorted(rooms.select(&f)), ["a", "c"]);
    // `socket.to("lobby").to("c").emit(..)` by "a", and through both an id and a room.
    let f = BroadcastFilter::all()
        .to("lobby")
        .to("c")
        .without(a.clone());
    assert_eq!(sorted(rooms.select(&f)), ["b", "c"]);
    let f = BroadcastFilter::all()
        .to("a")
        .to("lobby")
        .to("b")
        .without(a);
    assert_eq!(sorted(rooms.select(&f)), ["b"]);
    let mut each = Vec::new();
    let f = BroadcastFilter::all().to("lobby").to("lobby").without(b);
    rooms.for_each_recipient(&f, |k| each.push(k.clone()));
    assert_eq!(sorted(each), ["a"]);
}

#[test]
fn leaving_and_joining_the_own_room() {
    let (mut rooms, [a, ..]) = lobby();
    rooms.leave(&a, "a");
    assert!(!rooms.in_room(&a, "a"));
    let mut of_a: Vec<String> = rooms.rooms_of(&a).map(|r| r.to_string()).collect();
    assert_eq!(of_a, ["lobby"]);
    assert!(rooms.select(&BroadcastFilter::all().to("a")).is_empty());
    // Out of its own room, `except(id)` no longer leaves it out, and it still gets `io.emit`.
    assert_eq!(
        sorted(rooms.select(&BroadcastFilter::all().except("a"))),
        ["a", "b", "c"]
    );
    assert!(!rooms.all_rooms().any(|r| &*r == "a"));

    rooms.join(&a, "a");
    of_a = rooms.rooms_of(&a).map(|r| r.to_string()).collect();
    of_a.sort();
    assert_eq!(of_a, ["a", "lobby"]);
    assert_eq!(sorted(rooms.select(&BroadcastFilter::all().to("a"))), ["a"]);

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
    assert_eq!(sorted(rooms.sockets_in("a").cloned().collect()), ["a", "c"]);
    assert_eq!(
        sorted(rooms.select(&BroadcastFilter::all().to("a"))),
        ["a", "c"]
    );
    assert_eq!(
        sorted(rooms.select(&BroadcastFilter::all().except("a"))),
        ["b"]
    );
    // The room outlives its namesake's disconnection while it has members.
    rooms.remove_socket(&a);
    assert_eq!(sorted(rooms.select(&BroadcastFilter::all().to("a"))), ["c"]);
    rooms.leave(&c, "a");
    assert_eq!(rooms.room_len("a"), 0);
    assert!(rooms.in_room(&b, "b"));
}
