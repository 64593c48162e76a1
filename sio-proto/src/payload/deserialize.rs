use super::*;

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
/// * [`Args`](crate::payload::Args) is every argument, exactly as it came.
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
/// A binary placeholder (by the decoder's rule: an object whose `_placeholder`
/// is `true`, wherever that key is, a repeated key keeping its last value as in
/// JavaScript) becomes the attachment's bytes (through
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
    let parse = || -> Result<T, PayloadError> {
        let mut de = serde_json::Deserializer::from_str(json_str(json)?);
        let value = de.deserialize_seq(PayloadVisitor {
            json,
            skip,
            att: attachments,
            marker: PhantomData::<T>,
        })?;
        de.end()?;
        Ok(value)
    };
    // The arguments are read as they come, without counting them first; a payload that is
    // not a complete array reports that (looked at only when the parse failed), whatever the
    // parse met first.
    parse().map_err(|err| match count_elements(json) {
        None => not_an_array(json),
        Some(_) => err,
    })
}

/// The arguments of a payload (after skipping `skip` leading elements) as JSON
/// values, binary placeholders left as they are.
pub fn args_as_values(json: &[u8], skip: usize) -> Result<Vec<Value>, PayloadError> {
    let mut de = serde_json::Deserializer::from_str(json_str(json)?);
    let values = de.deserialize_seq(ValuesVisitor { skip })?;
    de.end()?;
    Ok(values)
}

/// The error for a payload that [`count_elements`] could not read.
pub(super) fn not_an_array(json: &[u8]) -> PayloadError {
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
pub(super) fn count_elements(json: &[u8]) -> Option<usize> {
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
pub(super) fn find_quote_or_backslash(json: &[u8], mut i: usize) -> Option<usize> {
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
pub(super) struct PayloadVisitor<'a, T> {
    /// The whole payload, for the targets that need the number of arguments.
    pub(super) json: &'a [u8],
    pub(super) skip: usize,
    pub(super) att: &'a [Bytes],
    pub(super) marker: PhantomData<T>,
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
            json: self.json,
            skip: self.skip,
            att: self.att,
        })
    }
}

/// Visitor of [`args_as_values`].
pub(super) struct ValuesVisitor {
    pub(super) skip: usize,
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

/// Name of the newtype struct through which [`Args`](crate::payload::Args) asks for every
/// argument, whatever their number.
pub(crate) const ARGS_TOKEN: &str = "$sio::Args";

/// The error for an argument the target needs and the payload lacks (1-based).
pub(super) fn missing_argument<E: de::Error>(number: usize) -> E {
    E::custom(format_args!("missing argument {number}"))
}

/// Skips the elements left.
pub(super) fn skip_rest<'de, A: SeqAccess<'de>>(seq: &mut A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A seed kept in a slot: when the sequence has no element left, it is not called and the
/// caller takes it back (to read a missing argument, or to tell the visitor `None`).
struct Slot<'s, S>(&'s mut Option<S>);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Slot<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        match self.0.take() {
            Some(seed) => seed.deserialize(de),
            None => Err(de::Error::custom("argument read twice")),
        }
    }
}

/// The seed left in a slot that the sequence did not call.
fn take_back<S, E: de::Error>(slot: &mut Option<S>) -> Result<S, E> {
    slot.take()
        .ok_or_else(|| E::custom("argument read without a value"))
}

/// The arguments of a payload as a deserializer: decides, from what the target
/// asks for, whether it takes the first argument, the list, or no argument
/// (see [`from_payload`]), and always consumes every argument.
///
/// The arguments are read as they come; they are counted (a pass over the text)
/// only for the targets whose shape depends on their number (a sequence or a
/// self-describing target: one argument, or the list of all).
pub(super) struct ArgList<'a, A> {
    pub(super) seq: A,
    /// The whole payload text, to count the arguments.
    pub(super) json: &'a [u8],
    /// Elements of the payload before the arguments.
    pub(super) skip: usize,
    pub(super) att: &'a [Bytes],
}

impl<'de, A: SeqAccess<'de>> ArgList<'_, A> {
    /// The number of arguments.
    fn count(&self) -> usize {
        count_elements(self.json)
            .unwrap_or(0)
            .saturating_sub(self.skip)
    }

    /// The first argument, read with `hint`; the others are skipped.
    pub(super) fn first<V: Visitor<'de>>(
        mut self,
        hint: Hint,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let value = self
            .seq
            .next_element_seed(HintSeed {
                hint,
                visitor,
                att: self.att,
            })?
            .ok_or_else(|| missing_argument(1))?;
        skip_rest(&mut self.seq)?;
        Ok(value)
    }

    /// The arguments as a sequence: all of them (`want` is `None`), or exactly
    /// `want` (missing ones are absent values, extra ones skipped). `count`, when
    /// known, is the number of arguments.
    pub(super) fn list<V: Visitor<'de>>(
        self,
        want: Option<usize>,
        count: Option<usize>,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let mut list = ListAccess {
            seq: self.seq,
            count,
            ended: false,
            want,
            number: 0,
            att: self.att,
        };
        let value = visitor.visit_seq(&mut list)?;
        if !list.ended {
            skip_rest(&mut list.seq)?;
        }
        Ok(value)
    }

    /// No argument taken: every one is skipped.
    pub(super) fn none<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, A::Error> {
        skip_rest(&mut self.seq)?;
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
        match self.count() {
            1 => self.first(Hint::Any, visitor),
            n => self.list(None, Some(n), visitor),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        match self.count() {
            1 => self.first(Hint::Seq, visitor),
            n => self.list(None, Some(n), visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.list(Some(len), None, visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, A::Error> {
        let mut slot = Some(HintSeed {
            hint: Hint::Option,
            visitor,
            att: self.att,
        });
        match self.seq.next_element_seed(Slot(&mut slot))? {
            Some(value) => {
                skip_rest(&mut self.seq)?;
                Ok(value)
            }
            None => take_back(&mut slot)?.visitor.visit_none(),
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
            self.list(None, None, visitor)
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
pub(super) struct ListAccess<'a, A> {
    pub(super) seq: A,
    /// The number of arguments, when known.
    pub(super) count: Option<usize>,
    /// The payload array has no element left.
    pub(super) ended: bool,
    /// Elements the target still takes, when it takes a fixed number (a tuple).
    pub(super) want: Option<usize>,
    /// 1-based number of the last element handed out.
    pub(super) number: usize,
    pub(super) att: &'a [Bytes],
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
            None if self.ended => return Ok(None),
            None => {}
        }
        self.number += 1;
        let mut seed = WrapSeed {
            seed,
            att: self.att,
        };
        if !self.ended {
            let mut slot = Some(seed);
            if let Some(value) = self.seq.next_element_seed(Slot(&mut slot))? {
                return Ok(Some(value));
            }
            self.ended = true;
            seed = take_back(&mut slot)?;
        }
        if self.want.is_none() {
            return Ok(None);
        }
        seed.seed
            .deserialize(Missing {
                number: self.number,
                marker: PhantomData,
            })
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        match self.want {
            Some(n) => Some(n),
            None if self.ended => Some(0),
            None => self.count.map(|n| n.saturating_sub(self.number)),
        }
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
