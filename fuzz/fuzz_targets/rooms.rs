//! Room bookkeeping: `rooms::RoomIndex` against a naive model (sorted maps) under an
//! arbitrary sequence of adds, joins, leaves, removals and broadcasts.
//!
//! The model stores every socket's own room (named after its id) as an ordinary room, as Node's
//! adapter does; the index keeps it implicitly. Room names are often socket ids, so that
//! joining and leaving one's own room, joining another socket's, `to(id)` and `except(id)` are
//! all exercised.
//!
//! Invariants after every step: the index and the model agree on known sockets, each socket's
//! rooms, each room's members and the list of rooms (never an empty one); every broadcast
//! (`select`, `select_into`, `for_each_recipient`) reaches exactly the model's recipients, each
//! once, whatever the number of target rooms (the scan and the set-based paths alike).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sio_proto::rooms::{BroadcastFilter, RoomIndex, SeededState};

#[derive(Debug, Arbitrary)]
enum RoomName {
    Small(u8),
    /// The id of a socket (its own room, or another socket's).
    Id(u8),
    Any(String),
}

impl RoomName {
    fn get(&self) -> String {
        match self {
            RoomName::Small(n) => format!("r{}", n % 6),
            RoomName::Id(n) => key(*n),
            RoomName::Any(s) => s.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Op {
    Add(u8),
    JoinOwn(u8),
    LeaveOwn(u8),
    Join(u8, RoomName),
    JoinMany(u8, Vec<RoomName>),
    Leave(u8, RoomName),
    Remove(u8),
    Select {
        rooms: Vec<RoomName>,
        except: Vec<RoomName>,
        without: Option<u8>,
        local: bool,
    },
}

#[derive(Default)]
struct Model {
    sockets: BTreeMap<String, BTreeSet<String>>,
}

impl Model {
    /// A socket becomes known in its own room.
    fn add(&mut self, k: &str) {
        self.sockets
            .entry(k.to_owned())
            .or_default()
            .insert(k.to_owned());
    }
    fn join(&mut self, k: &str, r: String) {
        if !self.sockets.contains_key(k) {
            self.add(k);
        }
        self.sockets.entry(k.to_owned()).or_default().insert(r);
    }
    fn leave(&mut self, k: &str, r: &str) {
        if let Some(rs) = self.sockets.get_mut(k) {
            rs.remove(r);
        }
    }
    fn members(&self, r: &str) -> BTreeSet<String> {
        self.sockets
            .iter()
            .filter(|(_, rs)| rs.contains(r))
            .map(|(k, _)| k.clone())
            .collect()
    }
    fn rooms(&self) -> BTreeSet<String> {
        self.sockets.values().flatten().cloned().collect()
    }
    fn select(&self, f: &BroadcastFilter<String>) -> Vec<String> {
        let targets: BTreeSet<String> = if f.rooms.is_empty() {
            self.sockets.keys().cloned().collect()
        } else {
            f.rooms.iter().flat_map(|r| self.members(r)).collect()
        };
        targets
            .into_iter()
            .filter(|k| f.except_socket.as_ref() != Some(k))
            .filter(|k| !f.except.iter().any(|r| self.members(r).contains(k)))
            .collect()
    }
}

/// The id of socket `k`: one of 12.
fn key(k: u8) -> String {
    format!("k{}", k % 12)
}

fn check(idx: &RoomIndex<String>, m: &Model) {
    assert_eq!(idx.len(), m.sockets.len());
    assert_eq!(idx.is_empty(), m.sockets.is_empty());
    let known: BTreeSet<String> = idx.sockets().cloned().collect();
    assert_eq!(known, m.sockets.keys().cloned().collect::<BTreeSet<_>>());
    for (k, rooms) in &m.sockets {
        assert!(idx.contains(k));
        let got: Vec<String> = idx.rooms_of(k).map(|r| r.to_string()).collect();
        assert_eq!(got.len(), rooms.len(), "rooms of socket {k} listed once");
        let got: BTreeSet<String> = got.into_iter().collect();
        assert_eq!(&got, rooms, "rooms of socket {k}");
        for r in rooms {
            assert!(idx.in_room(k, r));
        }
        assert_eq!(idx.in_room(k, k), rooms.contains(k), "own room of {k}");
    }
    let rooms = m.rooms();
    let got: Vec<String> = idx.all_rooms().map(|r| r.to_string()).collect();
    assert_eq!(got.len(), rooms.len(), "rooms listed once");
    let got: BTreeSet<String> = got.into_iter().collect();
    assert_eq!(got, rooms, "room list");
    assert_eq!(idx.room_count(), rooms.len());
    for r in &rooms {
        let members: BTreeSet<String> = idx.sockets_in(r).cloned().collect();
        let expected = m.members(r);
        assert!(!members.is_empty(), "empty room {r:?} kept");
        assert_eq!(members, expected, "members of {r:?}");
        assert_eq!(idx.room_len(r), expected.len());
    }
}

fuzz_target!(|input: (u8, Vec<Op>)| {
    let (seed, ops) = input;
    let mut idx: RoomIndex<String> = RoomIndex::with_hasher(SeededState::from_seed([seed; 16]));
    let mut m = Model::default();
    let mut scratch = vec![String::from("stale"); 3];

    for op in ops.iter().take(200) {
        match op {
            Op::Add(k) => {
                let k = key(*k);
                idx.add_socket(k.clone());
                m.add(&k);
            }
            Op::JoinOwn(k) => {
                let k = key(*k);
                idx.join(&k, &k);
                m.join(&k, k.clone());
            }
            Op::LeaveOwn(k) => {
                let k = key(*k);
                idx.leave(&k, &k);
                m.leave(&k, &k);
            }
            Op::Join(k, r) => {
                let (k, r) = (key(*k), r.get());
                idx.join(&k, &r);
                m.join(&k, r);
            }
            Op::JoinMany(k, rs) => {
                let k = key(*k);
                let rs: Vec<String> = rs.iter().map(RoomName::get).collect();
                idx.join_many(&k, &rs);
                if !m.sockets.contains_key(&k) {
                    m.add(&k);
                }
                for r in rs {
                    m.join(&k, r);
                }
            }
            Op::Leave(k, r) => {
                let (k, r) = (key(*k), r.get());
                idx.leave(&k, &r);
                m.leave(&k, &r);
            }
            Op::Remove(k) => {
                let k = key(*k);
                let mut left: Vec<String> = idx
                    .remove_socket(&k)
                    .iter()
                    .map(|r| r.to_string())
                    .collect();
                left.sort();
                let expected: Vec<String> = m
                    .sockets
                    .remove(&k)
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                assert_eq!(left, expected, "rooms returned by remove_socket({k})");
            }
            Op::Select {
                rooms,
                except,
                without,
                local,
            } => {
                let mut f = BroadcastFilter::all();
                for r in rooms.iter().take(12) {
                    f = f.to(r.get());
                }
                for r in except.iter().take(4) {
                    f = f.except(r.get());
                }
                if let Some(w) = without {
                    f = f.without(key(*w));
                }
                if *local {
                    f = f.local();
                }
                let expected = m.select(&f);
                let mut got = idx.select(&f);
                got.sort_unstable();
                assert_eq!(got, expected, "select {f:?}");
                idx.select_into(&f, &mut scratch);
                scratch.sort_unstable();
                assert_eq!(scratch, expected, "select_into {f:?}");
                let mut each = Vec::new();
                idx.for_each_recipient(&f, |k| each.push(k.clone()));
                each.sort_unstable();
                assert_eq!(each, expected, "for_each_recipient {f:?}");
            }
        }
        check(&idx, &m);
    }
});
