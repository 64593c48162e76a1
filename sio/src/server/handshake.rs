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
    /// The first value of query parameter `key`.
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
