//! The cluster protocol core: channel names, malformed input, the request tracker, and
//! property tests (typed messages round-trip through both encodings; arbitrary bytes never
//! panic a decoder).

// The crate bans `Instant::now` (time is an argument); a test needs one origin for its clock.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use sio_proto::cluster::channel::{self, ClassicChannel, ShardedChannel, SubscriptionMode};
use sio_proto::cluster::classic::{
    Broadcast, Request, RequestBody, Response, ResponseBody, Target,
};
use sio_proto::cluster::sharded::{ClusterBody, ClusterMessage};
use sio_proto::cluster::value::{
    decode_json, decode_msgpack, json_compatible, to_json, to_msgpack,
};
use sio_proto::cluster::{
    BroadcastOptions, ClusterError, Completion, Encoding, Expected, Flags, IssueError, Missing,
    Outcome, Packet, RequestTracker, ResponseOutcome, Value,
};

// ----- channels -----

#[test]
fn classic_channel_names_and_parsing() {
    assert_eq!(channel::broadcast("socket.io", "/"), "socket.io#/#");
    assert_eq!(
        channel::room("socket.io", "/chat", "a#b"),
        "socket.io#/chat#a#b#"
    );
    assert_eq!(channel::request("k", "/"), "k-request#/#");
    assert_eq!(channel::response("k", "/"), "k-response#/#");
    assert_eq!(
        channel::specific_response("k", "/", "abc"),
        "k-response#/#abc#"
    );
    assert_eq!(channel::broadcast_for("k", "/", &[]), "k#/#");
    assert_eq!(channel::broadcast_for("k", "/", &["r".into()]), "k#/#r#");
    assert_eq!(
        channel::broadcast_for("k", "/", &["r".into(), "s".into()]),
        "k#/#"
    );

    let parse = |c| channel::parse_classic("k", c);
    assert_eq!(parse("k#/#"), Some(ClassicChannel::Broadcast { nsp: "/" }));
    assert_eq!(
        parse("k#/chat#a#b#"),
        Some(ClassicChannel::Room {
            nsp: "/chat",
            room: "a#b"
        })
    );
    assert_eq!(
        parse("k-request#/x#"),
        Some(ClassicChannel::Request { nsp: "/x" })
    );
    assert_eq!(
        parse("k-response#/#"),
        Some(ClassicChannel::Response { nsp: "/" })
    );
    assert_eq!(
        parse("k-response#/#u1#"),
        Some(ClassicChannel::SpecificResponse {
            nsp: "/",
            uid: "u1"
        })
    );
    for other in [
        "",
        "k",
        "k#",
        "k#/",
        "k#/#room",
        "x#/#",
        "k-request#/#extra#",
        "k-other#/#",
        "kk#/#",
    ] {
        assert_eq!(parse(other), None, "{other:?}");
    }
}

#[test]
fn sharded_channels_follow_the_subscription_mode() {
    let msg = |rooms: &[&str], request_id: Option<&str>| ClusterMessage {
        uid: "u".into(),
        nsp: "/".into(),
        body: ClusterBody::Broadcast {
            packet: Packet::event(vec![Value::from("e")], None),
            request_id: request_id.map(str::to_owned),
            opts: BroadcastOptions {
                rooms: rooms.iter().map(|r| r.to_string()).collect(),
                ..Default::default()
            },
        },
    };
    let socket_id = "abcdefghij0123456789";
    assert!(channel::looks_like_socket_id(socket_id));
    let cases = [
        (SubscriptionMode::Dynamic, msg(&["room"], None), "k#/#room#"),
        (SubscriptionMode::Dynamic, msg(&[socket_id], None), "k#/#"),
        (
            SubscriptionMode::DynamicPrivate,
            msg(&[socket_id], None),
            "k#/#abcdefghij0123456789#",
        ),
        (SubscriptionMode::Static, msg(&["room"], None), "k#/#"),
        (
            SubscriptionMode::Dynamic,
            msg(&["room"], Some("id")),
            "k#/#",
        ),
        (SubscriptionMode::Dynamic, msg(&["a", "b"], None), "k#/#"),
    ];
    for (mode, message, expected) in cases {
        assert_eq!(
            channel::sharded_publish("k", &message, mode),
            expected,
            "{mode:?} {message:?}"
        );
    }
    let heartbeat = ClusterMessage {
        uid: "u".into(),
        nsp: "/a".into(),
        body: ClusterBody::Heartbeat,
    };
    assert_eq!(
        channel::sharded_publish("k", &heartbeat, SubscriptionMode::Dynamic),
        "k#/a#"
    );
    assert_eq!(
        channel::parse_sharded("k", "k#/#"),
        Some(ShardedChannel::Namespace { nsp: "/" })
    );
    assert_eq!(
        channel::parse_sharded("k", "k#/#x#"),
        Some(ShardedChannel::Sub {
            nsp: "/",
            name: "x"
        })
    );
    assert_eq!(channel::parse_sharded("k", "k-request#/#"), None);
}

