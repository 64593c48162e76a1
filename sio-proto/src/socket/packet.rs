//! The Socket.IO v5 packet codec (the format of Node's default `socket.io-parser`).
//!
//! Specification: `docs/socket.io-protocol/v5-current.md`, "Packet encoding":
//!
//! ```text
//! <packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON payload]
//! + binary attachments, each in its own Engine.IO binary message
//! ```
//!
//! | Type          | ID | Payload                                        |
//! |---------------|----|------------------------------------------------|
//! | CONNECT       | 0  | none or object (auth; the server's `{"sid"}`)  |
//! | DISCONNECT    | 1  | none                                           |
//! | EVENT         | 2  | non-empty array, the event name first          |
//! | ACK           | 3  | array                                          |
//! | CONNECT_ERROR | 4  | object (`{"message","data"}`) or string        |
//! | BINARY_EVENT  | 5  | as EVENT, with `{"_placeholder":true,"num":N}` |
//! | BINARY_ACK    | 6  | as ACK, with placeholders                      |
//!
//! Decoding slices the input: the namespace and the JSON payload of a decoded [`Packet`] are
//! views of the received frame, and the JSON is not parsed here beyond the shape checks the
//! protocol requires (payload kind, event name). The application parses it once, straight into
//! its own types ([`Packet::args`]) or a `serde_json::Value` ([`Packet::value`]).
//! Encoding produces an [`EncodedPacket`]: the Engine.IO frames, ready to be queued on any
//! number of sessions without another copy.

use std::borrow::Cow;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::DeserializeOwned;

use crate::engine::Frame;
use crate::error::DecodeError;

/// Socket.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// 0: connect to a namespace (client), or accept the connection (server).
    Connect,
    /// 1: leave a namespace.
    Disconnect,
    /// 2: an event.
    Event,
    /// 3: the answer to an event that asked for one.
    Ack,
    /// 4: the server refused the namespace connection.
    ConnectError,
    /// 5: an event with binary attachments.
    BinaryEvent,
    /// 6: an ack with binary attachments.
    BinaryAck,
}

impl PacketKind {
    /// The type digit on the wire.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }

    /// The type from its digit.
    pub fn from_digit(d: u8) -> Option<Self> {
        Some(match d {
            b'0' => PacketKind::Connect,
            b'1' => PacketKind::Disconnect,
            b'2' => PacketKind::Event,
            b'3' => PacketKind::Ack,
            b'4' => PacketKind::ConnectError,
            b'5' => PacketKind::BinaryEvent,
            b'6' => PacketKind::BinaryAck,
            _ => return None,
        })
    }

    /// Whether packets of this type carry binary attachments.
    pub fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }

    /// EVENT or BINARY_EVENT.
    pub fn is_event(self) -> bool {
        matches!(self, PacketKind::Event | PacketKind::BinaryEvent)
    }

    /// ACK or BINARY_ACK.
    pub fn is_ack(self) -> bool {
        matches!(self, PacketKind::Ack | PacketKind::BinaryAck)
    }
}

/// Event names a peer may not send: they are the local lifecycle events.
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The largest ack id accepted: ids beyond JavaScript's safe integers cannot round-trip.
pub const MAX_ACK_ID: u64 = (1 << 53) - 1;

/// A namespace name: a view of UTF-8 bytes, `/` for the main namespace.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nsp(Bytes);

impl Nsp {
    /// The main namespace `/`.
    pub const ROOT: Nsp = Nsp(Bytes::from_static(b"/"));

    /// A namespace from a name. Names must start with `/` and contain no `,`.
    pub fn new(name: &str) -> Result<Self, crate::UsageError> {
        if !name.starts_with('/') || name.contains(',') {
            return Err(crate::UsageError::InvalidNamespace(name.to_owned()));
        }
        if name == "/" {
            return Ok(Nsp::ROOT);
        }
        Ok(Nsp(Bytes::copy_from_slice(name.as_bytes())))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Constructed only from validated UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("/")
    }

