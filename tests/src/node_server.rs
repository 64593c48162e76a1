//! The real npm `socket.io` server (`tests/js/node_server.js`) as a child process: started on
//! a free port (or a given one, to restart it where it was), killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::{ensure_node_modules, js_dir};

/// A running `node node_server.js`.
pub struct NodeServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Whether it serves HTTPS (with the certificate of `tests/js/tls`).
    pub tls: bool,
    /// Whether it speaks `socket.io-msgpack-parser`.
    pub msgpack: bool,
    /// Whether its websockets take `permessage-deflate`.
    pub deflate: bool,
}

impl NodeServer {
    /// Starts the server on a free port.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Starts the server with HTTPS on a free port: its certificate is issued for `localhost`
    /// and `127.0.0.1` by the test CA `tests/js/tls/ca.der`.
    pub fn start_tls() -> Self {
        Self::spawn(0, true, false, false)
    }

    /// Starts the server with `perMessageDeflate` (threshold 1 KiB) on a free port.
    pub fn start_deflate() -> Self {
        Self::spawn(0, false, false, true)
    }

    /// Starts the server with `socket.io-msgpack-parser` on a free port.
    pub fn start_msgpack() -> Self {
        Self::spawn(0, false, true, false)
    }

    /// Starts the server on `port` (0: a free one); waits until it listens.
    pub fn start_on(port: u16) -> Self {
        Self::spawn(port, false, false, false)
    }

    fn spawn(port: u16, tls: bool, msgpack: bool, deflate: bool) -> Self {
        ensure_node_modules();
        let mut cmd = Command::new("node");
        cmd.arg("node_server.js").arg(port.to_string());
        if tls {
            cmd.arg("--tls");
        }
        if msgpack {
            cmd.arg("--msgpack");
        }
        if deflate {
            cmd.arg("--deflate");
        }
        let mut child = cmd
            .current_dir(js_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed to run the interop tests");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Reads the port, then keeps draining stdout so that the server never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(p) = line.strip_prefix("PORT ") {
                    let _ = tx.send(p.trim().parse::<u16>().ok());
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(p)) => p,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("node_server.js did not report its port: {other:?}");
            }
        };
        Self {
            child: Some(child),
            port,
            tls,
            msgpack,
            deflate,
        }
    }

    /// `http://127.0.0.1:<port>` (`https` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: its connections are reset, nothing is said to the clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port (killing it first if it runs).
    pub fn restart(&mut self) {
        self.kill();
        let again = Self::spawn(self.port, self.tls, self.msgpack, self.deflate);
        self.child = Some(again.into_child());
    }

    fn into_child(mut self) -> Child {
        self.child.take().expect("a running server")
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        self.kill();
    }
}
