//! Robustness checks of the server on tokio.
sio_tests::robust_suite!(sio_tests::Tokio);
