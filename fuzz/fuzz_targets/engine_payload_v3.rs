//! Engine.IO v3 framing: long-polling payloads (text and binary) and websocket frames.
//!
//! Input: the first byte sets the packet limit (0..=31, 255: unlimited) and, with its bit 5,
//! whether the rest is fed as a websocket frame (binary when bit 6 is set) instead of a
//! payload. Invariants:
//! * decoding never panics; at most `limit` packets reach the callback, before any error;
//! * on success, re-encoding the packets' frames as a text payload and as a binary payload
//!   (what a client without and with binary support gets) and decoding again gives the same
//!   packets; a binary payload is chosen only when a packet is binary;
//! * a decoded websocket frame re-encodes (`ws_frame`, for clients with and without binary
//!   support) to a frame that decodes the same.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_proto::engine::v3::{decode_payload_with, decode_ws_frame, encode_payload, ws_frame};
use sio_proto::engine::Frame;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let body = Bytes::copy_from_slice(rest);
    if sel & 0x20 != 0 {
        let frame = if sel & 0x40 != 0 {
            Frame::Binary(body)
        } else {
            Frame::Text(body)
        };
        if let Ok(p) = decode_ws_frame(frame) {
            for binary in [false, true] {
                let again =
                    decode_ws_frame(ws_frame(p.encode(), binary)).expect("re-encoded frame");
                assert_eq!(again, p);
            }
        }
        return;
    }
    let limit = if sel == 255 {
        usize::MAX
    } else {
        usize::from(sel & 31)
    };
    let mut packets = Vec::new();
    let result = decode_payload_with(body, limit, |p| packets.push(p));
    assert!(
        packets.len() <= limit,
        "{} packets over {limit}",
        packets.len()
    );
    if result.is_err() {
        return;
    }
    let frames: Vec<Frame> = packets.iter().map(|p| p.encode()).collect();
    for binary in [false, true] {
        let (body2, is_binary) = encode_payload(&frames, binary);
        assert_eq!(is_binary, binary && frames.iter().any(Frame::is_binary));
        if frames.is_empty() {
            assert!(body2.is_empty());
            continue;
        }
        let mut again = Vec::new();
        decode_payload_with(body2, usize::MAX, |p| again.push(p)).expect("re-encoded payload");
        assert_eq!(again, packets);
    }
});
