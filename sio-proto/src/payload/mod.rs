//! Conversion between user arguments and Socket.IO event payloads.
//!
//! A Socket.IO (protocol v5) event or acknowledgement carries a JSON array: the
//! event name (for events) followed by the arguments. Binary values cannot live
//! in JSON, so each one is replaced by a placeholder object
//! `{"_placeholder":true,"num":N}` and sent as a separate attachment after the
//! packet; `N` counts the attachments in order of appearance.
//!
//! This module is the serde glue for that scheme:
//!
//! * [`to_payload`] / [`write_payload`] serialise arguments straight into the
//!   payload text (no intermediate `serde_json::Value`). Anything that
//!   serialises as bytes (`bytes::Bytes`, `serde_bytes`-style types, …),
//!   wherever it sits in the data, becomes a placeholder plus an attachment.
//!   A Rust tuple at the top level spreads into several arguments, `()` means
//!   no argument, and every other value is a single argument
//!   (`serde_json::Value::Null` and `None` are one `null`).
//! * [`from_payload`] deserialises handler arguments the way a JavaScript
//!   function takes its parameters (a tuple is the parameter list, most other
//!   types the first argument, extra arguments are ignored, a missing one is
//!   `None`), turning placeholders back into bytes when the target type asks
//!   for bytes.
//! * [`Args`] keeps every argument as it came (JSON text and
//!   binary attachments) and spreads them again when sent: JavaScript's
//!   `...args`, for relaying.
//! * [`args_as_values`] returns the raw arguments as JSON values, placeholders
//!   left untouched.

use std::borrow::Cow;
use std::fmt::{self, Display};
use std::marker::PhantomData;

use bytes::buf::Writer;
use bytes::{BufMut, Bytes, BytesMut};
use serde::de::value::{BorrowedStrDeserializer, SeqDeserializer, StringDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};
use serde::ser::{self, Impossible, Serialize, Serializer};
use serde_json::Value;

/// Struct names serde_json uses to pass pre-formatted JSON text through a
/// serializer (`RawValue` and, with `arbitrary_precision`, `Number`).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";
const RAW_NUMBER_TOKEN: &str = "$serde_json::private::Number";
/// What `serde_json::Value`'s visitor says it expects; see [`expects_json_value`].
const JSON_VALUE_EXPECTING: &str = "any valid JSON value";

mod args;
mod buffered;
mod deserialize;
mod serialize;
mod serialize_special;
mod transcode;
mod wrap;

pub use self::args::{Arg, Args};
pub use self::deserialize::{args_as_values, from_payload};
pub use self::serialize::{to_payload, write_payload};
#[cfg(test)]
pub(crate) use self::transcode::count_placeholders;
pub use self::transcode::{decode, encode_event};

#[allow(unused_imports)] // each part names what it uses from the others through these
use self::{
    buffered::*, deserialize::*, serialize::*, serialize_special::*, transcode::*, wrap::*,
};

// ---------------------------------------------------------------------------
// Error
// ---------------------------------------------------------------------------

/// Error raised while turning arguments into a payload or a payload into
/// arguments: malformed JSON, a type mismatch, an invalid binary placeholder,
/// or a custom message from a `Serialize`/`Deserialize` implementation.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PayloadError(Box<Repr>);

#[derive(Debug, thiserror::Error)]
enum Repr {
    #[error(transparent)]
    Json(serde_json::Error),
    #[error("{0}")]
    Message(String),
}

impl PayloadError {
    fn message(msg: impl Display) -> Self {
        PayloadError(Box::new(Repr::Message(msg.to_string())))
    }
}

/// A payload's JSON as text, for `serde_json` to read from a `&str`: from bytes it checks
/// UTF-8 string by string, which is a quarter of a typed decode of 1 KiB, while one check of
/// the whole text costs about 40 ns per KiB.
pub(crate) fn json_str(json: &[u8]) -> Result<&str, PayloadError> {
    std::str::from_utf8(json).map_err(|_| PayloadError::message("payload is not valid UTF-8"))
}

impl From<serde_json::Error> for PayloadError {
    fn from(err: serde_json::Error) -> Self {
        PayloadError(Box::new(Repr::Json(err)))
    }
}

impl ser::Error for PayloadError {
    fn custom<T: Display>(msg: T) -> Self {
        PayloadError::message(msg)
    }
}

impl de::Error for PayloadError {
    fn custom<T: Display>(msg: T) -> Self {
        PayloadError::message(msg)
    }
}

#[cfg(test)]
mod tests;
