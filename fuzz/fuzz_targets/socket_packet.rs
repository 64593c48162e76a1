//! Socket.IO packet text codec: `socket::packet::decode_text`.
//!
//! Input: the first byte sets `max_attachments` (0..=15), the rest is the Socket.IO text.
//! Invariants when decoding succeeds:
//! * a non-binary packet announces no attachment; a binary one at most the limit; the decoded
//!   packet holds no attachment yet;
//! * `encode_text_into` then `decode_text` gives an equal packet and the same count (the
//!   encoder writes `/` as no namespace and numbers without leading zeros, so the text may
//!   differ from the input, but re-encoding the re-decoded packet gives the same text); the
//!   full `encode()` is `4` + that text plus one binary frame per attachment;
//! * `event_name()` is `Some` exactly for events, never a reserved name, and matches the first
//!   element when the payload parses as JSON;
//! * `value()` and `args::<Vec<Value>>()` do not panic, and `args` agrees with the parsed JSON
//!   array for events and acks;
//! * Node's payload rules for the control packets: a CONNECT payload is absent or a JSON object,
//!   a CONNECT_ERROR payload a JSON string or object, a DISCONNECT has none (not even a space).
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sio_proto::socket::packet::{decode_text, DecodeLimits, RESERVED_EVENTS};
use sio_proto::socket::{Packet, PacketKind};

fn encode_text(p: &Packet) -> Bytes {
    let mut out = BytesMut::new();
    p.encode_text_into(&mut out);
    out.freeze()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let limits = DecodeLimits {
        max_attachments: usize::from(sel & 15),
        ..DecodeLimits::default()
    };
    let text = Bytes::copy_from_slice(rest);
    let Ok((mut p, n)) = decode_text(text, &limits) else {
        return;
    };

    assert!(p.attachments.is_empty(), "attachments before reassembly");
    if p.kind.is_binary() {
        assert!(
            n <= limits.max_attachments,
            "{n} attachments over the limit"
        );
    } else {
        assert_eq!(n, 0, "non-binary packet announced attachments");
    }
    assert!(p.nsp.starts_with('/'), "namespace {:?} without /", p.nsp);
    assert!(!p.nsp.contains(','), "namespace {:?} with ,", p.nsp);
    assert!(p
        .id
        .is_none_or(|id| id <= sio_proto::socket::packet::MAX_ACK_ID));
    match p.kind {
        PacketKind::Connect if !p.data.is_empty() => {
            let v: Value = serde_json::from_slice(&p.data).expect("CONNECT payload is JSON");
            assert!(v.is_object(), "CONNECT payload {v}");
        }
        PacketKind::ConnectError => {
            let v: Value = serde_json::from_slice(&p.data).expect("CONNECT_ERROR payload is JSON");
            assert!(v.is_object() || v.is_string(), "CONNECT_ERROR payload {v}");
        }
        PacketKind::Disconnect => assert!(p.data.is_empty(), "DISCONNECT with {:?}", p.data),
        _ => {}
    }
    match p.kind {
        PacketKind::Ack | PacketKind::BinaryAck => assert!(p.id.is_some(), "ack without id"),
        PacketKind::Connect | PacketKind::Disconnect | PacketKind::ConnectError => {
            assert!(p.id.is_none(), "{:?} with an id", p.kind)
        }
        _ => {}
    }

    // No panics on the application-facing accessors, before attachments arrive.
    let _ = p.value();
    let _ = p.args::<Vec<Value>>();
    let _ = p.arg_values();
    let _ = p.args::<(String, u64)>();

    // The attachments as reassembly would leave them.
    p.attachments = (0..n).map(|i| Bytes::from(vec![i as u8; i])).collect();

    // Text round trip.
    let t1 = encode_text(&p);
    let (mut p2, n2) = decode_text(t1.clone(), &limits).expect("encoded packet must decode");
    assert_eq!(n2, n, "attachment count changed: {t1:?}");
    p2.attachments = p.attachments.clone();
    assert_eq!(p2, p, "decode(encode(p)) != p for {t1:?}");
    assert_eq!(encode_text(&p2), t1, "text encoding is not canonical");

    // Engine.IO frames.
    let enc = p.encode();
    assert_eq!(enc.text[0], b'4');
    assert_eq!(&enc.text[1..], &t1[..]);
    assert_eq!(enc.socket_text(), &t1[..]);
    assert_eq!(enc.frame_count(), 1 + n);
    assert_eq!(enc.frames().count(), enc.frame_count());
    assert_eq!(enc.attachments, p.attachments);

    // Event name.
    let name = p.event_name();
    assert_eq!(
        name.is_some(),
        p.kind.is_event(),
        "event_name() for {:?}",
        p.kind
    );
    if let Some(name) = &name {
        assert!(
            !RESERVED_EVENTS.contains(&name.as_ref()),
            "reserved event {name:?} accepted"
        );
    }

    // Full JSON parse: consistent with the shape checks and with `args`.
    let _ = p.value();
    if let Ok(v) = serde_json::from_slice::<Value>(&p.data) {
        match p.kind {
            PacketKind::Event | PacketKind::BinaryEvent => {
                let Value::Array(a) = &v else {
                    panic!("event payload {v} is not an array")
                };
                match &a[0] {
                    Value::String(s) => assert_eq!(name.as_deref(), Some(s.as_str())),
                    Value::Number(_) => {}
                    other => panic!("event name {other} accepted"),
                }
                let args: Vec<Value> = p.arg_values().expect("args of a valid JSON event");
                assert_eq!(args, a[1..].to_vec());
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                let Value::Array(a) = &v else {
                    panic!("ack payload {v} is not an array")
                };
                let args: Vec<Value> = p.arg_values().expect("args of a valid JSON ack");
                assert_eq!(&args, a);
            }
            PacketKind::Connect => assert!(v.is_object(), "CONNECT payload {v}"),
            PacketKind::ConnectError => {
                assert!(v.is_object() || v.is_string(), "CONNECT_ERROR payload {v}")
            }
            PacketKind::Disconnect => panic!("DISCONNECT with payload {v}"),
        }
    }
});
