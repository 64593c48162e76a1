//! A real HTTP proxy for the client's proxy tests: Debian's `tinyproxy` on a free loopback port
//! with its own configuration and log in a temporary directory, killed on drop. It forwards
//! absolute-form requests and opens `CONNECT` tunnels to any port, and logs each request line.

use std::process::Command;
use std::time::Duration;

use crate::process::{accepts, free_port, start_and_wait, tail, Guarded, TempDir};

const START_LIMIT: Duration = Duration::from_secs(10);

/// A running `tinyproxy`.
pub struct Tinyproxy {
    _child: Guarded,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: TempDir,
}

impl Tinyproxy {
    /// Starts a proxy on a free port, requiring `user:password` (`Proxy-Authorization: Basic`)
    /// when `credentials` is given; waits until it accepts connections.
    ///
    /// Panics when `tinyproxy` is not installed, or when it cannot be started.
    pub fn start(credentials: Option<(&str, &str)>) -> Self {
        let dir = TempDir::new("tinyproxy");
        let mut last = String::new();
        // A free port may be taken by another process before tinyproxy binds it.
        for _ in 0..5 {
            let port = free_port();
            match spawn(&dir, port, credentials) {
                Ok(child) => {
                    return Self {
                        _child: child,
                        port,
                        dir,
                    }
                }
                Err(e) => last = e,
            }
        }
        panic!("tinyproxy did not start: {last}");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request lines the proxy logged so far (`GET http://... HTTP/1.1`,
    /// `CONNECT host:port HTTP/1.1`), in order.
    pub fn requests(&self) -> Vec<String> {
        tail(&self.dir.path().join("tinyproxy.log"), usize::MAX)
            .lines()
            .filter_map(|l| l.split_once("]: Request (file descriptor "))
            .filter_map(|(_, rest)| rest.split_once("): "))
            .map(|(_, request)| request.to_owned())
            .collect()
    }
}

fn spawn(dir: &TempDir, port: u16, credentials: Option<(&str, &str)>) -> Result<Guarded, String> {
    let log = dir.path().join("tinyproxy.log");
    let _ = std::fs::remove_file(&log);
    let mut conf = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 200\nLogFile \"{}\"\n\
         LogLevel Info\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
        log.display()
    );
    if let Some((user, password)) = credentials {
        conf.push_str(&format!("BasicAuth {user} {password}\n"));
    }
    let conf_path = dir.path().join(format!("tinyproxy-{port}.conf"));
    std::fs::write(&conf_path, conf).map_err(|e| format!("cannot write the configuration: {e}"))?;
    let mut cmd = Command::new("tinyproxy");
    cmd.arg("-d").arg("-c").arg(&conf_path);
    start_and_wait(
        cmd,
        "tinyproxy",
        "the client's proxy tests need a real HTTP proxy (apt-get install tinyproxy; .ci/run \
         installs it)",
        START_LIMIT,
        &log,
        || accepts(port),
    )
}