// ----- malformed input -----

#[test]
fn malformed_messages_are_errors() {
    let malformed = |r: Result<(), ClusterError>| {
        assert!(matches!(r, Err(ClusterError::Malformed(_))), "{r:?}")
    };
    // MessagePack: truncated, reserved byte, trailing bytes, huge declared lengths.
    for bytes in [
        &[][..],
        &[0x93, 0xa1],
        &[0xc1],
        &[0xc0, 0xc0],
        &[0xdd, 0xff, 0xff, 0xff, 0xff],
        &[0xdf, 0xff, 0xff, 0xff, 0xff, 0x01],
        &[0xc6, 0xff, 0xff, 0xff, 0xff],
        &[0xdb, 0x7f, 0xff, 0xff, 0xff, b'a'],
        &[0xa2, 0xff, 0xfe],
    ] {
        malformed(decode_msgpack(bytes).map(drop));
    }
    // Nesting beyond the bound.
    malformed(
        decode_msgpack(
            &[0x91; 100]
                .iter()
                .copied()
                .chain([0xc0])
                .collect::<Vec<_>>(),
        )
        .map(drop),
    );
    assert!(decode_msgpack(&[0x91; 10].iter().copied().chain([0xc0]).collect::<Vec<_>>()).is_ok());
    let deep_json = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    malformed(decode_json(deep_json.as_bytes()).map(drop));

    // Well-formed values of the wrong shape.
    malformed(Broadcast::decode(&to_msgpack(&Value::from("x"))).map(drop));
    malformed(Broadcast::decode(&to_msgpack(&Value::Array(vec![Value::from("u")]))).map(drop));
    malformed(Request::decode(b"{\"uid\":\"u\"}").map(drop));
    malformed(Request::decode(b"{\"type\":5}").map(drop));
    malformed(Request::decode(b"{\"type\":2,\"rooms\":[\"a\"]}").map(drop));
    malformed(Request::decode(b"{\"type\":6,\"data\":1}").map(drop));
    malformed(Request::decode(b"{\"type\":0,\"rooms\":[true]}").map(drop));
    malformed(Request::decode(b"{not json").map(drop));
    malformed(Response::decode(b"{\"sockets\":[]}").map(drop));
    malformed(Response::decode(b"{\"requestId\":\"a\",\"type\":8}").map(drop));
    malformed(ClusterMessage::decode(b"{\"type\":3,\"uid\":\"u\",\"nsp\":\"/\"}").map(drop));
    malformed(
        ClusterMessage::decode(b"{\"type\":3,\"uid\":\"u\",\"nsp\":\"/\",\"data\":{}}").map(drop),
    );
    malformed(ClusterMessage::decode(b"{\"type\":1,\"nsp\":\"/\"}").map(drop));
    assert_eq!(
        Request::decode(b"{\"type\":42}"),
        Err(ClusterError::UnknownType(42))
    );
    assert_eq!(
        ClusterMessage::decode(b"{\"type\":14,\"uid\":\"u\",\"nsp\":\"/\"}"),
        Err(ClusterError::UnknownType(14))
    );
}

