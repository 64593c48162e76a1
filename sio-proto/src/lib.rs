//! The Engine.IO v4 and Socket.IO v5 protocols as sans-IO state machines.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod engine;
pub mod error;
pub mod id;
pub mod rooms;
pub mod socket;

pub use error::{DecodeError, ProtocolError, UsageError};
pub use id::IdGenerator;
