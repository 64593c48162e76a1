//! The MessagePack parser (`socket.io-msgpack-parser`): every Socket.IO packet is one binary
//! Engine.IO message, the MessagePack map `{type, data, id, nsp}` (written as `notepack.io`
//! writes it), binary values native, no attachments.
//!
//! The rest of the crate keeps one form of a packet, the JSON one ([`Packet`]: JSON text with
//! `{"_placeholder":true,"num":N}` for each binary value, and the attachments), so that the
//! payload codec and everything above it do not depend on the parser: this module converts a
//! packet to the MessagePack message when it is sent ([`Parser::encode`],
//! [`Parser::convert`]) and a received message back to that form ([`decode`]). The
//! conversion numbers placeholders depth-first, as `socket.io-parser` does.
//!
//! What the npm parser accepts, this decoder accepts: `type` an integer from 0 (CONNECT) to 4
//! (CONNECT_ERROR), `nsp` a string, `id` absent or an integer, `data` absent or an object for
//! CONNECT, absent for DISCONNECT, a string or an object for CONNECT_ERROR, a non-empty array
//! whose first element is a (not reserved) event name for EVENT, an array for ACK. Decoding is
//! bounded: nesting depth 64, every length checked before anything is allocated, trailing bytes
//! refused, and the binary values of one packet within [`DecodeLimits`].

use std::borrow::Cow;

use bytes::Bytes;
use rmpv::Value;

use super::packet::{
    decode_text, DecodeLimits, EncodedPacket, Nsp, Packet, PacketKind, MAX_ACK_ID, RESERVED_EVENTS,
};
use crate::cluster::bridge::fill;
use crate::cluster::value::{self, write_json_with};
use crate::error::DecodeError;

/// The Socket.IO parser a server or client speaks (Node's `parser` option). Both ends must use
/// the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parser {
    /// The default parser (`socket.io-parser`): text packets, binary values as attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: one binary MessagePack message per packet.
    MsgPack,
}

impl Parser {
    /// `packet` as this parser sends it.
    pub fn encode(self, packet: &Packet) -> EncodedPacket {
        match self {
            Parser::Json => packet.encode(),
            Parser::MsgPack => binary_only(encode(packet)),
        }
    }

    /// A packet encoded in the JSON form (what the payload codec and [`Packet::encode`] give)
    /// as this parser sends it; `None` when it is not a packet (it cannot be converted).
    pub fn convert(self, packet: &EncodedPacket) -> Option<Cow<'_, EncodedPacket>> {
        if self == Parser::Json || packet.text.is_empty() {
            return Some(Cow::Borrowed(packet));
        }
        let limits = DecodeLimits {
            max_attachments: packet.attachments.len(),
            max_attachment_bytes: usize::MAX,
            ..DecodeLimits::default()
        };
        let text = packet.text.slice(1..);
        let (mut p, announced) = decode_text(text, &limits).ok()?;
        if announced != packet.attachments.len() {
            return None;
        }
        p.attachments = packet.attachments.clone();
        Some(Cow::Owned(binary_only(encode(&p))))
    }
}

/// A packet sent as one binary message.
fn binary_only(bytes: Bytes) -> EncodedPacket {
    EncodedPacket {
        text: Bytes::new(),
        attachments: vec![bytes],
    }
}

/// The MessagePack message for `packet`. A payload that is not valid JSON (which the encoders
/// of this crate never produce) is sent as `null` data.
pub fn encode(packet: &Packet) -> Bytes {
    let kind = match packet.kind {
        PacketKind::Connect => 0,
        PacketKind::Disconnect => 1,
        PacketKind::Event | PacketKind::BinaryEvent => 2,
        PacketKind::Ack | PacketKind::BinaryAck => 3,
        PacketKind::ConnectError => 4,
    };
    let mut entries = vec![(Value::from("type"), Value::from(kind))];
    if !packet.data.is_empty() {
        let data = value::decode_json(&packet.data)
            .and_then(|v| {
                if packet.kind.is_binary() {
                    fill(v, &packet.attachments, 0)
                } else {
                    Ok(v)
                }
            })
            .unwrap_or(Value::Nil);
        entries.push((Value::from("data"), data));
    }
    if let Some(id) = packet.id {
        entries.push((Value::from("id"), Value::from(id)));
    }
    entries.push((Value::from("nsp"), Value::from(packet.nsp.as_str())));
    let mut out = Vec::with_capacity(packet.data.len() + 32);
    value::encode_msgpack(&Value::Map(entries), &mut out);
    Bytes::from(out)
}