    /// Whether this is the main namespace.
    pub fn is_root(&self) -> bool {
        &self.0[..] == b"/"
    }
}

impl std::fmt::Debug for Nsp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Nsp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::ops::Deref for Nsp {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// A Socket.IO packet.
///
/// `data` is the raw JSON text of the payload (empty when there is none). For binary kinds,
/// `attachments` holds the binary parts in order; a decoded packet is only handed out once
/// all of them have arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The type.
    pub kind: PacketKind,
    /// The namespace.
    pub nsp: Nsp,
    /// The ack id: on an event, the sender wants an ack; on an ack, the event it answers.
    pub id: Option<u64>,
    /// The JSON payload as text (empty: no payload).
    pub data: Bytes,
    /// Binary attachments (binary kinds only).
    pub attachments: Vec<Bytes>,
}

/// A packet encoded as Engine.IO frames: one text frame (`4` + the Socket.IO text), then one
/// binary frame per attachment. Clones share the bytes, so one encoding serves any number of
/// recipients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedPacket {
    /// The text frame, `4` + header + JSON.
    pub text: Bytes,
    /// The attachments, each sent as its own binary frame.
    pub attachments: Vec<Bytes>,
    /// Sent with `compress(false)`: a websocket with `permessage-deflate` sends these frames
    /// uncompressed.
    pub uncompressed: bool,
}

impl EncodedPacket {
    /// The frames in sending order. An empty `text` is no frame: a packet of the MessagePack
    /// parser is one binary frame ([`super::msgpack`]).
    pub fn frames(&self) -> impl Iterator<Item = Frame> + '_ {
        (!self.text.is_empty())
            .then(|| Frame::Text(self.text.clone()))
            .into_iter()
            .chain(self.attachments.iter().cloned().map(Frame::Binary))
    }

    /// The number of frames.
    pub fn frame_count(&self) -> usize {
        usize::from(!self.text.is_empty()) + self.attachments.len()
    }

    /// The Socket.IO text without the Engine.IO `4`.
    pub fn socket_text(&self) -> &[u8] {
        self.text.get(1..).unwrap_or_default()
    }
}

impl Packet {
    /// A CONNECT packet (client: optional auth object; server: `{"sid":..}`).
    pub fn connect(nsp: Nsp, data: Option<Bytes>) -> Self {
        Self::new(PacketKind::Connect, nsp, None, data.unwrap_or_default())
    }

    /// A DISCONNECT packet.
    pub fn disconnect(nsp: Nsp) -> Self {
        Self::new(PacketKind::Disconnect, nsp, None, Bytes::new())
    }

    /// A CONNECT_ERROR packet with `{"message": message}` and, if given, `"data"`.
    pub fn connect_error(nsp: Nsp, message: &str, data: Option<&serde_json::Value>) -> Self {
        let mut obj = serde_json::Map::new();
        obj.insert("message".into(), serde_json::Value::from(message));
        if let Some(d) = data {
            obj.insert("data".into(), d.clone());
        }
        let json = serde_json::to_vec(&obj).unwrap_or_default();
        Self::new(PacketKind::ConnectError, nsp, None, Bytes::from(json))
    }

    /// A CONNECT_ERROR packet with `data` as it is: Socket.IO v4's form (v2 clients over
    /// Engine.IO v3), the error's `data` or its message as a string.
    pub fn connect_error_v4(nsp: Nsp, data: &serde_json::Value) -> Self {
        let json = serde_json::to_vec(data).unwrap_or_default();
        Self::new(PacketKind::ConnectError, nsp, None, Bytes::from(json))
    }

    /// An EVENT (or BINARY_EVENT when attachments are given) from a JSON array text.
    pub fn event(nsp: Nsp, data: Bytes, id: Option<u64>, attachments: Vec<Bytes>) -> Self {
        let kind = if attachments.is_empty() {
            PacketKind::Event
        } else {
            PacketKind::BinaryEvent
        };
        Self {
            kind,
            nsp,
            id,
            data,
            attachments,
        }
    }

