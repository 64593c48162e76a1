//! Websocket `permessage-deflate` (RFC 7692) on top of tungstenite, which has no extensions.
//!
//! - **Negotiation.** A server accepts the first offer it can honour and always answers
//!   `server_no_context_takeover` (and `client_no_context_takeover` when offered); our client
//!   offers both. Each message we send is therefore compressed on its own, with one
//!   compressor per thread rather than per connection (a compressor is hundreds of KiB), and a
//!   broadcast compresses to the same bytes for every recipient. A peer that keeps its context
//!   gets its own inflater, allocated at its first compressed message.
//! - **Sending.** A text or binary frame of at least `threshold` bytes goes out as one
//!   compressed frame with RSV1 set (`tungstenite::Message::Frame`); a packet sent with
//!   `compress(false)` never is. Consecutive sends of the same frame on a thread (a
//!   broadcast's recipients) reuse one compression: each thread keeps its last compressed
//!   frame.
//! - **Receiving.** [`WsIo`] sits between the socket and tungstenite: while deflate is on, it
//!   reads whole frames, inflates compressed messages (within the message size bound, counted
//!   after inflating) and hands tungstenite the plain frames, which it then checks as usual
//!   (UTF-8, fragmentation, sizes). Without deflate it only passes the bytes through.

use std::cell::RefCell;
use std::io::{self, Cursor};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_tungstenite::tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use async_tungstenite::tungstenite::protocol::frame::{Frame as WsFrame, FrameHeader};
use async_tungstenite::tungstenite::Message as WsMessage;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use futures_io::{AsyncRead, AsyncWrite};

/// Websocket compression (Node's `perMessageDeflate`): off by default on the server, as in
/// Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMessageDeflate {
    /// Messages smaller than this many bytes are sent as they are (Node's `threshold`, 1024).
    pub threshold: usize,
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        Self { threshold: 1024 }
    }
}

/// The extension's name in `Sec-WebSocket-Extensions`.
const NAME: &str = "permessage-deflate";

/// What our client offers.
#[cfg(feature = "client")]
pub(crate) const CLIENT_OFFER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The tail a sender strips from each compressed message (RFC 7692, 7.2.1).
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// What one websocket agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// Send messages of at least this many bytes compressed.
    pub threshold: usize,
    /// The peer compresses each message on its own (no context kept between messages).
    pub peer_resets: bool,
}

/// The parameters of one offer or answer: `(name, value)` pairs, `None` when the extension is
/// not `permessage-deflate` or a parameter is malformed.
fn params(ext: &str) -> Option<Vec<(String, Option<String>)>> {
    let mut parts = ext.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case(NAME) {
        return None;
    }
    parts
        .map(|p| {
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"').to_owned())),
                None => (p, None),
            };
            (!k.is_empty()).then(|| (k.to_ascii_lowercase(), v))
        })
        .collect()
}

/// Window bits given as a parameter value: 8 to 15.
fn window_bits(v: Option<&str>) -> Option<u8> {
    v?.parse().ok().filter(|b| (8..=15).contains(b))
}

/// The server's answer to a client's `Sec-WebSocket-Extensions`: the header value to send back
/// and what was agreed, for the first `permessage-deflate` offer this side can honour (`None`:
/// no compression on this websocket).
pub(crate) fn accept_offer(offers: &str, config: &PerMessageDeflate) -> Option<(String, Agreed)> {
    'offers: for offer in offers.split(',') {
        let Some(params) = params(offer) else {
            continue;
        };
        let mut client_resets = false;
        let mut window_asked = false;
        let mut seen = Vec::new();
        for (k, v) in &params {
            if seen.contains(&k) {
                continue 'offers;
            }
            seen.push(k);
            match (k.as_str(), v.as_deref()) {
                ("server_no_context_takeover", None) => {}
                ("client_no_context_takeover", None) => client_resets = true,
                // Our compressor always uses the largest window: an offer asking for a smaller
                // one is declined.
                ("server_max_window_bits", v) if window_bits(v) == Some(15) => window_asked = true,
                // The client may use a smaller window; inflating needs no change.
                ("client_max_window_bits", None) => {}
                ("client_max_window_bits", v) if window_bits(v).is_some() => {}
                _ => continue 'offers,
            }
        }
        let mut answer = format!("{NAME}; server_no_context_takeover");
        if client_resets {
            answer.push_str("; client_no_context_takeover");
        }
        if window_asked {
            // Accepting the parameter means answering it (RFC 7692, 7.1.2.1).
            answer.push_str("; server_max_window_bits=15");
        }
        let agreed = Agreed {
            threshold: config.threshold,
            peer_resets: client_resets,
        };
        return Some((answer, agreed));
    }
    None
}

