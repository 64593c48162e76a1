//! The default (JSON) parser: ours and socketioxide's (`socketioxide-parser-common`), in the
//! same run, on the text packets of `shared/bench-vectors` (the same wire text for both).
//!
//! Run: `cargo bench -p sio-benches --bench json`.
//!
//! Per case, one packet per iteration:
//! - `json_decode/<case>/{ours,socketioxide}`: from the packet text to the typed argument a
//!   handler gets (`(T,)`);
//! - `json_value/<case>/{ours,socketioxide}`: from the packet text to a `serde_json::Value`
//!   argument;
//! - `json_encode/<case>/{ours,socketioxide}`: from the typed argument to the packet text
//!   (ours: the Engine.IO message, `4` + the packet, as it goes out).
//!
//! Before timing, each case checks that both decoders give the expected argument, and that
//! each encoder's text decodes to it with the other's decoder.

#[path = "common/cases.rs"]
mod cases;

use std::hint::black_box;

use bytes::Bytes;
use cases::{case, config, ours_json, side_by_side, sx_packet, Case};
use criterion::{criterion_group, criterion_main, Criterion};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;
use sio_benches::{Msg, Order, Vectors};
use sio_proto::socket::packet::{decode_text, DecodeLimits};
use sio_proto::socket::Nsp;
use socketioxide_core::packet::PacketData;
use socketioxide_core::parser::{Parse, ParseConfig, ParserState};
use socketioxide_core::{Str, Value as SxValue};
use socketioxide_parser_common::CommonParser;

fn ours_decode<T: DeserializeOwned>(wire: &Bytes, limits: &DecodeLimits) -> T {
    let (p, _) = decode_text(black_box(wire.clone()), limits).expect("decode");
    let (t,): (T,) = p.args().expect("typed");
    t
}

fn sx_decode<T: DeserializeOwned>(wire: &Str, cfg: &ParseConfig, st: &ParserState) -> T {
    let p = CommonParser
        .decode_str(cfg, st, black_box(wire.clone()))
        .expect("decode");
    let (mut v, event) = match p.inner {
        PacketData::Event(v, _) => (v, true),
        PacketData::EventAck(v, _) => (v, false),
        _ => panic!("not an event or ack"),
    };
    let (t,): (T,) = CommonParser.decode_value(&mut v, event).expect("typed");
    t
}

fn ours_encode<T: Serialize>(c: &Case<T>, nsp: &Nsp) -> Bytes {
    ours_json(c, nsp).text
}

fn sx_encode<T: Serialize>(c: &Case<T>) -> Str {
    let v = CommonParser
        .encode_value(&(&c.arg,), c.event)
        .expect("encode");
    let p = sx_packet(c, v);
    match CommonParser.encode(p) {
        SxValue::Str(s, _) => s,
        other => panic!("not text: {other:?}"),
    }
}

fn str_of(b: &Bytes) -> Str {
    String::from_utf8(b.to_vec()).expect("UTF-8").into()
}

fn bench_case<T>(cr: &mut Criterion, c: Case<T>, wire: Bytes)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let limits = DecodeLimits::default();
    let cfg = ParseConfig::default();
    let st = ParserState::default();
    let nsp = Nsp::new(c.nsp).expect("nsp");
    let sx_wire = str_of(&wire);
    assert_eq!(ours_decode::<T>(&wire, &limits), c.arg, "{}: ours", c.name);
    assert_eq!(
        sx_decode::<T>(&sx_wire, &cfg, &st),
        c.arg,
        "{}: socketioxide",
        c.name
    );
    let value: Json = ours_decode(&wire, &limits);
    assert_eq!(
        sx_decode::<Json>(&sx_wire, &cfg, &st),
        value,
        "{}: value",
        c.name
    );
    let ours = ours_encode(&c, &nsp);
    let theirs = sx_encode(&c);
    assert_eq!(
        // Ours is the Engine.IO message (`4` + the packet).
        sx_decode::<T>(&str_of(&ours.slice(1..)), &cfg, &st),
        c.arg,
        "{}: ours read back",
        c.name
    );
    assert_eq!(
        ours_decode::<T>(&Bytes::from(theirs.as_str().to_owned()), &limits),
        c.arg,
        "{}: theirs read back",
        c.name
    );

    side_by_side(
        cr,
        format!("json_decode/{}", c.name),
        wire.len(),
        || {
            black_box(ours_decode::<T>(&wire, &limits));
        },
        || {
            black_box(sx_decode::<T>(&sx_wire, &cfg, &st));
        },
    );
    side_by_side(
        cr,
        format!("json_value/{}", c.name),
        wire.len(),
        || {
            black_box(ours_decode::<Json>(&wire, &limits));
        },
        || {
            black_box(sx_decode::<Json>(&sx_wire, &cfg, &st));
        },
    );
    side_by_side(
        cr,
        format!("json_encode/{}", c.name),
        wire.len(),
        || {
            black_box(ours_encode(black_box(&c), &nsp));
        },
        || {
            black_box(sx_encode(black_box(&c)));
        },
    );
}

fn benches(cr: &mut Criterion) {
    let v = Vectors::load();
    let small = "hello world".to_owned();
    bench_case(
        cr,
        case("event_small", "/", Some("chat"), None, small),
        v.event_small.clone(),
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
        v.event_custom_nsp_ack.clone(),
    );
    if let Some(w) = &v.event_1k_json {
        let order: Order = ours_decode(w, &DecodeLimits::default());
        bench_case(
            cr,
            case("event_1k_json", "/", Some("update"), None, order),
            w.clone(),
        );
    }
    bench_case(
        cr,
        case("ack_small", "/", None, Some(7), "ok".to_owned()),
        v.ack_small.clone(),
    );
}

criterion_group! {
    name = json_benches;
    config = config();
    targets = benches
}
criterion_main!(json_benches);