#[test]
fn lenient_where_node_is() {
    // Unknown fields are ignored; a numeric room is kept as its text; the last duplicate key wins.
    let req =
        Request::decode(b"{\"type\":0,\"extra\":[1,2],\"rooms\":[\"a\",7],\"rooms\":[\"b\",7]}")
            .unwrap();
    assert_eq!(
        req.body,
        RequestBody::Sockets {
            rooms: vec!["b".into(), "7".into()]
        }
    );
    // A request may come as MessagePack (the `parser` option); it is taken like JSON.
    let json = Request::decode(b"{\"uid\":\"u\",\"type\":1}").unwrap();
    let msgpack = Request::decode(&to_msgpack(
        &decode_json(b"{\"uid\":\"u\",\"type\":1}").unwrap(),
    ))
    .unwrap();
    assert_eq!(json, msgpack);
}

#[test]
fn binary_content_switches_to_msgpack() {
    let emit = |arg: Value| Request {
        uid: Some("u".into()),
        request_id: None,
        body: RequestBody::ServerSideEmit {
            data: vec![Value::from("e"), arg],
        },
    };
    assert_eq!(emit(Value::from(1)).encode().0, Encoding::Json);
    let (encoding, bytes) = emit(Value::Binary(vec![1])).encode();
    assert_eq!(encoding, Encoding::MsgPack);
    assert_eq!(
        Request::decode(&bytes).unwrap(),
        emit(Value::Binary(vec![1]))
    );
    let ack = Response {
        request_id: "r".into(),
        body: ResponseBody::BroadcastAck(Value::from(1)),
    };
    assert_eq!(
        ack.encode().0,
        Encoding::MsgPack,
        "Node sends BROADCAST_ACK as MessagePack"
    );
}

