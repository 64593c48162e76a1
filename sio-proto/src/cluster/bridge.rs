//! The bridge between the packet a cluster message carries ([`cluster::Packet`](Packet): a
//! MessagePack value `data` = `[event, ...args]`, binary arguments as `bin`) and the
//! Socket.IO packet this crate's sockets send ([`socket::Packet`](SocketPacket) and its
//! [`EncodedPacket`]: JSON text, `{"_placeholder":true,"num":N}` for each binary value, and
//! the attachments).
//!
//! Placeholders are numbered depth-first, arrays in order and objects in key order, as
//! `socket.io-parser`'s `deconstructPacket` numbers them, so that a Node broadcast reaches
//! our clients as Node's own server would send it; the reverse puts each attachment back in
//! place of its placeholder, so that the Rust server publishes the bytes a Node server
//! publishes for the same emit.
//!
//! Only events cross the bridge (a broadcast is an EVENT; Node keeps type 2 with binary
//! arguments, `BINARY_EVENT`, 5, is accepted too). Everything here reads data from the
//! network or from the application: a value that cannot be carried is a [`ClusterError`],
//! never a panic.

use bytes::Bytes;

use super::value::{self, write_json_with};
use super::{ClusterError, Packet, Value};
use crate::socket::packet::{decode_text, DecodeLimits, EncodedPacket, Nsp, PacketKind};
use crate::socket::packet::{Packet as SocketPacket, MAX_ACK_ID};

/// Socket.IO's EVENT type number.
const EVENT: u8 = 2;
/// Socket.IO's BINARY_EVENT type number.
const BINARY_EVENT: u8 = 5;

/// The Socket.IO packet our sockets send for `packet`, in namespace `nsp` (the namespace the
/// cluster message was for; the packet's own `nsp` field is the caller's to check).
pub fn to_socket_packet(packet: &Packet, nsp: &Nsp) -> Result<SocketPacket, ClusterError> {
    if packet.kind != EVENT && packet.kind != BINARY_EVENT {
        return Err(ClusterError::Malformed(
            "a broadcast packet is not an event",
        ));
    }
    if !matches!(packet.data, Value::Array(_)) {
        return Err(ClusterError::Malformed("event data is not an array"));
    }
    if packet.id.is_some_and(|id| id > MAX_ACK_ID) {
        return Err(ClusterError::Malformed("bad packet id"));
    }
    let mut attachments = Vec::new();
    let mut json = Vec::new();
    let written = write_json_with(&packet.data, &mut json, &mut |bytes, out| {
        out.extend_from_slice(b"{\"_placeholder\":true,\"num\":");
        out.extend_from_slice(itoa::Buffer::new().format(attachments.len()).as_bytes());
        out.push(b'}');
        attachments.push(Bytes::copy_from_slice(bytes));
        true
    });
    if !written {
        return Err(ClusterError::Malformed(
            "event data holds a value JSON cannot carry",
        ));
    }
    Ok(SocketPacket::event(
        nsp.clone(),
        Bytes::from(json),
        packet.id,
        attachments,
    ))
}

/// [`to_socket_packet`], encoded as the frames our sockets write.
pub fn to_encoded(packet: &Packet, nsp: &Nsp) -> Result<EncodedPacket, ClusterError> {
    to_socket_packet(packet, nsp).map(|p| p.encode())
}

/// The cluster packet for an EVENT or BINARY_EVENT of our socket layer: the JSON payload as a
/// value with each placeholder replaced by its attachment, type 2 (as Node's broadcasts),
/// `nsp` set to the packet's namespace.
pub fn from_socket_packet(packet: &SocketPacket) -> Result<Packet, ClusterError> {
    if !packet.kind.is_event() {
        return Err(ClusterError::Malformed("not an event packet"));
    }
    if packet.data.is_empty() {
        return Err(ClusterError::Malformed("an event without data"));
    }
    let data = value::decode_json(&packet.data)?;
    if !matches!(data, Value::Array(_)) {
        return Err(ClusterError::Malformed("event data is not an array"));
    }
    let attachments: &[Bytes] = if packet.kind == PacketKind::BinaryEvent {
        &packet.attachments
    } else {
        &[]
    };
    Ok(Packet {
        kind: EVENT,
        data: fill(data, attachments, 0)?,
        nsp: Some(packet.nsp.as_str().to_owned()),
        id: packet.id,
    })
}

/// [`from_socket_packet`] for a packet as encoded for sending (`4` + Socket.IO text, then
/// the attachments).
pub fn from_encoded(packet: &EncodedPacket) -> Result<Packet, ClusterError> {
    if packet.text.first() != Some(&b'4') {
        return Err(ClusterError::Malformed("not an Engine.IO message"));
    }
    let limits = DecodeLimits {
        max_attachments: packet.attachments.len(),
        ..DecodeLimits::default()
    };
    let (mut decoded, announced) = decode_text(packet.text.slice(1..), &limits)
        .map_err(|_| ClusterError::Malformed("not a Socket.IO packet"))?;
    if announced != packet.attachments.len() {
        return Err(ClusterError::Malformed("attachment count mismatch"));
    }
    decoded.attachments = packet.attachments.clone();
    from_socket_packet(&decoded)
}

/// `value` with every placeholder (an object whose `_placeholder` is `true`, as
/// `socket.io-parser` reads it) replaced by its attachment.
pub(crate) fn fill(
    value: Value,
    attachments: &[Bytes],
    depth: usize,
) -> Result<Value, ClusterError> {
    if depth > value::MAX_DEPTH {
        return Err(ClusterError::Malformed("nesting too deep"));
    }
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| fill(item, attachments, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Map(entries) => {
            if let Some(num) = placeholder(&entries) {
                let bytes = num
                    .and_then(|n| usize::try_from(n).ok())
                    .and_then(|n| attachments.get(n))
                    .ok_or(ClusterError::Malformed("a placeholder names no attachment"))?;
                return Ok(Value::Binary(bytes.to_vec()));
            }
            entries
                .into_iter()
                .map(|(k, v)| Ok((k, fill(v, attachments, depth + 1)?)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Map)
        }
        other => Ok(other),
    }
}

/// `Some(num)` when the object is a placeholder (its last `_placeholder` is `true`), with
/// its `num` if that is a non-negative integer.
fn placeholder(entries: &[(Value, Value)]) -> Option<Option<u64>> {
    let last = |key: &str| {
        entries
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    };
    if last("_placeholder") != Some(&Value::Boolean(true)) {
        return None;
    }
    Some(last("num").and_then(|n| match n {
        Value::F64(f) if *f >= 0.0 && f.fract() == 0.0 && *f < 1e15 => Some(*f as u64),
        other => other.as_u64(),
    }))
}