/// The packet a MessagePack message carries, in the JSON form.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Packet, DecodeError> {
    let Value::Map(entries) = value::decode_msgpack(bytes).map_err(|_| DecodeError::InvalidJson)?
    else {
        return Err(DecodeError::InvalidPayload);
    };
    let mut kind = None;
    let mut nsp = None;
    let mut id = None;
    let mut data = None;
    // As a JavaScript object: a repeated key keeps its last value; `undefined` (which
    // `notepack.io` writes, for example for a CONNECT without auth) is no value.
    for (k, v) in entries {
        if is_undefined(&v) {
            continue;
        }
        let v = without_undefined(v);
        match k.as_str() {
            Some("type") => kind = Some(v),
            Some("nsp") => nsp = Some(v),
            Some("id") => id = Some(v),
            Some("data") => data = Some(v),
            _ => {}
        }
    }
    let kind = match kind.as_ref().and_then(integer) {
        Some(0) => PacketKind::Connect,
        Some(1) => PacketKind::Disconnect,
        Some(2) => PacketKind::Event,
        Some(3) => PacketKind::Ack,
        Some(4) => PacketKind::ConnectError,
        _ => return Err(DecodeError::InvalidPayload),
    };
    let nsp = match nsp {
        Some(Value::String(s)) => Nsp::new(s.as_str().ok_or(DecodeError::InvalidNamespace)?)
            .map_err(|_| DecodeError::InvalidNamespace)?,
        _ => return Err(DecodeError::InvalidNamespace),
    };
    let id = match id {
        None => None,
        Some(v) => match integer(&v) {
            Some(n) if n <= MAX_ACK_ID => Some(n),
            _ => return Err(DecodeError::InvalidAckId),
        },
    };
    let valid = match (kind, &data) {
        (PacketKind::Connect, None | Some(Value::Map(_))) => true,
        (PacketKind::Disconnect, None) => true,
        (PacketKind::ConnectError, Some(Value::String(_) | Value::Map(_))) => true,
        (PacketKind::Event, Some(Value::Array(items))) => match items.first() {
            Some(Value::String(name)) => {
                name.as_str().is_some_and(|n| !RESERVED_EVENTS.contains(&n))
            }
            _ => false,
        },
        (PacketKind::Ack, Some(Value::Array(_))) => true,
        _ => false,
    };
    if !valid || (id.is_some() && !kind.is_event() && !kind.is_ack()) {
        return Err(DecodeError::InvalidPayload);
    }
    let mut attachments: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    let mut json = Vec::new();
    if let Some(data) = &data {
        let ok = write_json_with(data, &mut json, &mut |bytes, out| {
            total = total.saturating_add(bytes.len());
            if attachments.len() >= limits.max_attachments || total > limits.max_attachment_bytes {
                return false;
            }
            out.extend_from_slice(b"{\"_placeholder\":true,\"num\":");
            out.extend_from_slice(itoa::Buffer::new().format(attachments.len()).as_bytes());
            out.push(b'}');
            attachments.push(Bytes::copy_from_slice(bytes));
            true
        });
        if !ok {
            return Err(if attachments.len() >= limits.max_attachments {
                DecodeError::TooManyAttachments(limits.max_attachments)
            } else if total > limits.max_attachment_bytes {
                DecodeError::AttachmentsTooLarge(limits.max_attachment_bytes)
            } else {
                DecodeError::InvalidPayload
            });
        }
    }
    let kind = match kind {
        PacketKind::Event if !attachments.is_empty() => PacketKind::BinaryEvent,
        PacketKind::Ack if !attachments.is_empty() => PacketKind::BinaryAck,
        k if !attachments.is_empty() => {
            // Binary values only travel in events and acks.
            let _ = k;
            return Err(DecodeError::InvalidPayload);
        }
        k => k,
    };
    Ok(Packet {
        kind,
        nsp,
        id,
        data: Bytes::from(json),
        attachments,
    })
}