#[test]
fn numbers_encode_as_notepack_does() {
    let cases: [(Value, &[u8]); 11] = [
        (Value::from(0), &[0x00]),
        (Value::from(127), &[0x7f]),
        (Value::from(128), &[0xcc, 0x80]),
        (Value::from(-32), &[0xe0]),
        (Value::from(-33), &[0xd0, 0xdf]),
        (Value::from(65536), &[0xce, 0, 1, 0, 0]),
        (Value::F64(2.0), &[0x02]),
        (Value::F64(-1.0), &[0xff]),
        (Value::F64(0.5), &[0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]),
        (
            Value::F64(2f64.powi(60)),
            &[0xcf, 0x10, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            Value::F64(-(2f64.powi(40))),
            &[0xd3, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0],
        ),
    ];
    for (value, bytes) in cases {
        assert_eq!(to_msgpack(&value), bytes, "{value:?}");
    }
    assert_eq!(to_json(&Value::F64(3.0)).unwrap(), b"3");
    // As `JSON.stringify` writes numbers (checked against Node).
    let js = [
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (1.5e-7, "1.5e-7"),
        (123e20, "1.23e+22"),
        (2f64.powi(60), "1152921504606847000"),
        (-0.5, "-0.5"),
        (1e300, "1e+300"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (123456.789, "123456.789"),
        (0.1, "0.1"),
        (1e20 + 1e5, "100000000000000100000"),
    ];
    for (f, text) in js {
        assert_eq!(
            String::from_utf8(to_json(&Value::F64(f)).unwrap()).unwrap(),
            text
        );
    }
    assert_eq!(to_json(&Value::F64(f64::NAN)).unwrap(), b"null");
    assert_eq!(
        to_json(&Value::from("a\"\n\u{1}")).unwrap(),
        b"\"a\\\"\\n\\u0001\""
    );
    assert_eq!(to_json(&Value::Binary(vec![])), None);
}

// ----- request tracker -----

fn origin() -> Instant {
    Instant::now()
}

#[test]
fn tracker_ids_are_deterministic_and_distinct() {
    let ids = |seed| {
        let mut t = RequestTracker::<()>::new(seed, 10);
        (0..1000).map(|_| t.next_request_id()).collect::<Vec<_>>()
    };
    let a = ids(1);
    assert_eq!(a, ids(1));
    assert_ne!(a, ids(2));
    assert_eq!(a.iter().collect::<BTreeSet<_>>().len(), a.len());
    assert!(a
        .iter()
        .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));
}

#[test]
fn tracker_completes_on_count() {
    let t0 = origin();
    let mut t = RequestTracker::new(7, 10);
    let id = t
        .issue(t0, Duration::from_secs(5), Expected::Count(2))
        .unwrap();
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    assert_eq!(t.on_response(&id, None, "a"), ResponseOutcome::Pending);
    let ResponseOutcome::Completed(done) = t.on_response(&id, Some("x"), "b") else {
        panic!()
    };
    assert_eq!(
        done,
        Completion {
            request_id: id.clone(),
            responses: vec!["a", "b"],
            outcome: Outcome::Complete
        }
    );
    assert_eq!(t.on_response(&id, None, "c"), ResponseOutcome::Unknown);
    assert!(t.is_empty());
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn tracker_times_out_with_what_is_missing() {
    let t0 = origin();
    let mut t = RequestTracker::new(7, 10);
    let nodes: BTreeSet<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
    let by_nodes = t
        .issue(t0, Duration::from_secs(2), Expected::Nodes(nodes))
        .unwrap();
    let by_count = t
        .issue(t0, Duration::from_secs(1), Expected::Count(3))
        .unwrap();
    assert_eq!(
        t.on_response(&by_nodes, Some("n9"), 0),
        ResponseOutcome::Unexpected
    );
    assert_eq!(
        t.on_response(&by_nodes, None, 0),
        ResponseOutcome::Unexpected
    );
    assert_eq!(
        t.on_response(&by_nodes, Some("n1"), 1),
        ResponseOutcome::Pending
    );
    assert_eq!(
        t.on_response(&by_nodes, Some("n1"), 1),
        ResponseOutcome::Unexpected,
        "one answer per node"
    );
    assert_eq!(t.on_response(&by_count, None, 2), ResponseOutcome::Pending);
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    assert!(t.handle_timeout(t0 + Duration::from_millis(999)).is_empty());
    let done = t.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(
        done,
        vec![Completion {
            request_id: by_count,
            responses: vec![2],
            outcome: Outcome::TimedOut(Missing::Count(2))
        }]
    );
    // A node that leaves is no longer waited for.
    assert!(t.node_gone("n2").is_empty());
    let done = t.handle_timeout(t0 + Duration::from_secs(3));
    assert_eq!(
        done[0].outcome,
        Outcome::TimedOut(Missing::Nodes(vec!["n3".into()]))
    );
    assert_eq!(done[0].responses, vec![1]);
    assert!(t.is_empty());
}

#[test]
fn tracker_node_gone_completes_and_open_requests_end_at_deadline() {
    let t0 = origin();
    let mut t = RequestTracker::new(1, 10);
    let nodes: BTreeSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    let id = t
        .issue(t0, Duration::from_secs(5), Expected::Nodes(nodes))
        .unwrap();
    assert_eq!(t.on_response(&id, Some("a"), 1), ResponseOutcome::Pending);
    let done = t.node_gone("b");
    assert_eq!(
        done,
        vec![Completion {
            request_id: id,
            responses: vec![1],
            outcome: Outcome::Complete
        }]
    );

    let acks = t
        .issue(t0, Duration::from_secs(1), Expected::UntilDeadline)
        .unwrap();
    for n in 0..5 {
        assert_eq!(t.on_response(&acks, Some("x"), n), ResponseOutcome::Pending);
    }
    let done = t.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(done[0].responses, vec![0, 1, 2, 3, 4]);
    assert_eq!(done[0].outcome, Outcome::Complete);
}

#[test]
fn tracker_limits_and_cancel() {
    let t0 = origin();
    let mut t = RequestTracker::<u8>::new(1, 2);
    assert_eq!(
        t.issue(t0, Duration::from_secs(1), Expected::Count(0)),
        Err(IssueError::NothingExpected)
    );
    assert_eq!(
        t.issue(t0, Duration::from_secs(1), Expected::Nodes(BTreeSet::new())),
        Err(IssueError::NothingExpected)
    );
    let a = t
        .issue(t0, Duration::from_secs(1), Expected::Count(1))
        .unwrap();
    let _b = t
        .issue(t0, Duration::from_secs(1), Expected::Count(1))
        .unwrap();
    assert_eq!(
        t.issue(t0, Duration::from_secs(1), Expected::Count(1)),
        Err(IssueError::Full)
    );
    assert!(t.contains(&a));
    assert_eq!(t.cancel(&a).unwrap().outcome, Outcome::Cancelled);
    assert_eq!(t.cancel(&a), None);
    assert_eq!(t.len(), 1);
    let far = t.issue(t0, Duration::MAX, Expected::Count(1)).unwrap();
    let a_year = Duration::from_secs(3600 * 24 * 365);
    let ended = t.handle_timeout(t0 + a_year);
    assert_eq!(ended.len(), 1, "only the request of one second");
    assert_ne!(
        ended[0].request_id, far,
        "a timeout past the clock's range waits"
    );
    assert!(t.contains(&far));
}

// ----- property tests -----

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Non-integral numbers: an integral one is an integer in JavaScript (and on the wire).
        (-1.0e9f64..1.0e9)
            .prop_filter("non-integral", |f| f.fract() != 0.0)
            .prop_map(Value::F64),
        ".{0,40}".prop_map(|s: String| Value::from(s)),
        vec(any::<u8>(), 0..40).prop_map(Value::Binary),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..20).prop_map(Value::Array),
            vec(("[a-z]{0,6}", inner), 0..20).prop_map(|kv| Value::Map(
                kv.into_iter().map(|(k, v)| (Value::from(k), v)).collect()
            )),
        ]
    })
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_#/-]{0,12}"
}

