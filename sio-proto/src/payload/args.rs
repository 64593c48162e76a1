//! [`Args`]: the arguments of an event or an ack as they came, JavaScript's `...args`.

use std::fmt;

use bytes::{Bytes, BytesMut};
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeStruct, SerializeTuple};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::payload::{self, PayloadError};

/// The struct name serde_json gives its raw-JSON carrier (`RawValue`): serialised
/// through it, an argument's text is written as it is by serde_json and by this crate.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Every argument of an event or an ack, as it came: JavaScript's `...args`.
///
/// Where a `Vec<serde_json::Value>` cannot tell `["x",[1,2]]` from `["x",1,2]` and sees
/// binary as `{"_placeholder":true,..}` objects, `Args` keeps each argument apart, as its
/// JSON text (object keys in their order, numbers as written), with the packet's binary
/// attachments. Sending an `Args` (`emit`, a broadcast, `ack.send`) spreads it again into
/// exactly those arguments: a relay changes nothing, binary (at any depth) travels as binary.
///
/// Use it as a handler's data parameter (`|socket, args: Args, ack| ..`), as the answer of
/// `emit_with_ack::<_, Args>`, or build one with [`Args::push`].
///
/// ```
/// # fn main() -> Result<(), sio_proto::payload::PayloadError> {
/// let mut args = sio_proto::payload::Args::new();
/// args.push("text")?;
/// args.push(&[1, 2])?;
/// args.push(&bytes::Bytes::from_static(b"\x00\x01"))?;
/// assert_eq!(args.len(), 3);
/// assert_eq!(args.get::<Vec<u8>>(1)?, [1, 2]);
/// assert_eq!(args.get::<bytes::Bytes>(2)?, &b"\x00\x01"[..]);
/// assert_eq!(args.get::<Option<String>>(3)?, None); // not there: JavaScript's `undefined`
/// let (json, attachments) = sio_proto::payload::to_payload(Some("ev"), &args)?;
/// assert_eq!(json, r#"["ev","text",[1,2],{"_placeholder":true,"num":0}]"#);
/// assert_eq!(attachments.len(), 1);
/// # Ok(())
/// # }
/// ```
///
/// `serde_json::to_string(&args)` gives the array of the arguments (their text as it came;
/// binary as serde_json writes bytes). Other data formats are not supported: an argument
/// serialises the way serde_json's `RawValue` does.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Args {
    items: Vec<Item>,
    /// The binary parts the placeholders of `items` refer to (by `num`).
    attachments: Vec<Bytes>,
}

/// One argument.
#[derive(Clone, PartialEq, Eq)]
struct Item {
    /// Its JSON text.
    json: Bytes,
    /// Whether the text holds binary placeholders (which refer to the attachments).
    binary: bool,
}

impl Args {
    /// No argument.
    pub fn new() -> Self {
        Self::default()
    }

    /// The arguments of a payload array after its first `skip` elements (1 for an event's
    /// name, 0 for an ack), keeping slices of `data`.
    pub(crate) fn from_payload(
        data: &Bytes,
        skip: usize,
        attachments: &[Bytes],
    ) -> Result<Self, PayloadError> {
        let elements = payload::split_payload(data, skip)?;
        let mut items = Vec::with_capacity(elements.len());
        for json in elements {
            let binary =
                !attachments.is_empty() && payload::count_placeholders(&json, attachments)? > 0;
            items.push(Item { json, binary });
        }
        Ok(Self {
            items,
            attachments: attachments.to_vec(),
        })
    }

    /// The number of arguments.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no argument.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Appends `value` as one more argument (a tuple or an `Args` is one argument here, an
    /// array; `bytes::Bytes` anywhere is binary).
    pub fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PayloadError> {
        let before = self.attachments.len();
        let mut out = BytesMut::new();
        if let Err(e) = payload::write_value(&mut out, &mut self.attachments, value) {
            self.attachments.truncate(before);
            return Err(e);
        }
        let binary = self.attachments.len() > before;
        self.items.push(Item {
            json: out.freeze(),
            binary,
        });
        Ok(())
    }

