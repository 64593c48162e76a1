//! What every socket of a connection shares from its handshake, and socket ids.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

/// A socket id (20 characters, unique per server).
pub type SocketId = Arc<str>;

/// The request headers of a handshake (Node's `socket.handshake.headers`), shared by the
/// sockets of a connection. It dereferences to an [`http::HeaderMap`] (`headers.get("cookie")`,
/// `headers.iter()`), which is built the first time it is looked at: until then the headers
/// are kept as the bytes they came in, a few hundred bytes for each idle connection instead
/// of a map and its buckets.
#[derive(Clone, Default)]
pub struct Headers(Arc<HeadersInner>);

#[derive(Default)]
struct HeadersInner {
    /// `name:value\n` for each header, in order (a name holds no `:`, a value no `\n`).
    raw: Bytes,
    map: OnceLock<Box<HeaderMap>>,
}

impl Headers {
    /// The headers of `map`, copied (one buffer for all of them: nothing of the request's own
    /// buffers stays alive).
    pub fn copied_from(map: &HeaderMap) -> Self {
        let len = map
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 2)
            .sum();
        let mut raw = Vec::with_capacity(len);
        for (k, v) in map {
            raw.extend_from_slice(k.as_str().as_bytes());
            raw.push(b':');
            raw.extend_from_slice(v.as_bytes());
            raw.push(b'\n');
        }
        Self(Arc::new(HeadersInner {
            raw: Bytes::from(raw),
            map: OnceLock::new(),
        }))
    }

    /// The header map (built on first use; values are views of the kept bytes).
    pub fn map(&self) -> &HeaderMap {
        self.0.map.get_or_init(|| {
            let raw = &self.0.raw;
            let lines = raw.split(|&b| b == b'\n').filter(|l| !l.is_empty());
            let mut map = HeaderMap::with_capacity(lines.clone().count());
            let mut at = 0;
            for line in lines {
                let start = at;
                at += line.len() + 1;
                let Some(colon) = line.iter().position(|&b| b == b':') else {
                    continue;
                };
                let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(&line[..colon]),
                    HeaderValue::from_maybe_shared(
                        raw.slice(start + colon + 1..start + line.len()),
                    ),
                ) else {
                    continue;
                };
                map.append(name, value);
            }
            Box::new(map)
        })
    }
}

impl std::ops::Deref for Headers {
    type Target = HeaderMap;

    fn deref(&self) -> &HeaderMap {
        self.map()
    }
}

impl From<HeaderMap> for Headers {
    fn from(map: HeaderMap) -> Self {
        Self::copied_from(&map)
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map().fmt(f)
    }
}

/// What the client sent when it connected (Node's `socket.handshake`).
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Request headers of the Engine.IO handshake.
    pub headers: Headers,
    /// The query string of the handshake request, decoded into pairs.
    pub query: Arc<[(String, String)]>,
    /// The auth payload of the namespace CONNECT (`Null` when none).
    pub auth: serde_json::Value,
    /// The client's address.
    pub address: Option<SocketAddr>,
    /// When the handshake happened.
    pub time: SystemTime,
    /// The request URL (path and query), shared by the sockets of the connection.
    pub url: Arc<str>,
    /// Whether the connection is TLS (as far as the server knows).
    pub secure: bool,
}

impl Default for Handshake {
    fn default() -> Self {
        Self {
            headers: Headers::default(),
            query: Arc::new([]),
            auth: serde_json::Value::Null,
            address: None,
            time: SystemTime::UNIX_EPOCH,
            url: Arc::from(""),
            secure: false,
        }
    }
}

impl Handshake {
    /// The handshake as Node's servers describe one to each other (`fetchSockets`):
    /// `{headers, time, address, xdomain, secure, issued, url, query, auth}`.
    pub fn to_json(&self) -> serde_json::Value {
        // A repeated header is one string, as in Node's `req.headers`: `cookie` values joined
        // with "; ", others with ", ".
        let mut headers = serde_json::Map::new();
        for (k, v) in self.headers.iter() {
            let v = String::from_utf8_lossy(v.as_bytes());
            match headers.get_mut(k.as_str()) {
                Some(serde_json::Value::String(s)) => {
                    s.push_str(if k == http::header::COOKIE {
                        "; "
                    } else {
                        ", "
                    });
                    s.push_str(&v);
                }
                _ => {
                    headers.insert(k.as_str().to_owned(), v.into_owned().into());
                }
            }
        }
        let query: serde_json::Map<String, serde_json::Value> = self
            .query
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let issued = self
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        serde_json::json!({
            "headers": headers,
            "time": httpdate::fmt_http_date(self.time),
            "address": self.address.map(|a| a.ip().to_string()).unwrap_or_default(),
            "xdomain": self.headers.contains_key(http::header::ORIGIN),
            "secure": self.secure,
            "issued": issued,
            "url": self.url,
            "query": query,
            "auth": self.auth,
        })
    }

    /// The first value of query parameter `key`.
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_json_has_nodes_fields() {
        let h = Handshake {
            query: Arc::new([("a".into(), "1".into())]),
            url: Arc::from("/socket.io/?a=1"),
            ..Handshake::default()
        };
        let v = h.to_json();
        assert_eq!(v["query"]["a"], "1");
        assert_eq!(v["url"], "/socket.io/?a=1");
        assert_eq!(v["secure"], false);
        assert!(v["headers"].is_object());
        assert_eq!(v["time"], "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn headers_kept_as_bytes_read_as_a_map() {
        let mut src = HeaderMap::new();
        src.insert(
            http::header::HOST,
            HeaderValue::from_static("example.com:3000"),
        );
        src.append("x-token", HeaderValue::from_static("a:b:c"));
        src.append("x-token", HeaderValue::from_static("second"));
        src.insert(
            http::header::COOKIE,
            HeaderValue::from_bytes(b"k=v; \xe9").unwrap(),
        );
        src.insert("x-empty", HeaderValue::from_static(""));
        let h = Headers::copied_from(&src);
        assert!(h.0.map.get().is_none(), "built before it was looked at");
        assert_eq!(h.get("host").unwrap(), "example.com:3000");
        let tokens: Vec<_> = h.get_all("x-token").iter().collect();
        assert_eq!(tokens, ["a:b:c", "second"]);
        assert_eq!(h.get("cookie").unwrap().as_bytes(), b"k=v; \xe9");
        assert_eq!(h.get("x-empty").unwrap(), "");
        assert_eq!(h.len(), src.len());
        assert_eq!(*h.map(), src);
        let v = Handshake {
            headers: h,
            ..Handshake::default()
        }
        .to_json();
        assert_eq!(v["headers"]["x-token"], "a:b:c, second");
        assert_eq!(Headers::default().len(), 0);
    }
}
