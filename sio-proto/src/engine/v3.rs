//! Engine.IO v3 framing, spoken to Socket.IO v2 clients when the server allows it
//! ([`EngineConfig::allow_eio3`](super::server::EngineConfig::allow_eio3)).
//!
//! Specification: `docs/engine.io-protocol/v3.md`. What differs from v4 on the wire:
//!
//! - A binary websocket frame starts with the packet type as a byte (`0x04` for a message).
//! - A long-polling text payload writes each packet as `<length>:<packet>`, the length
//!   counted in UTF-16 code units (as JavaScript counts a string); a binary message in it is
//!   `b4` followed by base64. An empty packet (`0:`) is skipped.
//! - A client that supports binary (no `b64` in the handshake query) gets a binary payload when
//!   one of the packets is binary: each packet is `0x00` (text) or `0x01` (binary), its length
//!   in bytes as one byte per decimal digit, `0xff`, then the packet: the UTF-8 text, or the
//!   type byte and the data.
//!
//! Packets themselves ([`Packet`]) and their type digits are the same as in v4; the heartbeat
//! goes the other way (the client pings), which is the session's business, not the codec's.

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use super::packet::{decode_text, Frame, Message, Packet};
use crate::error::DecodeError;

/// The type byte of a binary message in a v3 binary frame or binary payload.
const MESSAGE: u8 = 4;

/// The websocket frame to write for `frame` (a v4 encoding): binary frames get their type
/// byte in front, or, for a client that takes no binary (`b64`), become text frames `b4`
/// followed by base64.
pub fn ws_frame(frame: Frame, binary: bool) -> Frame {
    match frame {
        Frame::Binary(b) if binary => {
            let mut out = BytesMut::with_capacity(1 + b.len());
            out.put_u8(MESSAGE);
            out.extend_from_slice(&b);
            Frame::Binary(out.freeze())
        }
        Frame::Binary(b) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&b);
            let mut out = BytesMut::with_capacity(2 + encoded.len());
            out.extend_from_slice(b"b4");
            out.extend_from_slice(encoded.as_bytes());
            Frame::Text(out.freeze())
        }
        text => text,
    }
}

/// Decodes one websocket frame a v3 client sent (a text frame may carry binary data as `b4`
/// followed by base64).
pub fn decode_ws_frame(frame: Frame) -> Result<Packet, DecodeError> {
    match frame {
        Frame::Text(b) => decode_string_packet(b),
        Frame::Binary(b) => decode_binary_packet(b),
    }
}

/// A binary packet: its type byte, then the data. Only a message carries binary data.
fn decode_binary_packet(b: Bytes) -> Result<Packet, DecodeError> {
    match b.first() {
        Some(&MESSAGE) => Ok(Packet::Message(Message::Binary(b.slice(1..)))),
        Some(&t) => Err(DecodeError::UnknownPacketType(t)),
        None => Err(DecodeError::Empty),
    }
}

/// A long-polling payload of `frames` (v4 encodings) and whether it is a binary one (sent as
/// `application/octet-stream`). `binary` tells whether the client takes binary payloads.
pub fn encode_payload<'a>(
    frames: impl IntoIterator<Item = &'a Frame> + Clone,
    binary: bool,
) -> (Bytes, bool) {
    let binary = binary && frames.clone().into_iter().any(Frame::is_binary);
    let mut out = BytesMut::new();
    for f in frames {
        if binary {
            encode_binary_entry(&mut out, f);
        } else {
            encode_text_entry(&mut out, f);
        }
    }
    (out.freeze(), binary)
}

/// `<length>:<packet>`, the length in UTF-16 code units.
fn encode_text_entry(out: &mut BytesMut, frame: &Frame) {
    match frame {
        Frame::Text(b) => {
            // Text frames hold UTF-8; should one not, its byte count is the best guess.
            let units = std::str::from_utf8(b)
                .map(|s| s.encode_utf16().count())
                .unwrap_or(b.len());
            out.extend_from_slice(itoa::Buffer::new().format(units).as_bytes());
            out.put_u8(b':');
            out.extend_from_slice(b);
        }
        Frame::Binary(b) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(b);
            // `b4` and base64 are ASCII: one code unit a byte.
            out.extend_from_slice(itoa::Buffer::new().format(2 + encoded.len()).as_bytes());
            out.extend_from_slice(b":b4");
            out.extend_from_slice(encoded.as_bytes());
        }
    }
}

