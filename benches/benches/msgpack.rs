//! The MessagePack parser (`socket.io-msgpack-parser`): ours and socketioxide's
//! (`socketioxide-parser-msgpack`), in the same run, on the packets of `shared/bench-vectors`
//! carried as MessagePack (the same wire bytes for both).
//!
//! Run: `cargo bench -p sio-benches --bench msgpack`.
//!
//! Per case, one packet per iteration:
//! - `decode/<case>/{ours,socketioxide}`: from the wire bytes to the typed arguments a handler
//!   gets (`(T,)`, binary values as `bytes::Bytes`).
//! - `encode/<case>/{ours,socketioxide}`: from the typed arguments to the wire bytes. Ours is
//!   the path a server or client takes: the payload codec's JSON form, converted
//!   (`Parser::MsgPack.convert`).
//!
//! Before timing, each case checks that both decoders give the expected arguments from the
//! wire bytes, and that each encoder's bytes decode to them with the other's decoder.

#[path = "common/cases.rs"]
mod cases;

use std::hint::black_box;

use bytes::Bytes;
use cases::{case, config, ours_json, side_by_side, sx_packet, Case};
use criterion::{criterion_group, criterion_main, Criterion};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sio_benches::{fallback, Msg, Order, Vectors};
use sio_proto::socket::msgpack::{self, Parser};
use sio_proto::socket::packet::{decode_text, DecodeLimits};
use sio_proto::socket::{Nsp, Packet};
use socketioxide_core::packet::PacketData;
use socketioxide_core::parser::{Parse, ParseConfig, ParserState};
use socketioxide_parser_msgpack::MsgPackParser;

/// The binary event's argument with its binary values in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UploadBin {
    meta: String,
    a: Bytes,
    b: Bytes,
}

fn ours_decode<T: DeserializeOwned>(wire: &Bytes, limits: &DecodeLimits) -> T {
    let p = msgpack::decode(black_box(wire), limits).expect("decode");
    let (t,): (T,) = p.args().expect("typed");
    t
}

fn sx_decode<T: DeserializeOwned>(wire: &Bytes, cfg: &ParseConfig, st: &ParserState) -> T {
    let p = MsgPackParser
        .decode_bin(cfg, st, black_box(wire.clone()))
        .expect("decode");
    let (mut v, event) = match p.inner {
        PacketData::Event(v, _) | PacketData::BinaryEvent(v, _) => (v, true),
        PacketData::EventAck(v, _) | PacketData::BinaryAck(v, _) => (v, false),
        _ => panic!("not an event or ack"),
    };
    let (t,): (T,) = MsgPackParser.decode_value(&mut v, event).expect("typed");
    t
}

fn ours_encode<T: Serialize>(c: &Case<T>, nsp: &Nsp) -> Bytes {
    let json = ours_json(c, nsp);
    let wire = Parser::MsgPack.convert(&json).expect("convert");
    wire.attachments[0].clone()
}

fn sx_encode<T: Serialize>(c: &Case<T>) -> Bytes {
    let v = MsgPackParser
        .encode_value(&(&c.arg,), c.event)
        .expect("encode");
    let p = sx_packet(c, v);
    match MsgPackParser.encode(p) {
        socketioxide_core::Value::Bytes(b) => b,
        other => panic!("not binary: {other:?}"),
    }
}

fn bench_case<T>(cr: &mut Criterion, c: Case<T>, json_wire: Packet)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let limits = DecodeLimits::default();
    let cfg = ParseConfig::default();
    let st = ParserState::default();
    let nsp = Nsp::new(c.nsp).expect("nsp");
    // The vector, as MessagePack.
    let wire = msgpack::encode(&json_wire);
    assert_eq!(ours_decode::<T>(&wire, &limits), c.arg, "{}: ours", c.name);
    assert_eq!(
        sx_decode::<T>(&wire, &cfg, &st),
        c.arg,
        "{}: socketioxide",
        c.name
    );
    let ours = ours_encode(&c, &nsp);
    let sx = sx_encode(&c);
    assert_eq!(
        sx_decode::<T>(&ours, &cfg, &st),
        c.arg,
        "{}: ours read back",
        c.name
    );
    assert_eq!(
        ours_decode::<T>(&sx, &limits),
        c.arg,
        "{}: theirs read back",
        c.name
    );

    side_by_side(
        cr,
        format!("msgpack_decode/{}", c.name),
        wire.len(),
        || {
            black_box(ours_decode::<T>(&wire, &limits));
        },
        || {
            black_box(sx_decode::<T>(&wire, &cfg, &st));
        },
    );
    side_by_side(
        cr,
        format!("msgpack_encode/{}", c.name),
        wire.len(),
        || {
            black_box(ours_encode(black_box(&c), &nsp));
        },
        || {
            black_box(sx_encode(black_box(&c)));
        },
    );
}

fn text_packet(wire: &Bytes) -> Packet {
    decode_text(wire.clone(), &DecodeLimits::default())
        .expect("vector decodes")
        .0
}

fn benches(cr: &mut Criterion) {
    let v = Vectors::load();
    bench_case(
        cr,
        case(
            "event_small",
            "/",
            Some("chat"),
            None,
            "hello world".to_owned(),
        ),
        text_packet(&v.event_small),
    );
    bench_case(
        cr,
        case(
            "event_custom_nsp_ack",
            "/chat",
            Some("message"),
            Some(42),
            Msg::expected(),
        ),
        text_packet(&v.event_custom_nsp_ack),
    );
    if let Some(w) = &v.event_1k_json {
        let p = text_packet(w);
        let (order,): (Order,) = p.args().expect("order");
        bench_case(
            cr,
            case("event_1k_json", "/", Some("update"), None, order),
            p,
        );
    }
    bench_case(
        cr,
        case("ack_small", "/", None, Some(7), "ok".to_owned()),
        text_packet(&v.ack_small),
    );
    let mut binary = text_packet(&v.binary_header);
    binary.attachments = vec![v.binary_att0.clone(), v.binary_att1.clone()];
    bench_case(
        cr,
        case(
            "binary_2_attachments",
            "/",
            Some("upload"),
            None,
            UploadBin {
                meta: "x".into(),
                a: fallback::att0(),
                b: fallback::att1(),
            },
        ),
        binary,
    );
}

criterion_group! {
    name = msgpack_benches;
    config = config();
    targets = benches
}
criterion_main!(msgpack_benches);