    /// Argument `index` (0-based) deserialised as `T`, with the rules of handler
    /// arguments: binary placeholders become bytes where `T` asks for bytes, a
    /// `serde_json::Value` keeps them as objects. An argument that is not there is
    /// JavaScript's `undefined`: `None` for an `Option`, `Null` for a `Value`, an error
    /// otherwise.
    pub fn get<T: DeserializeOwned>(&self, index: usize) -> Result<T, PayloadError> {
        match self.items.get(index) {
            Some(item) => payload::read_arg(&item.json, &self.attachments),
            None => payload::read_missing(index.saturating_add(1)),
        }
    }

    /// The JSON text of argument `index`, as it came (binary parts are placeholders that
    /// refer to [`Args::attachments`]).
    pub fn json(&self, index: usize) -> Option<&str> {
        self.items
            .get(index)
            .and_then(|item| std::str::from_utf8(&item.json).ok())
    }

    /// The binary attachments the placeholders of the arguments refer to.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The arguments in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Arg<'_>> + '_ {
        self.items.iter().map(move |item| Arg {
            item,
            attachments: &self.attachments,
        })
    }

    /// The arguments as JSON values (binary parts stay placeholder objects, see
    /// [`Args::attachments`]).
    pub fn to_values(&self) -> Result<Vec<Value>, PayloadError> {
        self.iter().map(|arg| arg.get()).collect()
    }

    /// Same as [`Args::to_values`], consuming the arguments.
    pub fn into_values(self) -> Result<Vec<Value>, PayloadError> {
        self.to_values()
    }
}

impl TryFrom<Args> for Vec<Value> {
    type Error = PayloadError;

    fn try_from(args: Args) -> Result<Self, PayloadError> {
        args.into_values()
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for arg in self.iter() {
            list.entry(&format_args!("{}", arg.json()));
        }
        list.finish()?;
        if !self.attachments.is_empty() {
            let sizes: Vec<usize> = self.attachments.iter().map(Bytes::len).collect();
            write!(f, " with attachments of {sizes:?} bytes")?;
        }
        Ok(())
    }
}

/// One argument of an [`Args`].
#[derive(Clone, Copy)]
pub struct Arg<'a> {
    item: &'a Item,
    attachments: &'a [Bytes],
}

impl fmt::Debug for Arg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl Arg<'_> {
    /// The argument deserialised as `T` (see [`Args::get`]).
    pub fn get<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        payload::read_arg(&self.item.json, self.attachments)
    }

    /// Its JSON text, as it came.
    pub fn json(&self) -> &str {
        std::str::from_utf8(&self.item.json).unwrap_or_default()
    }

    /// Whether it holds binary data (at any depth).
    pub fn is_binary(&self) -> bool {
        self.item.binary
    }
}

impl Serialize for Args {
    /// A tuple of the arguments: spread into separate arguments when emitted.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut tuple = s.serialize_tuple(self.items.len())?;
        for arg in self.iter() {
            tuple.serialize_element(&arg)?;
        }
        tuple.end()
    }
}

impl Serialize for Arg<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.item.json) {
            Ok(text) if !self.item.binary => {
                // The text as it came: serde_json's raw-JSON carrier.
                let mut raw = s.serialize_struct(RAW_VALUE_TOKEN, 1)?;
                raw.serialize_field(RAW_VALUE_TOKEN, text)?;
                raw.end()
            }
            _ => payload::Transcode {
                json: &self.item.json,
                attachments: self.attachments,
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Args {
    /// Every argument (from this crate's payloads), or the elements of an array (from
    /// other deserializers), each re-encoded as JSON, bytes as attachments.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(crate::payload::deserialize::ARGS_TOKEN, ArgsVisitor)
    }
}

struct ArgsVisitor;

impl<'de> Visitor<'de> for ArgsVisitor {
    type Value = Args;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of arguments")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Args, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Args, A::Error> {
        let mut args = Args::new();
        while seq.next_element_seed(Capture(&mut args))?.is_some() {}
        Ok(args)
    }
}

