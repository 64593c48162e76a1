//! Golden vectors: the examples of the protocol documents (`docs/engine.io-protocol/
//! v4-current.md` and `docs/socket.io-protocol/v5-current.md` in `socketio/socket.io`).
//! Each vector is checked both ways: the packet encodes to exactly these bytes, and these
//! bytes decode to exactly this packet.

use bytes::{Bytes, BytesMut};
use sio_proto::engine::packet::{decode_payload, encode_payload};
use sio_proto::engine::{Frame, Message, OpenData, Packet as EnginePacket};
use sio_proto::socket::{Decoder, Nsp, Packet, PacketKind};

// ----- helpers -----

fn nsp(name: &str) -> Nsp {
    Nsp::new(name).unwrap()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Encodes `packet` and checks the Socket.IO text, the Engine.IO text frame (`4` + text) and
/// the attachment frames.
fn assert_encodes(packet: &Packet, text: &str, attachments: &[&[u8]]) {
    let mut out = BytesMut::new();
    packet.encode_text_into(&mut out);
    assert_eq!(std::str::from_utf8(&out).unwrap(), text);

    let enc = packet.encode();
    assert_eq!(enc.text, Bytes::from(format!("4{text}")));
    assert_eq!(enc.socket_text(), text.as_bytes());
    let expected: Vec<Frame> = std::iter::once(Frame::Text(b(&format!("4{text}"))))
        .chain(
            attachments
                .iter()
                .map(|a| Frame::Binary(Bytes::copy_from_slice(a))),
        )
        .collect();
    assert_eq!(enc.frames().collect::<Vec<_>>(), expected);
    assert_eq!(enc.frame_count(), 1 + attachments.len());
}

/// Decodes `text` plus `attachments` with a fresh [`Decoder`] and checks the packet.
fn assert_decodes(text: &str, attachments: &[&[u8]], expected: &Packet) {
    let mut d = Decoder::default();
    let mut got = d.decode_text(b(text)).unwrap();
    for (i, a) in attachments.iter().enumerate() {
        assert_eq!(got, None, "complete before attachment {i}");
        got = d.decode_binary(Bytes::copy_from_slice(a)).unwrap();
    }
    assert_eq!(got.as_ref(), Some(expected));
    assert!(!d.is_reassembling());
}

fn golden(packet: Packet, text: &str, attachments: &[&[u8]]) {
    assert_encodes(&packet, text, attachments);
    assert_decodes(text, attachments, &packet);
}

// ----- Socket.IO v5, "Packet encoding" examples -----

#[test]
fn socket_connect_main_namespace() {
    golden(Packet::connect(Nsp::ROOT, None), "0", &[]);
}

#[test]
fn socket_connect_custom_namespace_with_sid() {
    golden(
        Packet::connect(nsp("/admin"), Some(b(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#))),
        r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
        &[],
    );
}

#[test]
fn socket_connect_error() {
    golden(
        Packet::connect_error(Nsp::ROOT, "Not authorized", None),
        r#"4{"message":"Not authorized"}"#,
        &[],
    );
}

#[test]
fn socket_event_main_namespace() {
    golden(
        Packet::event(Nsp::ROOT, b(r#"["foo"]"#), None, vec![]),
        r#"2["foo"]"#,
        &[],
    );
}

#[test]
fn socket_event_custom_namespace() {
    golden(
        Packet::event(nsp("/admin"), b(r#"["bar"]"#), None, vec![]),
        r#"2/admin,["bar"]"#,
        &[],
    );
}

#[test]
fn socket_binary_event_one_attachment() {
    let p = Packet::event(
        Nsp::ROOT,
        b(r#"["baz",{"_placeholder":true,"num":0}]"#),
        None,
        vec![Bytes::from_static(&[1, 2, 3, 4])],
    );
    assert_eq!(p.kind, PacketKind::BinaryEvent);
    golden(
        p,
        r#"51-["baz",{"_placeholder":true,"num":0}]"#,
        &[&[1, 2, 3, 4]],
    );
}

#[test]
fn socket_binary_event_two_attachments_custom_namespace() {
    golden(
        Packet::event(
            nsp("/admin"),
            b(r#"["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            None,
            vec![Bytes::from_static(&[1, 2]), Bytes::from_static(&[3, 4])],
        ),
        r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        &[&[1, 2], &[3, 4]],
    );
}

#[test]
fn socket_event_with_ack_id() {
    golden(
        Packet::event(Nsp::ROOT, b(r#"["foo"]"#), Some(12), vec![]),
        r#"212["foo"]"#,
        &[],
    );
}

#[test]
fn socket_ack_custom_namespace() {
    golden(
        Packet::ack(nsp("/admin"), 13, b(r#"["bar"]"#), vec![]),
        r#"3/admin,13["bar"]"#,
        &[],
    );
}

#[test]
fn socket_binary_ack() {
    let p = Packet::ack(
        Nsp::ROOT,
        15,
        b(r#"["bar",{"_placeholder":true,"num":0}]"#),
        vec![Bytes::from_static(&[1, 2, 3, 4])],
    );
    assert_eq!(p.kind, PacketKind::BinaryAck);
    golden(
        p,
        r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
        &[&[1, 2, 3, 4]],
    );
}

#[test]
fn socket_disconnect_main_namespace() {
    golden(Packet::disconnect(Nsp::ROOT), "1", &[]);
}

#[test]
fn socket_disconnect_custom_namespace() {
    golden(Packet::disconnect(nsp("/admin")), "1/admin,", &[]);
}

// ----- Socket.IO v5, "Sample session" -----

#[test]
fn sample_session_binary_ack_frame() {
    // `461-/admin,1[{"_placeholder":true,"num":0}]`: an Engine.IO message whose data is a
    // Socket.IO BINARY_ACK, followed by its attachment in the next frame.
    let frame = Frame::Text(b(r#"461-/admin,1[{"_placeholder":true,"num":0}]"#));
    let EnginePacket::Message(Message::Text(text)) = EnginePacket::decode(frame.clone()).unwrap()
    else {
        panic!("not a text message")
    };
    let expected = Packet::ack(
        nsp("/admin"),
        1,
        b(r#"[{"_placeholder":true,"num":0}]"#),
        vec![Bytes::from_static(b"\x01\x02")],
    );
    let mut d = Decoder::default();
    assert_eq!(d.decode_text(text).unwrap(), None);
    assert_eq!(
        d.decode_binary(Bytes::from_static(b"\x01\x02")).unwrap(),
        Some(expected.clone())
    );
    assert_eq!(expected.encode().frames().next(), Some(frame));
}

#[test]
fn sample_session_namespace_connect_and_grant() {
    golden(Packet::connect(Nsp::ROOT, None), "0", &[]);
    golden(
        Packet::connect(Nsp::ROOT, Some(b(r#"{"sid":"wZX3oN0bSVIhsaknAAAI"}"#))),
        r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
        &[],
    );
    golden(Packet::connect(nsp("/admin"), None), "0/admin,", &[]);
    golden(
        Packet::connect(nsp("/admin"), Some(b(r#"{"sid":"-G5j-67EZFp-q59rADQM"}"#))),
        r#"0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}"#,
        &[],
    );
}

#[test]
fn sample_session_event_with_ack_on_custom_namespace() {
    golden(
        Packet::event(nsp("/admin"), b(r#"["tellme"]"#), Some(1), vec![]),
        r#"2/admin,1["tellme"]"#,
        &[],
    );
}

#[test]
fn sample_session_two_events_in_one_post() {
    let body = b("42[\"hello\"]\x1e42[\"world\"]");
    let packets = decode_payload(body.clone(), 16).unwrap();
    assert_eq!(
        packets,
        vec![
            EnginePacket::Message(Message::text(r#"2["hello"]"#)),
            EnginePacket::Message(Message::text(r#"2["world"]"#)),
        ]
    );
    let hello = Packet::event(Nsp::ROOT, b(r#"["hello"]"#), None, vec![]).encode();
    let world = Packet::event(Nsp::ROOT, b(r#"["world"]"#), None, vec![]).encode();
    let frames: Vec<Frame> = hello.frames().chain(world.frames()).collect();
    assert_eq!(encode_payload(&frames), body);
}

#[test]
fn sample_session_server_emit_with_argument() {
    // `socket.emit('hey', 'Jude')` on the server: `42["hey","Jude"]` on the wire.
    let p = Packet::event(Nsp::ROOT, b(r#"["hey","Jude"]"#), None, vec![]);
    golden(p.clone(), r#"2["hey","Jude"]"#, &[]);
    assert_eq!(p.event_name().as_deref(), Some("hey"));
    let (arg,): (String,) = p.args().unwrap();
    assert_eq!(arg, "Jude");
}

// ----- Engine.IO v4 -----

#[test]
fn engine_payload_with_ping_between_messages() {
    let body = b("4hello\x1e2\x1e4world");
    let packets = vec![
        EnginePacket::Message(Message::text("hello")),
        EnginePacket::Ping(Bytes::new()),
        EnginePacket::Message(Message::text("world")),
    ];
    assert_eq!(decode_payload(body.clone(), 16).unwrap(), packets);
    let frames: Vec<Frame> = packets.iter().map(EnginePacket::encode).collect();
    assert_eq!(encode_payload(&frames), body);
}

#[test]
fn engine_payload_with_binary_as_base64() {
    let body = b("4hello\x1ebAQIDBA==");
    let packets = vec![
        EnginePacket::Message(Message::text("hello")),
        EnginePacket::Message(Message::binary(vec![1u8, 2, 3, 4])),
    ];
    assert_eq!(decode_payload(body.clone(), 16).unwrap(), packets);
    let frames: Vec<Frame> = packets.iter().map(EnginePacket::encode).collect();
    assert_eq!(encode_payload(&frames), body);
}

#[test]
fn engine_websocket_message_frame() {
    let frame = Frame::Text(b("4hello"));
    let packet = EnginePacket::Message(Message::text("hello"));
    assert_eq!(EnginePacket::decode(frame.clone()).unwrap(), packet);
    assert_eq!(packet.encode(), frame);
}

#[test]
fn engine_websocket_binary_frame_is_sent_as_is() {
    let frame = Frame::Binary(Bytes::from_static(&[1, 2, 3, 4]));
    let packet = EnginePacket::Message(Message::binary(vec![1u8, 2, 3, 4]));
    assert_eq!(EnginePacket::decode(frame.clone()).unwrap(), packet);
    assert_eq!(packet.encode(), frame);
}

#[test]
fn engine_open_packet_example() {
    let doc_json = r#"{
  "sid": "lv_VI97HAXpY6yYWAAAC",
  "upgrades": ["websocket"],
  "pingInterval": 25000,
  "pingTimeout": 20000,
  "maxPayload": 1000000
}"#;
    let data = OpenData {
        sid: "lv_VI97HAXpY6yYWAAAC".into(),
        upgrades: vec!["websocket".into()],
        ping_interval: 25_000,
        ping_timeout: 20_000,
        max_payload: 1_000_000,
    };
    assert_eq!(OpenData::parse(doc_json.as_bytes()).unwrap(), data);
    let wire = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    assert_eq!(data.to_packet().encode(), Frame::Text(b(wire)));
    assert_eq!(
        EnginePacket::decode(Frame::Text(b(wire))).unwrap(),
        data.to_packet()
    );
}

#[test]
fn engine_sample_session_open_packet() {
    let wire = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#;
    let EnginePacket::Open(json) = EnginePacket::decode(Frame::Text(b(wire))).unwrap() else {
        panic!("not an open packet")
    };
    let data = OpenData::parse(&json).unwrap();
    assert_eq!(data.ping_timeout, 5_000);
    assert_eq!(data.to_packet().encode(), Frame::Text(b(wire)));
}

#[test]
fn engine_probe_ping_frame() {
    let packet = EnginePacket::Ping(b("probe"));
    assert_eq!(packet.encode(), Frame::Text(b("2probe")));
    assert_eq!(
        EnginePacket::decode(Frame::Text(b("2probe"))).unwrap(),
        packet
    );
}

#[test]
fn engine_probe_pong_frame() {
    let packet = EnginePacket::Pong(b("probe"));
    assert_eq!(packet.encode(), Frame::Text(b("3probe")));
    assert_eq!(
        EnginePacket::decode(Frame::Text(b("3probe"))).unwrap(),
        packet
    );
}

#[test]
fn engine_upgrade_frame() {
    assert_eq!(EnginePacket::Upgrade.encode(), Frame::Text(b("5")));
    assert_eq!(
        EnginePacket::decode(Frame::Text(b("5"))).unwrap(),
        EnginePacket::Upgrade
    );
}

#[test]
fn engine_heartbeat_and_close_frames() {
    for (wire, packet) in [
        ("2", EnginePacket::Ping(Bytes::new())),
        ("3", EnginePacket::Pong(Bytes::new())),
        ("1", EnginePacket::Close),
        ("6", EnginePacket::Noop),
    ] {
        assert_eq!(packet.encode(), Frame::Text(b(wire)), "{wire}");
        assert_eq!(EnginePacket::decode(Frame::Text(b(wire))).unwrap(), packet);
    }
}
