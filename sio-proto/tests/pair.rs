//! Socket.IO client and server state machines talking to each other in memory, in virtual
//! time. One behaviour per test.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{nsp, Pair, Wire};
use sio_proto::engine::client::ClientConfig;
use sio_proto::engine::server::{EngineConfig, Input};
use sio_proto::engine::{CloseReason, TransportKind};
use sio_proto::socket::backoff::BackoffConfig;
use sio_proto::socket::client::{self, ManagerConfig};
use sio_proto::socket::server::{self, ConnectionConfig};
use sio_proto::socket::{DisconnectReason, Packet, PacketKind};

fn polling_only() -> ManagerConfig {
    ManagerConfig {
        engine: ClientConfig {
            upgrade: false,
            ..ClientConfig::default()
        },
        ..ManagerConfig::default()
    }
}

fn websocket_only() -> ManagerConfig {
    ManagerConfig {
        engine: ClientConfig {
            initial_transport: TransportKind::WebSocket,
            ..ClientConfig::default()
        },
        ..ManagerConfig::default()
    }
}

fn fast_server() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..EngineConfig::default()
    }
}

fn event(ns: &str, json: &str, id: Option<u64>) -> sio_proto::socket::EncodedPacket {
    Packet::event(nsp(ns), Bytes::from(json.to_owned()), id, Vec::new()).encode()
}

fn connected_sid(events: &[client::Event], ns: &str) -> Option<String> {
    events.iter().find_map(|e| match e {
        client::Event::Connected { nsp, sid, .. } if nsp.as_str() == ns => Some(sid.clone()),
        _ => None,
    })
}

fn server_event_names(events: &[server::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            server::Event::Event { packet, .. } => packet.event_name().map(|n| n.into_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn polling_client_connects_to_main_namespace() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        polling_only(),
    );
    p.connect("/");
    let ev = p.take_client_events();
    assert!(matches!(ev[0], client::Event::Open(_)));
    let sid = connected_sid(&ev, "/").expect("connected");
    assert_eq!(sid.len(), 20);
    assert!(p.client.is_connected("/"));
    assert!(p.conn().is_connected("/"));
    assert_eq!(
        p.client.engine().unwrap().transport(),
        TransportKind::Polling
    );
}

#[test]
fn client_upgrades_to_websocket_by_default() {
    let mut p = Pair::default_pair();
    p.connect("/");
    assert_eq!(
        p.client.engine().unwrap().transport(),
        TransportKind::WebSocket
    );
    assert_eq!(p.conn().engine().transport(), TransportKind::WebSocket);
    assert!(p.take_client_events().contains(&client::Event::Upgraded));
    assert!(p.take_server_events().contains(&server::Event::Upgraded));
    let wire: Vec<String> = p
        .wire
        .iter()
        .map(|w| match w {
            Wire::Up(s) => format!("> {s}"),
            Wire::Down(s) => format!("< {s}"),
        })
        .collect();
    let probe = wire
        .iter()
        .position(|l| l == "> ws 2probe")
        .expect("probe sent");
    let pong = wire
        .iter()
        .position(|l| l == "< ws 3probe")
        .expect("probe answered");
    let upgrade = wire
        .iter()
        .position(|l| l == "> ws 5")
        .expect("upgrade sent");
    assert!(probe < pong && pong < upgrade, "{wire:#?}");
}

#[test]
fn websocket_only_client_connects() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        websocket_only(),
    );
    p.connect("/");
    assert!(p.client.is_connected("/"));
    assert_eq!(
        p.wire[0],
        Wire::Up("websocket EIO=4&transport=websocket".into())
    );
}

