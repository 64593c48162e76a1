//! Raw HTTP and websocket checks of the server on smol.
sio_tests::raw_suite!(sio_tests::Smol);
