//! The small trait a runtime driver implements: spawn a task, sleep until an instant, read the
//! clock, open a TCP connection. Everything else in this crate is written once against it.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A byte stream (a TCP connection) as `futures-io` sees it.
pub trait Stream: futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static {}

impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A boxed byte stream.
pub type BoxStream = Box<dyn Stream>;

/// What `sio` needs from an async runtime.
pub trait Runtime: Send + Sync + 'static {
    /// Runs a future in the background (one per connection, never one per message).
    fn spawn(&self, fut: BoxFuture<()>);
    /// A future that completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()>;
    /// The current time.
    fn now(&self) -> Instant;
    /// Opens a TCP connection to `host:port` (with `TCP_NODELAY`).
    fn connect(&self, host: &str, port: u16) -> BoxFuture<std::io::Result<BoxStream>>;
}

/// The one timer of a task that drives a state machine: armed at the machine's
/// `poll_timeout()`, re-armed only when that instant changes.
#[derive(Default)]
pub(crate) struct DeadlineTimer {
    armed: Option<(Instant, BoxFuture<()>)>,
}

impl DeadlineTimer {
    /// Arms the timer at `deadline` (`None`: disarmed), keeping the current sleep if it is
    /// already for that instant.
    pub(crate) fn set(&mut self, rt: &dyn Runtime, deadline: Option<Instant>) {
        match (&self.armed, deadline) {
            (Some((t, _)), Some(d)) if *t == d => {}
            (_, Some(d)) => self.armed = Some((d, rt.sleep_until(d))),
            (_, None) => self.armed = None,
        }
    }

    /// Ready once the deadline passed; the timer is then disarmed.
    pub(crate) fn poll(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let Some((_, sleep)) = self.armed.as_mut() else {
            return std::task::Poll::Pending;
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return std::task::Poll::Pending;
        }
        self.armed = None;
        std::task::Poll::Ready(())
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(not a string)"
    }
}

/// `fut`, with a panic inside it caught and reported (as a `tracing` error naming `what`)
/// instead of unwinding into the executor: user code (handlers, middleware, callbacks) never
/// takes a task, a thread or the process down with it. The future then ends as if it had
/// completed.
pub(crate) fn contained<F>(what: &'static str, fut: F) -> impl Future<Output = ()> + Send + 'static
where
    F: Future<Output = ()> + Send + 'static,
{
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(fut)
        .catch_unwind()
        .map(move |r| {
            if let Err(p) = r {
                tracing::error!(panic = panic_message(&*p), "{what} panicked");
            }
        })
}

/// Calls `f`, catching a panic in it (reported like [`contained`]); `None` when it panicked.
pub(crate) fn catch<R>(what: &'static str, f: impl FnOnce() -> R) -> Option<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(p) => {
            tracing::error!(panic = panic_message(&*p), "{what} panicked");
            None
        }
    }
}

/// Spawns `fut` on `rt` with its panics contained (see [`contained`]).
pub(crate) fn spawn_contained<F>(rt: &dyn Runtime, what: &'static str, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    rt.spawn(Box::pin(contained(what, fut)));
}
