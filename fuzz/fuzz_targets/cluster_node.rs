//! The classic adapter node machine (`cluster::ClassicNode`) fed an arbitrary sequence of bus
//! messages (arbitrary bytes on the node's channels or any other, well-formed requests and
//! responses with chosen ids), commands, answers and clock steps.
//!
//! Invariants:
//! * nothing panics; after every `handle`, `poll_timeout` is not before `now` (due deadlines
//!   were handled; a zero `requests_timeout` may leave one at `now`);
//! * every request the node issued ends in exactly one `Completed`, and no other completes; a
//!   request issued with nobody to ask is refused (`NothingExpected`) and publishes nothing;
//! * an answer to a request the node was asked is published at most once (acknowledgements
//!   of a broadcast excepted), and only for a request it was asked;
//! * `malformed()` never decreases, and every publish goes to one of the namespace's channels;
//! * at the end, past every deadline, nothing is pending and no deadline is left.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sio_proto::cluster::{
    AckBroadcastError, BroadcastOptions, ClassicNode, IssueError, NodeConfig, NodeEvent, NodeInput,
    Value,
};
use sio_proto::payload::encode_event;
use sio_proto::socket::Nsp;

const CHANNELS: [&str; 6] = [
    "socket.io#/#",
    "socket.io#/#room1#",
    "socket.io-request#/#",
    "socket.io-response#/#",
    "socket.io-response#/#me#",
    "socket.io#/admin#",
];

#[derive(Debug, Arbitrary)]
enum Op {
    /// Arbitrary bytes on a known channel or an arbitrary one.
    Raw {
        channel: u8,
        other: Option<String>,
        payload: Vec<u8>,
    },
    /// A well-formed response to the `nth` request issued (or to an unknown id).
    Response {
        nth: u8,
        shape: u8,
        count: u8,
    },
    /// A well-formed request of `kind` with id `id` (or none), from `me` or another node.
    Request {
        kind: u8,
        id: Option<u8>,
        own: bool,
    },
    FetchSockets {
        others: u8,
    },
    AllRooms {
        others: u8,
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
    specific: bool,
    timeout_ms: u16,
    max_pending: u8,
    ops: Vec<Op>,
}

struct Harness {
    node: ClassicNode,
    now: Instant,
    issued: Vec<String>,
    open: BTreeSet<String>,
    completed: BTreeSet<String>,
    asked: Vec<String>,
    answered: BTreeMap<String, u32>,
    malformed: u64,
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
                | NodeEvent::SocketsRequested { request_id, .. }
                | NodeEvent::AllRoomsRequested { request_id }
                | NodeEvent::BroadcastWithAckRequested { request_id, .. } => {
                    self.answered.remove(&request_id);
                    self.asked.push(request_id)
                }
                NodeEvent::JoinRequested { request_id, .. }
                | NodeEvent::LeaveRequested { request_id, .. }
                | NodeEvent::DisconnectRequested { request_id, .. }
                | NodeEvent::ServerSideEmit { request_id, .. } => {
                    if let Some(id) = request_id {
                        self.answered.remove(&id);
                        self.asked.push(id);
                    }
                }
                NodeEvent::Broadcast { .. } => {}
            }
        }
        while let Some(publish) = self.node.poll_publish() {
            let ok = publish.channel.starts_with("socket.io#/#")
                || publish.channel == "socket.io-request#/#"
                || publish.channel.starts_with("socket.io-response#/#");
            assert!(ok, "published on {}", publish.channel);
        }
    }

    fn issued(&mut self, result: Result<String, IssueError>, others: usize) {
        match result {
            Ok(id) => {
                assert!(others > 0);
                assert!(self.open.insert(id.clone()), "an id reused");
                self.issued.push(id);
            }
            Err(IssueError::NothingExpected) => {
                assert!(self.node.poll_publish().is_none(), "published for nobody")
            }
            Err(IssueError::Full) => assert!(self.node.poll_publish().is_none()),
        }
        self.drain();
    }
}

fn opts(rooms: u8) -> BroadcastOptions {
    BroadcastOptions {
        rooms: (0..rooms % 3).map(|i| format!("room{i}")).collect(),
        except: if rooms & 4 != 0 {
            vec!["x".into()]
        } else {
            vec![]
        },
        flags: None,
    }
}

