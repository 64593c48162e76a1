use super::*;

/// Which `deserialize_*` method to call on an argument.
#[derive(Clone, Copy)]
pub(super) enum Hint {
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
pub(super) struct HintSeed<'a, V> {
    pub(super) hint: Hint,
    pub(super) visitor: V,
    pub(super) att: &'a [Bytes],
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for HintSeed<'_, V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        // Without attachments there is no placeholder to resolve: no wrapper (it costs a
        // third of a typed decode).
        if self.att.is_empty() {
            dispatch(de, self.hint, self.visitor)
        } else {
            dispatch(Wrap { de, att: self.att }, self.hint, self.visitor)
        }
    }
}

/// Calls the `deserialize_*` method of `de` that `hint` names.
fn dispatch<'de, D: Deserializer<'de>, V: Visitor<'de>>(
    de: D,
    hint: Hint,
    v: V,
) -> Result<V::Value, D::Error> {
    match hint {
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

/// What the target asked for, which decides how a placeholder object is
/// delivered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
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
pub(super) struct Wrap<'a, D> {
    pub(super) de: D,
    pub(super) att: &'a [Bytes],
}

impl<'a, D> Wrap<'a, D> {
    pub(super) fn visitor<V>(&self, visitor: V, mode: Mode) -> WrapVisitor<'a, V> {
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
pub(super) struct WrapSeed<'a, S> {
    pub(super) seed: S,
    pub(super) att: &'a [Bytes],
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for WrapSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        if self.att.is_empty() {
            self.seed.deserialize(de)
        } else {
            self.seed.deserialize(Wrap { de, att: self.att })
        }
    }
}

/// Visitor wrapper: keeps wrapping nested values, and recognises placeholder
/// objects according to its [`Mode`].
pub(super) struct WrapVisitor<'a, V> {
    pub(super) visitor: V,
    pub(super) att: &'a [Bytes],
    pub(super) mode: Mode,
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
            self.visitor.visit_map(WrapMap { map, att: self.att })
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
    /// Delivers an object that may be a binary placeholder (by the rule of
    /// [`crate::placeholder`]: `"_placeholder": true` anywhere among its members, the last
    /// value of a repeated key counting). The object is read ahead to find out (as a
    /// [`Node`]: members in their order), except for a `serde_json::Value` target, which
    /// keeps placeholder objects as they are.
    pub(super) fn visit_maybe_placeholder<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<V::Value, A::Error> {
        let att = self.att;
        // A `serde_json::Value` target keeps placeholder objects as they are: streamed.
        if self.mode == Mode::Any && expects_json_value(&self.visitor) {
            return self.visitor.visit_map(WrapMap { map, att });
        }
        let mut entries: Vec<(Key<'de>, Node<'de>)> = Vec::with_capacity(2);
        let mut object = crate::placeholder::Object::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value = map.next_value::<Node<'de>>()?;
            object.member(&key.0, value.scalar());
            entries.push((key, value));
        }
        let Some(num) = object.placeholder() else {
            return self.visitor.visit_map(WrapMap {
                map: Replay::<A::Error>::new(entries),
                att,
            });
        };
        let bytes = attachment(num, att).map_err(de::Error::custom)?;
        if self.mode == Mode::Seq {
            self.visitor
                .visit_seq(SeqDeserializer::<_, A::Error>::new(bytes.iter().copied()))
        } else {
            self.visitor.visit_bytes(bytes)
        }
    }
}

/// The attachment a placeholder refers to.
pub(super) fn attachment(num: Option<u64>, att: &[Bytes]) -> Result<&Bytes, String> {
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
/// gets placeholder objects as they are. Compares what the visitor expects
/// without formatting it into a string.
pub(super) fn expects_json_value<'de, V: Visitor<'de>>(visitor: &V) -> bool {
    struct Expecting<'v, V>(&'v V);

    impl<'de, V: Visitor<'de>> Display for Expecting<'_, V> {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            self.0.expecting(f)
        }
    }

    /// Consumes the expected text; fails at the first difference.
    struct Compare<'s>(&'s str);

    impl fmt::Write for Compare<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 = self.0.strip_prefix(s).ok_or(fmt::Error)?;
            Ok(())
        }
    }

    let mut rest = Compare(JSON_VALUE_EXPECTING);
    fmt::write(&mut rest, format_args!("{}", Expecting(visitor))).is_ok() && rest.0.is_empty()
}

/// An object key, borrowed from the input when possible.
pub(super) struct Key<'de>(pub(super) Cow<'de, str>);

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
pub(super) fn replay_key<'de, S: DeserializeSeed<'de>, E: de::Error>(
    seed: S,
    key: Key<'de>,
) -> Result<S::Value, E> {
    match key.0 {
        Cow::Borrowed(s) => seed.deserialize(BorrowedStrDeserializer::<E>::new(s)),
        Cow::Owned(s) => seed.deserialize(StringDeserializer::<E>::new(s)),
    }
}

/// Map access wrapper: values are wrapped.
pub(super) struct WrapMap<'a, A> {
    pub(super) map: A,
    pub(super) att: &'a [Bytes],
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WrapMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.map.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(WrapSeed {
            seed,
            att: self.att,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// Sequence access wrapper: elements are wrapped.
pub(super) struct WrapSeq<'a, A> {
    pub(super) seq: A,
    pub(super) att: &'a [Bytes],
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
pub(super) struct WrapEnum<'a, A> {
    pub(super) data: A,
    pub(super) att: &'a [Bytes],
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
pub(super) struct WrapVariant<'a, A> {
    pub(super) variant: A,
    pub(super) att: &'a [Bytes],
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
