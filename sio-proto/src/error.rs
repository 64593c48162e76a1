//! The three families of errors: malformed bytes ([`DecodeError`]), a peer breaking the
//! protocol ([`ProtocolError`], fatal for that session) and a caller misusing the API
//! ([`UsageError`]).

/// Bytes that do not form a valid packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input was empty where a packet was expected.
    #[error("empty packet")]
    Empty,
    /// The first character is not a known packet type.
    #[error("unknown packet type {0:#04x}")]
    UnknownPacketType(u8),
    /// A `b`-prefixed long-polling segment was not valid base64.
    #[error("invalid base64 in a binary payload segment")]
    InvalidBase64,
    /// A long-polling payload held more packets than the configured limit.
    #[error("more than {0} packets in one payload")]
    TooManyPackets(usize),
    /// The `open` packet's JSON was not a valid handshake.
    #[error("invalid handshake data")]
    InvalidHandshake,
    /// Text that had to be UTF-8 was not.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// The attachment count of a binary packet was missing its `-`, not a number or too large.
    #[error("invalid attachment count")]
    InvalidAttachmentCount,
    /// A binary packet announced more attachments than the configured limit.
    #[error("{0} attachments exceed the limit")]
    TooManyAttachments(usize),
    /// The namespace did not start with `/` or was not terminated by `,`.
    #[error("invalid namespace")]
    InvalidNamespace,
    /// The ack id was not a number that fits the protocol's range.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The JSON payload was malformed.
    #[error("invalid JSON payload")]
    InvalidJson,
    /// The payload had the wrong shape for the packet type (for example an EVENT whose data is
    /// not a non-empty array whose first element is a string).
    #[error("invalid payload for this packet type")]
    InvalidPayload,
    /// A placeholder (`{"_placeholder":true,...}`) named an attachment that does not exist or
    /// had no valid `num`. (An attachment no placeholder names is not an error: Node's parser
    /// does not check it either.)
    #[error("invalid binary placeholder")]
    InvalidPlaceholder,
    /// The attachments of one binary packet exceeded the configured total size (in bytes);
    /// the packet was dropped.
    #[error("binary attachments of one packet exceed {0} bytes")]
    AttachmentsTooLarge(usize),
    /// A binary attachment arrived while no binary packet was waiting for one.
    #[error("unexpected binary attachment")]
    UnexpectedAttachment,
    /// A text packet arrived while a binary packet still waited for attachments.
    #[error("text packet while reassembling a binary packet")]
    UnexpectedText,
}

/// The peer broke the protocol. (A peer that breaks it in a way that ends its session gets a
/// close with a [`CloseReason`](crate::engine::CloseReason) instead, such as `parse error` or
/// `transport error`.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A request or packet that the current state does not allow (a second websocket for a
    /// session).
    #[error("unexpected packet: {0}")]
    Unexpected(&'static str),
}

/// The caller used the API in a way the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// The session is closed (or closing) and takes no more packets.
    #[error("the session is closed")]
    Closed,
    /// The outbound queue is at its configured bound.
    #[error("outbound queue full ({0} packets)")]
    QueueFull(usize),
    /// The number of pending acks is at its configured bound.
    #[error("too many pending acks ({0})")]
    TooManyPendingAcks(usize),
    /// The namespace is not connected on this connection.
    #[error("namespace {0} is not connected")]
    NotConnected(String),
    /// The namespace name is not valid (must start with `/` and contain no `,`).
    #[error("invalid namespace name {0:?}")]
    InvalidNamespace(String),
    /// The operation needs a state the session is not in.
    #[error("invalid state for this operation: {0}")]
    InvalidState(&'static str),
}
