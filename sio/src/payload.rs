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
//! * [`Args`](crate::Args) keeps every argument as it came (JSON text and
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

/// Key marking a binary placeholder object.
const PLACEHOLDER_KEY: &str = "_placeholder";
/// Key holding the attachment index in a binary placeholder object.
const NUM_KEY: &str = "num";
/// Struct names serde_json uses to pass pre-formatted JSON text through a
/// serializer (`RawValue` and, with `arbitrary_precision`, `Number`).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";
const RAW_NUMBER_TOKEN: &str = "$serde_json::private::Number";
/// What `serde_json::Value`'s visitor says it expects; see [`expects_json_value`].
const JSON_VALUE_EXPECTING: &str = "any valid JSON value";

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

// ---------------------------------------------------------------------------
// Serialisation
// ---------------------------------------------------------------------------

/// Serialises `args` as the elements of an event payload array.
///
/// If `event` is `Some`, it is the first element. Like a JavaScript variadic
/// call, a Rust tuple (anything calling `serialize_tuple`, [`Args`](crate::Args)
/// too) spreads into several arguments and `()` means no argument at all; any
/// other value (struct, string, number, slice, `Vec`, map, `Option`, unit
/// struct, tuple struct, `serde_json::Value`…) is one argument: one `null` is
/// one argument, whether it is `Value::Null`, `None` or a unit struct. ("No
/// argument" is a zero-sized value that serialises as unit, which is how `()`
/// is told from `Value::Null`: both serialise as unit.) Newtype structs are
/// transparent. Beware a serde quirk: fixed-size arrays (`[T; N]`) serialise
/// as tuples, so they spread too (pass a slice or a `Vec` to send one array).
///
/// Every value serialised as bytes (`serialize_bytes`), at any depth, is
/// replaced by a `{"_placeholder":true,"num":N}` object and copied into the
/// returned attachments, in order of appearance. Plain `Vec<u8>` and `&[u8]`
/// serialise as arrays of numbers in serde; use `bytes::Bytes` (or a
/// `serde_bytes`-like wrapper) for binary data.
///
/// Returns the JSON array text and the attachments.
pub fn to_payload<T: Serialize + ?Sized>(
    event: Option<&str>,
    args: &T,
) -> Result<(Bytes, Vec<Bytes>), PayloadError> {
    let mut out = BytesMut::with_capacity(128);
    let attachments = write_payload(&mut out, event, args)?;
    Ok((out.freeze(), attachments))
}

/// Same as [`to_payload`] but appends the JSON array text to `out` (so a
/// packet header can be written first and a broadcast encoded once); returns
/// the attachments. On error `out` is restored to its original length.
pub fn write_payload<T: Serialize + ?Sized>(
    out: &mut BytesMut,
    event: Option<&str>,
    args: &T,
) -> Result<Vec<Bytes>, PayloadError> {
    let start = out.len();
    let mut attachments = Vec::new();
    // Only a value without data (`()`) that serialises as unit is "no argument": a
    // `serde_json::Value::Null` (which serialises as unit too) is one `null`.
    let unit_is_empty = std::mem::size_of_val(args) == 0;
    let mut ser = ValueSer {
        out,
        attachments: &mut attachments,
    };
    match ser.write_array(event, args, unit_is_empty) {
        Ok(()) => Ok(attachments),
        Err(err) => {
            out.truncate(start);
            Err(err)
        }
    }
}

/// Serialises one JSON value into the output buffer, diverting bytes into
/// attachments.
struct ValueSer<'a> {
    out: &'a mut BytesMut,
    attachments: &'a mut Vec<Bytes>,
}

impl ValueSer<'_> {
    /// A serde_json serializer writing to the output, used for leaf values so
    /// that strings and numbers are formatted exactly as serde_json does.
    fn json(&mut self) -> serde_json::Serializer<Writer<&mut BytesMut>> {
        serde_json::Serializer::new((&mut *self.out).writer())
    }

    fn write_str(&mut self, value: &str) -> Result<(), PayloadError> {
        self.json().serialize_str(value)?;
        Ok(())
    }

    fn write_array<T: Serialize + ?Sized>(
        &mut self,
        event: Option<&str>,
        args: &T,
        unit_is_empty: bool,
    ) -> Result<(), PayloadError> {
        self.out.put_u8(b'[');
        if let Some(event) = event {
            self.write_str(event)?;
        }
        args.serialize(ArgsSer {
            ser: self,
            comma: event.is_some(),
            unit_is_empty,
        })?;
        self.out.put_u8(b']');
        Ok(())
    }
}

/// State of a JSON array or object being written.
struct Compound<'b, 'a> {
    ser: &'b mut ValueSer<'a>,
    first: bool,
    /// Text closing the compound (`]`, `}`, or `]}` / `}}` for enum variants).
    close: &'static [u8],
    /// The struct is serde_json's raw-JSON carrier: write its field verbatim.
    raw: bool,
}

impl<'b, 'a> Compound<'b, 'a> {
    fn open(ser: &'b mut ValueSer<'a>, open: &[u8], close: &'static [u8]) -> Self {
        ser.out.extend_from_slice(open);
        Compound {
            ser,
            first: true,
            close,
            raw: false,
        }
    }

    /// Opens `{"variant":` followed by `open`.
    fn open_variant(
        ser: &'b mut ValueSer<'a>,
        variant: &str,
        open: u8,
        close: &'static [u8],
    ) -> Result<Self, PayloadError> {
        ser.out.put_u8(b'{');
        ser.write_str(variant)?;
        ser.out.put_u8(b':');
        Ok(Compound::open(ser, &[open], close))
    }

    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.ser.out.put_u8(b',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.comma();
        value.serialize(&mut *self.ser)
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        if self.raw {
            return self.raw_field(value);
        }
        self.comma();
        self.ser.write_str(key)?;
        self.ser.out.put_u8(b':');
        value.serialize(&mut *self.ser)
    }

