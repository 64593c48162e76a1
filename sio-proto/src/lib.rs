#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cluster;
pub mod engine;
pub mod error;
pub mod id;
pub mod payload;
mod placeholder;
pub mod rooms;
pub mod socket;
mod timer;

pub use error::{DecodeError, ProtocolError, UsageError};
pub use id::IdGenerator;
