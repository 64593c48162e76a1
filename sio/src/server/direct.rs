//! Direct writes: a broadcast writes its frame straight into the socket of a websocket
//! connection whose task has nothing on its way out, instead of queueing it in the task's
//! inbox and waking the task to write it.
//!
//! The websocket's byte stream is shared ([`SharedIo`]): the task reads and writes it through
//! a lock, and a fan-out may write one whole frame to it while the task is idle. The rules that
//! keep every client's packets in order and every frame whole:
//!
//! - The task publishes the stream ([`Direct::sync`], before it waits) only while the
//!   websocket is the session's transport, without `permessage-deflate`; a websocket it lets
//!   go is withdrawn before a fan-out could write to it again (the task is not idle
//!   meanwhile).
//! - The task says it is idle (the inbox's `Outbound::idle`) only when it has written and
//!   flushed everything, and says it is not as soon as it wakes, before it takes anything off
//!   its inbox. A fan-out writes only when the inbox holds no packet (read first) and the task is
//!   idle (read second): a packet emitted earlier is then either still counted in the inbox,
//!   or the task is awake and the packet goes through it.
//! - A frame the socket takes only in part leaves its rest in the stream's backlog, which goes
//!   out before anything the task writes next; the task is woken to write it. No fan-out writes
//!   while a backlog waits.
//! - While a connection task runs (one poll of it, [`BatchScope`]), the first broadcast its
//!   handlers send to a recipient is written at once, and the next ones gather in that
//!   recipient's backlog (up to [`BATCH_BYTES`]) and leave in one write when the poll ends: a
//!   burst of broadcasts costs two writes per recipient, not one per broadcast.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_channel::mpsc::UnboundedSender;
use futures_io::{AsyncRead, AsyncWrite};

use super::inbox::Input;
use crate::sync::lock;

/// What a recipient's backlog gathers in one batch before the frames leave at once.
pub(crate) const BATCH_BYTES: usize = 64 << 10;

/// The byte stream under a server websocket: the HTTP connection's own stream, taken back from
/// hyper ([`TakeIo`]), or hyper's `Upgraded` where its type is not known.
pub(crate) type ServerIo = crate::io::FuturesIo<Box<dyn RawIo>>;

/// A stream in hyper's I/O traits.
pub(crate) trait RawIo: hyper::rt::Read + hyper::rt::Write + Send + Unpin {}

impl<T: hyper::rt::Read + hyper::rt::Write + Send + Unpin> RawIo for T {}

/// Takes the connection's stream back out of hyper's `Upgraded` (its type is known where the
/// connection is served: a request extension carries this): one layer less on every read and
/// write, and 32 bytes less per websocket. The bytes hyper read past the request come with it.
#[derive(Clone, Copy)]
pub(crate) struct TakeIo(pub(crate) fn(hyper::upgrade::Upgraded) -> (Box<dyn RawIo>, Bytes));

impl TakeIo {
    /// For a connection served on a stream of type `I`.
    pub(crate) fn of<I: RawIo + 'static>() -> Self {
        Self(|upgraded| match upgraded.downcast::<I>() {
            Ok(parts) => (Box::new(parts.io), parts.read_buf),
            Err(upgraded) => (Box::new(upgraded), Bytes::new()),
        })
    }

    /// The stream of `upgraded` (`take`: `None` where the connection's type is not known).
    pub(crate) fn apply(
        take: Option<Self>,
        upgraded: hyper::upgrade::Upgraded,
    ) -> (Box<dyn RawIo>, Bytes) {
        match take {
            Some(t) => (t.0)(upgraded),
            None => (Box::new(upgraded), Bytes::new()),
        }
    }
}

/// The stream and what of a direct write it has not taken yet.
pub(crate) struct Side<S> {
    io: S,
    /// What the task must write first (boxed: rare on an idle connection).
    backlog: Option<Box<Backlog>>,
    /// The backlog is a batch still gathering ([`BatchScope`]).
    batched: bool,
    /// The [`BatchScope`] that last wrote here (a later frame in the same scope is batched).
    scope: u32,
    /// The task wrote and has not flushed since: the websocket's own buffer may hold the rest
    /// of a frame (a reply to a ping, written while reading, included).
    dirty: bool,
}

/// What waits to be written before anything else.
enum Backlog {
    /// The rest of a frame written directly: a slice of the broadcast's frame, shared by its
    /// recipients (a large frame is not copied per recipient).
    Rest(Bytes),
    /// The frames of a batch, each at most [`BATCH_BYTES`].
    Batch(BytesMut),
}

