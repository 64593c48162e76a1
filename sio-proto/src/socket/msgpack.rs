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
        let mut converted = binary_only(encode(&p));
        converted.uncompressed = packet.uncompressed;
        Some(Cow::Owned(converted))
    }
}

/// A packet sent as one binary message.
fn binary_only(bytes: Bytes) -> EncodedPacket {
    EncodedPacket {
        text: Bytes::new(),
        attachments: vec![bytes],
        uncompressed: false,
    }
}

/// The MessagePack message for `packet`. A payload that is not valid JSON (which the encoders
/// of this crate never produce) is sent as `null` data.
///
/// Without binary values the JSON is streamed into MessagePack; with some, it goes through a
/// value tree whose placeholders are replaced by their attachments.
pub fn encode(packet: &Packet) -> Bytes {
    if !packet.kind.is_binary() {
        if let Some(b) = encode_streamed(packet) {
            return b;
        }
    }
    encode_tree(packet)
}

fn kind_number(kind: PacketKind) -> u8 {
    match kind {
        PacketKind::Connect => 0,
        PacketKind::Disconnect => 1,
        PacketKind::Event | PacketKind::BinaryEvent => 2,
        PacketKind::Ack | PacketKind::BinaryAck => 3,
        PacketKind::ConnectError => 4,
    }
}

/// [`encode`] of a packet without binary values: the JSON transcoded as it is read.
fn encode_streamed(packet: &Packet) -> Option<Bytes> {
    use rmp::encode as w;
    let has_data = !packet.data.is_empty();
    let n = 2 + u32::from(has_data) + u32::from(packet.id.is_some());
    let mut out = Vec::with_capacity(packet.data.len() + packet.nsp.len() + 24);
    w::write_map_len(&mut out, n).ok()?;
    w::write_str(&mut out, "type").ok()?;
    w::write_uint(&mut out, u64::from(kind_number(packet.kind))).ok()?;
    if has_data {
        w::write_str(&mut out, "data").ok()?;
        let mut de = serde_json::Deserializer::from_slice(&packet.data);
        serde_transcode::transcode(&mut de, &mut rmp_serde::Serializer::new(&mut out)).ok()?;
        de.end().ok()?;
    }
    if let Some(id) = packet.id {
        w::write_str(&mut out, "id").ok()?;
        w::write_uint(&mut out, id).ok()?;
    }
    w::write_str(&mut out, "nsp").ok()?;
    w::write_str(&mut out, packet.nsp.as_str()).ok()?;
    Some(Bytes::from(out))
}

/// [`encode`] through a value tree (binary values in place of their placeholders).
fn encode_tree(packet: &Packet) -> Bytes {
    let kind = kind_number(packet.kind);
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
///
/// A message without binary values or extension types is transcoded to JSON as it is read;
/// one with some goes through a bounded value tree.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Packet, DecodeError> {
    match decode_streamed(bytes)? {
        Some(p) => Ok(p),
        None => decode_tree(bytes, limits),
    }
}

/// [`decode`] of a message without binary values: `None` when it has some (or anything the
/// streamed path leaves to the tree: a field of an unusual form).
fn decode_streamed(bytes: &[u8]) -> Result<Option<Packet>, DecodeError> {
    let mut r = Scan { b: bytes, pos: 0 };
    let n = match r.byte()? {
        m @ 0x80..=0x8f => usize::from(m & 0x0f),
        0xde => r.len(2)?,
        0xdf => r.len(4)?,
        _ => return Err(DecodeError::InvalidPayload),
    };
    let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
    for _ in 0..n {
        let key = r.str()?;
        match key {
            Some("type") => kind = Some(r.uint()?),
            Some("nsp") => nsp = Some(r.str()?),
            Some("id") => id = Some(r.uint()?),
            Some("data") => {
                let start = r.pos;
                let special = r.skip(0)?;
                if special {
                    return Ok(None);
                }
                data = Some(&bytes[start..r.pos]);
            }
            _ => {
                r.skip(0)?;
            }
        }
    }
    if r.pos != bytes.len() {
        return Err(DecodeError::InvalidPayload);
    }
    // Forms the tree handles (an integral float, `undefined`): left to it.
    let (Some(Some(kind)), Some(Some(nsp))) = (kind, nsp) else {
        return Ok(None);
    };
    let id = match id {
        None => None,
        Some(Some(id)) if id <= MAX_ACK_ID => Some(id),
        Some(Some(_)) => return Err(DecodeError::InvalidAckId),
        Some(None) => return Ok(None),
    };
    let kind = match kind {
        0 => PacketKind::Connect,
        1 => PacketKind::Disconnect,
        2 => PacketKind::Event,
        3 => PacketKind::Ack,
        4 => PacketKind::ConnectError,
        _ => return Err(DecodeError::InvalidPayload),
    };
    let nsp = Nsp::new(nsp).map_err(|_| DecodeError::InvalidNamespace)?;
    let marker = data.and_then(|d| d.first().copied());
    let is_map = |m: u8| matches!(m, 0x80..=0x8f | 0xde | 0xdf);
    let is_array = |m: u8| matches!(m, 0x90..=0x9f | 0xdc | 0xdd);
    let is_str = |m: u8| matches!(m, 0xa0..=0xbf | 0xd9..=0xdb);
    let valid = match (kind, marker) {
        (PacketKind::Connect, None) => true,
        (PacketKind::Connect, Some(m)) => is_map(m),
        (PacketKind::Disconnect, None) => true,
        (PacketKind::ConnectError, Some(m)) => is_map(m) || is_str(m),
        (PacketKind::Event | PacketKind::Ack, Some(m)) => is_array(m),
        _ => false,
    };
    if !valid || (id.is_some() && !kind.is_event() && !kind.is_ack()) {
        return Err(DecodeError::InvalidPayload);
    }
    let mut json = Vec::with_capacity(data.map_or(0, <[u8]>::len) + 16);
    if let Some(d) = data {
        let mut de = rmp_serde::Deserializer::from_read_ref(d);
        serde_transcode::transcode(&mut de, &mut serde_json::Serializer::new(&mut json))
            .map_err(|_| DecodeError::InvalidPayload)?;
    }
    if kind == PacketKind::Event {
        let (name, _) = super::packet::parse_event_name(&json)?;
        if RESERVED_EVENTS.contains(&&*name) {
            return Err(DecodeError::InvalidPayload);
        }
    }
    Ok(Some(Packet {
        kind,
        nsp,
        id,
        data: Bytes::from(json),
        attachments: Vec::new(),
    }))
}

