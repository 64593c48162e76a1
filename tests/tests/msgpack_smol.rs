//! `socket.io-msgpack-parser` on smol: the npm client with the npm parser against our server
//! with ours (the scenarios of `tests/js/client_scenarios.js`), and our client with it against
//! the npm server and ours (`sio_tests::msgpack`).
sio_tests::client_msgpack_suite!(sio_tests::Smol);
