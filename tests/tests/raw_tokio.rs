//! Raw HTTP and websocket checks of the server on tokio.
sio_tests::raw_suite!(sio_tests::Tokio);
