//! Websocket `permessage-deflate` on tokio (`sio_tests::deflate`).
sio_tests::deflate_suite!(sio_tests::Tokio);
