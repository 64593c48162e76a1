//! The task that owns a manager's [`sio_proto::socket::client::Manager`]: its websocket, the
//! handler futures of its sockets, and the futures awaiting acks (the acks themselves, the
//! offline buffers and the at-least-once queues are the machine's).
//!
//! It follows the drive loop of the core: wait for ONE input (a command from the inbox — an
//! emit, or the result of an HTTP request or websocket handshake, tagged with the generation
//! of the Engine.IO session it belongs to —, a websocket message, the timer, or a handler
//! future finishing), feed it, then drain `poll_transmit` and `poll_event` until both are
//! empty. HTTP requests and websocket handshakes run in spawned futures, so a held long-poll
//! never blocks the task; those of an older session are cancelled when a new one starts.
//!
//! When the connection is closed for good (no session, no reconnection scheduled, no handler
//! running), the task parks its state in the manager and ends; the next command starts it
//! again.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_tungstenite::tungstenite::Message as WsMessage;
use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::future::{select, Either, FutureExt, Shared};
use sio_proto::engine::client::{Input as EngineInput, Transmit};
use sio_proto::engine::TransportKind;
use sio_proto::socket::client::{
    AckError, Event, Input as ProtoInput, Manager as ProtoManager, ManagerConfig,
};
use sio_proto::socket::{DisconnectReason, Nsp};
use sio_proto::{IdGenerator, UsageError};

use super::handle::{
    emit_error, emit_to, AckReply, Cancel, ClientSocket, Cmd, Manager, ManagerInner, Parked,
};
use super::socket::{guarded, ClientAckSender};
use super::transport::{self, Ws};
use super::{ClientAckError, ClientEmitError};
use crate::drive::{self, DeadlineTimer, Room, Tasks, Wake, WsLink};
use crate::runtime::{BoxFuture, BoxStream};
use crate::sync::lock;

impl Parked {
    pub(crate) fn new(config: ManagerConfig, rx: mpsc::UnboundedReceiver<Cmd>) -> Self {
        Self {
            proto: ProtoManager::new(config, IdGenerator::from_seed(crate::runtime::os_seed())),
            rx,
            acks: HashMap::new(),
            sockets: HashMap::new(),
            cancel: None,
        }
    }
}

pub(crate) struct ManagerTask {
    shared: Arc<ManagerInner>,
    proto: ProtoManager,
    rx: mpsc::UnboundedReceiver<Cmd>,
    /// The futures awaiting acks, by the id of their emit.
    acks: HashMap<u64, AckReply>,
    cancel: Option<Cancel>,
    sockets: HashMap<Nsp, ClientSocket>,
    /// The websocket, tagged with the generation of its session.
    ws: WsLink<crate::ws_deflate::WsIo<BoxStream>>,
    tasks: Tasks,
    timer: DeadlineTimer,
}

/// Starts the task of a manager with its parked state ([`ManagerInner::start`]).
pub(crate) fn start(shared: Arc<ManagerInner>, parked: Parked) {
    let rt = shared.rt.clone();
    rt.spawn(Box::pin(ManagerTask::new(shared, parked).run()));
}

impl ManagerTask {
    pub(crate) fn new(shared: Arc<ManagerInner>, p: Parked) -> Self {
        let sockets = p
            .sockets
            .into_iter()
            .filter_map(|(n, w)| {
                Some((
                    n,
                    ClientSocket {
                        inner: w.upgrade()?,
                    },
                ))
            })
            .collect();
        Self {
            shared,
            proto: p.proto,
            rx: p.rx,
            acks: p.acks,
            cancel: p.cancel,
            sockets,
            ws: WsLink::default(),
            tasks: Tasks::default(),
            timer: Default::default(),
        }
    }

