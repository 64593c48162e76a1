//! A connection task's inbox: what the API objects (sockets, namespaces, broadcasts) and the
//! HTTP side send to it, with the bounds on what waits there on its way out.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use sio_proto::engine::server::HttpResponse;
use sio_proto::engine::{CloseReason, Frame, TransportKind};
use sio_proto::socket::{EncodedPacket, Nsp, Packet};

use super::direct::{Direct, ServerIo, SharedIo, Written};
use crate::runtime::catch;

/// The byte stream under a server websocket (shared with direct writes).
pub(crate) type WsIo = crate::ws_deflate::WsIo<SharedIo<ServerIo>>;
/// A server websocket.
pub(crate) type Ws = async_tungstenite::WebSocketStream<WsIo>;
use sio_proto::payload::PayloadError;

/// What the connection task is asked to do.
pub(crate) enum Input {
    PollGet(oneshot::Sender<HttpResponse>),
    /// A `POST` started: `None` to go on and read its body, or the answer to give at once.
    PostStarted(oneshot::Sender<Option<HttpResponse>>),
    /// The `POST` started ended without its body handed over.
    PostAborted,
    PollPost(Bytes, oneshot::Sender<HttpResponse>),
    WebSocket(Box<Ws>),
    Packet(EncodedPacket),
    /// One bare Engine.IO frame (plain Engine.IO servers).
    Frame(Frame),
    Volatile(EncodedPacket),
    /// Boxed: every input (one per delivery of a broadcast) is as large as the largest.
    AckRequest(Box<AckRequest>),
    Disconnect {
        nsp: Nsp,
        close: bool,
    },
    Close(CloseReason),
    /// A direct write left part of its frame for the task to write.
    Backlog,
}

impl Input {
    /// For a packet on its way out, its size in bytes (what it holds in the inbox).
    pub(crate) fn outbound_bytes(&self) -> Option<usize> {
        match self {
            Input::Packet(p) | Input::Volatile(p) => Some(packet_bytes(p)),
            Input::AckRequest(r) => Some(packet_bytes(&r.packet)),
            Input::Frame(f) => Some(f.len()),
            _ => None,
        }
    }
}

fn packet_bytes(p: &EncodedPacket) -> usize {
    p.text.len() + p.attachments.iter().map(|a| a.len()).sum::<usize>()
}

/// An emit that awaits the client's ack.
pub(crate) struct AckRequest {
    pub(crate) nsp: Nsp,
    pub(crate) id: u64,
    pub(crate) packet: EncodedPacket,
    pub(crate) timeout: Option<Duration>,
    pub(crate) reply: AckReply,
}

/// Where an ack awaited from the client goes: a future's channel, or a callback run on the
/// connection task.
pub(crate) enum AckReply {
    Future(oneshot::Sender<Result<Packet, AckError>>),
    Callback(Box<dyn FnOnce(Result<Packet, AckError>) + Send>),
}

impl AckReply {
    pub(crate) fn send(self, r: Result<Packet, AckError>) {
        match self {
            AckReply::Future(tx) => {
                let _ = tx.send(r);
            }
            AckReply::Callback(f) => {
                catch("an ack callback", || f(r));
            }
        }
    }
}

/// Bounds on what waits in a connection's inbox on its way out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InboxLimits {
    pub(crate) packets: usize,
    pub(crate) bytes: usize,
}

/// What the inbox holds on its way out, counted by the senders and the task.
#[derive(Default)]
pub(crate) struct Outbound {
    pub(crate) packets: AtomicUsize,
    pub(crate) bytes: AtomicUsize,
    /// A `send buffer full` close was asked for already.
    pub(crate) overflowed: AtomicBool,
    /// The task has nothing on its way out and waits ([`super::direct`]): a broadcast may
    /// write to its websocket directly.
    pub(crate) idle: AtomicBool,
    /// Packets dropped over the bounds, not yet added to the server's counters (the task adds
    /// them; kept here, in the struct's padding, so that the fan-out path touches nothing
    /// more).
    pub(crate) dropped: AtomicU32,
    /// The websocket a fan-out may write to directly.
    pub(crate) direct: Direct,
}

/// A handle to a connection task's inbox. Outbound packets count against its bounds (in
/// packets and in bytes): over them a volatile packet is dropped, and any other closes the
/// connection with `send buffer full` (a client that does not keep up is disconnected, not
/// buffered for without bound).
#[derive(Clone)]
pub(crate) struct ConnHandle {
    pub(crate) tx: mpsc::UnboundedSender<Input>,
    pub(crate) outbound: Arc<Outbound>,
    pub(crate) transport: Arc<AtomicU8>,
    pub(crate) limits: InboxLimits,
}

