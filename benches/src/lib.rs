//! Shared code for the codec benchmarks in `benches/`: loading the wire vectors of
//! `shared/bench-vectors` (with an in-code fallback) and the typed payloads they carry.
//!
//! The vectors are read from `SIO_BENCH_VECTORS` when set, else from `shared/bench-vectors`
//! next to the repository (`<workspace>/../shared/bench-vectors`). A missing file is rebuilt
//! from its description in the vectors' README, except `event_1k_json.txt`, whose benchmarks
//! are then skipped.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sio_proto::DecodeError;

/// The default vectors directory: `shared/bench-vectors` beside the repository.
pub const DEFAULT_VECTORS_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench-vectors");

/// The environment variable overriding [`DEFAULT_VECTORS_DIR`].
pub const VECTORS_ENV: &str = "SIO_BENCH_VECTORS";

/// The wire vectors (exact bytes, no trailing newline).
#[derive(Debug, Clone)]
pub struct Vectors {
    /// Where the files were looked for.
    pub dir: PathBuf,
    /// `2["chat","hello world"]` (23 bytes).
    pub event_small: Bytes,
    /// `2/chat,42["message",{"user":"alice","text":"hi","ts":1700000000000}]` (68 bytes).
    pub event_custom_nsp_ack: Bytes,
    /// `2["update",<1024-byte object>]` (1036 bytes); `None` when the file is missing.
    pub event_1k_json: Option<Bytes>,
    /// `37["ok"]` (8 bytes).
    pub ack_small: Bytes,
    /// The BINARY_EVENT header with 2 placeholders (94 bytes).
    pub binary_header: Bytes,
    /// Attachment 0 (1024 bytes).
    pub binary_att0: Bytes,
    /// Attachment 1 (16 bytes).
    pub binary_att1: Bytes,
    /// An Engine.IO long-polling body of 10 messages (279 bytes).
    pub eio_payload_10msg: Bytes,
    /// Files that could not be read (rebuilt in code or skipped).
    pub missing: Vec<&'static str>,
}

impl Vectors {
    /// Loads the vectors from `SIO_BENCH_VECTORS` or [`DEFAULT_VECTORS_DIR`], reporting on
    /// stderr any file that is missing or differs from its README description.
    pub fn load() -> Self {
        let dir = std::env::var_os(VECTORS_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_VECTORS_DIR));
        Self::load_from(&dir)
    }

    /// Loads the vectors from `dir` (see [`Vectors::load`]).
    pub fn load_from(dir: &Path) -> Self {
        let mut missing = Vec::new();
        let mut get = |name: &'static str, fallback: Option<Bytes>| -> Option<Bytes> {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(data) => {
                    if let Some(f) = &fallback {
                        if f[..] != data[..] {
                            eprintln!(
                                "sio-benches: warning: {} differs from the bytes its README \
                                 describes; benchmarking the file as is",
                                path.display()
                            );
                        }
                    }
                    Some(Bytes::from(data))
                }
                Err(e) => {
                    missing.push(name);
                    match fallback {
                        Some(f) => {
                            eprintln!(
                                "sio-benches: cannot read {} ({e}); building the same {} bytes \
                                 in code (set {VECTORS_ENV} to the bench-vectors directory)",
                                path.display(),
                                f.len()
                            );
                            Some(f)
                        }
                        None => {
                            eprintln!(
                                "sio-benches: cannot read {} ({e}); it cannot be rebuilt in code, \
                                 so its benchmarks are SKIPPED (set {VECTORS_ENV} to the \
                                 bench-vectors directory)",
                                path.display()
                            );
                            None
                        }
                    }
                }
            }
        };
        let fb = fallback::all();
        let must = |b: Option<Bytes>| b.expect("a vector with a fallback is always present");
        let event_small = must(get("event_small.txt", Some(fb.event_small)));
        let event_custom_nsp_ack = must(get(
            "event_custom_nsp_ack.txt",
            Some(fb.event_custom_nsp_ack),
        ));
        let event_1k_json = get("event_1k_json.txt", None);
        let ack_small = must(get("ack_small.txt", Some(fb.ack_small)));
        let binary_header = must(get(
            "binary_event_2_attachments.header.txt",
            Some(fb.binary_header),
        ));
        let binary_att0 = must(get(
            "binary_event_2_attachments.att0.bin",
            Some(fb.binary_att0),
        ));
        let binary_att1 = must(get(
            "binary_event_2_attachments.att1.bin",
            Some(fb.binary_att1),
        ));
        let eio_payload_10msg = must(get("eio_payload_10msg.txt", Some(fb.eio_payload_10msg)));
        Vectors {
            dir: dir.to_path_buf(),
            event_small,
            event_custom_nsp_ack,
            event_1k_json,
            ack_small,
            binary_header,
            binary_att0,
            binary_att1,
            eio_payload_10msg,
            missing,
        }
    }

    /// Total wire bytes of the binary event: header text plus both attachments.
    pub fn binary_len(&self) -> usize {
        self.binary_header.len() + self.binary_att0.len() + self.binary_att1.len()
    }
}

