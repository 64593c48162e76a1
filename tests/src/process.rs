//! What the harnesses of external programs share (`redis_server`, `nginx`, `cluster`): a
//! temporary directory removed on drop, a free loopback port, a child process killed on drop,
//! and a bounded wait.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A fresh directory under the system's temporary directory, removed (with its content) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<tmp>/sio-<label>-<pid>-<n>-<nanos>`.
    pub fn new(label: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "sio-{label}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port of 127.0.0.1 that was free a moment ago (bound to port 0, then released). Another
/// process may take it before it is used: callers retry with a new one when binding fails.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A child process, killed (SIGKILL) and reaped on drop: a failing test leaves nothing running.
pub struct Guarded(Option<Child>);

impl Guarded {
    /// Takes ownership of `child`.
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// Whether the process has ended (it is reaped then); `false` after [`Guarded::kill`].
    pub fn exited(&mut self) -> bool {
        match &mut self.0 {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The exit status once the process has ended (it is reaped then).
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.0.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// The process id, while it is held.
    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }

    /// Whether a process is held (not killed).
    pub fn running(&self) -> bool {
        self.0.is_some()
    }

    /// Kills the process and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Calls `ready` every 10 ms until it returns `Some`, for at most `limit`; `None` when the time
/// ran out.
pub fn poll_until<T>(limit: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = ready() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `cmd` (its output discarded), and waits up to `limit` until `ready` holds; the error
/// says why not, with the end of `log`. `program` and `install` name it when it is not
/// installed (a panic: the tests need the real thing).
pub fn start_and_wait(
    mut cmd: std::process::Command,
    program: &str,
    install: &str,
    limit: Duration,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> Result<Guarded, String> {
    use std::process::Stdio;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{program} is not installed: {install}")
        }
        Err(e) => panic!("cannot start {program}: {e}"),
    };
    let mut child = Guarded::new(child);
    let up = poll_until(limit, || {
        if child.exited() {
            Some(false)
        } else if ready() {
            Some(true)
        } else {
            None
        }
    });
    match up {
        Some(true) => Ok(child),
        Some(false) => Err(format!("it exited:\n{}", tail(log, 2000))),
        None => Err(format!("not ready within {limit:?}:\n{}", tail(log, 2000))),
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` (within 200 ms).
pub fn accepts(port: u16) -> bool {
    let addr = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// The last `max` bytes of a file (a log for a failure message); empty when it cannot be read.
pub fn tail(path: &Path, max: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    String::from_utf8_lossy(&text[start..]).into_owned()
}
