//! Inputs shared by the session targets: Engine.IO and Socket.IO packets a peer may send,
//! well-formed enough to get past the codecs most of the time, plus raw bytes.
#![allow(dead_code)]

use arbitrary::Arbitrary;
use bytes::Bytes;
use sio_proto::engine::Frame;

/// The namespaces used by the session targets (`""` is the main namespace written without
/// a namespace, `"/"` the main namespace written out).
pub const NSPS: [&str; 4] = ["", "/", "/a", "/b"];

pub fn nsp_name(n: u8) -> &'static str {
    match NSPS[usize::from(n) % NSPS.len()] {
        "" => "/",
        s => s,
    }
}

fn nsp_header(n: u8) -> String {
    match NSPS[usize::from(n) % NSPS.len()] {
        "" => String::new(),
        s => format!("{s},"),
    }
}

/// A Socket.IO packet, encoded as Engine.IO message frames.
#[derive(Debug, Arbitrary)]
pub enum SioPkt {
    Connect {
        nsp: u8,
        auth: bool,
    },
    Disconnect {
        nsp: u8,
    },
    Event {
        nsp: u8,
        id: Option<u8>,
        bin: u8,
    },
    Ack {
        nsp: u8,
        id: u8,
        bin: u8,
    },
    ConnectError {
        nsp: u8,
    },
    /// Whatever follows the Engine.IO `4`.
    Raw(String),
}

impl SioPkt {
    pub fn frames(&self, out: &mut Vec<Frame>) {
        let (text, bin) = match self {
            SioPkt::Connect { nsp, auth } => (
                format!(
                    "0{}{}",
                    nsp_header(*nsp),
                    if *auth { r#"{"token":"t"}"# } else { "" }
                ),
                0,
            ),
            SioPkt::Disconnect { nsp } => (format!("1{}", nsp_header(*nsp)), 0),
            SioPkt::ConnectError { nsp } => {
                (format!("4{}{}", nsp_header(*nsp), r#"{"message":"no"}"#), 0)
            }
            SioPkt::Event { nsp, id, bin } => {
                let bin = usize::from(bin % 4);
                let mut s = if bin == 0 {
                    "2".to_owned()
                } else {
                    format!("5{bin}-")
                };
                s.push_str(&nsp_header(*nsp));
                if let Some(id) = id {
                    s.push_str(&(id % 8).to_string());
                }
                s.push_str(r#"["ev""#);
                for i in 0..bin {
                    s.push_str(&format!(r#",{{"_placeholder":true,"num":{i}}}"#));
                }
                s.push_str(",1]");
                (s, bin)
            }
            SioPkt::Ack { nsp, id, bin } => {
                let bin = usize::from(bin % 4);
                let mut s = if bin == 0 {
                    "3".to_owned()
                } else {
                    format!("6{bin}-")
                };
                s.push_str(&nsp_header(*nsp));
                s.push_str(&(id % 8).to_string());
                s.push('[');
                for i in 0..bin {
                    s.push_str(&format!(r#"{{"_placeholder":true,"num":{i}}},"#));
                }
                s.push_str("true]");
                (s, bin)
            }
            SioPkt::Raw(s) => (s.clone(), 0),
        };
        out.push(Frame::Text(Bytes::from(format!("4{text}"))));
        for i in 0..bin {
            out.push(Frame::Binary(Bytes::from(vec![i as u8; i + 1])));
        }
    }
}

/// An Engine.IO packet (or several frames, for a Socket.IO packet with attachments).
#[derive(Debug, Arbitrary)]
pub enum EnginePkt {
    Sio(SioPkt),
    Binary(Vec<u8>),
    Ping,
    PingProbe,
    Pong,
    PongProbe,
    Close,
    Upgrade,
    Noop,
    Open,
    RawText(Vec<u8>),
}

impl EnginePkt {
    pub fn frames(&self, out: &mut Vec<Frame>) {
        let text = |s: &'static [u8]| Frame::Text(Bytes::from_static(s));
        match self {
            EnginePkt::Sio(p) => p.frames(out),
            EnginePkt::Binary(b) => out.push(Frame::Binary(Bytes::copy_from_slice(b))),
            EnginePkt::Ping => out.push(text(b"2")),
            EnginePkt::PingProbe => out.push(text(b"2probe")),
            EnginePkt::Pong => out.push(text(b"3")),
            EnginePkt::PongProbe => out.push(text(b"3probe")),
            EnginePkt::Close => out.push(text(b"1")),
            EnginePkt::Upgrade => out.push(text(b"5")),
            EnginePkt::Noop => out.push(text(b"6")),
            EnginePkt::Open => out.push(text(b"0{}")),
            EnginePkt::RawText(t) => out.push(Frame::Text(Bytes::copy_from_slice(t))),
        }
    }
}

pub fn frames_of(pkts: &[EnginePkt]) -> Vec<Frame> {
    let mut out = Vec::new();
    for p in pkts.iter().take(32) {
        p.frames(&mut out);
    }
    out
}

/// A long-polling body: well-formed frames, or raw bytes.
#[derive(Debug, Arbitrary)]
pub enum Body {
    Packets(Vec<EnginePkt>),
    Raw(Vec<u8>),
}

impl Body {
    pub fn bytes(&self) -> Bytes {
        match self {
            Body::Packets(p) => sio_proto::engine::packet::encode_payload(&frames_of(p)),
            Body::Raw(b) => Bytes::copy_from_slice(b),
        }
    }
}

/// Checks switched off by `SIO_FUZZ_SKIP=name,name` (exploration past a known bug).
pub fn skip(name: &str) -> bool {
    static SKIP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SKIP.get_or_init(|| {
        std::env::var("SIO_FUZZ_SKIP")
            .unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect()
    })
    .iter()
    .any(|s| s == name)
}
