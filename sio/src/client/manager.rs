//! The client [`Manager`]: one Engine.IO connection to a server, shared by the sockets of
//! several namespaces, reconnected with backoff. Its state machine
//! ([`sio_proto::socket::client::Manager`]) is owned by one task (see [`super::task`]); this
//! handle talks to it through an inbox.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use sio_proto::engine::client::OpenError;
use sio_proto::engine::{CloseReason, TransportKind};
use sio_proto::socket::client::QueuedEmit;
use sio_proto::socket::{EncodedPacket, Nsp, Packet};

use super::socket::{lock, read, write, ClientSocket, SocketInner};
use super::task::{ManagerTask, Parked};
use super::transport::{parse_url, Endpoint, Ws};
use super::{ClientAckError, ClientEmitError, ClientError, ClientOptions, SocketOptions};
use crate::runtime::Runtime;

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
        response: Result<(u16, Bytes), ()>,
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

type Listener<A> = RwLock<Vec<Arc<dyn Fn(A) + Send + Sync>>>;
type ErrorListener = RwLock<Vec<Arc<dyn Fn(&OpenError) + Send + Sync>>>;

#[derive(Default)]
pub(crate) struct Listeners {
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
    for f in list {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| f(a)));
    }
}

pub(crate) fn emit_error(l: &ErrorListener, e: &OpenError) {
    let list = read(l).clone();
    for f in list {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| f(e)));
    }
}

pub(crate) struct ManagerInner {
    pub(crate) rt: Arc<dyn Runtime>,
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) opts: ClientOptions,
    tx: mpsc::UnboundedSender<Cmd>,
    /// Outbound commands in the inbox.
    pub(crate) queued: AtomicUsize,
    /// The task's state while no task runs (before the first command, and after the
    /// connection closed for good). The lock is held while a command is pushed, so that the
    /// task cannot park between the push and the check.
    pub(crate) parked: Mutex<Option<Parked>>,
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

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("endpoint", &self.inner.endpoint)
            .field("engine_id", &self.engine_id())
            .finish()
    }
}

/// Two handles are equal when they are the same manager (one Engine.IO connection).
impl PartialEq for Manager {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Manager {}

impl Manager {
    /// A manager for the server at `url` (`http`, `https`, `ws` or `wss`; the path of the URL
    /// is ignored: namespaces are chosen with [`Manager::socket`], the Engine.IO path with
    /// [`ClientOptions::path`]). With `auto_connect` (the default) the connection opens at
    /// once.
    pub fn new(rt: Arc<dyn Runtime>, url: &str, opts: ClientOptions) -> Result<Self, ClientError> {
        let parsed = parse_url(url)?;
        let mut opts = opts;
        if opts.query.is_empty() {
            opts.query = parsed.query.clone();
        }
        let config = opts.manager_config()?;
        let endpoint = Arc::new(Endpoint::new(&parsed, &opts)?);
        let (tx, rx) = mpsc::unbounded();
        let manager = Manager {
            inner: Arc::new(ManagerInner {
                rt,
                endpoint,
                tx,
                queued: AtomicUsize::new(0),
                parked: Mutex::new(Some(Parked::new(config, rx))),
                next_ack_id: AtomicU64::new(0),
                sockets: Mutex::new(HashMap::new()),
                listeners: Listeners::default(),
                engine_id: Mutex::new(None),
                transport: AtomicU8::new(0),
                opts,
            }),
        };
        if manager.inner.opts.auto_connect {
            manager.open();
        }
        Ok(manager)
    }

    /// The socket of namespace `nsp` (created on first use, with `opts`; later calls return
    /// the same socket). With `auto_connect` it connects at once.
    pub fn socket(&self, nsp: &str, opts: SocketOptions) -> Result<ClientSocket, ClientError> {
        let name = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        let nsp = Nsp::new(&name).map_err(|_| ClientError::InvalidNamespace(name.clone()))?;
        let socket = {
            let mut sockets = lock(&self.inner.sockets);
            match sockets.get(&nsp).and_then(Weak::upgrade) {
                Some(inner) => ClientSocket { inner },
                None => {
                    let s = ClientSocket::new(nsp.clone(), self.clone(), opts);
                    sockets.retain(|_, w| w.strong_count() > 0);
                    sockets.insert(nsp, Arc::downgrade(&s.inner));
                    s
                }
            }
        };
        if self.inner.opts.auto_connect && !socket.active() {
            socket.connect();
        }
        Ok(socket)
    }

