//! The client manager driven directly: closing and reopening around a POST in flight.
#![allow(clippy::disallowed_methods)] // a test needs one origin for its clock

use std::time::Instant;

use bytes::Bytes;
use sio_proto::engine::client::{Input as EInput, Transmit};
use sio_proto::engine::CloseReason;
use sio_proto::socket::client::{Event, Input as MInput, Manager, ManagerConfig};
use sio_proto::socket::Nsp;
use sio_proto::IdGenerator;

const HANDSHAKE: &[u8] =
    br#"0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

fn transmits(m: &mut Manager) -> Vec<Transmit> {
    std::iter::from_fn(|| m.poll_transmit()).collect()
}

/// `disconnect` of the last namespace while a POST is in flight closes the engine only
/// after that POST; a `connect` meanwhile opens a new engine once it is closed, instead of
/// being lost on the closing one.
#[test]
fn connect_while_closing_opens_a_new_engine() {
    let now = Instant::now();
    let mut m = Manager::new(ManagerConfig::default(), IdGenerator::from_u64(1));
    m.connect(now, Nsp::ROOT);
    assert!(matches!(&transmits(&mut m)[..], [Transmit::PollGet { .. }]));
    m.handle(
        now,
        MInput::Engine {
            generation: 1,
            input: EInput::PollResponse(Ok((200, Bytes::from_static(HANDSHAKE)))),
        },
    );
    while let Some(e) = m.poll_event() {
        if let Event::NamespaceReady { nsp } = e {
            m.send_connect(&nsp, None).unwrap();
        }
    }
    // The CONNECT is in flight (and the next long-poll GET).
    let t = transmits(&mut m);
    assert!(t.iter().any(|t| matches!(t, Transmit::PollPost { .. })));
    m.disconnect(now, &Nsp::ROOT);
    m.connect(now, Nsp::ROOT);
    assert!(
        !std::iter::from_fn(|| m.poll_event()).any(|e| matches!(e, Event::NamespaceReady { .. }))
    );
    assert_eq!(m.generation(), 1);
    // The POST returns: the `close` is posted, the engine closes, a new one opens.
    m.handle(
        now,
        MInput::Engine {
            generation: 1,
            input: EInput::PostResponse { ok: true },
        },
    );
    let events: Vec<Event> = std::iter::from_fn(|| m.poll_event()).collect();
    assert!(
        events.contains(&Event::Closed(CloseReason::ForcedClose)),
        "{events:?}"
    );
    assert_eq!(m.generation(), 2);
    let t = transmits(&mut m);
    assert!(
        t.iter().any(
            |t| matches!(t, Transmit::PollGet { query } if query == "EIO=4&transport=polling")
        ),
        "{t:?}"
    );
    m.handle(
        now,
        MInput::Engine {
            generation: 2,
            input: EInput::PollResponse(Ok((200, Bytes::from_static(HANDSHAKE)))),
        },
    );
    assert!(std::iter::from_fn(|| m.poll_event())
        .any(|e| e == Event::NamespaceReady { nsp: Nsp::ROOT }));
}
