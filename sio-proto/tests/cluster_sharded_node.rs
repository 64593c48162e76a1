//! The sharded adapter node machine (`cluster::ShardedNode`): nodes wired through an in-memory
//! sharded pub/sub bus (exact channels, `SHARDNUMSUB`) in every subscription mode, the
//! messages the npm sharded adapter published (recorded vectors) fed in as input, and
//! arbitrary input.

// The crate bans `Instant::now` (time is an argument); a test needs one origin for its clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde::Serialize;
use sio_proto::cluster::channel::SubscriptionMode;
use sio_proto::cluster::classic::Target;
use sio_proto::cluster::sharded::{ClusterBody, ClusterMessage};
use sio_proto::cluster::{
    bridge, BroadcastOptions, FetchedSocket, Flags, IssueError, Missing, NodeConfig, NodeEvent,
    NodeInput, Outcome, Publish, RequestResult, ShardedNode, Value,
};
use sio_proto::payload::encode_event;
use sio_proto::socket::{EncodedPacket, Nsp};

const MODES: [SubscriptionMode; 3] = [
    SubscriptionMode::Static,
    SubscriptionMode::Dynamic,
    SubscriptionMode::DynamicPrivate,
];

// ----- recorded vectors -----

struct Vector {
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

fn all_vectors() -> Vec<(String, Vector)> {
    let text = include_str!("fixtures/cluster/vectors.json");
    let json: serde_json::Value = serde_json::from_str(text).unwrap();
    json["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["family"].as_str().unwrap().to_owned(),
                Vector {
                    step: v["step"].as_str().unwrap().to_owned(),
                    channel: v["channel"].as_str().unwrap().to_owned(),
                    bytes: hex(v["hex"].as_str().unwrap()),
                },
            )
        })
        .collect()
}

fn sharded_vectors() -> Vec<Vector> {
    let found: Vec<_> = all_vectors()
        .into_iter()
        .filter(|(family, _)| family == "sharded")
        .map(|(_, v)| v)
        .collect();
    assert!(found.len() >= 15, "{} sharded vectors", found.len());
    found
}

fn step(name: &str) -> Vec<Vector> {
    let found: Vec<_> = sharded_vectors()
        .into_iter()
        .filter(|v| v.step == name)
        .collect();
    assert!(!found.is_empty(), "no vector for {name}");
    found
}

/// The uids and the socket id the recording used.
const UID3: &str = "2fddb9df983ed824";
const UID4: &str = "a8cc0ce64eeae348";

// ----- an in-memory sharded bus -----

struct Member {
    node: ShardedNode,
    /// What the member has `SSUBSCRIBE`d.
    subs: Vec<String>,
    events: Vec<NodeEvent>,
    answers: bool,
}

struct Cluster {
    members: Vec<Member>,
    now: Instant,
    log: Vec<(usize, Publish)>,
}

