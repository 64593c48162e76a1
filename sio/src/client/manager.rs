//! The client [`Manager`]: one Engine.IO connection to a server, shared by the sockets of
//! several namespaces, reconnected with backoff. Its state machine
//! ([`sio_proto::socket::client::Manager`]) is owned by one task (see [`super::task`]); this
//! handle talks to it through an inbox.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use futures_channel::mpsc;
use sio_proto::engine::client::OpenError;
use sio_proto::engine::{CloseReason, TransportKind};
use sio_proto::socket::Nsp;

use super::handle::ClientSocket;
use super::handle::{Cmd, ListenerId, Listeners, Manager, ManagerInner, Parked};
use super::task;
use super::transport::{parse_url, Endpoint};
use super::{ClientError, ClientOptions, SocketOptions};
use crate::runtime::Runtime;
use crate::sync::lock;

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("endpoint", &self.inner.endpoint)
            .field("engine_id", &self.engine_id())
            .finish()
    }
}

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
                last_error: Mutex::new(None),
                start: task::start,
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
    pub fn on_open(&self, f: impl Fn() + Send + Sync + 'static) -> ListenerId {
        let l = &self.inner.listeners;
        l.add(&l.open, Arc::new(move |()| f()))
    }

    /// Registers an `error` listener: a connection attempt failed (also on reconnection
    /// attempts, before `reconnect_error`).
    pub fn on_error(&self, f: impl Fn(&OpenError) + Send + Sync + 'static) -> ListenerId {
        let l = &self.inner.listeners;
        l.add(&l.error, Arc::new(f))
    }

    /// Registers a `ping` listener: the server pinged.
    pub fn on_ping(&self, f: impl Fn() + Send + Sync + 'static) -> ListenerId {
        let l = &self.inner.listeners;
        l.add(&l.ping, Arc::new(move |()| f()))
    }

    /// Registers an `upgrade` listener: the connection moved from long-polling to websocket
    /// (the Node engine's `upgrade`).
    pub fn on_upgrade(&self, f: impl Fn() + Send + Sync + 'static) -> ListenerId {
        let l = &self.inner.listeners;
        l.add(&l.upgrade, Arc::new(move |()| f()))
    }

    /// Registers a `close` listener: the Engine.IO connection closed, with the reason.
    pub fn on_close(&self, f: impl Fn(CloseReason) + Send + Sync + 'static) -> ListenerId {
        let l = &self.inner.listeners;
        l.add(&l.close, Arc::new(f))
    }

    /// Registers a `reconnect_attempt` listener, with the attempt number (from 1).
    pub fn on_reconnect_attempt(&self, f: impl Fn(u32) + Send + Sync + 'static) -> ListenerId {
        let l = &self.inner.listeners;
        l.add(&l.reconnect_attempt, Arc::new(f))
    }

    /// Registers a `reconnect` listener: reconnected after this many attempts.
    pub fn on_reconnect(&self, f: impl Fn(u32) + Send + Sync + 'static) -> ListenerId {
        let l = &self.inner.listeners;
        l.add(&l.reconnect, Arc::new(f))
    }

    /// Registers a `reconnect_error` listener: a reconnection attempt failed.
    pub fn on_reconnect_error(&self, f: impl Fn(&OpenError) + Send + Sync + 'static) -> ListenerId {
        let l = &self.inner.listeners;
        l.add(&l.reconnect_error, Arc::new(f))
    }

    /// Why the last connection attempt or transport failed, as the I/O layer saw it (DNS,
    /// `Connection refused`, a TLS error, an HTTP error), until a connection opens; what an
    /// `error` or `reconnect_error` listener reads for the cause of a transport failure (the
    /// socket's `connect_error` message carries it too).
    pub fn last_error(&self) -> Option<String> {
        lock(&self.inner.last_error).clone()
    }

    /// Removes a listener an `on_*` method registered (Node's `manager.off(event, fn)`);
    /// whether it was registered.
    pub fn off(&self, id: ListenerId) -> bool {
        self.inner.listeners.remove(id)
    }

    /// Registers a `reconnect_failed` listener: every allowed attempt failed.
    pub fn on_reconnect_failed(&self, f: impl Fn() + Send + Sync + 'static) -> ListenerId {
        let l = &self.inner.listeners;
        l.add(&l.reconnect_failed, Arc::new(move |()| f()))
    }
}
