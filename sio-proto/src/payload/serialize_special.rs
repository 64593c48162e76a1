use super::*;

pub(super) fn invalid_raw_value() -> PayloadError {
    PayloadError::message("invalid raw JSON value")
}

/// Writes the one string it is given as it is: the JSON text inside serde_json's raw-JSON
/// carrier. Anything else is an error.
pub(super) struct Verbatim<'b> {
    pub(super) out: &'b mut BytesMut,
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

pub(super) fn key_must_be_a_string() -> PayloadError {
    PayloadError::message("key must be a string")
}

/// Writes map keys the way serde_json does: strings as they are, numbers,
/// booleans and unit variants as strings, anything else is an error.
pub(super) struct MapKeySer<'b, 'a> {
    pub(super) ser: &'b mut ValueSer<'a>,
}

impl MapKeySer<'_, '_> {
    pub(super) fn quoted(
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
pub(super) struct ArgsSer<'b, 'a> {
    pub(super) ser: &'b mut ValueSer<'a>,
    /// Whether an element has already been written (so a comma is needed).
    pub(super) comma: bool,
    /// Whether a unit value is no argument (the value is `()`, zero-sized) rather than one
    /// `null` (`serde_json::Value::Null`).
    pub(super) unit_is_empty: bool,
}

impl ArgsSer<'_, '_> {
    pub(super) fn separate(&mut self) {
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
pub(super) struct ArgsTuple<'b, 'a> {
    pub(super) ser: &'b mut ValueSer<'a>,
    pub(super) comma: bool,
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
