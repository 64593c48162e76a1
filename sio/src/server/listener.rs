//! What a driver's accept loop needs, written once: accept errors reported and retried after
//! a back-off (a full file table must not end the server), the bound on open connections, and
//! the count of open connections itself.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Server;

/// The longest pause after a failed accept (the pause doubles from 5 ms up to this).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Runs an accept loop until `accept` is dropped with the future this returns: each
/// connection `accept` yields goes to `serve`, unless the server is at its
/// [`max_connections`](super::ServerConfig::max_connections) bound, in which case it is
/// closed at once. An accept error never ends the loop: errors that concern one connection
/// (reset or aborted before it was accepted) are skipped, others (out of file descriptors,
/// of memory, of buffers) are reported and retried after a pause that doubles up to one
/// second, so that a server at its file limit keeps serving the connections it has and
/// takes new ones as soon as descriptors are free again.
pub async fn accept_loop<S, A, F>(
    server: &Server,
    mut accept: A,
    mut serve: impl FnMut(S, SocketAddr),
) where
    A: FnMut() -> F,
    F: Future<Output = io::Result<(S, SocketAddr)>>,
{
    let rt = server.runtime().clone();
    let mut backoff = Duration::from_millis(5);
    loop {
        match accept().await {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(5);
                if let Some(max) = server.inner.config.max_connections {
                    if server.open_connections() >= max {
                        tracing::warn!(%peer, max, "connection refused: max_connections reached");
                        drop(stream);
                        continue;
                    }
                }
                serve(stream, peer);
            }
            Err(e) if is_per_connection(&e) => {
                tracing::debug!(error = %e, "accept: connection lost before it was accepted");
            }
            Err(e) => {
                tracing::warn!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed; retrying");
                rt.sleep_until(rt.now() + backoff).await;
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
            }
        }
    }
}

/// Errors about one connection that went away before it was accepted.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

impl Server {
    /// Number of open TCP connections served by `sio` (HTTP connections, and websockets
    /// after their upgrade).
    pub fn open_connections(&self) -> usize {
        self.inner.open_connections.load(Ordering::Relaxed)
    }
}

/// An I/O stream counted in the server's open connections until it is dropped.
pub(crate) struct Counted<I> {
    io: I,
    count: Arc<AtomicUsize>,
}

impl<I> Counted<I> {
    pub(crate) fn new(io: I, server: &Server) -> Self {
        let count = server.inner.open_connections.clone();
        count.fetch_add(1, Ordering::Relaxed);
        Self { io, count }
    }
}

impl<I> Drop for Counted<I> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for Counted<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for Counted<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
