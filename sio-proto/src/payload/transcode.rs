use super::*;

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
    let mut de = serde_json::Deserializer::from_str(json_str(json)?);
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

    let mut de = serde_json::Deserializer::from_str(json_str(data)?);
    let elements = de.deserialize_seq(Elements { data, skip })?;
    de.end()?;
    Ok(elements)
}

/// `part` as a slice of `whole` when it lies inside it (no copy), else a copy.
pub(super) fn sub_bytes(whole: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= whole.len() => whole.slice(start..end),
        _ => Bytes::copy_from_slice(part),
    }
}

/// Counts the binary placeholders in the JSON text of one argument, checking
/// that each names an attachment (the walker of [`crate::placeholder`], the
/// decoder's rule).
pub(crate) fn count_placeholders(
    json: &[u8],
    attachments: &[Bytes],
) -> Result<usize, PayloadError> {
    crate::placeholder::count(json, attachments.len()).map_err(|e| match e {
        crate::DecodeError::InvalidPlaceholder => PayloadError::message(format_args!(
            "{e}: one names no attachment of the {} the packet has",
            attachments.len()
        )),
        e => PayloadError::message(e),
    })
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
        let mut de =
            serde_json::Deserializer::from_str(json_str(self.json).map_err(ser::Error::custom)?);
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
pub(super) struct Transcoder<S>(S);

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
pub(super) struct TranscodeElement<'o, O>(&'o mut O);

impl<'de, O: ser::SerializeSeq> DeserializeSeed<'de> for TranscodeElement<'_, O> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        self.0
            .serialize_element(&Deferred::new(de))
            .map_err(de::Error::custom)
    }
}

/// Passes one object value on.
pub(super) struct TranscodeValue<'o, O>(&'o mut O);

impl<'de, O: ser::SerializeMap> DeserializeSeed<'de> for TranscodeValue<'_, O> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        self.0
            .serialize_value(&Deferred::new(de))
            .map_err(de::Error::custom)
    }
}

/// A deserializer waiting to be transcoded when its value is serialised (once).
pub(super) struct Deferred<'de, D> {
    pub(super) de: std::cell::Cell<Option<D>>,
    pub(super) marker: PhantomData<&'de ()>,
}

impl<D> Deferred<'_, D> {
    pub(super) fn new(de: D) -> Self {
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
/// [`Args`](crate::payload::Args) target keeps slices of `data` (no copy, the JSON
/// text exactly as it came) instead of going through serde.
pub fn decode<T: DeserializeOwned + 'static>(
    data: &Bytes,
    skip: usize,
    attachments: &[Bytes],
) -> Result<T, PayloadError> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<crate::payload::Args>() {
        let mut slot = Some(crate::payload::Args::from_payload(data, skip, attachments)?);
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
    nsp: &crate::socket::Nsp,
    event: &str,
    data: &T,
    id: Option<u64>,
) -> Result<crate::socket::EncodedPacket, PayloadError> {
    use crate::socket::packet::write_header;
    use crate::socket::{EncodedPacket, PacketKind};
    use bytes::BufMut;
    let mut out = BytesMut::with_capacity(32 + event.len());
    out.put_u8(b'4');
    write_header(&mut out, PacketKind::Event, nsp, None, id);
    let header_len = out.len();
    let attachments = write_payload(&mut out, Some(event), data)?;
    if attachments.is_empty() {
        return Ok(EncodedPacket {
            text: out.freeze(),
            attachments,
            uncompressed: false,
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
        uncompressed: false,
    })
}
