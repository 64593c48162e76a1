//! What the parser comparisons (`json.rs`, `msgpack.rs`) share: the criterion settings, the
//! cases, our encoding of a case to its JSON packet form, and socketioxide's packet for it.
//! Included with `#[path]` by each of them.

use std::time::Duration;

use criterion::{Criterion, Throughput};
use serde::Serialize;
use sio_proto::payload;
use sio_proto::socket::{EncodedPacket, Nsp, Packet};
use socketioxide_core::packet::{Packet as SxPacket, PacketData};
use socketioxide_core::Value as SxValue;

pub fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30)
}

/// A case: the packet's namespace, event (`None`: an ack), ack id, and argument.
pub struct Case<T> {
    pub name: &'static str,
    pub nsp: &'static str,
    pub event: Option<&'static str>,
    pub id: Option<u64>,
    pub arg: T,
}

pub fn case<T>(
    name: &'static str,
    nsp: &'static str,
    event: Option<&'static str>,
    id: Option<u64>,
    arg: T,
) -> Case<T> {
    Case {
        name,
        nsp,
        event,
        id,
        arg,
    }
}

/// Our encoding of `c`, in the JSON form every parser starts from.
pub fn ours_json<T: Serialize>(c: &Case<T>, nsp: &Nsp) -> EncodedPacket {
    match c.event {
        Some(e) => payload::encode_event(nsp, e, &(&c.arg,), c.id).expect("encode"),
        None => {
            let (data, atts) = payload::to_payload(None, &(&c.arg,)).expect("encode");
            Packet::ack(nsp.clone(), c.id.expect("ack id"), data, atts).encode()
        }
    }
}

/// socketioxide's packet for `c`, with its encoded arguments `v`.
pub fn sx_packet<T>(c: &Case<T>, v: SxValue) -> SxPacket {
    match (c.event, c.id) {
        (Some(_), id) => {
            let mut p = SxPacket::event(c.nsp, v);
            if let (PacketData::Event(_, ack), Some(id)) = (&mut p.inner, id) {
                *ack = Some(id as i64);
            }
            p
        }
        (None, id) => SxPacket::ack(c.nsp, v, id.expect("ack id") as i64),
    }
}

/// One benchmark group `group` of `bytes`-long packets: ours beside socketioxide's.
pub fn side_by_side<A, B>(cr: &mut Criterion, group: String, bytes: usize, mut ours: A, mut sx: B)
where
    A: FnMut(),
    B: FnMut(),
{
    let mut g = cr.benchmark_group(group);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("ours", |b| b.iter(&mut ours));
    g.bench_function("socketioxide", |b| b.iter(&mut sx));
    g.finish();
}