/// Appends the next element to an [`Args`].
struct Capture<'a>(&'a mut Args);

impl<'de> DeserializeSeed<'de> for Capture<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let args = self.0;
        let before = args.attachments.len();
        let mut out = BytesMut::new();
        if let Err(e) = payload::capture(d, &mut out, &mut args.attachments) {
            args.attachments.truncate(before);
            return Err(e);
        }
        let binary = args.attachments.len() > before;
        args.items.push(Item {
            json: out.freeze(),
            binary,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::payload::{decode, from_payload, to_payload};

    fn b(s: &'static [u8]) -> Bytes {
        Bytes::from_static(s)
    }

    /// The arguments of an event payload, through the zero-copy path and through serde.
    fn both(json: &'static str, att: &[Bytes]) -> (Args, Args) {
        let data = Bytes::from_static(json.as_bytes());
        let fast: Args = decode(&data, 1, att).unwrap();
        let slow: Args = from_payload(&data, 1, att).unwrap();
        (fast, slow)
    }

    /// Relays `json` (an event payload) as the event `x`: the text and attachments sent.
    fn relay(args: &Args) -> (String, Vec<Bytes>) {
        let (json, att) = to_payload(Some("x"), args).unwrap();
        (String::from_utf8(json.to_vec()).unwrap(), att)
    }

    #[test]
    fn every_argument_as_it_came() {
        for (json, count) in [
            (r#"["x",[1,2]]"#, 1),
            (r#"["x",1,2]"#, 2),
            (r#"["x",null]"#, 1),
            (r#"["x"]"#, 0),
            (
                r#"["x",{"b":1,"a":{"z":null,"y":[{"d":0,"c":1}]}},"é\u00e9\n"]"#,
                2,
            ),
            (r#"["x",[],{},"",0,-1.5e-7,true,false,null,[null]]"#, 9),
        ] {
            let (fast, slow) = both(json, &[]);
            assert_eq!(fast.len(), count, "{json}");
            assert_eq!(slow.len(), count, "{json}");
            // Relayed byte for byte.
            assert_eq!(relay(&fast), (json.to_owned(), vec![]), "{json}");
            assert_eq!(relay(&slow).0, relay(&fast).0.replace(r"\u00e9", "é"));
        }
        let (args, _) = both(r#"["x",[1,2]]"#, &[]);
        assert_eq!(args.get::<Vec<u8>>(0).unwrap(), [1, 2]);
        let (args, _) = both(r#"["x",1,2]"#, &[]);
        assert_eq!(args.get::<u8>(1).unwrap(), 2);
        let (args, _) = both(r#"["x",null]"#, &[]);
        assert_eq!(args.get::<Value>(0).unwrap(), Value::Null);
        assert_eq!(args.json(0), Some("null"));
    }

    #[test]
    fn text_kept_verbatim() {
        // Numbers as written, spaces inside an argument, escapes.
        let json = r#"["x", 1.0e2 ,{"k" : "\u0041", "n": 100000000000000000000000}]"#;
        let (fast, _) = both(json, &[]);
        assert_eq!(fast.json(0), Some("1.0e2"));
        assert_eq!(
            relay(&fast).0,
            r#"["x",1.0e2,{"k" : "\u0041", "n": 100000000000000000000000}]"#
        );
        let relayed = relay(&fast).0;
        assert_eq!(
            serde_json::to_string(&fast).unwrap(),
            format!("[{}", &relayed[5..])
        );
        assert_eq!(fast.get::<f64>(0).unwrap(), 100.0);
        assert_eq!(fast.get::<Value>(1).unwrap()["k"], json!("A"));
    }

    #[test]
    fn binary_at_any_depth_is_relayed_as_binary() {
        let att = [b(b"zero"), b(b"one"), b(b"two")];
        let json = concat!(
            r#"["x",{"b":{"_placeholder":true,"num":1},"a":[1,{"_placeholder":true,"num":0}]},"#,
            r#""text",{"_placeholder":true,"num":2}]"#
        );
        let (fast, slow) = both(json, &att);
        for args in [&fast, &slow] {
            assert_eq!(args.len(), 3);
            let flags: Vec<bool> = args.iter().map(|a| a.is_binary()).collect();
            assert_eq!(flags, [true, false, true]);
            assert_eq!(args.get::<Bytes>(2).unwrap(), b(b"two"));
            #[derive(Deserialize)]
            struct Nested {
                b: Bytes,
                a: (u8, Bytes),
            }
            let n: Nested = args.get(0).unwrap();
            assert_eq!((n.b, n.a), (b(b"one"), (1, b(b"zero"))));
            // Sent again: the same structure, keys in their order, attachments numbered
            // in order of appearance.
            let (text, sent) = relay(args);
            assert_eq!(
                text,
                concat!(
                    r#"["x",{"b":{"_placeholder":true,"num":0},"a":[1,{"_placeholder":true,"#,
                    r#""num":1}]},"text",{"_placeholder":true,"num":2}]"#
                )
            );
            assert_eq!(sent, [b(b"one"), b(b"zero"), b(b"two")]);
        }
        // As JSON values, binary parts are placeholder objects.
        let values = fast.to_values().unwrap();
        assert_eq!(values[2], json!({"_placeholder": true, "num": 2}));
        // Behind other binary arguments, numbering goes on.
        let (json, sent) = to_payload(Some("x"), &(b(b"first"), &fast)).unwrap();
        assert!(json.starts_with(
            br#"["x",{"_placeholder":true,"num":0},[{"b":{"_placeholder":true,"num":1}"#
        ));
        assert_eq!(sent.len(), 4);
    }

    #[test]
    fn relayed_objects_keep_their_members_and_placeholders_follow_the_decoder_rule() {
        let att = [b(b"zero"), b(b"one")];
        // Nested members in their order, a repeated key kept as written; a placeholder
        // whose `_placeholder` is not its first key, with a member Node ignores.
        let json = concat!(
            r#"["x",{"z":{"b":1,"a":2,"b":3},"p":{"k":0,"_placeholder":true,"num":1}},"#,
            r#"{"num":9,"_placeholder":true,"num":0}]"#
        );
        let (fast, slow) = both(json, &att);
        for args in [&fast, &slow] {
            let flags: Vec<bool> = args.iter().map(|a| a.is_binary()).collect();
            assert_eq!(flags, [true, true]);
            assert_eq!(args.get::<Bytes>(1).unwrap(), b(b"zero"));
            let (text, sent) = relay(args);
            assert_eq!(
                text,
                concat!(
                    r#"["x",{"z":{"b":1,"a":2,"b":3},"p":{"_placeholder":true,"num":0}},"#,
                    r#"{"_placeholder":true,"num":1}]"#
                )
            );
            assert_eq!(sent, [b(b"one"), b(b"zero")]);
        }
    }

    #[test]
    fn bad_placeholders_are_errors() {
        let data = Bytes::from_static(br#"["x",{"_placeholder":true,"num":3}]"#);
        assert!(decode::<Args>(&data, 1, &[b(b"a")]).is_err());
        assert!(from_payload::<Args>(&data, 1, &[b(b"a")]).is_err());
        // Without attachments, such an object is plain JSON (as in JavaScript).
        let args: Args = decode(&data, 1, &[]).unwrap();
        assert_eq!(relay(&args).0, r#"["x",{"_placeholder":true,"num":3}]"#);
        for bad in [&br#"["x",1"#[..], br#"["x",nope]"#, br#"{}"#, br#"[]"#] {
            let data = Bytes::copy_from_slice(bad);
            assert!(decode::<Args>(&data, 1, &[]).is_err());
            assert!(from_payload::<Args>(&data, 1, &[]).is_err());
        }
    }

    #[test]
    fn deep_nesting_neither_panics_nor_overflows() {
        let att = [b(b"deep")];
        for depth in [1usize, 64, 126, 127, 128, 200, 5000] {
            let placeholder = r#"{"_placeholder":true,"num":0}"#;
            let json = format!(
                r#"["x",{}{}{}]"#,
                "[".repeat(depth),
                placeholder,
                "]".repeat(depth)
            );
            let data = Bytes::from(json.clone());
            for args in [decode::<Args>(&data, 1, &att), from_payload(&data, 1, &att)] {
                // Past serde_json's recursion limit the payload is refused, nothing else.
                let Ok(args) = args else {
                    assert!(depth > 120, "depth {depth}");
                    continue;
                };
                let (text, sent) = relay(&args);
                assert_eq!(text, json);
                assert_eq!(sent, att);
            }
            let plain = json.replace(placeholder, "1");
            let data = Bytes::from(plain.clone());
            if let Ok(args) = decode::<Args>(&data, 1, &[]) {
                assert_eq!(relay(&args).0, plain);
            }
        }
    }

    #[test]
    fn built_by_hand() {
        let mut args = Args::new();
        assert!(args.is_empty());
        assert_eq!(relay(&args).0, r#"["x"]"#);
        args.push(&Value::Null).unwrap();
        args.push(&(1, "a")).unwrap();
        args.push(&json!({"k": b"not bytes"})).unwrap();
        args.push(&b(b"\x00")).unwrap();
        assert_eq!(args.len(), 4);
        let (text, att) = relay(&args);
        assert_eq!(
            text,
            r#"["x",null,[1,"a"],{"k":[110,111,116,32,98,121,116,101,115]},{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(att, [b(b"\x00")]);
        assert_eq!(args.get::<(u8, String)>(1).unwrap(), (1, "a".to_owned()));
        assert_eq!(args.get::<Option<u8>>(0).unwrap(), None);
        assert_eq!(args.get::<Option<u8>>(9).unwrap(), None);
        assert_eq!(args.get::<Value>(9).unwrap(), Value::Null);
        assert!(args.get::<u8>(9).is_err());
        let values: Vec<Value> = args.clone().try_into().unwrap();
        assert_eq!(values[1], json!([1, "a"]));
        // An Args pushed into another is one argument, an array.
        let mut outer = Args::new();
        outer.push(&args).unwrap();
        outer.push("end").unwrap();
        let (text, att) = relay(&outer);
        assert!(text.starts_with(r#"["x",[null,[1,"a"],"#), "{text}");
        assert!(
            text.ends_with(r#"{"_placeholder":true,"num":0}],"end"]"#),
            "{text}"
        );
        assert_eq!(att, [b(b"\x00")]);
        // A value that cannot be serialised leaves the arguments as they were.
        let map: std::collections::BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert!(outer.push(&(b(b"x"), map)).is_err());
        assert_eq!(outer.len(), 2);
        assert_eq!(outer.attachments().len(), 1);
        assert_eq!(format!("{outer:?}").matches("end").count(), 1);
    }

    #[test]
    fn handler_targets_beside_args() {
        // An ack answered with `Args` is read back as the same arguments.
        let mut args = Args::new();
        args.push("a").unwrap();
        args.push(&[1, 2][..]).unwrap();
        let (json, att) = to_payload(None, &args).unwrap();
        let back: Args = decode(&json, 0, &att).unwrap();
        assert_eq!(back, args);
        let back: Args = from_payload(&json, 0, &att).unwrap();
        assert_eq!(back, args);
        let (a, rest): (String, Vec<u8>) = from_payload(&json, 0, &att).unwrap();
        assert_eq!((a.as_str(), rest.as_slice()), ("a", &[1, 2][..]));
    }
}
