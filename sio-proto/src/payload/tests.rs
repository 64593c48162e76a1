//! Unit tests of the payload rules.

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
    let encoded = encode_event(&crate::socket::Nsp::ROOT, "x", &Value::Null, Some(3));
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
fn a_payload_that_is_not_a_complete_array_says_so() {
    // The arguments are read as they come; an incomplete or non-array payload still reports
    // that rather than the first type mismatch the target meets.
    for (bad, says) in [
        (&br#"{"a":1}"#[..], "payload is not a JSON array"),
        (b"[1,", "EOF while parsing"),
        (br#"["x","a""#, "EOF while parsing"),
        (b"", "EOF while parsing"),
    ] {
        let err = from_payload::<(String,)>(bad, 0, &[]).unwrap_err();
        assert!(err.to_string().starts_with(says), "{err}");
        let err = from_payload::<Option<u8>>(bad, 0, &[]).unwrap_err();
        assert!(err.to_string().starts_with(says), "{err}");
    }
    // Missing and extra arguments of several targets in one payload.
    let json = br#"["x",1,[2,3],{"k":[4]}]"#;
    let t: (u8, Vec<u8>, Value, Option<u8>, ()) = from_payload(json, 1, &[]).unwrap();
    assert_eq!(t, (1, vec![2, 3], json!({"k": [4]}), None, ()));
    let all: Vec<Value> = from_payload(json, 1, &[]).unwrap();
    assert_eq!(all.len(), 3);
    let rest: Vec<Value> = from_payload(json, 2, &[]).unwrap();
    assert_eq!(rest, [json!([2, 3]), json!({"k": [4]})]);
    // One argument: a sequence target takes it, not the list.
    let one: Vec<u8> = from_payload(br#"["x",[5,6]]"#, 1, &[]).unwrap();
    assert_eq!(one, [5, 6]);
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
    // Text that is not UTF-8, inside a string or out of one, is refused by every reader.
    for bad in [
        &b"[\"ev\",\"\xff\"]"[..],
        b"[\"ev\",1]\xc3",
        b"[\"ev\",{\"\xe9\":1}]",
    ] {
        let data = Bytes::copy_from_slice(bad);
        assert!(from_payload::<(String,)>(bad, 1, &[]).is_err());
        assert!(from_payload::<Value>(bad, 1, &[]).is_err());
        assert!(args_as_values(bad, 1).is_err());
        assert!(Args::from_payload(&data, 1, &[]).is_err());
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
    let bytes: Bytes = from_payload(br#"["up",{"_placeholder":true,"num":0}]"#, 1, &att).unwrap();
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