    /// Writes the text carried by serde_json's `RawValue`/`Number` struct (how an
    /// [`Args`](crate::Args) argument is relayed as it came).
    fn raw_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        value.serialize(Verbatim {
            out: &mut *self.ser.out,
        })
    }

    fn finish(self) -> Result<(), PayloadError> {
        self.ser.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl<'b, 'a> Serializer for &'b mut ValueSer<'a> {
    type Ok = ();
    type Error = PayloadError;
    type SerializeSeq = Compound<'b, 'a>;
    type SerializeTuple = Compound<'b, 'a>;
    type SerializeTupleStruct = Compound<'b, 'a>;
    type SerializeTupleVariant = Compound<'b, 'a>;
    type SerializeMap = Compound<'b, 'a>;
    type SerializeStruct = Compound<'b, 'a>;
    type SerializeStructVariant = Compound<'b, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), PayloadError> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), PayloadError> {
        Ok(self.json().serialize_i8(v)?)
    }

    fn serialize_i16(self, v: i16) -> Result<(), PayloadError> {
        Ok(self.json().serialize_i16(v)?)
    }

    fn serialize_i32(self, v: i32) -> Result<(), PayloadError> {
        Ok(self.json().serialize_i32(v)?)
    }

    fn serialize_i64(self, v: i64) -> Result<(), PayloadError> {
        Ok(self.json().serialize_i64(v)?)
    }

    fn serialize_i128(self, v: i128) -> Result<(), PayloadError> {
        Ok(self.json().serialize_i128(v)?)
    }

    fn serialize_u8(self, v: u8) -> Result<(), PayloadError> {
        Ok(self.json().serialize_u8(v)?)
    }

    fn serialize_u16(self, v: u16) -> Result<(), PayloadError> {
        Ok(self.json().serialize_u16(v)?)
    }

    fn serialize_u32(self, v: u32) -> Result<(), PayloadError> {
        Ok(self.json().serialize_u32(v)?)
    }

    fn serialize_u64(self, v: u64) -> Result<(), PayloadError> {
        Ok(self.json().serialize_u64(v)?)
    }

    fn serialize_u128(self, v: u128) -> Result<(), PayloadError> {
        Ok(self.json().serialize_u128(v)?)
    }

    fn serialize_f32(self, v: f32) -> Result<(), PayloadError> {
        Ok(self.json().serialize_f32(v)?)
    }

    fn serialize_f64(self, v: f64) -> Result<(), PayloadError> {
        Ok(self.json().serialize_f64(v)?)
    }

    fn serialize_char(self, v: char) -> Result<(), PayloadError> {
        self.write_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), PayloadError> {
        self.write_str(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), PayloadError> {
        let num = self.attachments.len() as u64;
        self.attachments.push(Bytes::copy_from_slice(v));
        self.out
            .extend_from_slice(b"{\"_placeholder\":true,\"num\":");
        self.json().serialize_u64(num)?;
        self.out.put_u8(b'}');
        Ok(())
    }

    fn serialize_none(self) -> Result<(), PayloadError> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), PayloadError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), PayloadError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), PayloadError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), PayloadError> {
        self.write_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        self.out.put_u8(b'{');
        self.write_str(variant)?;
        self.out.put_u8(b':');
        value.serialize(&mut *self)?;
        self.out.put_u8(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'b, 'a>, PayloadError> {
        Ok(Compound::open(self, b"[", b"]"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Compound<'b, 'a>, PayloadError> {
        Ok(Compound::open(self, b"[", b"]"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'b, 'a>, PayloadError> {
        Ok(Compound::open(self, b"[", b"]"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'b, 'a>, PayloadError> {
        Compound::open_variant(self, variant, b'[', b"]}")
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'b, 'a>, PayloadError> {
        Ok(Compound::open(self, b"{", b"}"))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Compound<'b, 'a>, PayloadError> {
        if name == RAW_VALUE_TOKEN || name == RAW_NUMBER_TOKEN {
            let mut raw = Compound::open(self, b"", b"");
            raw.raw = true;
            return Ok(raw);
        }
        Ok(Compound::open(self, b"{", b"}"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'b, 'a>, PayloadError> {
        Compound::open_variant(self, variant, b'{', b"}}")
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = PayloadError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.element(value)
    }

    fn end(self) -> Result<(), PayloadError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = PayloadError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.element(value)
    }

    fn end(self) -> Result<(), PayloadError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = PayloadError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.element(value)
    }

    fn end(self) -> Result<(), PayloadError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = PayloadError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.element(value)
    }

    fn end(self) -> Result<(), PayloadError> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = PayloadError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), PayloadError> {
        self.comma();
        key.serialize(MapKeySer {
            ser: &mut *self.ser,
        })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.ser.out.put_u8(b':');
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), PayloadError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = PayloadError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), PayloadError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = PayloadError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), PayloadError> {
        self.finish()
    }
}

fn invalid_raw_value() -> PayloadError {
    PayloadError::message("invalid raw JSON value")
}

/// Writes the one string it is given as it is: the JSON text inside serde_json's raw-JSON
/// carrier. Anything else is an error.
struct Verbatim<'b> {
    out: &'b mut BytesMut,
}

/// Generates [`Verbatim`] methods that refuse their value.
macro_rules! not_raw {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        fn $method(self, $(_: $ty),*) -> Result<$ret, PayloadError> {
            Err(invalid_raw_value())
        }
    )*};
}

impl Serializer for Verbatim<'_> {
    type Ok = ();
    type Error = PayloadError;
    type SerializeSeq = Impossible<(), PayloadError>;
    type SerializeTuple = Impossible<(), PayloadError>;
    type SerializeTupleStruct = Impossible<(), PayloadError>;
    type SerializeTupleVariant = Impossible<(), PayloadError>;
    type SerializeMap = Impossible<(), PayloadError>;
    type SerializeStruct = Impossible<(), PayloadError>;
    type SerializeStructVariant = Impossible<(), PayloadError>;

    fn serialize_str(self, v: &str) -> Result<(), PayloadError> {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    not_raw! {
        serialize_bool(v: bool) -> ();
        serialize_i8(v: i8) -> ();
        serialize_i16(v: i16) -> ();
        serialize_i32(v: i32) -> ();
        serialize_i64(v: i64) -> ();
        serialize_u8(v: u8) -> ();
        serialize_u16(v: u16) -> ();
        serialize_u32(v: u32) -> ();
        serialize_u64(v: u64) -> ();
        serialize_f32(v: f32) -> ();
        serialize_f64(v: f64) -> ();
        serialize_char(v: char) -> ();
        serialize_bytes(v: &[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(name: &'static str) -> ();
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> ();
        serialize_seq(len: Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(len: usize) -> Self::SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(
            name: &'static str,
            index: u32,
            variant: &'static str,
            len: usize
        ) -> Self::SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> Self::SerializeMap;
        serialize_struct(name: &'static str, len: usize) -> Self::SerializeStruct;
        serialize_struct_variant(
            name: &'static str,
            index: u32,
            variant: &'static str,
            len: usize
        ) -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), PayloadError> {
        Err(invalid_raw_value())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), PayloadError> {
        Err(invalid_raw_value())
    }
}

fn key_must_be_a_string() -> PayloadError {
    PayloadError::message("key must be a string")
}

/// Writes map keys the way serde_json does: strings as they are, numbers,
/// booleans and unit variants as strings, anything else is an error.
struct MapKeySer<'b, 'a> {
    ser: &'b mut ValueSer<'a>,
}

impl MapKeySer<'_, '_> {
    fn quoted(
        self,
        write: impl FnOnce(
            &mut serde_json::Serializer<Writer<&mut BytesMut>>,
        ) -> Result<(), serde_json::Error>,
    ) -> Result<(), PayloadError> {
        self.ser.out.put_u8(b'"');
        write(&mut self.ser.json())?;
        self.ser.out.put_u8(b'"');
        Ok(())
    }
}

impl Serializer for MapKeySer<'_, '_> {
    type Ok = ();
    type Error = PayloadError;
    type SerializeSeq = Impossible<(), PayloadError>;
    type SerializeTuple = Impossible<(), PayloadError>;
    type SerializeTupleStruct = Impossible<(), PayloadError>;
    type SerializeTupleVariant = Impossible<(), PayloadError>;
    type SerializeMap = Impossible<(), PayloadError>;
    type SerializeStruct = Impossible<(), PayloadError>;
    type SerializeStructVariant = Impossible<(), PayloadError>;

    fn serialize_bool(self, v: bool) -> Result<(), PayloadError> {
        self.ser
            .out
            .extend_from_slice(if v { b"\"true\"" } else { b"\"false\"" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_i8(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_i16(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_i32(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_i64(v))
    }

    fn serialize_i128(self, v: i128) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_i128(v))
    }

    fn serialize_u8(self, v: u8) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_u8(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_u16(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_u32(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_u64(v))
    }

    fn serialize_u128(self, v: u128) -> Result<(), PayloadError> {
        self.quoted(|j| j.serialize_u128(v))
    }

    fn serialize_f32(self, v: f32) -> Result<(), PayloadError> {
        if !v.is_finite() {
            return Err(PayloadError::message(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        self.quoted(|j| j.serialize_f32(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), PayloadError> {
        if !v.is_finite() {
            return Err(PayloadError::message(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        self.quoted(|j| j.serialize_f64(v))
    }

    fn serialize_char(self, v: char) -> Result<(), PayloadError> {
        self.ser.write_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), PayloadError> {
        self.ser.write_str(v)
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<(), PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), PayloadError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), PayloadError> {
        self.ser.write_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, PayloadError> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, PayloadError> {
        Err(key_must_be_a_string())
    }
}

/// Serializer for the top-level argument value: a tuple spreads into several
/// array elements, `()` adds nothing, anything else is one element.
struct ArgsSer<'b, 'a> {
    ser: &'b mut ValueSer<'a>,
    /// Whether an element has already been written (so a comma is needed).
    comma: bool,
    /// Whether a unit value is no argument (the value is `()`, zero-sized) rather than one
    /// `null` (`serde_json::Value::Null`).
    unit_is_empty: bool,
}

impl ArgsSer<'_, '_> {
    fn separate(&mut self) {
        if self.comma {
            self.ser.out.put_u8(b',');
        }
    }
}

/// Forwards a one-argument method of [`ArgsSer`] to [`ValueSer`].
macro_rules! single_arg {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        fn $method(mut self, $($arg: $ty),*) -> Result<$ret, PayloadError> {
            self.separate();
            self.ser.$method($($arg),*)
        }
    )*};
}

impl<'b, 'a> Serializer for ArgsSer<'b, 'a> {
    type Ok = ();
    type Error = PayloadError;
    type SerializeSeq = Compound<'b, 'a>;
    type SerializeTuple = ArgsTuple<'b, 'a>;
    type SerializeTupleStruct = Compound<'b, 'a>;
    type SerializeTupleVariant = Compound<'b, 'a>;
    type SerializeMap = Compound<'b, 'a>;
    type SerializeStruct = Compound<'b, 'a>;
    type SerializeStructVariant = Compound<'b, 'a>;

    single_arg! {
        serialize_bool(v: bool) -> ();
        serialize_i8(v: i8) -> ();
        serialize_i16(v: i16) -> ();
        serialize_i32(v: i32) -> ();
        serialize_i64(v: i64) -> ();
        serialize_i128(v: i128) -> ();
        serialize_u8(v: u8) -> ();
        serialize_u16(v: u16) -> ();
        serialize_u32(v: u32) -> ();
        serialize_u64(v: u64) -> ();
        serialize_u128(v: u128) -> ();
        serialize_f32(v: f32) -> ();
        serialize_f64(v: f64) -> ();
        serialize_char(v: char) -> ();
        serialize_str(v: &str) -> ();
        serialize_bytes(v: &[u8]) -> ();
        serialize_none() -> ();
        serialize_unit_struct(name: &'static str) -> ();
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> ();
        serialize_seq(len: Option<usize>) -> Compound<'b, 'a>;
        serialize_tuple_struct(name: &'static str, len: usize) -> Compound<'b, 'a>;
        serialize_tuple_variant(
            name: &'static str,
            index: u32,
            variant: &'static str,
            len: usize
        ) -> Compound<'b, 'a>;
        serialize_map(len: Option<usize>) -> Compound<'b, 'a>;
        serialize_struct(name: &'static str, len: usize) -> Compound<'b, 'a>;
        serialize_struct_variant(
            name: &'static str,
            index: u32,
            variant: &'static str,
            len: usize
        ) -> Compound<'b, 'a>;
    }

    fn serialize_some<T: Serialize + ?Sized>(mut self, value: &T) -> Result<(), PayloadError> {
        self.separate();
        value.serialize(self.ser)
    }

    fn serialize_unit(mut self) -> Result<(), PayloadError> {
        if self.unit_is_empty {
            return Ok(());
        }
        self.separate();
        self.ser.serialize_unit()
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), PayloadError> {
        self.separate();
        self.ser
            .serialize_newtype_variant(name, index, variant, value)
    }

    fn serialize_tuple(self, _len: usize) -> Result<ArgsTuple<'b, 'a>, PayloadError> {
        Ok(ArgsTuple {
            ser: self.ser,
            comma: self.comma,
        })
    }
}

/// A top-level tuple: each element is a separate argument.
struct ArgsTuple<'b, 'a> {
    ser: &'b mut ValueSer<'a>,
    comma: bool,
}

impl ser::SerializeTuple for ArgsTuple<'_, '_> {
    type Ok = ();
    type Error = PayloadError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        if self.comma {
            self.ser.out.put_u8(b',');
        }
        self.comma = true;
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), PayloadError> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Deserialisation
// ---------------------------------------------------------------------------

/// Deserialises handler arguments from a payload, the way a JavaScript function
/// takes its parameters.
///
/// `json` is the payload array text (e.g. `["chat",1,"a"]`), `skip` the
/// number of leading elements to skip (1 for an event's name, 0 for an
/// acknowledgement) and `attachments` the binary parts of the packet.
///
/// How `T` takes the arguments:
///
/// * A tuple `(A, B, ..)` (and a fixed-size array, which serde reads as a
///   tuple) is the parameter list: its elements are the arguments in order,
///   mirroring how [`to_payload`] spreads a tuple. A missing argument is
///   `None` for an `Option` (`Null` for a `serde_json::Value`), an error for
///   anything else.
/// * [`Args`](crate::Args) is every argument, exactly as it came.
/// * `()` (and a unit struct) takes no argument.
/// * `Option<T>` is the first argument, `None` when it is missing or `null`
///   (an `Option` of a tuple is not a parameter list: use a tuple of `Option`s).
/// * A sequence (`Vec<T>`) or a self-describing target (`serde_json::Value`)
///   is the argument when there is exactly one, else the array of all of them.
/// * Anything else (string, number, bool, struct, map, enum, tuple struct,
///   bytes) is the first argument; with no argument it is an error.
///
/// Arguments beyond those `T` takes are ignored, as JavaScript ignores extra
/// arguments: a `String` target of `["ev","a","b"]` is `"a"`, an `(i64, i64)`
/// target of three numbers gets the first two.
///
/// A binary placeholder becomes the attachment's bytes (through
/// `visit_bytes`) where the target asks for bytes (`Bytes`, `serde_bytes`-like
/// types), for a sequence (`Vec<u8>`), or for any type (`deserialize_any`,
/// e.g. untagged enums); a `serde_json::Value` target keeps the placeholder
/// object as it is. A placeholder whose `num` is missing or out of range is
/// an error.
pub fn from_payload<T: DeserializeOwned>(
    json: &[u8],
    skip: usize,
    attachments: &[Bytes],
) -> Result<T, PayloadError> {
    let Some(count) = count_elements(json) else {
        return Err(not_an_array(json));
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = de.deserialize_seq(PayloadVisitor {
        skip,
        args: count.saturating_sub(skip),
        att: attachments,
        marker: PhantomData::<T>,
    })?;
    de.end()?;
    Ok(value)
}

/// The arguments of a payload (after skipping `skip` leading elements) as JSON
/// values, binary placeholders left as they are.
pub fn args_as_values(json: &[u8], skip: usize) -> Result<Vec<Value>, PayloadError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let values = de.deserialize_seq(ValuesVisitor { skip })?;
    de.end()?;
    Ok(values)
}

/// The error for a payload that [`count_elements`] could not read.
fn not_an_array(json: &[u8]) -> PayloadError {
    match serde_json::from_slice::<IgnoredAny>(json) {
        Err(err) => err.into(),
        Ok(_) => PayloadError::message("payload is not a JSON array"),
    }
}

/// Counts the elements of the top-level JSON array without parsing them.
///
/// Exact for valid JSON; on invalid input the result does not matter because
/// the real parse that follows reports the error. `None` if the text does not
/// start like an array or ends before it closes.
fn count_elements(json: &[u8]) -> Option<usize> {
    let mut i = json.iter().position(|b| !b.is_ascii_whitespace())?;
    if json[i] != b'[' {
        return None;
    }
    i += 1;
    let mut depth = 0usize;
    let mut commas = 0usize;
    let mut empty = true;
    while let Some(&b) = json.get(i) {
        match b {
            b'"' => {
                empty = false;
                i += 1;
                loop {
                    i = find_quote_or_backslash(json, i)?;
                    if json[i] == b'"' {
                        break;
                    }
                    i += 2;
                }
            }
            b'[' | b'{' => {
                empty = false;
                depth += 1;
            }
            b']' | b'}' if depth == 0 => {
                return Some(if empty { 0 } else { commas + 1 });
            }
            b']' | b'}' => depth -= 1,
            b',' if depth == 0 => commas += 1,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => empty = false,
        }
        i += 1;
    }
    None
}

/// Index of the first `"` or `\\` in `json` at or after `i`, looking at eight
/// bytes at a time.
fn find_quote_or_backslash(json: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    while let Some(chunk) = json.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let q = word ^ QUOTES;
        let b = word ^ BACKSLASHES;
        // The lowest set high bit marks the first byte that is zero in `q` or `b`.
        let found = ((q.wrapping_sub(ONES) & !q) | (b.wrapping_sub(ONES) & !b)) & HIGHS;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = json.get(i..)?;
    rest.iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| i + p)
}

/// Visits the payload array: skips the leading elements, then hands the
/// arguments to `T`.
struct PayloadVisitor<'a, T> {
    skip: usize,
    /// Number of arguments after the skipped elements.
    args: usize,
    att: &'a [Bytes],
    marker: PhantomData<T>,
}

impl<'de, T: de::Deserialize<'de>> Visitor<'de> for PayloadVisitor<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a payload array with at least {} element(s)", self.skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        for i in 0..self.skip {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::invalid_length(i, &self));
            }
        }
        T::deserialize(ArgList {
            seq: &mut seq,
            count: self.args,
            att: self.att,
        })
    }
}

/// Visitor of [`args_as_values`].
struct ValuesVisitor {
    skip: usize,
}

impl<'de> Visitor<'de> for ValuesVisitor {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a payload array with at least {} element(s)", self.skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        for i in 0..self.skip {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::invalid_length(i, &self));
            }
        }
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(values)
    }
}

/// Name of the newtype struct through which [`Args`](crate::Args) asks for every
/// argument, whatever their number.
pub(crate) const ARGS_TOKEN: &str = "$sio::Args";

/// The error for an argument the target needs and the payload lacks (1-based).
fn missing_argument<E: de::Error>(number: usize) -> E {
    E::custom(format_args!("missing argument {number}"))
}

/// Skips up to `n` elements.
fn skip_elements<'de, A: SeqAccess<'de>>(seq: &mut A, n: usize) -> Result<(), A::Error> {
    for _ in 0..n {
        if seq.next_element::<IgnoredAny>()?.is_none() {
            break;
        }
    }
    Ok(())
}

/// The arguments of a payload as a deserializer: decides, from what the target
/// asks for, whether it takes the first argument, the list, or no argument
/// (see [`from_payload`]), and always consumes every argument.
struct ArgList<'a, A> {
    seq: A,
    /// Number of arguments.
    count: usize,
    att: &'a [Bytes],
}

impl<'de, A: SeqAccess<'de>> ArgList<'_, A> {
    /// The first argument, read with `hint`; the others are skipped.
    fn first<V: Visitor<'de>>(mut self, hint: Hint, visitor: V) -> Result<V::Value, A::Error> {
        if self.count == 0 {
            return Err(missing_argument(1));
        }
        let value = self
            .seq
            .next_element_seed(HintSeed {
                hint,
                visitor,
                att: self.att,
            })?
            .ok_or_else(|| missing_argument(1))?;
        skip_elements(&mut self.seq, self.count - 1)?;
        Ok(value)
    }

    /// The arguments as a sequence: all of them (`want` is `None`), or exactly
    /// `want` (missing ones are absent values, extra ones skipped).
    fn list<V: Visitor<'de>>(self, want: Option<usize>, visitor: V) -> Result<V::Value, A::Error> {
        let mut list = ListAccess {
            seq: self.seq,
            left: self.count,
            want,
            number: 0,
            att: self.att,
        };
        let value = visitor.visit_seq(&mut list)?;
        skip_elements(&mut list.seq, list.left)?;
        Ok(value)
    }

    /// No argument taken: every one is skipped.
    fn none<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, A::Error> {
        skip_elements(&mut self.seq, self.count)?;
        visitor.visit_unit()
    }
}

/// Generates the [`ArgList`] methods that read the first argument with a [`Hint`].
macro_rules! first_arg {
    ($($method:ident($($arg:ident: $ty:ty),*) => $hint:expr;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V)
            -> Result<V::Value, A::Error>
        {
            self.first($hint, visitor)
        }
    )*};
}

impl<'de, A: SeqAccess<'de>> Deserializer<'de> for ArgList<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        if self.count == 1 {
            self.first(Hint::Any, visitor)
        } else {
            self.list(None, visitor)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        if self.count == 1 {
            self.first(Hint::Seq, visitor)
        } else {
            self.list(None, visitor)
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.list(Some(len), visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        if self.count == 0 {
            visitor.visit_none()
        } else {
            self.first(Hint::Option, visitor)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        self.none(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.none(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        self.none(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        if name == ARGS_TOKEN {
            self.list(None, visitor)
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    first_arg! {
        deserialize_bool() => Hint::Bool;
        deserialize_i8() => Hint::I8;
        deserialize_i16() => Hint::I16;
        deserialize_i32() => Hint::I32;
        deserialize_i64() => Hint::I64;
        deserialize_i128() => Hint::I128;
        deserialize_u8() => Hint::U8;
        deserialize_u16() => Hint::U16;
        deserialize_u32() => Hint::U32;
        deserialize_u64() => Hint::U64;
        deserialize_u128() => Hint::U128;
        deserialize_f32() => Hint::F32;
        deserialize_f64() => Hint::F64;
        deserialize_char() => Hint::Char;
        deserialize_str() => Hint::Str;
        deserialize_string() => Hint::String;
        deserialize_bytes() => Hint::Bytes;
        deserialize_byte_buf() => Hint::ByteBuf;
        deserialize_tuple_struct(name: &'static str, len: usize) => Hint::TupleStruct(name, len);
        deserialize_map() => Hint::Map;
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
            => Hint::Struct(name, fields);
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
            => Hint::Enum(name, variants);
        deserialize_identifier() => Hint::Identifier;
    }
}

/// The arguments seen as a sequence, each through a [`Wrap`].
struct ListAccess<'a, A> {
    seq: A,
    /// Arguments not read yet.
    left: usize,
    /// Elements the target still takes, when it takes a fixed number (a tuple).
    want: Option<usize>,
    /// 1-based number of the last element handed out.
    number: usize,
    att: &'a [Bytes],
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for ListAccess<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        match self.want {
            Some(0) => return Ok(None),
            Some(n) => self.want = Some(n - 1),
            None if self.left == 0 => return Ok(None),
            None => {}
        }
        self.number += 1;
        if self.left == 0 {
            return seed
                .deserialize(Missing {
                    number: self.number,
                    marker: PhantomData,
                })
                .map(Some);
        }
        self.left -= 1;
        self.seq.next_element_seed(WrapSeed {
            seed,
            att: self.att,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.want.unwrap_or(self.left))
    }
}

/// An argument the payload does not have (JavaScript's `undefined`): `None` for
/// an `Option`, unit for `()` and for self-describing targets (`Value::Null`),
/// an error for anything else.
pub(crate) struct Missing<E> {
    /// 1-based number of the argument, for the error message.
    pub(crate) number: usize,
    pub(crate) marker: PhantomData<E>,
}

/// Generates the [`Missing`] methods that fail.
macro_rules! missing_fails {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $(_: $ty,)* _visitor: V) -> Result<V::Value, E> {
            Err(missing_argument(self.number))
        }
    )*};
}

impl<'de, E: de::Error> Deserializer<'de> for Missing<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_none()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    missing_fails! {
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }
}

/// Which `deserialize_*` method to call on an argument.
#[derive(Clone, Copy)]
enum Hint {
    Any,
    Bool,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Char,
    Str,
    String,
    Bytes,
    ByteBuf,
    Option,
    Seq,
    TupleStruct(&'static str, usize),
    Map,
    Struct(&'static str, &'static [&'static str]),
    Enum(&'static str, &'static [&'static str]),
    Identifier,
}

/// Deserialises the next element with the `deserialize_*` method named by
/// `hint`, through a [`Wrap`].
struct HintSeed<'a, V> {
    hint: Hint,
    visitor: V,
    att: &'a [Bytes],
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for HintSeed<'_, V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        let de = Wrap { de, att: self.att };
        let v = self.visitor;
        match self.hint {
            Hint::Any => de.deserialize_any(v),
            Hint::Bool => de.deserialize_bool(v),
            Hint::I8 => de.deserialize_i8(v),
            Hint::I16 => de.deserialize_i16(v),
            Hint::I32 => de.deserialize_i32(v),
            Hint::I64 => de.deserialize_i64(v),
            Hint::I128 => de.deserialize_i128(v),
            Hint::U8 => de.deserialize_u8(v),
            Hint::U16 => de.deserialize_u16(v),
            Hint::U32 => de.deserialize_u32(v),
            Hint::U64 => de.deserialize_u64(v),
            Hint::U128 => de.deserialize_u128(v),
            Hint::F32 => de.deserialize_f32(v),
            Hint::F64 => de.deserialize_f64(v),
            Hint::Char => de.deserialize_char(v),
            Hint::Str => de.deserialize_str(v),
            Hint::String => de.deserialize_string(v),
            Hint::Bytes => de.deserialize_bytes(v),
            Hint::ByteBuf => de.deserialize_byte_buf(v),
            Hint::Option => de.deserialize_option(v),
            Hint::Seq => de.deserialize_seq(v),
            Hint::TupleStruct(name, len) => de.deserialize_tuple_struct(name, len, v),
            Hint::Map => de.deserialize_map(v),
            Hint::Struct(name, fields) => de.deserialize_struct(name, fields, v),
            Hint::Enum(name, variants) => de.deserialize_enum(name, variants, v),
            Hint::Identifier => de.deserialize_identifier(v),
        }
    }
}

/// What the target asked for, which decides how a placeholder object is
/// delivered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A specific non-binary type: objects pass through untouched.
    Plain,
    /// `deserialize_any`: a placeholder becomes bytes (unless the target is
    /// `serde_json::Value`).
    Any,
    /// `deserialize_bytes`/`deserialize_byte_buf`: a placeholder becomes bytes,
    /// a string its UTF-8 bytes.
    Bytes,
    /// `deserialize_seq`: a placeholder becomes a sequence of `u8`.
    Seq,
}

/// A deserializer that intercepts binary placeholders at any depth of the
/// wrapped deserializer.
struct Wrap<'a, D> {
    de: D,
    att: &'a [Bytes],
}

impl<'a, D> Wrap<'a, D> {
    fn visitor<V>(&self, visitor: V, mode: Mode) -> WrapVisitor<'a, V> {
        WrapVisitor {
            visitor,
            att: self.att,
            mode,
        }
    }
}

/// Generates the [`Wrap`] methods that forward to the same method with a
/// plain [`WrapVisitor`].
macro_rules! wrap_plain {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V)
            -> Result<V::Value, D::Error>
        {
            let visitor = self.visitor(visitor, Mode::Plain);
            self.de.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Wrap<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.visitor(visitor, Mode::Any);
        self.de.deserialize_any(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.visitor(visitor, Mode::Bytes);
        self.de.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.visitor(visitor, Mode::Bytes);
        self.de.deserialize_any(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.visitor(visitor, Mode::Seq);
        self.de.deserialize_any(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }

    wrap_plain! {
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }
}

/// Seed wrapper: deserialises through a [`Wrap`].
struct WrapSeed<'a, S> {
    seed: S,
    att: &'a [Bytes],
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for WrapSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Wrap { de, att: self.att })
    }
}

/// Visitor wrapper: keeps wrapping nested values, and recognises placeholder
/// objects according to its [`Mode`].
struct WrapVisitor<'a, V> {
    visitor: V,
    att: &'a [Bytes],
    mode: Mode,
}

/// Generates [`WrapVisitor`] methods forwarded unchanged.
macro_rules! visit_forward {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.visitor.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for WrapVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    visit_forward! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        if self.mode == Mode::Bytes {
            self.visitor.visit_bytes(v.as_bytes())
        } else {
            self.visitor.visit_str(v)
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        if self.mode == Mode::Bytes {
            self.visitor.visit_borrowed_bytes(v.as_bytes())
        } else {
            self.visitor.visit_borrowed_str(v)
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        if self.mode == Mode::Bytes {
            self.visitor.visit_byte_buf(v.into_bytes())
        } else {
            self.visitor.visit_string(v)
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Wrap { de, att: self.att })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor
            .visit_newtype_struct(Wrap { de, att: self.att })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(WrapSeq { seq, att: self.att })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        if self.mode == Mode::Plain {
            self.visitor.visit_map(WrapMap {
                first: None,
                map,
                att: self.att,
            })
        } else {
            self.visit_maybe_placeholder(map)
        }
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(WrapEnum {
            data,
            att: self.att,
        })
    }
}

impl<'de, V: Visitor<'de>> WrapVisitor<'_, V> {
    /// Delivers an object that may be a binary placeholder.
    fn visit_maybe_placeholder<A: MapAccess<'de>>(self, mut map: A) -> Result<V::Value, A::Error> {
        let att = self.att;
        let Some(first) = map.next_key::<Key<'de>>()? else {
            return self.visitor.visit_map(WrapMap {
                first: None,
                map,
                att,
            });
        };
        // For `deserialize_any` targets (which may well want the object),
        // stream the object unless it starts like a placeholder.
        if self.mode == Mode::Any && first.0 != PLACEHOLDER_KEY && first.0 != NUM_KEY {
            return self.visitor.visit_map(WrapMap {
                first: Some(first),
                map,
                att,
            });
        }
        let mut entries = Vec::with_capacity(2);
        let value = map.next_value::<Value>()?;
        entries.push((first, value));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value = map.next_value::<Value>()?;
            entries.push((key, value));
        }
        let Some(num) = placeholder_num(&entries) else {
            return self.visitor.visit_map(Replay::new(entries, att));
        };
        if self.mode == Mode::Any && expects_json_value(&self.visitor) {
            return self.visitor.visit_map(Replay::new(entries, att));
        }
        let bytes = attachment(num, att).map_err(de::Error::custom)?;
        if self.mode == Mode::Seq {
            self.visitor
                .visit_seq(SeqDeserializer::<_, A::Error>::new(bytes.iter().copied()))
        } else {
            self.visitor.visit_bytes(bytes)
        }
    }
}

/// If `entries` form a placeholder object (`"_placeholder": true`), its `num`
/// (`None` inside when missing or not an unsigned integer).
fn placeholder_num(entries: &[(Key<'_>, Value)]) -> Option<Option<u64>> {
    let is_placeholder = entries
        .iter()
        .any(|(k, v)| k.0 == PLACEHOLDER_KEY && *v == Value::Bool(true));
    if !is_placeholder {
        return None;
    }
    Some(
        entries
            .iter()
            .find(|(k, _)| k.0 == NUM_KEY)
            .and_then(|(_, v)| v.as_u64()),
    )
}

/// The attachment a placeholder refers to.
fn attachment(num: Option<u64>, att: &[Bytes]) -> Result<&Bytes, String> {
    let Some(num) = num else {
        return Err("binary placeholder without a valid `num`".to_owned());
    };
    usize::try_from(num)
        .ok()
        .and_then(|i| att.get(i))
        .ok_or_else(|| {
            format!(
                "binary placeholder refers to attachment {num}, but the packet has {} attachment(s)",
                att.len()
            )
        })
}

/// Whether the visitor is `serde_json::Value`'s, which cannot hold bytes: it
/// gets placeholder objects as they are.
fn expects_json_value<'de, V: Visitor<'de>>(visitor: &V) -> bool {
    struct Expecting<'v, V>(&'v V);

    impl<'de, V: Visitor<'de>> Display for Expecting<'_, V> {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            self.0.expecting(f)
        }
    }

    Expecting(visitor).to_string() == JSON_VALUE_EXPECTING
}

/// An object key, borrowed from the input when possible.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }

        de.deserialize_str(KeyVisitor)
    }
}

/// Hands a buffered key to a key seed.
fn replay_key<'de, S: DeserializeSeed<'de>, E: de::Error>(
    seed: S,
    key: Key<'de>,
) -> Result<S::Value, E> {
    match key.0 {
        Cow::Borrowed(s) => seed.deserialize(BorrowedStrDeserializer::<E>::new(s)),
        Cow::Owned(s) => seed.deserialize(StringDeserializer::<E>::new(s)),
    }
}

/// Map access wrapper: values are wrapped; an already-read first key can be
/// put back in front.
struct WrapMap<'a, 'de, A> {
    first: Option<Key<'de>>,
    map: A,
    att: &'a [Bytes],
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WrapMap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(key) => replay_key(seed, key).map(Some),
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(WrapSeed {
            seed,
            att: self.att,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map
            .size_hint()
            .map(|n| n + usize::from(self.first.is_some()))
    }
}

/// Map access over an object that was buffered to check for a placeholder.
struct Replay<'a, 'de, E> {
    entries: std::vec::IntoIter<(Key<'de>, Value)>,
    value: Option<Value>,
    att: &'a [Bytes],
    marker: PhantomData<E>,
}

impl<'a, 'de, E> Replay<'a, 'de, E> {
    fn new(entries: Vec<(Key<'de>, Value)>, att: &'a [Bytes]) -> Self {
        Replay {
            entries: entries.into_iter(),
            value: None,
            att,
            marker: PhantomData,
        }
    }
}

impl<'de, E: de::Error> MapAccess<'de> for Replay<'_, 'de, E> {
    type Error = E;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, E> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                replay_key(seed, key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, E> {
        let value = self
            .value
            .take()
            .ok_or_else(|| E::custom("map value requested before its key"))?;
        seed.deserialize(Wrap {
            de: value,
            att: self.att,
        })
        .map_err(E::custom)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Sequence access wrapper: elements are wrapped.
struct WrapSeq<'a, A> {
    seq: A,
    att: &'a [Bytes],
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for WrapSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.seq.next_element_seed(WrapSeed {
            seed,
            att: self.att,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// Enum access wrapper: variant contents are wrapped.
struct WrapEnum<'a, A> {
    data: A,
    att: &'a [Bytes],
}

impl<'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for WrapEnum<'a, A> {
    type Error = A::Error;
    type Variant = WrapVariant<'a, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.data.variant_seed(seed)?;
        Ok((
            value,
            WrapVariant {
                variant,
                att: self.att,
            },
        ))
    }
}

/// Variant access wrapper.
struct WrapVariant<'a, A> {
    variant: A,
    att: &'a [Bytes],
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for WrapVariant<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.variant.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.variant.newtype_variant_seed(WrapSeed {
            seed,
            att: self.att,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.variant.tuple_variant(
            len,
            WrapVisitor {
                visitor,
                att: self.att,
                mode: Mode::Plain,
            },
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.variant.struct_variant(
            fields,
            WrapVisitor {
                visitor,
                att: self.att,
                mode: Mode::Plain,
            },
        )
    }
}

// ---------------------------------------------------------------------------
// Single arguments, transcoding (used by `Args`)
// ---------------------------------------------------------------------------

/// Serialises one value as JSON text appended to `out`, bytes becoming
/// placeholders numbered after the attachments already in `attachments`.
pub(crate) fn write_value<T: Serialize + ?Sized>(
    out: &mut BytesMut,
    attachments: &mut Vec<Bytes>,
    value: &T,
) -> Result<(), PayloadError> {
    value.serialize(&mut ValueSer { out, attachments })
}

/// Deserialises `T` from the JSON text of one argument, with the same rules for
/// binary placeholders as [`from_payload`].
pub(crate) fn read_arg<T: DeserializeOwned>(
    json: &[u8],
    attachments: &[Bytes],
) -> Result<T, PayloadError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = T::deserialize(Wrap {
        de: &mut de,
        att: attachments,
    })?;
    de.end()?;
    Ok(value)
}

/// Deserialises `T` from an argument that is not there (argument `number`,
/// 1-based): `None`, `()`, `Null`, or an error.
pub(crate) fn read_missing<T: DeserializeOwned>(number: usize) -> Result<T, PayloadError> {
    T::deserialize(Missing::<PayloadError> {
        number,
        marker: PhantomData,
    })
}

/// The elements of a payload array after the first `skip`, each as its JSON
/// text: slices of `data`, not copies. The text is checked to be JSON.
pub(crate) fn split_payload(data: &Bytes, skip: usize) -> Result<Vec<Bytes>, PayloadError> {
    struct Elements<'a> {
        data: &'a Bytes,
        skip: usize,
    }

    impl<'de> Visitor<'de> for Elements<'_> {
        type Value = Vec<Bytes>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a payload array with at least {} element(s)", self.skip)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Bytes>, A::Error> {
            for i in 0..self.skip {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    return Err(de::Error::invalid_length(i, &self));
                }
            }
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(raw) = seq.next_element::<&'de serde_json::value::RawValue>()? {
                out.push(sub_bytes(self.data, raw.get().as_bytes()));
            }
            Ok(out)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(data);
    let elements = de.deserialize_seq(Elements { data, skip })?;
    de.end()?;
    Ok(elements)
}

/// `part` as a slice of `whole` when it lies inside it (no copy), else a copy.
fn sub_bytes(whole: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= whole.len() => whole.slice(start..end),
        _ => Bytes::copy_from_slice(part),
    }
}

/// Counts the binary placeholders in the JSON text of one argument, checking
/// that each names an attachment.
pub(crate) fn count_placeholders(
    json: &[u8],
    attachments: &[Bytes],
) -> Result<usize, PayloadError> {
    /// Walks a value; its result is the number of placeholders met.
    struct Counter;

    impl<'de> DeserializeSeed<'de> for Counter {
        type Value = usize;

        fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<usize, D::Error> {
            de.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Counter {
        type Value = usize;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value to look through")
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<usize, E> {
            Ok(0)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<usize, E> {
            Ok(0)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<usize, E> {
            Ok(0)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<usize, E> {
            Ok(0)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<usize, E> {
            Ok(0)
        }

        fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
            Ok(0)
        }

        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<usize, E> {
            Ok(1)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while let Some(m) = seq.next_element_seed(Counter)? {
                n += m;
            }
            Ok(n)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while map.next_key::<IgnoredAny>()?.is_some() {
                n += map.next_value_seed(Counter)?;
            }
            Ok(n)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(json);
    let n = Wrap {
        de: &mut de,
        att: attachments,
    }
    .deserialize_any(Counter)?;
    de.end()?;
    Ok(n)
}

/// Writes the JSON value a deserializer yields into `out` (streaming: object
/// keys keep their order), bytes (binary placeholders, under a [`Wrap`])
/// becoming placeholders numbered after the attachments already in
/// `attachments`.
pub(crate) fn capture<'de, D: Deserializer<'de>>(
    de: D,
    out: &mut BytesMut,
    attachments: &mut Vec<Bytes>,
) -> Result<(), D::Error> {
    de.deserialize_any(Transcoder(&mut ValueSer { out, attachments }))
}

/// The JSON text of one argument as a [`Serialize`] value: what it holds goes
/// to the serializer value by value (object keys in their order), binary
/// placeholders resolved in `attachments` as bytes.
pub(crate) struct Transcode<'a> {
    pub(crate) json: &'a [u8],
    pub(crate) attachments: &'a [Bytes],
}

impl Serialize for Transcode<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut de = serde_json::Deserializer::from_slice(self.json);
        let out = Wrap {
            de: &mut de,
            att: self.attachments,
        }
        .deserialize_any(Transcoder(s))
        .map_err(ser::Error::custom)?;
        de.end().map_err(ser::Error::custom)?;
        Ok(out)
    }
}

/// A visitor that hands every value it visits to a serializer.
struct Transcoder<S>(S);

/// Generates [`Transcoder`] methods for scalars.
macro_rules! transcode_scalar {
    ($($visit:ident($ty:ty) => $serialize:ident;)*) => {$(
        fn $visit<E: de::Error>(self, v: $ty) -> Result<S::Ok, E> {
            self.0.$serialize(v).map_err(E::custom)
        }
    )*};
}

impl<'de, S: Serializer> Visitor<'de> for Transcoder<S> {
    type Value = S::Ok;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value to pass on")
    }

    transcode_scalar! {
        visit_bool(bool) => serialize_bool;
        visit_i64(i64) => serialize_i64;
        visit_i128(i128) => serialize_i128;
        visit_u64(u64) => serialize_u64;
        visit_u128(u128) => serialize_u128;
        visit_f64(f64) => serialize_f64;
        visit_str(&str) => serialize_str;
        visit_bytes(&[u8]) => serialize_bytes;
    }

    fn visit_unit<E: de::Error>(self) -> Result<S::Ok, E> {
        self.0.serialize_unit().map_err(E::custom)
    }

    fn visit_none<E: de::Error>(self) -> Result<S::Ok, E> {
        self.0.serialize_none().map_err(E::custom)
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<S::Ok, D::Error> {
        de.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<S::Ok, D::Error> {
        de.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<S::Ok, A::Error> {
        use ser::SerializeSeq;
        let mut out = self
            .0
            .serialize_seq(seq.size_hint())
            .map_err(de::Error::custom)?;
        while seq.next_element_seed(TranscodeElement(&mut out))?.is_some() {}
        out.end().map_err(de::Error::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S::Ok, A::Error> {
        use ser::SerializeMap;
        let mut out = self
            .0
            .serialize_map(map.size_hint())
            .map_err(de::Error::custom)?;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            out.serialize_key(&*key.0).map_err(de::Error::custom)?;
            map.next_value_seed(TranscodeValue(&mut out))?;
        }
        out.end().map_err(de::Error::custom)
    }
}

/// Passes one array element on.
struct TranscodeElement<'o, O>(&'o mut O);

impl<'de, O: ser::SerializeSeq> DeserializeSeed<'de> for TranscodeElement<'_, O> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        self.0
            .serialize_element(&Deferred::new(de))
            .map_err(de::Error::custom)
    }
}

/// Passes one object value on.
struct TranscodeValue<'o, O>(&'o mut O);

impl<'de, O: ser::SerializeMap> DeserializeSeed<'de> for TranscodeValue<'_, O> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        self.0
            .serialize_value(&Deferred::new(de))
            .map_err(de::Error::custom)
    }
}

/// A deserializer waiting to be transcoded when its value is serialised (once).
struct Deferred<'de, D> {
    de: std::cell::Cell<Option<D>>,
    marker: PhantomData<&'de ()>,
}

impl<D> Deferred<'_, D> {
    fn new(de: D) -> Self {
        Deferred {
            de: std::cell::Cell::new(Some(de)),
            marker: PhantomData,
        }
    }
}

impl<'de, D: Deserializer<'de>> Serialize for Deferred<'de, D> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let de = self
            .de
            .take()
            .ok_or_else(|| ser::Error::custom("value already passed on"))?;
        de.deserialize_any(Transcoder(s))
            .map_err(ser::Error::custom)
    }
}

/// Decodes handler or ack arguments like [`from_payload`], except that an
/// [`Args`](crate::Args) target keeps slices of `data` (no copy, the JSON
/// text exactly as it came) instead of going through serde.
pub(crate) fn decode<T: DeserializeOwned + 'static>(
    data: &Bytes,
    skip: usize,
    attachments: &[Bytes],
) -> Result<T, PayloadError> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<crate::Args>() {
        let mut slot = Some(crate::Args::from_payload(data, skip, attachments)?);
        let any: &mut dyn std::any::Any = &mut slot;
        if let Some(value) = any.downcast_mut::<Option<T>>().and_then(Option::take) {
            return Ok(value);
        }
    }
    from_payload(data, skip, attachments)
}

