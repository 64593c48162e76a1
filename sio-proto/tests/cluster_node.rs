//! The classic adapter node machine (`cluster::node`) and the packet bridge (`cluster::bridge`):
//! nodes wired through an in-memory pub/sub bus, the messages the npm adapter and emitter
//! published (recorded vectors) fed in as input, and arbitrary input.

// The crate bans `Instant::now` (time is an argument); a test needs one origin for its clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use serde::Serialize;
use sio_proto::cluster::classic::{Broadcast, Target};
use sio_proto::cluster::{
    bridge, BroadcastOptions, ClassicNode, FetchedSocket, Flags, IssueError, Missing, NodeConfig,
    NodeEvent, NodeInput, Outcome, Publish, RequestResult, Subscriptions, Value,
};
use sio_proto::payload::encode_event;
use sio_proto::socket::{EncodedPacket, Nsp, Packet as SocketPacket};

// ----- recorded vectors -----

struct Vector {
    family: String,
    step: String,
    channel: String,
    bytes: Vec<u8>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("fixtures/cluster/vectors.json");
    let json: serde_json::Value = serde_json::from_str(text).unwrap();
    json["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            family: v["family"].as_str().unwrap().to_owned(),
            step: v["step"].as_str().unwrap().to_owned(),
            channel: v["channel"].as_str().unwrap().to_owned(),
            bytes: hex(v["hex"].as_str().unwrap()),
        })
        .collect()
}

fn step(step: &str) -> Vec<Vector> {
    let found: Vec<_> = vectors()
        .into_iter()
        .filter(|v| v.family == "classic" && v.step == step)
        .collect();
    assert!(!found.is_empty(), "no vector for {step}");
    found
}

// ----- an in-memory bus -----

/// Redis-style glob, enough for the adapter's pattern (`*` and literals).
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

struct Member {
    node: ClassicNode,
    subs: Subscriptions,
    events: Vec<NodeEvent>,
    /// Whether the harness answers the requests this node is asked.
    answers: bool,
}

struct Cluster {
    members: Vec<Member>,
    now: Instant,
    /// Everything published, by whom.
    log: Vec<(usize, Publish)>,
}

fn uid(i: usize) -> String {
    format!("node{i}")
}

fn root() -> Nsp {
    Nsp::ROOT
}

fn local_socket(i: usize) -> FetchedSocket {
    FetchedSocket {
        id: format!("sock-{i}"),
        handshake: Value::Map(vec![(Value::from("address"), Value::from("127.0.0.1"))]),
        rooms: vec![format!("sock-{i}"), "room1".to_owned()],
        data: Value::from(i as u64),
    }
}

impl Cluster {
    fn new(n: usize) -> Self {
        Self::with(n, |_| {})
    }

    fn with(n: usize, configure: impl Fn(&mut NodeConfig)) -> Self {
        let members = (0..n)
            .map(|i| {
                let mut config = NodeConfig::new(root(), uid(i));
                configure(&mut config);
                let node = ClassicNode::new(config, [i as u8 + 1; 32]);
                Member {
                    subs: node.subscriptions(),
                    node,
                    events: Vec::new(),
                    answers: true,
                }
            })
            .collect();
        Cluster {
            members,
            now: Instant::now(),
            log: Vec::new(),
        }
    }

    fn numsub(&self, channel: &str) -> usize {
        self.members
            .iter()
            .filter(|m| m.subs.channels.iter().any(|c| c == channel))
            .count()
    }

    /// What Node computes for `serverCount() - 1`.
    fn others(&self) -> usize {
        self.numsub(self.members[0].node.request_channel()) - 1
    }

    /// Delivers every publish to every subscriber (the publisher included, as Redis does)
    /// and lets the answering members answer, until nothing moves.
    fn run(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.members.len() {
                while let Some(publish) = self.members[i].node.poll_publish() {
                    moved = true;
                    self.log.push((i, publish.clone()));
                    for member in &mut self.members {
                        let hit = member.subs.channels.contains(&publish.channel)
                            || glob(&member.subs.pattern, &publish.channel);
                        if hit {
                            member.node.handle(
                                self.now,
                                NodeInput::Message {
                                    channel: publish.channel.clone(),
                                    payload: publish.payload.clone(),
                                },
                            );
                        }
                    }
                }
            }
            for (i, member) in self.members.iter_mut().enumerate() {
                while let Some(event) = member.node.poll_event() {
                    moved = true;
                    if member.answers {
                        answer(i, &mut member.node, &event);
                    }
                    member.events.push(event);
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn advance_to(&mut self, at: Instant) {
        self.now = at;
        for member in &mut self.members {
            member.node.handle(at, NodeInput::Timeout);
        }
        self.run();
    }

    fn events(&mut self, i: usize) -> Vec<NodeEvent> {
        std::mem::take(&mut self.members[i].events)
    }

    fn published_by(&self, i: usize) -> Vec<&Publish> {
        self.log
            .iter()
            .filter(|(by, _)| *by == i)
            .map(|(_, p)| p)
            .collect()
    }
}

/// What a local server would answer.
fn answer(i: usize, node: &mut ClassicNode, event: &NodeEvent) {
    match event {
        NodeEvent::FetchRequested { request_id, .. } => {
            assert!(node.answer_fetch(request_id, vec![local_socket(i)]));
        }
        NodeEvent::AllRoomsRequested { request_id } => {
            let rooms = vec![format!("room-{i}"), "shared".to_owned()];
            assert!(node.answer_all_rooms(request_id, rooms));
        }
        NodeEvent::ServerSideEmit {
            request_id: Some(id),
            ..
        } => {
            assert!(node.answer_server_side_emit(id, Value::from(i as u64)));
        }
        NodeEvent::BroadcastWithAckRequested { request_id, .. } => {
            // Node `i` reached `i` clients, and each acknowledges.
            assert!(node.answer_broadcast_client_count(request_id, i as u64));
            for _ in 0..i {
                assert!(node.answer_broadcast_ack(request_id, Value::from(i as u64)));
            }
        }
        _ => {}
    }
}

fn text_event(nsp: &Nsp, name: &str, args: &impl Serialize) -> EncodedPacket {
    encode_event(nsp, name, args, None).unwrap()
}

fn opts(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms.iter().map(|s| s.to_string()).collect(),
        except: except.iter().map(|s| s.to_string()).collect(),
        flags: Some(Flags::default()),
    }
}

fn broadcasts(events: &[NodeEvent]) -> Vec<(EncodedPacket, BroadcastOptions)> {
    events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::Broadcast { packet, opts } => Some((packet.clone(), opts.clone())),
            _ => None,
        })
        .collect()
}

