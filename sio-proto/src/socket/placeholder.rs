//! Binary placeholders: in the JSON of a BINARY_EVENT or BINARY_ACK, the object
//! `{"_placeholder":true,"num":N}` stands for attachment `N`.
//!
//! The rule is the one of Node's `socket.io-parser` (`reconstructPacket`): an object whose
//! `_placeholder` is `true` is a placeholder, and its `num` must be a number `>= 0` and below
//! the attachment count ("illegal attachments" otherwise); its other members are not looked
//! at. Any other object or array is searched recursively. An attachment no placeholder names
//! is not an error.
//!
//! [`check`] runs over the JSON text in one pass without building a tree (it allocates only
//! for keys with escapes, and to remember the keys of invalid members), so that the decoder
//! can check each completed binary packet eagerly. As in JavaScript, when a key appears twice
//! in one object only the last value counts. One deliberate difference with Node, stricter: a
//! `num` that is not an integer (`0.5`, which Node turns into a missing attachment) is
//! refused.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::DecodeError;

/// Checks every placeholder of the JSON text `data` against `count` attachments. `Ok` for an
/// empty payload.
pub(crate) fn check(data: &[u8], count: usize) -> Result<(), DecodeError> {
    if data.is_empty() {
        return Ok(());
    }
    let mut de = serde_json::Deserializer::from_slice(data);
    let seen = Check { count }
        .deserialize(&mut de)
        .map_err(|_| DecodeError::InvalidJson)?;
    de.end().map_err(|_| DecodeError::InvalidJson)?;
    if seen.ok {
        Ok(())
    } else {
        Err(DecodeError::InvalidPlaceholder)
    }
}

/// Checks that `data` is one well-formed JSON value, strings included (valid UTF-8, escapes
/// that decode), as a `serde_json::Value` parse would, without building one.
pub(crate) fn validate(data: &[u8]) -> Result<(), DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(data);
    Check { count: 0 }
        .deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|_| DecodeError::InvalidJson)
}

/// The same rule over a parsed value.
pub(crate) fn check_value(v: &serde_json::Value, count: usize) -> Result<(), DecodeError> {
    match v {
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| check_value(x, count)),
        serde_json::Value::Object(m) => {
            if m.get("_placeholder") == Some(&serde_json::Value::Bool(true)) {
                return match m.get("num").and_then(value_index) {
                    Some(n) if n < count as u64 => Ok(()),
                    _ => Err(DecodeError::InvalidPlaceholder),
                };
            }
            m.values().try_for_each(|x| check_value(x, count))
        }
        _ => Ok(()),
    }
}

/// A JSON number as an attachment index (a non-negative integer, `1.0` included).
fn value_index(v: &serde_json::Value) -> Option<u64> {
    let n = v.as_number()?;
    n.as_u64().or_else(|| n.as_f64().and_then(float_index))
}

fn float_index(f: f64) -> Option<u64> {
    // 2^64 as f64; integral floats below it convert exactly.
    (f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0).then_some(f as u64)
}

/// What a JSON value is, as far as placeholders care.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// No invalid placeholder inside.
    ok: bool,
    /// The value is `true`.
    is_true: bool,
    /// The value is a number usable as an index.
    index: Option<u64>,
}

impl Seen {
    const PLAIN: Seen = Seen {
        ok: true,
        is_true: false,
        index: None,
    };
}

#[derive(Clone, Copy)]
struct Check {
    count: usize,
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = Seen;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Seen, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = Seen;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Seen, E> {
        Ok(Seen {
            is_true: v,
            ..Seen::PLAIN
        })
    }

    fn visit_u64<E>(self, v: u64) -> Result<Seen, E> {
        Ok(Seen {
            index: Some(v),
            ..Seen::PLAIN
        })
    }

    fn visit_i64<E>(self, v: i64) -> Result<Seen, E> {
        Ok(Seen {
            index: u64::try_from(v).ok(),
            ..Seen::PLAIN
        })
    }

    fn visit_f64<E>(self, v: f64) -> Result<Seen, E> {
        Ok(Seen {
            index: float_index(v),
            ..Seen::PLAIN
        })
    }

    fn visit_str<E>(self, _: &str) -> Result<Seen, E> {
        Ok(Seen::PLAIN)
    }

