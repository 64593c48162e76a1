//! Codec benchmarks on the exact wire vectors of `shared/bench-vectors` (see its README).
//!
//! Run: `cargo bench -p sio-benches --bench codec` (vectors from `SIO_BENCH_VECTORS`, else
//! `<workspace>/../shared/bench-vectors`).
//!
//! Every benchmark is one packet per iteration (the long-polling payload: 10), with
//! `Throughput::Bytes` set to the wire bytes of that packet, so criterion reports MB/s and
//! packets/s = 1 / time (10 / time for the payload; its `*_packets` group reports it directly).
//!
//! Socket.IO decode, cumulative tiers, all from the wire bytes (`Bytes`, as received):
//! - `1_frame`: `decode_text` (header, namespace, ack id, shape checks; the JSON is sliced, not
//!   parsed); for the binary event, a `Decoder` reassembling the text and both attachments.
//! - `2_value`: tier 1 + `Packet::value()` (a `serde_json::Value`; for binary, placeholders
//!   checked against the attachments).
//! - `3_typed`: tier 1 + `Packet::args::<(T,)>()` into serde-derived structs; for binary, the
//!   placeholders are then resolved to the attachments (`Bytes`, shared).
//!
//! Socket.IO encode, from the arguments to the complete wire frames (`EncodedPacket`: `4` +
//! Socket.IO text, plus the attachments as shared `Bytes`):
//! - `*_packet`: `serde_json::to_vec` of `[name, arg]` then `Packet::event`/`ack` + `.encode()`,
//!   the path `sio-proto`'s server takes;
//! - `*_direct`: `write_header` then `serde_json::to_writer` into one `BytesMut`;
//! - `typed_*` from a struct, `value_*` from a `serde_json::Value`.
//!
//! Before timing, each benchmark checks once that it produces the vector: decoders the
//! expected arguments, encoders the exact bytes (or, from a `Value`, whose maps sort their keys,
//! the same packet and JSON value).

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use sio_benches::{fallback, Msg, Order, Upload, UploadWire, Vectors};
use sio_proto::engine::packet::{decode_payload, encode_payload};
use sio_proto::engine::{Frame, Message, Packet as EioPacket};
use sio_proto::socket::packet::{decode_text, write_header, DecodeLimits};
use sio_proto::socket::{Decoder, EncodedPacket, Nsp, Packet, PacketKind};

/// The packet limit given to `decode_payload` (above the 10 of the vector).
const MAX_PAYLOAD_PACKETS: usize = 64;

fn vectors() -> &'static Vectors {
    static V: OnceLock<Vectors> = OnceLock::new();
    V.get_or_init(|| {
        let v = Vectors::load();
        if v.missing.is_empty() {
            let dir = std::fs::canonicalize(&v.dir).unwrap_or_else(|_| v.dir.clone());
            eprintln!("sio-benches: vectors from {}", dir.display());
        }
        v
    })
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30)
}

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

// ---------------------------------------------------------------------------------------------
// Socket.IO decode
// ---------------------------------------------------------------------------------------------

/// The three decode tiers of a packet without attachments. `typed` extracts the arguments from
/// the decoded packet; `expected` is what it must return on the vector.
fn decode_text_tiers<T: PartialEq + std::fmt::Debug>(
    c: &mut Criterion,
    name: &str,
    wire: &Bytes,
    typed: impl Fn(&Packet) -> T,
    expected: Option<T>,
) {
    let limits = DecodeLimits::default();
    // Check once that this decodes the vector.
    let (p, n) = decode_text(wire.clone(), &limits).expect("vector decodes");
    assert_eq!(n, 0, "{name}: no attachments expected");
    let v = p.value().expect("value");
    assert_eq!(
        v,
        serde_json::from_slice::<Value>(&p.data).expect("JSON"),
        "{name}: value"
    );
    let t = typed(&p);
    if let Some(e) = expected {
        assert_eq!(t, e, "{name}: typed arguments");
    }

    let mut g = c.benchmark_group(format!("sio_decode/{name}"));
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("1_frame", |b| {
        b.iter(|| decode_text(black_box(wire.clone()), &limits).expect("decode"))
    });
    g.bench_function("2_value", |b| {
        b.iter(|| {
            let (p, _) = decode_text(black_box(wire.clone()), &limits).expect("decode");
            p.value().expect("value")
        })
    });
    g.bench_function("3_typed", |b| {
        b.iter(|| {
            let (p, _) = decode_text(black_box(wire.clone()), &limits).expect("decode");
            typed(&p)
        })
    });
    g.finish();
}

fn arg<T: DeserializeOwned>(p: &Packet) -> T {
    let (t,): (T,) = p.args().expect("typed arguments");
    t
}

