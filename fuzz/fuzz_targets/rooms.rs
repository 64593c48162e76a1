//! Room bookkeeping: `rooms::RoomIndex` against a naive model (sorted maps) under an
//! arbitrary sequence of adds, joins, leaves, removals and broadcasts.
//!
//! Invariants after every step: the index and the model agree on known sockets, each socket's
//! rooms, each room's members and the list of rooms (never an empty one); every broadcast
//! (`select`, `select_into`, `for_each_recipient`) reaches exactly the model's recipients, each
//! once, whatever the number of target rooms (the scan and the set-based paths alike).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sio_proto::rooms::{BroadcastFilter, RoomIndex};

#[derive(Debug, Arbitrary)]
enum RoomName {
    Small(u8),
    Any(String),
}

impl RoomName {
    fn get(&self) -> String {
        match self {
            RoomName::Small(n) => format!("r{}", n % 6),
            RoomName::Any(s) => s.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Op {
    Add(u8, RoomName),
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
    sockets: BTreeMap<u8, BTreeSet<String>>,
}

impl Model {
    fn join(&mut self, k: u8, r: String) {
        self.sockets.entry(k).or_default().insert(r);
    }
    fn members(&self, r: &str) -> BTreeSet<u8> {
        self.sockets
            .iter()
            .filter(|(_, rs)| rs.contains(r))
            .map(|(k, _)| *k)
            .collect()
    }
    fn rooms(&self) -> BTreeSet<String> {
        self.sockets.values().flatten().cloned().collect()
    }
    fn select(&self, f: &BroadcastFilter<u8>) -> Vec<u8> {
        let targets: BTreeSet<u8> = if f.rooms.is_empty() {
            self.sockets.keys().copied().collect()
        } else {
            f.rooms.iter().flat_map(|r| self.members(r)).collect()
        };
        targets
            .into_iter()
            .filter(|k| f.except_socket != Some(*k))
            .filter(|k| !f.except.iter().any(|r| self.members(r).contains(k)))
            .collect()
    }
}

fn key(k: u8) -> u8 {
    k % 12
}

fn check(idx: &RoomIndex<u8>, m: &Model) {
    assert_eq!(idx.len(), m.sockets.len());
    assert_eq!(idx.is_empty(), m.sockets.is_empty());
    let known: BTreeSet<u8> = idx.sockets().copied().collect();
    assert_eq!(known, m.sockets.keys().copied().collect::<BTreeSet<_>>());
    for (k, rooms) in &m.sockets {
        assert!(idx.contains(k));
        let got: BTreeSet<String> = idx.rooms_of(k).map(|r| r.to_string()).collect();
        assert_eq!(&got, rooms, "rooms of socket {k}");
        for r in rooms {
            assert!(idx.in_room(k, r));
        }
    }
    let rooms = m.rooms();
    let got: BTreeSet<String> = idx.all_rooms().map(|r| r.to_string()).collect();
    assert_eq!(got, rooms, "room list");
    assert_eq!(idx.room_count(), rooms.len());
    for r in &rooms {
        let members: BTreeSet<u8> = idx.sockets_in(r).copied().collect();
        let expected = m.members(r);
        assert!(!members.is_empty(), "empty room {r:?} kept");
        assert_eq!(members, expected, "members of {r:?}");
        assert_eq!(idx.room_len(r), expected.len());
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut idx: RoomIndex<u8> = RoomIndex::new();
    let mut m = Model::default();
    let mut scratch = vec![200u8; 3];

    for op in ops.iter().take(200) {
        match op {
            Op::Add(k, r) => {
                let (k, r) = (key(*k), r.get());
                idx.add_socket(k, &r);
                m.join(k, r);
            }
            Op::Join(k, r) => {
                let (k, r) = (key(*k), r.get());
                idx.join(&k, &r);
                m.join(k, r);
            }
            Op::JoinMany(k, rs) => {
                let k = key(*k);
                let rs: Vec<String> = rs.iter().map(RoomName::get).collect();
                idx.join_many(&k, &rs);
                m.sockets.entry(k).or_default();
                for r in rs {
                    m.join(k, r);
                }
            }
            Op::Leave(k, r) => {
                let (k, r) = (key(*k), r.get());
                idx.leave(&k, &r);
                if let Some(rs) = m.sockets.get_mut(&k) {
                    rs.remove(&r);
                }
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
                idx.for_each_recipient(&f, |k| each.push(*k));
                each.sort_unstable();
                assert_eq!(each, expected, "for_each_recipient {f:?}");
            }
        }
        check(&idx, &m);
    }
});
