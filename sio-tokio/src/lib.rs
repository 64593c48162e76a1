//! The tokio driver for [`sio`](https://docs.rs/sio): sockets, timers and spawning.
//!
//! Not written yet; the protocol core lives in [`sio_proto`].
pub use sio_proto as proto;
