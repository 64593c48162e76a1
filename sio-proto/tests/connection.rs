//! The server `Connection` fed raw Socket.IO frames, in virtual time: limits on binary
//! packets, Node's parse errors, and CONNECT answers under a full outbound queue.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{nsp, Pair};
use sio_proto::engine::client::ClientConfig;
use sio_proto::engine::server::{
    EngineConfig, EngineServer, HttpResponse, Input, Reply, ServerSession, Transmit, Transports,
};
use sio_proto::engine::{CloseReason, Frame, TransportKind};
use sio_proto::socket::client::ManagerConfig;
use sio_proto::socket::packet::DecodeLimits;
use sio_proto::socket::server::{self, Connection, ConnectionConfig};
use sio_proto::socket::{DisconnectReason, Packet};
use sio_proto::{IdGenerator, UsageError};

fn websocket_only() -> ManagerConfig {
    ManagerConfig {
        engine: ClientConfig {
            initial_transport: TransportKind::WebSocket,
            ..ClientConfig::default()
        },
        ..ManagerConfig::default()
    }
}

/// A websocket client joined to `/`, with the given server connection config.
fn joined(conn: ConnectionConfig) -> Pair {
    let mut p = Pair::new(EngineConfig::default(), conn, websocket_only());
    p.connect("/");
    assert!(p.conn().is_connected("/"));
    p.take_server_events();
    p
}

fn text(p: &mut Pair, s: &str) {
    let now = p.now;
    let f = Frame::Text(Bytes::copy_from_slice(s.as_bytes()));
    p.conn().handle(now, Input::WsFrame(f));
    p.settle();
}

fn binary(p: &mut Pair, len: usize) {
    let now = p.now;
    p.conn().handle(
        now,
        Input::WsFrame(Frame::Binary(Bytes::from(vec![7u8; len]))),
    );
    p.settle();
}

/// The connection closed with `parse error`, disconnecting `/` with it, and delivered no event.
fn assert_parse_error(events: &[server::Event]) {
    assert!(
        events.contains(&server::Event::Disconnect {
            nsp: nsp("/"),
            reason: DisconnectReason::ParseError,
        }),
        "{events:?}"
    );
    assert!(
        events.contains(&server::Event::Closed(CloseReason::ParseError)),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(
            e,
            server::Event::Event { .. } | server::Event::Connect { .. }
        )),
        "{events:?}"
    );
}

const UP3: &str = r#"453-["up",{"_placeholder":true,"num":0}]"#;

// ----- 1. pending binary attachments are bounded -----

#[test]
fn attachments_over_the_byte_cap_close_with_parse_error() {
    let mut p = joined(ConnectionConfig::default());
    text(&mut p, UP3);
    binary(&mut p, 600_000);
    assert_eq!(p.conn().buffered_attachment_bytes(), 600_000);
    assert!(!p.conn().is_closed());
    // Each part is under maxHttpBufferSize, but together they exceed the 1 MB cap.
    binary(&mut p, 600_000);
    assert!(p.conn().is_closed());
    assert_eq!(p.conn().buffered_attachment_bytes(), 0);
    assert_parse_error(&p.take_server_events());
}

#[test]
fn binary_packet_not_completed_in_time_closes_with_parse_error() {
    let mut p = joined(ConnectionConfig::default());
    let t0 = p.now;
    text(&mut p, UP3);
    binary(&mut p, 10);
    let timeout = DecodeLimits::default().attachment_timeout;
    assert!(p.conn().poll_timeout().is_some_and(|t| t <= t0 + timeout));
    // The client keeps answering pings; the packet still has to complete in time.
    p.advance(timeout - Duration::from_millis(1));
    assert!(!p.conn().is_closed());
    assert_eq!(p.conn().buffered_attachment_bytes(), 10);
    p.advance(Duration::from_millis(1));
    assert!(p.conn().is_closed());
    assert_eq!(p.conn().buffered_attachment_bytes(), 0);
    assert_parse_error(&p.take_server_events());
}