/// Reassembles the binary event from its three frames with `d`.
fn reassemble(d: &mut Decoder, v: &Vectors) -> Packet {
    assert!(d
        .decode_text(black_box(v.binary_header.clone()))
        .expect("header")
        .is_none());
    assert!(d
        .decode_binary(black_box(v.binary_att0.clone()))
        .expect("att0")
        .is_none());
    d.decode_binary(black_box(v.binary_att1.clone()))
        .expect("att1")
        .expect("complete")
}

fn decode_binary_tiers(c: &mut Criterion, v: &Vectors) {
    let name = "binary_2_attachments";
    let mut d = Decoder::default();
    let p = reassemble(&mut d, v);
    assert_eq!(p.kind, PacketKind::BinaryEvent);
    assert_eq!(
        p.attachments,
        vec![v.binary_att0.clone(), v.binary_att1.clone()]
    );
    assert_eq!(
        p.value().expect("value"),
        json!(["upload", {"meta": "x", "a": {"_placeholder": true, "num": 0},
                          "b": {"_placeholder": true, "num": 1}}])
    );
    let u = Upload::from_wire(arg::<UploadWire>(&p), &p.attachments).expect("resolve");
    assert_eq!(
        u,
        Upload {
            meta: "x".into(),
            a: fallback::att0(),
            b: fallback::att1()
        }
    );

    let mut g = c.benchmark_group(format!("sio_decode/{name}"));
    g.throughput(Throughput::Bytes(v.binary_len() as u64));
    g.bench_function("1_frame", |b| b.iter(|| reassemble(&mut d, v)));
    g.bench_function("2_value", |b| {
        b.iter(|| reassemble(&mut d, v).value().expect("value"))
    });
    g.bench_function("3_typed", |b| {
        b.iter(|| {
            let p = reassemble(&mut d, v);
            Upload::from_wire(arg::<UploadWire>(&p), &p.attachments).expect("resolve")
        })
    });
    g.finish();
}

fn sio_decode(c: &mut Criterion) {
    let v = vectors();
    decode_text_tiers(
        c,
        "event_small",
        &v.event_small,
        arg::<String>,
        Some("hello world".to_owned()),
    );
    let (p, _) = decode_text(v.event_custom_nsp_ack.clone(), &DecodeLimits::default())
        .expect("event_custom_nsp_ack decodes");
    assert_eq!((p.nsp.as_str(), p.id), ("/chat", Some(42)));
    decode_text_tiers(
        c,
        "event_custom_nsp_ack",
        &v.event_custom_nsp_ack,
        arg::<Msg>,
        Some(Msg::expected()),
    );
    match &v.event_1k_json {
        Some(w) => decode_text_tiers(c, "event_1k_json", w, arg::<Order>, None),
        None => eprintln!("sio-benches: SKIPPED sio_decode/event_1k_json (vector missing)"),
    }
    decode_text_tiers(
        c,
        "ack_small",
        &v.ack_small,
        arg::<String>,
        Some("ok".to_owned()),
    );
    decode_binary_tiers(c, v);
}

// ---------------------------------------------------------------------------------------------
// Socket.IO encode
// ---------------------------------------------------------------------------------------------

/// Where a packet goes: type, namespace, ack id.
struct Target {
    kind: PacketKind,
    nsp: Nsp,
    id: Option<u64>,
}

/// The server's path: the JSON array into its own buffer, then `Packet::encode`.
fn encode_packet<S: Serialize>(t: &Target, args: &S, attachments: Vec<Bytes>) -> EncodedPacket {
    let data = Bytes::from(serde_json::to_vec(args).expect("serialize"));
    let p = if t.kind.is_ack() {
        Packet::ack(t.nsp.clone(), t.id.expect("ack id"), data, attachments)
    } else {
        Packet::event(t.nsp.clone(), data, t.id, attachments)
    };
    p.encode()
}

/// One buffer: `4`, the header, then the JSON array written in place.
fn encode_direct<S: Serialize>(t: &Target, args: &S, attachments: Vec<Bytes>) -> EncodedPacket {
    let mut out = BytesMut::with_capacity(128);
    out.put_u8(b'4');
    write_header(
        &mut out,
        t.kind,
        &t.nsp,
        t.kind.is_binary().then_some(attachments.len()),
        t.id,
    );
    serde_json::to_writer((&mut out).writer(), args).expect("serialize");
    EncodedPacket {
        text: out.freeze(),
        attachments,
        uncompressed: false,
    }
}

/// How an encoding must match the vector.
#[derive(Clone, Copy)]
enum Check {
    /// Byte for byte.
    Exact,
    /// Same packet header and JSON value (JSON maps from a `Value` sort their keys).
    SameValue,
}