fn opts() -> impl Strategy<Value = BroadcastOptions> {
    let flags = vec(
        (
            prop::sample::select(vec!["volatile", "compress", "local", "timeout"]),
            leaf(),
        ),
        0..3,
    )
    .prop_map(|kv| {
        let mut flags = Flags::default();
        for (k, v) in kv {
            flags.set(k, v);
        }
        flags
    });
    (vec(name(), 0..4), vec(name(), 0..3), option::of(flags)).prop_map(|(rooms, except, flags)| {
        BroadcastOptions {
            rooms,
            except,
            flags,
        }
    })
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        0u8..7,
        value(),
        option::of(name()),
        option::of(0u64..1 << 53),
    )
        .prop_map(|(kind, data, nsp, id)| Packet {
            kind,
            data,
            nsp,
            id,
        })
}

fn request() -> impl Strategy<Value = Request> {
    let target = prop_oneof![
        opts().prop_map(Target::Sockets),
        name().prop_map(Target::Socket)
    ];
    let body = prop_oneof![
        vec(name(), 0..4).prop_map(|rooms| RequestBody::Sockets { rooms }),
        Just(RequestBody::AllRooms),
        (target.clone(), vec(name(), 1..4), any::<bool>()).prop_map(|(target, mut rooms, join)| {
            if matches!(target, Target::Socket(_)) {
                rooms.truncate(1);
            }
            if join {
                RequestBody::RemoteJoin { target, rooms }
            } else {
                RequestBody::RemoteLeave { target, rooms }
            }
        }),
        (target, any::<bool>())
            .prop_map(|(target, close)| RequestBody::RemoteDisconnect { target, close }),
        opts().prop_map(|opts| RequestBody::RemoteFetch { opts }),
        vec(value(), 0..4).prop_map(|data| RequestBody::ServerSideEmit { data }),
        (packet(), opts()).prop_map(|(packet, opts)| RequestBody::Broadcast { packet, opts }),
    ];
    (option::of(name()), option::of(name()), body).prop_map(|(uid, request_id, body)| Request {
        uid,
        request_id,
        body,
    })
}

