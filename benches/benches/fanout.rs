//! Broadcast fan-out through the server's code path: `Namespace::to(..).emit(..)` selects the
//! recipients in the room index, encodes the packet once, and pushes the same bytes into each
//! recipient's connection inbox; then each connection queues it on its session and hands out
//! the websocket frame (`sio_proto::socket::server::Connection`).
//!
//! Groups (throughput = recipients per emit, so "elements/s" is deliveries per second):
//! - `fanout/emit`: one emit to N in-memory sockets (all, or a room of N/10), inboxes drained.
//! - `fanout/encode_per_recipient`: the same number of `encode` calls, the cost a
//!   per-recipient serialisation would add — to compare with the per-recipient cost above.
//! - `fanout/connection_send`: the per-recipient work inside a connection task: queue the
//!   encoded packet on the `Connection` and take the frame out with `poll_transmit`.
//! - `fanout/select`: the recipient selection alone, through the default adapter (the lock
//!   around `sio_proto::rooms::RoomIndex::for_each_recipient`), for 10,000 sockets: everyone
//!   but the sender, a room of a tenth, two overlapping rooms, everyone but a room.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde::Serialize;
use sio::server::bench_support::{attach, Inbox};
use sio::server::{Adapter, InMemoryAdapter, SocketId};
use sio::{BoxFuture, Runtime, Server, ServerConfig};
use sio_proto::engine::server::{EngineConfig, EngineServer};
use sio_proto::engine::TransportKind;
use sio_proto::rooms::BroadcastFilter;
use sio_proto::socket::server::{Connection, ConnectionConfig};
use sio_proto::IdGenerator;

/// A runtime that runs nothing: the bench drives everything by hand.
struct Inert;

impl Runtime for Inert {
    fn spawn(&self, _fut: BoxFuture<()>) {}
    fn sleep_until(&self, _deadline: Instant) -> BoxFuture<()> {
        Box::pin(std::future::pending())
    }
    fn now(&self) -> Instant {
        // The bench never reaches a deadline; a fixed instant keeps it clock-free.
        *START
    }
    fn connect(&self, _h: &str, _p: u16) -> BoxFuture<std::io::Result<sio::runtime::BoxStream>> {
        Box::pin(async { Err(std::io::Error::other("no network in benches")) })
    }
}

static START: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

#[derive(Serialize)]
struct Tick<'a> {
    symbol: &'a str,
    price: f64,
    volume: u64,
}

const TICK: Tick<'static> = Tick {
    symbol: "ACME",
    price: 123.45,
    volume: 1000,
};

/// A 1 KiB argument: the per-recipient cost of a broadcast must not grow with it.
fn big() -> Tick<'static> {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| "x".repeat(1000));
    Tick {
        symbol: TEXT.as_str(),
        price: 1.0,
        volume: 1,
    }
}

fn setup(n: usize) -> (Server, Vec<Inbox>) {
    let server = Server::new(
        Arc::new(Inert),
        ServerConfig {
            seed: Some([7; 32]),
            ..ServerConfig::default()
        },
    );
    let ns = server.of("/");
    let mut inboxes = Vec::with_capacity(n);
    for i in 0..n {
        let (s, inbox) = attach(&ns, &format!("socket-{i:08}"));
        if i % 10 == 0 {
            s.join(["tenth"]);
        }
        inboxes.push(inbox);
    }
    (server, inboxes)
}

fn emit(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout/emit");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    for n in [1_000usize, 10_000] {
        let (server, mut inboxes) = setup(n);
        let ns = server.of("/");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("all", n), &n, |b, _| {
            b.iter(|| {
                ns.emit("tick", &TICK).expect("emit");
                let got: usize = inboxes.iter_mut().map(Inbox::drain).sum();
                assert_eq!(got, n);
            })
        });
        let big = big();
        g.bench_with_input(BenchmarkId::new("all_1KiB", n), &n, |b, _| {
            b.iter(|| {
                ns.emit("tick", &big).expect("emit");
                let got: usize = inboxes.iter_mut().map(Inbox::drain).sum();
                assert_eq!(got, n);
            })
        });
        g.throughput(Throughput::Elements((n / 10) as u64));
        g.bench_with_input(BenchmarkId::new("room_of_tenth", n), &n, |b, _| {
            b.iter(|| {
                ns.to("tenth").emit("tick", &TICK).expect("emit");
                let got: usize = inboxes.iter_mut().map(Inbox::drain).sum();
                assert_eq!(got, n / 10);
            })
        });
    }
    g.finish();
}

fn encode_per_recipient(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout/encode_per_recipient");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    for n in [1_000usize, 10_000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("small", n), &n, |b, &n| {
            b.iter(|| {
                for _ in 0..n {
                    let p = sio::payload::to_payload(Some("tick"), &TICK).expect("encode");
                    std::hint::black_box(p);
                }
            })
        });
        let big = big();
        g.bench_with_input(BenchmarkId::new("1KiB", n), &n, |b, &n| {
            b.iter(|| {
                for _ in 0..n {
                    let p = sio::payload::to_payload(Some("tick"), &big).expect("encode");
                    std::hint::black_box(p);
                }
            })
        });
    }
    g.finish();
}

fn connection_send(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout/connection_send");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    let now = *START;
    let mut router = EngineServer::new(EngineConfig::default(), IdGenerator::from_u64(1));
    let mut conns: Vec<Connection> = (0..1_000)
        .map(|_| {
            let s = router.accept(now, TransportKind::WebSocket, ());
            let mut c = Connection::new(now, s, ConnectionConfig::default());
            while c.poll_transmit().is_some() {}
            c
        })
        .collect();
    let (json, _) = sio::payload::to_payload(Some("tick"), &TICK).expect("encode");
    let packet =
        sio_proto::socket::Packet::event(sio_proto::socket::Nsp::ROOT, json, None, vec![]).encode();
    g.throughput(Throughput::Elements(conns.len() as u64));
    g.bench_function("1000_websocket_sessions", |b| {
        b.iter(|| {
            for c in conns.iter_mut() {
                c.send_encoded(&packet).expect("queue");
                std::hint::black_box(c.poll_transmit());
            }
        })
    });
    g.finish();
}

fn select(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout/select");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    let n = 10_000usize;
    let adapter = InMemoryAdapter::default();
    let ids: Vec<SocketId> = (0..n)
        .map(|i| SocketId::from(format!("socket-{i:08}")))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        adapter.add_socket(id);
        if i % 10 == 0 {
            adapter.join(id, &["tenth"]);
        }
        if i % 4 == 0 {
            adapter.join(id, &["quarter"]);
        }
    }
    let cases = [
        (
            "all_but_sender",
            BroadcastFilter::all().without(ids[1].clone()),
            n - 1,
        ),
        ("room_of_tenth", BroadcastFilter::all().to("tenth"), n / 10),
        (
            "two_rooms",
            BroadcastFilter::all().to("tenth").to("quarter"),
            n / 4 + n / 20,
        ),
        (
            "all_except_room",
            BroadcastFilter::all().except("tenth"),
            n - n / 10,
        ),
    ];
    for (name, filter, expected) in cases {
        g.throughput(Throughput::Elements(expected as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut count = 0usize;
                adapter.for_each_recipient(&filter, &mut |id| {
                    std::hint::black_box(id);
                    count += 1;
                });
                assert_eq!(count, expected);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, emit, encode_per_recipient, connection_send, select);
criterion_main!(benches);
