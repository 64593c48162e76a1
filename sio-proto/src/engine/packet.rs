//! Engine.IO v4 packets, websocket frames and HTTP long-polling payloads.
//!
//! Specification: `docs/engine.io-protocol/v4-current.md`, sections "Protocol" and
//! "Packet encoding".
//!
//! | Type    | ID | Usage                                            |
//! |---------|----|--------------------------------------------------|
//! | open    | 0  | handshake, carries [`OpenData`] as JSON          |
//! | close   | 1  | the transport can be closed                      |
//! | ping    | 2  | heartbeat (server to client); `2probe` on upgrade |
//! | pong    | 3  | heartbeat answer; `3probe` on upgrade            |
//! | message | 4  | application data (text or binary)                |
//! | upgrade | 5  | completes the upgrade to websocket               |
//! | noop    | 6  | flushes a held long-poll during the upgrade      |
//!
//! One packet travels in one websocket frame ([`Frame`]). A text frame is the packet type digit
//! followed by the data; a binary frame is a binary `message` packet, as is. Over HTTP
//! long-polling several packets are joined by the record separator `0x1e`, binary ones written
//! as `b` followed by their base64 encoding.

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// The record separator joining packets in a long-polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// One websocket frame, which is also one encoded Engine.IO packet.
///
/// A `Text` frame holds UTF-8 (the type digit first); a `Binary` frame is the data of a binary
/// `message` packet. Cloning a frame is a reference-count increment: an encoded packet can be
/// queued for any number of sessions without copying.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A text frame: the packet type digit followed by UTF-8 data.
    Text(Bytes),
    /// A binary frame: a binary `message` packet.
    Binary(Bytes),
}

impl Frame {
    /// The number of bytes of the frame's data.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(b) | Frame::Binary(b) => b.len(),
        }
    }

    /// Whether the frame has no data at all (never the case for a valid packet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a binary frame.
    pub fn is_binary(&self) -> bool {
        matches!(self, Frame::Binary(_))
    }
}

/// The data of a `message` packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message (UTF-8), without the leading type digit.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message from a string.
    pub fn text(s: impl Into<String>) -> Self {
        Message::Text(Bytes::from(s.into()))
    }

    /// A binary message from bytes.
    pub fn binary(b: impl Into<Bytes>) -> Self {
        Message::Binary(b.into())
    }

    /// Encodes the message as one frame (a copy for text, since the type digit is prepended).
    pub fn to_frame(&self) -> Frame {
        Packet::Message(self.clone()).encode()
    }
}

/// An Engine.IO v4 packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Packet {
    /// `0`: the handshake; the data is the JSON of [`OpenData`].
    Open(Bytes),
    /// `1`: the transport can be closed.
    Close,
    /// `2`: a heartbeat ping; the data is empty, or `probe` during an upgrade.
    Ping(Bytes),
    /// `3`: the answer to a ping, echoing its data.
    Pong(Bytes),
    /// `4`: application data.
    Message(Message),
    /// `5`: completes the upgrade to websocket.
    Upgrade,
    /// `6`: does nothing; used to release a held long-poll during an upgrade.
    Noop,
}

impl Packet {
    /// The packet type's digit on the wire.
    pub fn type_id(&self) -> u8 {
        match self {
            Packet::Open(_) => b'0',
            Packet::Close => b'1',
            Packet::Ping(_) => b'2',
            Packet::Pong(_) => b'3',
            Packet::Message(_) => b'4',
            Packet::Upgrade => b'5',
            Packet::Noop => b'6',
        }
    }

    /// Encodes the packet as one websocket frame.
    pub fn encode(&self) -> Frame {
        match self {
            Packet::Message(Message::Binary(b)) => Frame::Binary(b.clone()),
            Packet::Open(d)
            | Packet::Ping(d)
            | Packet::Pong(d)
            | Packet::Message(Message::Text(d)) => {
                let mut out = BytesMut::with_capacity(1 + d.len());
                out.put_u8(self.type_id());
                out.extend_from_slice(d);
                Frame::Text(out.freeze())
            }
            Packet::Close => Frame::Text(Bytes::from_static(b"1")),
            Packet::Upgrade => Frame::Text(Bytes::from_static(b"5")),
            Packet::Noop => Frame::Text(Bytes::from_static(b"6")),
        }
    }

    /// Decodes one websocket frame. Text data is sliced from the frame, not copied.
    pub fn decode(frame: Frame) -> Result<Packet, DecodeError> {
        match frame {
            Frame::Binary(b) => Ok(Packet::Message(Message::Binary(b))),
            Frame::Text(b) => decode_text(b),
        }
    }
}

