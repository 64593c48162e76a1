//! Our client (`sio::client`) on async-std against the npm `socket.io` server in Node and against
//! our own server on async-std: the suite of `sio_tests::client_suite`.
sio_tests::client_node_suite!(sio_tests::AsyncStd);
