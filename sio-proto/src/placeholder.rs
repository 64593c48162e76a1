//! Binary placeholders: in the JSON of a BINARY_EVENT or BINARY_ACK, the object
//! `{"_placeholder":true,"num":N}` stands for attachment `N`. This module is the one place that
//! decides what a placeholder is; the socket decoder and the payload codec both use it.
//!
//! The rule is the one of Node's `socket.io-parser` (`reconstructPacket`): an object whose
//! `_placeholder` is `true` is a placeholder, wherever that key sits among its members, and its
//! `num` must be a number `>= 0` and below the attachment count ("illegal attachments"
//! otherwise); its other members are not looked at (the whole object stands for the
//! attachment). Any other object or array is searched recursively. An attachment no
//! placeholder names is not an error. As `JSON.parse` does, when a key appears twice in one
//! object only its last value counts, for `_placeholder`, for `num` and for any other member
//! (a placeholder under a key that is repeated later is gone). A `num` written as a float is
//! an index when it is integral (`1.0`, `-0`); one deliberate difference with Node, stricter:
//! a `num` that is not an integer (`0.5`, which Node turns into a missing attachment) is
//! refused.
//!
//! - [`Object`] is the rule for one object, fed its members in order; the payload codec's
//!   typed decoder (`payload::wrap`) runs it over each object it reads ahead where the target
//!   may take bytes, [`check_value`] and [`map_num`] over parsed values.
//! - [`count`] (and [`check`]) is the walker: it runs the rule over the JSON text in one pass
//!   without building a tree (it allocates only for keys with escapes, and to remember the
//!   members that hold placeholders beyond two in one object), for the decoder's eager check of each completed binary
//!   packet and for the payload codec's `Args`, which must know which arguments hold binary.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::DecodeError;

/// Key marking a binary placeholder object.
const PLACEHOLDER_KEY: &str = "_placeholder";
/// Key holding the attachment index in a binary placeholder object.
const NUM_KEY: &str = "num";

/// What the rule needs to know of one member's value.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scalar {
    /// The value is `true`.
    is_true: bool,
    /// The value is a number usable as an index.
    index: Option<u64>,
}

impl Scalar {
    /// What a parsed value is, as far as placeholders care.
    pub(crate) fn of_value(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Bool(b) => Scalar {
                is_true: *b,
                index: None,
            },
            serde_json::Value::Number(n) => Scalar {
                is_true: false,
                index: n.as_u64().or_else(|| n.as_f64().and_then(float_index)),
            },
            _ => Scalar::default(),
        }
    }
}

/// The placeholder rule for one object, fed its members in order: a repeated key keeps its
/// last value.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Object {
    placeholder: bool,
    num: Option<u64>,
}

impl Object {
    /// One member, in the order of the text.
    pub(crate) fn member(&mut self, key: &str, value: Scalar) {
        match key {
            PLACEHOLDER_KEY => self.placeholder = value.is_true,
            NUM_KEY => self.num = value.index,
            _ => {}
        }
    }

    /// `None` when the object is not a placeholder; else its `num` as an index (`None` inside
    /// when it is missing or not a non-negative integer).
    pub(crate) fn placeholder(self) -> Option<Option<u64>> {
        self.placeholder.then_some(self.num)
    }

    /// The rule over members already parsed, in their order.
    pub(crate) fn of_members<'a>(
        members: impl IntoIterator<Item = (&'a str, &'a serde_json::Value)>,
    ) -> Option<Option<u64>> {
        let mut object = Object::default();
        for (key, value) in members {
            object.member(key, Scalar::of_value(value));
        }
        object.placeholder()
    }
}

/// Whether a placeholder's `num` names one of `count` attachments.
pub(crate) fn names_attachment(num: Option<u64>, count: usize) -> bool {
    num.is_some_and(|n| n < count as u64)
}

/// The attachment index of a parsed object when it is a placeholder with a usable `num` (a
/// `serde_json::Map` already kept the last value of a repeated key).
pub(crate) fn map_num(m: &serde_json::Map<String, serde_json::Value>) -> Option<u64> {
    Object::of_members(m.iter().map(|(k, v)| (k.as_str(), v))).flatten()
}

/// `data` as text for `serde_json` to read (see `payload::json_str`); not UTF-8 is not JSON.
pub(crate) fn json_text(data: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(data).map_err(|_| DecodeError::InvalidJson)
}