/// Our client's reading of the server's answer to [`CLIENT_OFFER`]: `Ok(None)` when the
/// server did not take it; an error for an answer RFC 7692 says to fail the connection on.
#[cfg(feature = "client")]
pub(crate) fn client_agreed(
    answer: Option<&str>,
    config: &PerMessageDeflate,
) -> Result<Option<Agreed>, String> {
    let Some(answer) = answer.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    if answer.split(',').count() != 1 {
        return Err(format!("unexpected websocket extensions: {answer}"));
    }
    let params =
        params(answer).ok_or_else(|| format!("unexpected websocket extension: {answer}"))?;
    let mut server_resets = false;
    for (k, v) in &params {
        match (k.as_str(), v.as_deref()) {
            ("server_no_context_takeover", None) => server_resets = true,
            ("client_no_context_takeover", None) => {}
            ("server_max_window_bits", v) if window_bits(v).is_some() => {}
            ("client_max_window_bits", v) if window_bits(v) == Some(15) => {}
            _ => return Err(format!("unacceptable permessage-deflate answer: {answer}")),
        }
    }
    Ok(Some(Agreed {
        threshold: config.threshold,
        peer_resets: server_resets,
    }))
}

thread_local! {
    /// One compressor per thread: every message is compressed on its own.
    static DEFLATER: RefCell<Option<Compress>> = const { RefCell::new(None) };
}

/// Compresses one message on its own (raw deflate, flushed, without the tail).
pub(crate) fn deflate(data: &[u8]) -> Bytes {
    DEFLATER.with(|cell| {
        let mut cell = cell.borrow_mut();
        let c = cell.get_or_insert_with(|| Compress::new(Compression::fast(), false));
        c.reset();
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let done = c.total_in() as usize;
            // Compressing into memory fails only on a misuse of the stream.
            if c.compress_vec(&data[done..], &mut out, FlushCompress::Sync)
                .is_err()
            {
                break;
            }
            if c.total_in() as usize == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        Bytes::from(out)
    })
}

/// The websocket message for an outgoing frame: compressed when deflate is on and the frame
/// is at least the threshold (`None` for a text frame that is not UTF-8, which the machines
/// never produce).
pub(crate) fn message(
    frame: sio_proto::engine::Frame,
    agreed: Option<Agreed>,
) -> Option<WsMessage> {
    use sio_proto::engine::Frame;
    if agreed.is_none_or(|a| frame.len() < a.threshold) {
        return crate::drive::ws_message(frame);
    }
    let (opcode, data) = match &frame {
        Frame::Text(b) => (OpData::Text, b),
        Frame::Binary(b) => (OpData::Binary, b),
    };
    let header = FrameHeader {
        is_final: true,
        rsv1: true,
        opcode: OpCode::Data(opcode),
        ..FrameHeader::default()
    };
    Some(WsMessage::Frame(WsFrame::from_payload(
        header,
        deflate_shared(data),
    )))
}

thread_local! {
    /// The last frame compressed on this thread and its compressed bytes: a broadcast's
    /// recipients share one frame (clones of the same bytes), so consecutive recipients on a
    /// thread reuse one compression. Holding the frame keeps its address from being reused by
    /// another one (and keeps that one frame, at most the message bound, alive per thread).
    static LAST: RefCell<Option<(Bytes, Bytes)>> = const { RefCell::new(None) };
}

/// [`deflate`], reusing the result for the same bytes (the same allocation) as last time.
fn deflate_shared(data: &Bytes) -> Bytes {
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((input, output)) = last.as_ref() {
            if input.as_ptr() == data.as_ptr() && input.len() == data.len() {
                return output.clone();
            }
        }
        let output = deflate(data);
        *last = Some((data.clone(), output.clone()));
        output
    })
}