/// Encodes an EVENT (or a BINARY_EVENT when the arguments hold `Bytes`) once, as Engine.IO
/// frames: `4`, the header, the JSON arguments written straight after it, and the
/// attachments. The rare binary case rewrites the header in front of the JSON, since it must
/// announce the attachment count.
pub fn encode_event<T: Serialize + ?Sized>(
    nsp: &sio_proto::socket::Nsp,
    event: &str,
    data: &T,
    id: Option<u64>,
) -> Result<sio_proto::socket::EncodedPacket, PayloadError> {
    use bytes::BufMut;
    use sio_proto::socket::packet::write_header;
    use sio_proto::socket::{EncodedPacket, PacketKind};
    let mut out = BytesMut::with_capacity(32 + event.len());
    out.put_u8(b'4');
    write_header(&mut out, PacketKind::Event, nsp, None, id);
    let header_len = out.len();
    let attachments = write_payload(&mut out, Some(event), data)?;
    if attachments.is_empty() {
        return Ok(EncodedPacket {
            text: out.freeze(),
            attachments,
        });
    }
    let json = out.split_off(header_len);
    let mut text = BytesMut::with_capacity(16 + json.len());
    text.put_u8(b'4');
    write_header(
        &mut text,
        PacketKind::BinaryEvent,
        nsp,
        Some(attachments.len()),
        id,
    );
    text.extend_from_slice(&json);
    Ok(EncodedPacket {
        text: text.freeze(),
        attachments,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    fn text(json: &Bytes) -> &str {
        std::str::from_utf8(json).unwrap()
    }

    /// `to_payload` text, asserting no attachments.
    fn plain<T: Serialize + ?Sized>(event: Option<&str>, args: &T) -> String {
        let (json, att) = to_payload(event, args).unwrap();
        assert!(att.is_empty());
        text(&json).to_owned()
    }

    fn b(s: &'static [u8]) -> Bytes {
        Bytes::from_static(s)
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Msg {
        text: String,
        n: u32,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct File {
        name: String,
        data: Bytes,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Upload {
        files: Vec<File>,
        thumb: Option<Bytes>,
        parts: BTreeMap<String, Bytes>,
        meta: Value,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Kind {
        Unit,
        Newtype(Bytes),
        Tuple(u8, Bytes),
        Struct { data: Bytes, tag: String },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Untagged {
        Bin { bin: Bytes },
        Text { text: String },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Wrapper(Bytes);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct UnitStruct;

    // ----- serialisation -----

    #[test]
    fn tuple_spreads() {
        assert_eq!(plain(Some("ev"), &("a", 1)), r#"["ev","a",1]"#);
        assert_eq!(plain(None, &("a", 1, true)), r#"["a",1,true]"#);
        assert_eq!(plain(Some("ev"), &(1,)), r#"["ev",1]"#);
        assert_eq!(plain(None, &(1,)), "[1]");
        assert_eq!(plain(Some("ev"), &&("x", [1, 2])), r#"["ev","x",[1,2]]"#);
        // Nested tuples are arrays.
        assert_eq!(plain(Some("ev"), &((1, 2), 3)), r#"["ev",[1,2],3]"#);
    }

    #[test]
    fn unit_is_no_argument() {
        assert_eq!(plain(Some("ev"), &()), r#"["ev"]"#);
        assert_eq!(plain(None, &()), "[]");
    }

    #[test]
    fn one_null_is_one_argument() {
        // `Value::Null` serialises as unit, like `()`, yet it is one argument.
        assert_eq!(plain(Some("x"), &Value::Null), r#"["x",null]"#);
        assert_eq!(plain(None, &Value::Null), "[null]");
        assert_eq!(plain(Some("x"), &&Value::Null), r#"["x",null]"#);
        assert_eq!(plain(Some("x"), &None::<Value>), r#"["x",null]"#);
        assert_eq!(plain(Some("x"), &Some(Value::Null)), r#"["x",null]"#);
        assert_eq!(plain(Some("x"), &UnitStruct), r#"["x",null]"#);
        assert_eq!(plain(Some("x"), &(Value::Null,)), r#"["x",null]"#);
        assert_eq!(plain(Some("x"), &((), 1)), r#"["x",null,1]"#);
        #[derive(Serialize)]
        struct Wrapped(Value);
        assert_eq!(plain(Some("x"), &Wrapped(Value::Null)), r#"["x",null]"#);
        // What is received as one `null` is sent again as one `null`.
        let v: Value = from_payload(br#"["x",null]"#, 1, &[]).unwrap();
        assert_eq!(plain(Some("x"), &v), r#"["x",null]"#);
        let encoded = encode_event(&sio_proto::socket::Nsp::ROOT, "x", &Value::Null, Some(3));
        assert_eq!(&encoded.unwrap().text[..], br#"423["x",null]"#);
        // An ack of `Value::Null` is one `null` argument, of `()` none.
        assert_eq!(plain(None, &Value::Null), "[null]");
        assert_eq!(plain(None, &()), "[]");
    }

    #[test]
    fn single_arguments() {
        let msg = Msg {
            text: "hi".into(),
            n: 3,
        };
        assert_eq!(plain(Some("ev"), &msg), r#"["ev",{"text":"hi","n":3}]"#);
        assert_eq!(plain(Some("ev"), "hello"), r#"["ev","hello"]"#);
        assert_eq!(plain(Some("ev"), &"hello".to_string()), r#"["ev","hello"]"#);
        assert_eq!(plain(Some("ev"), &42), r#"["ev",42]"#);
        assert_eq!(plain(Some("ev"), &vec![1, 2, 3]), r#"["ev",[1,2,3]]"#);
        assert_eq!(plain(None, &[1, 2][..]), "[[1,2]]");
        assert_eq!(plain(Some("ev"), &None::<u8>), r#"["ev",null]"#);
        assert_eq!(plain(Some("ev"), &Some((1, 2))), r#"["ev",[1,2]]"#);
        assert_eq!(plain(Some("ev"), &UnitStruct), r#"["ev",null]"#);
        assert_eq!(plain(Some("ev"), &json!({"a": [1]})), r#"["ev",{"a":[1]}]"#);
        assert_eq!(plain(Some("ev"), &json!([1, "x"])), r#"["ev",[1,"x"]]"#);
        let mut map = BTreeMap::new();
        map.insert("k", 1);
        assert_eq!(plain(Some("ev"), &map), r#"["ev",{"k":1}]"#);
    }

    #[test]
    fn top_level_bytes() {
        let (json, att) = to_payload(Some("ev"), &b(b"\x00\x01")).unwrap();
        assert_eq!(text(&json), r#"["ev",{"_placeholder":true,"num":0}]"#);
        assert_eq!(att, vec![b(b"\x00\x01")]);
        let (json, att) = to_payload(Some("ev"), &(b(b"a"), "x", b(b"b"))).unwrap();
        assert_eq!(
            text(&json),
            r#"["ev",{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]"#
        );
        assert_eq!(att, vec![b(b"a"), b(b"b")]);
        // A newtype around bytes is transparent.
        let (json, att) = to_payload(None, &Wrapper(b(b"zz"))).unwrap();
        assert_eq!(text(&json), r#"[{"_placeholder":true,"num":0}]"#);
        assert_eq!(att, vec![b(b"zz")]);
    }

    #[test]
    fn nested_bytes() {
        let file = File {
            name: "a.txt".into(),
            data: b(b"hello"),
        };
        let (json, att) = to_payload(Some("up"), &file).unwrap();
        assert_eq!(
            text(&json),
            r#"["up",{"name":"a.txt","data":{"_placeholder":true,"num":0}}]"#
        );
        assert_eq!(att, vec![b(b"hello")]);

        let (json, att) = to_payload(Some("up"), &vec![b(b"1"), b(b"22")]).unwrap();
        assert_eq!(
            text(&json),
            r#"["up",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]"#
        );
        assert_eq!(att, vec![b(b"1"), b(b"22")]);

        let (json, att) = to_payload(None, &(Some(b(b"o")), None::<Bytes>)).unwrap();
        assert_eq!(text(&json), r#"[{"_placeholder":true,"num":0},null]"#);
        assert_eq!(att, vec![b(b"o")]);

        let mut map = BTreeMap::new();
        map.insert("x", b(b"X"));
        map.insert("y", b(b"Y"));
        let (json, att) = to_payload(None, &map).unwrap();
        assert_eq!(
            text(&json),
            r#"[{"x":{"_placeholder":true,"num":0},"y":{"_placeholder":true,"num":1}}]"#
        );
        assert_eq!(att, vec![b(b"X"), b(b"Y")]);
    }

    #[test]
    fn attachments_numbered_in_order() {
        let upload = Upload {
            files: vec![
                File {
                    name: "a".into(),
                    data: b(b"A"),
                },
                File {
                    name: "b".into(),
                    data: b(b"B"),
                },
            ],
            thumb: Some(b(b"T")),
            parts: [("p".to_owned(), b(b"P"))].into_iter().collect(),
            meta: json!({"k": "v"}),
        };
        let (json, att) = to_payload(Some("ev"), &(b(b"first"), &upload, b(b"last"))).unwrap();
        assert_eq!(
            att,
            vec![b(b"first"), b(b"A"), b(b"B"), b(b"T"), b(b"P"), b(b"last")]
        );
        let values = args_as_values(&json, 1).unwrap();
        assert_eq!(values[0], json!({"_placeholder": true, "num": 0}));
        assert_eq!(values[1]["files"][1]["data"]["num"], json!(2));
        assert_eq!(values[1]["thumb"]["num"], json!(3));
        assert_eq!(values[1]["parts"]["p"]["num"], json!(4));
        assert_eq!(values[2]["num"], json!(5));
    }

    #[test]
    fn enum_variants_with_bytes() {
        let (json, att) = to_payload(
            None,
            &(
                Kind::Unit,
                Kind::Newtype(b(b"n")),
                Kind::Tuple(7, b(b"t")),
                Kind::Struct {
                    data: b(b"s"),
                    tag: "x".into(),
                },
            ),
        )
        .unwrap();
        assert_eq!(
            text(&json),
            concat!(
                r#"["Unit",{"Newtype":{"_placeholder":true,"num":0}},"#,
                r#"{"Tuple":[7,{"_placeholder":true,"num":1}]},"#,
                r#"{"Struct":{"data":{"_placeholder":true,"num":2},"tag":"x"}}]"#
            )
        );
        assert_eq!(att, vec![b(b"n"), b(b"t"), b(b"s")]);
    }

    const TRICKY: &[&str] = &[
        "",
        "plain",
        "quote \" and backslash \\ and slash /",
        "\u{0}\u{1}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{e}\u{1f} \u{7f}",
        "unicode é ü ß 日本語 😀 \u{2028}\u{2029} \u{fffd}",
        "</script><!-- & ' `",
        "{\"_placeholder\":true,\"num\":0}",
    ];

    #[test]
    fn escaping_matches_serde_json() {
        for s in TRICKY {
            let expected = format!("[{}]", serde_json::to_string(s).unwrap());
            assert_eq!(plain(None, s), expected, "string {s:?}");
            let expected = format!("[{},1]", serde_json::to_string(s).unwrap());
            assert_eq!(plain(Some(s), &1), expected, "event {s:?}");
            // As a map key and a char.
            let map: BTreeMap<&str, u8> = [(*s, 1)].into_iter().collect();
            let expected = format!("[{}]", serde_json::to_string(&map).unwrap());
            assert_eq!(plain(None, &map), expected, "key {s:?}");
            for c in s.chars() {
                let expected = format!("[{}]", serde_json::to_string(&c).unwrap());
                assert_eq!(plain(None, &c), expected, "char {c:?}");
            }
        }
    }

    #[derive(Serialize)]
    struct Everything {
        b: bool,
        i: (i8, i16, i32, i64, i128),
        u: (u8, u16, u32, u64, u128),
        f: (f32, f64, f64, f64, f64, f32),
        c: char,
        s: &'static str,
        o: (Option<u8>, Option<&'static str>),
        unit: (),
        unit_struct: UnitStruct,
        unit_variant: Kind,
        newtype: Newtype,
        tuple_struct: TupleStruct,
        seq: Vec<Vec<u8>>,
        empty_seq: Vec<u8>,
        empty_map: BTreeMap<String, u8>,
        int_keys: BTreeMap<i64, &'static str>,
        u128_keys: BTreeMap<u128, u8>,
        bool_keys: BTreeMap<bool, u8>,
        char_keys: BTreeMap<char, u8>,
        float_keys: Vec<(f64, u8)>,
        enum_keys: BTreeMap<Key2, u8>,
        newtype_keys: BTreeMap<Newtype, u8>,
        variants: Vec<Variants>,
        #[serde(flatten)]
        flattened: BTreeMap<String, Value>,
        value: Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
    }

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    struct Newtype(u32);

    #[derive(Serialize)]
    struct TupleStruct(u8, &'static str);

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum Key2 {
        A,
        B,
    }

    #[derive(Serialize)]
    enum Variants {
        U,
        N(i8),
        T(u8, u8),
        S { a: u8, b: Vec<u8> },
    }

    #[test]
    fn output_matches_serde_json() {
        let mut flattened = BTreeMap::new();
        flattened.insert("extra".to_owned(), json!([1, {"x": null}]));
        let value = Everything {
            b: true,
            i: (-8, -16, -32, i64::MIN, i128::MIN),
            u: (8, 16, 32, u64::MAX, u128::MAX),
            f: (1.5, -0.0, 1e300, f64::NAN, f64::INFINITY, f32::MIN_POSITIVE),
            c: '"',
            s: "s\n",
            o: (None, Some("x")),
            unit: (),
            unit_struct: UnitStruct,
            unit_variant: Kind::Unit,
            newtype: Newtype(5),
            tuple_struct: TupleStruct(1, "t"),
            seq: vec![vec![], vec![1, 2]],
            empty_seq: vec![],
            empty_map: BTreeMap::new(),
            int_keys: [(-1, "a"), (2, "b")].into_iter().collect(),
            u128_keys: [(u128::MAX, 1)].into_iter().collect(),
            bool_keys: [(false, 0), (true, 1)].into_iter().collect(),
            char_keys: [('\n', 1)].into_iter().collect(),
            float_keys: vec![(0.5, 1)],
            enum_keys: [(Key2::A, 1), (Key2::B, 2)].into_iter().collect(),
            newtype_keys: [(Newtype(9), 1)].into_iter().collect(),
            variants: vec![
                Variants::U,
                Variants::N(-1),
                Variants::T(1, 2),
                Variants::S { a: 1, b: vec![2] },
            ],
            flattened,
            value: json!({"nested": [1.25, "x", {"y": false}], "n": null}),
            skipped: None,
        };
        let expected = format!("[{}]", serde_json::to_string(&value).unwrap());
        assert_eq!(plain(None, &value), expected);
    }

    #[test]
    fn float_keys_match_serde_json() {
        struct FloatMap(f64);
        impl Serialize for FloatMap {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(&self.0, &1)?;
                m.end()
            }
        }
        let expected = format!("[{}]", serde_json::to_string(&FloatMap(0.5)).unwrap());
        assert_eq!(plain(None, &FloatMap(0.5)), expected);
        assert!(serde_json::to_string(&FloatMap(f64::NAN)).is_err());
        assert!(to_payload(None, &FloatMap(f64::NAN)).is_err());
    }

    #[test]
    fn invalid_keys_are_errors() {
        let map: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert!(serde_json::to_string(&map).is_err());
        let err = to_payload(None, &map).unwrap_err();
        assert_eq!(err.to_string(), "key must be a string");
        let map: BTreeMap<Option<u8>, u8> = [(None, 1)].into_iter().collect();
        assert!(to_payload(None, &map).is_err());
    }

    #[test]
    fn write_payload_appends_and_restores_on_error() {
        let mut out = BytesMut::from(&b"451-"[..]);
        let att = write_payload(&mut out, Some("ev"), &(b(b"x"), 1)).unwrap();
        assert_eq!(&out[..], br#"451-["ev",{"_placeholder":true,"num":0},1]"#);
        assert_eq!(att, vec![b(b"x")]);

        struct Failing;
        impl Serialize for Failing {
            fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(ser::Error::custom("boom"))
            }
        }
        let mut out = BytesMut::from(&b"2"[..]);
        let err = write_payload(&mut out, Some("ev"), &("a", Failing)).unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert_eq!(&out[..], b"2");
    }

    // ----- deserialisation -----

    #[test]
    fn single_argument() {
        let msg: Msg = from_payload(br#"["ev",{"text":"hi","n":3}]"#, 1, &[]).unwrap();
        assert_eq!(
            msg,
            Msg {
                text: "hi".into(),
                n: 3
            }
        );
        let s: String = from_payload(br#"["ev","x\n\u00e9"]"#, 1, &[]).unwrap();
        assert_eq!(s, "x\né");
        let v: Vec<u8> = from_payload(b"[[1,2,3]]", 0, &[]).unwrap();
        assert_eq!(v, [1, 2, 3]);
        let o: Option<u8> = from_payload(br#"["ev",null]"#, 1, &[]).unwrap();
        assert_eq!(o, None);
        let o: Option<u8> = from_payload(br#" [ "ev" , 4 ] "#, 1, &[]).unwrap();
        assert_eq!(o, Some(4));
        // A tuple is the argument list, even with one array argument.
        let t: (Vec<u8>, Option<String>) = from_payload(br#"["ev",[1,2]]"#, 1, &[]).unwrap();
        assert_eq!(t, (vec![1, 2], None));
        assert!(from_payload::<(u8, String)>(br#"["ev",[1,"a"]]"#, 1, &[]).is_err());
        // A 1-tuple reads the argument list.
        let t: (String,) = from_payload(br#"["ev","a"]"#, 1, &[]).unwrap();
        assert_eq!(t, ("a".into(),));
        let v: Value = from_payload(br#"["ev",{"a":[1,{"b":2}]}]"#, 1, &[]).unwrap();
        assert_eq!(v, json!({"a": [1, {"b": 2}]}));
    }

    #[test]
    fn several_arguments() {
        let t: (String, u8, bool) = from_payload(br#"["ev","a",1,true]"#, 1, &[]).unwrap();
        assert_eq!(t, ("a".into(), 1, true));
        let t: (u8, u8) = from_payload(b"[1,2]", 0, &[]).unwrap();
        assert_eq!(t, (1, 2));
        let v: Vec<Value> = from_payload(br#"["ev","a",1]"#, 1, &[]).unwrap();
        assert_eq!(v, vec![json!("a"), json!(1)]);
        let v: Vec<Value> = from_payload(br#"["ev"]"#, 1, &[]).unwrap();
        assert!(v.is_empty());
        let v: Value = from_payload(br#"["ev",1,2]"#, 1, &[]).unwrap();
        assert_eq!(v, json!([1, 2]));
        // A struct is the first argument, the others are ignored.
        let m: Msg = from_payload(br#"["ev",{"text":"t","n":9},{"x":1},3]"#, 1, &[]).unwrap();
        assert_eq!(
            m,
            Msg {
                text: "t".into(),
                n: 9
            }
        );
        assert!(from_payload::<Msg>(br#"["ev","t",9]"#, 1, &[]).is_err());
        // Option: of the first argument.
        let o: Option<u8> = from_payload(b"[null,2]", 0, &[]).unwrap();
        assert_eq!(o, None);
        let o: Option<u8> = from_payload(b"[1,2]", 0, &[]).unwrap();
        assert_eq!(o, Some(1));
        let o: Option<(u8, u8)> = from_payload(b"[[1,2],3]", 0, &[]).unwrap();
        assert_eq!(o, Some((1, 2)));
    }

    #[test]
    fn no_argument() {
        from_payload::<()>(br#"["ev"]"#, 1, &[]).unwrap();
        from_payload::<()>(b"[]", 0, &[]).unwrap();
        from_payload::<()>(br#"["ev",null]"#, 1, &[]).unwrap();
        from_payload::<UnitStruct>(br#"["ev"]"#, 1, &[]).unwrap();
        let o: Option<Msg> = from_payload(br#"["ev"]"#, 1, &[]).unwrap();
        assert_eq!(o, None);
        let t: (u8, u8) = from_payload(br#"["ev",1,2]"#, 1, &[]).unwrap();
        assert_eq!(t, (1, 2));
        // `()` takes no argument: what comes is ignored.
        from_payload::<()>(br#"["ev",1,2]"#, 1, &[]).unwrap();
        from_payload::<()>(br#"["ev",1]"#, 1, &[]).unwrap();
        from_payload::<UnitStruct>(br#"["ev",{"a":[1]}]"#, 1, &[]).unwrap();
    }

    #[test]
    fn extra_arguments_are_ignored() {
        let s: String = from_payload(br#"["x","a","b"]"#, 1, &[]).unwrap();
        assert_eq!(s, "a");
        let t: (i64, i64) = from_payload(br#"["x",1,2,3]"#, 1, &[]).unwrap();
        assert_eq!(t, (1, 2));
        let t: (i64,) = from_payload(br#"["x",1,[2],{"z":3}]"#, 1, &[]).unwrap();
        assert_eq!(t, (1,));
        let n: u8 = from_payload(b"[7,8]", 0, &[]).unwrap();
        assert_eq!(n, 7);
        let o: Option<String> = from_payload(br#"["x","a",2]"#, 1, &[]).unwrap();
        assert_eq!(o.as_deref(), Some("a"));
        let first: Bytes = from_payload(
            br#"["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            1,
            &[b(b"one"), b(b"two")],
        )
        .unwrap();
        assert_eq!(first, b(b"one"));
        let a: [u8; 2] = from_payload(b"[1,2,3]", 0, &[]).unwrap();
        assert_eq!(a, [1, 2]);
        // Extra arguments are skipped, yet they must be JSON.
        assert!(from_payload::<String>(br#"["x","a",nope]"#, 1, &[]).is_err());
        assert!(from_payload::<(u8,)>(br#"["x",1,{]"#, 1, &[]).is_err());
    }

    #[test]
    fn missing_arguments() {
        let o: Option<i64> = from_payload(br#"["x"]"#, 1, &[]).unwrap();
        assert_eq!(o, None);
        let t: (String, Option<i64>) = from_payload(br#"["x","a"]"#, 1, &[]).unwrap();
        assert_eq!(t, ("a".to_owned(), None));
        let t: (Option<String>, Option<i64>) = from_payload(br#"["x"]"#, 1, &[]).unwrap();
        assert_eq!(t, (None, None));
        // A missing `Value` is `Null` (JavaScript's `undefined`), a missing `()` is fine.
        let t: (u8, Value, ()) = from_payload(b"[1]", 0, &[]).unwrap();
        assert_eq!(t, (1, Value::Null, ()));
        // Anything else that is missing is an error that says which.
        let err = from_payload::<(u8, u8, u8)>(b"[1,2]", 0, &[]).unwrap_err();
        assert!(err.to_string().starts_with("missing argument 3"), "{err}");
        let err = from_payload::<String>(br#"["x"]"#, 1, &[]).unwrap_err();
        assert!(err.to_string().starts_with("missing argument 1"), "{err}");
        assert!(from_payload::<Msg>(b"[]", 0, &[]).is_err());
        // Fewer elements than skipped.
        assert!(from_payload::<()>(b"[]", 1, &[]).is_err());
        assert!(args_as_values(b"[]", 1).is_err());
    }

    #[test]
    fn malformed_payloads() {
        for bad in [
            &b""[..],
            b"{}",
            b"1",
            b"[",
            b"[1,]",
            b"[,1]",
            b"[1 2]",
            b"[\"ev\" x, 1]",
            b"[1]x",
            b"[1]]",
            b"[{]}",
            b"[\"a]",
            b"[\"\\\"]",
        ] {
            assert!(
                from_payload::<Value>(bad, 0, &[]).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            assert!(from_payload::<Vec<Value>>(bad, 0, &[]).is_err());
        }
        // Escaped quotes and brackets inside strings are not structure.
        let t: (String, String) = from_payload(br#"["a\"],[\\","{"]"#, 0, &[]).unwrap();
        assert_eq!(t, ("a\"],[\\".into(), "{".into()));
    }

    #[test]
    fn bytes_from_placeholders() {
        let att = [b(b"hello"), b(b"world")];
        let file: File = from_payload(
            br#"["up",{"name":"a","data":{"_placeholder":true,"num":1}}]"#,
            1,
            &att,
        )
        .unwrap();
        assert_eq!(
            file,
            File {
                name: "a".into(),
                data: b(b"world")
            }
        );
        let bytes: Bytes =
            from_payload(br#"["up",{"_placeholder":true,"num":0}]"#, 1, &att).unwrap();
        assert_eq!(bytes, b(b"hello"));
        // Key order does not matter, other keys are ignored.
        let (x, y): (Bytes, Bytes) = from_payload(
            br#"[{"num":1,"_placeholder":true},{"_placeholder":true,"x":1,"num":0}]"#,
            0,
            &att,
        )
        .unwrap();
        assert_eq!((x, y), (b(b"world"), b(b"hello")));
        // Nested in Vec, Option, map.
        let (v, o, m): (Vec<Bytes>, Option<Bytes>, BTreeMap<String, Bytes>) = from_payload(
            concat!(
                r#"["ev",[{"_placeholder":true,"num":0}],{"_placeholder":true,"num":1},"#,
                r#"{"k":{"_placeholder":true,"num":0}}]"#
            )
            .as_bytes(),
            1,
            &att,
        )
        .unwrap();
        assert_eq!(v, vec![b(b"hello")]);
        assert_eq!(o, Some(b(b"world")));
        assert_eq!(m["k"], b(b"hello"));
        // Plain Vec<u8> (a sequence target) accepts a placeholder too.
        let v: Vec<u8> = from_payload(br#"[{"_placeholder":true,"num":0}]"#, 0, &att).unwrap();
        assert_eq!(v, b"hello");
        // Bytes from a string or an array of numbers, as serde_json does.
        let (s, a): (Bytes, Bytes) = from_payload(br#"["ab",[1,2]]"#, 0, &[]).unwrap();
        assert_eq!((s, a), (b(b"ab"), b(b"\x01\x02")));
    }

    #[test]
    fn untagged_and_value_targets() {
        let att = [b(b"bin")];
        let json = br#"["ev",{"bin":{"_placeholder":true,"num":0}},{"text":"t"}]"#;
        let (u1, u2): (Untagged, Untagged) = from_payload(json, 1, &att).unwrap();
        assert_eq!(u1, Untagged::Bin { bin: b(b"bin") });
        assert_eq!(
            u2,
            Untagged::Text {
                text: "t".to_owned()
            }
        );
        // serde_json::Value keeps placeholders as they are.
        let v: Vec<Value> = from_payload(json, 1, &att).unwrap();
        assert_eq!(v, args_as_values(json, 1).unwrap());
        assert_eq!(v[0], json!({"bin": {"_placeholder": true, "num": 0}}));
        // Objects that are not placeholders pass through for `any` targets.
        let v: Value = from_payload(
            br#"[{"num":1,"_placeholder":false,"a":{"_placeholder":"no"}}]"#,
            0,
            &[],
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"num": 1, "_placeholder": false, "a": {"_placeholder": "no"}})
        );
        // A struct target reads a placeholder object as a struct.
        #[derive(Deserialize, Debug, PartialEq)]
        struct Raw {
            _placeholder: bool,
            num: u8,
        }
        let r: Raw = from_payload(br#"[{"_placeholder":true,"num":7}]"#, 0, &[]).unwrap();
        assert_eq!(
            r,
            Raw {
                _placeholder: true,
                num: 7
            }
        );
    }

    /// Like `serde_bytes::Bytes`: a borrowed slice serialised as bytes.
    struct ByteSlice<'a>(&'a [u8]);

    impl Serialize for ByteSlice<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    #[test]
    fn anything_serialising_bytes_is_an_attachment() {
        let (json, att) = to_payload(Some("ev"), &[ByteSlice(b"x"), ByteSlice(b"")][..]).unwrap();
        assert_eq!(
            text(&json),
            r#"["ev",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]"#
        );
        assert_eq!(att, vec![b(b"x"), Bytes::new()]);
        // Plain `Vec<u8>` / `&[u8]` serialise as sequences in serde.
        assert_eq!(plain(None, &vec![1u8, 2]), "[[1,2]]");
        assert_eq!(plain(None, &[1u8, 2][..]), "[[1,2]]");
        // Fixed-size arrays serialise as tuples in serde: they spread.
        assert_eq!(plain(None, &[1u8, 2]), "[1,2]");
        let array: [u8; 2] = from_payload(b"[1,2]", 0, &[]).unwrap();
        assert_eq!(array, [1, 2]);
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type")]
    enum Tagged {
        Image { data: Bytes },
        Note { text: String },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Outer {
        id: u8,
        #[serde(flatten)]
        inner: File,
        tagged: Tagged,
    }

    #[test]
    fn flatten_and_internally_tagged() {
        let value = Outer {
            id: 1,
            inner: File {
                name: "n".into(),
                data: b(b"flat"),
            },
            tagged: Tagged::Image { data: b(b"img") },
        };
        let (json, att) = to_payload(Some("ev"), &value).unwrap();
        assert_eq!(att, vec![b(b"flat"), b(b"img")]);
        let back: Outer = from_payload(&json, 1, &att).unwrap();
        assert_eq!(back, value);
        round_trip(&(
            Tagged::Note { text: "t".into() },
            Tagged::Image { data: b(b"i") },
        ));
    }

    #[test]
    fn invalid_placeholders() {
        let att = [b(b"only")];
        let err =
            from_payload::<Bytes>(br#"["ev",{"_placeholder":true,"num":1}]"#, 1, &att).unwrap_err();
        assert!(err.to_string().contains("attachment 1"), "{err}");
        let err = from_payload::<File>(
            br#"["ev",{"name":"a","data":{"_placeholder":true,"num":5}}]"#,
            1,
            &att,
        )
        .unwrap_err();
        assert!(err.to_string().contains("attachment 5"), "{err}");
        assert!(from_payload::<Bytes>(br#"[{"_placeholder":true,"num":-1}]"#, 0, &att).is_err());
        assert!(from_payload::<Bytes>(br#"[{"_placeholder":true}]"#, 0, &att).is_err());
        assert!(from_payload::<Bytes>(br#"[{"_placeholder":true,"num":"0"}]"#, 0, &att).is_err());
        // Not a placeholder: a map is not bytes.
        assert!(from_payload::<Bytes>(br#"[{"_placeholder":false,"num":0}]"#, 0, &att).is_err());
        assert!(from_payload::<Bytes>(br#"[{"num":0}]"#, 0, &att).is_err());
        assert!(from_payload::<Bytes>(br#"[{}]"#, 0, &att).is_err());
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Deep {
        id: u64,
        kinds: Vec<Kind>,
        nested: Option<Box<Deep>>,
        by_name: BTreeMap<String, Vec<Option<Bytes>>>,
        wrapper: Wrapper,
        untagged: Vec<Untagged>,
        text: String,
    }

    fn sample_deep() -> Deep {
        Deep {
            id: 1,
            kinds: vec![
                Kind::Unit,
                Kind::Newtype(b(b"n")),
                Kind::Tuple(3, b(b"")),
                Kind::Struct {
                    data: b(b"\xff\x00"),
                    tag: "\"t\"".into(),
                },
            ],
            nested: Some(Box::new(Deep {
                id: 2,
                kinds: vec![],
                nested: None,
                by_name: [("z".to_owned(), vec![None, Some(b(b"zz"))])]
                    .into_iter()
                    .collect(),
                wrapper: Wrapper(b(b"inner")),
                untagged: vec![],
                text: String::new(),
            })),
            by_name: BTreeMap::new(),
            wrapper: Wrapper(b(b"w")),
            untagged: vec![
                Untagged::Text {
                    text: "u".to_owned(),
                },
                Untagged::Bin { bin: b(b"ub") },
            ],
            text: TRICKY.concat(),
        }
    }

    fn round_trip<T>(value: &T)
    where
        T: Serialize + DeserializeOwned + PartialEq + fmt::Debug,
    {
        let (json, att) = to_payload(Some("ev"), value).unwrap();
        let back: T = from_payload(&json, 1, &att).unwrap();
        assert_eq!(&back, value, "via {}", text(&json));
        let (json, att) = to_payload(None, value).unwrap();
        let back: T = from_payload(&json, 0, &att).unwrap();
        assert_eq!(&back, value, "via {}", text(&json));
    }

    #[test]
    fn round_trips() {
        round_trip(&File {
            name: "f".into(),
            data: b(b"data"),
        });
        round_trip(&Upload {
            files: vec![
                File {
                    name: "a".into(),
                    data: b(b"A"),
                },
                File {
                    name: "b".into(),
                    data: Bytes::new(),
                },
            ],
            thumb: None,
            parts: [("p".to_owned(), b(b"P")), ("q".to_owned(), b(b"Q"))]
                .into_iter()
                .collect(),
            meta: json!({"k": [1, 2, {"x": null}]}),
        });
        round_trip(&sample_deep());
        round_trip(&(
            b(b"a"),
            "s".to_owned(),
            File {
                name: "x".into(),
                data: b(b"y"),
            },
        ));
        round_trip(&(b(b"single"),));
        round_trip(&b(b"bare"));
        round_trip(&vec![b(b"1"), b(b"2")]);
        round_trip(&Some(Kind::Newtype(b(b"k"))));
        round_trip(&());
        round_trip(&("only".to_owned(),));
        round_trip(&(1u8, 2u16));
        round_trip(&Msg {
            text: "m".into(),
            n: 0,
        });
    }

    /// A tiny deterministic generator of JSON values with awkward strings.
    fn random_value(seed: &mut u64, depth: u32) -> Value {
        let mut next = |n: u64| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed % n
        };
        const PIECES: &[&str] = &[
            "a", "\\", "\"", "[", "]", "{", "}", ",", ":", " ", "\n", "é",
        ];
        match next(if depth == 0 { 4 } else { 6 }) {
            0 => Value::Null,
            1 => json!(next(1000)),
            2 => {
                let len = next(6);
                Value::String((0..len).map(|_| PIECES[next(12) as usize]).collect())
            }
            3 => json!(next(2) == 0),
            4 => Value::Array(
                (0..next(4))
                    .map(|_| random_value(seed, depth - 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..next(4))
                    .map(|i| (format!("k{i}\"]"), random_value(seed, depth - 1)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn quote_search_matches_naive() {
        const ALPHABET: &[u8] = b"\"\\\x00\x01\x21\x23\x5b\x5d\xa2\xdca";
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..40 {
            for _ in 0..200 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        // Mostly harmless bytes, sometimes a special one.
                        if seed % 5 == 0 {
                            ALPHABET[(seed >> 8) as usize % ALPHABET.len()]
                        } else {
                            ALPHABET[2 + (seed >> 8) as usize % (ALPHABET.len() - 2)]
                        }
                    })
                    .collect();
                for start in 0..=len + 1 {
                    let naive = data
                        .get(start..)
                        .and_then(|rest| rest.iter().position(|&c| c == b'"' || c == b'\\'))
                        .map(|p| start + p);
                    assert_eq!(
                        find_quote_or_backslash(&data, start),
                        naive,
                        "{data:?} {start}"
                    );
                }
            }
        }
    }

    #[test]
    fn element_count_matches_parse() {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            let value = random_value(&mut seed, 4);
            let array = match value {
                Value::Array(items) => items,
                other => vec![other],
            };
            let compact = serde_json::to_vec(&array).unwrap();
            let pretty = serde_json::to_vec_pretty(&array).unwrap();
            assert_eq!(count_elements(&compact), Some(array.len()));
            assert_eq!(count_elements(&pretty), Some(array.len()));
            assert_eq!(args_as_values(&pretty, 0).unwrap(), array);
            if let [single] = &array[..] {
                // One argument: the target is that argument.
                let value: Value = from_payload(&compact, 0, &[]).unwrap();
                assert_eq!(&value, single);
            } else {
                let values: Vec<Value> = from_payload(&compact, 0, &[]).unwrap();
                assert_eq!(values, array);
            }
            let (json, att) = to_payload(Some("e"), &array).unwrap();
            assert!(att.is_empty());
            let back: Vec<Value> = from_payload(&json, 1, &[]).unwrap();
            assert_eq!(back, array);
        }
    }

    #[test]
    fn error_type() {
        fn assert_traits<E: std::error::Error + Send + Sync + 'static>() {}
        assert_traits::<PayloadError>();
        let err = from_payload::<u8>(b"[\"x\"]", 0, &[]).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
        let _: PayloadError = serde_json::from_str::<u8>("x").unwrap_err().into();
    }
}
