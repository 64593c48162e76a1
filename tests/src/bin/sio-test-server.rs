//! A server of the scenario application in its own process, for the tests that need to
//! change the process itself (its file-descriptor limit): `sio-test-server RUNTIME`, with
//! RUNTIME one of `tokio`, `async-std`, `smol`. Prints its port on a line, then serves until
//! its standard input closes.

use std::io::Read;
use std::time::Duration;

use sio_tests::{app, AsyncStd, Driver, Smol, Tokio};

fn run<D: Driver>() {
    let mut config = app::config();
    // Idle connections go after a second, so that descriptors come free again.
    config.http_header_timeout = Duration::from_secs(1);
    let srv = D::start(config, app::setup);
    println!("{}", srv.port);
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("tokio") => run::<Tokio>(),
        Some("async-std") => run::<AsyncStd>(),
        Some("smol") => run::<Smol>(),
        other => {
            eprintln!("usage: sio-test-server tokio|async-std|smol (got {other:?})");
            std::process::exit(2);
        }
    }
}
