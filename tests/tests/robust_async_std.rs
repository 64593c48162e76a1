//! Robustness checks of the server on async_std.
sio_tests::robust_suite!(sio_tests::AsyncStd);