/// A bounded reader over MessagePack bytes: enough to walk a message's top level and skip
/// values.
struct Scan<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.b.get(self.pos).ok_or(DecodeError::InvalidPayload)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::InvalidPayload)?;
        let s = self
            .b
            .get(self.pos..end)
            .ok_or(DecodeError::InvalidPayload)?;
        self.pos = end;
        Ok(s)
    }

    /// A big-endian length of `size` bytes.
    fn len(&mut self, size: usize) -> Result<usize, DecodeError> {
        let s = self.take(size)?;
        let n = s.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
        usize::try_from(n).map_err(|_| DecodeError::InvalidPayload)
    }

    /// A string (`None`, the value skipped, when it is another kind of value).
    fn str(&mut self) -> Result<Option<&'a str>, DecodeError> {
        let n = match self.b.get(self.pos) {
            Some(m @ 0xa0..=0xbf) => {
                self.pos += 1;
                usize::from(m & 0x1f)
            }
            Some(0xd9) => {
                self.pos += 1;
                self.len(1)?
            }
            Some(0xda) => {
                self.pos += 1;
                self.len(2)?
            }
            Some(0xdb) => {
                self.pos += 1;
                self.len(4)?
            }
            _ => {
                self.skip(0)?;
                return Ok(None);
            }
        };
        std::str::from_utf8(self.take(n)?)
            .map(Some)
            .map_err(|_| DecodeError::InvalidUtf8)
    }

    /// A non-negative integer (`None`, the value skipped, when it is another kind of value).
    fn uint(&mut self) -> Result<Option<u64>, DecodeError> {
        let size = match self.b.get(self.pos) {
            Some(&m @ 0x00..=0x7f) => {
                self.pos += 1;
                return Ok(Some(u64::from(m)));
            }
            Some(0xcc) => 1,
            Some(0xcd) => 2,
            Some(0xce) => 4,
            Some(0xcf) => 8,
            _ => {
                self.skip(0)?;
                return Ok(None);
            }
        };
        self.pos += 1;
        let s = self.take(size)?;
        Ok(Some(s.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b))))
    }

    /// Skips one value; returns whether it holds a binary value or an extension type.
    fn skip(&mut self, depth: usize) -> Result<bool, DecodeError> {
        if depth > value::MAX_DEPTH {
            return Err(DecodeError::InvalidPayload);
        }
        let m = self.byte()?;
        let (skip, items, special) = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0, false),
            0x80..=0x8f => (0, 2 * usize::from(m & 0x0f), false),
            0x90..=0x9f => (0, usize::from(m & 0x0f), false),
            0xa0..=0xbf => (usize::from(m & 0x1f), 0, false),
            0xc4 => (self.len(1)?, 0, true),
            0xc5 => (self.len(2)?, 0, true),
            0xc6 => (self.len(4)?, 0, true),
            0xc7 => (self.len(1)? + 1, 0, true),
            0xc8 => (self.len(2)? + 1, 0, true),
            0xc9 => (self.len(4)?.saturating_add(1), 0, true),
            0xca => (4, 0, false),
            0xcb => (8, 0, false),
            0xcc | 0xd0 => (1, 0, false),
            0xcd | 0xd1 => (2, 0, false),
            0xce | 0xd2 => (4, 0, false),
            0xcf | 0xd3 => (8, 0, false),
            0xd4 => (2, 0, true),
            0xd5 => (3, 0, true),
            0xd6 => (5, 0, true),
            0xd7 => (9, 0, true),
            0xd8 => (17, 0, true),
            0xd9 => (self.len(1)?, 0, false),
            0xda => (self.len(2)?, 0, false),
            0xdb => (self.len(4)?, 0, false),
            0xdc => (0, self.len(2)?, false),
            0xdd => (0, self.len(4)?, false),
            0xde => (0, self.len(2)?.saturating_mul(2), false),
            0xdf => (0, self.len(4)?.saturating_mul(2), false),
            _ => return Err(DecodeError::InvalidPayload),
        };
        let bytes = self.take(skip)?;
        if matches!(m, 0xa0..=0xbf | 0xd9..=0xdb) && std::str::from_utf8(bytes).is_err() {
            // A string that is not UTF-8 (JavaScript would read it with replacement
            // characters; `rmp-serde` as bytes): refused.
            return Err(DecodeError::InvalidUtf8);
        }
        let mut special = special;
        for _ in 0..items {
            special |= self.skip(depth + 1)?;
        }
        Ok(special)
    }
}