fn completed(events: Vec<NodeEvent>) -> (String, RequestResult, Outcome) {
    let mut done: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            NodeEvent::Completed {
                request_id,
                result,
                outcome,
            } => Some((request_id, result, outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(done.len(), 1, "exactly one completion");
    done.remove(0)
}

// ----- broadcasts -----

#[test]
fn broadcasts_to_all_room_and_except_reach_every_other_node_once() {
    let mut c = Cluster::new(3);
    let packet = text_event(&root(), "hello", &(1, "two"));
    for (o, channel) in [
        (opts(&[], &[]), "socket.io#/#"),
        (opts(&["room1"], &[]), "socket.io#/#room1#"),
        (opts(&["room1", "room2"], &["room3"]), "socket.io#/#"),
        (opts(&[], &["room3"]), "socket.io#/#"),
    ] {
        c.log.clear();
        c.members[0].node.broadcast(&packet, &o).unwrap();
        c.run();
        let published = c.published_by(0);
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].channel, channel);
        assert!(c.events(0).is_empty(), "the sender never hears itself");
        for i in [1, 2] {
            let got = broadcasts(&c.events(i));
            assert_eq!(got, vec![(packet.clone(), o.clone())], "node {i}");
        }
    }
    assert_eq!(
        &packet.text[..],
        br#"42["hello",1,"two"]"#,
        "what the other nodes hand their sockets is what ours send"
    );
    assert!(c.members.iter().all(|m| m.node.malformed() == 0));
}

#[test]
fn a_local_broadcast_and_local_operations_are_not_published() {
    let mut c = Cluster::new(2);
    let mut local = opts(&[], &[]);
    local
        .flags
        .get_or_insert_with(Flags::default)
        .set("local", Value::from(true));
    let node = &mut c.members[0].node;
    node.broadcast(&text_event(&root(), "x", &()), &local)
        .unwrap();
    node.add_sockets(&local, &["r".to_owned()]);
    node.del_sockets(&local, &["r".to_owned()]);
    node.disconnect_sockets(&local, true);
    assert_eq!(
        node.fetch_sockets(c.now, &local, 1),
        Err(IssueError::NothingExpected)
    );
    assert_eq!(node.poll_publish(), None);
}

#[test]
fn a_broadcast_that_is_not_an_event_is_refused() {
    let mut c = Cluster::new(2);
    let connect = SocketPacket::connect(root(), None).encode();
    assert!(c.members[0]
        .node
        .broadcast(&connect, &opts(&[], &[]))
        .is_err());
    assert_eq!(c.members[0].node.poll_publish(), None);
}

#[test]
fn messages_from_our_own_uid_and_for_other_namespaces_are_ignored() {
    let mut c = Cluster::new(1);
    let node = &mut c.members[0].node;
    let packet = bridge::from_encoded(&text_event(&root(), "x", &())).unwrap();
    let own = Broadcast {
        uid: uid(0),
        packet: packet.clone(),
        opts: opts(&[], &[]),
    };
    node.handle(
        c.now,
        NodeInput::Message {
            channel: "socket.io#/#".into(),
            payload: own.encode(),
        },
    );
    let mut other_nsp = packet.clone();
    other_nsp.nsp = Some("/admin".into());
    let foreign = Broadcast {
        uid: "other".into(),
        packet: other_nsp,
        opts: opts(&[], &[]),
    };
    node.handle(
        c.now,
        NodeInput::Message {
            channel: "socket.io#/#".into(),
            payload: foreign.encode(),
        },
    );
    // An absent namespace is `/`, as Node takes it.
    let mut no_nsp = packet;
    no_nsp.nsp = None;
    let rootless = Broadcast {
        uid: "other".into(),
        packet: no_nsp,
        opts: opts(&[], &[]),
    };
    node.handle(
        c.now,
        NodeInput::Message {
            channel: "socket.io#/#".into(),
            payload: rootless.encode(),
        },
    );
    let events: Vec<_> = std::iter::from_fn(|| node.poll_event()).collect();
    assert_eq!(broadcasts(&events).len(), 1, "{events:?}");
    assert_eq!(node.malformed(), 0);
    // Our own requests coming back are ignored too.
    node.server_side_emit(c.now, vec![Value::from("ev")], false, 1)
        .unwrap();
    let publish = node.poll_publish().unwrap();
    node.handle(
        c.now,
        NodeInput::Message {
            channel: publish.channel,
            payload: publish.payload,
        },
    );
    assert_eq!(node.poll_event(), None);
}