fn response() -> impl Strategy<Value = Response> {
    let body = prop_oneof![
        vec(value(), 0..4).prop_map(ResponseBody::Sockets),
        vec(name(), 0..4).prop_map(ResponseBody::Rooms),
        Just(ResponseBody::Done),
        value().prop_map(ResponseBody::ServerSideEmit),
        any::<u64>().prop_map(ResponseBody::BroadcastClientCount),
        value().prop_map(ResponseBody::BroadcastAck),
    ];
    (name(), body).prop_map(|(request_id, body)| Response { request_id, body })
}

fn cluster_message() -> impl Strategy<Value = ClusterMessage> {
    let id = name;
    let body = prop_oneof![
        Just(ClusterBody::InitialHeartbeat),
        Just(ClusterBody::Heartbeat),
        Just(ClusterBody::AdapterClose),
        (packet(), option::of(id()), opts()).prop_map(|(packet, request_id, opts)| {
            ClusterBody::Broadcast {
                packet,
                request_id,
                opts,
            }
        }),
        (opts(), vec(name(), 0..3))
            .prop_map(|(opts, rooms)| ClusterBody::SocketsJoin { opts, rooms }),
        (opts(), vec(name(), 0..3))
            .prop_map(|(opts, rooms)| ClusterBody::SocketsLeave { opts, rooms }),
        (opts(), any::<bool>())
            .prop_map(|(opts, close)| ClusterBody::DisconnectSockets { opts, close }),
        (opts(), id())
            .prop_map(|(opts, request_id)| ClusterBody::FetchSockets { opts, request_id }),
        (id(), vec(value(), 0..3)).prop_map(|(request_id, sockets)| {
            ClusterBody::FetchSocketsResponse {
                request_id,
                sockets,
            }
        }),
        (option::of(id()), vec(value(), 0..3))
            .prop_map(|(request_id, packet)| ClusterBody::ServerSideEmit { request_id, packet }),
        (id(), value()).prop_map(|(request_id, packet)| ClusterBody::ServerSideEmitResponse {
            request_id,
            packet
        }),
        (id(), any::<u64>()).prop_map(|(request_id, client_count)| {
            ClusterBody::BroadcastClientCount {
                request_id,
                client_count,
            }
        }),
        (id(), value())
            .prop_map(|(request_id, packet)| ClusterBody::BroadcastAck { request_id, packet }),
    ];
    (name(), name(), body).prop_map(|(uid, nsp, body)| ClusterMessage { uid, nsp, body })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn values_round_trip_through_msgpack(v in value()) {
        let bytes = to_msgpack(&v);
        prop_assert_eq!(decode_msgpack(&bytes).unwrap(), v);
    }

    #[test]
    fn values_round_trip_through_json(v in value()) {
        match to_json(&v) {
            Some(bytes) => prop_assert_eq!(decode_json(&bytes).unwrap(), v),
            None => prop_assert!(!json_compatible(&v)),
        }
    }

    #[test]
    fn broadcasts_round_trip(uid in name(), packet in packet(), opts in opts()) {
        let msg = Broadcast { uid, packet, opts };
        prop_assert_eq!(Broadcast::decode(&msg.encode()).unwrap(), msg);
    }

    #[test]
    fn requests_round_trip(req in request()) {
        let (_, bytes) = req.encode();
        prop_assert_eq!(Request::decode(&bytes).unwrap(), req);
    }

    #[test]
    fn responses_round_trip(resp in response()) {
        let (_, bytes) = resp.encode();
        prop_assert_eq!(Response::decode(&bytes).unwrap(), resp);
    }

    #[test]
    fn cluster_messages_round_trip(msg in cluster_message()) {
        let (encoding, bytes) = msg.encode();
        prop_assert_eq!(encoding == Encoding::Json, json_compatible(&msg.to_value()));
        prop_assert_eq!(ClusterMessage::decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..200)) {
        let _ = Broadcast::decode(&bytes);
        let _ = Request::decode(&bytes);
        let _ = Response::decode(&bytes);
        let _ = ClusterMessage::decode(&bytes);
        if let Ok(v) = decode_msgpack(&bytes) {
            // Whatever decodes re-decodes the same from its canonical bytes.
            prop_assert_eq!(decode_msgpack(&to_msgpack(&v)).ok().map(|w| to_msgpack(&w)), Some(to_msgpack(&v)));
        }
    }

    #[test]
    fn damaged_messages_never_panic(msg in cluster_message(), cut in any::<prop::sample::Index>(), flip in any::<u8>()) {
        let (_, mut bytes) = msg.encode();
        let at = cut.index(bytes.len());
        bytes[at] ^= flip;
        let _ = ClusterMessage::decode(&bytes);
        let _ = ClusterMessage::decode(&bytes[..at]);
        let _ = Request::decode(&bytes[..at]);
    }

    /// Any interleaving of issues, responses, departures and timeouts ends every request
    /// exactly once, and nothing is pending after the last deadline.
    #[test]
    fn every_request_completes_once(ops in vec((0u8..5, 0usize..8, 0u64..3000), 1..60)) {
        let t0 = origin();
        let mut t = RequestTracker::new(3, 6);
        let nodes = ["a", "b", "c"];
        let mut issued: Vec<String> = Vec::new();
        let mut completed: Vec<String> = Vec::new();
        let mut now = t0;
        for (op, n, ms) in ops {
            match op {
                0 => {
                    let expected = match n % 3 {
                        0 => Expected::Count(n % 4),
                        1 => Expected::Nodes(nodes[..n % 4].iter().map(|s| s.to_string()).collect()),
                        _ => Expected::UntilDeadline,
                    };
                    if let Ok(id) = t.issue(now, Duration::from_millis(ms), expected) {
                        issued.push(id);
                    }
                }
                1 if !issued.is_empty() => {
                    let id = issued[n % issued.len()].clone();
                    if let ResponseOutcome::Completed(c) = t.on_response(&id, Some(nodes[n % 3]), n) {
                        completed.push(c.request_id);
                    }
                }
                2 => completed.extend(t.node_gone(nodes[n % 3]).into_iter().map(|c| c.request_id)),
                _ => {
                    now += Duration::from_millis(ms);
                    if let Some(deadline) = t.poll_timeout() {
                        prop_assert!(t.handle_timeout(deadline - Duration::from_nanos(1)).is_empty() || deadline <= now);
                    }
                    completed.extend(t.handle_timeout(now).into_iter().map(|c| c.request_id));
                }
            }
        }
        completed.extend(t.handle_timeout(now + Duration::from_secs(10)).into_iter().map(|c| c.request_id));
        prop_assert!(t.is_empty());
        prop_assert_eq!(t.poll_timeout(), None);
        let mut a = issued.clone();
        a.sort();
        let mut b = completed.clone();
        b.sort();
        prop_assert_eq!(a, b);
    }
}

