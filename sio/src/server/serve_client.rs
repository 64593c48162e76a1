//! `serveClient`: the official client bundle, read from a configured folder (for example the
//! `dist/` folder of the npm `socket.io-client` package), with an ETag, 304 answers, and gzip
//! when the client accepts it. Files are read once and kept in memory.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;

use super::socket::lock;
use super::ServerInner;

/// Files served, as named under the path (`/socket.io/socket.io.js`, ...).
const FILES: &[&str] = &[
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
];

struct Cached {
    plain: Bytes,
    gzip: Bytes,
    etag: HeaderValue,
}

fn cache() -> &'static Mutex<HashMap<std::path::PathBuf, std::sync::Arc<Cached>>> {
    static CACHE: OnceLock<Mutex<HashMap<std::path::PathBuf, std::sync::Arc<Cached>>>> =
        OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

fn load(path: &std::path::Path) -> Option<std::sync::Arc<Cached>> {
    if let Some(c) = lock(cache()).get(path) {
        return Some(c.clone());
    }
    let plain = Bytes::from(std::fs::read(path).ok()?);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&plain).ok()?;
    let gzip = Bytes::from(enc.finish().ok()?);
    // FNV-1a over the content: a stable validator, not a security measure.
    let hash = plain.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    });
    let etag = HeaderValue::from_str(&format!("W/\"{:x}-{:016x}\"", plain.len(), hash)).ok()?;
    let c = std::sync::Arc::new(Cached { plain, gzip, etag });
    lock(cache()).insert(path.to_owned(), c.clone());
    Some(c)
}

/// The answer for `file` under the path, or `None` when it is not a served file.
pub(crate) fn serve(
    inner: &ServerInner,
    file: &str,
    headers: &HeaderMap,
) -> Option<Response<Full<Bytes>>> {
    let dir = inner.config.serve_client.as_ref()?;
    if !FILES.contains(&file) {
        return None;
    }
    let c = load(&dir.join(file))?;
    let mut r = Response::new(Full::new(Bytes::new()));
    let h = r.headers_mut();
    h.insert(header::ETAG, c.etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0"),
    );
    if headers.get(header::IF_NONE_MATCH) == Some(&c.etag) {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        return Some(r);
    }
    let ct = if file.ends_with(".map") {
        "application/json"
    } else {
        "application/javascript; charset=utf-8"
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let body = if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        c.gzip.clone()
    } else {
        c.plain.clone()
    };
    *r.body_mut() = Full::new(body);
    Some(r)
}