#[test]
fn completed_binary_packet_stops_the_completion_timer() {
    let mut p = joined(ConnectionConfig::default());
    text(&mut p, r#"451-["up",{"_placeholder":true,"num":0}]"#);
    p.advance(Duration::from_secs(5));
    binary(&mut p, 10);
    let ev = p.take_server_events();
    assert!(
        ev.iter().any(|e| matches!(e, server::Event::Event { .. })),
        "{ev:?}"
    );
    // Long after the completion deadline, the heartbeat keeps the connection open.
    p.advance(Duration::from_secs(120));
    assert!(!p.conn().is_closed());
    assert!(p.take_server_events().is_empty());
}

#[test]
fn completion_timeout_is_configurable() {
    let mut p = joined(ConnectionConfig {
        decode: DecodeLimits {
            attachment_timeout: Duration::from_millis(500),
            ..DecodeLimits::default()
        },
        ..ConnectionConfig::default()
    });
    text(&mut p, UP3);
    p.advance(Duration::from_millis(499));
    assert!(!p.conn().is_closed());
    p.advance(Duration::from_millis(1));
    assert!(p.conn().is_closed());
    assert_parse_error(&p.take_server_events());
}

// ----- 2. Node's parse errors -----

#[test]
fn placeholder_naming_a_missing_attachment_closes_with_parse_error() {
    let mut p = joined(ConnectionConfig::default());
    text(&mut p, r#"451-["up",{"_placeholder":true,"num":1}]"#);
    binary(&mut p, 3);
    assert!(p.conn().is_closed());
    assert_parse_error(&p.take_server_events());
}

#[test]
fn malformed_placeholder_closes_with_parse_error() {
    let mut p = joined(ConnectionConfig::default());
    text(&mut p, r#"451-["up",{"_placeholder":true,"num":"0"}]"#);
    binary(&mut p, 3);
    assert!(p.conn().is_closed());
    assert_parse_error(&p.take_server_events());
}

#[test]
fn connect_with_invalid_json_auth_closes_with_parse_error() {
    for frame in [r#"40/chat,{"token":"#, r#"40/chat,{"a":1}x"#] {
        let mut p = joined(ConnectionConfig::default());
        text(&mut p, frame);
        assert!(p.conn().is_closed(), "{frame}");
        assert_parse_error(&p.take_server_events());
    }
}

#[test]
fn client_sending_invalid_auth_is_closed_with_parse_error() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        websocket_only(),
    );
    p.auth = Some(Bytes::from_static(b"{oops"));
    p.connect("/");
    let ev = p.take_server_events();
    assert!(
        !ev.iter()
            .any(|e| matches!(e, server::Event::Connect { .. })),
        "{ev:?}"
    );
    assert!(
        ev.contains(&server::Event::Closed(CloseReason::ParseError)),
        "{ev:?}"
    );
}

#[test]
fn disconnect_with_a_payload_closes_with_parse_error() {
    let mut p = joined(ConnectionConfig::default());
    text(&mut p, "41 ");
    assert!(p.conn().is_closed());
    assert_parse_error(&p.take_server_events());
}

// ----- 3. CONNECT answers and a full outbound queue -----

const MAX_QUEUE: usize = 4;

/// A polling connection (no GET held) whose client asked for `/` and whose outbound queue is
/// then filled to its bound by the application.
fn full_queue_with_pending_connect() -> (Connection, std::time::Instant) {
    let now = common::start();
    let mut router = EngineServer::new(
        EngineConfig {
            transports: Transports::default(),
            max_queue: MAX_QUEUE,
            ..EngineConfig::default()
        },
        IdGenerator::from_u64(1),
    );
    let session: ServerSession = router.accept(now, TransportKind::Polling, ());
    let mut c = Connection::new(now, session, ConnectionConfig::default());
    skip_handshake(&mut c);
    assert_eq!(
        c.handle(now, Input::PollPost(Bytes::from_static(b"40"))),
        Reply::Http(HttpResponse::ok())
    );
    assert_eq!(
        std::iter::from_fn(|| c.poll_event()).collect::<Vec<_>>(),
        vec![server::Event::Connect {
            nsp: nsp("/"),
            auth: Bytes::new(),
        }]
    );
    let filler =
        Packet::event(nsp("/"), Bytes::from_static(br#"["x"]"#), None, Vec::new()).encode();
    // Filled up to the bound, not over it (one more would close the session with
    // `send buffer full`).
    while c.engine().queued() < MAX_QUEUE {
        c.send_encoded(&filler).unwrap();
    }
    (c, now)
}

/// Takes the answer to the handshake `GET` (the `open` packet).
fn skip_handshake(c: &mut Connection) {
    assert!(matches!(
        c.poll_transmit(),
        Some(Transmit::PollResponse(r)) if r.body.starts_with(b"0{")
    ));
    assert_eq!(c.poll_transmit(), None);
}

/// The body of the next long-poll response.
fn next_poll(c: &mut Connection, now: std::time::Instant) -> String {
    assert_eq!(c.handle(now, Input::PollGet), Reply::Held);
    match c.poll_transmit() {
        Some(Transmit::PollResponse(r)) => String::from_utf8(r.body.to_vec()).unwrap(),
        other => panic!("expected a poll response, got {other:?}"),
    }
}

#[test]
fn accept_is_answered_even_when_the_outbound_queue_is_full() {
    let (mut c, now) = full_queue_with_pending_connect();
    assert_eq!(c.accept(&nsp("/"), "abc"), Ok(()));
    assert!(c.is_connected("/"));
    let body = next_poll(&mut c, now);
    assert!(body.ends_with(r#"40{"sid":"abc"}"#), "{body}");
    // Answered once: there is nothing pending to accept any more.
    assert!(matches!(
        c.accept(&nsp("/"), "abc"),
        Err(UsageError::InvalidState(_))
    ));
}

#[test]
fn reject_is_answered_even_when_the_outbound_queue_is_full() {
    let (mut c, now) = full_queue_with_pending_connect();
    assert_eq!(c.reject(&nsp("/"), "nope", None), Ok(()));
    assert!(!c.is_connected("/"));
    let body = next_poll(&mut c, now);
    assert!(body.ends_with(r#"44{"message":"nope"}"#), "{body}");
    assert!(matches!(
        c.accept(&nsp("/"), "abc"),
        Err(UsageError::InvalidState(_))
    ));
}

#[test]
fn accept_and_reject_after_close_fail_and_leave_nothing_pending() {
    let (mut c, now) = full_queue_with_pending_connect();
    c.close(now, CloseReason::ForcedClose);
    assert_eq!(c.accept(&nsp("/"), "abc"), Err(UsageError::Closed));
    assert_eq!(c.reject(&nsp("/"), "nope", None), Err(UsageError::Closed));
    assert!(!c.is_connected("/"));
}

#[test]
fn connect_requests_never_read_are_bounded() {
    // A client that keeps asking for a namespace and never reads the CONNECT_ERROR answers:
    // the answers go beyond the queue bound, but only by `max_namespaces` before the
    // connection is closed.
    let config = ConnectionConfig {
        max_namespaces: 3,
        ..ConnectionConfig::default()
    };
    let now = common::start();
    let mut router = EngineServer::new(
        EngineConfig {
            max_queue: MAX_QUEUE,
            ..EngineConfig::default()
        },
        IdGenerator::from_u64(1),
    );
    let mut c = Connection::new(now, router.accept(now, TransportKind::Polling, ()), config);
    skip_handshake(&mut c);
    for _ in 0..100 {
        if c.is_closed()
            || c.handle(now, Input::PollPost(Bytes::from_static(b"40/x,")))
                != Reply::Http(HttpResponse::ok())
        {
            break;
        }
        while let Some(e) = c.poll_event() {
            if let server::Event::Connect { nsp, .. } = e {
                c.reject(&nsp, "nope", None).unwrap();
            }
        }
        assert!(c.engine().queued() <= MAX_QUEUE + 2 * config.max_namespaces);
    }
    assert!(c.engine().queued() <= MAX_QUEUE + 2 * config.max_namespaces);
    // Closing: the client gets `close` on its next GET, after the answers already queued.
    let body = next_poll(&mut c, now);
    assert!(body.ends_with('1'), "{body}");
}

// ----- the client manager shares the decoder and its limits -----

#[test]
fn client_closes_with_parse_error_when_a_binary_packet_does_not_complete() {
    let mut p = joined(ConnectionConfig::default());
    p.take_client_events();
    // The server's text part announces an attachment that never comes.
    let text = Bytes::from_static(br#"451-["up",{"_placeholder":true,"num":0}]"#);
    let partial = sio_proto::socket::EncodedPacket {
        text,
        attachments: Vec::new(),
        uncompressed: false,
    };
    p.conn().send_encoded(&partial).unwrap();
    p.settle();
    let timeout = DecodeLimits::default().attachment_timeout;
    p.advance(timeout - Duration::from_millis(1));
    assert!(p.take_client_events().is_empty());
    p.advance(Duration::from_millis(1));
    let ev = p.take_client_events();
    assert!(
        ev.contains(&sio_proto::socket::client::Event::Closed(
            CloseReason::ParseError
        )),
        "{ev:?}"
    );
}

#[test]
fn client_closes_with_parse_error_over_the_attachment_byte_cap() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        ManagerConfig {
            decode: DecodeLimits {
                max_attachment_bytes: 100,
                ..DecodeLimits::default()
            },
            ..websocket_only()
        },
    );
    p.connect("/");
    p.take_client_events();
    let packet = Packet::event(
        nsp("/"),
        Bytes::from_static(br#"["up",{"_placeholder":true,"num":0}]"#),
        None,
        vec![Bytes::from(vec![0u8; 60]), Bytes::from(vec![0u8; 60])],
    );
    p.conn().send_encoded(&packet.encode()).unwrap();
    p.settle();
    let ev = p.take_client_events();
    assert!(
        ev.contains(&sio_proto::socket::client::Event::Closed(
            CloseReason::ParseError
        )),
        "{ev:?}"
    );
    assert!(
        !ev.iter()
            .any(|e| matches!(e, sio_proto::socket::client::Event::Event { .. })),
        "{ev:?}"
    );
}

/// A send over the queue bounds closes the connection at once: the sockets' disconnects and
/// `Closed` come out of that very send, not at the next input.
#[test]
fn a_send_over_the_queue_bound_reports_the_close_at_once() {
    let (mut c, now) = full_queue_with_pending_connect();
    c.accept(&nsp("/"), "abc").unwrap();
    assert_eq!(
        std::iter::from_fn(|| c.poll_event()).collect::<Vec<_>>(),
        vec![]
    );
    let filler =
        Packet::event(nsp("/"), Bytes::from_static(br#"["x"]"#), None, Vec::new()).encode();
    assert_eq!(
        c.send_encoded(&filler),
        Err(UsageError::QueueFull(MAX_QUEUE))
    );
    assert!(c.is_closed());
    assert_eq!(
        std::iter::from_fn(|| c.poll_event()).collect::<Vec<_>>(),
        vec![
            server::Event::Disconnect {
                nsp: nsp("/"),
                reason: DisconnectReason::SendBufferFull,
            },
            server::Event::Closed(CloseReason::SendBufferFull),
        ]
    );
    assert_eq!(c.poll_timeout(), None);
    let _ = now;
}

/// An overlapping POST closes the connection with `transport error`: its sockets are
/// disconnected at once, as by a server close, before the engine delivers its `close`.
#[test]
fn an_overlapping_post_disconnects_the_sockets_at_once() {
    let (mut c, now) = full_queue_with_pending_connect();
    c.accept(&nsp("/"), "abc").unwrap();
    assert_eq!(c.handle(now, Input::PollPostStarted), Reply::None);
    assert_eq!(
        c.handle(now, Input::PollPostStarted),
        Reply::Http(HttpResponse::empty(400))
    );
    assert_eq!(
        std::iter::from_fn(|| c.poll_event()).collect::<Vec<_>>(),
        vec![server::Event::Disconnect {
            nsp: nsp("/"),
            reason: DisconnectReason::TransportError,
        }]
    );
    // The queued packets, then `close`, go to the next GET; then the connection is closed.
    assert!(next_poll(&mut c, now).ends_with("\u{1e}1"));
    assert_eq!(
        std::iter::from_fn(|| c.poll_event()).collect::<Vec<_>>(),
        vec![server::Event::Closed(CloseReason::TransportError)]
    );
}
