//! The Socket.IO packet codec and binary reassembly (`socket::packet`), one behaviour per
//! test: shapes Node's parser refuses, reassembly, and the limits on binary packets.

use std::borrow::Cow;

use bytes::Bytes;
use sio_proto::socket::packet::{decode_text, parse_event_name, DecodeLimits, Decoder};
use sio_proto::socket::{Nsp, Packet};
use sio_proto::DecodeError;

fn dec(s: &str) -> Result<(Packet, usize), DecodeError> {
    decode_text(
        Bytes::copy_from_slice(s.as_bytes()),
        &DecodeLimits::default(),
    )
}

#[test]
fn event_name_borrowed_and_escaped() {
    let (n, end) = parse_event_name(br#"["chat","x"]"#).unwrap();
    assert_eq!(n, "chat");
    assert!(matches!(n, Cow::Borrowed(_)));
    assert_eq!(end, 7);
    let (n, _) = parse_event_name(br#"[ "a\"b" ]"#).unwrap();
    assert_eq!(n, "a\"b");
    let (n, _) = parse_event_name(b"[12,1]").unwrap();
    assert_eq!(n, "12");
    assert!(parse_event_name(b"[]").is_err());
    assert!(parse_event_name(b"[\"abc").is_err());
    assert!(parse_event_name(b"{}").is_err());
}

#[test]
fn reserved_and_bad_shapes_are_rejected() {
    assert_eq!(
        dec(r#"2["connect"]"#).unwrap_err(),
        DecodeError::InvalidPayload
    );
    assert_eq!(dec(r#"2{"a":1}"#).unwrap_err(), DecodeError::InvalidPayload);
    assert_eq!(dec(r#"1["x"]"#).unwrap_err(), DecodeError::InvalidPayload);
    assert_eq!(dec(r#"3["x"]"#).unwrap_err(), DecodeError::InvalidPayload);
    assert_eq!(dec(r#"0[]"#).unwrap_err(), DecodeError::InvalidPayload);
    assert_eq!(dec(r#"4[]"#).unwrap_err(), DecodeError::InvalidPayload);
    assert_eq!(
        dec(r#"5["a"]"#).unwrap_err(),
        DecodeError::InvalidAttachmentCount
    );
    assert_eq!(dec("7").unwrap_err(), DecodeError::UnknownPacketType(b'7'));
    assert_eq!(dec("").unwrap_err(), DecodeError::Empty);
    assert_eq!(
        dec(r#"599-["a"]"#).unwrap_err(),
        DecodeError::TooManyAttachments(99)
    );
    assert_eq!(
        dec(r#"299999999999999999999["a"]"#).unwrap_err(),
        DecodeError::InvalidAckId
    );
}

#[test]
fn args_skip_the_event_name() {
    let (p, _) = dec(r#"2/chat,7["msg",1,"two",{"x":3}]"#).unwrap();
    assert_eq!(p.nsp.as_str(), "/chat");
    assert_eq!(p.id, Some(7));
    let (a, b, c): (u32, String, serde_json::Value) = p.args().unwrap();
    assert_eq!((a, b.as_str(), c["x"].as_u64()), (1, "two", Some(3)));
    let (a,): (u32,) = p.args().unwrap();
    assert_eq!(a, 1);
    let (p, _) = dec(r#"37["ok"]"#).unwrap();
    let v: String = p.args().unwrap();
    assert_eq!(v, "ok");
    assert_eq!(p.arg_values().unwrap(), vec![serde_json::json!("ok")]);
}

#[test]
fn reassembly_in_order() {
    let mut d = Decoder::default();
    let text = Bytes::from_static(
        br#"52-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    );
    assert_eq!(d.decode_text(text).unwrap(), None);
    assert_eq!(d.decode_binary(Bytes::from_static(b"a")).unwrap(), None);
    let p = d.decode_binary(Bytes::from_static(b"b")).unwrap().unwrap();
    assert_eq!(
        p.attachments,
        vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
    );
    assert!(p.value().is_ok());
    assert_eq!(
        d.decode_binary(Bytes::from_static(b"c")).unwrap_err(),
        DecodeError::UnexpectedAttachment
    );
}

#[test]
fn placeholder_out_of_range_is_rejected() {
    let p = Packet::event(
        Nsp::ROOT,
        Bytes::from_static(br#"["up",{"_placeholder":true,"num":3}]"#),
        None,
        vec![Bytes::from_static(b"a")],
    );
    assert_eq!(p.value().unwrap_err(), DecodeError::InvalidPlaceholder);
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn limits(max_attachment_bytes: usize) -> DecodeLimits {
    DecodeLimits {
        max_attachment_bytes,
        ..DecodeLimits::default()
    }
}

#[test]
fn default_limits_are_documented_values() {
    let l = DecodeLimits::default();
    assert_eq!(l.max_attachments, 10);
    assert_eq!(l.max_attachment_bytes, 1_000_000);
    assert_eq!(l.attachment_timeout, std::time::Duration::from_secs(20));
}

#[test]
fn attachments_up_to_the_byte_cap_complete() {
    let mut d = Decoder::new(limits(10));
    let text = b(r#"52-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#);
    assert_eq!(d.decode_text(text).unwrap(), None);
    assert_eq!(d.decode_binary(Bytes::from(vec![1; 6])).unwrap(), None);
    assert_eq!(d.buffered_bytes(), 6);
    let p = d.decode_binary(Bytes::from(vec![2; 4])).unwrap().unwrap();
    assert_eq!(p.attachments.len(), 2);
    assert_eq!(d.buffered_bytes(), 0);
}

#[test]
fn attachments_over_the_byte_cap_drop_the_packet() {
    let mut d = Decoder::new(limits(10));
    let text = b(r#"53-["up",{"_placeholder":true,"num":0}]"#);
    assert_eq!(d.decode_text(text).unwrap(), None);
    assert_eq!(d.decode_binary(Bytes::from(vec![1; 6])).unwrap(), None);
    assert_eq!(
        d.decode_binary(Bytes::from(vec![2; 5])).unwrap_err(),
        DecodeError::AttachmentsTooLarge(10)
    );
    // Released: nothing pending, nothing held; the decoder takes new packets.
    assert!(!d.is_reassembling());
    assert_eq!(d.buffered_bytes(), 0);
    assert_eq!(
        d.decode_binary(Bytes::from_static(b"x")).unwrap_err(),
        DecodeError::UnexpectedAttachment
    );
    assert!(d.decode_text(b(r#"2["ok"]"#)).unwrap().is_some());
}

#[test]
fn default_byte_cap_refuses_two_attachments_of_nearly_max_http_buffer_size() {
    let mut d = Decoder::default();
    let text = b(r#"59-["up",{"_placeholder":true,"num":0}]"#);
    assert_eq!(d.decode_text(text).unwrap(), None);
    assert_eq!(
        d.decode_binary(Bytes::from(vec![0; 999_999])).unwrap(),
        None
    );
    assert_eq!(
        d.decode_binary(Bytes::from(vec![0; 999_999])).unwrap_err(),
        DecodeError::AttachmentsTooLarge(1_000_000)
    );
    assert!(!d.is_reassembling());
}

#[test]
fn placeholder_naming_a_missing_attachment_fails_when_the_packet_completes() {
    for text in [
        r#"51-["up",{"_placeholder":true,"num":1}]"#,
        r#"51-["up",{"_placeholder":true,"num":"0"}]"#,
        r#"51-["up",{"_placeholder":true}]"#,
        r#"51-["up",{"_placeholder":true,"num":-1}]"#,
        r#"61-3[{"a":[{"_placeholder":true,"num":7}]}]"#,
    ] {
        let mut d = Decoder::default();
        assert_eq!(d.decode_text(b(text)).unwrap(), None, "{text}");
        assert_eq!(
            d.decode_binary(Bytes::from_static(b"a")).unwrap_err(),
            DecodeError::InvalidPlaceholder,
            "{text}"
        );
        assert!(!d.is_reassembling());
    }
}

#[test]
fn binary_packet_announcing_no_attachment_may_not_name_one() {
    let mut d = Decoder::default();
    assert_eq!(
        d.decode_text(b(r#"50-["up",{"_placeholder":true,"num":0}]"#))
            .unwrap_err(),
        DecodeError::InvalidPlaceholder
    );
    assert!(d.decode_text(b(r#"50-["up",1]"#)).unwrap().is_some());
}

#[test]
fn valid_placeholders_and_unnamed_attachments_are_accepted() {
    let mut d = Decoder::default();
    let text = b(r#"52-["up",{"x":{"_placeholder":true,"num":1.0}},{"_placeholder":false}]"#);
    assert_eq!(d.decode_text(text).unwrap(), None);
    assert_eq!(d.decode_binary(Bytes::from_static(b"a")).unwrap(), None);
    let p = d.decode_binary(Bytes::from_static(b"b")).unwrap().unwrap();
    assert_eq!(p.attachments.len(), 2);
}

#[test]
fn binary_packet_with_invalid_json_fails_when_complete() {
    let mut d = Decoder::default();
    assert_eq!(d.decode_text(b(r#"51-["up",{"#)).unwrap(), None);
    assert_eq!(
        d.decode_binary(Bytes::from_static(b"a")).unwrap_err(),
        DecodeError::InvalidJson
    );
}

#[test]
fn connect_payload_must_be_absent_or_a_json_object() {
    for ok in [
        "0",
        "0{}",
        r#"0/chat,{"token":"x"}"#,
        r#"0 {"a":[1,{"b":null}]} "#,
    ] {
        assert!(dec(ok).is_ok(), "{ok}");
    }
    for bad in ["0{bad", r#"0{"a":1} x"#, r#"0/chat,{"a":"#, "0\x0c{}"] {
        assert_eq!(dec(bad).unwrap_err(), DecodeError::InvalidJson, "{bad}");
    }
    // Strings are checked too: a key or value that is not UTF-8 is not JSON.
    let not_utf8 = Bytes::from_static(b"0/admin,{\"s\xb4Pd\":\"x\"}");
    assert_eq!(
        decode_text(not_utf8, &DecodeLimits::default()).unwrap_err(),
        DecodeError::InvalidJson
    );
    for bad in ["0[]", r#"0"x""#, "0null", "0true", "0 "] {
        assert_eq!(dec(bad).unwrap_err(), DecodeError::InvalidPayload, "{bad}");
    }
}

#[test]
fn disconnect_takes_no_payload() {
    assert!(dec("1").is_ok());
    assert!(dec("1/chat,").is_ok());
    assert_eq!(dec("1 ").unwrap_err(), DecodeError::InvalidPayload);
    assert_eq!(dec("1/chat, ").unwrap_err(), DecodeError::InvalidPayload);
}

#[test]
fn connect_error_payload_is_a_json_string_or_object() {
    assert!(dec(r#"4"nope""#).is_ok());
    assert!(dec(r#"4/chat,{"message":"m","data":{"a":1}}"#).is_ok());
    assert_eq!(
        dec(r#"4{"message":"#).unwrap_err(),
        DecodeError::InvalidJson
    );
    assert_eq!(dec(r#"4"open"#).unwrap_err(), DecodeError::InvalidJson);
    assert_eq!(dec("41").unwrap_err(), DecodeError::InvalidPayload);
    assert_eq!(dec("4").unwrap_err(), DecodeError::InvalidPayload);
}

#[test]
fn packet_value_checks_placeholders_as_node_does() {
    let p = Packet::event(
        Nsp::ROOT,
        b(r#"["up",{"_placeholder":true,"num":"0"}]"#),
        None,
        vec![Bytes::from_static(b"a")],
    );
    assert_eq!(p.value().unwrap_err(), DecodeError::InvalidPlaceholder);
}
