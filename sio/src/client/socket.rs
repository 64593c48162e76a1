//! A client socket: one namespace on a [`Manager`]'s connection.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::oneshot;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_proto::socket::client::QueuedEmit;
use sio_proto::socket::packet::RESERVED_EVENTS;
use sio_proto::socket::{DisconnectReason, EncodedPacket, Nsp, Packet};

use super::handle::{ClientSocket, Cmd, EventEntry, Manager, SocketInner};
use super::{Auth, ClientAckError, ClientEmitError, NextEventError, SocketOptions};
use crate::handler::{boxed, BoxedHandler, EventHandler, HandlerSocket};
use crate::payload::{self, PayloadError};
use crate::runtime::BoxFuture;

impl std::fmt::Debug for ClientSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSocket")
            .field("nsp", &self.inner.nsp)
            .field("id", &self.id())
            .field("connected", &self.connected())
            .finish()
    }
}

impl HandlerSocket for ClientSocket {
    type Ack = ClientAckSender;
    fn report_bad_args(&self, packet: &Packet, e: &PayloadError) {
        self.report_bad_args_inner(packet, e)
    }
}

impl ClientSocket {
    pub(crate) fn new(nsp: Nsp, manager: Manager, opts: SocketOptions) -> Self {
        Self {
            inner: Arc::new(SocketInner {
                nsp,
                manager,
                opts,
                id: Mutex::new(None),
                connected: AtomicBool::new(false),
                recovered: AtomicBool::new(false),
                active: AtomicBool::new(false),
                handlers: RwLock::default(),
                any: RwLock::default(),
                any_outgoing: RwLock::default(),
                on_connect: RwLock::default(),
                on_connect_error: RwLock::default(),
                on_disconnect: RwLock::default(),
                on_error: RwLock::default(),
            }),
        }
    }

    /// The socket id the server gave, while connected.
    pub fn id(&self) -> Option<String> {
        lock(&self.inner.id).clone()
    }

    /// Whether the socket is connected to its namespace.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Whether the server recovered the socket at its last connection (Node's
    /// `socket.recovered`, with the server's connection state recovery on): after its
    /// transport died, it came back with the same id, rooms and data, and the events it missed
    /// were delivered. The client keeps what the server needs for it (the private id and the
    /// last offset, taken off the events' arguments) by itself.
    pub fn recovered(&self) -> bool {
        self.inner.recovered.load(Ordering::Acquire)
    }

    /// Whether the socket wants to be connected: `connect()` was called and neither
    /// `disconnect()`, the server, nor a refused CONNECT ended it (Node's `socket.active`).
    /// An active socket that is not connected is waiting for a (re)connection.
    pub fn active(&self) -> bool {
        self.inner.active.load(Ordering::Acquire)
    }

    /// The namespace.
    pub fn nsp(&self) -> &str {
        self.inner.nsp.as_str()
    }

    /// The manager this socket belongs to (Node's `socket.io`).
    pub fn manager(&self) -> &Manager {
        &self.inner.manager
    }

    /// Connects the socket (opens the manager if needed); a no-op when already active.
    pub fn connect(&self) {
        if self.inner.active.swap(true, Ordering::AcqRel) {
            return;
        }
        if self.inner.manager.send(Cmd::Connect(self.clone())).is_err() {
            self.inner.active.store(false, Ordering::Release);
        }
    }

    /// Disconnects the socket on purpose (`io client disconnect`): DISCONNECT is sent if it
    /// was connected, it is not reconnected, and when no socket of the manager is left the
    /// Engine.IO connection closes. [`ClientSocket::connect`] connects it again.
    pub fn disconnect(&self) {
        if !self.inner.active.swap(false, Ordering::AcqRel) {
            return;
        }
        let _ = self
            .inner
            .manager
            .send(Cmd::Disconnect(self.inner.nsp.clone()));
    }

