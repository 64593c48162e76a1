//! Socket.IO v2 clients (Engine.IO v3, `allow_eio3`) on smol: the npm `socket.io-client` 2.x
//! against our server, and raw checks of the v3 framing (`sio_tests::eio3`).
sio_tests::eio3_suite!(sio_tests::Smol);
