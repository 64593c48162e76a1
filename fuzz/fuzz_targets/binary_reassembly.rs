//! Binary packet reassembly: `socket::packet::Decoder` fed an arbitrary sequence of Engine.IO
//! messages (raw text, well-formed binary packet headers, attachments, resets).
//!
//! A model tracks what the decoder must be doing. Invariants:
//! * a text message while a binary packet is pending is `UnexpectedText` and drops it; an
//!   attachment with nothing pending is `UnexpectedAttachment`; otherwise the result of a text
//!   message is that of the free `decode_text`;
//! * every completed packet has exactly the announced number of attachments, the ones fed
//!   since its text, in order; `is_reassembling()` and `buffered_bytes()` match the model
//!   after every step;
//! * an attachment that takes the packet's attachments over `max_attachment_bytes` is
//!   `AttachmentsTooLarge` and drops the packet;
//! * a binary packet completes only if its JSON parses and every placeholder
//!   (`"_placeholder": true`) has a `num` that is an integer below the attachment count
//!   (Node's rule, checked here by a reference over `serde_json::Value`): otherwise
//!   `InvalidJson` / `InvalidPlaceholder`, and the packet is dropped;
//! * a completed packet re-encodes to frames that a fresh decoder reassembles into an equal
//!   packet; errors never panic and leave the decoder usable.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sio_proto::socket::packet::{decode_text, DecodeLimits, Decoder};
use sio_proto::socket::Packet;
use sio_proto::DecodeError;

#[derive(Debug, Arbitrary)]
enum Msg {
    /// Arbitrary Socket.IO text.
    Text(Vec<u8>),
    /// A well-formed header: `5N-` / `6N-`, a namespace, an ack id, a payload with
    /// placeholders.
    Binary {
        ack: bool,
        count: u8,
        nsp: u8,
        id: Option<u16>,
        placeholders: Vec<u8>,
    },
    /// A plain event or ack.
    Plain { ack: bool, nsp: u8, id: Option<u16> },
    /// One attachment.
    Attachment(Vec<u8>),
    /// `Decoder::reset`.
    Reset,
}

#[derive(Debug, Arbitrary)]
struct Input {
    max_attachments: u8,
    max_attachment_bytes: u16,
    msgs: Vec<Msg>,
}

const NSPS: [&str; 3] = ["", "/", "/admin"];

fn header_nsp(n: u8) -> String {
    match NSPS[usize::from(n) % NSPS.len()] {
        "" => String::new(),
        s => format!("{s},"),
    }
}

fn text_of(m: &Msg) -> Option<Vec<u8>> {
    Some(match m {
        Msg::Text(t) => t.clone(),
        Msg::Binary {
            ack,
            count,
            nsp,
            id,
            placeholders,
        } => {
            let mut s = format!(
                "{}{}-{}",
                if *ack { 6 } else { 5 },
                count % 16,
                header_nsp(*nsp)
            );
            let id = if *ack { Some(id.unwrap_or(0)) } else { *id };
            if let Some(id) = id {
                s.push_str(&id.to_string());
            }
            s.push('[');
            if !*ack {
                s.push_str("\"ev\"");
            }
            for (i, n) in placeholders.iter().enumerate() {
                if i > 0 || !*ack {
                    s.push(',');
                }
                s.push_str(&format!("{{\"_placeholder\":true,\"num\":{}}}", n % 12));
            }
            s.push(']');
            s.into_bytes()
        }
        Msg::Plain { ack, nsp, id } => {
            let id = if *ack { Some(id.unwrap_or(1)) } else { *id };
            let mut s = format!("{}{}", if *ack { 3 } else { 2 }, header_nsp(*nsp));
            if let Some(id) = id {
                s.push_str(&id.to_string());
            }
            s.push_str(if *ack { "[1]" } else { "[\"x\",1]" });
            s.into_bytes()
        }
        Msg::Attachment(_) | Msg::Reset => return None,
    })
}

/// The model: the announced count, the attachments received so far and the packet's JSON.
struct Pending {
    announced: usize,
    received: Vec<Bytes>,
    data: Bytes,
}

impl Pending {
    fn bytes(&self) -> usize {
        self.received.iter().map(Bytes::len).sum()
    }
}

/// Node's placeholder rule, as a reference: what completing a binary packet must give.
fn reference_check(data: &[u8], count: usize) -> Result<(), DecodeError> {
    fn index(v: &Value) -> Option<u64> {
        let n = v.as_number()?;
        n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            (f >= 0.0 && f.fract() == 0.0 && f < 1e19).then_some(f as u64)
        })
    }
    fn walk(v: &Value, count: usize) -> bool {
        match v {
            Value::Array(a) => a.iter().all(|x| walk(x, count)),
            Value::Object(m) if m.get("_placeholder") == Some(&Value::Bool(true)) => m
                .get("num")
                .and_then(index)
                .is_some_and(|n| n < count as u64),
            Value::Object(m) => m.values().all(|x| walk(x, count)),
            _ => true,
        }
    }
    let v: Value = serde_json::from_slice(data).map_err(|_| DecodeError::InvalidJson)?;
    if walk(&v, count) {
        Ok(())
    } else {
        Err(DecodeError::InvalidPlaceholder)
    }
}