#[test]
fn options_carry_the_excepted_socket_as_its_room() {
    use sio_proto::cluster::BroadcastOptions;
    use sio_proto::rooms::BroadcastFilter;
    let f = BroadcastFilter::<String>::all()
        .to("a")
        .except("b")
        .without("s1".to_owned());
    let o = BroadcastOptions::from_filter(&f);
    assert_eq!(o.rooms, vec!["a".to_owned()]);
    assert_eq!(o.except, vec!["b".to_owned(), "s1".to_owned()]);
    let back: BroadcastFilter<String> = o.to_filter();
    assert_eq!(back.rooms.len(), 1);
    assert_eq!(back.except.len(), 2);
    assert_eq!(back.except_socket, None);
}

#[test]
fn volatile_and_timeout_become_nodes_flags() {
    use sio_proto::cluster::BroadcastOptions;
    let plain = BroadcastOptions::default().volatile(false).timeout(None);
    assert_eq!(plain.flags, None);
    let o = BroadcastOptions::default()
        .volatile(true)
        .timeout(Some(std::time::Duration::from_millis(1500)));
    let flags = o.flags.expect("flags");
    assert_eq!(flags.volatile(), Some(true));
    assert_eq!(flags.timeout_ms(), Some(1500));
}

#[test]
fn node_ids_are_six_characters() {
    let id = sio_proto::cluster::node_uid(&[7; 32]);
    assert_eq!(id.len(), 6);
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
}