// ----- requests -----

#[test]
fn fetch_sockets_gathers_every_other_node() {
    let mut c = Cluster::new(3);
    let others = c.others();
    assert_eq!(others, 2);
    let id = c.members[0]
        .node
        .fetch_sockets(c.now, &opts(&["room1"], &["room9"]), others)
        .unwrap();
    c.run();
    let (done, result, outcome) = completed(c.events(0));
    assert_eq!(done, id);
    assert_eq!(outcome, Outcome::Complete);
    let RequestResult::Fetched(mut sockets) = result else {
        panic!("not a fetch result: {result:?}")
    };
    sockets.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(sockets, vec![local_socket(1), local_socket(2)]);
    for i in [1, 2] {
        let asked = c.events(i);
        assert!(
            matches!(&asked[..], [NodeEvent::FetchRequested { opts, .. }]
                if opts.rooms == ["room1"] && opts.except == ["room9"] && opts.flags.is_none()),
            "{asked:?}"
        );
    }
    assert_eq!(c.members[0].node.pending_requests(), 0);
    assert_eq!(c.members[0].node.poll_timeout(), None);
}

#[test]
fn a_fetch_times_out_when_a_node_never_answers() {
    let mut c = Cluster::new(3);
    c.members[2].answers = false;
    let t0 = c.now;
    let others = c.others();
    let id = c.members[0]
        .node
        .fetch_sockets(t0, &opts(&[], &[]), others)
        .unwrap();
    c.run();
    assert!(c.events(0).is_empty(), "still waiting for node 2");
    let deadline = t0 + Duration::from_secs(5);
    assert_eq!(c.members[0].node.poll_timeout(), Some(deadline));
    c.advance_to(deadline - Duration::from_millis(1));
    assert!(c.events(0).is_empty());
    c.advance_to(deadline);
    let (done, result, outcome) = completed(c.events(0));
    assert_eq!(done, id);
    assert_eq!(result, RequestResult::Fetched(vec![local_socket(1)]));
    assert_eq!(outcome, Outcome::TimedOut(Missing::Count(1)));
    // Node 2's request expired with the same timeout: a late answer is not published.
    let asked = c.events(2);
    let Some(NodeEvent::FetchRequested { request_id, .. }) = asked.first() else {
        panic!("{asked:?}")
    };
    assert!(!c.members[2].node.answer_fetch(request_id, vec![]));
    assert!(c.members.iter().all(|m| m.node.poll_timeout().is_none()));
}