    fn manager(&self) -> Manager {
        Manager {
            inner: self.shared.clone(),
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            std::future::poll_fn(|cx| {
                self.drain(cx);
                Poll::Ready(())
            })
            .await;
            if self.is_idle() {
                match self.try_park() {
                    None => return,
                    Some(task) => {
                        self = task;
                        continue;
                    }
                }
            }
            let wake = self.next_wake().await;
            let now = self.shared.rt.now();
            match wake {
                Wake::Input(c) => self.on_cmd(now, c),
                Wake::Ws(m) => self.on_ws(now, m),
                Wake::WsFailed(g) => self.feed(now, g, EngineInput::WsClosed { error: true }),
                Wake::Timer => self.proto.handle(now, ProtoInput::Timeout),
                Wake::Writable | Wake::Task => {}
            }
        }
    }

    /// Closed for good: no session, no reconnection scheduled, no handler running.
    fn is_idle(&self) -> bool {
        self.tasks.is_empty()
            && self.proto.engine().is_none_or(|e| e.is_closed())
            && !self.proto.is_reconnecting()
    }

    /// Parks the state in the manager unless a command arrived (checked under the lock the
    /// senders hold while pushing, so none is lost).
    fn try_park(mut self) -> Option<Self> {
        let shared = self.shared.clone();
        let mut slot = lock(&shared.parked);
        if let Ok(cmd) = self.rx.try_recv() {
            drop(slot);
            let now = self.shared.rt.now();
            self.on_cmd(now, cmd);
            return Some(self);
        }
        if let Some(ws) = self.ws.take() {
            self.close_ws(ws);
        }
        *slot = Some(Parked {
            proto: self.proto,
            rx: self.rx,
            acks: self.acks,
            sockets: self
                .sockets
                .iter()
                .map(|(n, s)| (n.clone(), Arc::downgrade(&s.inner)))
                .collect(),
            cancel: self.cancel,
        });
        None
    }

    async fn next_wake(&mut self) -> Wake<Cmd> {
        self.timer.set(&*self.shared.rt, self.proto.poll_timeout());
        std::future::poll_fn(|cx| self.poll_wake(cx)).await
    }

    /// Handler futures first (so that their emits keep their order), then the common ones
    /// ([`drive::poll_wake`]).
    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake<Cmd>> {
        if self.tasks.poll(cx, "client").is_ready() {
            return Poll::Ready(Wake::Task);
        }
        drive::poll_wake(cx, &mut self.rx, &mut self.ws, &mut self.timer)
    }

    /// Feeds an input about the Engine.IO session of `generation` to the machine (which
    /// ignores it when that session is no longer the current one).
    fn feed(&mut self, now: Instant, generation: u64, input: EngineInput) {
        self.proto
            .handle(now, ProtoInput::Engine { generation, input });
    }

    fn on_ws(
        &mut self,
        now: Instant,
        m: Option<Result<WsMessage, async_tungstenite::tungstenite::Error>>,
    ) {
        let Some(generation) = self.ws.tag() else {
            return;
        };
        match m {
            Some(Ok(WsMessage::Close(_))) | None => {
                self.ws.take();
                self.feed(now, generation, EngineInput::WsClosed { error: false });
            }
            Some(Ok(m)) => {
                if let Some(f) = drive::ws_frame(m) {
                    self.feed(now, generation, EngineInput::WsFrame(f));
                }
            }
            Some(Err(_)) => {
                self.ws.take();
                self.feed(now, generation, EngineInput::WsClosed { error: true });
            }
        }
    }

