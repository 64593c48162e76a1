//! Raw HTTP and websocket checks of the server on async_std.
sio_tests::raw_suite!(sio_tests::AsyncStd);