    /// An ACK (or BINARY_ACK when attachments are given) from a JSON array text.
    pub fn ack(nsp: Nsp, id: u64, data: Bytes, attachments: Vec<Bytes>) -> Self {
        let kind = if attachments.is_empty() {
            PacketKind::Ack
        } else {
            PacketKind::BinaryAck
        };
        Self {
            kind,
            nsp,
            id: Some(id),
            data,
            attachments,
        }
    }

    fn new(kind: PacketKind, nsp: Nsp, id: Option<u64>, data: Bytes) -> Self {
        Self {
            kind,
            nsp,
            id,
            data,
            attachments: Vec::new(),
        }
    }

    /// Appends the Socket.IO text encoding (without the Engine.IO `4`) to `out`.
    pub fn encode_text_into(&self, out: &mut BytesMut) {
        write_header(
            out,
            self.kind,
            &self.nsp,
            self.kind.is_binary().then_some(self.attachments.len()),
            self.id,
        );
        out.extend_from_slice(&self.data);
    }

    /// Encodes the packet as Engine.IO frames (the text frame starts with `4`).
    pub fn encode(&self) -> EncodedPacket {
        let mut out = BytesMut::with_capacity(16 + self.nsp.len() + self.data.len());
        out.put_u8(b'4');
        self.encode_text_into(&mut out);
        EncodedPacket {
            text: out.freeze(),
            attachments: if self.kind.is_binary() {
                self.attachments.clone()
            } else {
                Vec::new()
            },
            uncompressed: false,
        }
    }

    /// The event name of an EVENT or BINARY_EVENT (borrowed unless it contains escapes).
    pub fn event_name(&self) -> Option<Cow<'_, str>> {
        if !self.kind.is_event() {
            return None;
        }
        parse_event_name(&self.data).ok().map(|(n, _)| n)
    }

    /// The arguments as a handler takes them, by the one rule of [`crate::payload`]: a tuple
    /// is the parameter list (a missing argument is `None` for an `Option`, extra arguments
    /// are ignored, as in JavaScript), most other types take the first argument, and binary
    /// placeholders become bytes where `T` asks for bytes. For an event the name is skipped.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, crate::payload::PayloadError> {
        let skip = usize::from(self.kind.is_event());
        crate::payload::from_payload(&self.data, skip, &self.attachments)
    }

    /// Every argument as a JSON value (for an event, without the name), binary placeholders
    /// left as JSON objects.
    pub fn arg_values(&self) -> Result<Vec<serde_json::Value>, crate::payload::PayloadError> {
        let skip = usize::from(self.kind.is_event());
        crate::payload::args_as_values(&self.data, skip)
    }

    /// Parses the payload into a `serde_json::Value` (one pass) and checks that every binary
    /// placeholder names an existing attachment. `Value::Null` when there is no payload.
    pub fn value(&self) -> Result<serde_json::Value, DecodeError> {
        if self.data.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        let text = crate::placeholder::json_text(&self.data)?;
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|_| DecodeError::InvalidJson)?;
        if self.kind.is_binary() {
            crate::placeholder::check_value(&v, self.attachments.len())?;
        }
        Ok(v)
    }
}

/// Writes a packet header: type, `N-` attachment count, `nsp,` unless `/`, ack id.
pub fn write_header(
    out: &mut BytesMut,
    kind: PacketKind,
    nsp: &str,
    attachments: Option<usize>,
    id: Option<u64>,
) {
    out.put_u8(kind.digit());
    let mut buf = itoa::Buffer::new();
    if let Some(n) = attachments {
        out.extend_from_slice(buf.format(n).as_bytes());
        out.put_u8(b'-');
    }
    if nsp != "/" {
        out.extend_from_slice(nsp.as_bytes());
        out.put_u8(b',');
    }
    if let Some(id) = id {
        out.extend_from_slice(buf.format(id).as_bytes());
    }
}