    fn visit_unit<E>(self) -> Result<Seen, E> {
        Ok(Seen::PLAIN)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seen, A::Error> {
        let mut ok = true;
        while let Some(s) = seq.next_element_seed(self)? {
            ok &= s.ok;
        }
        Ok(Seen { ok, ..Seen::PLAIN })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen, A::Error> {
        // The keys whose (last) value holds an invalid placeholder: a later value of the
        // same key replaces the earlier one, as in JavaScript.
        let mut bad: Vec<Cow<'de, str>> = Vec::new();
        let mut placeholder = false;
        let mut num = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let s = map.next_value_seed(self)?;
            match key.as_ref() {
                "_placeholder" => placeholder = s.is_true,
                "num" => num = s.index,
                _ => {}
            }
            if !s.ok {
                if !bad.contains(&key) {
                    bad.push(key);
                }
            } else if !bad.is_empty() {
                bad.retain(|k| *k != key);
            }
        }
        let ok = if placeholder {
            num.is_some_and(|n| n < self.count as u64)
        } else {
            bad.is_empty()
        };
        Ok(Seen { ok, ..Seen::PLAIN })
    }
}

/// An object key, borrowed from the input unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(json: &str, count: usize) -> Result<(), DecodeError> {
        let streamed = check(json.as_bytes(), count);
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(streamed, check_value(&v, count), "{json}");
        streamed
    }

    #[test]
    fn valid_and_invalid_placeholders() {
        let ok = [
            r#"["a",{"_placeholder":true,"num":0}]"#,
            r#"["a",{"x":[{"_placeholder":true,"num":1}]}]"#,
            r#"["a",{"_placeholder":true,"num":1.0}]"#,
            r#"["a",{"_placeholder":false,"num":9}]"#,
            r#"["a",{"_placeholder":"true","num":9}]"#,
            r#"["a",{"num":1,"_placeholder":true,"n":{"_placeholder":true,"num":7}}]"#,
            r#"["a",{"num":1}]"#,
            r#"["a",{"_placeholder":true,"num":0}]"#,
            r#"["a",{"\u005fplaceholder":true,"num":1}]"#,
            r#"["a",{"k":{"_placeholder":true,"num":9},"k":1}]"#,
            r#"["a",{"_placeholder":{"_placeholder":true},"_placeholder":false}]"#,
            r#"["a",{"_placeholder":true,"num":9,"num":0}]"#,
        ];
        for j in ok {
            assert_eq!(both(j, 2), Ok(()), "{j}");
        }
        let bad = [
            r#"["a",{"_placeholder":true,"num":2}]"#,
            r#"["a",{"_placeholder":true}]"#,
            r#"["a",{"_placeholder":true,"num":"0"}]"#,
            r#"["a",{"_placeholder":true,"num":-1}]"#,
            r#"["a",{"_placeholder":true,"num":0.5}]"#,
            r#"["a",{"_placeholder":true,"num":1e30}]"#,
            r#"["a",{"_placeholder":true,"num":null}]"#,
            r#"["a",[[{"k":{"_placeholder":true,"num":5}}]]]"#,
            r#"["a",{"\u005fplaceholder":true,"num":3}]"#,
            r#"["a",{"_placeholder":false,"x":{"_placeholder":true,"num":3}}]"#,
            r#"["a",{"k":1,"k":{"_placeholder":true,"num":9}}]"#,
            r#"["a",{"_placeholder":true,"num":0,"_placeholder":false,"x":[{"_placeholder":true}]}]"#,
            r#"["a",{"_placeholder":true,"num":0,"num":7}]"#,
        ];
        for j in bad {
            assert_eq!(both(j, 2), Err(DecodeError::InvalidPlaceholder), "{j}");
        }
    }

    #[test]
    fn validate_is_a_full_parse() {
        for ok in [
            &b"{}"[..],
            br#" {"a":[1,"\u00e9",{"_placeholder":true}]} "#,
            b"\"x\"",
        ] {
            assert_eq!(validate(ok), Ok(()));
        }
        for bad in [&b"{"[..], b"{\"s\xb4\":1}", b"{} x", b""] {
            assert_eq!(validate(bad), Err(DecodeError::InvalidJson));
        }
    }

    #[test]
    fn invalid_json_is_refused() {
        assert_eq!(check(b"[\"a\",{", 1), Err(DecodeError::InvalidJson));
        assert_eq!(check(b"[\"a\"] x", 1), Err(DecodeError::InvalidJson));
        assert_eq!(check(b"", 1), Ok(()));
    }
}