    /// Emits `event` with `data` (a tuple or an [`Args`](crate::Args) spreads into several
    /// arguments, `()` is none, one `null` is one; `bytes::Bytes` anywhere travels as a binary
    /// attachment).
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), ClientEmitError> {
        self.emit_flagged(event, data, true)
    }

    fn emit_flagged<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        compress: bool,
    ) -> Result<(), ClientEmitError> {
        check_event(event)?;
        if self.inner.opts.retries > 0 {
            let (json, attachments) = payload::to_payload(Some(event), data)?;
            self.notify_outgoing(event);
            return self.queue(json, attachments, self.inner.opts.ack_timeout, None);
        }
        let mut packet = encode_event(&self.inner.nsp, event, data, None)?;
        packet.uncompressed = !compress;
        self.notify_outgoing(event);
        self.inner.manager.send(Cmd::Emit {
            nsp: self.inner.nsp.clone(),
            packet,
            volatile: false,
        })
    }

    /// Emits the `message` event (Node's `socket.send`).
    pub fn send<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), ClientEmitError> {
        self.emit("message", data)
    }

    /// Emits `event` only if it can leave at once: dropped while disconnected or while the
    /// transport is busy (Node's `socket.volatile.emit`).
    pub fn emit_volatile<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), ClientEmitError> {
        check_event(event)?;
        let packet = encode_event(&self.inner.nsp, event, data, None)?;
        self.notify_outgoing(event);
        if !self.connected() {
            return Ok(());
        }
        self.inner.manager.send(Cmd::Emit {
            nsp: self.inner.nsp.clone(),
            packet,
            volatile: true,
        })
    }

    /// The volatile flag, as in Node: `socket.volatile().emit(..)`.
    pub fn volatile(&self) -> Volatile<'_> {
        Volatile(self)
    }

    /// Node's `socket.compress(flag)`: with `false`, the emit made through the answer is
    /// sent uncompressed even on a websocket with `permessage-deflate`
    /// ([`ClientOptions::per_message_deflate`](crate::ClientOptions::per_message_deflate)).
    /// (The at-least-once queue of the `retries` option sends its packets as usual.)
    pub fn compress(&self, compress: bool) -> ClientCompress<'_> {
        ClientCompress {
            socket: self,
            compress,
        }
    }

    /// Emits `event` and waits for the server's ack, deserialised as `R` (one argument: that
    /// argument; several: the array), for at most `timeout` (`None`: the socket's
    /// `ack_timeout`, or forever). The packet leaves (or is buffered) when this is called, not
    /// when the future is first polled. With `retries > 0`, the emit goes through the
    /// at-least-once queue and `timeout` applies to each try.
    pub fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + 'static>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
    ) -> AckFuture<R> {
        let timeout = timeout.or(self.inner.opts.ack_timeout);
        match self.start_ack(event, data, timeout) {
            Ok((rx, guard)) => AckFuture {
                rx: Some(rx),
                error: None,
                guard,
                _r: PhantomData,
            },
            Err(e) => AckFuture {
                rx: None,
                error: Some(e),
                guard: None,
                _r: PhantomData,
            },
        }
    }

    #[allow(clippy::type_complexity)]
    fn start_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
    ) -> Result<
        (
            oneshot::Receiver<Result<Packet, ClientAckError>>,
            Option<AckGuard>,
        ),
        ClientAckError,
    > {
        check_event(event)?;
        let (tx, rx) = oneshot::channel();
        let nsp = self.inner.nsp.clone();
        if self.inner.opts.retries > 0 {
            let (json, attachments) = payload::to_payload(Some(event), data)?;
            self.notify_outgoing(event);
            self.queue(json, attachments, timeout, Some(tx))?;
            return Ok((rx, None));
        }
        let id = self.inner.manager.next_ack_id();
        let packet = encode_event(&nsp, event, data, Some(id))?;
        self.notify_outgoing(event);
        self.inner.manager.send(Cmd::EmitWithAck {
            nsp: nsp.clone(),
            id,
            packet,
            timeout,
            reply: tx,
        })?;
        let guard = AckGuard {
            manager: self.inner.manager.clone(),
            nsp,
            id,
            armed: true,
        };
        Ok((rx, Some(guard)))
    }

    /// Hands an emit to the at-least-once queue of the manager's machine.
    fn queue(
        &self,
        data: Bytes,
        attachments: Vec<Bytes>,
        timeout: Option<Duration>,
        reply: Option<oneshot::Sender<Result<Packet, ClientAckError>>>,
    ) -> Result<(), ClientEmitError> {
        let emit = QueuedEmit {
            id: self.inner.manager.next_ack_id(),
            data,
            attachments,
            timeout,
            retries: self.inner.opts.retries,
        };
        self.inner.manager.send(Cmd::Queued {
            nsp: self.inner.nsp.clone(),
            emit,
            reply,
        })
    }

    /// Registers the handler of `event`, replacing an earlier one. Handlers may take the
    /// socket, the socket and the arguments, or those and a [`ClientAckSender`] to answer the
    /// server's ack.
    pub fn on<M, H: EventHandler<ClientSocket, M>>(&self, event: impl Into<String>, handler: H) {
        let f = boxed(handler);
        write(&self.inner.handlers).insert(event.into(), EventEntry { f, once: false });
    }

    /// Registers a handler of `event` for its next occurrence only (Node's `once`), replacing
    /// an earlier one; the occurrence after it finds no handler (unless one was registered
    /// meanwhile). The handler takes what [`ClientSocket::on`]'s take.
    pub fn once<M, H: EventHandler<ClientSocket, M>>(&self, event: impl Into<String>, handler: H) {
        let f = boxed(handler);
        write(&self.inner.handlers).insert(event.into(), EventEntry { f, once: true });
    }

    /// Waits for the next occurrence of `event` and returns its argument (a tuple for several,
    /// as handlers take them), within `timeout`. It is a [`ClientSocket::once`] handler,
    /// registered when this is called (not when the future is first polled), so an event
    /// that arrives right after the call is not missed; registering another handler of
    /// `event` meanwhile ends the wait with [`NextEventError::Gone`], as does an occurrence
    /// whose arguments do not fit `T`.
    pub fn next_event<T: DeserializeOwned + Send + 'static>(
        &self,
        event: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, NextEventError>> + Send + 'static {
        let (tx, rx) = oneshot::channel::<T>();
        let tx = Mutex::new(Some(tx));
        let f = boxed(move |_: ClientSocket, v: T| {
            if let Some(tx) = tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = tx.send(v);
            }
            std::future::ready(())
        });
        // Weak: replacing the handler drops it, and with it the sender (the wait ends).
        let mine = Arc::downgrade(&f);
        write(&self.inner.handlers).insert(event.to_owned(), EventEntry { f, once: true });
        let rt = self.inner.manager.inner.rt.clone();
        // However the wait ends (the event, the timeout, the future dropped), its handler
        // goes unless another one took its place.
        let guard = OnceGuard {
            socket: Arc::downgrade(&self.inner),
            event: event.to_owned(),
            mine,
        };
        async move {
            let _guard = guard;
            match crate::runtime::within(&*rt, rt.now() + timeout, rx).await {
                Some(r) => r.map_err(|_| NextEventError::Gone),
                None => Err(NextEventError::Timeout),
            }
        }
    }

    /// Removes the handler of `event`.
    pub fn off(&self, event: &str) {
        write(&self.inner.handlers).remove(event);
    }

    /// Registers a listener called for every incoming event, before its handler (Node's
    /// `onAny`); the packet's arguments can be read with [`crate::payload::from_payload`] or
    /// [`Packet::value`].
    pub fn on_any(&self, f: impl Fn(&ClientSocket, &str, &Packet) + Send + Sync + 'static) {
        write(&self.inner.any).push(Arc::new(f));
    }

    /// Registers a listener called for every event this socket emits (Node's
    /// `onAnyOutgoing`).
    pub fn on_any_outgoing(&self, f: impl Fn(&ClientSocket, &str) + Send + Sync + 'static) {
        write(&self.inner.any_outgoing).push(Arc::new(f));
    }

    /// Registers a `connect` handler, run on each connection and reconnection.
    pub fn on_connect<F, Fut>(&self, f: F)
    where
        F: Fn(ClientSocket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        write(&self.inner.on_connect).push(Arc::new(move |s| Box::pin(f(s))));
    }

    /// Registers a `connect_error` handler: the server refused the namespace (a middleware
    /// error with its message and `data`), or the connection could not be established
    /// (message only).
    pub fn on_connect_error<F, Fut>(&self, f: F)
    where
        F: Fn(ClientSocket, String, Option<serde_json::Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        write(&self.inner.on_connect_error).push(Arc::new(move |s, m, d| Box::pin(f(s, m, d))));
    }

    /// Registers a `disconnect` handler, with the reason (`io server disconnect`,
    /// `io client disconnect`, `transport close`, `ping timeout`, ...). After the first two
    /// the socket is not reconnected.
    pub fn on_disconnect<F, Fut>(&self, f: F)
    where
        F: Fn(ClientSocket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        write(&self.inner.on_disconnect).push(Arc::new(move |s, r| Box::pin(f(s, r))));
    }

    /// Registers a listener for events whose arguments do not deserialise into the type
    /// their handler takes (the event is dropped).
    pub fn on_error(&self, f: impl Fn(&ClientSocket, &str) + Send + Sync + 'static) {
        write(&self.inner.on_error).push(Arc::new(f));
    }

    // ----- used by the manager's task -----

    pub(crate) fn auth_json(&self) -> Option<Bytes> {
        let v = self.inner.opts.auth.as_ref().map(Auth::evaluate)?;
        if !v.is_object() {
            // The protocol requires an object; Node's client sends nothing else either.
            return None;
        }
        serde_json::to_vec(&v).ok().map(Bytes::from)
    }

    /// The handler of an incoming `event`; a `once` handler is taken out.
    pub(crate) fn handler(&self, event: &str) -> Option<BoxedHandler<ClientSocket>> {
        {
            let handlers = read(&self.inner.handlers);
            let e = handlers.get(event)?;
            if !e.once {
                return Some(e.f.clone());
            }
        }
        let mut handlers = write(&self.inner.handlers);
        match handlers.get(event) {
            Some(e) if e.once => handlers.remove(event).map(|e| e.f),
            Some(e) => Some(e.f.clone()),
            None => None,
        }
    }

    pub(crate) fn run_any(&self, event: &str, packet: &Packet) {
        let l = read(&self.inner.any).clone();
        for f in l {
            guarded(|| f(self, event, packet));
        }
    }

    pub(crate) fn connect_futures(&self) -> Vec<BoxFuture<()>> {
        let l = read(&self.inner.on_connect).clone();
        l.into_iter()
            .filter_map(|f| guarded(|| f(self.clone())))
            .collect()
    }

    pub(crate) fn connect_error_futures(
        &self,
        message: &str,
        data: Option<&serde_json::Value>,
    ) -> Vec<BoxFuture<()>> {
        let l = read(&self.inner.on_connect_error).clone();
        l.into_iter()
            .filter_map(|f| guarded(|| f(self.clone(), message.to_owned(), data.cloned())))
            .collect()
    }

    pub(crate) fn disconnect_futures(&self, reason: DisconnectReason) -> Vec<BoxFuture<()>> {
        let l = read(&self.inner.on_disconnect).clone();
        l.into_iter()
            .filter_map(|f| guarded(|| f(self.clone(), reason)))
            .collect()
    }

    fn report_bad_args_inner(&self, packet: &Packet, e: &PayloadError) {
        let name = packet.event_name().unwrap_or_default();
        tracing::warn!(
            nsp = self.nsp(),
            event = &*name,
            socket = self.id().as_deref().unwrap_or(""),
            error = %e,
            "event arguments do not fit the handler; the handler did not run"
        );
        let msg = format!("invalid arguments for {name:?}: {e}");
        let l = read(&self.inner.on_error).clone();
        for f in l {
            guarded(|| f(self, &msg));
        }
    }

    fn notify_outgoing(&self, event: &str) {
        let l = read(&self.inner.any_outgoing).clone();
        for f in l {
            f(self, event);
        }
    }
}

