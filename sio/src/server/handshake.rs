//! What every socket of a connection shares from its handshake, and socket ids.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// A socket id (20 characters, unique per server).
pub type SocketId = Arc<str>;

/// What the client sent when it connected (Node's `socket.handshake`).
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Request headers of the Engine.IO handshake.
    pub headers: Arc<http::HeaderMap>,
    /// The query string of the handshake request, decoded into pairs.
    pub query: Arc<[(String, String)]>,
    /// The auth payload of the namespace CONNECT (`Null` when none).
    pub auth: serde_json::Value,
    /// The client's address.
    pub address: Option<SocketAddr>,
    /// When the handshake happened.
    pub time: SystemTime,
    /// The request URL (path and query).
    pub url: String,
    /// Whether the connection is TLS (as far as the server knows).
    pub secure: bool,
}

impl Default for Handshake {
    fn default() -> Self {
        Self {
            headers: Arc::default(),
            query: Arc::new([]),
            auth: serde_json::Value::Null,
            address: None,
            time: SystemTime::UNIX_EPOCH,
            url: String::new(),
            secure: false,
        }
    }
}

impl Handshake {
    /// The handshake as Node's servers describe one to each other (`fetchSockets`):
    /// `{headers, time, address, xdomain, secure, issued, url, query, auth}`.
    pub fn to_json(&self) -> serde_json::Value {
        let headers: serde_json::Map<String, serde_json::Value> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_owned(), serde_json::Value::String(v))
            })
            .collect();
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
            url: "/socket.io/?a=1".into(),
            ..Handshake::default()
        };
        let v = h.to_json();
        assert_eq!(v["query"]["a"], "1");
        assert_eq!(v["url"], "/socket.io/?a=1");
        assert_eq!(v["secure"], false);
        assert!(v["headers"].is_object());
        assert_eq!(v["time"], "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