fn check_encoded(label: &str, e: &EncodedPacket, wire: &Bytes, atts: &[Bytes], check: Check) {
    assert_eq!(
        e.text.first(),
        Some(&b'4'),
        "{label}: Engine.IO message prefix"
    );
    assert_eq!(e.attachments, atts, "{label}: attachments");
    match check {
        Check::Exact => assert!(
            e.socket_text() == &wire[..],
            "{label}: wire bytes differ\n  got: {}\n want: {}",
            String::from_utf8_lossy(e.socket_text()),
            String::from_utf8_lossy(wire)
        ),
        Check::SameValue => {
            let limits = DecodeLimits::default();
            let (mut got, n) = decode_text(Bytes::copy_from_slice(e.socket_text()), &limits)
                .unwrap_or_else(|err| panic!("{label}: encoded packet does not decode: {err}"));
            let (mut want, m) = decode_text(wire.clone(), &limits).expect("vector decodes");
            assert_eq!(n, m, "{label}: attachment count");
            got.attachments = atts.to_vec();
            want.attachments = atts.to_vec();
            assert_eq!(
                (got.kind, &got.nsp, got.id),
                (want.kind, &want.nsp, want.id),
                "{label}: header"
            );
            assert_eq!(got.value(), want.value(), "{label}: JSON value");
        }
    }
}

/// The four encode benchmarks of one vector. `typed` and `value` build `(args, attachments)`
/// from the application's argument (inside the timing: for binary, this is where the bytes
/// are swapped for placeholders).
#[allow(clippy::too_many_arguments)]
fn encode_variants<A: Serialize, B: Serialize>(
    g: &mut Group<'_>,
    name: &str,
    t: &Target,
    wire: &Bytes,
    atts: &[Bytes],
    typed: impl Fn() -> (A, Vec<Bytes>),
    value: impl Fn() -> (B, Vec<Bytes>),
    value_check: Check,
) {
    type Enc<X> = fn(&Target, &X, Vec<Bytes>) -> EncodedPacket;
    let typed_encs: [(&str, Enc<A>); 2] = [
        ("typed_packet", encode_packet::<A>),
        ("typed_direct", encode_direct::<A>),
    ];
    for (id, enc) in typed_encs {
        let (a, at) = typed();
        check_encoded(
            &format!("{name}/{id}"),
            &enc(t, &a, at),
            wire,
            atts,
            Check::Exact,
        );
        g.bench_function(id, |b| {
            b.iter(|| {
                let (a, at) = typed();
                enc(t, black_box(&a), at)
            })
        });
    }
    let value_encs: [(&str, Enc<B>); 2] = [
        ("value_packet", encode_packet::<B>),
        ("value_direct", encode_direct::<B>),
    ];
    for (id, enc) in value_encs {
        let (a, at) = value();
        check_encoded(
            &format!("{name}/{id}"),
            &enc(t, &a, at),
            wire,
            atts,
            value_check,
        );
        g.bench_function(id, |b| {
            b.iter(|| {
                let (a, at) = value();
                enc(t, black_box(&a), at)
            })
        });
    }
}

