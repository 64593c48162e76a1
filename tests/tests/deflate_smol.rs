//! Websocket `permessage-deflate` on smol (`sio_tests::deflate`).
sio_tests::deflate_suite!(sio_tests::Smol);