/// Inflates the messages of one peer.
struct Inflater {
    d: Decompress,
    /// Bytes produced for the message in progress.
    produced: usize,
}

impl Inflater {
    fn new() -> Self {
        Self {
            d: Decompress::new(false),
            produced: 0,
        }
    }

    /// Inflates one frame's payload into `out`; the message's last frame also gets the tail.
    /// Over `limit` bytes for the message: an error.
    fn frame(
        &mut self,
        payload: &[u8],
        last: bool,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.run(payload, limit, out)?;
        if last {
            self.run(&TAIL, limit, out)?;
            self.produced = 0;
        }
        Ok(())
    }

    fn run(&mut self, mut input: &[u8], limit: usize, out: &mut Vec<u8>) -> io::Result<()> {
        loop {
            if out.capacity() - out.len() < 4096 {
                out.reserve(16 * 1024);
            }
            let (in0, out0) = (self.d.total_in(), self.d.total_out());
            let status = self
                .d
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|e| invalid(format!("permessage-deflate: {e}")))?;
            let used = (self.d.total_in() - in0) as usize;
            let made = (self.d.total_out() - out0) as usize;
            input = &input[used..];
            self.produced += made;
            if self.produced > limit {
                return Err(invalid(format!(
                    "a compressed message inflates beyond {limit} bytes"
                )));
            }
            if status == Status::StreamEnd {
                // The peer ended the deflate stream (a final block): start a new one.
                self.d.reset(false);
                if input.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let room_left = out.len() < out.capacity();
            if input.is_empty() && room_left {
                return Ok(());
            }
            if used == 0 && made == 0 && room_left {
                return Err(invalid(
                    "permessage-deflate: the stream does not advance".into(),
                ));
            }
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The receiving side of a websocket with deflate on.
struct ReadSide {
    agreed: Agreed,
    /// Bound on a frame, and on a message after inflating.
    max_message: usize,
    /// Bytes read from the socket, not yet a whole frame.
    raw: BytesMut,
    /// Plain frames for tungstenite.
    ready: BytesMut,
    inflater: Option<Box<Inflater>>,
    /// A compressed message is in progress (its first frame had RSV1, its last is to come).
    compressed: bool,
}

impl ReadSide {
    /// Moves one whole frame from `raw` to `ready`, inflated if it belongs to a compressed
    /// message; `false` when `raw` holds no whole frame yet.
    fn next_frame(&mut self) -> io::Result<bool> {
        let mut cursor = Cursor::new(&self.raw[..]);
        let parsed = FrameHeader::parse(&mut cursor).map_err(|e| invalid(e.to_string()))?;
        let Some((mut header, len)) = parsed else {
            return Ok(false);
        };
        let head = cursor.position() as usize;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= self.max_message)
            .ok_or_else(|| invalid(format!("a websocket frame over {} bytes", self.max_message)))?;
        if self.raw.len() < head + len {
            self.raw.reserve(head + len - self.raw.len());
            return Ok(false);
        }
        let starts = matches!(header.opcode, OpCode::Data(OpData::Text | OpData::Binary));
        let continues = header.opcode == OpCode::Data(OpData::Continue);
        let inflate = (starts && header.rsv1) || (continues && self.compressed && !header.rsv1);
        if !inflate {
            if starts {
                // A plain message (tungstenite refuses it if one was in progress).
                self.compressed = false;
            }
            self.ready.extend_from_slice(&self.raw[..head + len]);
            self.raw.advance(head + len);
            return Ok(true);
        }
        let mut payload = self.raw.split_to(head + len).split_off(head);
        if let Some(mask) = header.mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i & 3];
            }
        }
        self.compressed = !header.is_final;
        let inflater = self
            .inflater
            .get_or_insert_with(|| Box::new(Inflater::new()));
        let mut out = Vec::new();
        inflater.frame(&payload, header.is_final, self.max_message, &mut out)?;
        if header.is_final && self.agreed.peer_resets {
            // Nothing to keep between messages: the inflater's memory goes back.
            self.inflater = None;
        }
        header.rsv1 = false;
        // Masked with zeros: still a masked frame, as a client's must be.
        header.mask = header.mask.map(|_| [0; 4]);
        self.ready.reserve(14 + out.len());
        header
            .format(out.len() as u64, &mut (&mut self.ready).writer())
            .map_err(|e| invalid(e.to_string()))?;
        self.ready.extend_from_slice(&out);
        Ok(true)
    }
}

