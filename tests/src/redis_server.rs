//! A real `redis-server` (the Debian package; `.ci/run` installs it) as a child process: on a
//! free loopback port, in a temporary directory, without persistence, killed on drop. It can be
//! killed and started again on the same port, for tests of a Redis outage.
//!
//! Nothing is skipped: when `redis-server` is missing, [`RedisServer::start`] panics and says
//! so.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use crate::process::{free_port, start_and_wait, Guarded, TempDir};

/// How long a starting server may take to answer `PING`.
const START_LIMIT: Duration = Duration::from_secs(10);

/// A running `redis-server`.
pub struct RedisServer {
    child: Guarded,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server on a free port; waits until it answers `PING`.
    ///
    /// Panics when `redis-server` is not installed, or when it cannot be started.
    pub fn start() -> Self {
        let dir = TempDir::new("redis");
        let mut last = String::new();
        // A free port may be taken by another process before redis binds it: try another one.
        for _ in 0..5 {
            let port = free_port();
            match spawn(&dir, port) {
                Ok(child) => return Self { child, port, dir },
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: its clients see their connections reset).
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// Whether it runs (it was not killed).
    pub fn running(&self) -> bool {
        self.child.running()
    }

    /// Starts the server again on the same port (killing it first if it runs), empty; waits
    /// until it answers `PING`.
    pub fn restart(&mut self) {
        self.kill();
        let mut last = String::new();
        // The port is free once the old process is gone, unless another process took it
        // meanwhile: a few tries, then give up.
        for _ in 0..20 {
            match spawn(&self.dir, self.port) {
                Ok(child) => {
                    self.child = child;
                    return;
                }
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start again on {}: {last}", self.port);
    }

    /// Sends `PING`; whether `+PONG` came back.
    pub fn ping(&self) -> bool {
        ping(self.port)
    }
}

/// Starts `redis-server` on `port` and waits for it to answer; the error says why not.
fn spawn(dir: &TempDir, port: u16) -> Result<Guarded, String> {
    let log = dir.path().join(format!("redis-{port}.log"));
    let _ = std::fs::remove_file(&log);
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir.path())
        .arg("--logfile")
        .arg(&log);
    start_and_wait(
        cmd,
        "redis-server",
        "the cluster tests need a real Redis (apt-get install redis-server; .ci/run installs it)",
        START_LIMIT,
        &log,
        || ping(port),
    )
}

/// `PING` in RESP over a fresh connection; whether `+PONG` came back within a second.
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}
