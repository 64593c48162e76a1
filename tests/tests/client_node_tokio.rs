//! Our client (`sio::client`) on tokio against the npm `socket.io` server in Node and against
//! our own server on tokio: the suite of `sio_tests::client_suite`.
sio_tests::client_node_suite!(sio_tests::Tokio);
