//! Connection state recovery on smol: the npm client against our server, our client against
//! the npm server and ours (`sio_tests::recovery`).
sio_tests::recovery_suite!(sio_tests::Smol);