/// [`decode`] through a bounded value tree.
fn decode_tree(bytes: &[u8], limits: &DecodeLimits) -> Result<Packet, DecodeError> {
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
        // As the JSON parser: a string (not reserved) or a number names the event.
        (PacketKind::Event, Some(Value::Array(items))) => match items.first() {
            Some(Value::String(name)) => {
                name.as_str().is_some_and(|n| !RESERVED_EVENTS.contains(&n))
            }
            Some(Value::Integer(_) | Value::F64(_) | Value::F32(_)) => true,
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
    fn the_streamed_paths_agree_with_the_tree() {
        let limits = DecodeLimits::default();
        let cases: &[(PacketKind, &str, Option<u64>, &str)] = &[
            (PacketKind::Event, "/", None, r#"["a"]"#),
            (
                PacketKind::Event,
                "/chat",
                Some(3),
                r#"["a",1,-1,-200,70000,-70000,1.5,1e300,-0.25]"#,
            ),
            (
                PacketKind::Event,
                "/",
                None,
                r#"["é\u0000\"x",null,true,false,{"k":[{}],"":[]}]"#,
            ),
            (
                PacketKind::Event,
                "/",
                Some(9_007_199_254_740_991),
                r#"[7,18446744073709551615]"#,
            ),
            (PacketKind::Ack, "/", Some(0), "[]"),
            (
                PacketKind::Connect,
                "/",
                None,
                r#"{"token":"t","n":{"a":[1]}}"#,
            ),
            (PacketKind::Connect, "/x", None, ""),
            (PacketKind::ConnectError, "/", None, r#""refused""#),
            (
                PacketKind::ConnectError,
                "/",
                None,
                r#"{"message":"m","data":{"c":1}}"#,
            ),
            (PacketKind::Disconnect, "/", None, ""),
        ];
        let v = |d: &Bytes| {
            if d.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_slice::<serde_json::Value>(d).unwrap()
            }
        };
        for &(kind, ns, id, json) in cases {
            let p = Packet {
                kind,
                nsp: nsp(ns),
                id,
                data: Bytes::copy_from_slice(json.as_bytes()),
                attachments: vec![],
            };
            let streamed = encode_streamed(&p).expect("streamed");
            let tree = encode_tree(&p);
            let a = decode_streamed(&streamed)
                .unwrap()
                .expect("streamed decode");
            let b = decode_tree(&tree, &limits).unwrap();
            let c = decode_tree(&streamed, &limits).unwrap();
            let d = decode_streamed(&tree)
                .unwrap()
                .expect("streamed decode of the tree's");
            for q in [&a, &b, &c, &d] {
                assert_eq!((q.kind, &q.nsp, q.id), (kind, &p.nsp, id), "{json}");
                assert_eq!(v(&q.data), v(&p.data), "{json}");
            }
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
        // A string that is not UTF-8, as data.
        let bad_str = map(vec![("type", 4.into()), ("nsp", "/".into())]);
        let mut bad_str = bad_str[..bad_str.len()].to_vec();
        bad_str[0] += 1;
        bad_str.extend_from_slice(b"\xa4data\xa1\xc3");
        assert_eq!(decode(&bad_str, &limits), Err(DecodeError::InvalidUtf8));
        // A number names an event, as with the JSON parser.
        let numbered = map(vec![
            ("type", 2.into()),
            ("nsp", "/".into()),
            ("data", arr(vec![1.into()])),
        ]);
        assert_eq!(&decode(&numbered, &limits).unwrap().data[..], b"[1]");
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
