//! The skeleton every task that drives a state machine is built from — the server's
//! connection task ([`crate::server`]) and the client's manager task ([`crate::client`]):
//!
//! 1. wait for one thing ([`Wake`]): a handler future finished, an input from the
//!    application or the transports, a websocket message, room to write, the machine's
//!    deadline;
//! 2. feed it to the machine;
//! 3. drain: move transmits to the websocket while it takes them ([`WsLink`], never waiting
//!    for a peer that does not read), dispatch events;
//! 4. re-arm the one timer at the machine's `poll_timeout()` ([`DeadlineTimer`], moved rather
//!    than re-allocated).
//!
//! Handler futures run inside the task ([`Tasks`]), a panic in one caught and reported.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use async_tungstenite::WebSocketStream;
use futures_channel::mpsc;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, SinkExt, StreamExt};
use sio_proto::engine::Frame;

use crate::runtime::{BoxFuture, Runtime, Sleep};
use crate::ws_deflate::WsIo;

/// What woke a task.
pub(crate) enum Wake<I> {
    /// An input from the task's inbox.
    Input(I),
    /// A message (or the end, or an error) read from the websocket.
    Ws(Option<Result<WsMessage, WsError>>),
    /// Writing to the websocket with this tag failed (it was dropped).
    #[cfg_attr(not(feature = "client"), allow(dead_code))] // the tag: the client's generations
    WsFailed(u64),
    /// The websocket took what waited, or a flush completed: drain again.
    Writable,
    /// The machine's deadline passed.
    Timer,
    /// A handler future finished.
    Task,
}

/// How long a websocket that is being closed may take to take its last frames and the close
/// handshake before it is dropped (a peer that does not read cannot hold it longer).
pub(crate) const WS_CLOSE_LINGER: Duration = Duration::from_secs(5);

/// A future the task runs, a panic in it caught.
type TaskFuture = futures_util::future::CatchUnwind<AssertUnwindSafe<BoxFuture<()>>>;

/// The handler futures a task runs inside itself (never a task per message).
#[derive(Default)]
pub(crate) struct Tasks(FuturesUnordered<TaskFuture>);

impl Tasks {
    /// Runs `fut` inside the task, its panics caught.
    pub(crate) fn push(&mut self, fut: BoxFuture<()>) {
        self.0.push(AssertUnwindSafe(fut).catch_unwind());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ready when one future finished (a panic reported with `tracing`, naming `owner`).
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, owner: &str) -> Poll<()> {
        if self.0.is_empty() {
            return Poll::Pending;
        }
        match self.0.poll_next_unpin(cx) {
            Poll::Ready(Some(Err(p))) => {
                tracing::error!(
                    owner,
                    panic = crate::runtime::panic_message(&*p),
                    "a handler panicked"
                );
                Poll::Ready(())
            }
            Poll::Ready(Some(Ok(()))) => Poll::Ready(()),
            _ => Poll::Pending,
        }
    }
}

/// The one timer of a task: armed at the machine's `poll_timeout()`, moved only when that
/// instant changes, and moved in place when the runtime's timers allow it.
#[derive(Default)]
pub(crate) struct DeadlineTimer {
    deadline: Option<Instant>,
    sleep: Option<Pin<Box<dyn Sleep>>>,
}

impl DeadlineTimer {
    /// Arms the timer at `deadline` (`None`: disarmed).
    pub(crate) fn set(&mut self, rt: &dyn Runtime, deadline: Option<Instant>) {
        if self.deadline == deadline {
            return;
        }
        self.deadline = deadline;
        let Some(d) = deadline else {
            return;
        };
        let moved = self.sleep.as_mut().is_some_and(|s| s.as_mut().reset(d));
        if !moved {
            self.sleep = Some(rt.timer(d));
        }
    }

    /// Ready once the deadline passed; the timer is then disarmed.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.deadline.is_none() {
            return Poll::Pending;
        }
        let Some(sleep) = self.sleep.as_mut() else {
            return Poll::Pending;
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.deadline = None;
        Poll::Ready(())
    }
}

/// A boxed websocket over a [`WsIo`].
pub(crate) type WsBox<S> = Box<WebSocketStream<WsIo<S>>>;

