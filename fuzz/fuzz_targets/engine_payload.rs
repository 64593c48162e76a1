//! Engine.IO long-polling payloads: `decode_payload(body, limit)`.
//!
//! Input: the first byte sets the packet limit (0..=31, 255: unlimited), the rest is the body.
//! Invariants:
//! * `decode_payload` and `decode_payload_with` agree (same packets, same result; the
//!   streaming form hands out exactly the packets before the first error);
//! * on success: at most `limit` packets; re-encoding the packets' frames with
//!   `encode_payload` and decoding again gives the same packets; the re-encoding is canonical
//!   and its length is the sum of `payload_frame_len` plus separators.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_proto::engine::packet::{
    decode_payload, decode_payload_with, encode_payload, payload_frame_len,
};
use sio_proto::engine::Frame;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let limit = if sel == 255 {
        usize::MAX
    } else {
        usize::from(sel & 31)
    };
    let body = Bytes::copy_from_slice(rest);

    let result = decode_payload(body.clone(), limit);
    let mut streamed = Vec::new();
    let streamed_result = decode_payload_with(body.clone(), limit, |p| streamed.push(p));
    match (&result, &streamed_result) {
        (Ok(packets), Ok(())) => assert_eq!(packets, &streamed),
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            // The packets before the error were valid on their own.
            assert!(streamed.len() <= limit);
        }
        _ => panic!("decode_payload {result:?} vs decode_payload_with {streamed_result:?}"),
    }
    let Ok(packets) = result else {
        return;
    };

    assert!(!packets.is_empty(), "an Ok payload has at least one packet");
    assert!(
        packets.len() <= limit,
        "{} packets over the limit {limit}",
        packets.len()
    );
    assert_eq!(
        packets.len(),
        body.iter().filter(|&&c| c == 0x1e).count() + 1,
        "one packet per segment"
    );

    let frames: Vec<Frame> = packets.iter().map(|p| p.encode()).collect();
    let body2 = encode_payload(&frames);
    let expected_len: usize =
        frames.iter().map(payload_frame_len).sum::<usize>() + frames.len() - 1;
    assert_eq!(
        body2.len(),
        expected_len,
        "payload_frame_len disagrees with the encoder"
    );

    let packets2 = decode_payload(body2.clone(), limit).expect("re-encoded payload must decode");
    assert_eq!(packets2, packets, "payload round trip changed the packets");
    let frames2: Vec<Frame> = packets2.iter().map(|p| p.encode()).collect();
    assert_eq!(
        encode_payload(&frames2),
        body2,
        "payload encoding is not canonical"
    );
});