/// The attachment index of a placeholder object `{"_placeholder":true,"num":N}` (by the one
/// rule of the decoder: `num` a non-negative integer, `1.0` included), `None` for any other
/// object or a placeholder without a usable `num`.
pub fn placeholder_num(m: &serde_json::Map<String, serde_json::Value>) -> Option<usize> {
    crate::placeholder::map_num(m).and_then(|n| usize::try_from(n).ok())
}

/// Limits applied while decoding.
///
/// A binary packet is held in memory from its text part until its last attachment: these
/// bound how much (`max_attachments`, `max_attachment_bytes`) and for how long
/// (`attachment_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Attachments one binary packet may announce (default 10, a bound on memory held while
    /// reassembling; Node has no such limit but its `maxHttpBufferSize` bounds each part).
    pub max_attachments: usize,
    /// Total bytes of the attachments of one binary packet (default 1 000 000, Node's
    /// `maxHttpBufferSize`). The transport bounds each attachment, but without this a packet
    /// announcing `max_attachments` parts holds that many times the transport limit while it
    /// waits for the rest. Over it, [`Decoder`] drops the packet and its attachments with
    /// [`DecodeError::AttachmentsTooLarge`]; a session closes with `parse error`.
    pub max_attachment_bytes: usize,
    /// Time a binary packet has to complete once its text part arrived (default 20 s, Node's
    /// `pingTimeout`: the byte cap already bounds the memory, this bounds how long a peer that
    /// keeps answering pings may hold it; at the default cap the parts still arrive in time
    /// over a 400 kbit/s link). The [`Decoder`] has no clock: the machine driving it keeps
    /// this as one of its timers (the server `Connection` and the client `Manager` close with
    /// `parse error` when it fires and release what was buffered).
    pub attachment_timeout: Duration,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_attachments: 10,
            max_attachment_bytes: 1_000_000,
            attachment_timeout: Duration::from_secs(20),
        }
    }
}

/// Decodes the Socket.IO text of one packet (the Engine.IO message data, without `4`).
///
/// Returns the packet (for binary kinds, with no attachments yet) and the number of
/// attachments it announced.
pub fn decode_text(text: Bytes, limits: &DecodeLimits) -> Result<(Packet, usize), DecodeError> {
    let s: &[u8] = &text;
    let kind = s
        .first()
        .copied()
        .ok_or(DecodeError::Empty)
        .and_then(|d| PacketKind::from_digit(d).ok_or(DecodeError::UnknownPacketType(d)))?;
    let mut i = 1;
    let mut attachments = 0usize;
    if kind.is_binary() {
        let start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start || i - start > 6 || s.get(i) != Some(&b'-') {
            return Err(DecodeError::InvalidAttachmentCount);
        }
        attachments =
            parse_digits(&s[start..i]).ok_or(DecodeError::InvalidAttachmentCount)? as usize;
        if attachments > limits.max_attachments {
            return Err(DecodeError::TooManyAttachments(attachments));
        }
        i += 1;
    }
    let nsp = if s.get(i) == Some(&b'/') {
        let start = i;
        let end = s[start..]
            .iter()
            .position(|&c| c == b',')
            .map(|p| start + p)
            .unwrap_or(s.len());
        std::str::from_utf8(&s[start..end]).map_err(|_| DecodeError::InvalidNamespace)?;
        i = (end + 1).min(s.len());
        if &s[start..end] == b"/" {
            Nsp::ROOT
        } else {
            Nsp(text.slice(start..end))
        }
    } else {
        Nsp::ROOT
    };
    let id = {
        let start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            None
        } else {
            let n = parse_digits(&s[start..i]).ok_or(DecodeError::InvalidAckId)?;
            if n > MAX_ACK_ID {
                return Err(DecodeError::InvalidAckId);
            }
            Some(n)
        }
    };
    let data = text.slice(i..);
    check_shape(kind, id, &data)?;
    Ok((
        Packet {
            kind,
            nsp,
            id,
            data,
            attachments: Vec::with_capacity(attachments),
        },
        attachments,
    ))
}