fuzz_target!(|input: Input| {
    let mut config = NodeConfig::new(Nsp::ROOT, "me");
    config.publish_on_specific_response_channel = input.specific;
    config.requests_timeout = Duration::from_millis(u64::from(input.timeout_ms));
    config.max_pending_requests = usize::from(input.max_pending % 8) + 1;
    let mut h = Harness {
        node: ClassicNode::new(config, [9; 32]),
        now: Instant::now(),
        issued: Vec::new(),
        open: BTreeSet::new(),
        completed: BTreeSet::new(),
        asked: Vec::new(),
        answered: BTreeMap::new(),
        malformed: 0,
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
            Op::Response { nth, shape, count } => {
                let id = h
                    .issued
                    .get(usize::from(nth))
                    .cloned()
                    .unwrap_or_else(|| format!("unknown{nth}"));
                let payload = match shape % 6 {
                    4 => format!(
                        r#"{{"type":8,"requestId":"{id}","clientCount":{}}}"#,
                        count % 4
                    ),
                    5 => format!(r#"{{"type":9,"requestId":"{id}","packet":{count}}}"#),
                    0 => format!(
                        r#"{{"requestId":"{id}","sockets":[{}]}}"#,
                        (0..count % 3)
                            .map(|i| format!(
                                r#"{{"id":"s{i}","handshake":{{}},"rooms":[],"data":null}}"#
                            ))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    1 => format!(r#"{{"requestId":"{id}","rooms":["r{count}"]}}"#),
                    2 => format!(r#"{{"type":6,"requestId":"{id}","data":{count}}}"#),
                    _ => format!(r#"{{"requestId":"{id}"}}"#),
                };
                let channel = if count & 1 == 0 {
                    "socket.io-response#/#"
                } else {
                    "socket.io-response#/#me#"
                };
                h.handle(NodeInput::Message {
                    channel: channel.to_owned(),
                    payload: payload.into_bytes(),
                });
            }
            Op::Request { kind, id, own } => {
                let uid = if own { "me" } else { "other" };
                let id = id.map_or(String::new(), |i| format!(r#","requestId":"q{i}""#));
                let body = match kind % 9 {
                    0 => r#""type":0,"rooms":["a"]"#.to_owned(),
                    1 => r#""type":1"#.to_owned(),
                    2 => r#""type":2,"sid":"s","room":"r""#.to_owned(),
                    3 => r#""type":3,"opts":{"rooms":[],"except":[]},"rooms":["r"]"#.to_owned(),
                    4 => r#""type":4,"sid":"s","close":true"#.to_owned(),
                    5 => r#""type":5,"opts":{"rooms":["a"],"except":[]}"#.to_owned(),
                    6 => r#""type":6,"data":["ev",1]"#.to_owned(),
                    7 => r#""type":7,"packet":{"type":2,"data":["ev"],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{"timeout":50}}"#.to_owned(),
                    _ => r#""type":2,"opts":{"rooms":[],"except":[]},"rooms":["r"]"#.to_owned(),
                };
                let payload = format!(r#"{{"uid":"{uid}"{id},{body}}}"#);
                h.handle(NodeInput::Message {
                    channel: "socket.io-request#/#".to_owned(),
                    payload: payload.into_bytes(),
                });
            }
            Op::FetchSockets { others } => {
                let others = usize::from(others % 4);
                let r = h.node.fetch_sockets(h.now, &opts(others as u8), others);
                h.issued(r, others);
            }
            Op::AllRooms { others } => {
                let others = usize::from(others % 4);
                let r = h.node.all_rooms(h.now, others);
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
                    .broadcast(&packet, &opts(rooms))
                    .expect("our own event crosses the bridge");
                h.drain();
            }
            Op::BroadcastWithAck { others, timeout_ms } => {
                let others = usize::from(others % 4);
                let mut o = opts(others as u8);
                if let Some(ms) = timeout_ms {
                    let mut flags = sio_proto::cluster::Flags::default();
                    flags.set("timeout", Value::from(ms));
                    o.flags = Some(flags);
                }
                let packet = encode_event(&Nsp::ROOT, "ev", &1, Some(3)).expect("an event encodes");
                let r = h.node.broadcast_with_ack(h.now, &packet, &o, others);
                let r = r.map_err(|e| match e {
                    AckBroadcastError::Issue(e) => e,
                    AckBroadcastError::Packet(e) => panic!("our own event refused: {e}"),
                });
                h.issued(r, others);
            }
            Op::Join { close } => {
                h.node.add_sockets(&opts(1), &["r".to_owned()]);
                h.node.disconnect_sockets(&opts(0), close);
                h.drain();
            }
            Op::Answer { nth, how } => {
                let Some(id) = h.asked.get(usize::from(nth)).cloned() else {
                    continue;
                };
                let ok = match how % 7 {
                    0 => h.node.answer_fetch(&id, vec![]),
                    1 => h.node.answer_sockets(&id, vec!["s".into()]),
                    2 => h.node.answer_all_rooms(&id, vec!["r".into()]),
                    3 => h.node.answer_done(&id),
                    4 => h.node.answer_server_side_emit(&id, Value::Nil),
                    5 => h.node.answer_broadcast_client_count(&id, 1),
                    _ => h.node.answer_broadcast_ack(&id, Value::from(1)),
                };
                let published = h.node.poll_publish().is_some();
                assert_eq!(
                    ok, published,
                    "an answer is published exactly when accepted"
                );
                assert!(h.node.poll_publish().is_none());
                if ok && how % 7 < 5 {
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
    h.now += Duration::from_secs(3_600);
    h.handle(NodeInput::Timeout);
    assert!(h.open.is_empty(), "requests never completed: {:?}", h.open);
    assert_eq!(h.node.pending_requests(), 0);
    assert_eq!(h.node.poll_timeout(), None);
    assert_eq!(h.completed.len(), h.issued.len());
});
