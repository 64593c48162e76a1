//! Robustness checks of the server on smol.
sio_tests::robust_suite!(sio_tests::Smol);