pub(crate) fn decode_text(b: Bytes) -> Result<Packet, DecodeError> {
    let Some(&t) = b.first() else {
        return Err(DecodeError::Empty);
    };
    let rest = || b.slice(1..);
    let no_data = |p: Packet| {
        // Node accepts and ignores trailing data on these; so do we.
        Ok(p)
    };
    match t {
        b'0' => Ok(Packet::Open(rest())),
        b'1' => no_data(Packet::Close),
        b'2' => Ok(Packet::Ping(rest())),
        b'3' => Ok(Packet::Pong(rest())),
        b'4' => Ok(Packet::Message(Message::Text(rest()))),
        b'5' => no_data(Packet::Upgrade),
        b'6' => no_data(Packet::Noop),
        other => Err(DecodeError::UnknownPacketType(other)),
    }
}

/// Appends one frame to a long-polling payload under construction.
///
/// `first` tells whether a separator is needed before it.
pub fn encode_payload_frame(out: &mut BytesMut, frame: &Frame, first: bool) {
    if !first {
        out.put_u8(SEPARATOR);
    }
    match frame {
        Frame::Text(b) => out.extend_from_slice(b),
        Frame::Binary(b) => {
            out.put_u8(b'b');
            let start = out.len();
            let n = base64::encoded_len(b.len(), true).unwrap_or(0);
            out.resize(start + n, 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(b, &mut out[start..])
                .unwrap_or(0);
            out.truncate(start + written);
        }
    }
}

/// Encodes frames as one long-polling payload (`0x1e`-separated, binary as `b` + base64).
pub fn encode_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> Bytes {
    let mut out = BytesMut::new();
    for (i, f) in frames.into_iter().enumerate() {
        encode_payload_frame(&mut out, f, i == 0);
    }
    out.freeze()
}

/// The number of bytes `frame` adds to a long-polling payload, separator excluded.
pub fn payload_frame_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(b) => b.len(),
        Frame::Binary(b) => 1 + base64::encoded_len(b.len(), true).unwrap_or(usize::MAX / 2),
    }
}

/// Splits a long-polling payload into packets.
///
/// Text packets are slices of `body`; binary ones (`b` + base64) are decoded into new buffers.
/// An empty body, an empty segment, an unknown type or bad base64 is an error, as in Node.
/// At most `max_packets` packets are accepted (over it: [`DecodeError::TooManyPackets`]).
pub fn decode_payload(body: Bytes, max_packets: usize) -> Result<Vec<Packet>, DecodeError> {
    let mut packets = Vec::new();
    decode_payload_with(body, max_packets, |p| {
        packets.push(p);
    })?;
    Ok(packets)
}

/// Like [`decode_payload`], calling `f` on each packet instead of collecting them.
///
/// Decoding stops at the first error; the packets before it have already been given to `f`,
/// so callers that must treat a payload atomically should use [`decode_payload`].
pub fn decode_payload_with(
    body: Bytes,
    max_packets: usize,
    mut f: impl FnMut(Packet),
) -> Result<(), DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut start = 0;
    let mut count = 0usize;
    loop {
        let end = body[start..]
            .iter()
            .position(|&c| c == SEPARATOR)
            .map(|i| start + i)
            .unwrap_or(body.len());
        count += 1;
        if count > max_packets {
            return Err(DecodeError::TooManyPackets(max_packets));
        }
        let seg = body.slice(start..end);
        let packet = if seg.first() == Some(&b'b') {
            let data = base64::engine::general_purpose::STANDARD
                .decode(&seg[1..])
                .map_err(|_| DecodeError::InvalidBase64)?;
            Packet::Message(Message::Binary(Bytes::from(data)))
        } else {
            decode_text(seg)?
        };
        f(packet);
        if end == body.len() {
            return Ok(());
        }
        start = end + 1;
    }
}

/// The JSON data of the `open` packet sent by the server during the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenData {
    /// The session id.
    pub sid: String,
    /// The transports the client may upgrade to (`["websocket"]` or empty).
    pub upgrades: Vec<String>,
    /// Milliseconds between two pings sent by the server.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong (and the client adds to the interval).
    pub ping_timeout: u64,
    /// The largest payload in bytes the server accepts in one long-polling request.
    pub max_payload: u64,
}

impl OpenData {
    /// The `open` packet carrying this handshake.
    pub fn to_packet(&self) -> Packet {
        // Serialising a struct of strings and integers cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        Packet::Open(Bytes::from(json))
    }

    /// Parses the data of an `open` packet.
    pub fn parse(data: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(data).map_err(|_| DecodeError::InvalidHandshake)
    }
}
