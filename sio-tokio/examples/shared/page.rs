//! What the examples share around the Socket.IO server: the port, the client bundle, and the
//! demo page at `/`. Included with `#[path]`; not part of the library.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use sio::server::Fallback;
use sio::ServerConfig;

/// The port: `PORT`, or `default`.
pub fn port(default: u16) -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

/// Serves the official client bundle under `/socket.io/` (`serveClient`) when the npm package
/// is installed (`SIO_CLIENT_DIST`, or `tests/js/node_modules/socket.io-client/dist` of this
/// repository), and points the page at a public CDN copy otherwise. Returns the script URL.
pub fn with_client_bundle(config: ServerConfig) -> (ServerConfig, String) {
    let dist = std::env::var("SIO_CLIENT_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/js/node_modules/socket.io-client/dist")
        });
    if dist.join("socket.io.min.js").exists() {
        (
            config.serve_client(dist),
            "/socket.io/socket.io.min.js".into(),
        )
    } else {
        (
            config,
            "https://cdn.socket.io/4.8.1/socket.io.min.js".into(),
        )
    }
}

/// Answers `GET /` with the page (`{{CLIENT_SCRIPT}}` filled in); other paths fall through.
pub fn page(html: &str, script: &str) -> Fallback {
    let body = Bytes::from(html.replace("{{CLIENT_SCRIPT}}", script));
    Arc::new(move |req| {
        (req.uri().path() == "/").then(|| {
            http::Response::builder()
                .header("content-type", "text/html; charset=utf-8")
                .body(Full::new(body.clone()))
                .unwrap_or_default()
        })
    })
}