fn sio_encode(c: &mut Criterion) {
    let v = vectors();
    let root_event = Target {
        kind: PacketKind::Event,
        nsp: Nsp::ROOT,
        id: None,
    };

    // event_small: emit("chat", "hello world").
    {
        let wire = &v.event_small;
        let arg = String::from("hello world");
        let val = Value::from("hello world");
        let mut g = c.benchmark_group("sio_encode/event_small");
        g.throughput(Throughput::Bytes(wire.len() as u64));
        encode_variants(
            &mut g,
            "event_small",
            &root_event,
            wire,
            &[],
            || (("chat", black_box(&arg)), vec![]),
            || (("chat", black_box(&val)), vec![]),
            Check::Exact,
        );
        g.finish();
    }

    // event_custom_nsp_ack: to "/chat", emit("message", {user, text, ts}) with ack id 42.
    {
        let wire = &v.event_custom_nsp_ack;
        let t = Target {
            kind: PacketKind::Event,
            nsp: Nsp::new("/chat").expect("nsp"),
            id: Some(42),
        };
        let arg = Msg::expected();
        let val = json!({"user": "alice", "text": "hi", "ts": 1_700_000_000_000u64});
        let mut g = c.benchmark_group("sio_encode/event_custom_nsp_ack");
        g.throughput(Throughput::Bytes(wire.len() as u64));
        encode_variants(
            &mut g,
            "event_custom_nsp_ack",
            &t,
            wire,
            &[],
            || (("message", black_box(&arg)), vec![]),
            || (("message", black_box(&val)), vec![]),
            Check::SameValue,
        );
        g.finish();
    }

    // event_1k_json: emit("update", order).
    match &v.event_1k_json {
        Some(wire) => {
            let (p, _) = decode_text(wire.clone(), &DecodeLimits::default()).expect("decode");
            let order: Order = arg(&p);
            let order_value: Value = arg(&p);
            let mut g = c.benchmark_group("sio_encode/event_1k_json");
            g.throughput(Throughput::Bytes(wire.len() as u64));
            encode_variants(
                &mut g,
                "event_1k_json",
                &root_event,
                wire,
                &[],
                || (("update", black_box(&order)), vec![]),
                || (("update", black_box(&order_value)), vec![]),
                Check::SameValue,
            );
            g.finish();
        }
        None => eprintln!("sio-benches: SKIPPED sio_encode/event_1k_json (vector missing)"),
    }

    // ack_small: ack id 7 answered with ("ok").
    {
        let wire = &v.ack_small;
        let t = Target {
            kind: PacketKind::Ack,
            nsp: Nsp::ROOT,
            id: Some(7),
        };
        let arg = String::from("ok");
        let val = Value::from("ok");
        let mut g = c.benchmark_group("sio_encode/ack_small");
        g.throughput(Throughput::Bytes(wire.len() as u64));
        encode_variants(
            &mut g,
            "ack_small",
            &t,
            wire,
            &[],
            || ((black_box(&arg),), vec![]),
            || ((black_box(&val),), vec![]),
            Check::Exact,
        );
        g.finish();
    }

    // binary: emit("upload", {meta: "x", a: <1024 bytes>, b: <16 bytes>}).
    {
        let wire = &v.binary_header;
        let atts = [v.binary_att0.clone(), v.binary_att1.clone()];
        let t = Target {
            kind: PacketKind::BinaryEvent,
            nsp: Nsp::ROOT,
            id: None,
        };
        let arg = Upload {
            meta: "x".into(),
            a: atts[0].clone(),
            b: atts[1].clone(),
        };
        // A `Value` cannot hold bytes: the placeholders are already in it, the attachments
        // travel beside it.
        let val = json!({"meta": "x", "a": {"_placeholder": true, "num": 0},
                         "b": {"_placeholder": true, "num": 1}});
        let mut g = c.benchmark_group("sio_encode/binary_2_attachments");
        g.throughput(Throughput::Bytes(v.binary_len() as u64));
        encode_variants(
            &mut g,
            "binary_2_attachments",
            &t,
            wire,
            &atts,
            || {
                let (w, at) = black_box(&arg).to_wire();
                (("upload", w), at)
            },
            || (("upload", black_box(&val)), atts.to_vec()),
            Check::SameValue,
        );
        g.finish();
    }
}

// ---------------------------------------------------------------------------------------------
// Engine.IO
// ---------------------------------------------------------------------------------------------

fn eio(c: &mut Criterion) {
    let v = vectors();

    // Long-polling payload of 10 messages.
    let body = &v.eio_payload_10msg;
    let expected: Vec<EioPacket> = (0..10)
        .map(|i| EioPacket::Message(Message::text(fallback::eio_message(i))))
        .collect();
    assert_eq!(
        decode_payload(body.clone(), MAX_PAYLOAD_PACKETS).expect("payload"),
        expected,
        "eio payload decodes to the 10 messages"
    );
    let frames: Vec<Frame> = expected.iter().map(EioPacket::encode).collect();
    assert_eq!(
        encode_payload(&frames),
        *body,
        "eio payload encodes to the vector"
    );
    // Bytes, then the same benchmarks again with packets/s (10 per iteration).
    for (group, tp) in [
        ("eio/payload_10msg", Throughput::Bytes(body.len() as u64)),
        ("eio/payload_10msg_packets", Throughput::Elements(10)),
    ] {
        let mut g = c.benchmark_group(group);
        g.throughput(tp);
        g.bench_function("decode", |b| {
            b.iter(|| decode_payload(black_box(body.clone()), MAX_PAYLOAD_PACKETS).expect("decode"))
        });
        g.bench_function("encode", |b| b.iter(|| encode_payload(black_box(&frames))));
        g.finish();
    }

    // One websocket text frame: `4` + event_small.
    let sio = v.event_small.clone();
    let mut ws = BytesMut::with_capacity(1 + sio.len());
    ws.put_u8(b'4');
    ws.extend_from_slice(&sio);
    let ws = ws.freeze();
    assert_eq!(
        EioPacket::decode(Frame::Text(ws.clone())).expect("frame"),
        EioPacket::Message(Message::Text(sio.clone()))
    );
    assert_eq!(
        EioPacket::Message(Message::Text(sio.clone())).encode(),
        Frame::Text(ws.clone())
    );
    let mut g = c.benchmark_group("eio/ws_text_frame");
    g.throughput(Throughput::Bytes(ws.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| EioPacket::decode(Frame::Text(black_box(ws.clone()))).expect("decode"))
    });
    g.bench_function("encode", |b| {
        b.iter(|| EioPacket::Message(Message::Text(black_box(sio.clone()))).encode())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = sio_decode, sio_encode, eio
}
criterion_main!(benches);