/// `0x00`/`0x01`, the length's decimal digits as bytes, `0xff`, the packet.
fn encode_binary_entry(out: &mut BytesMut, frame: &Frame) {
    let (kind, len, data, prefix) = match frame {
        Frame::Text(b) => (0u8, b.len(), b, None),
        Frame::Binary(b) => (1u8, b.len() + 1, b, Some(MESSAGE)),
    };
    out.put_u8(kind);
    for d in itoa::Buffer::new().format(len).bytes() {
        out.put_u8(d - b'0');
    }
    out.put_u8(0xff);
    if let Some(t) = prefix {
        out.put_u8(t);
    }
    out.extend_from_slice(data);
}

/// Splits a v3 long-polling payload into packets, calling `f` on each; text or binary is told
/// by the first byte (a digit, or `0x00`/`0x01`). At most `max_packets` entries are read.
/// Decoding stops at the first error, the packets before it already given to `f`.
pub fn decode_payload_with(
    body: Bytes,
    max_packets: usize,
    f: impl FnMut(Packet),
) -> Result<(), DecodeError> {
    match body.first() {
        None => Err(DecodeError::Empty),
        Some(0 | 1) => decode_binary_payload(body, max_packets, f),
        Some(_) => decode_text_payload(body, max_packets, f),
    }
}

fn decode_text_payload(
    body: Bytes,
    max_packets: usize,
    mut f: impl FnMut(Packet),
) -> Result<(), DecodeError> {
    let text = std::str::from_utf8(&body).map_err(|_| DecodeError::InvalidUtf8)?;
    let mut pos = 0;
    let mut count = 0usize;
    while pos < text.len() {
        count += 1;
        if count > max_packets {
            return Err(DecodeError::TooManyPackets(max_packets));
        }
        let colon = text[pos..]
            .find(':')
            .map(|i| pos + i)
            .ok_or(DecodeError::InvalidPayload)?;
        let units = parse_length(text[pos..colon].bytes().map(|c| c.wrapping_sub(b'0')))?;
        // Walk `units` UTF-16 code units; a length that splits a character is an error.
        let start = colon + 1;
        let mut end = start;
        let mut seen = 0usize;
        let mut chars = text[start..].chars();
        while seen < units {
            let c = chars.next().ok_or(DecodeError::InvalidPayload)?;
            seen += c.len_utf16();
            end += c.len_utf8();
        }
        if seen != units {
            return Err(DecodeError::InvalidPayload);
        }
        if end > start {
            f(decode_string_packet(body.slice(start..end))?);
        }
        pos = end;
    }
    Ok(())
}

fn decode_binary_payload(
    body: Bytes,
    max_packets: usize,
    mut f: impl FnMut(Packet),
) -> Result<(), DecodeError> {
    let mut pos = 0;
    let mut count = 0usize;
    while pos < body.len() {
        count += 1;
        if count > max_packets {
            return Err(DecodeError::TooManyPackets(max_packets));
        }
        let kind = body[pos];
        let digits_end = body[pos + 1..]
            .iter()
            .position(|&c| c == 0xff)
            .map(|i| pos + 1 + i)
            .ok_or(DecodeError::InvalidPayload)?;
        let len = parse_length(body[pos + 1..digits_end].iter().copied())?;
        let start = digits_end + 1;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= body.len())
            .ok_or(DecodeError::InvalidPayload)?;
        let data = body.slice(start..end);
        let packet = match kind {
            0 => {
                std::str::from_utf8(&data).map_err(|_| DecodeError::InvalidUtf8)?;
                decode_string_packet(data)?
            }
            1 => decode_binary_packet(data)?,
            _ => return Err(DecodeError::InvalidPayload),
        };
        f(packet);
        pos = end;
    }
    Ok(())
}

/// A length written as decimal digits (given as values 0–9): at least one, at most 15, and
/// within `usize`.
fn parse_length(digits: impl ExactSizeIterator<Item = u8>) -> Result<usize, DecodeError> {
    if digits.len() == 0 || digits.len() > 15 {
        return Err(DecodeError::InvalidPayload);
    }
    let mut n = 0usize;
    for d in digits {
        if d > 9 {
            return Err(DecodeError::InvalidPayload);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d)))
            .ok_or(DecodeError::InvalidPayload)?;
    }
    Ok(n)
}

