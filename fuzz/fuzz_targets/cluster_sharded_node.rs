//! The sharded adapter node machine (`cluster::ShardedNode`) fed an arbitrary sequence of bus
//! messages (arbitrary bytes on the node's channels or any other, well-formed
//! `ClusterAdapter` messages with chosen types, ids and senders), commands, answers, rooms
//! created and deleted, and clock steps, in any subscription mode.
//!
//! Invariants:
//! * nothing panics; after every `handle`, `poll_timeout` is not before `now`;
//! * every request the node issued ends in exactly one `Completed`, and no other completes; a
//!   request issued with nobody to ask is refused (`NothingExpected`) and publishes nothing;
//! * an answer to a request the node was asked is published at most once (acknowledgements
//!   of a broadcast excepted), only for a request it was asked, on the requester's channel;
//! * `malformed()` never decreases; every publish goes to the namespace's channels; the room
//!   channels subscribed are exactly those `room_created` returned and `room_deleted` did not
//!   take back, and never any in the static mode;
//! * at the end, past every deadline, nothing is pending and no deadline is left.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sio_proto::cluster::channel::SubscriptionMode;
use sio_proto::cluster::{
    AckBroadcastError, BroadcastOptions, Flags, IssueError, NodeConfig, NodeEvent, NodeInput,
    ShardedNode, Value,
};
use sio_proto::payload::encode_event;
use sio_proto::socket::Nsp;

const CHANNELS: [&str; 5] = [
    "socket.io#/#",
    "socket.io#/#room1#",
    "socket.io#/#me#",
    "socket.io#/#other#",
    "socket.io#/admin#",
];

const ROOMS: [&str; 4] = ["room1", "room2", "QAu-KOL3dASTS1fZAAAE", "r"];

#[derive(Debug, Arbitrary)]
enum Op {
    /// Arbitrary bytes on a known channel or an arbitrary one.
    Raw {
        channel: u8,
        other: Option<String>,
        payload: Vec<u8>,
    },
    /// A well-formed message of type `kind`, for the `nth` request issued (or an unknown id),
    /// from this node, another or the emitter, for this namespace or another.
    Message {
        kind: u8,
        nth: u8,
        id: Option<u8>,
        from: u8,
        count: u8,
        channel: u8,
    },
    FetchSockets {
        others: u8,
        timeout_ms: Option<u16>,
    },
    ServerSideEmit {
        ack: bool,
        others: u8,
    },
    Broadcast {
        rooms: u8,
        binary: bool,
    },
    BroadcastWithAck {
        others: u8,
        timeout_ms: Option<u16>,
    },
    Join {
        close: bool,
    },
    RoomCreated {
        room: u8,
        private: bool,
    },
    RoomDeleted {
        room: u8,
    },
    /// Answer the `nth` request asked of the node (whatever its kind, with any answer).
    Answer {
        nth: u8,
        how: u8,
    },
    Cancel {
        nth: u8,
    },
    Advance {
        ms: u16,
    },
    Timeout,
}

#[derive(Debug, Arbitrary)]
struct Input {
    mode: u8,
    timeout_ms: u16,
    max_pending: u8,
    ops: Vec<Op>,
}

struct Harness {
    node: ShardedNode,
    now: Instant,
    issued: Vec<String>,
    open: BTreeSet<String>,
    completed: BTreeSet<String>,
    asked: Vec<String>,
    answered: BTreeMap<String, u32>,
    malformed: u64,
    rooms: BTreeSet<String>,
}

impl Harness {
    fn handle(&mut self, input: NodeInput) {
        self.node.handle(self.now, input);
        if let Some(at) = self.node.poll_timeout() {
            assert!(at >= self.now, "a deadline left in the past");
        }
        assert!(self.node.malformed() >= self.malformed);
        self.malformed = self.node.malformed();
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(event) = self.node.poll_event() {
            match event {
                NodeEvent::Completed { request_id, .. } => {
                    assert!(
                        self.open.remove(&request_id),
                        "completed twice or never issued"
                    );
                    self.completed.insert(request_id);
                }
                NodeEvent::FetchRequested { request_id, .. }
                | NodeEvent::BroadcastWithAckRequested { request_id, .. } => {
                    self.answered.remove(&request_id);
                    self.asked.push(request_id)
                }
                NodeEvent::ServerSideEmit { request_id, .. } => {
                    if let Some(id) = request_id {
                        self.answered.remove(&id);
                        self.asked.push(id);
                    }
                }
                NodeEvent::JoinRequested { request_id, .. }
                | NodeEvent::LeaveRequested { request_id, .. }
                | NodeEvent::DisconnectRequested { request_id, .. } => {
                    assert!(
                        request_id.is_none(),
                        "the sharded adapter never answers these"
                    )
                }
                NodeEvent::SocketsRequested { .. } | NodeEvent::AllRoomsRequested { .. } => {
                    panic!("not a sharded adapter request")
                }
                NodeEvent::Broadcast { .. } => {}
            }
        }
        while let Some(publish) = self.node.poll_publish() {
            assert!(
                publish.channel.starts_with("socket.io#/#"),
                "published on {}",
                publish.channel
            );
        }
    }

