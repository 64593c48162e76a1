//! The handles the application holds — [`Manager`] and [`ClientSocket`] — and the state they
//! share with the manager's task: its inbox of commands ([`Cmd`]), its listeners, and its
//! state while it is parked. The two handles refer to each other (a socket knows its manager,
//! a manager its sockets), so both types are defined here; their APIs are in
//! [`super::manager`] and [`super::socket`], the task in [`super::task`].

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::future::Shared;
use sio_proto::engine::client::OpenError;
use sio_proto::engine::CloseReason;
use sio_proto::socket::client::{Manager as ProtoManager, QueuedEmit};
use sio_proto::socket::{DisconnectReason, EncodedPacket, Nsp, Packet};

use super::transport::{Endpoint, Ws};
use super::{ClientAckError, ClientEmitError, ClientOptions, SocketOptions};
use crate::handler::BoxedHandler;
use crate::runtime::{BoxFuture, Runtime};
use crate::sync::{lock, read, write};

/// What the manager's task is asked to do, or told about its I/O.
pub(crate) enum Cmd {
    Open,
    Close,
    Connect(ClientSocket),
    Disconnect(Nsp),
    Emit {
        nsp: Nsp,
        packet: EncodedPacket,
        volatile: bool,
    },
    EmitWithAck {
        nsp: Nsp,
        id: u64,
        packet: EncodedPacket,
        timeout: Option<Duration>,
        reply: oneshot::Sender<Result<Packet, ClientAckError>>,
    },
    /// An emit of a socket with `retries > 0` (the at-least-once queue).
    Queued {
        nsp: Nsp,
        emit: QueuedEmit,
        reply: Option<oneshot::Sender<Result<Packet, ClientAckError>>>,
    },
    ForgetAck {
        nsp: Nsp,
        id: u64,
    },
    SendAck {
        nsp: Nsp,
        id: u64,
        json: Bytes,
        attachments: Vec<Bytes>,
    },
    // ----- I/O results, tagged with the Engine.IO generation -----
    PollResponse {
        generation: u64,
        /// The answer, or why the request failed.
        response: Result<(u16, Bytes), String>,
    },
    PostResponse {
        generation: u64,
        ok: bool,
    },
    WsOpened {
        generation: u64,
        ws: Box<Ws>,
    },
    WsFailed {
        generation: u64,
        /// Why.
        cause: String,
    },
}

impl Cmd {
    /// Commands from the application that carry a packet: they count against
    /// `max_pending_commands`.
    pub(crate) fn is_outbound(&self) -> bool {
        matches!(
            self,
            Cmd::Emit { .. } | Cmd::EmitWithAck { .. } | Cmd::Queued { .. } | Cmd::SendAck { .. }
        )
    }
}

type Listener<A> = RwLock<Vec<(ListenerId, Arc<dyn Fn(A) + Send + Sync>)>>;
type ErrorListener = RwLock<Vec<(ListenerId, Arc<dyn Fn(&OpenError) + Send + Sync>)>>;

/// A manager listener, as [`Manager::off`] removes it (what its `on_*` returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(pub(crate) u64);

#[derive(Default)]
pub(crate) struct Listeners {
    /// The next [`ListenerId`].
    pub next: std::sync::atomic::AtomicU64,
    pub open: Listener<()>,
    pub error: ErrorListener,
    pub ping: Listener<()>,
    pub upgrade: Listener<()>,
    pub close: Listener<CloseReason>,
    pub reconnect_attempt: Listener<u32>,
    pub reconnect: Listener<u32>,
    pub reconnect_error: ErrorListener,
    pub reconnect_failed: Listener<()>,
}

/// Calls the listeners; a panicking one is caught (the panic hook reports it) so that it
/// cannot take the connection's task down.
pub(crate) fn emit_to<A: Copy>(l: &Listener<A>, a: A) {
    let list = read(l).clone();
    for (_, f) in list {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| f(a)));
    }
}

