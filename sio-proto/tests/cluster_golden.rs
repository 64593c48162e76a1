//! The messages the npm adapters published (recorded by `tests/js/cluster-vectors/record.js`
//! into `fixtures/cluster/vectors.json`): each decodes to the expected typed form and
//! re-encodes to Node's bytes.

use sio_proto::cluster::channel::{self, ClassicChannel, ShardedChannel, SubscriptionMode};
use sio_proto::cluster::classic::{
    Broadcast, Request, RequestBody, Response, ResponseBody, Target,
};
use sio_proto::cluster::sharded::{ClusterBody, ClusterMessage};
use sio_proto::cluster::{Encoding, Value, EMITTER_UID};

const KEY: &str = "socket.io";

struct Vector {
    family: String,
    step: String,
    channel: String,
    bytes: Vec<u8>,
}

struct Fixture {
    meta: serde_json::Value,
    vectors: Vec<Vector>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/cluster/vectors.json");
    let json: serde_json::Value = serde_json::from_str(text).unwrap();
    let vectors = json["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            family: v["family"].as_str().unwrap().to_owned(),
            step: v["step"].as_str().unwrap().to_owned(),
            channel: v["channel"].as_str().unwrap().to_owned(),
            bytes: hex(v["hex"].as_str().unwrap()),
        })
        .collect();
    Fixture {
        meta: json["meta"].clone(),
        vectors,
    }
}

impl Fixture {
    fn step(&self, family: &str, step: &str) -> Vec<&Vector> {
        let found: Vec<_> = self
            .vectors
            .iter()
            .filter(|v| v.family == family && v.step == step)
            .collect();
        assert!(!found.is_empty(), "no vector for {family}/{step}");
        found
    }