impl Backlog {
    fn bytes(&self) -> &[u8] {
        match self {
            Backlog::Rest(b) => b,
            Backlog::Batch(b) => b,
        }
    }

    fn advance(&mut self, n: usize) {
        match self {
            Backlog::Rest(b) => b.advance(n),
            Backlog::Batch(b) => b.advance(n),
        }
    }
}

/// A server websocket's stream as the task and the fan-out share it.
type SharedSide = Arc<Mutex<Side<ServerIo>>>;

/// A websocket's byte stream, shared between its connection task and direct writes.
pub(crate) struct SharedIo<S>(Arc<Mutex<Side<S>>>);

impl<S> SharedIo<S> {
    pub(crate) fn new(io: S) -> Self {
        Self(Arc::new(Mutex::new(Side {
            io,
            backlog: None,
            batched: false,
            scope: 0,
            dirty: false,
        })))
    }
}

impl<S: AsyncWrite + Unpin> Side<S> {
    /// Writes what waits in the backlog; `Ready(Ok)` once it is all out.
    fn poll_backlog(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.backlog.as_deref_mut() {
            let n = std::task::ready!(Pin::new(&mut self.io).poll_write(cx, rest.bytes()))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            rest.advance(n);
            if rest.bytes().is_empty() {
                self.backlog = None;
                self.batched = false;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SharedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut lock(&self.0).io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SharedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut side = lock(&self.0);
        std::task::ready!(side.poll_backlog(cx))?;
        side.dirty = true;
        Pin::new(&mut side.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut side = lock(&self.0);
        std::task::ready!(side.poll_backlog(cx))?;
        let r = std::task::ready!(Pin::new(&mut side.io).poll_flush(cx));
        if r.is_ok() {
            side.dirty = false;
        }
        Poll::Ready(r)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut side = lock(&self.0);
        std::task::ready!(side.poll_backlog(cx))?;
        Pin::new(&mut side.io).poll_close(cx)
    }
}

/// The websocket's stream while a fan-out may write to it (in the inbox's `Outbound`, beside
/// the task's `idle` flag).
#[derive(Default)]
pub(crate) struct Direct {
    io: Mutex<Option<SharedSide>>,
}

/// What a direct write did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// Not attempted: the packet goes through the inbox.
    No,
    /// The whole frame is in the socket, or in a batch that leaves when the task's poll ends.
    All,
    /// Part of it (or none) is: the rest waits in the backlog and the task must be woken.
    Partly,
}

impl Direct {
    /// Publishes `io` for direct writes (`None`: withdraws what was).
    pub(crate) fn sync(&self, io: Option<&SharedIo<ServerIo>>) {
        let mut slot = lock(&self.io);
        let same = match (slot.as_ref(), io) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, &b.0),
            (None, None) => true,
            _ => false,
        };
        if !same {
            *slot = io.map(|io| io.0.clone());
        }
    }

