use super::*;

// ---------------------------------------------------------------------------
// Serialisation
// ---------------------------------------------------------------------------

/// Serialises `args` as the elements of an event payload array.
///
/// If `event` is `Some`, it is the first element. Like a JavaScript variadic
/// call, a Rust tuple (anything calling `serialize_tuple`, [`Args`](crate::payload::Args)
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
pub(super) struct ValueSer<'a> {
    pub(super) out: &'a mut BytesMut,
    pub(super) attachments: &'a mut Vec<Bytes>,
}

impl ValueSer<'_> {
    /// A serde_json serializer writing to the output, used for leaf values so
    /// that strings and numbers are formatted exactly as serde_json does.
    pub(super) fn json(&mut self) -> serde_json::Serializer<Writer<&mut BytesMut>> {
        serde_json::Serializer::new((&mut *self.out).writer())
    }

    pub(super) fn write_str(&mut self, value: &str) -> Result<(), PayloadError> {
        self.json().serialize_str(value)?;
        Ok(())
    }

    pub(super) fn write_array<T: Serialize + ?Sized>(
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
pub(super) struct Compound<'b, 'a> {
    pub(super) ser: &'b mut ValueSer<'a>,
    pub(super) first: bool,
    /// Text closing the compound (`]`, `}`, or `]}` / `}}` for enum variants).
    pub(super) close: &'static [u8],
    /// The struct is serde_json's raw-JSON carrier: write its field verbatim.
    pub(super) raw: bool,
}

impl<'b, 'a> Compound<'b, 'a> {
    pub(super) fn open(ser: &'b mut ValueSer<'a>, open: &[u8], close: &'static [u8]) -> Self {
        ser.out.extend_from_slice(open);
        Compound {
            ser,
            first: true,
            close,
            raw: false,
        }
    }

    /// Opens `{"variant":` followed by `open`.
    pub(super) fn open_variant(
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

    pub(super) fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.ser.out.put_u8(b',');
        }
    }

    pub(super) fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        self.comma();
        value.serialize(&mut *self.ser)
    }

    pub(super) fn field<T: Serialize + ?Sized>(
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
    /// [`Args`](crate::payload::Args) argument is relayed as it came).
    pub(super) fn raw_field<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), PayloadError> {
        value.serialize(Verbatim {
            out: &mut *self.ser.out,
        })
    }

    pub(super) fn finish(self) -> Result<(), PayloadError> {
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