/// A websocket written without waiting: a frame the socket cannot take yet waits in one slot
/// (the rest stays in the machine, counted against its bounds), and the task goes on with its
/// other inputs. `tag` tells which session the socket belongs to (the client's generation).
pub(crate) struct WsLink<S> {
    ws: Option<(u64, Box<WebSocketStream<S>>)>,
    /// A message the websocket could not take yet.
    out: Option<WsMessage>,
    /// Messages were written since the last completed flush.
    flush: bool,
    /// The waker the websocket is read with, and whether it was woken ([`ReadWake`]).
    read: Option<(Arc<ReadWake>, Waker)>,
    /// The task waker [`ReadWake`] holds (registered anew only when it changed or was used).
    task: Option<Waker>,
    /// The last read said `Pending`: until [`ReadWake`] fires, another read would too.
    read_idle: bool,
}

impl<S> Default for WsLink<S> {
    fn default() -> Self {
        Self {
            ws: None,
            out: None,
            flush: false,
            read: None,
            task: None,
            read_idle: false,
        }
    }
}

/// The waker a websocket is read with: it notes that the read side was woken, then wakes the
/// task. A task woken by something else (an input, a timer, a handler) skips the read, and
/// with it the whole stack down to the socket's readiness, which would only say `Pending`
/// again: a broadcast's recipients are woken once per frame, and read nothing.
struct ReadWake {
    woken: AtomicBool,
    task: futures_util::task::AtomicWaker,
}

impl std::task::Wake for ReadWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// What the link saw while writing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// The link takes another message.
    Free,
    /// The websocket does not take more now; it wakes the task when it does.
    Busy,
    /// Writing to the websocket with this tag failed: it was dropped.
    Failed(u64),
}

impl<S> WsLink<WsIo<S>>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static,
{
    /// The tag of the current websocket.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn tag(&self) -> Option<u64> {
        self.ws.as_ref().map(|(t, _)| *t)
    }

    /// Uses `ws` from now on; returns the previous websocket, to retire.
    pub(crate) fn open(&mut self, tag: u64, ws: WsBox<S>) -> Option<WsBox<S>> {
        self.out = None;
        self.flush = false;
        self.read_idle = false;
        self.ws.replace((tag, ws)).map(|(_, w)| w)
    }

    /// The current websocket.
    pub(crate) fn current(&self) -> Option<&WebSocketStream<WsIo<S>>> {
        self.ws.as_ref().map(|(_, w)| &**w)
    }

    /// Nothing waits to be written or flushed.
    pub(crate) fn is_quiet(&self) -> bool {
        self.out.is_none() && !self.flush
    }

    /// Flushes at the next write (what was written under the websocket needs it).
    pub(crate) fn want_flush(&mut self) {
        self.flush = self.ws.is_some();
    }

    /// Takes the websocket out (what waited in the slot is dropped).
    pub(crate) fn take(&mut self) -> Option<WsBox<S>> {
        self.out = None;
        self.flush = false;
        self.ws.take().map(|(_, w)| w)
    }

    /// Takes the websocket out with the message that waited in the slot, for a last write.
    pub(crate) fn take_with_pending(&mut self) -> Option<(WsBox<S>, Vec<WsMessage>)> {
        let out = self.out.take();
        self.flush = false;
        self.ws.take().map(|(_, w)| (w, out.into_iter().collect()))
    }

    fn failed(&mut self) -> u64 {
        self.out = None;
        self.flush = false;
        self.ws.take().map_or(0, |(t, _)| t)
    }

    /// Sends the waiting message if the websocket takes it now: whether the slot is free.
    pub(crate) fn poll_room(&mut self, cx: &mut Context<'_>) -> Room {
        let Some((_, ws)) = self.ws.as_mut() else {
            self.out = None;
            return Room::Free;
        };
        if self.out.is_none() {
            return Room::Free;
        }
        match ws.poll_ready_unpin(cx) {
            Poll::Ready(Ok(())) => {
                let m = self.out.take().expect("checked above");
                if ws.start_send_unpin(m).is_err() {
                    return Room::Failed(self.failed());
                }
                self.flush = true;
                Room::Free
            }
            Poll::Ready(Err(_)) => Room::Failed(self.failed()),
            Poll::Pending => Room::Busy,
        }
    }

    /// Puts a frame in the slot (after [`WsLink::poll_room`] said it is free), compressed
    /// when the websocket has `permessage-deflate`, `compress` holds and the frame reaches the
    /// threshold; dropped when there is no websocket.
    pub(crate) fn put(&mut self, frame: Frame, compress: bool) {
        if let Some((_, ws)) = &self.ws {
            let deflate = ws.get_ref().deflate().filter(|_| compress);
            self.out = crate::ws_deflate::message(frame, deflate);
        }
    }

    /// Starts a flush of what was written; [`Room::Failed`] when it fails.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Room {
        if !self.flush {
            return Room::Free;
        }
        match self.ws.as_mut().map(|(_, ws)| ws.poll_flush_unpin(cx)) {
            Some(Poll::Ready(Ok(()))) | None => {
                self.flush = false;
                Room::Free
            }
            Some(Poll::Ready(Err(_))) => Room::Failed(self.failed()),
            Some(Poll::Pending) => Room::Busy,
        }
    }

    /// A read, or room to write while a write waits, as a [`Wake`].
    pub(crate) fn poll_wake<I>(&mut self, cx: &mut Context<'_>) -> Poll<Wake<I>> {
        let Some((_, ws)) = self.ws.as_mut() else {
            return Poll::Pending;
        };
        let (flag, waker) = self.read.get_or_insert_with(|| {
            let flag = Arc::new(ReadWake {
                woken: AtomicBool::new(false),
                task: futures_util::task::AtomicWaker::new(),
            });
            (flag.clone(), Waker::from(flag))
        });
        // A wake takes the registered waker out: register again after one, or for a new one.
        let woken = flag.woken.swap(false, Ordering::AcqRel);
        if woken || !self.task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            flag.task.register(cx.waker());
            self.task = Some(cx.waker().clone());
        }
        if !self.read_idle || woken {
            match ws.poll_next_unpin(&mut Context::from_waker(waker)) {
                Poll::Ready(m) => {
                    self.read_idle = false;
                    return Poll::Ready(Wake::Ws(m));
                }
                Poll::Pending => self.read_idle = true,
            }
        }
        if self.out.is_some() {
            if let Poll::Ready(r) = ws.poll_ready_unpin(cx) {
                return Poll::Ready(match r {
                    Ok(()) => Wake::Writable,
                    Err(_) => Wake::WsFailed(self.failed()),
                });
            }
        } else if self.flush {
            if let Poll::Ready(r) = ws.poll_flush_unpin(cx) {
                self.flush = false;
                return Poll::Ready(match r {
                    Ok(()) => Wake::Writable,
                    Err(_) => Wake::WsFailed(self.failed()),
                });
            }
        }
        Poll::Pending
    }
}

