//! The recovery log of `sio_proto::socket::recovery`: offsets, selection, bounds, expiry, and
//! the client's offset split.
#![allow(clippy::disallowed_methods)] // a test needs one origin for its clock

use std::time::{Duration, Instant};

use bytes::Bytes;
use sio_proto::rooms::Room;
use sio_proto::socket::packet::{EncodedPacket, Nsp, Packet};
use sio_proto::socket::recovery::{split_offset, RecoveryConfig, RecoveryLog, Session};

fn event(nsp: &str, json: &str, id: Option<u64>) -> EncodedPacket {
    Packet::event(
        Nsp::new(nsp).unwrap(),
        Bytes::copy_from_slice(json.as_bytes()),
        id,
        Vec::new(),
    )
    .encode()
}

fn room(s: &str) -> Room {
    Room::from(s)
}

fn texts(ps: &[EncodedPacket]) -> Vec<String> {
    ps.iter()
        .map(|p| String::from_utf8_lossy(&p.text).into_owned())
        .collect()
}

fn session(sid: &str, pid: &str, rooms: &[&str]) -> Session<u32> {
    Session {
        sid: sid.into(),
        pid: pid.into(),
        rooms: rooms.iter().map(|r| room(r)).collect(),
        data: 7,
    }
}

#[test]
fn offsets_are_appended_to_events_only() {
    let mut log = RecoveryLog::<()>::new(RecoveryConfig::default());
    let t = Instant::now();
    let p = log.record(t, &[], &[], &event("/", r#"["a",1]"#, None));
    assert_eq!(&p.text[..], br#"42["a",1,"0"]"#);
    let p = log.record(t, &[], &[], &event("/chat", r#"["a"]"#, None));
    assert_eq!(&p.text[..], br#"42/chat,["a","1"]"#);
    let bin = Packet::event(
        Nsp::new("/").unwrap(),
        Bytes::from_static(br#"["b",{"_placeholder":true,"num":0}]"#),
        None,
        vec![Bytes::from_static(b"\x01")],
    )
    .encode();
    let p = log.record(t, &[], &[], &bin);
    assert_eq!(
        &p.text[..],
        br#"451-["b",{"_placeholder":true,"num":0},"2"]"#
    );
    assert_eq!(p.attachments, bin.attachments);
    // With an ack id: not recorded, unchanged.
    let acked = event("/", r#"["a"]"#, Some(3));
    assert_eq!(log.record(t, &[], &[], &acked), acked);
    assert_eq!(log.packets(), 3);
}

#[test]
fn a_session_gets_what_its_rooms_were_sent_after_its_offset() {
    let mut log = RecoveryLog::new(RecoveryConfig::default());
    let t = Instant::now();
    let e = |s| event("/", &format!(r#"["m","{s}"]"#), None);
    log.record(t, &[], &[], &e("all-before"));
    log.record(t, &[room("sid")], &[], &e("mine-seen"));
    log.record(t, &[room("sid")], &[], &e("mine-lost"));
    log.record(t, &[room("r")], &[], &e("room"));
    log.record(t, &[room("other")], &[], &e("other room"));
    log.record(t, &[], &[room("r")], &e("all but r"));
    log.record(t, &[], &[room("sid")], &e("broadcast from it"));
    log.record(t, &[], &[], &e("all"));
    log.persist(t, session("sid", "pid", &["sid", "r"]));
    assert!(log.take(t, "nope", "1").is_none());
    let r = log.take(t, "pid", "1").expect("kept");
    assert_eq!(r.session.sid, "sid");
    assert_eq!(r.session.data, 7);
    let missed = log.missed(r.after, &r.session.rooms).unwrap();
    assert_eq!(
        texts(&missed),
        [
            r#"42["m","mine-lost","2"]"#,
            r#"42["m","room","3"]"#,
            r#"42["m","all","7"]"#
        ]
    );
    // Taken once.
    assert!(log.take(t, "pid", "1").is_none());
}

#[test]
fn bad_or_future_offsets_are_refused() {
    let mut log = RecoveryLog::new(RecoveryConfig::default());
    let t = Instant::now();
    log.record(t, &[], &[], &event("/", r#"["a"]"#, None));
    for bad in ["", "zz", "+0", "1", "ffffffffffffffffff"] {
        log.persist(t, session("s", "p", &["s"]));
        assert!(log.take(t, "p", bad).is_none(), "{bad:?}");
    }
    log.persist(t, session("s", "p", &["s"]));
    assert!(log.take(t, "p", "0").is_some());
}

#[test]
fn bounds_drop_the_oldest_and_refuse_what_they_cut() {
    let config = RecoveryConfig {
        max_packets: 3,
        max_bytes: 1 << 20,
        max_sessions: 2,
        ..RecoveryConfig::default()
    };
    let mut log = RecoveryLog::new(config);
    let t = Instant::now();
    for _ in 0..5 {
        log.record(t, &[], &[], &event("/", r#"["a"]"#, None));
    }
    assert_eq!(log.packets(), 3);
    // Offsets 2, 3, 4 are kept: a client at 1 missed 2.. (all kept), one at 0 lost 1.
    log.persist(t, session("s", "p", &["s"]));
    assert!(log.take(t, "p", "0").is_none());
    log.persist(t, session("s", "p", &["s"]));
    let r = log.take(t, "p", "1").unwrap();
    assert_eq!(log.missed(r.after, &r.session.rooms).unwrap().len(), 3);
    // Sessions: the oldest goes.
    log.persist(t, session("a", "pa", &["a"]));
    log.persist(t, session("b", "pb", &["b"]));
    log.persist(t, session("c", "pc", &["c"]));
    assert_eq!(log.sessions(), 2);
    assert!(log.take(t, "pa", "4").is_none());
    assert!(log.take(t, "pc", "4").is_some());
    // Bytes.
    let mut log = RecoveryLog::<u32>::new(RecoveryConfig {
        max_bytes: 20,
        ..RecoveryConfig::default()
    });
    for _ in 0..4 {
        log.record(t, &[], &[], &event("/", r#"["abc"]"#, None));
    }
    assert!(log.bytes() <= 20 && log.packets() == 1, "{}", log.bytes());
}

#[test]
fn everything_expires_after_the_window() {
    let config = RecoveryConfig {
        max_disconnection_duration: Duration::from_secs(2),
        ..RecoveryConfig::default()
    };
    let mut log = RecoveryLog::new(config);
    let t = Instant::now();
    log.record(t, &[], &[], &event("/", r#"["a"]"#, None));
    log.record(t, &[], &[], &event("/", r#"["a"]"#, None));
    log.persist(t, session("s", "p", &["s"]));
    let later = t + Duration::from_secs(3);
    assert!(log.take(later, "p", "0").is_none());
    assert_eq!((log.packets(), log.sessions()), (0, 0));
    // Within the window: recovered.
    log.record(later, &[], &[], &event("/", r#"["a"]"#, None));
    log.persist(later, session("s", "p", &["s"]));
    assert!(log.take(later + Duration::from_secs(1), "p", "2").is_some());
}

#[test]
fn the_client_splits_the_offset_off() {
    let cases = [
        (r#"["m",1,"a1"]"#, Some((r#"["m",1]"#, "a1"))),
        (
            r#"[ "m" , {"x":[1,","]} , "7" ]"#,
            Some((r#"[ "m" , {"x":[1,","]} ]"#, "7")),
        ),
        (r#"["m","only"]"#, Some((r#"["m"]"#, "only"))),
        (r#"["m","A"]"#, Some((r#"["m"]"#, "A"))),
        (r#"["m"]"#, None),
        (r#"["m",1]"#, None),
        (r#"["m",1"#, None),
        ("{}", None),
    ];
    for (json, want) in cases {
        let got = split_offset(&Bytes::from(json));
        let got = got
            .as_ref()
            .map(|(d, o)| (std::str::from_utf8(d).unwrap(), o.as_str()));
        assert_eq!(got, want, "{json}");
    }
}

#[test]
fn order_stays_bounded_when_sessions_are_taken_back() {
    let mut log = RecoveryLog::new(RecoveryConfig {
        max_sessions: 4,
        ..RecoveryConfig::default()
    });
    let t = Instant::now();
    log.record(t, &[], &[], &event("/", r#"["a"]"#, None));
    for i in 0..1000 {
        log.persist(t, session("s", &format!("p{i}"), &["s"]));
        assert!(log.take(t, &format!("p{i}"), "0").is_some());
    }
    assert_eq!(log.sessions(), 0);
    // Still bounded and working after the churn.
    log.persist(t, session("s", "last", &["s"]));
    assert!(log.take(t, "last", "0").is_some());
}