    /// Writes `frame` (a whole websocket frame) to the socket if the stream is free now (or
    /// adds it to the batch of the running [`BatchScope`]); the caller has checked that the
    /// inbox holds no packet and that the task is idle. Never waits for a lock: a stream in use
    /// means the packet goes through the inbox. `tx` is the connection's inbox, for a batch to
    /// wake the task when the socket does not take it all.
    pub(crate) fn write(&self, frame: &Bytes, tx: &UnboundedSender<Input>) -> Written {
        let Ok(slot) = self.io.try_lock() else {
            return Written::No;
        };
        let Some(shared) = slot.as_ref() else {
            return Written::No;
        };
        let Ok(mut guard) = shared.try_lock() else {
            return Written::No;
        };
        let side = &mut *guard;
        if side.dirty {
            return Written::No;
        }
        if let Some(backlog) = side.backlog.as_deref_mut() {
            return match backlog {
                Backlog::Batch(b) if side.batched && b.len() + frame.len() <= BATCH_BYTES => {
                    b.extend_from_slice(frame);
                    Written::All
                }
                _ => Written::No,
            };
        }
        // In a scope: the first frame to this recipient is written now, a later one starts
        // its batch (a frame too large for one is written now).
        let batching = frame.len() <= BATCH_BYTES
            && BATCH.with(|b| {
                let mut b = b.borrow_mut();
                let Some(id) = b.id() else { return false };
                if side.scope != id {
                    side.scope = id;
                    return false;
                }
                b.list.push((shared.clone(), tx.clone()));
                true
            });
        if batching {
            side.backlog = Some(Box::new(Backlog::Batch(BytesMut::from(&frame[..]))));
            side.batched = true;
            return Written::All;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(&mut side.io).poll_write(&mut cx, frame) {
            Poll::Ready(Ok(n)) if n == frame.len() => Written::All,
            Poll::Ready(Ok(n)) => {
                side.backlog = Some(Box::new(Backlog::Rest(frame.slice(n..))));
                Written::Partly
            }
            // The task meets the error on its next read or write.
            Poll::Ready(Err(_)) => Written::No,
            Poll::Pending => {
                side.backlog = Some(Box::new(Backlog::Rest(frame.clone())));
                Written::Partly
            }
        }
    }
}

/// The batch scope of this thread.
#[derive(Default)]
struct Scope {
    /// A [`BatchScope`] is open.
    open: bool,
    /// Its id, taken when a broadcast first needs it (0: none yet).
    id: u32,
    /// The recipients whose backlog gathers a batch, with their inbox.
    list: Vec<(SharedSide, UnboundedSender<Input>)>,
    /// The ids this thread may use next: `next..end` (taken from [`SCOPE_IDS`] a block at a
    /// time, so that threads do not meet on one counter at every poll).
    next: u32,
    end: u32,
}

/// Where threads take blocks of scope ids. An id repeats after 2^32 scopes: a recipient last
/// written under the same id then has its first frame batched (still sent at the scope's end).
static SCOPE_IDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
const SCOPE_BLOCK: u32 = 1024;

impl Scope {
    /// The open scope's id (`None`: no scope open).
    fn id(&mut self) -> Option<u32> {
        if !self.open {
            return None;
        }
        if self.id == 0 {
            if self.next == self.end {
                self.next = SCOPE_IDS.fetch_add(SCOPE_BLOCK, std::sync::atomic::Ordering::Relaxed);
                self.end = self.next.wrapping_add(SCOPE_BLOCK);
            }
            // 0 is "none" (a stream never written in a scope).
            self.id = self.next.max(1);
            self.next = self.next.wrapping_add(1);
        }
        Some(self.id)
    }
}

thread_local! {
    static BATCH: RefCell<Scope> = RefCell::default();
}

pin_project_lite::pin_project! {
    /// A connection task's future, each poll of it a [`BatchScope`].
    pub(crate) struct Batched<F> {
        #[pin]
        task: F,
    }
}

impl<F> Batched<F> {
    pub(crate) fn new(task: F) -> Self {
        Self { task }
    }
}

impl<F: std::future::Future> std::future::Future for Batched<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _scope = BatchScope::enter();
        self.project().task.poll(cx)
    }
}

/// One poll of a connection task: the broadcasts made meanwhile are batched per recipient
/// after their first frame, and the batches leave when the scope ends (dropped, also when the
/// poll unwinds).
pub(crate) struct BatchScope(());

impl BatchScope {
    pub(crate) fn enter() -> Self {
        BATCH.with(|b| {
            let mut b = b.borrow_mut();
            b.open = true;
            b.id = 0;
        });
        Self(())
    }
}

impl Drop for BatchScope {
    fn drop(&mut self) {
        let mut list = BATCH.with(|b| {
            let mut b = b.borrow_mut();
            b.open = false;
            std::mem::take(&mut b.list)
        });
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for (shared, tx) in list.drain(..) {
            let mut side = lock(&shared);
            if !side.batched {
                // The task wrote it already.
                continue;
            }
            side.batched = false;
            if !matches!(side.poll_backlog(&mut cx), Poll::Ready(Ok(()))) {
                // The rest (or the error) is the task's.
                let _ = tx.unbounded_send(Input::Backlog);
            }
        }
        // The list keeps its room for the next scope on this thread.
        BATCH.with(|b| b.borrow_mut().list = list);
    }
}

/// A server's (unmasked) websocket text frame holding `text`, whole (FIN).
pub(crate) fn text_frame(text: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(text.len() + 10);
    out.put_u8(0x81);
    match text.len() {
        n if n < 126 => out.put_u8(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.put_u8(126);
            out.put_u16(n as u16);
        }
        n => {
            out.put_u8(127);
            out.put_u64(n as u64);
        }
    }
    out.extend_from_slice(text);
    out.freeze()
}
