//! The MessagePack parser (`sio_proto::socket::msgpack`) on arbitrary bytes. Invariants:
//! * decoding never panics, and what it accepts is a packet in the JSON form that the rest of
//!   the crate takes: binary kinds exactly when there are attachments, within the limits;
//! * an accepted packet encodes to MessagePack that decodes to the same packet (same kind,
//!   namespace, id, attachments, and JSON value);
//! * bytes shaped as a message (an arbitrary value wrapped in `{type, nsp, data, id}`) go the
//!   same way, so that the structured paths are reached, not only the early refusals.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sio_proto::socket::msgpack::{decode, encode};
use sio_proto::socket::packet::DecodeLimits;

#[derive(Debug, Arbitrary)]
struct Input {
    raw: Vec<u8>,
    kind: u8,
    nsp: bool,
    id: Option<u8>,
    data: Vec<u8>,
    max_attachments: u8,
}

fn check(bytes: &[u8], limits: &DecodeLimits) {
    let Ok(p) = decode(bytes, limits) else { return };
    assert_eq!(p.kind.is_binary(), !p.attachments.is_empty());
    assert!(p.attachments.len() <= limits.max_attachments);
    let again = decode(&encode(&p), limits).expect("a re-encoded packet decodes");
    assert_eq!((again.kind, &again.nsp, again.id), (p.kind, &p.nsp, p.id));
    assert_eq!(again.attachments, p.attachments);
    let json = |d: &[u8]| {
        if d.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice::<serde_json::Value>(d).expect("decoded data is JSON")
        }
    };
    assert_eq!(json(&again.data), json(&p.data));
}

fuzz_target!(|input: Input| {
    let limits = DecodeLimits {
        max_attachments: usize::from(input.max_attachments % 8),
        ..DecodeLimits::default()
    };
    check(&input.raw, &limits);
    // {type, nsp, id?, data: <arbitrary bytes as a value>}
    let mut m = vec![0x83 + u8::from(input.id.is_some())];
    m.extend_from_slice(b"\xa4type");
    m.push(input.kind % 6);
    m.extend_from_slice(b"\xa3nsp");
    m.extend_from_slice(if input.nsp { b"\xa1/" } else { b"\xa2/a" });
    if let Some(id) = input.id {
        m.extend_from_slice(b"\xa2id");
        m.push(id & 0x7f);
    }
    m.extend_from_slice(b"\xa4data");
    m.extend_from_slice(&input.data);
    check(&m, &limits);
});