    fn meta(&self, family: &str, name: &str) -> String {
        self.meta[family][name].as_str().unwrap().to_owned()
    }
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn broadcast(v: &Vector) -> Broadcast {
    let msg = Broadcast::decode(&v.bytes).unwrap();
    assert_eq!(
        channel::broadcast_for(KEY, msg.packet.nsp.as_deref().unwrap(), &msg.opts.rooms),
        v.channel
    );
    msg
}

fn request(v: &Vector) -> Request {
    assert!(matches!(
        channel::parse_classic(KEY, &v.channel),
        Some(ClassicChannel::Request { nsp: "/" })
    ));
    Request::decode(&v.bytes).unwrap()
}

fn response(v: &Vector) -> Response {
    assert!(matches!(
        channel::parse_classic(KEY, &v.channel),
        Some(
            ClassicChannel::Response { nsp: "/" }
                | ClassicChannel::SpecificResponse { nsp: "/", .. }
        )
    ));
    Response::decode(&v.bytes).unwrap()
}

fn cluster(v: &Vector) -> ClusterMessage {
    ClusterMessage::decode(&v.bytes).unwrap()
}

/// Every vector decodes by its channel, and re-encodes to the same bytes, except the
/// emitter's broadcasts (it writes `flags` before `except`), which re-encode to bytes that
/// decode the same.
#[test]
fn every_vector_round_trips() {
    let fx = fixture();
    let mut byte_equal = 0;
    let mut decode_equal = Vec::new();
    for v in &fx.vectors {
        let (again, same) = match v.family.as_str() {
            "classic" => match channel::parse_classic(KEY, &v.channel).unwrap() {
                ClassicChannel::Broadcast { .. } | ClassicChannel::Room { .. } => {
                    let msg = Broadcast::decode(&v.bytes).unwrap();
                    let again = msg.encode();
                    let same = Broadcast::decode(&again).unwrap() == msg;
                    (again, same)
                }
                ClassicChannel::Request { .. } => {
                    let msg = Request::decode(&v.bytes).unwrap();
                    let (encoding, again) = msg.encode();
                    assert_eq!(encoding == Encoding::Json, v.bytes[0] == b'{', "{}", v.step);
                    let same = Request::decode(&again).unwrap() == msg;
                    (again, same)
                }
                ClassicChannel::Response { .. } | ClassicChannel::SpecificResponse { .. } => {
                    let msg = Response::decode(&v.bytes).unwrap();
                    let (encoding, again) = msg.encode();
                    assert_eq!(encoding == Encoding::Json, v.bytes[0] == b'{', "{}", v.step);
                    let same = Response::decode(&again).unwrap() == msg;
                    (again, same)
                }
            },
            "sharded" | "heartbeat" => {
                let key = if v.family == "sharded" {
                    KEY
                } else {
                    "socket.io-hb"
                };
                assert!(
                    channel::parse_sharded(key, &v.channel).is_some(),
                    "{}",
                    v.channel
                );
                let msg = ClusterMessage::decode(&v.bytes).unwrap();
                let (encoding, again) = msg.encode();
                assert_eq!(encoding == Encoding::Json, v.bytes[0] == b'{', "{}", v.step);
                let same = ClusterMessage::decode(&again).unwrap() == msg;
                (again, same)
            }
            other => panic!("unknown family {other}"),
        };
        assert!(
            same,
            "{}/{}: re-encoded bytes decode differently",
            v.family, v.step
        );
        if again == v.bytes {
            byte_equal += 1;
        } else {
            decode_equal.push(v.step.as_str());
        }
    }
    decode_equal.sort_unstable();
    assert_eq!(
        decode_equal,
        [
            "emitter_binary",
            "emitter_broadcast",
            "emitter_namespace",
            "emitter_room",
            "emitter_rooms_except_flags"
        ]
    );
    assert!(byte_equal >= 50, "{byte_equal} byte-equal vectors");
}

#[test]
fn classic_broadcasts() {
    let fx = fixture();
    let uid1 = fx.meta("classic", "uid1");

    let msg = broadcast(fx.step("classic", "broadcast_all")[0]);
    assert_eq!(msg.uid, uid1);
    assert_eq!(msg.packet.kind, 2);
    assert_eq!(msg.packet.nsp.as_deref(), Some("/"));
    assert_eq!(msg.packet.id, None);
    let four = Value::Array(vec![
        Value::F64(4.5),
        Value::from(-6),
        Value::Nil,
        Value::Boolean(true),
    ]);
    let object = Value::Map(vec![(s("three"), Value::from(3)), (s("four"), four)]);
    assert_eq!(
        msg.packet.data,
        Value::Array(vec![s("hello"), Value::from(1), s("two"), object])
    );
    assert!(msg.opts.rooms.is_empty() && msg.opts.except.is_empty());
    assert_eq!(msg.opts.flags.as_ref().map(|f| f.0.len()), Some(0));

    let v = fx.step("classic", "broadcast_room")[0];
    assert_eq!(
        channel::parse_classic(KEY, &v.channel),
        Some(ClassicChannel::Room {
            nsp: "/",
            room: "room1"
        })
    );
    assert_eq!(broadcast(v).opts.rooms, strings(&["room1"]));

    let msg = broadcast(fx.step("classic", "broadcast_rooms_except")[0]);
    assert_eq!(msg.opts.rooms, strings(&["room1", "room2"]));
    assert_eq!(msg.opts.except, strings(&["room3"]));

    let flags = broadcast(fx.step("classic", "broadcast_volatile_compress")[0])
        .opts
        .flags
        .unwrap();
    assert_eq!(
        (flags.volatile(), flags.compress(), flags.local()),
        (Some(true), Some(false), None)
    );

    let msg = broadcast(fx.step("classic", "broadcast_binary")[0]);
    let nested = Value::Map(vec![
        (s("nested"), Value::Binary(vec![4])),
        (s("text"), s("x")),
    ]);
    assert_eq!(
        msg.packet.data,
        Value::Array(vec![s("bin"), Value::Binary(vec![1, 2, 3]), nested])
    );

    let v = fx.step("classic", "broadcast_namespace")[0];
    assert_eq!(
        channel::parse_classic(KEY, &v.channel),
        Some(ClassicChannel::Room {
            nsp: "/admin",
            room: "room1"
        })
    );
    assert_eq!(broadcast(v).packet.nsp.as_deref(), Some("/admin"));
}

#[test]
fn classic_broadcast_with_acks() {
    let fx = fixture();
    let uid1 = fx.meta("classic", "uid1");
    let vs = fx.step("classic", "broadcast_with_ack");
    let req = request(vs[0]);
    assert_eq!(req.uid.as_deref(), Some(uid1.as_str()));
    let id = req.request_id.clone().unwrap();
    let RequestBody::Broadcast { packet, opts } = req.body else {
        panic!("{req:?}")
    };
    assert_eq!(packet.data, Value::Array(vec![s("ack-me"), s("x")]));
    assert_eq!(opts.flags.unwrap().timeout_ms(), Some(1000));
    assert_eq!(vs[0].bytes[0], 0x85, "a BROADCAST request is MessagePack");
    // Server 2 answers on server 1's own channel: how many clients, then each ack.
    let specific = channel::specific_response(KEY, "/", &uid1);
    let mut acks = 0;
    for v in &vs[1..] {
        assert_eq!(v.channel, specific);
        let resp = response(v);
        assert_eq!(resp.request_id, id);
        match resp.body {
            ResponseBody::BroadcastClientCount(n) => assert_eq!(n, 2),
            ResponseBody::BroadcastAck(packet) => {
                acks += 1;
                assert_eq!(packet, Value::Map(vec![(s("got"), s("x"))]));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(acks, 2);
}

#[test]
fn classic_requests_and_responses() {
    let fx = fixture();
    let uid1 = fx.meta("classic", "uid1");

    let vs = fx.step("classic", "all_rooms");
    let req = request(vs[0]);
    assert_eq!(req.body, RequestBody::AllRooms);
    let resp = response(vs[1]);
    assert_eq!(Some(resp.request_id.clone()), req.request_id);
    let ResponseBody::Rooms(rooms) = resp.body else {
        panic!()
    };
    assert!(rooms.contains(&"room1".to_owned()));

    let vs = fx.step("classic", "fetch_sockets");
    let req = request(vs[0]);
    let RequestBody::RemoteFetch { opts } = &req.body else {
        panic!()
    };
    assert_eq!(
        (opts.rooms.clone(), opts.except.clone(), opts.flags.clone()),
        (strings(&["room1"]), strings(&["room9"]), None)
    );
    let resp = response(vs[1]);
    assert_eq!(Some(resp.request_id.clone()), req.request_id);
    let sockets = resp.fetched_sockets().unwrap();
    assert_eq!(sockets.len(), 2);
    for socket in &sockets {
        assert!(socket.rooms.contains(&socket.id) && socket.rooms.contains(&"room1".to_owned()));
        assert_eq!(socket.data, Value::Map(vec![(s("name"), s("user"))]));
        let Value::Map(handshake) = &socket.handshake else {
            panic!()
        };
        assert!(handshake.iter().any(|(k, _)| k.as_str() == Some("headers")));
    }

    let req = request(fx.step("classic", "sockets_join")[0]);
    assert_eq!(
        (req.uid.as_deref(), req.request_id.as_deref()),
        (Some(uid1.as_str()), None)
    );
    let RequestBody::RemoteJoin {
        target: Target::Sockets(opts),
        rooms,
    } = req.body
    else {
        panic!()
    };
    assert_eq!(
        (opts.rooms, rooms),
        (strings(&["room1"]), strings(&["room4", "room5"]))
    );

    let req = request(fx.step("classic", "sockets_leave")[0]);
    let RequestBody::RemoteLeave {
        target: Target::Sockets(opts),
        rooms,
    } = req.body
    else {
        panic!()
    };
    assert_eq!(
        (opts.rooms, rooms),
        (strings(&["room4"]), strings(&["room4"]))
    );

    let req = request(fx.step("classic", "disconnect_sockets")[0]);
    let RequestBody::RemoteDisconnect {
        target: Target::Sockets(opts),
        close: true,
    } = req.body
    else {
        panic!()
    };
    assert_eq!(opts.rooms, strings(&["nobody"]));

    let req = request(fx.step("classic", "server_side_emit")[0]);
    assert_eq!(req.request_id, None);
    assert_eq!(
        req.body,
        RequestBody::ServerSideEmit {
            data: vec![s("ping"), Value::from(1), s("a")]
        }
    );

    for (step, arg, requester) in [
        ("server_side_emit_ack", "q", "uid1"),
        ("server_side_emit_ack_specific", "r", "uid2"),
    ] {
        let vs = fx.step("classic", step);
        let req = request(vs[0]);
        assert_eq!(req.uid, Some(fx.meta("classic", requester)));
        assert_eq!(
            req.body,
            RequestBody::ServerSideEmit {
                data: vec![s("pong"), s(arg)]
            }
        );
        // Node answers server-side emits on the common channel whatever the option says.
        assert_eq!(vs[1].channel, channel::response(KEY, "/"));
        let resp = response(vs[1]);
        assert_eq!(Some(resp.request_id.clone()), req.request_id);
        assert_eq!(
            resp.body,
            ResponseBody::ServerSideEmit(Value::Map(vec![(s("answer"), s(arg))]))
        );
    }
}

#[test]
fn classic_legacy_requests() {
    let fx = fixture();
    let c2 = fx.meta("classic", "c2");
    let c3 = fx.meta("classic", "c3");

    let vs = fx.step("classic", "legacy_sockets");
    let req = request(vs[0]);
    assert_eq!(
        req.body,
        RequestBody::Sockets {
            rooms: strings(&["room1"])
        }
    );
    let mut ids = Vec::new();
    for v in &vs[1..] {
        let resp = response(v);
        assert_eq!(resp.request_id, "req-sockets");
        ids.extend(resp.socket_ids().unwrap());
    }
    assert!(ids.contains(&c2) && ids.contains(&c3));
    // Server 1 answers on the common channel, server 2 on the requester's own.
    let channels: Vec<_> = vs[1..].iter().map(|v| v.channel.as_str()).collect();
    assert!(channels.contains(&"socket.io-response#/#"));
    assert!(channels.contains(&"socket.io-response#/#recorder#"));

    for (step, id) in [
        ("legacy_remote_join", "req-join"),
        ("legacy_remote_leave", "req-leave"),
    ] {
        let vs = fx.step("classic", step);
        let req = request(vs[0]);
        let (RequestBody::RemoteJoin { target, rooms }
        | RequestBody::RemoteLeave { target, rooms }) = req.body
        else {
            panic!()
        };
        assert_eq!(
            (target, rooms),
            (Target::Socket(c2.clone()), strings(&["room6"]))
        );
        assert_eq!(
            response(vs[1]),
            Response {
                request_id: id.to_owned(),
                body: ResponseBody::Done
            }
        );
    }

    let vs = fx.step("classic", "legacy_remote_disconnect");
    assert_eq!(
        request(vs[0]).body,
        RequestBody::RemoteDisconnect {
            target: Target::Socket(c3),
            close: false
        }
    );
    assert_eq!(response(vs[1]).body, ResponseBody::Done);
}

#[test]
fn emitter_messages() {
    let fx = fixture();
    let msg = broadcast(fx.step("classic", "emitter_broadcast")[0]);
    assert_eq!(msg.uid, EMITTER_UID);
    assert_eq!(
        msg.packet.data,
        Value::Array(vec![s("from-emitter"), Value::from(1), s("a")])
    );

    let v = fx.step("classic", "emitter_room")[0];
    assert_eq!(
        channel::parse_classic(KEY, &v.channel),
        Some(ClassicChannel::Room {
            nsp: "/",
            room: "room1"
        })
    );

    let msg = broadcast(fx.step("classic", "emitter_rooms_except_flags")[0]);
    assert_eq!(
        (msg.opts.rooms, msg.opts.except),
        (strings(&["room1", "room2"]), strings(&["room3"]))
    );
    let flags = msg.opts.flags.unwrap();
    assert_eq!(
        (flags.volatile(), flags.compress()),
        (Some(true), Some(true))
    );

    let msg = broadcast(fx.step("classic", "emitter_binary")[0]);
    assert_eq!(
        msg.packet.data,
        Value::Array(vec![s("from-emitter"), Value::Binary(vec![9, 8])])
    );

    let msg = broadcast(fx.step("classic", "emitter_namespace")[0]);
    assert_eq!(msg.packet.nsp.as_deref(), Some("/admin"));

    let req = request(fx.step("classic", "emitter_sockets_join")[0]);
    assert_eq!(
        (req.uid.as_deref(), req.request_id.as_deref()),
        (None, None)
    );
    let RequestBody::RemoteJoin {
        target: Target::Sockets(opts),
        rooms,
    } = req.body
    else {
        panic!()
    };
    assert_eq!(
        (opts.rooms, rooms),
        (strings(&["room1"]), strings(&["room7"]))
    );

    let req = request(fx.step("classic", "emitter_sockets_leave")[0]);
    assert!(matches!(
        req.body,
        RequestBody::RemoteLeave {
            target: Target::Sockets(_),
            ..
        }
    ));

    let req = request(fx.step("classic", "emitter_disconnect_sockets")[0]);
    assert!(matches!(
        req.body,
        RequestBody::RemoteDisconnect {
            target: Target::Sockets(_),
            close: false
        }
    ));

    let req = request(fx.step("classic", "emitter_server_side_emit")[0]);
    assert_eq!(req.uid.as_deref(), Some(EMITTER_UID));
    assert_eq!(
        req.body,
        RequestBody::ServerSideEmit {
            data: vec![s("ping"), Value::Map(vec![(s("from"), s("emitter"))])]
        }
    );
}

#[test]
fn sharded_messages() {
    let fx = fixture();
    let uid3 = fx.meta("sharded", "uid3");
    let uid4 = fx.meta("sharded", "uid4");
    let c4 = fx.meta("sharded", "c4");
    let mode = SubscriptionMode::Dynamic;

    for step in [
        "broadcast_all",
        "broadcast_room",
        "broadcast_socket_room",
        "broadcast_rooms_except_flags",
        "broadcast_binary",
    ] {
        let v = fx.step("sharded", step)[0];
        let msg = cluster(v);
        assert_eq!((msg.uid.as_str(), msg.nsp.as_str()), (uid3.as_str(), "/"));
        assert_eq!(
            channel::sharded_publish(KEY, &msg, mode),
            v.channel,
            "{step}"
        );
        let ClusterBody::Broadcast {
            packet,
            request_id: None,
            opts,
        } = msg.body
        else {
            panic!("{step}")
        };
        assert_eq!((packet.kind, packet.nsp), (2, None));
        match step {
            "broadcast_room" => assert_eq!(opts.rooms, strings(&["room1"])),
            "broadcast_socket_room" => assert_eq!(opts.rooms, vec![c4.clone()]),
            "broadcast_rooms_except_flags" => {
                assert_eq!(opts.except, strings(&["room3"]));
                let flags = opts.flags.unwrap();
                assert_eq!(
                    (flags.volatile(), flags.compress()),
                    (Some(true), Some(false))
                );
            }
            "broadcast_binary" => {
                assert_eq!(v.bytes[0], 0x84, "binary data: MessagePack");
                assert_eq!(
                    packet.data,
                    Value::Array(vec![s("bin"), Value::Binary(vec![1, 2, 3])])
                );
            }
            _ => assert!(opts.rooms.is_empty()),
        }
    }
    let v = fx.step("sharded", "broadcast_room")[0];
    assert_eq!(
        channel::parse_sharded(KEY, &v.channel),
        Some(ShardedChannel::Sub {
            nsp: "/",
            name: "room1"
        })
    );

    let vs = fx.step("sharded", "broadcast_with_ack");
    let msg = cluster(vs[0]);
    assert_eq!(channel::sharded_publish(KEY, &msg, mode), vs[0].channel);
    let id = msg.body.request_id().unwrap().to_owned();
    let ClusterBody::Broadcast { opts, .. } = &msg.body else {
        panic!()
    };
    assert_eq!(opts.flags.as_ref().unwrap().timeout_ms(), Some(1000));
    for v in &vs[1..] {
        assert_eq!(v.channel, channel::sharded_sub(KEY, "/", &uid3));
        let resp = cluster(v);
        assert_eq!(
            (resp.uid.as_str(), resp.body.request_id()),
            (uid4.as_str(), Some(id.as_str()))
        );
        assert!(resp.body.is_response());
        match resp.body {
            ClusterBody::BroadcastClientCount { client_count, .. } => assert_eq!(client_count, 1),
            ClusterBody::BroadcastAck { packet, .. } => {
                assert_eq!(packet, Value::Map(vec![(s("got"), s("x"))]))
            }
            other => panic!("{other:?}"),
        }
    }

    let ClusterBody::SocketsJoin { opts, rooms } =
        cluster(fx.step("sharded", "sockets_join")[0]).body
    else {
        panic!()
    };
    assert_eq!(
        (opts.rooms, rooms),
        (strings(&["room1"]), strings(&["room4"]))
    );
    let ClusterBody::SocketsLeave { rooms, .. } =
        cluster(fx.step("sharded", "sockets_leave")[0]).body
    else {
        panic!()
    };
    assert_eq!(rooms, strings(&["room4"]));
    let body = cluster(fx.step("sharded", "disconnect_sockets")[0]).body;
    assert!(matches!(
        body,
        ClusterBody::DisconnectSockets { close: true, .. }
    ));

    let vs = fx.step("sharded", "fetch_sockets");
    let ClusterBody::FetchSockets { opts, request_id } = cluster(vs[0]).body else {
        panic!()
    };
    assert_eq!(opts.flags.unwrap().timeout_ms(), Some(300));
    let resp = cluster(vs[1]);
    assert_eq!(resp.body.request_id(), Some(request_id.as_str()));
    let sockets = resp.fetched_sockets().unwrap();
    assert_eq!(sockets.len(), 1);
    assert_eq!(sockets[0].id, c4);

    let body = cluster(fx.step("sharded", "server_side_emit")[0]).body;
    assert_eq!(
        body,
        ClusterBody::ServerSideEmit {
            request_id: None,
            packet: vec![s("ping"), Value::from(1), s("a")]
        }
    );
    let vs = fx.step("sharded", "server_side_emit_ack");
    let ClusterBody::ServerSideEmit {
        request_id: Some(id),
        packet,
    } = cluster(vs[0]).body
    else {
        panic!()
    };
    assert_eq!(packet, vec![s("pong"), s("q")]);
    let expected = ClusterBody::ServerSideEmitResponse {
        request_id: id,
        packet: Value::Map(vec![(s("answer"), s("q"))]),
    };
    assert_eq!(cluster(vs[1]).body, expected);
    let body = cluster(fx.step("sharded", "server_side_emit_binary")[0]).body;
    assert_eq!(
        body,
        ClusterBody::ServerSideEmit {
            request_id: None,
            packet: vec![s("ping"), Value::Binary(vec![7])]
        }
    );
}

#[test]
fn heartbeat_messages() {
    let fx = fixture();
    let uid5 = fx.meta("heartbeat", "uid5");
    let uid6 = fx.meta("heartbeat", "uid6");
    let vs = fx.step("heartbeat", "initial_heartbeat");
    let first = cluster(vs[0]);
    assert_eq!(
        (first.uid, first.body),
        (uid6.clone(), ClusterBody::InitialHeartbeat)
    );
    let answer = cluster(vs[1]);
    assert_eq!((answer.uid, answer.body), (uid5, ClusterBody::Heartbeat));
    let close = cluster(fx.step("heartbeat", "adapter_close")[0]);
    assert_eq!(
        (close.uid, close.nsp, close.body),
        (uid6, "/".to_owned(), ClusterBody::AdapterClose)
    );
}