impl Listeners {
    /// Adds `f` to `list`; its id.
    pub(crate) fn add<F: ?Sized>(
        &self,
        list: &RwLock<Vec<(ListenerId, Arc<F>)>>,
        f: Arc<F>,
    ) -> ListenerId {
        let id = ListenerId(self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        write(list).push((id, f));
        id
    }

    /// Removes listener `id`, wherever it is; whether it was there.
    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        fn drop_from<F: ?Sized>(list: &RwLock<Vec<(ListenerId, Arc<F>)>>, id: ListenerId) -> bool {
            let mut l = write(list);
            let before = l.len();
            l.retain(|(i, _)| *i != id);
            l.len() != before
        }
        [
            drop_from(&self.open, id),
            drop_from(&self.error, id),
            drop_from(&self.ping, id),
            drop_from(&self.upgrade, id),
            drop_from(&self.close, id),
            drop_from(&self.reconnect_attempt, id),
            drop_from(&self.reconnect, id),
            drop_from(&self.reconnect_error, id),
            drop_from(&self.reconnect_failed, id),
        ]
        .contains(&true)
    }
}

pub(crate) fn emit_error(l: &ErrorListener, e: &OpenError) {
    let list = read(l).clone();
    for (_, f) in list {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| f(e)));
    }
}

pub(crate) struct ManagerInner {
    pub(crate) rt: Arc<dyn Runtime>,
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) opts: ClientOptions,
    pub(crate) tx: mpsc::UnboundedSender<Cmd>,
    /// Starts the task with its parked state (the task module's entry point, given by the
    /// manager when it is made: the handles do not depend on the task).
    pub(crate) start: fn(Arc<ManagerInner>, Parked),
    /// Outbound commands in the inbox.
    pub(crate) queued: AtomicUsize,
    /// The task's state while no task runs (before the first command, and after the
    /// connection closed for good). The lock is held while a command is pushed, so that the
    /// task cannot park between the push and the check.
    pub(crate) parked: Mutex<Option<Parked>>,
    /// Why the last request or websocket failed ([`Manager::last_error`]); cleared when a
    /// connection opens.
    pub(crate) last_error: Mutex<Option<String>>,
    pub(crate) next_ack_id: AtomicU64,
    pub(crate) sockets: Mutex<HashMap<Nsp, Weak<SocketInner>>>,
    pub(crate) listeners: Listeners,
    pub(crate) engine_id: Mutex<Option<String>>,
    /// 0: no connection, 1: polling, 2: websocket.
    pub(crate) transport: AtomicU8,
}

/// A connection to one Socket.IO server (Node's client `Manager`), shared by the sockets of
/// its namespaces. Cloning is cheap (a shared handle).
///
/// One task per manager owns the connection: it runs only while the manager is connected,
/// connecting or waiting to reconnect, and starts again when a socket connects. The
/// connection stays up while any socket wants it, even when every handle was dropped (as in
/// Node, where only `disconnect()` ends it).
#[derive(Clone)]
pub struct Manager {
    pub(crate) inner: Arc<ManagerInner>,
}

/// Two handles are equal when they are the same manager (one Engine.IO connection).
impl PartialEq for Manager {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Manager {}

impl Manager {
    /// Whether a socket of namespace `nsp` exists (a handle to it is alive).
    pub(crate) fn has_socket(&self, nsp: &str) -> bool {
        lock(&self.inner.sockets)
            .iter()
            .any(|(n, w)| n.as_str() == nsp && w.strong_count() > 0)
    }

    /// Whether any socket of this manager is alive.
    pub(crate) fn has_live_sockets(&self) -> bool {
        lock(&self.inner.sockets)
            .values()
            .any(|w| w.strong_count() > 0)
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.inner.next_ack_id.fetch_add(1, Ordering::Relaxed)
            & sio_proto::socket::packet::MAX_ACK_ID
    }