/// `notepack.io`'s `undefined`: the extension type 0 with one zero byte.
fn is_undefined(v: &Value) -> bool {
    matches!(v, Value::Ext(0, b) if b.as_slice() == [0])
}

/// `v` as `JSON.stringify` would see it: `undefined` array items are `null`, `undefined`
/// object members are gone.
fn without_undefined(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| {
                    if is_undefined(&i) {
                        Value::Nil
                    } else {
                        without_undefined(i)
                    }
                })
                .collect(),
        ),
        Value::Map(entries) => Value::Map(
            entries
                .into_iter()
                .filter(|(_, v)| !is_undefined(v))
                .map(|(k, v)| (k, without_undefined(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A non-negative integer (JavaScript's `Number.isInteger`, negative ones refused here as no
/// field takes them).
fn integer(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => i.as_u64(),
        Value::F64(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 9_007_199_254_740_992.0 => {
            Some(*f as u64)
        }
        Value::F32(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 16_777_216.0 => Some(*f as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nsp(s: &str) -> Nsp {
        Nsp::new(s).unwrap()
    }

    #[test]
    fn an_event_is_the_map_node_writes() {
        let p = Packet::event(
            nsp("/"),
            Bytes::from_static(br#"["hello",1]"#),
            None,
            vec![],
        );
        let bytes = encode(&p);
        let mut want = vec![0x83, 0xa4];
        want.extend_from_slice(b"type");
        want.extend_from_slice(&[0x02, 0xa4]);
        want.extend_from_slice(b"data");
        want.extend_from_slice(&[0x92, 0xa5]);
        want.extend_from_slice(b"hello");
        want.extend_from_slice(&[0x01, 0xa3]);
        want.extend_from_slice(b"nsp");
        want.extend_from_slice(&[0xa1, b'/']);
        assert_eq!(&bytes[..], &want[..]);
        assert_eq!(decode(&bytes, &DecodeLimits::default()).unwrap(), p);
    }

    #[test]
    fn binary_values_become_attachments_and_back() {
        let p = Packet::event(
            nsp("/chat"),
            Bytes::from_static(
                br#"["file",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]}]"#,
            ),
            Some(7),
            vec![Bytes::from_static(b"\x00\x01"), Bytes::from_static(b"")],
        );
        let bytes = encode(&p);
        let back = decode(&bytes, &DecodeLimits::default()).unwrap();
        assert_eq!(back, p);
        // As a converted encoded packet: one binary frame.
        let json = p.encode();
        let e = Parser::MsgPack.convert(&json).unwrap();
        assert_eq!(e.frame_count(), 1);
        assert_eq!(e.attachments, vec![bytes]);
        // An ack with binary, a CONNECT, a CONNECT_ERROR, a DISCONNECT.
        for p in [
            Packet::ack(
                nsp("/"),
                3,
                Bytes::from_static(br#"[{"_placeholder":true,"num":0}]"#),
                vec![Bytes::from_static(b"x")],
            ),
            Packet::connect(nsp("/a"), Some(Bytes::from_static(br#"{"token":"t"}"#))),
            Packet::connect(nsp("/a"), None),
            Packet::connect_error(nsp("/"), "no", Some(&serde_json::json!({"code": 1}))),
            Packet::disconnect(nsp("/x")),
        ] {
            assert_eq!(decode(&encode(&p), &DecodeLimits::default()).unwrap(), p);
        }
    }

    #[test]
    fn what_the_npm_parser_refuses_is_refused() {
        let limits = DecodeLimits::default();
        let map = |entries: Vec<(&str, Value)>| {
            let mut out = Vec::new();
            let v = Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (Value::from(k), v))
                    .collect(),
            );
            value::encode_msgpack(&v, &mut out);
            out
        };
        let arr = |items: Vec<Value>| Value::Array(items);
        let bad = [
            map(vec![("type", 2.into()), ("data", arr(vec!["a".into()]))]),
            map(vec![("type", 9.into()), ("nsp", "/".into())]),
            map(vec![("type", (-1).into()), ("nsp", "/".into())]),
            map(vec![
                ("type", 2.into()),
                ("nsp", "/".into()),
                ("data", arr(vec![])),
            ]),
            map(vec![
                ("type", 2.into()),
                ("nsp", "/".into()),
                ("data", arr(vec![1.into()])),
            ]),
            map(vec![
                ("type", 2.into()),
                ("nsp", "/".into()),
                ("data", arr(vec!["connect".into()])),
            ]),
            map(vec![
                ("type", 3.into()),
                ("nsp", "/".into()),
                ("data", "x".into()),
            ]),
            map(vec![
                ("type", 1.into()),
                ("nsp", "/".into()),
                ("data", 1.into()),
            ]),
            map(vec![
                ("type", 0.into()),
                ("nsp", "/".into()),
                ("data", "x".into()),
            ]),
            map(vec![("type", 4.into()), ("nsp", "/".into())]),
            map(vec![
                ("type", 2.into()),
                ("nsp", "chat".into()),
                ("data", arr(vec!["a".into()])),
            ]),
            map(vec![
                ("type", 2.into()),
                ("nsp", "/".into()),
                ("id", "1".into()),
                ("data", arr(vec!["a".into()])),
            ]),
            vec![0x92, 0x01, 0x02],
            vec![0xc1],
            vec![0x81],
        ];
        for b in bad {
            assert!(decode(&b, &limits).is_err(), "{b:x?}");
        }
        // `undefined` as notepack.io writes it: no value at the top, `null` in an array,
        // no member in an object.
        let undef = Value::Ext(0, vec![0]);
        let connect = map(vec![
            ("type", 0.into()),
            ("data", undef.clone()),
            ("nsp", "/".into()),
        ]);
        assert_eq!(
            decode(&connect, &limits).unwrap(),
            Packet::connect(nsp("/"), None)
        );
        let event = map(vec![
            ("type", 2.into()),
            ("nsp", "/".into()),
            ("id", undef.clone()),
            (
                "data",
                arr(vec![
                    "e".into(),
                    undef.clone(),
                    Value::Map(vec![("a".into(), undef), ("b".into(), 1.into())]),
                ]),
            ),
        ]);
        let p = decode(&event, &limits).unwrap();
        assert_eq!(p.id, None);
        assert_eq!(&p.data[..], br#"["e",null,{"b":1}]"#);
        // Attachment bounds.
        let bins = map(vec![
            ("type", 2.into()),
            ("nsp", "/".into()),
            (
                "data",
                arr(vec![
                    "a".into(),
                    Value::Binary(vec![0; 10]),
                    Value::Binary(vec![0; 10]),
                ]),
            ),
        ]);
        let small = DecodeLimits {
            max_attachments: 1,
            ..DecodeLimits::default()
        };
        assert_eq!(
            decode(&bins, &small),
            Err(DecodeError::TooManyAttachments(1))
        );
        let small = DecodeLimits {
            max_attachment_bytes: 15,
            ..DecodeLimits::default()
        };
        assert_eq!(
            decode(&bins, &small),
            Err(DecodeError::AttachmentsTooLarge(15))
        );
        assert!(decode(&bins, &limits).is_ok());
    }
}