fn check_complete(p: &Packet, pending: &Pending, limits: &DecodeLimits) {
    assert_eq!(
        p.attachments.len(),
        pending.announced,
        "wrong attachment count"
    );
    assert_eq!(p.attachments, pending.received, "attachments out of order");
    // Re-encode and reassemble with a fresh decoder.
    let enc = p.encode();
    assert_eq!(
        enc.frame_count(),
        1 + if p.kind.is_binary() {
            pending.announced
        } else {
            0
        }
    );
    let mut d = Decoder::new(*limits);
    let mut out = None;
    for (i, f) in enc.frames().enumerate() {
        let r = match f {
            sio_proto::engine::Frame::Text(t) => d.decode_text(t.slice(1..)),
            sio_proto::engine::Frame::Binary(b) => d.decode_binary(b),
        }
        .expect("re-encoded frames must reassemble");
        if i + 1 < enc.frame_count() {
            assert!(r.is_none(), "packet completed before its last frame");
        } else {
            out = r;
        }
    }
    assert_eq!(
        out.as_ref(),
        Some(p),
        "re-encoded packet reassembled differently"
    );
    assert!(!d.is_reassembling());
}

fuzz_target!(|input: Input| {
    let limits = DecodeLimits {
        max_attachments: usize::from(input.max_attachments % 12),
        max_attachment_bytes: usize::from(input.max_attachment_bytes % 512),
        ..DecodeLimits::default()
    };
    let mut d = Decoder::new(limits);
    let mut pending: Option<Pending> = None;

    for m in input.msgs.iter().take(256) {
        match m {
            Msg::Reset => {
                d.reset();
                pending = None;
            }
            Msg::Attachment(a) => {
                let a = Bytes::copy_from_slice(a);
                let r = d.decode_binary(a.clone());
                match (&mut pending, r) {
                    (None, Err(DecodeError::UnexpectedAttachment)) => {}
                    (None, r) => panic!("attachment with nothing pending gave {r:?}"),
                    (Some(pd), r) if pd.bytes() + a.len() > limits.max_attachment_bytes => {
                        assert_eq!(
                            r,
                            Err(DecodeError::AttachmentsTooLarge(
                                limits.max_attachment_bytes
                            )),
                            "attachment over the byte cap"
                        );
                        pending = None;
                    }
                    (Some(pd), Ok(None)) => {
                        pd.received.push(a);
                        assert!(pd.received.len() < pd.announced, "packet not completed");
                    }
                    (Some(pd), r) if pd.received.len() + 1 == pd.announced => {
                        pd.received.push(a);
                        match (reference_check(&pd.data, pd.announced), r) {
                            (Ok(()), Ok(Some(p))) => check_complete(&p, pd, &limits),
                            (Err(want), Err(got)) => assert_eq!(got, want),
                            (want, got) => panic!("completion gave {got:?}, expected {want:?}"),
                        }
                        pending = None;
                    }
                    (Some(_), r) => panic!("attachment gave {r:?} before the last one"),
                }
            }
            _ => {
                let Some(t) = text_of(m) else { continue };
                let t = Bytes::from(t);
                let r = d.decode_text(t.clone());
                if pending.is_some() {
                    assert_eq!(r, Err(DecodeError::UnexpectedText));
                    pending = None;
                } else {
                    let free = decode_text(t, &limits);
                    match (r, free) {
                        (Err(a), Err(b)) => assert_eq!(a, b),
                        (Err(got), Ok((q, 0))) if q.kind.is_binary() => {
                            let want = reference_check(&q.data, 0);
                            assert_eq!(Err(got), want, "binary packet without attachments");
                        }
                        (Ok(Some(p)), Ok((q, 0))) => {
                            assert_eq!(p, q);
                            if q.kind.is_binary() {
                                assert_eq!(reference_check(&q.data, 0), Ok(()));
                            }
                            check_complete(
                                &p,
                                &Pending {
                                    announced: 0,
                                    received: Vec::new(),
                                    data: q.data.clone(),
                                },
                                &limits,
                            );
                        }
                        (Ok(None), Ok((q, n))) if n > 0 => {
                            assert!(q.kind.is_binary());
                            pending = Some(Pending {
                                announced: n,
                                received: Vec::new(),
                                data: q.data,
                            });
                        }
                        (r, free) => panic!("Decoder {r:?} vs decode_text {free:?}"),
                    }
                }
            }
        }
        assert_eq!(
            d.is_reassembling(),
            pending.is_some(),
            "is_reassembling() out of sync"
        );
        assert_eq!(
            d.buffered_bytes(),
            pending.as_ref().map_or(0, Pending::bytes),
            "buffered_bytes() out of sync"
        );
    }
});
