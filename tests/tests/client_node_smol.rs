//! Our client (`sio::client`) on smol against the npm `socket.io` server in Node and against
//! our own server on smol: the suite of `sio_tests::client_suite`.
sio_tests::client_node_suite!(sio_tests::Smol);