    /// Pushes a command into the task's inbox, starting the task if it is parked.
    pub(crate) fn send(&self, cmd: Cmd) -> Result<(), ClientEmitError> {
        let outbound = cmd.is_outbound();
        if outbound {
            if self.inner.queued.load(Ordering::Relaxed) >= self.inner.opts.max_pending_commands {
                return Err(ClientEmitError::QueueFull);
            }
            self.inner.queued.fetch_add(1, Ordering::Relaxed);
        }
        let mut parked = lock(&self.inner.parked);
        if self.inner.tx.unbounded_send(cmd).is_err() {
            if outbound {
                self.inner.queued.fetch_sub(1, Ordering::Relaxed);
            }
            return Err(ClientEmitError::Closed);
        }
        if let Some(state) = parked.take() {
            (self.inner.start)(self.inner.clone(), state);
        }
        Ok(())
    }

    /// A sender for I/O results: they never start a parked task (a parked task has no I/O
    /// that matters).
    pub(crate) fn io_sender(&self) -> mpsc::UnboundedSender<Cmd> {
        self.inner.tx.clone()
    }
}

type ConnectHandler = Arc<dyn Fn(ClientSocket) -> BoxFuture<()> + Send + Sync>;
type ConnectErrorHandler =
    Arc<dyn Fn(ClientSocket, String, Option<serde_json::Value>) -> BoxFuture<()> + Send + Sync>;
type DisconnectHandler = Arc<dyn Fn(ClientSocket, DisconnectReason) -> BoxFuture<()> + Send + Sync>;
type AnyHandler = Arc<dyn Fn(&ClientSocket, &str, &Packet) + Send + Sync>;
type AnyOutgoingHandler = Arc<dyn Fn(&ClientSocket, &str) + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(&ClientSocket, &str) + Send + Sync>;

/// The handler of one event, and whether it is taken by its first event (`once`).
pub(crate) struct EventEntry {
    pub(crate) f: BoxedHandler<ClientSocket>,
    pub(crate) once: bool,
}

pub(crate) struct SocketInner {
    pub(crate) nsp: Nsp,
    pub(crate) manager: Manager,
    pub(crate) opts: SocketOptions,
    pub(crate) id: Mutex<Option<String>>,
    pub(crate) connected: AtomicBool,
    /// The last connection recovered the socket (connection state recovery).
    pub(crate) recovered: AtomicBool,
    pub(crate) active: AtomicBool,
    pub(crate) handlers: RwLock<HashMap<String, EventEntry>>,
    pub(crate) any: RwLock<Vec<AnyHandler>>,
    pub(crate) any_outgoing: RwLock<Vec<AnyOutgoingHandler>>,
    pub(crate) on_connect: RwLock<Vec<ConnectHandler>>,
    pub(crate) on_connect_error: RwLock<Vec<ConnectErrorHandler>>,
    pub(crate) on_disconnect: RwLock<Vec<DisconnectHandler>>,
    pub(crate) on_error: RwLock<Vec<ErrorHandler>>,
}

/// The client side of one namespace (Node's client `Socket`). Cloning is cheap (a shared
/// handle); every clone is the same socket.
///
/// Emits made while the socket is not connected are buffered and sent, in order, once it is
/// (volatile emits are dropped instead). Handlers run inside the manager's task, one future
/// per event.
#[derive(Clone)]
pub struct ClientSocket {
    pub(crate) inner: Arc<SocketInner>,
}

pub(crate) type AckReply = oneshot::Sender<Result<Packet, ClientAckError>>;

/// Cancels the I/O futures of one Engine.IO generation when dropped.
pub(crate) struct Cancel {
    pub(crate) generation: u64,
    pub(crate) _tx: oneshot::Sender<()>,
    pub(crate) rx: Shared<oneshot::Receiver<()>>,
}

/// The state that survives while no task runs.
pub(crate) struct Parked {
    pub(crate) proto: ProtoManager,
    pub(crate) rx: mpsc::UnboundedReceiver<Cmd>,
    pub(crate) acks: HashMap<u64, AckReply>,
    pub(crate) sockets: HashMap<Nsp, Weak<SocketInner>>,
    pub(crate) cancel: Option<Cancel>,
}