    /// Opens the connection (Node's `manager.open()`); a no-op when open or opening. Also
    /// resumes reconnection after [`Manager::close`].
    pub fn open(&self) {
        let _ = self.send(Cmd::Open);
    }

    /// Closes the connection: every socket is disconnected (`io client disconnect`) and
    /// nothing reconnects until [`Manager::open`] (the sockets stay active and reconnect
    /// then).
    pub fn close(&self) {
        let _ = self.send(Cmd::Close);
    }

    /// The Engine.IO session id, while connected.
    pub fn engine_id(&self) -> Option<String> {
        lock(&self.inner.engine_id).clone()
    }

    /// The transport in use, while connected (`polling` or `websocket`).
    pub fn transport(&self) -> Option<&'static str> {
        match self.inner.transport.load(Ordering::Acquire) {
            1 => Some(TransportKind::Polling.as_str()),
            2 => Some(TransportKind::WebSocket.as_str()),
            _ => None,
        }
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// Registers an `open` listener: the Engine.IO connection opened.
    pub fn on_open(&self, f: impl Fn() + Send + Sync + 'static) {
        write(&self.inner.listeners.open).push(Arc::new(move |()| f()));
    }

    /// Registers an `error` listener: a connection attempt failed (also on reconnection
    /// attempts, before `reconnect_error`).
    pub fn on_error(&self, f: impl Fn(&OpenError) + Send + Sync + 'static) {
        write(&self.inner.listeners.error).push(Arc::new(f));
    }

    /// Registers a `ping` listener: the server pinged.
    pub fn on_ping(&self, f: impl Fn() + Send + Sync + 'static) {
        write(&self.inner.listeners.ping).push(Arc::new(move |()| f()));
    }

    /// Registers an `upgrade` listener: the connection moved from long-polling to websocket
    /// (the Node engine's `upgrade`).
    pub fn on_upgrade(&self, f: impl Fn() + Send + Sync + 'static) {
        write(&self.inner.listeners.upgrade).push(Arc::new(move |()| f()));
    }

    /// Registers a `close` listener: the Engine.IO connection closed, with the reason.
    pub fn on_close(&self, f: impl Fn(CloseReason) + Send + Sync + 'static) {
        write(&self.inner.listeners.close).push(Arc::new(f));
    }

    /// Registers a `reconnect_attempt` listener, with the attempt number (from 1).
    pub fn on_reconnect_attempt(&self, f: impl Fn(u32) + Send + Sync + 'static) {
        write(&self.inner.listeners.reconnect_attempt).push(Arc::new(f));
    }

    /// Registers a `reconnect` listener: reconnected after this many attempts.
    pub fn on_reconnect(&self, f: impl Fn(u32) + Send + Sync + 'static) {
        write(&self.inner.listeners.reconnect).push(Arc::new(f));
    }

    /// Registers a `reconnect_error` listener: a reconnection attempt failed.
    pub fn on_reconnect_error(&self, f: impl Fn(&OpenError) + Send + Sync + 'static) {
        write(&self.inner.listeners.reconnect_error).push(Arc::new(f));
    }

    /// Registers a `reconnect_failed` listener: every allowed attempt failed.
    pub fn on_reconnect_failed(&self, f: impl Fn() + Send + Sync + 'static) {
        write(&self.inner.listeners.reconnect_failed).push(Arc::new(move |()| f()));
    }

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
            let task = ManagerTask::new(self.inner.clone(), state);
            self.inner.rt.spawn(Box::pin(task.run()));
        }
        Ok(())
    }

    /// A sender for I/O results: they never start a parked task (a parked task has no I/O
    /// that matters).
    pub(crate) fn io_sender(&self) -> mpsc::UnboundedSender<Cmd> {
        self.inner.tx.clone()
    }
}
