//! Cluster message codecs: `sio_proto::cluster` (the Redis adapters' wire formats).
//!
//! Input: the first byte picks the decoder (classic broadcast, classic request, classic
//! response, sharded/cluster message, bare MessagePack value, bare JSON value), the rest is
//! the message. Decoding never panics. When it succeeds:
//! * encoding the decoded message and decoding those bytes succeeds, and encoding again gives
//!   the same bytes (the encoders are canonical: a value that changes form on the way, such as
//!   a float 32 or an integral float 64, settles after one trip);
//! * the encoding the encoder reports matches the bytes (JSON starts with `{`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sio_proto::cluster::classic::{Broadcast, Request, Response};
use sio_proto::cluster::sharded::ClusterMessage;
use sio_proto::cluster::value::{decode_json, decode_msgpack, to_json, to_msgpack};
use sio_proto::cluster::Encoding;

fn settles<M: PartialEq + std::fmt::Debug>(
    msg: M,
    encode: impl Fn(&M) -> (Encoding, Vec<u8>),
    decode: impl Fn(&[u8]) -> Option<M>,
) {
    let (encoding, first) = encode(&msg);
    assert_eq!(
        encoding == Encoding::Json,
        first.first() == Some(&b'{'),
        "{encoding:?}"
    );
    let again = decode(&first).expect("an encoded message decodes");
    let (_, second) = encode(&again);
    assert_eq!(first, second, "{msg:?} re-encodes differently");
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    match sel % 6 {
        0 => {
            if let Ok(m) = Broadcast::decode(bytes) {
                settles(
                    m,
                    |m| (Encoding::MsgPack, m.encode()),
                    |b| Broadcast::decode(b).ok(),
                );
            }
        }
        1 => {
            if let Ok(m) = Request::decode(bytes) {
                settles(m, Request::encode, |b| Request::decode(b).ok());
            }
        }
        2 => {
            if let Ok(m) = Response::decode(bytes) {
                settles(m, Response::encode, |b| Response::decode(b).ok());
            }
        }
        3 => {
            if let Ok(m) = ClusterMessage::decode(bytes) {
                settles(m, ClusterMessage::encode, |b| {
                    ClusterMessage::decode(b).ok()
                });
            }
        }
        4 => {
            if let Ok(v) = decode_msgpack(bytes) {
                let first = to_msgpack(&v);
                let again = decode_msgpack(&first).expect("encoded MessagePack decodes");
                assert_eq!(to_msgpack(&again), first);
            }
        }
        _ => {
            if let Ok(v) = decode_json(bytes) {
                let first = to_json(&v).expect("decoded JSON is JSON");
                let again = decode_json(&first).expect("encoded JSON decodes");
                assert_eq!(to_json(&again).as_deref(), Some(first.as_slice()));
            }
        }
    }
});