/// Counts the placeholders of the JSON text `data`, checking each against `count`
/// attachments: `InvalidPlaceholder` when one names no attachment, `InvalidJson` when `data`
/// is not one JSON value. `Ok(0)` for an empty payload.
pub(crate) fn count(data: &[u8], count: usize) -> Result<usize, DecodeError> {
    if data.is_empty() {
        return Ok(0);
    }
    let mut de = serde_json::Deserializer::from_str(json_text(data)?);
    let seen = Walk { count }
        .deserialize(&mut de)
        .map_err(|_| DecodeError::InvalidJson)?;
    de.end().map_err(|_| DecodeError::InvalidJson)?;
    if seen.ok {
        Ok(seen.placeholders)
    } else {
        Err(DecodeError::InvalidPlaceholder)
    }
}

/// Checks every placeholder of the JSON text `data` against `count` attachments. `Ok` for an
/// empty payload.
pub(crate) fn check(data: &[u8], count: usize) -> Result<(), DecodeError> {
    self::count(data, count).map(drop)
}

/// Checks that `data` is one well-formed JSON value, strings included (valid UTF-8, escapes
/// that decode), as a `serde_json::Value` parse would, without building one.
pub(crate) fn validate(data: &[u8]) -> Result<(), DecodeError> {
    let mut de = serde_json::Deserializer::from_str(json_text(data)?);
    Walk { count: 0 }
        .deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|_| DecodeError::InvalidJson)
}

/// The same rule over a parsed value.
pub(crate) fn check_value(v: &serde_json::Value, count: usize) -> Result<(), DecodeError> {
    match v {
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| check_value(x, count)),
        serde_json::Value::Object(m) => {
            match Object::of_members(m.iter().map(|(k, v)| (k.as_str(), v))) {
                Some(num) if names_attachment(num, count) => Ok(()),
                Some(_) => Err(DecodeError::InvalidPlaceholder),
                None => m.values().try_for_each(|x| check_value(x, count)),
            }
        }
        _ => Ok(()),
    }
}

fn float_index(f: f64) -> Option<u64> {
    // 2^64 as f64; integral floats below it convert exactly.
    (f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0).then_some(f as u64)
}

/// What the walker found in a JSON value.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// No invalid placeholder inside.
    ok: bool,
    /// Valid placeholders inside (the value itself, when it is one).
    placeholders: usize,
    /// The value as a member of a possible placeholder.
    scalar: Scalar,
}

impl Seen {
    const PLAIN: Seen = Seen {
        ok: true,
        placeholders: 0,
        scalar: Scalar {
            is_true: false,
            index: None,
        },
    };

    fn scalar(scalar: Scalar) -> Seen {
        Seen {
            scalar,
            ..Seen::PLAIN
        }
    }

    /// Whether an object must remember this member (in case its key comes again).
    fn matters(&self) -> bool {
        !self.ok || self.placeholders > 0
    }
}

