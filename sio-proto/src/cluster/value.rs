//! The two encodings the Node adapters use for cluster messages, over one dynamic value type
//! ([`rmpv::Value`]): MessagePack as `notepack.io` writes it, and JSON as `JSON.stringify`
//! writes it.
//!
//! Encoding picks the representation `notepack.io` picks for a JavaScript value (smallest
//! integer form, non-integral numbers as float 64, integral numbers as integers), so that a
//! message decoded from Node's bytes re-encodes to the same bytes (numbers in JSON are written
//! as JavaScript writes them). Decoding is bounded: nesting depth is limited, every length is checked against the bytes
//! left before anything is allocated, and trailing bytes are an error (as in `notepack.io`).

use rmpv::Value;

use super::ClusterError;

/// Deepest nesting of arrays and maps accepted by the decoders.
pub const MAX_DEPTH: usize = 64;

/// Decodes one MessagePack value that spans all of `bytes`.
pub fn decode_msgpack(bytes: &[u8]) -> Result<Value, ClusterError> {
    let mut reader = Reader { bytes, pos: 0 };
    let value = reader.value(0)?;
    if reader.pos != bytes.len() {
        return Err(ClusterError::Malformed(
            "trailing bytes after the MessagePack value",
        ));
    }
    Ok(value)
}