#[test]
fn auth_payload_reaches_the_server() {
    let mut p = Pair::default_pair();
    p.auth = Some(Bytes::from_static(br#"{"token":"123"}"#));
    p.connect("/admin");
    let auth = p.take_server_events().into_iter().find_map(|e| match e {
        server::Event::Connect { nsp, auth } if nsp.as_str() == "/admin" => Some(auth),
        _ => None,
    });
    assert_eq!(auth.as_deref(), Some(&br#"{"token":"123"}"#[..]));
}

#[test]
fn rejected_namespace_gets_connect_error_with_message_and_data() {
    let mut p = Pair::default_pair();
    p.policy = Box::new(|nsp, _| {
        if nsp.as_str() == "/private" {
            Err((
                "Not authorized".into(),
                Some(serde_json::json!({"code": 42})),
            ))
        } else {
            Ok(())
        }
    });
    p.connect("/private");
    let e = p.take_client_events().into_iter().find_map(|e| match e {
        client::Event::ConnectError {
            message,
            data,
            refused,
            ..
        } => Some((message, data, refused)),
        _ => None,
    });
    assert_eq!(
        e.expect("connect_error"),
        (
            "Not authorized".to_owned(),
            Some(serde_json::json!({"code": 42})),
            true
        )
    );
    assert!(!p.conn().is_connected("/private"));
}

#[test]
fn namespaces_are_multiplexed_on_one_connection() {
    let mut p = Pair::default_pair();
    p.connect("/");
    p.connect("/chat");
    p.connect("/news");
    assert_eq!(p.handshakes, 1);
    for ns in ["/", "/chat", "/news"] {
        assert!(p.conn().is_connected(ns), "{ns}");
        assert!(p.client.is_connected(ns), "{ns}");
    }
}

#[test]
fn connect_timeout_closes_a_connection_without_namespace() {
    let mut p = Pair::new(
        fast_server(),
        ConnectionConfig {
            connect_timeout: Duration::from_millis(1000),
            ..ConnectionConfig::default()
        },
        ManagerConfig {
            reconnection: false,
            ..ManagerConfig::default()
        },
    );
    p.auto_connect = false;
    p.connect("/");
    assert!(!p.conn().is_connected("/"));
    p.advance(Duration::from_millis(999));
    assert!(!p.conn().is_closed());
    p.advance(Duration::from_millis(1));
    assert!(p.conn().is_closed());
    assert!(p
        .take_server_events()
        .contains(&server::Event::Closed(CloseReason::ForcedClose)));
}

#[test]
fn client_event_with_ack_is_answered() {
    let mut p = Pair::default_pair();
    p.connect("/");
    let id = p.client.next_ack_id();
    p.client
        .emit_with_ack(
            &nsp("/"),
            id,
            event("/", r#"["hello","world"]"#, Some(id)),
            None,
        )
        .unwrap();
    p.settle();
    let ev = p.take_server_events();
    let packet = ev
        .iter()
        .find_map(|e| match e {
            server::Event::Event { packet, .. } => Some(packet.clone()),
            _ => None,
        })
        .expect("event");
    assert_eq!(packet.event_name().as_deref(), Some("hello"));
    let (arg,): (String,) = packet.args().unwrap();
    assert_eq!(arg, "world");
    p.conn()
        .send_ack(
            &nsp("/"),
            packet.id.unwrap(),
            Bytes::from_static(br#"["got it"]"#),
            vec![],
        )
        .unwrap();
    p.settle();
    let ack = p.take_client_events().into_iter().find_map(|e| match e {
        client::Event::Ack {
            result: Ok(packet), ..
        } => Some(packet),
        _ => None,
    });
    let ack = ack.expect("ack");
    assert_eq!(ack.id, Some(id));
    assert_eq!(ack.args::<(String,)>().unwrap().0, "got it");
    assert_eq!(p.client.pending_acks(), 0);
}

#[test]
fn server_emit_with_ack_is_answered_by_the_client() {
    let mut p = Pair::default_pair();
    p.connect("/chat");
    let deadline = p.now + Duration::from_secs(5);
    p.conn()
        .send_with_ack(
            &nsp("/chat"),
            7,
            &event("/chat", r#"["ask"]"#, Some(7)),
            Some(deadline),
        )
        .unwrap();
    p.settle();
    let asked = p.take_client_events().into_iter().find_map(|e| match e {
        client::Event::Event { packet, .. } => Some(packet),
        _ => None,
    });
    let asked = asked.expect("event reached the client");
    assert_eq!(asked.id, Some(7));
    p.client
        .send_ack(&nsp("/chat"), 7, Bytes::from_static(b"[1,2]"), vec![])
        .unwrap();
    p.settle();
    let ev = p.take_server_events();
    assert!(ev
        .iter()
        .any(|e| matches!(e, server::Event::Ack { packet, .. } if packet.id == Some(7))));
    p.advance(Duration::from_secs(10));
    assert!(!p
        .take_server_events()
        .iter()
        .any(|e| matches!(e, server::Event::AckTimeout { .. })));
}

#[test]
fn unanswered_server_ack_times_out() {
    let mut p = Pair::default_pair();
    p.connect("/");
    let deadline = p.now + Duration::from_millis(500);
    p.conn()
        .send_with_ack(
            &nsp("/"),
            1,
            &event("/", r#"["ask"]"#, Some(1)),
            Some(deadline),
        )
        .unwrap();
    p.advance(Duration::from_millis(499));
    assert!(!p
        .take_server_events()
        .iter()
        .any(|e| matches!(e, server::Event::AckTimeout { .. })));
    p.advance(Duration::from_millis(1));
    assert!(p.take_server_events().contains(&server::Event::AckTimeout {
        nsp: nsp("/"),
        id: 1
    }));
    assert_eq!(p.conn().pending_acks(), 0);
}

#[test]
fn unanswered_client_ack_times_out() {
    let mut p = Pair::default_pair();
    p.connect("/");
    let id = p.client.next_ack_id();
    let deadline = p.now + Duration::from_millis(300);
    p.client
        .emit_with_ack(
            &nsp("/"),
            id,
            event("/", r#"["x"]"#, Some(id)),
            Some(deadline),
        )
        .unwrap();
    p.advance(Duration::from_millis(300));
    assert!(p.take_client_events().contains(&client::Event::Ack {
        nsp: nsp("/"),
        id,
        result: Err(client::AckError::Timeout)
    }));
}

#[test]
fn binary_event_with_attachments_reaches_the_server() {
    for cfg in [polling_only(), websocket_only(), ManagerConfig::default()] {
        let mut p = Pair::new(EngineConfig::default(), ConnectionConfig::default(), cfg);
        p.connect("/");
        let json = r#"["upload",{"a":{"_placeholder":true,"num":0}},[{"_placeholder":true,"num":1}],{"_placeholder":true,"num":2}]"#;
        let atts = vec![
            Bytes::from_static(&[1, 2, 3]),
            Bytes::from_static(&[]),
            Bytes::from(vec![0xffu8; 3000]),
        ];
        let packet = Packet::event(
            nsp("/"),
            Bytes::from_static(json.as_bytes()),
            None,
            atts.clone(),
        );
        p.client.emit(&nsp("/"), packet.encode(), false).unwrap();
        p.settle();
        let got = p.take_server_events().into_iter().find_map(|e| match e {
            server::Event::Event { packet, .. } => Some(packet),
            _ => None,
        });
        let got = got.expect("binary event");
        assert_eq!(got.kind, PacketKind::BinaryEvent);
        assert_eq!(got.attachments, atts);
        assert!(got.value().is_ok());
    }
}

#[test]
fn binary_ack_reaches_the_client() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        polling_only(),
    );
    p.connect("/");
    let id = p.client.next_ack_id();
    p.client
        .emit_with_ack(&nsp("/"), id, event("/", r#"["file"]"#, Some(id)), None)
        .unwrap();
    p.settle();
    p.conn()
        .send_ack(
            &nsp("/"),
            id,
            Bytes::from_static(br#"[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cd")],
        )
        .unwrap();
    p.settle();
    let ack = p.take_client_events().into_iter().find_map(|e| match e {
        client::Event::Ack {
            result: Ok(packet), ..
        } => Some(packet),
        _ => None,
    });
    let ack = ack.expect("binary ack");
    assert_eq!(ack.kind, PacketKind::BinaryAck);
    assert_eq!(
        ack.attachments,
        vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]
    );
}

#[test]
fn events_arrive_in_order() {
    for cfg in [polling_only(), ManagerConfig::default()] {
        let mut p = Pair::new(EngineConfig::default(), ConnectionConfig::default(), cfg);
        p.connect("/");
        for i in 0..50 {
            p.client
                .emit(&nsp("/"), event("/", &format!(r#"["e{i}"]"#), None), false)
                .unwrap();
        }
        p.settle();
        let names = server_event_names(&p.take_server_events());
        let expected: Vec<String> = (0..50).map(|i| format!("e{i}")).collect();
        assert_eq!(names, expected);
    }
}

#[test]
fn emits_before_connect_are_buffered_and_flushed_in_order() {
    let mut p = Pair::default_pair();
    p.client.connect(p.now, nsp("/"));
    for i in 0..3 {
        p.client
            .emit(&nsp("/"), event("/", &format!(r#"["b{i}"]"#), None), false)
            .unwrap();
    }
    assert!(!p
        .client
        .emit(&nsp("/"), event("/", r#"["v"]"#, None), true)
        .unwrap());
    p.settle();
    assert_eq!(
        server_event_names(&p.take_server_events()),
        vec!["b0", "b1", "b2"]
    );
}

#[test]
fn server_disconnect_is_io_server_disconnect_and_does_not_reconnect() {
    let mut p = Pair::default_pair();
    p.connect("/");
    let now = p.now;
    p.conn().disconnect(now, &nsp("/"), false);
    p.settle();
    assert!(p
        .take_client_events()
        .contains(&client::Event::Disconnected {
            nsp: nsp("/"),
            reason: DisconnectReason::IoServerDisconnect,
        }));
    assert!(p.take_server_events().contains(&server::Event::Disconnect {
        nsp: nsp("/"),
        reason: DisconnectReason::ServerNamespaceDisconnect,
    }));
    p.advance(Duration::from_secs(60));
    assert_eq!(p.handshakes, 1);
    assert!(!p.client.is_reconnecting());
}

#[test]
fn client_disconnect_is_client_namespace_disconnect() {
    let mut p = Pair::default_pair();
    p.connect("/");
    p.connect("/chat");
    let now = p.now;
    p.client.disconnect(now, &nsp("/chat"));
    p.settle();
    assert!(p.take_server_events().contains(&server::Event::Disconnect {
        nsp: nsp("/chat"),
        reason: DisconnectReason::ClientNamespaceDisconnect,
    }));
    assert!(p.conn().is_connected("/"));
    assert!(!p.conn().is_closed());
}

#[test]
fn last_client_disconnect_closes_the_connection() {
    let mut p = Pair::default_pair();
    p.connect("/");
    let now = p.now;
    p.client.disconnect(now, &nsp("/"));
    p.settle();
    assert!(p
        .take_client_events()
        .contains(&client::Event::Disconnected {
            nsp: nsp("/"),
            reason: DisconnectReason::IoClientDisconnect,
        }));
    let ev = p.take_server_events();
    assert!(ev.contains(&server::Event::Disconnect {
        nsp: nsp("/"),
        reason: DisconnectReason::ClientNamespaceDisconnect,
    }));
    assert!(ev.contains(&server::Event::Closed(CloseReason::TransportClose)));
    p.advance(Duration::from_secs(30));
    assert_eq!(p.handshakes, 1);
}

#[test]
fn silent_client_is_closed_with_ping_timeout() {
    let mut p = Pair::new(
        fast_server(),
        ConnectionConfig::default(),
        ManagerConfig::default(),
    );
    p.connect("/");
    p.client_silent = true;
    p.advance(Duration::from_millis(300 + 200));
    let ev = p.take_server_events();
    assert!(ev.contains(&server::Event::Disconnect {
        nsp: nsp("/"),
        reason: DisconnectReason::PingTimeout,
    }));
    assert!(ev.contains(&server::Event::Closed(CloseReason::PingTimeout)));
}

#[test]
fn heartbeat_keeps_a_healthy_connection_open() {
    for cfg in [polling_only(), ManagerConfig::default()] {
        let mut p = Pair::new(fast_server(), ConnectionConfig::default(), cfg);
        p.connect("/");
        p.advance(Duration::from_secs(10));
        assert!(p.client.is_connected("/"));
        assert!(!p.conn().is_closed());
        let pings = p
            .take_client_events()
            .iter()
            .filter(|e| matches!(e, client::Event::Ping))
            .count();
        assert!(pings >= 19, "{pings} pings");
    }
}

#[test]
fn silent_server_is_detected_and_the_client_reconnects() {
    let mut p = Pair::new(
        fast_server(),
        ConnectionConfig::default(),
        ManagerConfig {
            backoff: BackoffConfig {
                randomization_factor: 0.0,
                ..BackoffConfig::default()
            },
            ..ManagerConfig::default()
        },
    );
    p.connect("/");
    p.take_client_events();
    p.server_silent = true;
    p.advance(Duration::from_millis(500));
    let ev = p.take_client_events();
    assert!(ev.contains(&client::Event::Disconnected {
        nsp: nsp("/"),
        reason: DisconnectReason::PingTimeout,
    }));
    assert!(p.client.is_reconnecting());
    p.server_silent = false;
    p.advance(Duration::from_millis(1000));
    let ev = p.take_client_events();
    assert!(ev.contains(&client::Event::ReconnectAttempt(1)));
    assert!(ev.contains(&client::Event::Reconnected(1)));
    assert!(connected_sid(&ev, "/").is_some());
    assert_eq!(p.handshakes, 2);
}

#[test]
fn reconnection_backoff_follows_the_seeded_sequence() {
    let mut p = Pair::new(
        fast_server(),
        ConnectionConfig::default(),
        ManagerConfig {
            backoff: BackoffConfig {
                max_attempts: Some(3),
                ..BackoffConfig::default()
            },
            ..ManagerConfig::default()
        },
    );
    p.connect("/");
    p.server_silent = true;
    p.client_silent = true;
    // Every attempt now fails at the handshake timeout (20 s) and the next is scheduled.
    p.advance(Duration::from_secs(200));
    let ev = p.take_client_events();
    let attempts: Vec<u32> = ev
        .iter()
        .filter_map(|e| match e {
            client::Event::ReconnectAttempt(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    assert!(ev.contains(&client::Event::ReconnectFailed));
    assert!(!p.client.is_reconnecting());
}

#[test]
fn malformed_socket_packet_closes_with_parse_error() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        websocket_only(),
    );
    p.connect("/");
    let now = p.now;
    p.conn().handle(
        now,
        Input::WsFrame(sio_proto::engine::Frame::Text(Bytes::from_static(
            b"42{not an array",
        ))),
    );
    p.settle();
    let ev = p.take_server_events();
    assert!(ev.contains(&server::Event::Disconnect {
        nsp: nsp("/"),
        reason: DisconnectReason::ParseError,
    }));
    assert!(ev.contains(&server::Event::Closed(CloseReason::ParseError)));
}

#[test]
fn event_for_a_namespace_not_joined_closes_the_connection() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        websocket_only(),
    );
    p.connect("/");
    let now = p.now;
    p.conn().handle(
        now,
        Input::WsFrame(sio_proto::engine::Frame::Text(Bytes::from_static(
            br#"42/other,["x"]"#,
        ))),
    );
    p.settle();
    assert!(p.conn().is_closed());
}

#[test]
fn server_close_disconnects_every_socket_with_shutdown_reason() {
    let mut p = Pair::default_pair();
    p.connect("/");
    p.connect("/chat");
    let now = p.now;
    p.conn().close(now, CloseReason::ServerShuttingDown);
    p.settle();
    let ev = p.take_server_events();
    for ns in ["/", "/chat"] {
        assert!(ev.contains(&server::Event::Disconnect {
            nsp: nsp(ns),
            reason: DisconnectReason::ServerShuttingDown,
        }));
    }
    assert!(ev.contains(&server::Event::Closed(CloseReason::ServerShuttingDown)));
    assert!(p.take_client_events().iter().any(|e| matches!(
        e,
        client::Event::Disconnected {
            reason: DisconnectReason::TransportClose,
            ..
        }
    )));
}

#[test]
fn volatile_emit_is_dropped_when_the_transport_is_busy() {
    let mut p = Pair::new(
        EngineConfig::default(),
        ConnectionConfig::default(),
        polling_only(),
    );
    p.connect("/");
    // The client's long-poll is held: the first volatile packet leaves at once, the second
    // finds the GET answered and nothing to carry it.
    assert!(p.conn().send_volatile(&event("/", r#"["v1"]"#, None)));
    assert!(!p.conn().send_volatile(&event("/", r#"["v2"]"#, None)));
    p.settle();
    let names: Vec<String> = p
        .take_client_events()
        .iter()
        .filter_map(|e| match e {
            client::Event::Event { packet, .. } => packet.event_name().map(|n| n.into_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec!["v1"]);
}

#[test]
fn one_encoding_serves_many_connections() {
    let encoded = event("/", r#"["news","hi"]"#, None);
    let mut pairs: Vec<Pair> = (0..3)
        .map(|_| {
            let mut p = Pair::new(
                EngineConfig::default(),
                ConnectionConfig::default(),
                websocket_only(),
            );
            p.connect("/");
            p
        })
        .collect();
    for p in &mut pairs {
        p.conn().send_encoded(&encoded).unwrap();
        p.settle();
        let got = p.take_client_events().into_iter().find_map(|e| match e {
            client::Event::Event { packet, .. } => Some(packet),
            _ => None,
        });
        assert_eq!(got.unwrap().args::<(String,)>().unwrap().0, "hi");
    }
}

#[test]
fn reconnection_delays_are_the_backoff_of_the_seeded_jitter() {
    use sio_proto::socket::backoff::Backoff;
    use sio_proto::IdGenerator;
    let backoff = BackoffConfig {
        max_attempts: Some(4),
        ..BackoffConfig::default()
    };
    let mut p = Pair::new(
        fast_server(),
        ConnectionConfig::default(),
        ManagerConfig {
            backoff,
            ..ManagerConfig::default()
        },
    );
    p.connect("/");
    p.take_client_events();
    p.server_silent = true;
    p.client_silent = true;
    // Step from deadline to deadline, noting when each close and each attempt happens.
    let mut log: Vec<(std::time::Instant, client::Event)> = Vec::new();
    for _ in 0..64 {
        let Some(t) = p.client.poll_timeout() else {
            break;
        };
        p.advance(t.saturating_duration_since(p.now));
        let now = p.now;
        log.extend(p.take_client_events().into_iter().map(|e| (now, e)));
    }
    // The same seed (the pair's client uses 2) and the same formula give the expected delays.
    let mut rng = IdGenerator::from_u64(2);
    let mut expected = Backoff::new(backoff);
    let mut last_close = None;
    let mut delays = Vec::new();
    for (t, e) in &log {
        match e {
            client::Event::Closed(_) => last_close = Some(*t),
            client::Event::ReconnectAttempt(_) => {
                delays.push((
                    *t - last_close.expect("a close before each attempt"),
                    expected.next_delay(rng.next_f64()),
                ));
            }
            _ => {}
        }
    }
    assert_eq!(delays.len(), 4, "{log:?}");
    for (got, want) in &delays {
        assert_eq!(got, want);
    }
    // Jitter makes them differ from the bare exponential sequence (1 s, 2 s, 4 s, 5 s).
    assert_ne!(
        delays.iter().map(|d| d.0).collect::<Vec<_>>(),
        [1000, 2000, 4000, 5000].map(Duration::from_millis).to_vec()
    );
    assert!(log
        .iter()
        .any(|(_, e)| *e == client::Event::ReconnectFailed));
}
