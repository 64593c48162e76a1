//! The one HTTP answer shape of the Engine.IO server ([`HttpResponse`]) and Node's error codes
//! ([`ErrorCode`]).

use bytes::Bytes;

use crate::engine::{v3, Packet, Protocol};

/// The error codes of Node's `engine.io` server, sent as `{"code":N,"message":"..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0, `Transport unknown`: missing, unknown or disabled transport.
    UnknownTransport = 0,
    /// 1, `Session ID unknown`.
    UnknownSid = 1,
    /// 2, `Bad handshake method`: a handshake that is not a `GET`.
    BadHandshakeMethod = 2,
    /// 3, `Bad request`: transport mismatch, websocket handshake without upgrade, bad origin.
    BadRequest = 3,
    /// 4, `Forbidden`: refused by the application's `allowRequest`.
    Forbidden = 4,
    /// 5, `Unsupported protocol version`: `EIO` is not `4`.
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// Node's message for the code.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status Node answers with: 403 for `Forbidden`, 400 otherwise.
    pub fn status(self) -> u16 {
        if self == ErrorCode::Forbidden {
            403
        } else {
            400
        }
    }
}

/// An HTTP answer the core decided: to a routed request ([`super::Route::Respond`]), to a
/// long-polling request ([`super::Reply::Http`]) or to a held `GET` ([`super::Transmit::PollResponse`]). The runtime writes it as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    /// The content type of long-polling payloads.
    pub const TEXT: &'static str = "text/plain; charset=UTF-8";
    /// The content type of v3 binary long-polling payloads.
    pub const BINARY: &'static str = "application/octet-stream";
    /// The content type of error answers.
    pub const JSON: &'static str = "application/json";

    /// 200 with a long-polling payload (`text/plain; charset=UTF-8`).
    pub fn payload(body: Bytes) -> Self {
        Self {
            status: 200,
            content_type: Some(Self::TEXT),
            body,
        }
    }

    /// 200 with a payload of the one packet `p`, framed for `protocol` (`noop` and `close`
    /// answers).
    pub fn packet(protocol: Protocol, p: &Packet) -> Self {
        match protocol {
            Protocol::V4 => Self::payload(p.encode_text()),
            Protocol::V3 => Self::v3_payload(v3::encode_payload(&[p.encode()], false)),
        }
    }

    /// 200 with a v3 long-polling payload ([`v3::encode_payload`]'s answer: the body and
    /// whether it is binary).
    pub fn v3_payload((body, binary): (Bytes, bool)) -> Self {
        Self {
            status: 200,
            content_type: Some(if binary { Self::BINARY } else { Self::TEXT }),
            body,
        }
    }

    /// 200 with the `noop` packet, the answer to a long-poll released without data.
    pub fn noop() -> Self {
        Self::payload(Packet::Noop.encode_text())
    }

    /// 200 with the `close` packet, the answer to a long-poll of a session that ends.
    pub fn close() -> Self {
        Self::payload(Packet::Close.encode_text())
    }

    /// 200 `ok`, the answer to a long-polling `POST`.
    pub fn ok() -> Self {
        Self::payload(Bytes::from_static(b"ok"))
    }

    /// `status` with an empty body and no content type (400 to an overlapping request, 413 to
    /// a body over `max_http_buffer_size`).
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            content_type: None,
            body: Bytes::new(),
        }
    }

    /// Node's answer for `code`: its status and `{"code":N,"message":"..."}`.
    pub fn error(code: ErrorCode) -> Self {
        Self::error_with_message(code, code.message())
    }

    /// The answer for `code` with a custom message (as `allowRequest` may give).
    pub fn error_with_message(code: ErrorCode, message: &str) -> Self {
        let body = serde_json::json!({ "code": code as u8, "message": message });
        Self {
            status: code.status(),
            content_type: Some(Self::JSON),
            body: Bytes::from(body.to_string()),
        }
    }
}