/// `socket.volatile()`: emits that are dropped unless they can leave at once.
#[derive(Debug, Clone, Copy)]
pub struct Volatile<'a>(&'a ClientSocket);

impl Volatile<'_> {
    /// See [`ClientSocket::emit_volatile`].
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), ClientEmitError> {
        self.0.emit_volatile(event, data)
    }
}

/// Answers an event whose sender (the server) asked for an ack. Sending is a no-op when no
/// ack was asked.
#[derive(Debug, Clone)]
pub struct ClientAckSender {
    pub(crate) nsp: Nsp,
    pub(crate) id: Option<u64>,
    pub(crate) manager: Manager,
}

impl ClientAckSender {
    /// Whether the server asked for an ack.
    pub fn expected(&self) -> bool {
        self.id.is_some()
    }

    /// Sends the ack with `data` as its arguments (a tuple or an [`Args`](crate::Args)
    /// spreads into several, `()` is none, one `null` is one; `bytes::Bytes` travels as
    /// binary).
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), ClientEmitError> {
        let Some(id) = self.id else { return Ok(()) };
        let (json, attachments) = payload::to_payload(None, data)?;
        self.manager.send(Cmd::SendAck {
            nsp: self.nsp,
            id,
            json,
            attachments,
        })
    }
}

/// Stops the manager waiting for an ack whose future was dropped before the answer.
struct AckGuard {
    manager: Manager,
    nsp: Nsp,
    id: u64,
    armed: bool,
}

