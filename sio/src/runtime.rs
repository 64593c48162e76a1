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
    /// A timer at `deadline` that can be moved later ([`Sleep::reset`]). The default wraps
    /// [`Runtime::sleep_until`] and cannot move (a new one is made each time); a runtime whose
    /// timers can be reset in place overrides it, sparing an allocation per change.
    fn timer(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(FixedSleep(self.sleep_until(deadline)))
    }
    /// Runs `f`, a burst of non-blocking writes (a broadcast writing straight into its
    /// recipients' sockets), outside the budget of I/O operations the runtime may give a task
    /// per poll: under such a budget every write past it would say `Pending`, and the
    /// packets would take the slow way through their connection tasks. The default runs `f`
    /// as it is (a runtime without such a budget).
    fn unbudgeted(&self, f: &mut dyn FnMut()) {
        f()
    }
}

/// A timer future that may be moved to another instant.
pub trait Sleep: Future<Output = ()> + Send {
    /// Moves the timer to `deadline`; `false` if this timer cannot move (the caller then asks
    /// the runtime for a new one).
    fn reset(self: Pin<&mut Self>, deadline: Instant) -> bool;
}

/// A [`Runtime::sleep_until`] future that cannot be moved.
struct FixedSleep(BoxFuture<()>);

impl Future for FixedSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Sleep for FixedSleep {
    fn reset(self: Pin<&mut Self>, _deadline: Instant) -> bool {
        false
    }
}

/// `fut`'s output, or `None` when `rt`'s clock reaches `deadline` first (the wait a deadline
/// bounds: acks, cluster requests, barriers). Pass `&mut fut` to keep waiting for it after.
pub async fn within<F: Future + Unpin>(
    rt: &dyn Runtime,
    deadline: Instant,
    fut: F,
) -> Option<F::Output> {
    let mut fut = fut;
    let mut timer = rt.timer(deadline);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = std::pin::Pin::new(&mut fut).poll(cx) {
            return std::task::Poll::Ready(Some(v));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
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

/// 32 bytes from the operating system's RNG (the seed of ids, backoff jitter and hash keys;
/// a randomly keyed hasher stands in when the OS has none).
pub fn os_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    if getrandom::fill(&mut seed).is_err() {
        // No OS randomness: fall back to std's randomly keyed hasher, itself OS-seeded when
        // possible, so that ids are at least not constant.
        use std::hash::{BuildHasher, Hasher};
        for (i, chunk) in seed.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    seed
}