    fn on_cmd(&mut self, now: Instant, cmd: Cmd) {
        if cmd.is_outbound() {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        }
        match cmd {
            Cmd::Open => self.proto.open(now),
            Cmd::Close => self.proto.close(now),
            Cmd::Connect(socket) => {
                if socket.active() {
                    // (Not disconnected again before this command was read.)
                    let nsp = socket.inner.nsp.clone();
                    self.sockets.insert(nsp.clone(), socket);
                    self.proto.connect(now, nsp);
                }
            }
            Cmd::Disconnect(nsp) => self.on_disconnect_cmd(now, nsp),
            Cmd::Emit {
                nsp,
                packet,
                volatile,
            } => {
                let _ = self.proto.emit(&nsp, packet, volatile);
            }
            Cmd::EmitWithAck {
                nsp,
                id,
                packet,
                timeout,
                reply,
            } => {
                let deadline = timeout.map(|d| now + d);
                match self.proto.emit_with_ack(&nsp, id, packet, deadline) {
                    Ok(()) => {
                        self.acks.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(usage_to_emit(e).into()));
                    }
                }
            }
            Cmd::Queued { nsp, emit, reply } => {
                let id = emit.id;
                match self.proto.emit_queued(now, &nsp, emit) {
                    Ok(()) => {
                        if let Some(r) = reply {
                            self.acks.insert(id, r);
                        }
                    }
                    Err(e) => {
                        if let Some(r) = reply {
                            let _ = r.send(Err(usage_to_emit(e).into()));
                        }
                    }
                }
            }
            Cmd::ForgetAck { nsp, id } => {
                self.acks.remove(&id);
                self.proto.forget_ack(&nsp, id);
            }
            Cmd::SendAck {
                nsp,
                id,
                json,
                attachments,
            } => {
                let _ = self.proto.send_ack(&nsp, id, json, attachments);
            }
            Cmd::PollResponse {
                generation,
                response,
            } => {
                let response = response.map_err(|cause| self.failed(cause));
                self.feed(now, generation, EngineInput::PollResponse(response))
            }
            Cmd::PostResponse { generation, ok } => {
                self.feed(now, generation, EngineInput::PostResponse { ok });
            }
            Cmd::WsOpened { generation, ws } => {
                let current = generation == self.proto.generation()
                    && self.proto.engine().is_some_and(|e| !e.is_closed());
                if current {
                    if let Some(old) = self.ws.open(generation, ws) {
                        self.close_ws(old);
                    }
                    self.feed(now, generation, EngineInput::WsOpen);
                } else {
                    self.close_ws(ws);
                }
            }
            Cmd::WsFailed { generation, cause } => {
                self.failed(cause);
                self.feed(now, generation, EngineInput::WsClosed { error: true });
            }
        }
    }

    fn on_disconnect_cmd(&mut self, now: Instant, nsp: Nsp) {
        let socket = self.sockets.remove(&nsp);
        self.proto.disconnect(now, &nsp);
        if let Some(s) = socket {
            let was = s.inner.connected.swap(false, Ordering::AcqRel);
            *lock(&s.inner.id) = None;
            if was {
                self.run_handlers(s.disconnect_futures(DisconnectReason::IoClientDisconnect));
            }
        }
    }

    /// The I/O of `generation` is cancelled when a later generation starts.
    fn cancel_signal(&mut self, generation: u64) -> Shared<oneshot::Receiver<()>> {
        if let Some(c) = &self.cancel {
            if c.generation == generation {
                return c.rx.clone();
            }
        }
        // A new session: the I/O of the last one is cancelled, and its long-polling requests
        // may keep their connections again.
        self.shared.endpoint.open_pool();
        let (tx, rx) = oneshot::channel();
        let rx = rx.shared();
        self.cancel = Some(Cancel {
            generation,
            _tx: tx,
            rx: rx.clone(),
        });
        rx
    }

    fn spawn_http(&mut self, generation: u64, query: String, body: Option<Bytes>) {
        let cancel = self.cancel_signal(generation);
        let rt = self.shared.rt.clone();
        let ep = self.shared.endpoint.clone();
        let tx = self.manager().io_sender();
        let post = body.is_some();
        let fut = transport::http_request(rt.clone(), ep, query, body);
        rt.spawn(Box::pin(async move {
            let Either::Left((r, _)) = select(pin!(fut), cancel).await else {
                return;
            };
            let cmd = if post {
                Cmd::PostResponse {
                    generation,
                    ok: matches!(r, Ok((200, _))),
                }
            } else {
                Cmd::PollResponse {
                    generation,
                    response: r,
                }
            };
            let _ = tx.unbounded_send(cmd);
        }));
    }

    fn spawn_ws(&mut self, generation: u64, query: String) {
        let cancel = self.cancel_signal(generation);
        let rt = self.shared.rt.clone();
        let ep = self.shared.endpoint.clone();
        let tx = self.manager().io_sender();
        let fut = transport::ws_connect(rt.clone(), ep, query);
        rt.spawn(Box::pin(async move {
            let Either::Left((r, _)) = select(pin!(fut), cancel).await else {
                return;
            };
            let cmd = match r {
                Ok(ws) => Cmd::WsOpened {
                    generation,
                    ws: Box::new(ws),
                },
                Err(cause) => Cmd::WsFailed { generation, cause },
            };
            let _ = tx.unbounded_send(cmd);
        }));
    }

    /// Closes a websocket in the background, for at most [`drive::WS_CLOSE_LINGER`].
    fn close_ws(&self, ws: Box<Ws>) {
        let rt = self.shared.rt.clone();
        rt.spawn(drive::retire_ws(&*rt, ws, Vec::new(), None));
    }

    /// Moves transmits to the transports (the websocket while it takes them) and dispatches
    /// every event, until both queues are empty or the websocket is busy.
    fn drain(&mut self, cx: &mut Context<'_>) {
        loop {
            let mut progressed = self.write(cx);
            while let Some(e) = self.proto.poll_event() {
                progressed = true;
                self.on_event(e);
            }
            if self.ws.tag().is_some_and(|g| g != self.proto.generation()) {
                if let Some(ws) = self.ws.take() {
                    self.close_ws(ws);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Moves transmits from the machine while the websocket takes them; returns whether any
    /// transmit was taken.
    fn write(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        loop {
            match self.ws.poll_room(cx) {
                Room::Free => {}
                Room::Busy => break,
                Room::Failed(g) => {
                    let now = self.shared.rt.now();
                    self.feed(now, g, EngineInput::WsClosed { error: true });
                    continue;
                }
            }
            let Some(t) = self.proto.poll_transmit() else {
                break;
            };
            progressed = true;
            let generation = self.proto.generation();
            match t {
                Transmit::PollGet { query } => self.spawn_http(generation, query, None),
                Transmit::PollPost { query, body } => {
                    self.spawn_http(generation, query, Some(body));
                }
                Transmit::WsConnect { query } => self.spawn_ws(generation, query),
                Transmit::Ws(frame) => {
                    if self.ws.tag() == Some(generation) {
                        self.ws.put(frame, true);
                    }
                }
                Transmit::WsUncompressed(frame) => {
                    if self.ws.tag() == Some(generation) {
                        self.ws.put(frame, false);
                    }
                }
                Transmit::WsClose => {
                    if let Some(ws) = self.ws.take() {
                        self.close_ws(ws);
                    }
                }
            }
        }
        if let Room::Failed(g) = self.ws.poll_flush(cx) {
            let now = self.shared.rt.now();
            self.feed(now, g, EngineInput::WsClosed { error: true });
        }
        progressed
    }

    /// Runs handler futures inside this task. A panicking handler is caught (the panic hook
    /// reports it) so that it cannot take the connection down.
    fn run_handlers(&mut self, futures: impl IntoIterator<Item = BoxFuture<()>>) {
        for f in futures {
            self.tasks.push(f);
        }
    }

    fn set_transport(&self) {
        let t = match self.proto.engine() {
            Some(e) if e.is_open() => match e.transport() {
                TransportKind::Polling => 1,
                TransportKind::WebSocket => 2,
            },
            _ => 0,
        };
        self.shared.transport.store(t, Ordering::Release);
        if t != 1 {
            // Upgraded or closed: the kept-alive long-polling connections are not needed.
            self.shared.endpoint.close_idle();
        }
    }

    /// Remembers why a request or websocket failed.
    fn failed(&self, cause: String) {
        tracing::debug!(%cause, "client transport failed");
        *lock(&self.shared.last_error) = Some(cause);
    }

    fn on_event(&mut self, e: Event) {
        let now = self.shared.rt.now();
        let l = &self.shared.listeners;
        match e {
            Event::Open(data) => {
                *lock(&self.shared.last_error) = None;
                *lock(&self.shared.engine_id) = Some(data.sid);
                self.set_transport();
                emit_to(&l.open, ());
            }
            Event::Ping => emit_to(&l.ping, ()),
            Event::Upgraded => {
                self.set_transport();
                super::options::note_websocket_success();
                emit_to(&l.upgrade, ());
            }
            Event::NamespaceReady { nsp } => match self.sockets.get(&nsp) {
                Some(s) => {
                    let auth = s.auth_json();
                    let _ = self.proto.send_connect(&nsp, auth);
                }
                None => self.proto.disconnect(now, &nsp),
            },
            Event::Connected {
                nsp,
                sid,
                recovered,
            } => {
                if let Some(s) = self.sockets.get(&nsp).cloned() {
                    *lock(&s.inner.id) = Some(sid);
                    s.inner.recovered.store(recovered, Ordering::Release);
                    s.inner.connected.store(true, Ordering::Release);
                    self.run_handlers(s.connect_futures());
                }
            }
            Event::ConnectError {
                nsp,
                message,
                data,
                refused,
            } => {
                let socket = if refused {
                    self.sockets.remove(&nsp)
                } else {
                    self.sockets.get(&nsp).cloned()
                };
                if let Some(s) = socket {
                    if refused {
                        s.inner.active.store(false, Ordering::Release);
                        s.inner.connected.store(false, Ordering::Release);
                        *lock(&s.inner.id) = None;
                    }
                    // A connection that could not be made says why (DNS, refused, TLS...).
                    let message = match (refused, lock(&self.shared.last_error).as_deref()) {
                        (false, Some(cause)) => format!("{message} ({cause})"),
                        _ => message,
                    };
                    self.run_handlers(s.connect_error_futures(&message, data.as_ref()));
                }
            }
            Event::Event { nsp, packet } => {
                let Some(s) = self.sockets.get(&nsp).cloned() else {
                    return;
                };
                let name = packet
                    .event_name()
                    .map(|n| n.into_owned())
                    .unwrap_or_default();
                s.run_any(&name, &packet);
                let ack = ClientAckSender {
                    nsp,
                    id: packet.id,
                    manager: self.manager(),
                };
                if let Some(h) = s.handler(&name) {
                    self.run_handlers(guarded(|| h(s, packet, ack)));
                }
            }
            Event::Ack { id, result, .. } => {
                if let Some(reply) = self.acks.remove(&id) {
                    let _ = reply.send(result.map_err(|e| match e {
                        AckError::Timeout => ClientAckError::Timeout,
                        AckError::Disconnected => ClientAckError::Disconnected,
                        AckError::NotSent(e) => usage_to_emit(e).into(),
                    }));
                }
            }
            Event::Disconnected { nsp, reason } => self.on_disconnected(nsp, reason),
            Event::Closed(reason) => {
                *lock(&self.shared.engine_id) = None;
                self.set_transport();
                emit_to(&l.close, reason);
            }
            Event::Error(err) => emit_error(&l.error, &err),
            Event::ReconnectAttempt(n) => emit_to(&l.reconnect_attempt, n),
            Event::ReconnectError(err) => {
                emit_error(&l.error, &err);
                emit_error(&l.reconnect_error, &err);
            }
            Event::Reconnected(n) => emit_to(&l.reconnect, n),
            Event::ReconnectFailed => emit_to(&l.reconnect_failed, ()),
        }
    }

    fn on_disconnected(&mut self, nsp: Nsp, reason: DisconnectReason) {
        // `io server disconnect`: the core dropped the namespace. `io client disconnect` here
        // comes from `Manager::close` (the sockets stay wanted); the one of
        // `ClientSocket::disconnect` was handled with its command.
        let gone = reason == DisconnectReason::IoServerDisconnect;
        let Some(s) = self.sockets.get(&nsp).cloned() else {
            return;
        };
        if gone {
            self.sockets.remove(&nsp);
            s.inner.active.store(false, Ordering::Release);
        }
        *lock(&s.inner.id) = None;
        if s.inner.connected.swap(false, Ordering::AcqRel) {
            self.run_handlers(s.disconnect_futures(reason));
        }
    }
}

fn usage_to_emit(e: UsageError) -> ClientEmitError {
    match e {
        UsageError::Closed => ClientEmitError::Closed,
        _ => ClientEmitError::QueueFull,
    }
}