    fn issued(&mut self, result: Result<String, IssueError>, others: usize) {
        match result {
            Ok(id) => {
                assert!(others > 0);
                assert!(self.open.insert(id.clone()), "an id reused");
                self.issued.push(id);
            }
            Err(IssueError::NothingExpected) | Err(IssueError::Full) => {
                assert!(self.node.poll_publish().is_none(), "published for nobody")
            }
        }
        self.drain();
    }
}

fn opts(rooms: u8, timeout_ms: Option<u16>) -> BroadcastOptions {
    let mut flags = Flags::default();
    if let Some(ms) = timeout_ms {
        flags.set("timeout", Value::from(ms));
    }
    BroadcastOptions {
        rooms: (0..rooms % 3)
            .map(|i| ROOMS[usize::from(rooms / 3 + i) % ROOMS.len()].to_owned())
            .collect(),
        except: if rooms & 4 != 0 {
            vec!["x".into()]
        } else {
            vec![]
        },
        flags: Some(flags),
    }
}

fuzz_target!(|input: Input| {
    let mode = match input.mode % 3 {
        0 => SubscriptionMode::Static,
        1 => SubscriptionMode::Dynamic,
        _ => SubscriptionMode::DynamicPrivate,
    };
    let mut config = NodeConfig::new(Nsp::ROOT, "me");
    config.requests_timeout = Duration::from_millis(u64::from(input.timeout_ms));
    config.max_pending_requests = usize::from(input.max_pending % 8) + 1;
    let mut h = Harness {
        node: ShardedNode::new(config, mode, [9; 32]),
        now: Instant::now(),
        issued: Vec::new(),
        open: BTreeSet::new(),
        completed: BTreeSet::new(),
        asked: Vec::new(),
        answered: BTreeMap::new(),
        malformed: 0,
        rooms: BTreeSet::new(),
    };
    for op in input.ops.into_iter().take(256) {
        match op {
            Op::Raw {
                channel,
                other,
                payload,
            } => {
                let channel = other
                    .unwrap_or_else(|| CHANNELS[usize::from(channel) % CHANNELS.len()].to_owned());
                h.handle(NodeInput::Message { channel, payload });
            }
            Op::Message {
                kind,
                nth,
                id,
                from,
                count,
                channel,
            } => {
                let request_id = h
                    .issued
                    .get(usize::from(nth))
                    .cloned()
                    .unwrap_or_else(|| format!("unknown{nth}"));
                let q = id.map_or(String::new(), |i| format!(r#""requestId":"q{i}","#));
                let o = r#""opts":{"rooms":["room1"],"except":[],"flags":{"timeout":50}}"#;
                let data = match kind % 13 {
                    0 => format!(r#"{{"packet":{{"type":2,"data":["ev",{count}]}},{q}{o}}}"#),
                    1 => format!(r#"{{{o},"rooms":["r"]}}"#),
                    2 => format!(r#"{{{o},"rooms":["r"]}}"#),
                    3 => format!(r#"{{{o},"close":true}}"#),
                    4 => format!(r#"{{{o},"requestId":"q{count}"}}"#),
                    5 => format!(
                        r#"{{"requestId":"{request_id}","sockets":[{}]}}"#,
                        (0..count % 3)
                            .map(|i| format!(
                                r#"{{"id":"s{i}","handshake":{{}},"rooms":[],"data":null}}"#
                            ))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    6 => format!(r#"{{{q}"packet":["ev",{count}]}}"#),
                    7 => format!(r#"{{"requestId":"{request_id}","packet":{count}}}"#),
                    8 => format!(
                        r#"{{"requestId":"{request_id}","clientCount":{}}}"#,
                        count % 4
                    ),
                    9 => format!(r#"{{"requestId":"{request_id}","packet":{count}}}"#),
                    10 => format!(r#"{{"requestId":"{request_id}"}}"#),
                    _ => "null".to_owned(),
                };
                let kind = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 13][usize::from(kind % 13)];
                let uid = ["other", "me", "emitter", "third"][usize::from(from % 4)];
                let nsp = if from & 4 != 0 { "/admin" } else { "/" };
                let payload =
                    format!(r#"{{"type":{kind},"data":{data},"uid":"{uid}","nsp":"{nsp}"}}"#);
                h.handle(NodeInput::Message {
                    channel: CHANNELS[usize::from(channel) % 3].to_owned(),
                    payload: payload.into_bytes(),
                });
            }
            Op::FetchSockets { others, timeout_ms } => {
                let others = usize::from(others % 4);
                let r = h
                    .node
                    .fetch_sockets(h.now, &opts(others as u8, timeout_ms), others);
                h.issued(r, others);
            }
            Op::ServerSideEmit { ack, others } => {
                let others = usize::from(others % 4);
                let r = h
                    .node
                    .server_side_emit(h.now, vec![Value::from("ev")], ack, others);
                match r {
                    Ok(None) => {
                        assert!(!ack);
                        h.drain();
                    }
                    Ok(Some(id)) => h.issued(Ok(id), others),
                    Err(e) => h.issued(Err(e), others),
                }
            }
            Op::Broadcast { rooms, binary } => {
                let packet = if binary {
                    encode_event(&Nsp::ROOT, "ev", &bytes::Bytes::from_static(b"b"), None)
                } else {
                    encode_event(&Nsp::ROOT, "ev", &1, None)
                };
                let packet = packet.expect("an event encodes");
                h.node
                    .broadcast(&packet, &opts(rooms, None))
                    .expect("our own event crosses the bridge");
                h.drain();
            }
            Op::BroadcastWithAck { others, timeout_ms } => {
                let others = usize::from(others % 4);
                let o = opts(others as u8, timeout_ms);
                let packet = encode_event(&Nsp::ROOT, "ev", &1, Some(3)).expect("an event encodes");
                let r = h.node.broadcast_with_ack(h.now, &packet, &o, others);
                let r = r.map_err(|e| match e {
                    AckBroadcastError::Issue(e) => e,
                    AckBroadcastError::Packet(e) => panic!("our own event refused: {e}"),
                });
                h.issued(r, others);
            }
            Op::Join { close } => {
                h.node.add_sockets(&opts(1, None), &["r".to_owned()]);
                h.node.del_sockets(&opts(2, None), &["r".to_owned()]);
                h.node.disconnect_sockets(&opts(0, None), close);
                h.drain();
            }
            Op::RoomCreated { room, private } => {
                let room = ROOMS[usize::from(room) % ROOMS.len()];
                match h.node.room_created(room, private) {
                    Some(channel) => {
                        assert_ne!(mode, SubscriptionMode::Static);
                        assert_eq!(channel, format!("socket.io#/#{room}#"));
                        assert!(h.rooms.insert(room.to_owned()), "subscribed twice");
                    }
                    None => assert!(
                        mode == SubscriptionMode::Static
                            || (mode == SubscriptionMode::Dynamic && private)
                            || h.rooms.contains(room)
                    ),
                }
            }
            Op::RoomDeleted { room } => {
                let room = ROOMS[usize::from(room) % ROOMS.len()];
                let was = h.rooms.remove(room);
                assert_eq!(h.node.room_deleted(room).is_some(), was);
            }
            Op::Answer { nth, how } => {
                let Some(id) = h.asked.get(usize::from(nth)).cloned() else {
                    continue;
                };
                let ok = match how % 4 {
                    0 => h.node.answer_fetch(&id, vec![]),
                    1 => h.node.answer_server_side_emit(&id, Value::Nil),
                    2 => h.node.answer_broadcast_client_count(&id, 1),
                    _ => h.node.answer_broadcast_ack(&id, Value::from(1)),
                };
                let published = h.node.poll_publish();
                assert_eq!(
                    ok,
                    published.is_some(),
                    "an answer is published exactly when accepted"
                );
                if let Some(p) = published {
                    // Requesters in this harness: "other", "emitter", "third".
                    let to = p.channel.strip_prefix("socket.io#/#").unwrap_or("");
                    assert!(
                        ["other#", "emitter#", "third#"].contains(&to),
                        "answered on {}",
                        p.channel
                    );
                }
                assert!(h.node.poll_publish().is_none());
                if ok && how % 4 < 2 {
                    let n = h.answered.entry(id).or_default();
                    *n += 1;
                    assert_eq!(*n, 1, "answered twice");
                }
            }
            Op::Cancel { nth } => {
                if let Some(id) = h.issued.get(usize::from(nth)).cloned() {
                    let was_open = h.open.contains(&id);
                    assert_eq!(h.node.cancel(&id), was_open);
                    h.drain();
                }
            }
            Op::Advance { ms } => h.now += Duration::from_millis(u64::from(ms)),
            Op::Timeout => h.handle(NodeInput::Timeout),
        }
    }
    let subscribed: BTreeSet<String> = h
        .node
        .subscriptions()
        .channels
        .into_iter()
        .skip(2)
        .collect();
    let expected: BTreeSet<String> = h
        .rooms
        .iter()
        .map(|r| format!("socket.io#/#{r}#"))
        .collect();
    assert_eq!(subscribed, expected);
    h.now += Duration::from_secs(3_600);
    h.handle(NodeInput::Timeout);
    assert!(h.open.is_empty(), "requests never completed: {:?}", h.open);
    assert_eq!(h.node.pending_requests(), 0);
    assert_eq!(h.node.poll_timeout(), None);
    assert_eq!(h.completed.len(), h.issued.len());
});
