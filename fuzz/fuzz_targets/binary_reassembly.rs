//! Binary packet reassembly: `socket::packet::Decoder` fed an arbitrary sequence of Engine.IO
//! messages (raw text, well-formed binary packet headers, attachments, resets).
//!
//! A model tracks what the decoder must be doing. Invariants:
//! * a text message while a binary packet is pending is `UnexpectedText` and drops it; an
//!   attachment with nothing pending is `UnexpectedAttachment`; otherwise the result of a text
//!   message is that of the free `decode_text`;
//! * every completed packet has exactly the announced number of attachments, the ones fed
//!   since its text, in order; `is_reassembling()` matches the model after every step;
//! * a completed packet re-encodes to frames that a fresh decoder reassembles into an equal
//!   packet; errors never panic and leave the decoder usable.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
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
                s.push_str(&format!("{{\"_placeholder\":true,\"num\":{}}}", n % 20));
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

/// The model: the announced count and the attachments received so far.
struct Pending {
    announced: usize,
    received: Vec<Bytes>,
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
                    (Some(pd), Ok(None)) => {
                        pd.received.push(a);
                        assert!(pd.received.len() < pd.announced, "packet not completed");
                    }
                    (Some(pd), Ok(Some(p))) => {
                        pd.received.push(a);
                        check_complete(&p, pd, &limits);
                        pending = None;
                    }
                    (Some(_), Err(e)) => panic!("attachment refused while pending: {e:?}"),
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
                        (Ok(Some(p)), Ok((q, 0))) => {
                            assert_eq!(p, q);
                            check_complete(
                                &p,
                                &Pending {
                                    announced: 0,
                                    received: Vec::new(),
                                },
                                &limits,
                            );
                        }
                        (Ok(None), Ok((q, n))) if n > 0 => {
                            assert!(q.kind.is_binary());
                            pending = Some(Pending {
                                announced: n,
                                received: Vec::new(),
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
    }
});
