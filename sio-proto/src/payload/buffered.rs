use super::*;

// ---------------------------------------------------------------------------
// Objects read ahead to find out whether they are binary placeholders
// ---------------------------------------------------------------------------

/// A JSON value read ahead: object members keep their order (and a repeated key
/// each of its values), as the text has them, so that an object that is not a
/// placeholder is delivered as it would have been streamed.
pub(super) enum Node<'de> {
    /// `null`, a boolean, a number or a string.
    Scalar(Value),
    Seq(Vec<Node<'de>>),
    Map(Vec<(Key<'de>, Node<'de>)>),
}

impl Node<'_> {
    /// What the value is as a member of a possible placeholder.
    pub(super) fn scalar(&self) -> crate::placeholder::Scalar {
        match self {
            Node::Scalar(v) => crate::placeholder::Scalar::of_value(v),
            _ => crate::placeholder::Scalar::default(),
        }
    }

    /// The value as a `serde_json::Value` (a repeated key keeps its last value).
    fn into_value(self) -> Value {
        match self {
            Node::Scalar(v) => v,
            Node::Seq(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.0.into_owned(), v.into_value()))
                    .collect(),
            ),
        }
    }
}

impl<'de> de::Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value to read ahead")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(Value::String(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Node<'de>, D::Error> {
        de::Deserialize::deserialize(de)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Map(entries))
    }
}

/// A [`Node`] handed out again.
pub(super) struct NodeDe<'de, E> {
    pub(super) node: Node<'de>,
    pub(super) marker: PhantomData<E>,
}

impl<'de, E> NodeDe<'de, E> {
    pub(super) fn new(node: Node<'de>) -> Self {
        NodeDe {
            node,
            marker: PhantomData,
        }
    }
}

impl<'de, E: de::Error> Deserializer<'de> for NodeDe<'de, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.node {
            Node::Scalar(v) => v.deserialize_any(visitor).map_err(E::custom),
            Node::Seq(items) => visitor.visit_seq(NodeSeq::<E> {
                items: items.into_iter(),
                marker: PhantomData,
            }),
            Node::Map(entries) => visitor.visit_map(Replay::new(entries)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.node {
            Node::Scalar(Value::Null) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        self.node
            .into_value()
            .deserialize_enum(name, variants, visitor)
            .map_err(E::custom)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// The elements of a [`Node::Seq`].
struct NodeSeq<'de, E> {
    items: std::vec::IntoIter<Node<'de>>,
    marker: PhantomData<E>,
}

impl<'de, E: de::Error> SeqAccess<'de> for NodeSeq<'de, E> {
    type Error = E;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, E> {
        self.items
            .next()
            .map(|node| seed.deserialize(NodeDe::new(node)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Map access over an object that was read ahead (to check for a placeholder).
pub(super) struct Replay<'de, E> {
    entries: std::vec::IntoIter<(Key<'de>, Node<'de>)>,
    value: Option<Node<'de>>,
    marker: PhantomData<E>,
}

impl<'de, E> Replay<'de, E> {
    pub(super) fn new(entries: Vec<(Key<'de>, Node<'de>)>) -> Self {
        Replay {
            entries: entries.into_iter(),
            value: None,
            marker: PhantomData,
        }
    }
}

impl<'de, E: de::Error> MapAccess<'de> for Replay<'de, E> {
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
        seed.deserialize(NodeDe::new(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}