/// The vectors rebuilt from the README's description (all but `event_1k_json`).
pub mod fallback {
    use bytes::Bytes;

    /// The rebuilt vectors.
    pub struct Fallback {
        /// See [`super::Vectors::event_small`].
        pub event_small: Bytes,
        /// See [`super::Vectors::event_custom_nsp_ack`].
        pub event_custom_nsp_ack: Bytes,
        /// See [`super::Vectors::ack_small`].
        pub ack_small: Bytes,
        /// See [`super::Vectors::binary_header`].
        pub binary_header: Bytes,
        /// See [`super::Vectors::binary_att0`].
        pub binary_att0: Bytes,
        /// See [`super::Vectors::binary_att1`].
        pub binary_att1: Bytes,
        /// See [`super::Vectors::eio_payload_10msg`].
        pub eio_payload_10msg: Bytes,
    }

    /// Attachment 0: byte i = (31·i + 7) mod 256, 1024 bytes.
    pub fn att0() -> Bytes {
        (0..1024u32).map(|i| ((31 * i + 7) % 256) as u8).collect()
    }

    /// Attachment 1: byte i = 0xF0 xor i, 16 bytes.
    pub fn att1() -> Bytes {
        (0..16u8).map(|i| 0xF0 ^ i).collect()
    }

    /// The Socket.IO text of message `i` of the polling payload.
    pub fn eio_message(i: usize) -> String {
        format!(r#"2["chat","hello world #{i}"]"#)
    }

    /// All rebuilt vectors.
    pub fn all() -> Fallback {
        let eio: Vec<String> = (0..10).map(|i| format!("4{}", eio_message(i))).collect();
        Fallback {
            event_small: Bytes::from_static(br#"2["chat","hello world"]"#),
            event_custom_nsp_ack: Bytes::from_static(
                br#"2/chat,42["message",{"user":"alice","text":"hi","ts":1700000000000}]"#,
            ),
            ack_small: Bytes::from_static(br#"37["ok"]"#),
            binary_header: Bytes::from_static(
                br#"52-["upload",{"meta":"x","a":{"_placeholder":true,"num":0},"b":{"_placeholder":true,"num":1}}]"#,
            ),
            binary_att0: att0(),
            binary_att1: att1(),
            eio_payload_10msg: Bytes::from(eio.join("\u{1e}")),
        }
    }
}

/// The argument of `event_custom_nsp_ack` (fields in wire order, so encoding is byte-exact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Msg {
    /// `"alice"`.
    pub user: String,
    /// `"hi"`.
    pub text: String,
    /// `1700000000000`.
    pub ts: u64,
}

impl Msg {
    /// The value carried by the vector.
    pub fn expected() -> Self {
        Msg {
            user: "alice".into(),
            text: "hi".into(),
            ts: 1_700_000_000_000,
        }
    }
}

/// The 1 KiB object of `event_1k_json` (fields in wire order, so encoding is byte-exact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Order id.
    pub id: String,
    /// Event type (`order.updated`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Version.
    pub version: u32,
    /// Sales channel.
    pub channel: String,
    /// Locale.
    pub locale: String,
    /// ISO 8601 timestamp.
    pub created_at: String,
    /// The customer.
    pub customer: Customer,
    /// Ordered items.
    pub items: Vec<Item>,
    /// Totals.
    pub totals: Totals,
    /// Metrics.
    pub metrics: Metrics,
    /// Flags.
    pub flags: Flags,
    /// Status history.
    pub history: Vec<HistoryEntry>,
}

/// Part of [`Order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Customer id.
    pub id: u64,
    /// Name (non-ASCII).
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Address.
    pub address: Address,
}

/// Part of [`Order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// Street.
    pub street: String,
    /// City.
    pub city: String,
    /// Postal code.
    pub zip: String,
    /// Country code.
    pub country: String,
    /// Latitude, longitude.
    pub geo: [f64; 2],
}

/// Part of [`Order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Stock-keeping unit.
    pub sku: String,
    /// Name (contains an escaped quote in the vector).
    pub name: String,
    /// Quantity.
    pub qty: u32,
    /// Unit price.
    pub price: f64,
    /// Dimensions.
    pub dims: Vec<f64>,
}