#[test]
fn a_late_answer_after_the_timeout_is_ignored() {
    let t0 = Instant::now();
    let mut node = ClassicNode::new(NodeConfig::new(root(), "a"), [1; 32]);
    let id = node.fetch_sockets(t0, &opts(&[], &[]), 1).unwrap();
    assert!(node.poll_publish().is_some());
    let deadline = t0 + Duration::from_secs(5);
    node.handle(deadline, NodeInput::Timeout);
    let (done, result, outcome) = completed(std::iter::from_fn(|| node.poll_event()).collect());
    assert_eq!(done, id);
    assert_eq!(result, RequestResult::Fetched(vec![]));
    assert_eq!(outcome, Outcome::TimedOut(Missing::Count(1)));
    // A slower node answers afterwards: not ours any more, not malformed either.
    node.handle(
        deadline + Duration::from_millis(1),
        NodeInput::Message {
            channel: "socket.io-response#/#".into(),
            payload: format!(r#"{{"requestId":"{id}","sockets":[]}}"#).into_bytes(),
        },
    );
    assert_eq!(node.poll_event(), None);
    assert_eq!(node.malformed(), 0);
}

#[test]
fn all_rooms_unites_the_answers() {
    let mut c = Cluster::new(3);
    let others = c.others();
    c.members[0].node.all_rooms(c.now, others).unwrap();
    c.run();
    let (_, result, outcome) = completed(c.events(0));
    assert_eq!(outcome, Outcome::Complete);
    let RequestResult::Rooms(mut rooms) = result else {
        panic!("{result:?}")
    };
    rooms.sort();
    assert_eq!(rooms, ["room-1", "room-2", "shared"]);
}

#[test]
fn server_side_emit_without_ack_reaches_the_others() {
    let mut c = Cluster::new(3);
    let data = vec![Value::from("ping"), Value::from(1)];
    let id = c.members[0]
        .node
        .server_side_emit(c.now, data.clone(), false, 2)
        .unwrap();
    assert_eq!(id, None);
    c.run();
    for i in [1, 2] {
        assert_eq!(
            c.events(i),
            vec![NodeEvent::ServerSideEmit {
                data: data.clone(),
                request_id: None
            }]
        );
    }
    assert!(c.events(0).is_empty());
    assert_eq!(c.log.len(), 1, "no answers");
}

#[test]
fn server_side_emit_with_ack_waits_for_every_other_node() {
    // Answers to a server-side emit go to the common channel even with the specific one on.
    let mut c = Cluster::with(3, |cfg| cfg.publish_on_specific_response_channel = true);
    let others = c.others();
    let id = c.members[0]
        .node
        .server_side_emit(c.now, vec![Value::from("pong")], true, others)
        .unwrap()
        .unwrap();
    c.run();
    let (done, result, outcome) = completed(c.events(0));
    assert_eq!(done, id);
    assert_eq!(outcome, Outcome::Complete);
    let RequestResult::ServerSideEmit(mut answers) = result else {
        panic!("{result:?}")
    };
    answers.sort_by_key(|v| v.as_u64());
    assert_eq!(answers, vec![Value::from(1), Value::from(2)]);
    let answers: Vec<_> = c.log.iter().filter(|(by, _)| *by != 0).collect();
    assert_eq!(answers.len(), 2);
    assert!(answers
        .iter()
        .all(|(_, p)| p.channel == "socket.io-response#/#"));
}

#[test]
fn with_no_other_node_nothing_is_published_and_nothing_awaited() {
    let mut c = Cluster::new(1);
    let others = c.others();
    assert_eq!(others, 0);
    let node = &mut c.members[0].node;
    assert_eq!(
        node.fetch_sockets(c.now, &opts(&[], &[]), others),
        Err(IssueError::NothingExpected)
    );
    assert_eq!(
        node.all_rooms(c.now, others),
        Err(IssueError::NothingExpected)
    );
    assert_eq!(
        node.server_side_emit(c.now, vec![Value::from("x")], true, others),
        Err(IssueError::NothingExpected)
    );
    assert_eq!(node.poll_publish(), None);
    assert_eq!(node.poll_timeout(), None);
    assert_eq!(node.pending_requests(), 0);
}

#[test]
fn pending_requests_are_bounded() {
    let now = Instant::now();
    let mut config = NodeConfig::new(root(), "a");
    config.max_pending_requests = 2;
    let mut node = ClassicNode::new(config, [1; 32]);
    node.all_rooms(now, 1).unwrap();
    node.all_rooms(now, 1).unwrap();
    assert_eq!(node.all_rooms(now, 1), Err(IssueError::Full));
    // Requests asked of the node beyond the bound are dropped and counted.
    for id in ["r1", "r2", "r3"] {
        node.handle(
            now,
            NodeInput::Message {
                channel: "socket.io-request#/#".into(),
                payload: format!(r#"{{"uid":"x","requestId":"{id}","type":1}}"#).into_bytes(),
            },
        );
    }
    let asked = std::iter::from_fn(|| node.poll_event()).count();
    assert_eq!((asked, node.dropped()), (2, 1));
    assert_eq!(node.malformed(), 0);
}

fn with_timeout(ms: u64) -> BroadcastOptions {
    let mut o = opts(&[], &[]);
    o.flags
        .get_or_insert_with(Flags::default)
        .set("timeout", Value::from(ms));
    o
}

#[test]
fn a_broadcast_with_acks_completes_when_every_ack_arrived() {
    let mut c = Cluster::new(3);
    let others = c.others();
    let packet = encode_event(&root(), "ack-me", &"x", Some(7)).unwrap();
    let id = c.members[0]
        .node
        .broadcast_with_ack(c.now, &packet, &with_timeout(1000), others)
        .unwrap();
    c.run();
    let (done, result, outcome) = completed(c.events(0));
    assert_eq!(done, id);
    assert_eq!(outcome, Outcome::Complete, "before the deadline");
    let RequestResult::BroadcastAcks(mut acks) = result else {
        panic!("{result:?}")
    };
    acks.sort_by_key(|v| v.as_u64());
    assert_eq!(acks, vec![Value::from(1), Value::from(2), Value::from(2)]);
    for i in [1, 2] {
        let asked = c.events(i);
        let [NodeEvent::BroadcastWithAckRequested { packet, .. }] = &asked[..] else {
            panic!("{asked:?}")
        };
        assert_eq!(
            &packet.text[..],
            br#"42["ack-me","x"]"#,
            "without our ack id"
        );
    }
    assert_eq!(c.members[0].node.poll_timeout(), None);
}

#[test]
fn a_broadcast_with_acks_times_out_on_a_silent_server() {
    let mut c = Cluster::new(3);
    c.members[2].answers = false;
    let t0 = c.now;
    let packet = text_event(&root(), "ack-me", &());
    c.members[0]
        .node
        .broadcast_with_ack(t0, &packet, &with_timeout(1000), 2)
        .unwrap();
    c.run();
    assert!(c.events(0).is_empty());
    c.advance_to(t0 + Duration::from_millis(1000));
    let (_, result, outcome) = completed(c.events(0));
    assert_eq!(result, RequestResult::BroadcastAcks(vec![Value::from(1)]));
    assert_eq!(outcome, Outcome::TimedOut(Missing::Count(1)));
    assert_eq!(
        c.members[0]
            .node
            .broadcast_with_ack(t0, &packet, &with_timeout(1000), 0),
        Err(IssueError::NothingExpected.into())
    );
}

#[test]
fn a_broadcast_with_acks_speaks_nodes_bytes_both_ways() {
    let now = Instant::now();
    let recorded = step("broadcast_with_ack");
    let mut config = NodeConfig::new(root(), "Ld1XSW");
    config.publish_on_specific_response_channel = true;
    let mut node = ClassicNode::new(config, [5; 32]);
    let packet = text_event(&root(), "ack-me", &"x");
    let id = node
        .broadcast_with_ack(now, &packet, &with_timeout(1000), 1)
        .unwrap();
    let p = one_publish(&mut node);
    assert_eq!(p.channel, recorded[0].channel);
    // The same request as Node's, but for its id.
    let mut request = sio_proto::cluster::classic::Request::decode(&p.payload).unwrap();
    assert_eq!(request.request_id.as_deref(), Some(id.as_str()));
    request.request_id = Some("ESRa2M".into());
    assert_eq!(request.encode().1, recorded[0].bytes);
    // Node's answers (client count 2, two acks), with our id.
    for v in &recorded[1..] {
        let mut response = sio_proto::cluster::classic::Response::decode(&v.bytes).unwrap();
        response.request_id = id.clone();
        node.handle(
            now,
            NodeInput::Message {
                channel: v.channel.clone(),
                payload: response.encode().1,
            },
        );
    }
    let (_, result, outcome) = completed(std::iter::from_fn(|| node.poll_event()).collect());
    let got = Value::Map(vec![(Value::from("got"), Value::from("x"))]);
    assert_eq!(result, RequestResult::BroadcastAcks(vec![got.clone(), got]));
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(node.malformed(), 0);
}

#[test]
fn remote_join_leave_and_disconnect_reach_the_others_unanswered() {
    let mut c = Cluster::new(2);
    let o = opts(&["room1"], &["room2"]);
    let rooms = vec!["room4".to_owned()];
    c.members[0].node.add_sockets(&o, &rooms);
    c.members[0].node.del_sockets(&o, &rooms);
    c.members[0].node.disconnect_sockets(&o, true);
    c.run();
    let bare = BroadcastOptions {
        flags: None,
        ..o.clone()
    };
    assert_eq!(
        c.events(1),
        vec![
            NodeEvent::JoinRequested {
                target: Target::Sockets(bare.clone()),
                rooms: rooms.clone(),
                request_id: None
            },
            NodeEvent::LeaveRequested {
                target: Target::Sockets(bare.clone()),
                rooms,
                request_id: None
            },
            NodeEvent::DisconnectRequested {
                target: Target::Sockets(bare),
                close: true,
                request_id: None
            },
        ]
    );
    assert!(c.events(0).is_empty());
    assert_eq!(c.log.len(), 3);
}

// ----- untrusted input -----

#[test]
fn malformed_messages_are_counted_and_dropped() {
    let mut c = Cluster::new(2);
    c.members[1].answers = false;
    let node = &mut c.members[0].node;
    let id = node.fetch_sockets(c.now, &opts(&[], &[]), 1).unwrap();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("socket.io#/#", b"\xc1".to_vec()),
        ("socket.io#/#room1#", b"\x93\xa1x".to_vec()),
        ("socket.io-request#/#", b"{\"type\":".to_vec()),
        ("socket.io-request#/#", b"{\"type\":42}".to_vec()),
        ("socket.io-response#/#", b"[]".to_vec()),
        ("socket.io-response#/#node0#", b"{}".to_vec()),
        // A fetch answered with rooms does not fit the request.
        (
            "socket.io-response#/#",
            format!(r#"{{"requestId":"{id}","rooms":["a"]}}"#).into_bytes(),
        ),
        // A broadcast whose packet is a CONNECT.
        (
            "socket.io#/#",
            Broadcast {
                uid: "x".into(),
                packet: sio_proto::cluster::Packet {
                    kind: 0,
                    data: Value::Array(vec![]),
                    nsp: None,
                    id: None,
                },
                opts: opts(&[], &[]),
            }
            .encode(),
        ),
    ];
    let count = bad.len() as u64;
    for (channel, payload) in bad {
        node.handle(
            c.now,
            NodeInput::Message {
                channel: channel.into(),
                payload,
            },
        );
    }
    assert_eq!(node.malformed(), count);
    assert_eq!(node.poll_event(), None);
    assert_eq!(node.pending_requests(), 1, "still waiting");
    // A channel that is not the node's is not its business.
    node.handle(
        c.now,
        NodeInput::Message {
            channel: "socket.io#/admin#".into(),
            payload: b"\xc1".to_vec(),
        },
    );
    assert_eq!(node.malformed(), count);
}

// ----- the recorded npm messages as input -----

fn feed(node: &mut ClassicNode, now: Instant, v: &Vector) -> Vec<NodeEvent> {
    node.handle(
        now,
        NodeInput::Message {
            channel: v.channel.clone(),
            payload: v.bytes.clone(),
        },
    );
    std::iter::from_fn(|| node.poll_event()).collect()
}

fn node_for(nsp: &str, specific: bool) -> ClassicNode {
    let mut config = NodeConfig::new(Nsp::new(nsp).unwrap(), "rustyy");
    config.publish_on_specific_response_channel = specific;
    ClassicNode::new(config, [7; 32])
}

fn one_publish(node: &mut ClassicNode) -> Publish {
    let p = node.poll_publish().expect("a publish");
    assert_eq!(node.poll_publish(), None);
    p
}

#[test]
fn recorded_requests_become_events_and_our_answers_are_nodes_bytes() {
    let now = Instant::now();
    // The recorder ran the classic family with `publishOnSpecificResponseChannel`.
    let mut node = node_for("/", true);

    let all_rooms = step("all_rooms");
    let events = feed(&mut node, now, &all_rooms[0]);
    let [NodeEvent::AllRoomsRequested { request_id }] = &events[..] else {
        panic!("{events:?}")
    };
    assert!(node.answer_all_rooms(
        request_id,
        vec![
            "2pEW0NzRoHtF_UUnAAAB".into(),
            "room1".into(),
            "QpMbiZr3Lv48_iz4AAAC".into()
        ]
    ));
    let p = one_publish(&mut node);
    assert_eq!(
        (p.channel.as_str(), &p.payload),
        (all_rooms[1].channel.as_str(), &all_rooms[1].bytes)
    );
    assert!(!node.answer_all_rooms(request_id, vec![]), "answered once");

    let fetch = step("fetch_sockets");
    let events = feed(&mut node, now, &fetch[0]);
    let [NodeEvent::FetchRequested { request_id, opts }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (opts.rooms.as_slice(), opts.except.as_slice()),
        (&["room1".to_owned()][..], &["room9".to_owned()][..])
    );
    let sockets = sio_proto::cluster::classic::Response::decode(&fetch[1].bytes)
        .unwrap()
        .fetched_sockets()
        .unwrap();
    assert!(node.answer_fetch(request_id, sockets));
    let p = one_publish(&mut node);
    assert_eq!(
        (p.channel.as_str(), &p.payload),
        (fetch[1].channel.as_str(), &fetch[1].bytes)
    );

    for name in ["server_side_emit_ack", "server_side_emit_ack_specific"] {
        let sse = step(name);
        let events = feed(&mut node, now, &sse[0]);
        let [NodeEvent::ServerSideEmit {
            data,
            request_id: Some(request_id),
        }] = &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(data[0], Value::from("pong"));
        let answer = sio_proto::cluster::value::decode_json(br#"{"answer":"x"}"#).unwrap();
        let answer = match (answer, &data[1]) {
            (Value::Map(mut m), arg) => {
                m[0].1 = arg.clone();
                Value::Map(m)
            }
            (other, _) => other,
        };
        assert!(node.answer_server_side_emit(request_id, answer));
        let p = one_publish(&mut node);
        assert_eq!(
            (p.channel.as_str(), &p.payload),
            (sse[1].channel.as_str(), &sse[1].bytes)
        );
    }

    let legacy = step("legacy_sockets");
    let events = feed(&mut node, now, &legacy[0]);
    let [NodeEvent::SocketsRequested { request_id, rooms }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(rooms, &["room1".to_owned()]);
    assert!(node.answer_sockets(
        request_id,
        vec!["2pEW0NzRoHtF_UUnAAAB".into(), "QpMbiZr3Lv48_iz4AAAC".into()]
    ));
    let p = one_publish(&mut node);
    assert_eq!(
        (p.channel.as_str(), &p.payload),
        (legacy[1].channel.as_str(), &legacy[1].bytes)
    );

    let ack = step("broadcast_with_ack");
    let events = feed(&mut node, now, &ack[0]);
    let [NodeEvent::BroadcastWithAckRequested {
        request_id,
        packet,
        opts,
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(&packet.text[..], br#"42["ack-me","x"]"#);
    assert_eq!(opts.flags.as_ref().unwrap().timeout_ms(), Some(1000));
    let request_id = request_id.clone();
    assert!(node.answer_broadcast_client_count(&request_id, 2));
    let p = one_publish(&mut node);
    assert_eq!(
        (p.channel.as_str(), &p.payload),
        (ack[1].channel.as_str(), &ack[1].bytes)
    );
    let got = Value::Map(vec![(Value::from("got"), Value::from("x"))]);
    for v in &ack[2..] {
        assert!(node.answer_broadcast_ack(&request_id, got.clone()));
        let p = one_publish(&mut node);
        assert_eq!(
            (p.channel.as_str(), &p.payload),
            (v.channel.as_str(), &v.bytes)
        );
    }
    // Acknowledgements are taken until the broadcast's own timeout.
    node.handle(now + Duration::from_millis(1000), NodeInput::Timeout);
    assert!(!node.answer_broadcast_ack(&request_id, got));
    assert_eq!(node.malformed(), 0);
}

#[test]
fn recorded_one_socket_forms_are_answered_done() {
    let now = Instant::now();
    for (name, sid) in [
        ("legacy_remote_join", "2pEW0NzRoHtF_UUnAAAB"),
        ("legacy_remote_leave", "2pEW0NzRoHtF_UUnAAAB"),
        ("legacy_remote_disconnect", "QpMbiZr3Lv48_iz4AAAC"),
    ] {
        let v = step(name);
        for specific in [true, false] {
            let mut node = node_for("/", specific);
            let events = feed(&mut node, now, &v[0]);
            let (target, request_id) = match &events[..] {
                [NodeEvent::JoinRequested {
                    target,
                    rooms,
                    request_id,
                }]
                | [NodeEvent::LeaveRequested {
                    target,
                    rooms,
                    request_id,
                }] => {
                    assert_eq!(rooms, &["room6".to_owned()]);
                    (target, request_id)
                }
                [NodeEvent::DisconnectRequested {
                    target,
                    close,
                    request_id,
                }] => {
                    assert!(!close);
                    (target, request_id)
                }
                other => panic!("{other:?}"),
            };
            assert_eq!(target, &Target::Socket(sid.to_owned()));
            let request_id = request_id.clone().unwrap();
            assert!(
                !node.answer_fetch(&request_id, vec![]),
                "an answer of another kind is refused"
            );
            assert!(node.answer_done(&request_id));
            let p = one_publish(&mut node);
            let channel = if specific {
                v[1].channel.as_str()
            } else {
                "socket.io-response#/#"
            };
            assert_eq!((p.channel.as_str(), &p.payload), (channel, &v[1].bytes));
            assert!(!node.answer_done(&request_id), "answered once");
        }
    }
}

#[test]
fn recorded_operations_and_emitter_messages_are_delivered() {
    let now = Instant::now();
    let mut node = node_for("/", false);
    let room1 = || vec!["room1".to_owned()];
    let check = |node: &mut ClassicNode, name: &str| feed(node, now, &step(name)[0]);

    let e = check(&mut node, "sockets_join");
    assert!(
        matches!(&e[..], [NodeEvent::JoinRequested { target: Target::Sockets(o), rooms, request_id: None }]
        if o.rooms == room1() && rooms == &["room4".to_owned(), "room5".to_owned()]),
        "{e:?}"
    );
    let e = check(&mut node, "sockets_leave");
    assert!(
        matches!(&e[..], [NodeEvent::LeaveRequested { rooms, request_id: None, .. }] if rooms == &["room4".to_owned()]),
        "{e:?}"
    );
    let e = check(&mut node, "disconnect_sockets");
    assert!(
        matches!(
            &e[..],
            [NodeEvent::DisconnectRequested {
                close: true,
                request_id: None,
                ..
            }]
        ),
        "{e:?}"
    );
    let e = check(&mut node, "server_side_emit");
    assert_eq!(
        e,
        vec![NodeEvent::ServerSideEmit {
            data: vec![Value::from("ping"), Value::from(1), Value::from("a")],
            request_id: None
        }]
    );

    let e = check(&mut node, "emitter_sockets_join");
    assert!(
        matches!(&e[..], [NodeEvent::JoinRequested { target: Target::Sockets(o), rooms, request_id: None }]
        if o.rooms == room1() && rooms == &["room7".to_owned()]),
        "{e:?}"
    );
    let e = check(&mut node, "emitter_sockets_leave");
    assert!(
        matches!(&e[..], [NodeEvent::LeaveRequested { .. }]),
        "{e:?}"
    );
    let e = check(&mut node, "emitter_disconnect_sockets");
    assert!(
        matches!(
            &e[..],
            [NodeEvent::DisconnectRequested { close: false, .. }]
        ),
        "{e:?}"
    );
    let e = check(&mut node, "emitter_server_side_emit");
    assert!(
        matches!(&e[..], [NodeEvent::ServerSideEmit { request_id: None, data }] if data.len() == 2),
        "{e:?}"
    );

    let expect = [
        ("broadcast_all", &br#"42["hello",1,"two",{"three":3,"four":[4.5,-6,null,true]}]"#[..], 0),
        ("broadcast_room", br#"42["hello","room"]"#, 0),
        ("broadcast_rooms_except", br#"42["hello"]"#, 0),
        ("broadcast_volatile_compress", br#"42["hello","v"]"#, 0),
        ("broadcast_binary", br#"452-["bin",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1},"text":"x"}]"#, 2),
        ("emitter_broadcast", br#"42["from-emitter",1,"a"]"#, 0),
        ("emitter_room", br#"42["from-emitter",2]"#, 0),
        ("emitter_rooms_except_flags", br#"42["from-emitter",3]"#, 0),
        ("emitter_binary", br#"451-["from-emitter",{"_placeholder":true,"num":0}]"#, 1),
    ];
    for (name, text, attachments) in expect {
        let v = &step(name)[0];
        let e = feed(&mut node, now, v);
        let got = broadcasts(&e);
        assert_eq!(got.len(), 1, "{name}: {e:?}");
        assert_eq!(
            std::str::from_utf8(&got[0].0.text).unwrap(),
            std::str::from_utf8(text).unwrap(),
            "{name}"
        );
        assert_eq!(got[0].0.attachments.len(), attachments, "{name}");
        assert_eq!(
            got[0].1,
            Broadcast::decode(&v.bytes).unwrap().opts,
            "{name}"
        );
    }
    let e = feed(&mut node, now, &step("emitter_binary")[0]);
    assert_eq!(
        broadcasts(&e)[0].0.attachments,
        vec![Bytes::from_static(&[9, 8])]
    );

    // The /admin ones are for the /admin node only.
    let mut admin = node_for("/admin", false);
    for (name, text) in [
        ("broadcast_namespace", r#"42/admin,["admin",1]"#),
        ("emitter_namespace", r#"42/admin,["from-emitter",4]"#),
    ] {
        let v = &step(name)[0];
        assert!(feed(&mut node, now, v).is_empty(), "{name} is not for /");
        let e = feed(&mut admin, now, v);
        assert_eq!(
            std::str::from_utf8(&broadcasts(&e)[0].0.text).unwrap(),
            text
        );
    }
    assert_eq!(node.malformed() + admin.malformed(), 0);
}

// ----- the bridge -----

#[test]
fn every_recorded_broadcast_crosses_the_bridge_and_back_unchanged() {
    let mut n = 0;
    for v in vectors() {
        if v.family != "classic" || !v.channel.starts_with("socket.io#") {
            continue;
        }
        let msg = Broadcast::decode(&v.bytes).unwrap();
        let nsp = Nsp::new(msg.packet.nsp.as_deref().unwrap()).unwrap();
        let encoded = bridge::to_encoded(&msg.packet, &nsp).unwrap();
        let back = bridge::from_encoded(&encoded).unwrap();
        assert_eq!(back, msg.packet, "{}", v.step);
        // And the whole message re-encodes to Node's bytes (the emitter writes its flags
        // before `except`, so compare with its own options).
        let again = Broadcast {
            packet: back,
            ..msg.clone()
        };
        assert_eq!(again.encode(), msg.encode(), "{}", v.step);
        n += 1;
    }
    assert!(n >= 10, "{n} broadcast vectors");
}

#[derive(Serialize)]
struct Three {
    three: u8,
    four: (f64, i8, Option<u8>, bool),
}

#[derive(Serialize)]
struct Nested {
    nested: Bytes,
    text: &'static str,
}

#[test]
fn our_broadcasts_are_the_bytes_node_publishes() {
    let cases: Vec<(&str, &str, Nsp, EncodedPacket)> = vec![
        (
            "broadcast_all",
            "Ld1XSW",
            root(),
            text_event(
                &root(),
                "hello",
                &(
                    1,
                    "two",
                    Three {
                        three: 3,
                        four: (4.5, -6, None, true),
                    },
                ),
            ),
        ),
        (
            "broadcast_room",
            "Ld1XSW",
            root(),
            text_event(&root(), "hello", &"room"),
        ),
        (
            "broadcast_rooms_except",
            "Ld1XSW",
            root(),
            text_event(&root(), "hello", &()),
        ),
        (
            "broadcast_binary",
            "Ld1XSW",
            root(),
            text_event(
                &root(),
                "bin",
                &(
                    Bytes::from_static(&[1, 2, 3]),
                    Nested {
                        nested: Bytes::from_static(&[4]),
                        text: "x",
                    },
                ),
            ),
        ),
        (
            "broadcast_namespace",
            "y5oRbC",
            Nsp::new("/admin").unwrap(),
            text_event(&Nsp::new("/admin").unwrap(), "admin", &1),
        ),
    ];
    for (name, uid, nsp, packet) in cases {
        let v = &step(name)[0];
        let recorded = Broadcast::decode(&v.bytes).unwrap();
        let mut node = ClassicNode::new(NodeConfig::new(nsp, uid), [1; 32]);
        node.broadcast(&packet, &recorded.opts).unwrap();
        let p = one_publish(&mut node);
        assert_eq!(p.channel, v.channel, "{name}");
        assert_eq!(p.payload, v.bytes, "{name}");
    }
}

#[test]
fn the_bridge_refuses_what_it_cannot_carry() {
    let nsp = root();
    let mut p = sio_proto::cluster::Packet::event(vec![Value::from("x")], Some("/"));
    p.kind = 3;
    assert!(bridge::to_encoded(&p, &nsp).is_err(), "an ACK");
    let p = sio_proto::cluster::Packet {
        kind: 2,
        data: Value::from("x"),
        nsp: None,
        id: None,
    };
    assert!(bridge::to_encoded(&p, &nsp).is_err(), "data not an array");
    let p = sio_proto::cluster::Packet::event(vec![Value::Ext(1, vec![0])], None);
    assert!(bridge::to_encoded(&p, &nsp).is_err(), "an extension type");
    let p = sio_proto::cluster::Packet::event(
        vec![Value::Map(vec![(Value::from(1), Value::Nil)])],
        None,
    );
    assert!(bridge::to_encoded(&p, &nsp).is_err(), "a number as a key");
    // A placeholder that names no attachment.
    let bad = SocketPacket::event(
        nsp.clone(),
        Bytes::from_static(br#"["x",{"_placeholder":true,"num":1}]"#),
        None,
        vec![Bytes::from_static(b"a")],
    );
    assert!(bridge::from_socket_packet(&bad).is_err());
    let ok = SocketPacket::event(
        nsp,
        Bytes::from_static(br#"["x",{"_placeholder":true,"num":0}]"#),
        None,
        vec![Bytes::from_static(b"a")],
    );
    assert_eq!(
        bridge::from_socket_packet(&ok).unwrap().data,
        Value::Array(vec![Value::from("x"), Value::Binary(b"a".to_vec())])
    );
}

// ----- arbitrary input -----

fn channel_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("socket.io#/#".to_owned()),
        Just("socket.io#/#room1#".to_owned()),
        Just("socket.io-request#/#".to_owned()),
        Just("socket.io-response#/#".to_owned()),
        Just("socket.io-response#/#node0#".to_owned()),
        ".{0,24}",
    ]
}

fn payload_strategy() -> impl Strategy<Value = Vec<u8>> {
    let recorded: Vec<Vec<u8>> = vectors().into_iter().map(|v| v.bytes).collect();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::sample::select(recorded.clone()),
        // A recorded message with some bytes changed.
        (
            proptest::sample::select(recorded),
            any::<usize>(),
            any::<u8>()
        )
            .prop_map(|(mut bytes, at, b)| {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] = b;
                }
                bytes
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_messages_never_panic_and_deadlines_stay_ahead(
        inputs in proptest::collection::vec((channel_strategy(), payload_strategy(), 0u64..3_000), 1..24),
    ) {
        let start = Instant::now();
        let mut node = ClassicNode::new(NodeConfig::new(root(), uid(0)), [3; 32]);
        let mut now = start;
        node.fetch_sockets(now, &opts(&[], &[]), 2).unwrap();
        for (channel, payload, step) in inputs {
            now += Duration::from_millis(step);
            node.handle(now, NodeInput::Message { channel, payload });
            if let Some(at) = node.poll_timeout() {
                prop_assert!(at > now, "a deadline left in the past");
            }
            while let Some(event) = node.poll_event() {
                // Answer whatever was asked: answers never panic either.
                match event {
                    NodeEvent::FetchRequested { request_id, .. } => { node.answer_fetch(&request_id, vec![local_socket(0)]); }
                    NodeEvent::AllRoomsRequested { request_id } => { node.answer_all_rooms(&request_id, vec![]); }
                    NodeEvent::ServerSideEmit { request_id: Some(id), .. } => { node.answer_server_side_emit(&id, Value::Nil); }
                    NodeEvent::BroadcastWithAckRequested { request_id, .. } => { node.answer_broadcast_client_count(&request_id, 0); }
                    _ => {}
                }
            }
            while node.poll_publish().is_some() {}
        }
        node.handle(now + Duration::from_secs(3600), NodeInput::Timeout);
        prop_assert_eq!(node.poll_timeout(), None);
        prop_assert_eq!(node.pending_requests(), 0);
    }
}
