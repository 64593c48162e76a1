//! Engine.IO packet codec: `Packet::decode` of one websocket frame.
//!
//! Input: the first byte picks the frame kind (even: text, odd: binary), the rest is the frame.
//! Invariants when decoding succeeds:
//! * `decode(encode(p)) == p`, and the encoding is canonical (`encode` of that is the same);
//! * the encoding is the input frame itself, except for `close`/`upgrade`/`noop`, whose
//!   trailing data is dropped;
//! * a binary frame is a binary message, as is;
//! * the frame survives a one-frame long-polling payload;
//! * an `open` packet whose JSON is a valid handshake round-trips through `OpenData`.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_proto::engine::packet::{decode_payload, encode_payload, OpenData};
use sio_proto::engine::{Frame, Message, Packet};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let bytes = Bytes::copy_from_slice(rest);
    let frame = if sel & 1 == 0 {
        Frame::Text(bytes.clone())
    } else {
        Frame::Binary(bytes.clone())
    };
    let Ok(p) = Packet::decode(frame.clone()) else {
        // Only empty text frames and unknown type digits are errors.
        assert!(matches!(frame, Frame::Text(_)));
        assert!(
            rest.is_empty() || !(b'0'..=b'6').contains(&rest[0]),
            "valid type digit refused: {rest:?}"
        );
        return;
    };

    let encoded = p.encode();
    let again = Packet::decode(encoded.clone()).expect("encoded packet must decode");
    assert_eq!(again, p, "decode(encode(p)) != p");
    assert_eq!(again.encode(), encoded, "encoding is not canonical");
    assert_eq!(
        encoded.is_binary(),
        matches!(p, Packet::Message(Message::Binary(_)))
    );
    assert_eq!(
        Some(p.type_id()),
        match &encoded {
            Frame::Text(b) => b.first().copied(),
            Frame::Binary(_) => Some(b'4'),
        }
    );

    match (&frame, &p) {
        (Frame::Binary(b), Packet::Message(Message::Binary(m))) => assert_eq!(b, m),
        (Frame::Binary(_), other) => panic!("binary frame decoded as {other:?}"),
        (Frame::Text(_), Packet::Close | Packet::Upgrade | Packet::Noop) => {
            assert_eq!(encoded.len(), 1);
        }
        (Frame::Text(_), _) => assert_eq!(encoded, frame, "lossy text round trip"),
    }

    // One frame as a long-polling payload. A text frame holding the separator would split.
    let holds_separator = matches!(&encoded, Frame::Text(b) if b.contains(&0x1e));
    if !holds_separator {
        let body = encode_payload([&encoded]);
        let packets = decode_payload(body, 1).expect("one-frame payload must decode");
        assert_eq!(packets, vec![p.clone()]);
    }

    if let Packet::Open(json) = &p {
        if let Ok(open) = OpenData::parse(json) {
            let re = open.to_packet();
            let Packet::Open(json2) = &re else {
                panic!("OpenData::to_packet is not an open packet")
            };
            assert_eq!(OpenData::parse(json2).expect("re-encoded handshake"), open);
        }
    }
});