/// The common order of a wake, after what is particular to a task: the inbox, the websocket
/// (reads, and room for writes when a write waits), then the timer. The timer and the inbox
/// keep running while a write waits for a peer that does not read.
pub(crate) fn poll_wake<I, S>(
    cx: &mut Context<'_>,
    rx: &mut mpsc::UnboundedReceiver<I>,
    ws: &mut WsLink<WsIo<S>>,
    timer: &mut DeadlineTimer,
) -> Poll<Wake<I>>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static,
{
    if let Poll::Ready(Some(i)) = rx.poll_next_unpin(cx) {
        return Poll::Ready(Wake::Input(i));
    }
    if let Poll::Ready(w) = ws.poll_wake(cx) {
        return Poll::Ready(w);
    }
    if timer.poll(cx).is_ready() {
        return Poll::Ready(Wake::Timer);
    }
    Poll::Pending
}

/// Writes `last` to `ws` and closes it (with `close` as the close frame), for at most
/// [`WS_CLOSE_LINGER`]: a future to run in the task or in the background.
pub(crate) fn retire_ws<S>(
    rt: &dyn Runtime,
    mut ws: Box<WebSocketStream<S>>,
    last: Vec<WsMessage>,
    close: Option<CloseFrame>,
) -> BoxFuture<()>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static,
{
    let deadline = rt.sleep_until(rt.now() + WS_CLOSE_LINGER);
    Box::pin(async move {
        let work = async move {
            for m in last {
                if ws.feed(m).await.is_err() {
                    return;
                }
            }
            let _ = WebSocketStream::close(&mut *ws, close).await;
        };
        let _ = futures_util::future::select(std::pin::pin!(work), deadline).await;
    })
}

/// A websocket message for a frame (`None` for a text frame that is not UTF-8, which the
/// machines never produce).
pub(crate) fn ws_message(frame: Frame) -> Option<WsMessage> {
    match frame {
        Frame::Text(b) => Utf8Bytes::try_from(b).ok().map(WsMessage::Text),
        Frame::Binary(b) => Some(WsMessage::Binary(b)),
    }
}

/// The machine's frame for a websocket message (`None` for control messages).
pub(crate) fn ws_frame(m: WsMessage) -> Option<Frame> {
    match m {
        WsMessage::Text(t) => Some(Frame::Text(bytes::Bytes::from(t))),
        WsMessage::Binary(b) => Some(Frame::Binary(b)),
        _ => None,
    }
}