fn uid(i: usize) -> String {
    format!("node{i}")
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
    fn new(n: usize, mode: SubscriptionMode) -> Self {
        let members = (0..n)
            .map(|i| {
                let node =
                    ShardedNode::new(NodeConfig::new(Nsp::ROOT, uid(i)), mode, [i as u8 + 1; 32]);
                Member {
                    subs: node.subscriptions().channels,
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

    /// Member `i` creates `room` (a socket's own room when `private`) and subscribes to what
    /// the node says.
    fn create_room(&mut self, i: usize, room: &str, private: bool) -> Option<String> {
        let m = &mut self.members[i];
        let channel = m.node.room_created(room, private);
        if let Some(c) = &channel {
            m.subs.push(c.clone());
        }
        channel
    }

    fn delete_room(&mut self, i: usize, room: &str) -> Option<String> {
        let m = &mut self.members[i];
        let channel = m.node.room_deleted(room);
        if let Some(c) = &channel {
            m.subs.retain(|s| s != c);
        }
        channel
    }

    /// `PUBSUB SHARDNUMSUB`.
    fn shardnumsub(&self, channel: &str) -> usize {
        self.members
            .iter()
            .filter(|m| m.subs.iter().any(|c| c == channel))
            .count()
    }

    fn others(&self) -> usize {
        self.shardnumsub(self.members[0].node.channel()) - 1
    }

    fn run(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.members.len() {
                while let Some(publish) = self.members[i].node.poll_publish() {
                    moved = true;
                    self.log.push((i, publish.clone()));
                    for member in &mut self.members {
                        if member.subs.contains(&publish.channel) {
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

fn answer(i: usize, node: &mut ShardedNode, event: &NodeEvent) {
    match event {
        NodeEvent::FetchRequested { request_id, .. } => {
            assert!(node.answer_fetch(request_id, vec![local_socket(i)]));
        }
        NodeEvent::ServerSideEmit {
            request_id: Some(id),
            ..
        } => {
            assert!(node.answer_server_side_emit(id, Value::from(i as u64)));
        }
        NodeEvent::BroadcastWithAckRequested { request_id, .. } => {
            assert!(node.answer_broadcast_client_count(request_id, i as u64));
            for _ in 0..i {
                assert!(node.answer_broadcast_ack(request_id, Value::from(i as u64)));
            }
        }
        _ => {}
    }
}

fn text_event(name: &str, args: &impl Serialize) -> EncodedPacket {
    encode_event(&Nsp::ROOT, name, args, None).unwrap()
}

fn opts(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms.iter().map(|s| s.to_string()).collect(),
        except: except.iter().map(|s| s.to_string()).collect(),
        flags: Some(Flags::default()),
    }
}

fn with_timeout(ms: u64) -> BroadcastOptions {
    let mut o = opts(&[], &[]);
    o.flags.as_mut().unwrap().set("timeout", Value::from(ms));
    o
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

// ----- subscriptions -----

#[test]
fn subscriptions_and_room_channels_follow_the_mode() {
    for mode in MODES {
        let mut node = ShardedNode::new(NodeConfig::new(Nsp::ROOT, "me"), mode, [1; 32]);
        assert_eq!(node.channel(), "socket.io#/#");
        assert_eq!(node.response_channel(), "socket.io#/#me#");
        assert_eq!(
            node.subscriptions().channels,
            vec!["socket.io#/#".to_owned(), "socket.io#/#me#".to_owned()]
        );
        let public = node.room_created("room1", false);
        let private = node.room_created("sock-aaaaaaaaaaaaaaa", true);
        let (want_public, want_private) = match mode {
            SubscriptionMode::Static => (None, None),
            SubscriptionMode::Dynamic => (Some("socket.io#/#room1#"), None),
            SubscriptionMode::DynamicPrivate => (
                Some("socket.io#/#room1#"),
                Some("socket.io#/#sock-aaaaaaaaaaaaaaa#"),
            ),
        };
        assert_eq!(public.as_deref(), want_public, "{mode:?}");
        assert_eq!(private.as_deref(), want_private, "{mode:?}");
        // Created twice: subscribed once.
        assert_eq!(node.room_created("room1", false), None, "{mode:?}");
        let subs = node.subscriptions().channels;
        assert_eq!(
            subs.len(),
            2 + usize::from(want_public.is_some()) + usize::from(want_private.is_some())
        );
        assert_eq!(
            node.room_deleted("room1").as_deref(),
            want_public,
            "{mode:?}"
        );
        assert_eq!(node.room_deleted("room1"), None, "{mode:?}");
        assert_eq!(node.room_deleted("never"), None, "{mode:?}");
        let closed = node.close();
        assert_eq!(closed.len(), 2 + usize::from(want_private.is_some()));
        assert_eq!(node.subscriptions().channels.len(), 2, "rooms forgotten");
    }
}

#[test]
fn a_namespace_and_key_name_every_channel() {
    let mut config = NodeConfig::new(Nsp::new("/admin").unwrap(), "u1");
    config.key = "app".to_owned();
    let mut node = ShardedNode::new(config, SubscriptionMode::Dynamic, [1; 32]);
    assert_eq!(node.channel(), "app#/admin#");
    assert_eq!(node.response_channel(), "app#/admin#u1#");
    assert_eq!(
        node.room_created("r", false).as_deref(),
        Some("app#/admin#r#")
    );
}

// ----- broadcasts -----

#[test]
fn broadcasts_reach_every_other_node_once_in_every_mode() {
    for mode in MODES {
        let mut c = Cluster::new(3, mode);
        let packet = text_event("hello", &(1, "two"));
        c.members[0]
            .node
            .broadcast(&packet, &opts(&[], &[]))
            .unwrap();
        c.members[0]
            .node
            .broadcast(&packet, &opts(&["a", "b"], &["x"]))
            .unwrap();
        c.run();
        assert!(broadcasts(&c.events(0)).is_empty(), "{mode:?}: own echo");
        for i in 1..3 {
            let got = broadcasts(&c.events(i));
            assert_eq!(got.len(), 2, "{mode:?} node {i}");
            assert_eq!(got[0].0, packet);
            assert_eq!(got[1].1.rooms, vec!["a".to_owned(), "b".to_owned()]);
            assert_eq!(got[1].1.except, vec!["x".to_owned()]);
        }
        for p in c.published_by(0) {
            assert_eq!(p.channel, "socket.io#/#", "{mode:?}");
        }
    }
}

#[test]
fn a_one_room_broadcast_uses_the_room_channel_in_the_dynamic_modes() {
    for mode in MODES {
        let mut c = Cluster::new(3, mode);
        // Only node 1 has the room (and node 2 a socket room of that name's length).
        c.create_room(1, "room1", false);
        let sid = "QAu-KOL3dASTS1fZAAAE";
        c.create_room(2, sid, true);
        let packet = text_event("hello", &"room");
        c.members[0]
            .node
            .broadcast(&packet, &opts(&["room1"], &[]))
            .unwrap();
        c.members[0]
            .node
            .broadcast(&packet, &opts(&[sid], &[]))
            .unwrap();
        c.run();
        let channels: Vec<_> = c
            .published_by(0)
            .iter()
            .map(|p| p.channel.clone())
            .collect();
        let (room_channel, sid_channel) = match mode {
            SubscriptionMode::Static => ("socket.io#/#", "socket.io#/#"),
            SubscriptionMode::Dynamic => ("socket.io#/#room1#", "socket.io#/#"),
            SubscriptionMode::DynamicPrivate => {
                ("socket.io#/#room1#", "socket.io#/#QAu-KOL3dASTS1fZAAAE#")
            }
        };
        assert_eq!(channels, vec![room_channel, sid_channel], "{mode:?}");
        let at1 = broadcasts(&c.events(1));
        let at2 = broadcasts(&c.events(2));
        match mode {
            // Everything on the namespace channel: every node sees both (the room index
            // selects the sockets).
            SubscriptionMode::Static => {
                assert_eq!((at1.len(), at2.len()), (2, 2));
            }
            // The room broadcast only reaches the node with the room; the socket room one
            // goes to everybody.
            SubscriptionMode::Dynamic => {
                assert_eq!(at1.len(), 2);
                assert_eq!(at2.len(), 1);
                assert_eq!(at2[0].1.rooms, vec![sid.to_owned()]);
            }
            // Each reaches only the node with the room.
            SubscriptionMode::DynamicPrivate => {
                assert_eq!(at1.len(), 1);
                assert_eq!(at1[0].1.rooms, vec!["room1".to_owned()]);
                assert_eq!(at2.len(), 1);
                assert_eq!(at2[0].1.rooms, vec![sid.to_owned()]);
            }
        }
        // Once the room is deleted, node 1 no longer receives its broadcasts (dynamic).
        c.delete_room(1, "room1");
        c.members[0]
            .node
            .broadcast(&packet, &opts(&["room1"], &[]))
            .unwrap();
        c.run();
        let again = broadcasts(&c.events(1)).len();
        assert_eq!(
            again,
            usize::from(mode == SubscriptionMode::Static),
            "{mode:?}"
        );
    }
}

#[test]
fn local_operations_are_not_published_and_non_events_are_refused() {
    let mut c = Cluster::new(2, SubscriptionMode::Dynamic);
    let mut local = opts(&[], &[]);
    local
        .flags
        .as_mut()
        .unwrap()
        .set("local", Value::from(true));
    let node = &mut c.members[0].node;
    node.broadcast(&text_event("x", &1), &local).unwrap();
    node.add_sockets(&local, &["r".to_owned()]);
    node.del_sockets(&local, &["r".to_owned()]);
    node.disconnect_sockets(&local, true);
    assert_eq!(
        node.fetch_sockets(c.now, &local, 1),
        Err(IssueError::NothingExpected)
    );
    assert!(node.poll_publish().is_none());
    let ack = sio_proto::socket::Packet::connect(Nsp::ROOT, None).encode();
    assert!(node.broadcast(&ack, &opts(&[], &[])).is_err());
    assert!(node.poll_publish().is_none());
}

// ----- requests -----

#[test]
fn fetch_sockets_gathers_every_other_node_on_the_requesters_channel() {
    for mode in MODES {
        let mut c = Cluster::new(3, mode);
        let others = c.others();
        assert_eq!(others, 2);
        let id = c.members[0]
            .node
            .fetch_sockets(c.now, &opts(&["room1"], &[]), others)
            .unwrap();
        c.run();
        let (done, result, outcome) = completed(c.events(0));
        assert_eq!(done, id);
        assert_eq!(outcome, Outcome::Complete);
        let RequestResult::Fetched(sockets) = result else {
            panic!("{result:?}")
        };
        let mut ids: Vec<_> = sockets.iter().map(|s| s.id.clone()).collect();
        ids.sort();
        assert_eq!(ids, vec!["sock-1", "sock-2"], "{mode:?}");
        for i in 1..3 {
            let answers = c.published_by(i);
            assert_eq!(answers.len(), 1);
            assert_eq!(answers[0].channel, "socket.io#/#node0#");
            let msg = ClusterMessage::decode(&answers[0].payload).unwrap();
            assert_eq!(msg.uid, uid(i));
            assert!(matches!(msg.body, ClusterBody::FetchSocketsResponse { .. }));
        }
        assert_eq!(c.members[0].node.pending_requests(), 0);
    }
}

#[test]
fn a_fetch_times_out_by_its_timeout_flag_and_late_answers_are_ignored() {
    let mut c = Cluster::new(3, SubscriptionMode::Dynamic);
    c.members[2].answers = false;
    let start = c.now;
    let id = c.members[0]
        .node
        .fetch_sockets(start, &with_timeout(300), 2)
        .unwrap();
    c.run();
    assert!(c
        .events(0)
        .iter()
        .all(|e| !matches!(e, NodeEvent::Completed { .. })));
    assert_eq!(
        c.members[0].node.poll_timeout(),
        Some(start + Duration::from_millis(300))
    );
    c.advance_to(start + Duration::from_millis(300));
    let (done, result, outcome) = completed(c.events(0));
    assert_eq!(done, id);
    assert_eq!(outcome, Outcome::TimedOut(Missing::Count(1)));
    assert!(matches!(result, RequestResult::Fetched(s) if s.len() == 1));
    // Node 2 answers late: its request was forgotten when the requester gave up.
    let requests: Vec<_> = c
        .events(2)
        .into_iter()
        .filter_map(|e| match e {
            NodeEvent::FetchRequested { request_id, .. } => Some(request_id),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 1);
    assert!(!c.members[2].node.answer_fetch(&requests[0], vec![]));
    assert_eq!(c.members[0].node.malformed(), 0);
}

#[test]
fn server_side_emit_with_and_without_ack() {
    for mode in MODES {
        let mut c = Cluster::new(3, mode);
        let data = vec![Value::from("ping"), Value::from(1)];
        assert_eq!(
            c.members[0]
                .node
                .server_side_emit(c.now, data.clone(), false, 2),
            Ok(None)
        );
        let id = c.members[0]
            .node
            .server_side_emit(c.now, data.clone(), true, 2)
            .unwrap()
            .unwrap();
        c.run();
        for i in 1..3 {
            let emits: Vec<_> = c
                .events(i)
                .into_iter()
                .filter_map(|e| match e {
                    NodeEvent::ServerSideEmit { data, request_id } => Some((data, request_id)),
                    _ => None,
                })
                .collect();
            assert_eq!(emits.len(), 2);
            assert_eq!(emits[0], (data.clone(), None));
            assert_eq!(emits[1], (data.clone(), Some(id.clone())));
        }
        let (_, result, outcome) = completed(c.events(0));
        assert_eq!(outcome, Outcome::Complete);
        let RequestResult::ServerSideEmit(mut values) = result else {
            panic!("{result:?}")
        };
        values.sort_by_key(|v| v.as_u64());
        assert_eq!(values, vec![Value::from(1), Value::from(2)], "{mode:?}");
    }
}

#[test]
fn with_no_other_node_nothing_is_published_and_nothing_awaited() {
    let mut c = Cluster::new(1, SubscriptionMode::Dynamic);
    assert_eq!(c.others(), 0);
    let now = c.now;
    let node = &mut c.members[0].node;
    assert_eq!(
        node.fetch_sockets(now, &opts(&[], &[]), 0),
        Err(IssueError::NothingExpected)
    );
    assert_eq!(
        node.server_side_emit(now, vec![Value::from("x")], true, 0),
        Err(IssueError::NothingExpected)
    );
    assert!(node
        .broadcast_with_ack(now, &text_event("x", &1), &with_timeout(100), 0)
        .is_err());
    assert!(node.poll_publish().is_none());
    assert_eq!(node.pending_requests(), 0);
}

#[test]
fn a_broadcast_with_acks_counts_clients_then_acks() {
    for mode in MODES {
        let mut c = Cluster::new(3, mode);
        // A one-room broadcast with acks still goes to the namespace channel.
        c.create_room(1, "room1", false);
        let mut o = with_timeout(1_000);
        o.rooms = vec!["room1".to_owned()];
        let id = c.members[0]
            .node
            .broadcast_with_ack(c.now, &text_event("ack-me", &"x"), &o, 2)
            .unwrap();
        c.run();
        assert_eq!(c.published_by(0)[0].channel, "socket.io#/#", "{mode:?}");
        let (done, result, outcome) = completed(c.events(0));
        assert_eq!(done, id);
        assert_eq!(outcome, Outcome::Complete, "{mode:?}");
        // Node 1: one client, one ack; node 2: two clients, two acks.
        let RequestResult::BroadcastAcks(acks) = result else {
            panic!("{result:?}")
        };
        assert_eq!(acks.len(), 3);
        for p in c.published_by(1).iter().chain(c.published_by(2).iter()) {
            assert_eq!(p.channel, "socket.io#/#node0#");
        }
    }
}

#[test]
fn a_broadcast_with_acks_times_out_on_a_silent_server() {
    let mut c = Cluster::new(3, SubscriptionMode::Dynamic);
    c.members[2].answers = false;
    let start = c.now;
    c.members[0]
        .node
        .broadcast_with_ack(start, &text_event("ack-me", &"x"), &with_timeout(200), 2)
        .unwrap();
    c.run();
    c.advance_to(start + Duration::from_millis(200));
    let (_, result, outcome) = completed(c.events(0));
    assert_eq!(result, RequestResult::BroadcastAcks(vec![Value::from(1)]));
    assert_eq!(outcome, Outcome::TimedOut(Missing::Count(1)));
}

#[test]
fn remote_join_leave_and_disconnect_reach_the_others_unanswered() {
    let mut c = Cluster::new(3, SubscriptionMode::DynamicPrivate);
    let node = &mut c.members[0].node;
    node.add_sockets(&opts(&["a"], &[]), &["r1".to_owned()]);
    node.del_sockets(&opts(&[], &["b"]), &["r2".to_owned()]);
    node.disconnect_sockets(&opts(&["c"], &[]), true);
    c.run();
    for i in 1..3 {
        let events = c.events(i);
        assert_eq!(events.len(), 3);
        assert!(
            matches!(&events[0], NodeEvent::JoinRequested { target: Target::Sockets(o), rooms, request_id: None } if o.rooms == ["a"] && rooms == &["r1"])
        );
        assert!(
            matches!(&events[1], NodeEvent::LeaveRequested { target: Target::Sockets(o), rooms, request_id: None } if o.except == ["b"] && rooms == &["r2"])
        );
        assert!(
            matches!(&events[2], NodeEvent::DisconnectRequested { target: Target::Sockets(o), close: true, request_id: None } if o.rooms == ["c"])
        );
        assert!(c.published_by(i).is_empty(), "never answered");
    }
    for p in c.published_by(0) {
        assert_eq!(p.channel, "socket.io#/#");
    }
}

#[test]
fn own_messages_other_namespaces_heartbeats_and_other_channels_are_ignored() {
    let mut node = ShardedNode::new(
        NodeConfig::new(Nsp::ROOT, UID4),
        SubscriptionMode::Dynamic,
        [1; 32],
    );
    let now = Instant::now();
    let feed = |node: &mut ShardedNode, channel: &str, text: &str| {
        node.handle(
            now,
            NodeInput::Message {
                channel: channel.to_owned(),
                payload: text.as_bytes().to_vec(),
            },
        );
    };
    let own = format!(r#"{{"type":9,"data":{{"packet":["x"]}},"uid":"{UID4}","nsp":"/"}}"#);
    feed(&mut node, "socket.io#/#", &own);
    let other_nsp = r#"{"type":9,"data":{"packet":["x"]},"uid":"u","nsp":"/admin"}"#;
    feed(&mut node, "socket.io#/#", other_nsp);
    for text in [
        r#"{"type":1,"uid":"u","nsp":"/"}"#,
        r#"{"type":2,"uid":"u","nsp":"/"}"#,
        r#"{"type":13,"uid":"u","nsp":"/"}"#,
    ] {
        feed(&mut node, "socket.io#/#", text);
    }
    let fine = r#"{"type":9,"data":{"packet":["x"]},"uid":"u","nsp":"/"}"#;
    feed(&mut node, "socket.io-request#/#", fine);
    feed(&mut node, "elsewhere", "garbage");
    assert!(node.poll_event().is_none());
    assert!(node.poll_publish().is_none());
    assert_eq!(node.malformed(), 0);
    // The emitter's messages are delivered.
    let emitter = r#"{"type":9,"data":{"packet":["x"]},"uid":"emitter","nsp":"/"}"#;
    feed(&mut node, "socket.io#/#", emitter);
    assert!(matches!(
        node.poll_event(),
        Some(NodeEvent::ServerSideEmit { .. })
    ));
}

#[test]
fn malformed_messages_are_counted_and_dropped() {
    let mut node = ShardedNode::new(
        NodeConfig::new(Nsp::ROOT, "me"),
        SubscriptionMode::Dynamic,
        [1; 32],
    );
    let now = Instant::now();
    let id = node.fetch_sockets(now, &opts(&[], &[]), 1).unwrap();
    while node.poll_publish().is_some() {}
    let bad: Vec<(&str, String)> = vec![
        ("socket.io#/#", "not json".to_owned()),
        ("socket.io#/#", "{".to_owned()),
        ("socket.io#/#", r#"{"type":99,"uid":"u","nsp":"/"}"#.to_owned()),
        ("socket.io#/#", r#"{"type":3,"uid":"u","nsp":"/"}"#.to_owned()),
        ("socket.io#/#room#", r#"{"type":3,"data":{"packet":{"type":3,"data":["x"]},"opts":{"rooms":[],"except":[]}},"uid":"u","nsp":"/"}"#.to_owned()),
        ("socket.io#/#me#", "\u{1}".to_owned()),
        // A server-side emit answer to a fetch.
        ("socket.io#/#me#", format!(r#"{{"type":10,"data":{{"requestId":"{id}","packet":1}},"uid":"u","nsp":"/"}}"#)),
        // A fetch answer whose socket has no id.
        ("socket.io#/#me#", format!(r#"{{"type":8,"data":{{"requestId":"{id}","sockets":[{{}}]}},"uid":"u","nsp":"/"}}"#)),
    ];
    let n = bad.len() as u64;
    for (channel, text) in bad {
        node.handle(
            now,
            NodeInput::Message {
                channel: channel.to_owned(),
                payload: text.into_bytes(),
            },
        );
    }
    assert_eq!(node.malformed(), n);
    assert!(node.poll_event().is_none());
    assert_eq!(node.pending_requests(), 1, "still waiting");
}

#[test]
fn requests_asked_are_bounded() {
    let mut config = NodeConfig::new(Nsp::ROOT, "me");
    config.max_pending_requests = 2;
    let mut node = ShardedNode::new(config, SubscriptionMode::Dynamic, [1; 32]);
    let now = Instant::now();
    for i in 0..4 {
        let text = format!(
            r#"{{"type":7,"data":{{"opts":{{"rooms":[],"except":[]}},"requestId":"q{i}"}},"uid":"u","nsp":"/"}}"#
        );
        node.handle(
            now,
            NodeInput::Message {
                channel: "socket.io#/#".to_owned(),
                payload: text.into_bytes(),
            },
        );
    }
    let mut asked = 0;
    while let Some(e) = node.poll_event() {
        assert!(matches!(e, NodeEvent::FetchRequested { .. }));
        asked += 1;
    }
    assert_eq!(asked, 2);
    assert_eq!(node.dropped(), 2);
}

// ----- recorded vectors -----

fn feed(node: &mut ShardedNode, now: Instant, v: &Vector) -> Vec<NodeEvent> {
    node.handle(
        now,
        NodeInput::Message {
            channel: v.channel.clone(),
            payload: v.bytes.clone(),
        },
    );
    std::iter::from_fn(|| node.poll_event()).collect()
}

fn one_publish(node: &mut ShardedNode) -> Publish {
    let p = node.poll_publish().expect("a publish");
    assert!(node.poll_publish().is_none(), "one publish only");
    p
}

fn node4(mode: SubscriptionMode) -> ShardedNode {
    let mut node = ShardedNode::new(NodeConfig::new(Nsp::ROOT, UID4), mode, [4; 32]);
    // The recording's node 4 had room1 (dynamic: subscribed to its channel).
    node.room_created("room1", false);
    node
}

#[test]
fn recorded_broadcasts_and_operations_become_events() {
    let now = Instant::now();
    for mode in MODES {
        let mut node = node4(mode);
        let mut n = 0;
        for v in sharded_vectors() {
            let msg = ClusterMessage::decode(&v.bytes).unwrap();
            if msg.uid != UID3 {
                continue;
            }
            let events = feed(&mut node, now, &v);
            assert_eq!(events.len(), 1, "{} {mode:?}", v.step);
            let ok = match (&msg.body, &events[0]) {
                (
                    ClusterBody::Broadcast {
                        request_id: None,
                        opts,
                        packet,
                    },
                    NodeEvent::Broadcast { packet: p, opts: o },
                ) => o == opts && bridge::from_encoded(p).unwrap().data == packet.data,
                (
                    ClusterBody::Broadcast {
                        request_id: Some(id),
                        ..
                    },
                    NodeEvent::BroadcastWithAckRequested { request_id, .. },
                ) => id == request_id,
                (
                    ClusterBody::SocketsJoin { rooms, .. },
                    NodeEvent::JoinRequested {
                        rooms: r,
                        request_id: None,
                        ..
                    },
                ) => rooms == r,
                (
                    ClusterBody::SocketsLeave { rooms, .. },
                    NodeEvent::LeaveRequested {
                        rooms: r,
                        request_id: None,
                        ..
                    },
                ) => rooms == r,
                (
                    ClusterBody::DisconnectSockets { close, .. },
                    NodeEvent::DisconnectRequested {
                        close: c,
                        request_id: None,
                        ..
                    },
                ) => close == c,
                (
                    ClusterBody::FetchSockets { request_id, opts },
                    NodeEvent::FetchRequested {
                        request_id: r,
                        opts: o,
                    },
                ) => request_id == r && opts == o,
                (
                    ClusterBody::ServerSideEmit { request_id, packet },
                    NodeEvent::ServerSideEmit {
                        request_id: r,
                        data,
                    },
                ) => request_id == r && packet == data,
                _ => false,
            };
            assert!(ok, "{} {mode:?}: {:?}", v.step, events[0]);
            n += 1;
        }
        assert!(n >= 11, "{n} requests");
        assert_eq!(node.malformed(), 0);
    }
}

#[test]
fn our_answers_to_recorded_requests_are_nodes_bytes() {
    let now = Instant::now();
    for (name, kind) in [
        ("fetch_sockets", 8),
        ("server_side_emit_ack", 10),
        ("broadcast_with_ack", 11),
    ] {
        let vs = step(name);
        let request = &vs[0];
        let mut node = node4(SubscriptionMode::Dynamic);
        let events = feed(&mut node, now, request);
        let responses: Vec<_> = vs.iter().skip(1).collect();
        assert!(!responses.is_empty());
        for r in &responses {
            assert_eq!(r.channel, format!("socket.io#/#{UID3}#"));
        }
        match (&events[..], kind) {
            ([NodeEvent::FetchRequested { request_id, .. }], 8) => {
                let recorded = ClusterMessage::decode(&responses[0].bytes).unwrap();
                let sockets = recorded.fetched_sockets().unwrap();
                assert!(node.answer_fetch(request_id, sockets));
            }
            (
                [NodeEvent::ServerSideEmit {
                    request_id: Some(id),
                    data,
                }],
                10,
            ) => {
                assert_eq!(data, &vec![Value::from("pong"), Value::from("q")]);
                let answer = Value::Map(vec![(Value::from("answer"), Value::from("q"))]);
                assert!(node.answer_server_side_emit(id, answer));
                assert!(!node.answer_server_side_emit(id, Value::Nil), "once");
            }
            ([NodeEvent::BroadcastWithAckRequested { request_id, .. }], 11) => {
                assert!(node.answer_broadcast_client_count(request_id, 1));
                let p = one_publish(&mut node);
                assert_eq!(p.channel, responses[0].channel);
                assert_eq!(p.payload, responses[0].bytes, "client count");
                let got = Value::Map(vec![(Value::from("got"), Value::from("x"))]);
                assert!(node.answer_broadcast_ack(request_id, got));
                let p = one_publish(&mut node);
                assert_eq!(p.payload, responses[1].bytes, "ack");
                continue;
            }
            (other, _) => panic!("{name}: {other:?}"),
        }
        let p = one_publish(&mut node);
        assert_eq!(p.channel, responses[0].channel, "{name}");
        assert_eq!(
            String::from_utf8_lossy(&p.payload),
            String::from_utf8_lossy(&responses[0].bytes),
            "{name}"
        );
    }
}

#[test]
fn our_broadcasts_and_requests_are_the_bytes_node_publishes() {
    let now = Instant::now();
    let mut n = 0;
    for v in sharded_vectors() {
        let msg = ClusterMessage::decode(&v.bytes).unwrap();
        if msg.uid != UID3 {
            continue;
        }
        let mut node = ShardedNode::new(
            NodeConfig::new(Nsp::ROOT, UID3),
            SubscriptionMode::Dynamic,
            [3; 32],
        );
        // Requests carry our own ids: compare with the recorded id put in.
        let id = match &msg.body {
            ClusterBody::Broadcast {
                packet,
                request_id,
                opts,
            } => {
                let encoded = bridge::to_encoded(packet, &Nsp::ROOT).unwrap();
                match request_id {
                    None => {
                        node.broadcast(&encoded, opts).unwrap();
                        None
                    }
                    Some(_) => Some(node.broadcast_with_ack(now, &encoded, opts, 1).unwrap()),
                }
            }
            ClusterBody::SocketsJoin { opts, rooms } => {
                node.add_sockets(opts, rooms);
                None
            }
            ClusterBody::SocketsLeave { opts, rooms } => {
                node.del_sockets(opts, rooms);
                None
            }
            ClusterBody::DisconnectSockets { opts, close } => {
                node.disconnect_sockets(opts, *close);
                None
            }
            ClusterBody::FetchSockets { opts, .. } => {
                Some(node.fetch_sockets(now, opts, 1).unwrap())
            }
            ClusterBody::ServerSideEmit { request_id, packet } => node
                .server_side_emit(now, packet.clone(), request_id.is_some(), 1)
                .unwrap(),
            other => panic!("{other:?}"),
        };
        let p = one_publish(&mut node);
        assert_eq!(p.channel, v.channel, "{}", v.step);
        let expected = match (id, msg.body.request_id()) {
            (Some(ours), Some(theirs)) => {
                let ours_msg = ClusterMessage::decode(&p.payload).unwrap();
                assert_eq!(ours_msg.body.request_id(), Some(ours.as_str()));
                // Node's bytes with our id in place of the recorded one.
                let text = String::from_utf8(v.bytes.clone()).unwrap();
                text.replace(theirs, &ours).into_bytes()
            }
            (None, None) => v.bytes.clone(),
            other => panic!("{}: {other:?}", v.step),
        };
        assert_eq!(p.payload, expected, "{}", v.step);
        n += 1;
    }
    assert!(n >= 11, "{n}");
}

#[test]
fn recorded_responses_to_unknown_requests_and_heartbeats_are_ignored() {
    let now = Instant::now();
    let mut node = ShardedNode::new(
        NodeConfig::new(Nsp::ROOT, UID3),
        SubscriptionMode::Dynamic,
        [3; 32],
    );
    let mut n = 0;
    for (family, v) in all_vectors() {
        let ours = family == "sharded" && v.channel == format!("socket.io#/#{UID3}#");
        if !ours && family != "heartbeat" {
            continue;
        }
        // Heartbeats were recorded under another key: deliver them on ours.
        let v = Vector {
            channel: if ours {
                v.channel
            } else {
                "socket.io#/#".to_owned()
            },
            ..v
        };
        assert!(feed(&mut node, now, &v).is_empty(), "{}", v.step);
        n += 1;
    }
    assert!(n >= 7, "{n}");
    assert_eq!(node.malformed(), 0);
    assert!(node.poll_publish().is_none());
}

// ----- arbitrary input -----

fn channel_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("socket.io#/#".to_owned()),
        Just("socket.io#/#room1#".to_owned()),
        Just("socket.io#/#node0#".to_owned()),
        Just(format!("socket.io#/#{UID3}#")),
        ".{0,24}",
    ]
}

fn payload_strategy() -> impl Strategy<Value = Vec<u8>> {
    let recorded: Vec<Vec<u8>> = all_vectors().into_iter().map(|(_, v)| v.bytes).collect();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::sample::select(recorded.clone()),
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
        mode in proptest::sample::select(MODES.to_vec()),
        inputs in proptest::collection::vec((channel_strategy(), payload_strategy(), 0u64..3_000), 1..24),
    ) {
        let start = Instant::now();
        let mut node = ShardedNode::new(NodeConfig::new(Nsp::ROOT, uid(0)), mode, [3; 32]);
        node.room_created("room1", false);
        let mut now = start;
        node.fetch_sockets(now, &opts(&[], &[]), 2).unwrap();
        node.broadcast_with_ack(now, &text_event("x", &1), &with_timeout(500), 1).unwrap();
        let mut malformed = 0;
        for (channel, payload, step) in inputs {
            now += Duration::from_millis(step);
            node.handle(now, NodeInput::Message { channel, payload });
            if let Some(at) = node.poll_timeout() {
                prop_assert!(at > now, "a deadline left in the past");
            }
            prop_assert!(node.malformed() >= malformed);
            malformed = node.malformed();
            while let Some(event) = node.poll_event() {
                match event {
                    NodeEvent::FetchRequested { request_id, .. } => { node.answer_fetch(&request_id, vec![local_socket(0)]); }
                    NodeEvent::ServerSideEmit { request_id: Some(id), .. } => { node.answer_server_side_emit(&id, Value::Nil); }
                    NodeEvent::BroadcastWithAckRequested { request_id, .. } => {
                        node.answer_broadcast_client_count(&request_id, 1);
                        node.answer_broadcast_ack(&request_id, Value::Nil);
                    }
                    _ => {}
                }
            }
            while let Some(p) = node.poll_publish() {
                prop_assert!(p.channel.starts_with("socket.io#/#"), "published on {}", p.channel);
            }
        }
        node.handle(now + Duration::from_secs(3600), NodeInput::Timeout);
        prop_assert_eq!(node.poll_timeout(), None);
        prop_assert_eq!(node.pending_requests(), 0);
    }
}