impl Drop for AckGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let _ = self.manager.send(Cmd::ForgetAck {
            nsp: self.nsp.clone(),
            id: self.id,
        });
    }
}

/// The answer to [`ClientSocket::emit_with_ack`]. Dropping it stops waiting for the ack.
#[must_use = "the ack is only received by awaiting the future"]
pub struct AckFuture<R> {
    rx: Option<oneshot::Receiver<Result<Packet, ClientAckError>>>,
    error: Option<ClientAckError>,
    guard: Option<AckGuard>,
    _r: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for AckFuture<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckFuture").finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned + 'static> Future for AckFuture<R> {
    type Output = Result<R, ClientAckError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(e) = this.error.take() {
            return Poll::Ready(Err(e));
        }
        let Some(rx) = this.rx.as_mut() else {
            return Poll::Ready(Err(ClientAckError::Disconnected));
        };
        let r = match Pin::new(rx).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        this.rx = None;
        if let Some(g) = this.guard.as_mut() {
            // Answered (or failed) inside the task: nothing to forget.
            g.armed = false;
        }
        let packet = match r {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Poll::Ready(Err(e)),
            Err(_) => return Poll::Ready(Err(ClientAckError::Disconnected)),
        };
        Poll::Ready(payload::decode(&packet.data, 0, &packet.attachments).map_err(Into::into))
    }
}

