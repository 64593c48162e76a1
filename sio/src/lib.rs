//! The runtime-agnostic async API of the project (server, namespaces, sockets, client).
//!
//! This crate is being built on top of [`sio_proto`]; for now it re-exports the protocol core.
pub use sio_proto as proto;