/// Part of [`Order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Subtotal.
    pub subtotal: f64,
    /// Tax.
    pub tax: f64,
    /// Shipping.
    pub shipping: f64,
    /// Total.
    pub total: f64,
    /// Currency code.
    pub currency: String,
}

/// Part of [`Order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Latencies in milliseconds.
    pub latency_ms: Vec<u32>,
    /// Scores.
    pub scores: Vec<f64>,
}

/// Part of [`Order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flags {
    /// Gift wrapping.
    pub gift: bool,
    /// Express shipping.
    pub express: bool,
    /// Notes (`null` in the vector).
    pub notes: Option<String>,
}

/// Part of [`Order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Milliseconds since the epoch.
    pub at: u64,
    /// Status.
    pub status: String,
}

/// A binary placeholder `{"_placeholder":true,"num":N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placeholder {
    /// Always `true`.
    #[serde(rename = "_placeholder")]
    pub placeholder: bool,
    /// The attachment index.
    pub num: usize,
}

impl Placeholder {
    /// The placeholder of attachment `num`.
    pub fn new(num: usize) -> Self {
        Placeholder {
            placeholder: true,
            num,
        }
    }

    /// The attachment this placeholder names, shared (no copy).
    pub fn resolve(self, attachments: &[Bytes]) -> Result<Bytes, DecodeError> {
        if !self.placeholder {
            return Err(DecodeError::InvalidPlaceholder);
        }
        attachments
            .get(self.num)
            .cloned()
            .ok_or(DecodeError::InvalidPlaceholder)
    }
}

/// The argument of the binary event as it is on the wire (placeholders, not bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadWire<M = String> {
    /// `"x"`.
    pub meta: M,
    /// Placeholder of attachment 0.
    pub a: Placeholder,
    /// Placeholder of attachment 1.
    pub b: Placeholder,
}

/// The argument of the binary event as a handler uses it: the attachments in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// `"x"`.
    pub meta: String,
    /// Attachment 0.
    pub a: Bytes,
    /// Attachment 1.
    pub b: Bytes,
}

impl Upload {
    /// Places the attachments back into the decoded argument.
    pub fn from_wire(w: UploadWire, attachments: &[Bytes]) -> Result<Self, DecodeError> {
        Ok(Upload {
            a: w.a.resolve(attachments)?,
            b: w.b.resolve(attachments)?,
            meta: w.meta,
        })
    }

    /// Splits the argument for encoding: the JSON view with placeholders, and the
    /// attachments in placeholder order (shared, not copied).
    pub fn to_wire(&self) -> (UploadWire<&str>, Vec<Bytes>) {
        (
            UploadWire {
                meta: &self.meta,
                a: Placeholder::new(0),
                b: Placeholder::new(1),
            },
            vec![self.a.clone(), self.b.clone()],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_matches_the_files() {
        let v = Vectors::load();
        if !v.missing.is_empty() {
            eprintln!("vectors missing in {}: {:?}", v.dir.display(), v.missing);
            return;
        }
        let f = fallback::all();
        assert_eq!(v.event_small, f.event_small);
        assert_eq!(v.event_custom_nsp_ack, f.event_custom_nsp_ack);
        assert_eq!(v.ack_small, f.ack_small);
        assert_eq!(v.binary_header, f.binary_header);
        assert_eq!(v.binary_att0, f.binary_att0);
        assert_eq!(v.binary_att1, f.binary_att1);
        assert_eq!(v.eio_payload_10msg, f.eio_payload_10msg);
        assert_eq!(v.event_1k_json.as_ref().map(Bytes::len), Some(1036));
    }

    #[test]
    fn fallback_lengths_match_the_readme() {
        let f = fallback::all();
        assert_eq!(f.event_small.len(), 23);
        assert_eq!(f.event_custom_nsp_ack.len(), 68);
        assert_eq!(f.ack_small.len(), 8);
        assert_eq!(f.binary_header.len(), 94);
        assert_eq!(f.binary_att0.len(), 1024);
        assert_eq!(f.binary_att1.len(), 16);
        assert_eq!(f.eio_payload_10msg.len(), 279);
    }

    #[test]
    fn missing_directory_falls_back() {
        let v = Vectors::load_from(Path::new("/nonexistent/sio-bench-vectors"));
        assert_eq!(v.missing.len(), 8);
        assert!(v.event_1k_json.is_none());
        assert_eq!(v.binary_len(), 94 + 1024 + 16);
    }
}
