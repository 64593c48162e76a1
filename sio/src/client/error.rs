//! The client's errors: bad arguments to `io()`/`Manager::new`, failed emits, failed acks.

use crate::payload::PayloadError;

/// A client could not be created (bad URL or options).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The URL does not parse, or has no host.
    #[error("invalid URL {0:?}")]
    InvalidUrl(String),
    /// The URL's scheme is not `http`, `https`, `ws` or `wss`.
    #[error("unsupported URL scheme {0:?}")]
    UnsupportedScheme(String),
    /// The namespace name is not valid (it must not contain `,`).
    #[error("invalid namespace {0:?}")]
    InvalidNamespace(String),
    /// An option has a value that cannot work.
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
    /// A header in `extra_headers` is not a valid HTTP header.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
}

/// [`super::ClientSocket::next_event`] ended without the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NextEventError {
    /// The event did not come within the timeout.
    #[error("the event did not come in time")]
    Timeout,
    /// The wait ended before the event came: its handler was replaced or removed (`on`,
    /// `once`, `off`), or the event came with arguments that did not fit the type.
    #[error("the wait for the event was replaced, removed, or got arguments of another type")]
    Gone,
}

/// An emit could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientEmitError {
    /// The arguments could not be serialised.
    #[error("cannot serialise the arguments: {0}")]
    Payload(#[from] PayloadError),
    /// The event name is reserved (`connect`, `disconnect`, ...).
    #[error("reserved event name {0:?}")]
    Reserved(String),
    /// Too many commands wait for the manager's task
    /// ([`super::ClientOptions::max_pending_commands`]), or the offline buffer of the
    /// namespace is full.
    #[error("the client's outbound queue is full")]
    QueueFull,
    /// The manager's task is gone.
    #[error("the client is closed")]
    Closed,
}

/// An ack awaited from the server did not come.
#[derive(Debug, thiserror::Error)]
pub enum ClientAckError {
    /// No answer before the timeout (after every retry, when `retries > 0`).
    #[error("ack timed out")]
    Timeout,
    /// The socket was disconnected after the packet was sent, before the answer.
    #[error("socket disconnected before the ack")]
    Disconnected,
    /// The answer did not deserialise into the expected type.
    #[error("cannot deserialise the ack: {0}")]
    Payload(#[from] PayloadError),
    /// The emit itself failed.
    #[error(transparent)]
    Emit(#[from] ClientEmitError),
}