fn parse_digits(d: &[u8]) -> Option<u64> {
    if d.len() > 19 {
        return None;
    }
    d.iter().try_fold(0u64, |acc, &c| {
        acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })
}

fn first_non_ws(data: &[u8]) -> Option<u8> {
    data.iter().copied().find(|c| !c.is_ascii_whitespace())
}

/// Whether `data` is one well-formed JSON value (`Ok(true)`), or `InvalidJson`.
fn is_json(data: &[u8]) -> Result<bool, DecodeError> {
    crate::placeholder::validate(data).map(|()| true)
}

/// The payload checks of Node's parser (`isPayloadValid`). The rare control packets (CONNECT,
/// CONNECT_ERROR) are parsed in full: Node refuses a payload that is not JSON. The JSON of
/// events and acks is not parsed here beyond its shape (the application parses it once);
/// binary packets are checked when complete ([`Decoder`]).
fn check_shape(kind: PacketKind, id: Option<u64>, data: &[u8]) -> Result<(), DecodeError> {
    let first = first_non_ws(data);
    let ok = match kind {
        // None, or an object (the auth).
        PacketKind::Connect => {
            id.is_none() && (data.is_empty() || (first == Some(b'{') && is_json(data)?))
        }
        // Any character after the type (even a space) is a payload, and Node refuses one.
        PacketKind::Disconnect => id.is_none() && data.is_empty(),
        // A string or an object.
        PacketKind::ConnectError => {
            id.is_none() && matches!(first, Some(b'{') | Some(b'"')) && is_json(data)?
        }
        PacketKind::Ack | PacketKind::BinaryAck => id.is_some() && first == Some(b'['),
        PacketKind::Event | PacketKind::BinaryEvent => {
            let (name, _) = parse_event_name(data)?;
            !RESERVED_EVENTS.contains(&name.as_ref())
        }
    };
    if ok {
        Ok(())
    } else {
        Err(DecodeError::InvalidPayload)
    }
}

/// Reads the event name at the start of an event payload `["name", ...]`: a JSON string (or a
/// number, which Node also accepts). Returns the name and the offset just after it.
pub fn parse_event_name(data: &[u8]) -> Result<(Cow<'_, str>, usize), DecodeError> {
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while data.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if data.get(i) != Some(&b'[') {
        return Err(DecodeError::InvalidPayload);
    }
    i += 1;
    skip_ws(&mut i);
    match data.get(i) {
        Some(b'"') => {
            let start = i + 1;
            let mut j = start;
            let mut escaped = false;
            loop {
                match data.get(j) {
                    None => return Err(DecodeError::InvalidJson),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        escaped = true;
                        j += 2;
                    }
                    Some(_) => j += 1,
                }
            }
            let name = if escaped {
                let raw = data.get(start - 1..=j).ok_or(DecodeError::InvalidJson)?;
                Cow::Owned(
                    serde_json::from_slice::<String>(raw).map_err(|_| DecodeError::InvalidJson)?,
                )
            } else {
                let raw = data.get(start..j).ok_or(DecodeError::InvalidJson)?;
                Cow::Borrowed(std::str::from_utf8(raw).map_err(|_| DecodeError::InvalidUtf8)?)
            };
            Ok((name, j + 1))
        }
        Some(c) if c.is_ascii_digit() || *c == b'-' => {
            let start = i;
            while data.get(i).is_some_and(|c| {
                c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'e' | b'E' | b'+')
            }) {
                i += 1;
            }
            let raw = std::str::from_utf8(&data[start..i]).map_err(|_| DecodeError::InvalidJson)?;
            raw.parse::<f64>().map_err(|_| DecodeError::InvalidJson)?;
            Ok((Cow::Owned(raw.to_owned()), i))
        }
        _ => Err(DecodeError::InvalidPayload),
    }
}