/// Decodes one JSON document (nesting bounded by `serde_json`'s recursion limit, 128).
pub fn decode_json(bytes: &[u8]) -> Result<Value, ClusterError> {
    serde_json::from_slice::<Value>(bytes).map_err(|_| ClusterError::Malformed("invalid JSON"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ClusterError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or(ClusterError::Malformed("truncated MessagePack"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, ClusterError> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64, ClusterError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn len(&mut self, n: usize) -> Result<usize, ClusterError> {
        usize::try_from(self.be(n)?).map_err(|_| ClusterError::Malformed("length too large"))
    }

    /// A count of items that each take at least `min_bytes`: more than the bytes left is
    /// malformed, which bounds the allocation to the input size.
    fn count(&mut self, n: usize, min_bytes: usize) -> Result<usize, ClusterError> {
        let count = self.len(n)?;
        let left = self.bytes.len() - self.pos;
        if count.saturating_mul(min_bytes) > left {
            return Err(ClusterError::Malformed("truncated MessagePack"));
        }
        Ok(count)
    }

    fn string(&mut self, len: usize) -> Result<Value, ClusterError> {
        let raw = self.take(len)?;
        let s = std::str::from_utf8(raw)
            .map_err(|_| ClusterError::Malformed("invalid UTF-8 in a string"))?;
        Ok(Value::from(s))
    }

    fn array(&mut self, len: usize, depth: usize) -> Result<Value, ClusterError> {
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, ClusterError> {
        let mut entries = Vec::with_capacity(len);
        for _ in 0..len {
            let key = self.value(depth + 1)?;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }

    fn ext(&mut self, len: usize) -> Result<Value, ClusterError> {
        let kind = self.u8()? as i8;
        Ok(Value::Ext(kind, self.take(len)?.to_vec()))
    }

    fn value(&mut self, depth: usize) -> Result<Value, ClusterError> {
        if depth > MAX_DEPTH {
            return Err(ClusterError::Malformed("MessagePack nested too deeply"));
        }
        let tag = self.u8()?;
        Ok(match tag {
            0x00..=0x7f => Value::from(tag),
            0x80..=0x8f => self.map(usize::from(tag & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(tag & 0x0f), depth)?,
            0xa0..=0xbf => self.string(usize::from(tag & 0x1f))?,
            0xc0 => Value::Nil,
            0xc1 => return Err(ClusterError::Malformed("reserved MessagePack byte 0xc1")),
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (tag - 0xc4))?;
                Value::Binary(self.take(n)?.to_vec())
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (tag - 0xc7))?;
                self.ext(n)?
            }
            0xca => Value::F32(f32::from_bits(self.be(4)? as u32)),
            0xcb => Value::F64(f64::from_bits(self.be(8)?)),
            0xcc..=0xcf => Value::from(self.be(1 << (tag - 0xcc))?),
            0xd0 => Value::from(self.be(1)? as u8 as i8),
            0xd1 => Value::from(self.be(2)? as u16 as i16),
            0xd2 => Value::from(self.be(4)? as u32 as i32),
            0xd3 => Value::from(self.be(8)? as i64),
            0xd4..=0xd8 => self.ext(1 << (tag - 0xd4))?,
            0xd9..=0xdb => {
                let n = self.len(1 << (tag - 0xd9))?;
                self.string(n)?
            }
            0xdc | 0xdd => {
                let n = self.count(2 << (tag - 0xdc), 1)?;
                self.array(n, depth)?
            }
            0xde | 0xdf => {
                let n = self.count(2 << (tag - 0xde), 2)?;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::from(tag as i8),
        })
    }
}

/// Appends the MessagePack form of `value`, as `notepack.io` would write the JavaScript value.
pub fn encode_msgpack(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => write_uint(u, out),
            (None, Some(n)) => write_neg(n, out),
            (None, None) => out.push(0xc0),
        },
        Value::F32(f) => write_float(f64::from(*f), out),
        Value::F64(f) => write_float(*f, out),
        Value::String(s) => {
            let bytes = s.as_bytes();
            let n = bytes.len();
            if n < 0x20 {
                out.push(0xa0 | n as u8);
            } else {
                write_len(n, [0xd9, 0xda, 0xdb], out);
            }
            out.extend_from_slice(bytes);
        }
        Value::Binary(b) => {
            write_len(b.len(), [0xc4, 0xc5, 0xc6], out);
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            if items.len() < 0x10 {
                out.push(0x90 | items.len() as u8);
            } else {
                write_len16(items.len(), [0xdc, 0xdd], out);
            }
            for item in items {
                encode_msgpack(item, out);
            }
        }
        Value::Map(entries) => {
            if entries.len() < 0x10 {
                out.push(0x80 | entries.len() as u8);
            } else {
                write_len16(entries.len(), [0xde, 0xdf], out);
            }
            for (k, v) in entries {
                encode_msgpack(k, out);
                encode_msgpack(v, out);
            }
        }
        Value::Ext(kind, data) => {
            match data.len() {
                1 => out.push(0xd4),
                2 => out.push(0xd5),
                4 => out.push(0xd6),
                8 => out.push(0xd7),
                16 => out.push(0xd8),
                n => write_len(n, [0xc7, 0xc8, 0xc9], out),
            }
            out.push(*kind as u8);
            out.extend_from_slice(data);
        }
    }
}

/// The MessagePack bytes of `value`.
pub fn to_msgpack(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_msgpack(value, &mut out);
    out
}

fn write_len(n: usize, tags: [u8; 3], out: &mut Vec<u8>) {
    if n < 0x100 {
        out.extend_from_slice(&[tags[0], n as u8]);
    } else if n < 0x1_0000 {
        out.push(tags[1]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(tags[2]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn write_len16(n: usize, tags: [u8; 2], out: &mut Vec<u8>) {
    if n < 0x1_0000 {
        out.push(tags[0]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(tags[1]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn write_uint(u: u64, out: &mut Vec<u8>) {
    if u < 0x80 {
        out.push(u as u8);
    } else if u < 0x100 {
        out.extend_from_slice(&[0xcc, u as u8]);
    } else if u < 0x1_0000 {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u < 0x1_0000_0000 {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

fn write_neg(n: i64, out: &mut Vec<u8>) {
    if n >= -0x20 {
        out.push(n as i8 as u8);
    } else if n >= -0x80 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -0x8000 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -0x8000_0000 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A JavaScript number as `notepack.io` writes it: an integral one in the 64-bit integer range
/// as an integer (exact: it is an integer), any other as float 64. (Beyond that range
/// `notepack.io` writes a wrong integer; the float is the number.)
fn write_float(f: f64, out: &mut Vec<u8>) {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 && (-TWO_63..2.0 * TWO_63).contains(&f) {
        if f >= 0.0 {
            write_uint(f as u64, out);
        } else {
            write_neg(f as i64, out);
        }
    } else {
        out.push(0xcb);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    }
}

/// The JSON text of `value` as `JSON.stringify` writes it, or `None` when the value has
/// something JSON cannot carry (binary, extension types, non-string map keys), for which
/// the adapters use MessagePack.
pub fn to_json(value: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    write_json(value, &mut out, &mut |_, _| false).then_some(out)
}

/// What [`write_json_with`] does with a binary value: writes its stand-in to `out`, or
/// returns `false` to give up.
pub(crate) type BinaryHook<'a> = dyn FnMut(&[u8], &mut Vec<u8>) -> bool + 'a;

/// Appends the JSON text of `value` to `out` as [`to_json`] does, except that each binary
/// value, in depth-first order, is written by `on_binary`. `false` when something cannot be
/// written (what is in `out` then is unspecified).
pub(crate) fn write_json_with(
    value: &Value,
    out: &mut Vec<u8>,
    on_binary: &mut BinaryHook,
) -> bool {
    write_json(value, out, on_binary)
}

/// Whether `value` can be carried as JSON without loss.
pub fn json_compatible(value: &Value) -> bool {
    match value {
        Value::Binary(_) | Value::Ext(..) => false,
        Value::String(s) => s.as_str().is_some(),
        Value::Array(items) => items.iter().all(json_compatible),
        Value::Map(entries) => entries
            .iter()
            .all(|(k, v)| k.as_str().is_some() && json_compatible(v)),
        _ => true,
    }
}

fn write_json(value: &Value, out: &mut Vec<u8>, on_binary: &mut BinaryHook) -> bool {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes()),
            (None, Some(n)) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            (None, None) => out.extend_from_slice(b"null"),
        },
        Value::F32(f) => write_json_number(f64::from(*f), out),
        Value::F64(f) => write_json_number(*f, out),
        Value::String(s) => match s.as_str() {
            Some(s) => write_json_str(s, out),
            None => return false,
        },
        Value::Binary(bytes) => return on_binary(bytes, out),
        Value::Ext(..) => return false,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !write_json(item, out, on_binary) {
                    return false;
                }
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let Some(k) = k.as_str() else { return false };
                write_json_str(k, out);
                out.push(b':');
                if !write_json(v, out, on_binary) {
                    return false;
                }
            }
            out.push(b'}');
        }
    }
    true
}

fn write_json_str(s: &str, out: &mut Vec<u8>) {
    // serde_json escapes the same characters as JSON.stringify (quote, backslash, controls).
    if let Ok(text) = serde_json::to_string(s) {
        out.extend_from_slice(text.as_bytes());
    }
}

fn write_json_number(f: f64, out: &mut Vec<u8>) {
    if !f.is_finite() {
        out.extend_from_slice(b"null");
    } else if f.fract() == 0.0 && f.abs() <= MAX_SAFE {
        out.extend_from_slice(itoa::Buffer::new().format(f as i64).as_bytes());
    } else {
        out.extend_from_slice(js_number(f).as_bytes());
    }
}

/// A finite number as JavaScript's `Number.prototype.toString` writes it: the shortest digits
/// that read back as the same number, in positional form for decimal exponents from -6 to 20
/// and as `d.ddde±x` otherwise.
fn js_number(f: f64) -> String {
    // Rust's `{:e}` gives the same shortest digits: `d.ddde-x` or `de x`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i64;
    // The value is 0.d1d2...dk x 10^n.
    let n = exp.parse::<i64>().unwrap_or(0) + 1;
    let mut s = String::new();
    if f < 0.0 {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        s.push_str(&digits[..n as usize]);
        s.push('.');
        s.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-n) as usize));
        s.push_str(&digits);
    } else {
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if n - 1 < 0 { '-' } else { '+' });
        s.push_str(itoa::Buffer::new().format((n - 1).abs()));
    }
    s
}

/// Whether `bytes` hold a JSON object (the adapters' test: the first byte is `{`).
pub fn is_json(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'{')
}

/// Decodes a message that is JSON when it starts with `{` and MessagePack otherwise.
pub fn decode_any(bytes: &[u8]) -> Result<Value, ClusterError> {
    if is_json(bytes) {
        decode_json(bytes)
    } else {
        decode_msgpack(bytes)
    }
}

/// The fields of a decoded map, taken out by name (the last of duplicate keys wins, as in
/// `JSON.parse` and `notepack.io`).
pub(crate) struct Fields(Vec<(Value, Value)>);

impl Fields {
    pub(crate) fn new(value: Value, what: &'static str) -> Result<Self, ClusterError> {
        match value {
            Value::Map(entries) => Ok(Fields(entries)),
            _ => Err(ClusterError::Malformed(what)),
        }
    }

    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        let found = self
            .0
            .iter_mut()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))?;
        Some(std::mem::replace(&mut found.1, Value::Nil))
    }

    /// A field that is absent or `null` (JSON has no `undefined`) is `None`.
    pub(crate) fn opt(&mut self, key: &str) -> Option<Value> {
        self.take(key).filter(|v| !v.is_nil())
    }

    pub(crate) fn req(&mut self, key: &str, what: &'static str) -> Result<Value, ClusterError> {
        self.opt(key).ok_or(ClusterError::Malformed(what))
    }
}

pub(crate) fn string(value: Value, what: &'static str) -> Result<String, ClusterError> {
    match value {
        Value::String(s) => s.into_str().ok_or(ClusterError::Malformed(what)),
        _ => Err(ClusterError::Malformed(what)),
    }
}

/// A room name: a string, or a number (Node keeps numeric room names), as its decimal text.
pub(crate) fn room(value: Value) -> Result<String, ClusterError> {
    match value {
        Value::Integer(i) => Ok(i.to_string()),
        other => string(other, "a room is not a string"),
    }
}

pub(crate) fn rooms(value: Option<Value>) -> Result<Vec<String>, ClusterError> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.into_iter().map(room).collect(),
        Some(_) => Err(ClusterError::Malformed("rooms are not an array")),
    }
}

pub(crate) fn uint(value: Value, what: &'static str) -> Result<u64, ClusterError> {
    match value {
        Value::Integer(i) => i.as_u64().ok_or(ClusterError::Malformed(what)),
        Value::F64(f) if f >= 0.0 && f.fract() == 0.0 && f <= MAX_SAFE => Ok(f as u64),
        _ => Err(ClusterError::Malformed(what)),
    }
}

pub(crate) fn array(value: Value, what: &'static str) -> Result<Vec<Value>, ClusterError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(ClusterError::Malformed(what)),
    }
}

/// Builds a map value from `(key, value)` pairs, skipping `None` values (as both encoders skip
/// `undefined`).
pub(crate) fn map(entries: Vec<(&str, Option<Value>)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (Value::from(k), v)))
            .collect(),
    )
}

pub(crate) fn str_array(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}
