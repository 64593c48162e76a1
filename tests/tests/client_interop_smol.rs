//! The real npm `socket.io-client` against our server on smol: every scenario over
//! websocket-only, polling-only and polling→websocket upgrade.
sio_tests::client_interop_suite!(sio_tests::Smol);