/// Runs user code inside the manager's task: a panic is caught (the panic hook reports it) so
/// that it cannot take the connection down.
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).ok()
}

fn check_event(event: &str) -> Result<(), ClientEmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(ClientEmitError::Reserved(event.to_owned()));
    }
    Ok(())
}

/// Encodes an EVENT once (see [`payload::encode_event`]).
pub(crate) fn encode_event<T: Serialize + ?Sized>(
    nsp: &Nsp,
    event: &str,
    data: &T,
    id: Option<u64>,
) -> Result<EncodedPacket, PayloadError> {
    payload::encode_event(nsp, event, data, id)
}

pub(crate) use crate::sync::{lock, read, write};

/// Removes a [`ClientSocket::next_event`] handler when its wait ends, if it is still there.
struct OnceGuard {
    socket: std::sync::Weak<SocketInner>,
    event: String,
    mine: std::sync::Weak<
        dyn Fn(ClientSocket, Packet, ClientAckSender) -> BoxFuture<()> + Send + Sync,
    >,
}

impl Drop for OnceGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.socket.upgrade() {
            let mut handlers = write(&inner.handlers);
            if handlers
                .get(&self.event)
                .is_some_and(|e| std::ptr::addr_eq(Arc::as_ptr(&e.f), self.mine.as_ptr()))
            {
                handlers.remove(&self.event);
            }
        }
    }
}

/// An emit with Node's `compress` flag ([`ClientSocket::compress`]).
#[derive(Clone, Copy)]
pub struct ClientCompress<'a> {
    socket: &'a ClientSocket,
    compress: bool,
}

impl ClientCompress<'_> {
    /// [`ClientSocket::emit`] with the flag.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), ClientEmitError> {
        self.socket.emit_flagged(event, data, self.compress)
    }
}
