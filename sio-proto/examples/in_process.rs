//! A Socket.IO client and server session talking through memory, in virtual time, printing
//! every frame that crosses. No sockets, no runtime, no clock: only the state machines of
//! `sio-proto` and a loop that carries their transmits to each other.
//!
//! Run: `cargo run -p sio-proto --example in_process`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{nsp, Pair, Wire};
use sio_proto::engine::server::EngineConfig;
use sio_proto::socket::client::ManagerConfig;
use sio_proto::socket::server::{self, ConnectionConfig};
use sio_proto::socket::Packet;

fn main() {
    let mut pair = Pair::new(
        EngineConfig {
            ping_interval: Duration::from_secs(2),
            ping_timeout: Duration::from_secs(1),
            ..EngineConfig::default()
        },
        ConnectionConfig::default(),
        ManagerConfig::default(),
    );
    pair.auth = Some(Bytes::from_static(br#"{"user":"alice"}"#));
    let mut printed = 0;
    let mut show = |pair: &mut Pair, title: &str| {
        println!("-- {title}");
        for w in &pair.wire[printed..] {
            match w {
                Wire::Up(s) => println!("   client -> server  {s}"),
                Wire::Down(s) => println!("   server -> client  {s}"),
            }
        }
        printed = pair.wire.len();
        for e in pair.take_server_events() {
            println!("   [server event] {e:?}");
        }
        for e in pair.take_client_events() {
            println!("   [client event] {e:?}");
        }
    };

    pair.connect("/");
    show(
        &mut pair,
        "handshake over long-polling, CONNECT to `/`, upgrade to websocket",
    );

    pair.connect("/chat");
    show(&mut pair, "a second namespace on the same connection");

    let id = pair.client.next_ack_id();
    let hello = Packet::event(
        nsp("/chat"),
        Bytes::from_static(br#"["message","hello from the client"]"#),
        Some(id),
        vec![],
    );
    pair.client
        .emit_with_ack(&nsp("/chat"), id, hello.encode(), None)
        .expect("emit");
    pair.settle();
    let asked = pair.server_events.iter().find_map(|e| match e {
        server::Event::Event { packet, .. } => packet.id,
        _ => None,
    });
    if let Some(ack_id) = asked {
        pair.conn()
            .send_ack(
                &nsp("/chat"),
                ack_id,
                Bytes::from_static(br#"["received"]"#),
                vec![],
            )
            .expect("ack");
    }
    pair.settle();
    show(&mut pair, "an event asking for an ack, and the ack");

    let upload = Packet::event(
        nsp("/"),
        Bytes::from_static(br#"["upload",{"name":"a.bin","data":{"_placeholder":true,"num":0}}]"#),
        None,
        vec![Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef])],
    );
    pair.client
        .emit(&nsp("/"), upload.encode(), false)
        .expect("emit");
    pair.settle();
    show(
        &mut pair,
        "a binary event: the placeholder, then the attachment frame",
    );

    pair.advance(Duration::from_secs(5));
    show(&mut pair, "five seconds of virtual time: heartbeats");

    let now = pair.now;
    pair.conn().disconnect(now, &nsp("/chat"), false);
    pair.settle();
    show(&mut pair, "the server disconnects the `/chat` socket");

    let now = pair.now;
    pair.client.disconnect(now, &nsp("/"));
    pair.settle();
    show(
        &mut pair,
        "the client leaves `/`, the last namespace: the connection closes",
    );
}