/// The byte stream under a websocket: passes bytes through, and inflates what the peer sends
/// once deflate is on ([`WsIo::with_deflate`]).
/// A read of a plain stream that asks for less than this goes through a per-thread buffer of
/// this size: one read of the socket takes what is there, and the surplus waits in the
/// stream's `stash` (released once handed out). tungstenite's own read buffer can then be
/// small (what every idle connection holds) without a syscall per few bytes of a large message.
const READ_AHEAD: usize = 8192;

/// Moves what fits of `from` into `buf`; `from`'s memory is released once it is all handed
/// out (an idle connection keeps none).
fn hand_out(from: &mut BytesMut, buf: &mut [u8]) -> usize {
    let n = buf.len().min(from.len());
    buf[..n].copy_from_slice(&from[..n]);
    from.advance(n);
    if from.is_empty() {
        *from = BytesMut::new();
    }
    n
}

thread_local! {
    static READ_SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_AHEAD]);
}

pub struct WsIo<S> {
    inner: S,
    read: Option<Box<ReadSide>>,
    /// A client's handshake is being read: the last four bytes handed out, to find the end
    /// of the HTTP head; nothing after it reaches tungstenite before [`WsIo::enable`].
    head: Option<u32>,
    /// Bytes read past the end of the handshake, for after [`WsIo::enable`].
    stash: BytesMut,
}

impl<S> WsIo<S> {
    /// A stream without compression.
    pub(crate) fn plain(inner: S) -> Self {
        Self {
            inner,
            read: None,
            head: None,
            stash: BytesMut::new(),
        }
    }

    /// A client's stream before its handshake: it hands out the HTTP head and keeps what
    /// follows it until [`WsIo::enable`] (what a server sends right after its `101` may
    /// already be compressed).
    #[cfg(feature = "client")]
    pub(crate) fn client(inner: S) -> Self {
        Self {
            head: Some(0),
            ..Self::plain(inner)
        }
    }

    /// A stream with what the handshake agreed (`None`: no compression), inflating messages of
    /// at most `max_message` bytes; `read` is what was read from it past the handshake.
    pub(crate) fn with_deflate(
        inner: S,
        read: Bytes,
        agreed: Option<Agreed>,
        max_message: usize,
    ) -> Self {
        let mut io = Self::plain(inner);
        // A copy: `read` is a slice of the HTTP connection's read buffer, which it would keep.
        if !read.is_empty() {
            io.stash = BytesMut::from(&read[..]);
        }
        io.enable(agreed, max_message);
        io
    }

    /// Turns on what a handshake read through this stream agreed (`None`: nothing).
    pub(crate) fn enable(&mut self, agreed: Option<Agreed>, max_message: usize) {
        self.head = None;
        let stash = std::mem::take(&mut self.stash);
        self.read = agreed.map(|agreed| {
            Box::new(ReadSide {
                agreed,
                max_message,
                raw: BytesMut::new(),
                ready: BytesMut::new(),
                inflater: None,
                compressed: false,
            })
        });
        match self.read.as_deref_mut() {
            Some(rs) => rs.raw = stash,
            None => self.stash = stash,
        }
    }