/// A packet whose parts have all arrived: a binary one's placeholders must name attachments
/// it has (Node's parser throws "illegal attachments" when reconstructing it).
fn complete(packet: Packet) -> Result<Packet, DecodeError> {
    if packet.kind.is_binary() {
        crate::placeholder::check(&packet.data, packet.attachments.len())?;
    }
    Ok(packet)
}

/// Reassembles packets from Engine.IO messages: a text message starts a packet; a binary packet
/// is complete once its announced attachments have arrived, in any number of binary messages.
///
/// The attachments of one packet are bounded by [`DecodeLimits::max_attachment_bytes`]; a
/// completed binary packet's placeholders are checked against its attachments (Node's
/// "illegal attachments"). Any error drops the packet being reassembled.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: DecodeLimits,
    /// Boxed: a decoder waits for attachments rarely, and is part of every connection.
    pending: Option<Box<Pending>>,
    /// With the MessagePack parser every packet is one binary message.
    parser: super::msgpack::Parser,
}

/// A binary packet waiting for attachments.
#[derive(Debug)]
struct Pending {
    packet: Packet,
    announced: usize,
    bytes: usize,
}

impl Decoder {
    /// A decoder with `limits`.
    pub fn new(limits: DecodeLimits) -> Self {
        Self::with_parser(limits, super::msgpack::Parser::Json)
    }

    /// A decoder with `limits` for the packets of `parser`.
    pub fn with_parser(limits: DecodeLimits, parser: super::msgpack::Parser) -> Self {
        Self {
            limits,
            pending: None,
            parser,
        }
    }

    /// Whether a binary packet waits for attachments.
    pub fn is_reassembling(&self) -> bool {
        self.pending.is_some()
    }

    /// Bytes of attachments held for the packet being reassembled (0 when none is).
    pub fn buffered_bytes(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| p.bytes)
    }

    /// A text message. Returns the packet when it is complete (no attachments announced).
    pub fn decode_text(&mut self, text: Bytes) -> Result<Option<Packet>, DecodeError> {
        if self.parser == super::msgpack::Parser::MsgPack {
            // `socket.io-msgpack-parser` refuses anything but binary.
            return Err(DecodeError::InvalidPayload);
        }
        if self.pending.is_some() {
            self.pending = None;
            return Err(DecodeError::UnexpectedText);
        }
        let (packet, announced) = decode_text(text, &self.limits)?;
        if announced == 0 {
            return complete(packet).map(Some);
        }
        self.pending = Some(Box::new(Pending {
            packet,
            announced,
            bytes: 0,
        }));
        Ok(None)
    }

    /// A binary message: the next attachment of the pending packet. Returns the packet when it
    /// was the last one.
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, DecodeError> {
        if self.parser == super::msgpack::Parser::MsgPack {
            return super::msgpack::decode(&data, &self.limits).map(Some);
        }
        let Some(p) = self.pending.as_mut() else {
            return Err(DecodeError::UnexpectedAttachment);
        };
        p.bytes = p.bytes.saturating_add(data.len());
        if p.bytes > self.limits.max_attachment_bytes {
            self.pending = None;
            return Err(DecodeError::AttachmentsTooLarge(
                self.limits.max_attachment_bytes,
            ));
        }
        p.packet.attachments.push(data);
        if p.packet.attachments.len() < p.announced {
            return Ok(None);
        }
        match self.pending.take() {
            Some(p) => complete(p.packet).map(Some),
            None => Ok(None),
        }
    }

    /// Drops a partly received packet (on reconnect or close).
    pub fn reset(&mut self) {
        self.pending = None;
    }
}
