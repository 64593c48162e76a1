//! A real `nginx` (the Debian package; `.ci/run` installs it) in front of Socket.IO servers,
//! configured from the shipped templates `deploy/nginx/sticky.conf` (sticky by client address)
//! or `deploy/nginx/sticky-cookie.conf` (sticky by a cookie nginx sets). It runs in the
//! foreground as one process, with its pid, logs and temporary files in a temporary directory,
//! on a free port, killed on drop.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{accepts, free_port, start_and_wait, Guarded, TempDir};

/// How long a starting nginx may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(10);

/// Which sticky-session configuration to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sticky {
    /// `deploy/nginx/sticky.conf`: `hash $remote_addr consistent`.
    IpHash,
    /// `deploy/nginx/sticky-cookie.conf`: the `sio_node` cookie names the server.
    Cookie,
}

impl Sticky {
    /// The template's file name.
    pub fn template(self) -> &'static str {
        match self {
            Sticky::IpHash => "sticky.conf",
            Sticky::Cookie => "sticky-cookie.conf",
        }
    }
}

/// The shipped templates: `deploy/nginx` of the repository.
pub fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx")
}

/// Fills a template's placeholders for servers on `127.0.0.1:<upstream_ports>` and nginx on
/// `127.0.0.1:<listen>`.
pub fn render(template: &str, listen: u16, upstream_ports: &[u16]) -> String {
    let mut servers = String::new();
    let mut names = String::new();
    let mut addrs = String::new();
    for (i, port) in upstream_ports.iter().enumerate() {
        let _ = write!(servers, "server 127.0.0.1:{port}; ");
        let _ = write!(names, "\"~(^|, )127\\.0\\.0\\.1:{port}$\" n{i}; ");
        let _ = write!(addrs, "n{i} 127.0.0.1:{port}; ");
    }
    template
        .replace("__SIO_LISTEN__", &format!("127.0.0.1:{listen}"))
        .replace("__SIO_SERVERS__", &servers)
        .replace("__SIO_NODE_NAMES__", &names)
        .replace("__SIO_NODE_ADDRS__", &addrs)
}

/// A running nginx.
pub struct Nginx {
    child: Guarded,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    dir: TempDir,
}

impl Nginx {
    /// Starts nginx on a free port in front of the servers on `127.0.0.1:<upstream_ports>`,
    /// configured by `variant`'s template; waits until it accepts connections.
    ///
    /// Panics when `nginx` is not installed or does not start (its error log is in the message).
    pub fn start(upstream_ports: &[u16], variant: Sticky) -> Self {
        assert!(
            !upstream_ports.is_empty(),
            "nginx needs a server to proxy to"
        );
        let template_path = templates_dir().join(variant.template());
        let template = std::fs::read_to_string(&template_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", template_path.display()));
        let dir = TempDir::new("nginx");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("nginx temp dir");
        // The workers may run as another user than the one that created the directory.
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o777));
        }
        let mut last = String::new();
        // The free port may be taken before nginx binds it: try another one.
        for _ in 0..5 {
            let port = free_port();
            write_config(dir.path(), &render(&template, port, upstream_ports));
            match spawn(dir.path(), port) {
                Ok(child) => return Self { child, port, dir },
                Err(e) => last = e,
            }
        }
        panic!("nginx did not start: {last}");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The access log so far (one line per proxied request, with the server that answered).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// Kills nginx.
    pub fn kill(&mut self) {
        self.child.kill();
    }
}

/// Writes `nginx.conf` into `dir`: one foreground process, every path inside `dir`, and the
/// rendered template in the `http` block.
fn write_config(dir: &Path, rendered: &str) {
    let d = dir.display();
    let conf = format!(
        "# Written by tests/src/nginx.rs.\n\
         daemon off;\n\
         master_process off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log notice;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n\
         log_format sio '$request_method $uri?$args -> $upstream_addr $status';\n\
         access_log {d}/access.log sio;\n\
         client_body_temp_path {d}/tmp/body;\n\
         proxy_temp_path {d}/tmp/proxy;\n\
         fastcgi_temp_path {d}/tmp/fastcgi;\n\
         uwsgi_temp_path {d}/tmp/uwsgi;\n\
         scgi_temp_path {d}/tmp/scgi;\n\
         {rendered}\n\
         }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
}

/// Starts nginx with `dir/nginx.conf` and waits until it accepts on `port`.
fn spawn(dir: &Path, port: u16) -> Result<Guarded, String> {
    let error_log = dir.join("error.log");
    let _ = std::fs::remove_file(&error_log);
    let mut cmd = Command::new(nginx_binary());
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(&error_log);
    start_and_wait(
        cmd,
        "nginx",
        "the sticky-session tests need a real nginx (apt-get install nginx; .ci/run installs it)",
        START_LIMIT,
        &error_log,
        || accepts(port),
    )
}

/// `nginx` from the `PATH`, else Debian's `/usr/sbin/nginx` (`/usr/sbin` is not in every
/// user's `PATH`).
fn nginx_binary() -> PathBuf {
    let sbin = Path::new("/usr/sbin/nginx");
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("nginx").is_file()))
        .unwrap_or(false);
    if !in_path && sbin.is_file() {
        sbin.to_path_buf()
    } else {
        PathBuf::from("nginx")
    }
}