impl std::fmt::Debug for ConnHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnHandle")
            .field("queued", &self.outbound.packets.load(Ordering::Relaxed))
            .finish()
    }
}

impl ConnHandle {
    pub(crate) fn push(&self, input: Input) -> Result<(), EmitError> {
        if let Some(bytes) = input.outbound_bytes() {
            let o = &self.outbound;
            if o.packets.load(Ordering::Relaxed) >= self.limits.packets
                || o.bytes.load(Ordering::Relaxed).saturating_add(bytes) > self.limits.bytes
            {
                return Err(self.overflow(matches!(input, Input::Volatile(_))));
            }
            o.packets.fetch_add(1, Ordering::SeqCst);
            o.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        self.tx
            .unbounded_send(input)
            .map_err(|_| EmitError::Disconnected)
    }

    /// A packet over the bounds: dropped and counted; a non-volatile one closes the session
    /// (once). Out of line: the fan-out loop calls `push` for every recipient.
    #[cold]
    #[inline(never)]
    fn overflow(&self, volatile: bool) -> EmitError {
        let o = &self.outbound;
        o.dropped.fetch_add(1, Ordering::Relaxed);
        if volatile {
            tracing::trace!("volatile packet dropped: the client's queue is full");
        } else if !o.overflowed.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                packets = o.packets.load(Ordering::Relaxed),
                bytes = o.bytes.load(Ordering::Relaxed),
                "a client's send queue is full: packet dropped, session closing \
                 (send buffer full)"
            );
            let _ = self
                .tx
                .unbounded_send(Input::Close(CloseReason::SendBufferFull));
        }
        EmitError::QueueFull
    }

    /// Writes the websocket frame of `text` (a packet without attachments) straight to the
    /// connection's websocket when nothing else is on its way out to it (see
    /// [`super::direct`]); returns whether it did, fully or leaving the rest to the task.
    /// `frame` is that frame, built by the first recipient that can take it and shared by the
    /// others.
    pub(crate) fn write_direct(&self, frame: &mut Option<Bytes>, text: &[u8]) -> bool {
        // The inbox first, then the task's idleness (the task clears it before it takes
        // packets off the inbox).
        if self.outbound.packets.load(Ordering::SeqCst) != 0
            || !self.outbound.idle.load(Ordering::SeqCst)
        {
            return false;
        }
        let frame = frame.get_or_insert_with(|| super::direct::text_frame(text));
        match self.outbound.direct.write(frame, &self.tx) {
            Written::No => false,
            Written::All => true,
            Written::Partly => {
                let _ = self.tx.unbounded_send(Input::Backlog);
                true
            }
        }
    }

    pub(crate) fn transport(&self) -> TransportKind {
        if self.transport.load(Ordering::Relaxed) == 1 {
            TransportKind::WebSocket
        } else {
            TransportKind::Polling
        }
    }
}

/// Creates the inbox of a new connection.
pub(crate) fn channel(
    limits: InboxLimits,
    transport: TransportKind,
) -> (ConnHandle, mpsc::UnboundedReceiver<Input>) {
    let (tx, rx) = mpsc::unbounded();
    let h = ConnHandle {
        tx,
        outbound: Arc::default(),
        transport: Arc::new(AtomicU8::new(u8::from(
            transport == TransportKind::WebSocket,
        ))),
        limits,
    };
    (h, rx)
}

/// Errors of an emit.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The arguments could not be serialised.
    #[error("cannot serialise the arguments: {0}")]
    Payload(#[from] PayloadError),
    /// The socket is disconnected.
    #[error("the socket is disconnected")]
    Disconnected,
    /// The connection's queue is at its bound (a client that does not keep up).
    #[error("the connection's outbound queue is full")]
    QueueFull,
    /// The event name is reserved (`connect`, `disconnect`, ...).
    #[error("reserved event name {0:?}")]
    Reserved(String),
    /// The arguments cannot be carried to the other servers of a cluster.
    #[error("cannot carry the event to the cluster: {0}")]
    Cluster(String),
}

/// Errors of an ack awaited from the client.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// No answer before the timeout.
    #[error("ack timed out")]
    Timeout,
    /// The socket disconnected before answering.
    #[error("socket disconnected before the ack")]
    Disconnected,
    /// The answer did not deserialise into the expected type.
    #[error("cannot deserialise the ack: {0}")]
    Payload(#[from] PayloadError),
    /// The emit itself failed.
    #[error(transparent)]
    Emit(#[from] EmitError),
}