/// A packet of a text entry: `b<type><base64>` for binary data, the v4 text form otherwise.
fn decode_string_packet(s: Bytes) -> Result<Packet, DecodeError> {
    if s.first() != Some(&b'b') {
        return decode_text(s);
    }
    if s.get(1) != Some(&b'4') {
        return Err(DecodeError::UnknownPacketType(
            s.get(1).copied().unwrap_or(0),
        ));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(&s[2..])
        .map_err(|_| DecodeError::InvalidBase64)?;
    Ok(Packet::Message(Message::Binary(Bytes::from(data))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &[u8]) -> Result<Vec<Packet>, DecodeError> {
        let mut out = Vec::new();
        decode_payload_with(Bytes::copy_from_slice(body), 100, |p| out.push(p))?;
        Ok(out)
    }

    fn text(s: &str) -> Frame {
        Frame::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn text_payload_counts_utf16_units() {
        // "é" is one unit (two bytes), "😀" two units (four bytes).
        let frames = [text("4é"), text("4😀"), text("2")];
        let (body, binary) = encode_payload(&frames, true);
        assert!(!binary);
        assert_eq!(&body[..], "2:4é3:4😀1:2".as_bytes());
        let back = decode(&body).unwrap();
        assert_eq!(
            back,
            vec![
                Packet::Message(Message::text("é")),
                Packet::Message(Message::text("😀")),
                Packet::Ping(Bytes::new()),
            ]
        );
    }

    #[test]
    fn binary_in_a_text_payload_is_base64() {
        let frames = [
            text("451-[\"a\"]"),
            Frame::Binary(Bytes::from_static(&[1, 2, 3])),
        ];
        let (body, binary) = encode_payload(&frames, false);
        assert!(!binary);
        assert_eq!(&body[..], b"9:451-[\"a\"]6:b4AQID");
        let back = decode(&body).unwrap();
        assert_eq!(back[1], Packet::Message(Message::binary(vec![1u8, 2, 3])));
    }

    #[test]
    fn binary_payload_framing() {
        let frames = [text("4é"), Frame::Binary(Bytes::from_static(&[9; 12]))];
        let (body, binary) = encode_payload(&frames, true);
        assert!(binary);
        let mut expected = vec![0u8, 3, 0xff];
        expected.extend_from_slice("4é".as_bytes());
        expected.extend_from_slice(&[1, 1, 3, 0xff, 4]);
        expected.extend_from_slice(&[9; 12]);
        assert_eq!(&body[..], &expected[..]);
        let back = decode(&body).unwrap();
        assert_eq!(back[0], Packet::Message(Message::text("é")));
        assert_eq!(back[1], Packet::Message(Message::binary(vec![9u8; 12])));
    }

    #[test]
    fn empty_entries_are_skipped_and_bad_ones_refused() {
        assert_eq!(decode(b"0:1:6").unwrap(), vec![Packet::Noop]);
        for bad in [
            &b"3:4a"[..],         // shorter than announced
            b"x:4",               // not a length
            b"4",                 // no colon
            b":4",                // empty length
            b"2:b5AA",            // binary of another type
            b"5:b4!!!",           // bad base64
            b"\x00\x05\xff4a",    // binary payload: too short
            b"\x02\x01\xff4",     // unknown entry kind
            b"\x01\x02\xff\x02a", // binary packet that is not a message
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        // A length that splits a surrogate pair.
        assert!(decode("2:4😀".as_bytes()).is_err());
        // Too many packets.
        let mut out = 0;
        let r = decode_payload_with(Bytes::from_static(b"1:61:61:6"), 2, |_| out += 1);
        assert_eq!(r, Err(DecodeError::TooManyPackets(2)));
    }

    #[test]
    fn websocket_binary_frames_carry_the_type_byte() {
        let f = ws_frame(Frame::Binary(Bytes::from_static(b"xy")), true);
        assert_eq!(f, Frame::Binary(Bytes::from_static(b"\x04xy")));
        assert_eq!(
            decode_ws_frame(f).unwrap(),
            Packet::Message(Message::binary(&b"xy"[..]))
        );
        assert_eq!(ws_frame(text("42"), true), text("42"));
        assert!(decode_ws_frame(Frame::Binary(Bytes::from_static(b"\x02"))).is_err());
        // Without binary support: base64 in a text frame, both ways.
        let f = ws_frame(Frame::Binary(Bytes::from_static(&[1, 2, 3])), false);
        assert_eq!(f, text("b4AQID"));
        assert_eq!(
            decode_ws_frame(f).unwrap(),
            Packet::Message(Message::binary(vec![1u8, 2, 3]))
        );
    }
}