/// The walker: one value.
#[derive(Clone, Copy)]
struct Walk {
    count: usize,
}

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = Seen;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Seen, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = Seen;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Seen, E> {
        Ok(Seen::scalar(Scalar {
            is_true: v,
            index: None,
        }))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Seen, E> {
        Ok(Seen::scalar(Scalar {
            is_true: false,
            index: Some(v),
        }))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Seen, E> {
        Ok(Seen::scalar(Scalar {
            is_true: false,
            index: u64::try_from(v).ok(),
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Seen, E> {
        Ok(Seen::scalar(Scalar {
            is_true: false,
            index: float_index(v),
        }))
    }

    fn visit_str<E>(self, _: &str) -> Result<Seen, E> {
        Ok(Seen::PLAIN)
    }

    fn visit_unit<E>(self) -> Result<Seen, E> {
        Ok(Seen::PLAIN)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seen, A::Error> {
        let mut all = Seen::PLAIN;
        while let Some(s) = seq.next_element_seed(self)? {
            all.ok &= s.ok;
            all.placeholders += s.placeholders;
        }
        Ok(all)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen, A::Error> {
        // The members whose (last) value holds placeholders, valid or not: a later value of
        // the same key replaces the earlier one, as in JavaScript.
        let mut kept = Kept::default();
        let mut object = Object::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let s = map.next_value_seed(self)?;
            object.member(&key, s.scalar);
            // Nothing kept and nothing to keep: the usual member costs no more.
            if kept.first.is_some() || s.matters() {
                kept.set(key, s);
            }
        }
        Ok(match object.placeholder() {
            Some(num) => {
                let ok = names_attachment(num, self.count);
                Seen {
                    ok,
                    placeholders: usize::from(ok),
                    ..Seen::PLAIN
                }
            }
            None => kept.total(),
        })
    }
}

/// A member kept by [`Kept`]: its key and what its value holds.
type Member<'de> = (Cow<'de, str>, Seen);

/// The members of one object whose (last) value holds placeholders: the first two in place,
/// any others on the heap, so that an ordinary object costs no allocation. `second` is only
/// used when `first` is, `more` only when both are.
#[derive(Default)]
struct Kept<'de> {
    first: Option<Member<'de>>,
    second: Option<Member<'de>>,
    more: Vec<Member<'de>>,
}

impl<'de> Kept<'de> {
    /// The (last) value `seen` of the member `key`: replaces the one kept for the same key,
    /// and is kept if it matters.
    #[inline]
    fn set(&mut self, key: Cow<'de, str>, seen: Seen) {
        if self.first.is_some() {
            self.forget(&key);
        }
        if !seen.matters() {
            return;
        }
        if self.first.is_none() {
            self.first = Some((key, seen));
        } else if self.second.is_none() {
            self.second = Some((key, seen));
        } else {
            self.more.push((key, seen));
        }
    }

    /// Drops the member kept for `key`, if any (the others move up to keep the slots filled
    /// in order).
    fn forget(&mut self, key: &str) {
        let is = |slot: &Option<Member<'_>>| slot.as_ref().is_some_and(|(k, _)| k == key);
        if is(&self.first) {
            self.first = self.second.take();
            self.second = self.more.pop();
        } else if is(&self.second) {
            self.second = self.more.pop();
        } else if let Some(i) = self.more.iter().position(|(k, _)| k == key) {
            self.more.swap_remove(i);
        }
    }

    /// What the kept members hold together.
    fn total(&self) -> Seen {
        let mut all = Seen::PLAIN;
        let mut add = |s: &Seen| {
            all.ok &= s.ok;
            all.placeholders += s.placeholders;
        };
        if let Some((_, s)) = &self.first {
            add(s);
        }
        if let Some((_, s)) = &self.second {
            add(s);
        }
        for (_, s) in &self.more {
            add(s);
        }
        all
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

    /// Objects with more members holding placeholders than the walker keeps in place, and
    /// keys repeated among them: counted as a parsed value would be.
    #[test]
    fn many_members_with_placeholders() {
        let p0 = r#"{"_placeholder":true,"num":0}"#;
        let bad = r#"{"_placeholder":true,"num":9}"#;
        let cases = [
            (format!(r#"{{"a":{p0},"b":{p0},"c":{p0},"d":{p0}}}"#), Ok(4)),
            (format!(r#"{{"a":{p0},"b":{p0},"c":{p0},"a":1}}"#), Ok(2)),
            (
                format!(r#"{{"a":{p0},"b":{p0},"c":{p0},"b":1,"c":2}}"#),
                Ok(1),
            ),
            (
                format!(r#"{{"a":{bad},"b":{p0},"c":{p0},"a":{p0}}}"#),
                Ok(3),
            ),
            (
                format!(r#"{{"a":{p0},"b":{p0},"c":{bad},"d":{p0},"c":0}}"#),
                Ok(3),
            ),
            (
                format!(r#"{{"a":{p0},"b":{p0},"c":{p0},"b":{bad}}}"#),
                Err(DecodeError::InvalidPlaceholder),
            ),
            (
                format!(r#"{{"a":{p0},"b":{bad},"c":{p0},"a":1,"c":1}}"#),
                Err(DecodeError::InvalidPlaceholder),
            ),
        ];
        for (json, want) in cases {
            assert_eq!(count(json.as_bytes(), 2), want, "{json}");
            assert_eq!(both(&json, 2), want.map(drop), "{json}");
        }
    }

    /// Tricky arguments, with 2 attachments: valid or not, the placeholders counted, and the
    /// attachment the argument itself stands for when it is a placeholder.
    const TRICKY: &[(&str, Option<usize>, Option<usize>)] = &[
        // (argument, Some(placeholders) when valid, attachment when a placeholder)
        (r#"{"_placeholder":true,"num":0}"#, Some(1), Some(0)),
        (r#"{"_placeholder":true,"num":1.0}"#, Some(1), Some(1)),
        (r#"{"_placeholder":true,"num":-0}"#, Some(1), Some(0)),
        (r#"{"_placeholder":true,"num":1e0}"#, Some(1), Some(1)),
        (r#"{"num":1,"_placeholder":true}"#, Some(1), Some(1)),
        (r#"{"x":[1],"_placeholder":true,"num":1}"#, Some(1), Some(1)),
        (
            r#"{"\u005fplaceholder":true,"n\u0075m":1}"#,
            Some(1),
            Some(1),
        ),
        // A repeated key: its last value counts.
        (r#"{"_placeholder":true,"num":9,"num":0}"#, Some(1), Some(0)),
        (r#"{"_placeholder":true,"num":0,"num":9}"#, None, None),
        (
            r#"{"_placeholder":false,"_placeholder":true,"num":1}"#,
            Some(1),
            Some(1),
        ),
        (
            r#"{"_placeholder":true,"num":0,"_placeholder":false}"#,
            Some(0),
            None,
        ),
        (
            r#"{"k":{"_placeholder":true,"num":9},"k":1}"#,
            Some(0),
            None,
        ),
        (r#"{"k":1,"k":{"_placeholder":true,"num":9}}"#, None, None),
        (
            r#"{"k":{"_placeholder":true,"num":0},"k":{"_placeholder":true,"num":1}}"#,
            Some(1),
            None,
        ),
        // The other members of a placeholder are not looked at.
        (
            r#"{"_placeholder":true,"num":1,"x":{"_placeholder":true,"num":9}}"#,
            Some(1),
            Some(1),
        ),
        // Not placeholders: `_placeholder` not `true`.
        (r#"{"_placeholder":"true","num":9}"#, Some(0), None),
        (r#"{"_placeholder":1,"num":9}"#, Some(0), None),
        (r#"{"num":0}"#, Some(0), None),
        // Nested.
        (
            r#"[[{"k":{"_placeholder":true,"num":1}}],{"_placeholder":true,"num":0}]"#,
            Some(2),
            None,
        ),
        (r#"[[{"k":{"_placeholder":true,"num":2}}]]"#, None, None),
        // Invalid `num`: negative, fractional, huge, not a number, missing.
        (r#"{"_placeholder":true,"num":-1}"#, None, None),
        (r#"{"_placeholder":true,"num":0.5}"#, None, None),
        (r#"{"_placeholder":true,"num":1e30}"#, None, None),
        (
            r#"{"_placeholder":true,"num":18446744073709551616}"#,
            None,
            None,
        ),
        (r#"{"_placeholder":true,"num":"0"}"#, None, None),
        (r#"{"_placeholder":true,"num":null}"#, None, None),
        (r#"{"_placeholder":true}"#, None, None),
    ];

    #[test]
    fn decoder_and_payload_codec_agree() {
        use bytes::Bytes;

        let att = [Bytes::from_static(b"zero"), Bytes::from_static(b"one")];
        for &(arg, placeholders, stands_for) in TRICKY {
            let data = format!(r#"["ev",{arg}]"#);
            let valid = placeholders.is_some();
            // The socket decoder: the eager check of a completed binary packet.
            let mut d = crate::socket::Decoder::default();
            let text = Bytes::from(format!("52-{data}"));
            assert_eq!(d.decode_text(text), Ok(None), "{arg}");
            assert_eq!(d.decode_binary(att[0].clone()), Ok(None), "{arg}");
            let packet = d.decode_binary(att[1].clone());
            match placeholders {
                Some(_) => assert!(matches!(packet, Ok(Some(_))), "{arg}: {packet:?}"),
                None => assert_eq!(packet, Err(DecodeError::InvalidPlaceholder), "{arg}"),
            }
            // The same rule over a parsed value.
            let v: serde_json::Value = serde_json::from_str(&data).unwrap();
            assert_eq!(check_value(&v, 2).is_ok(), valid, "{arg}");
            // The payload codec: `Args` counts the placeholders of each argument.
            let counted = crate::payload::count_placeholders(arg.as_bytes(), &att);
            assert_eq!(counted.ok(), placeholders, "{arg}");
            let args =
                crate::payload::decode::<crate::payload::Args>(&Bytes::from(data.clone()), 1, &att);
            assert_eq!(args.is_ok(), valid, "{arg}");
            // The payload codec's typed decode: the attachment the argument stands for.
            let typed = crate::payload::from_payload::<Bytes>(data.as_bytes(), 1, &att);
            match stands_for {
                Some(i) => assert_eq!(typed.ok().as_ref(), Some(&att[i]), "{arg}"),
                None => assert!(typed.is_err(), "{arg}"),
            }
            // A target that takes any type (`deserialize_any`): bytes too.
            #[derive(Debug, PartialEq, serde::Deserialize)]
            #[serde(untagged)]
            enum AnyArg {
                Bin(Bytes),
                Other(serde_json::Value),
            }
            let any = crate::payload::from_payload::<AnyArg>(data.as_bytes(), 1, &att);
            match (stands_for, placeholders) {
                (Some(i), _) => assert_eq!(any.ok(), Some(AnyArg::Bin(att[i].clone())), "{arg}"),
                (None, None) => assert!(any.is_err(), "{arg}"),
                (None, Some(_)) => {}
            }
            if let (Some(i), serde_json::Value::Object(m)) = (stands_for, &v[1]) {
                assert_eq!(crate::socket::packet::placeholder_num(m), Some(i), "{arg}");
            }
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
