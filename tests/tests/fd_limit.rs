//! A server out of file descriptors keeps running: accept errors (EMFILE) are reported and
//! retried, and the server takes new connections as soon as descriptors are free again. The
//! server runs in its own process, started under `ulimit -n 64`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn survives_running_out_of_descriptors(runtime: &str) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec '{}' {runtime}",
            env!("CARGO_BIN_EXE_sio-test-server")
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port line");
    let port: u16 = line.trim().parse().expect("port");
    // More idle connections than the process has descriptors: the kernel completes them all
    // (backlog), the server's accepts fail with EMFILE once its table is full.
    let idle: Vec<TcpStream> = (0..120)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    // A real request behind them is answered once the idle ones time out and free their
    // descriptors.
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let answer = {
        use std::io::{Read, Write};
        s.write_all(
            b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .expect("write");
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        String::from_utf8_lossy(&raw).into_owned()
    };
    let alive = child.try_wait().expect("try_wait").is_none();
    drop(idle);
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        alive,
        "{runtime}: the server exited when it ran out of descriptors"
    );
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{runtime}: no handshake answer after running out of descriptors: {answer:?}"
    );
}

#[test]
fn tokio_survives_running_out_of_descriptors() {
    survives_running_out_of_descriptors("tokio");
}

#[test]
fn async_std_survives_running_out_of_descriptors() {
    survives_running_out_of_descriptors("async-std");
}

#[test]
fn smol_survives_running_out_of_descriptors() {
    survives_running_out_of_descriptors("smol");
}