    /// The stream under it.
    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }

    /// What the handshake agreed, if deflate is on.
    pub(crate) fn deflate(&self) -> Option<Agreed> {
        self.read.as_ref().map(|r| r.agreed)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        const END: u32 = u32::from_be_bytes(*b"\r\n\r\n");
        if let Some(mut last) = this.head {
            if last == END {
                // Past the head: nothing before `enable` (tungstenite reads no further).
                return Poll::Ready(Ok(0));
            }
            let n = std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            for i in 0..n {
                last = last << 8 | u32::from(buf[i]);
                if last == END {
                    this.stash.extend_from_slice(&buf[i + 1..n]);
                    this.head = Some(last);
                    return Poll::Ready(Ok(i + 1));
                }
            }
            this.head = Some(last);
            return Poll::Ready(Ok(n));
        }
        let Some(rs) = this.read.as_deref_mut() else {
            if !this.stash.is_empty() {
                return Poll::Ready(Ok(hand_out(&mut this.stash, buf)));
            }
            if buf.len() >= READ_AHEAD {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            return READ_SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let n = std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut scratch))?;
                let k = n.min(buf.len());
                buf[..k].copy_from_slice(&scratch[..k]);
                this.stash.extend_from_slice(&scratch[k..n]);
                Poll::Ready(Ok(k))
            });
        };
        loop {
            if !rs.ready.is_empty() {
                return Poll::Ready(Ok(hand_out(&mut rs.ready, buf)));
            }
            if rs.next_frame()? {
                continue;
            }
            let start = rs.raw.len();
            rs.raw.resize(start + 8192, 0);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rs.raw[start..]) {
                Poll::Ready(Ok(0)) => {
                    rs.raw.truncate(start);
                    // The peer is gone: what is left is a partial frame for tungstenite to
                    // report.
                    let rest = rs.raw.split();
                    rs.ready.extend_from_slice(&rest);
                    if rs.ready.is_empty() {
                        return Poll::Ready(Ok(0));
                    }
                }
                Poll::Ready(Ok(n)) => rs.raw.truncate(start + n),
                Poll::Ready(Err(e)) => {
                    rs.raw.truncate(start);
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {
                    rs.raw.truncate(start);
                    if rs.raw.is_empty() {
                        // An idle websocket keeps no buffer.
                        rs.raw = BytesMut::new();
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreed(peer_resets: bool) -> Agreed {
        Agreed {
            threshold: 1024,
            peer_resets,
        }
    }

    /// A stream that hands out its chunks one per read (as much of each as the caller takes).
    struct Chunks(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let Some(mut chunk) = self.0.pop_front() else {
                return Poll::Ready(Ok(0));
            };
            let n = buf.len().min(chunk.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.0.push_front(chunk.split_off(n));
            }
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Chunks {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(b.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn small_reads_of_a_plain_stream_read_ahead() {
        let data: Vec<u8> = (0..30_000u32).map(|i| (i % 251) as u8).collect();
        let chunks = [&data[..20_000], &data[20_000..20_300], &data[20_300..]];
        let mut io = WsIo::plain(Chunks(chunks.iter().map(|c| c.to_vec()).collect()));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut got = Vec::new();
        let mut reads = 0;
        loop {
            // tungstenite's small buffer, and now and then a large one (read directly).
            let mut buf = vec![0u8; if reads % 7 == 6 { READ_AHEAD } else { 128 }];
            match Pin::new(&mut io).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(0)) => break,
                Poll::Ready(Ok(n)) => got.extend_from_slice(&buf[..n]),
                other => panic!("{other:?}"),
            }
            reads += 1;
        }
        assert_eq!(got, data);
        // Nothing is kept once handed out.
        assert_eq!(io.stash.capacity(), 0);
    }

    #[test]
    fn offers_are_accepted_or_declined() {
        let c = PerMessageDeflate::default();
        let (answer, a) = accept_offer("permessage-deflate; client_max_window_bits", &c).unwrap();
        assert_eq!(answer, "permessage-deflate; server_no_context_takeover");
        assert_eq!(a, agreed(false));
        let offer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
        let (answer, a) = accept_offer(offer, &c).unwrap();
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        assert_eq!(a, agreed(true));
        // A smaller server window is declined; the next offer is taken.
        let (answer, a) = accept_offer(
            "permessage-deflate; server_max_window_bits=10, permessage-deflate; client_no_context_takeover",
            &c,
        )
        .unwrap();
        assert!(a.peer_resets);
        assert!(!answer.contains("window"), "{answer}");
        // The largest window, asked for, is accepted by answering it.
        let (answer, _) =
            accept_offer("permessage-deflate; server_max_window_bits=15", &c).unwrap();
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=15"
        );
        for bad in [
            "x-webkit-deflate-frame",
            "permessage-deflate; unknown",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits=99",
            "permessage-deflate; server_max_window_bits=12",
        ] {
            assert_eq!(accept_offer(bad, &c), None, "{bad}");
        }
    }

    #[cfg(feature = "client")]
    #[test]
    fn the_client_reads_the_answer() {
        let c = PerMessageDeflate::default();
        assert!(accept_offer(CLIENT_OFFER, &c).is_some());
        assert_eq!(
            client_agreed(Some("permessage-deflate; server_no_context_takeover"), &c),
            Ok(Some(agreed(true)))
        );
        assert_eq!(client_agreed(None, &c), Ok(None));
        assert!(client_agreed(Some("permessage-deflate; client_max_window_bits=9"), &c).is_err());
        assert!(client_agreed(Some("other"), &c).is_err());
    }

    /// A frame as a peer writes it: compressed (RSV1 on the first) and split in `parts`.
    fn wire(message: &[u8], text: bool, parts: usize, mask: Option<[u8; 4]>) -> Vec<u8> {
        let compressed = deflate(message);
        let chunk = compressed.len().div_ceil(parts).max(1);
        let mut out = Vec::new();
        let pieces: Vec<&[u8]> = compressed.chunks(chunk).collect();
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = if i > 0 {
                OpData::Continue
            } else if text {
                OpData::Text
            } else {
                OpData::Binary
            };
            let header = FrameHeader {
                is_final: i + 1 == pieces.len(),
                rsv1: i == 0,
                opcode: OpCode::Data(opcode),
                mask,
                ..FrameHeader::default()
            };
            header.format(piece.len() as u64, &mut out).unwrap();
            let mut p = piece.to_vec();
            if let Some(m) = mask {
                for (i, b) in p.iter_mut().enumerate() {
                    *b ^= m[i & 3];
                }
            }
            out.extend_from_slice(&p);
        }
        out
    }

    /// Feeds `bytes` to a read side in chunks of `step` and parses the plain frames out.
    fn transcode(
        bytes: &[u8],
        step: usize,
        peer_resets: bool,
        limit: usize,
    ) -> io::Result<Vec<(bool, Vec<u8>)>> {
        let mut rs = ReadSide {
            agreed: agreed(peer_resets),
            max_message: limit,
            raw: BytesMut::new(),
            ready: BytesMut::new(),
            inflater: None,
            compressed: false,
        };
        for chunk in bytes.chunks(step) {
            rs.raw.extend_from_slice(chunk);
            while rs.next_frame()? {}
        }
        let mut frames = Vec::new();
        let mut cursor = Cursor::new(&rs.ready[..]);
        while let Some((h, len)) = FrameHeader::parse(&mut cursor).unwrap() {
            assert!(!h.rsv1);
            let start = cursor.position() as usize;
            let mut p = rs.ready[start..start + len as usize].to_vec();
            if let Some(m) = h.mask {
                for (i, b) in p.iter_mut().enumerate() {
                    *b ^= m[i & 3];
                }
            }
            frames.push((h.is_final, p));
            cursor.set_position((start + len as usize) as u64);
        }
        Ok(frames)
    }

    #[test]
    fn compressed_messages_come_out_plain() {
        let big: Vec<u8> = (0..20_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let text = "hello ".repeat(500);
        let mut bytes = wire(text.as_bytes(), true, 1, Some([1, 2, 3, 4]));
        bytes.extend(wire(&big, false, 3, Some([9, 8, 7, 6])));
        // An uncompressed frame passes as it is.
        let plain = FrameHeader {
            opcode: OpCode::Data(OpData::Text),
            ..FrameHeader::default()
        };
        plain.format(2, &mut bytes).unwrap();
        bytes.extend_from_slice(b"42");
        for step in [1, 7, 100, 1 << 20] {
            for resets in [false, true] {
                let frames = transcode(&bytes, step, resets, 1 << 20).unwrap();
                let mut messages = Vec::new();
                let mut current = Vec::new();
                for (fin, p) in frames {
                    current.extend(p);
                    if fin {
                        messages.push(std::mem::take(&mut current));
                    }
                }
                assert_eq!(
                    messages,
                    vec![text.as_bytes().to_vec(), big.clone(), b"42".to_vec()]
                );
            }
        }
    }

    #[test]
    fn an_inflation_bomb_is_refused() {
        let bomb = vec![0u8; 5 << 20];
        let bytes = wire(&bomb, false, 1, None);
        assert!(bytes.len() < 64 << 10, "{}", bytes.len());
        let err = transcode(&bytes, 1 << 20, true, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("inflates beyond"), "{err}");
    }
}
