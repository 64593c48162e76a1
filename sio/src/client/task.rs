//! The task that owns a manager's [`sio_proto::socket::client::Manager`]: its websocket, the
//! handler futures of its sockets, the acks its sockets await, and the at-least-once queues.
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

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::future::{select, Either, FutureExt, Shared};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use sio_proto::engine::client::{OpenError, Transmit};
use sio_proto::engine::{Frame, TransportKind};
use sio_proto::socket::client::{Event, Manager as ProtoManager, ManagerConfig};
use sio_proto::socket::{DisconnectReason, EncodedPacket, Nsp, Packet};
use sio_proto::{IdGenerator, UsageError};

use super::manager::{emit_error, emit_to, Cmd, Manager, ManagerInner};
use super::socket::{guarded, lock, ClientAckSender, ClientSocket, SocketInner};
use super::transport::{self, Ws};
use super::{ClientAckError, ClientEmitError};
use crate::runtime::BoxFuture;

type AckReply = oneshot::Sender<Result<Packet, ClientAckError>>;

/// An ack awaited by an `emit_with_ack` future.
struct PendingAck {
    reply: AckReply,
    /// Whether the packet left (false while it sits in an offline buffer): an ack of a packet
    /// that left cannot come after a disconnection, one still buffered can.
    sent: bool,
}

/// An emit of a socket with `retries > 0`.
struct QueuedEmit {
    json: Bytes,
    attachments: Vec<Bytes>,
    timeout: Option<Duration>,
    retries: u32,
    tries: u32,
    reply: Option<AckReply>,
}

/// The at-least-once queue of one namespace: its head is in flight (`head` is the ack id of
/// the current try), the rest waits.
#[derive(Default)]
struct RetryQueue {
    items: VecDeque<QueuedEmit>,
    head: Option<u64>,
}

/// An emit made while the socket was not wanted by the core manager (never connected, or
/// ended by a disconnect): sent when the socket connects again.
struct Offline {
    packet: EncodedPacket,
    ack: Option<(u64, Option<Instant>)>,
}

/// Cancels the I/O futures of one Engine.IO generation when dropped.
struct Cancel {
    generation: u64,
    _tx: oneshot::Sender<()>,
    rx: Shared<oneshot::Receiver<()>>,
}

/// The state that survives while no task runs.
pub(crate) struct Parked {
    proto: ProtoManager,
    rx: mpsc::UnboundedReceiver<Cmd>,
    acks: HashMap<(Nsp, u64), PendingAck>,
    queues: HashMap<Nsp, RetryQueue>,
    offline: HashMap<Nsp, VecDeque<Offline>>,
    sockets: HashMap<Nsp, Weak<SocketInner>>,
    cancel: Option<Cancel>,
}

impl Parked {
    pub(crate) fn new(config: ManagerConfig, rx: mpsc::UnboundedReceiver<Cmd>) -> Self {
        Self {
            proto: ProtoManager::new(config, IdGenerator::from_seed(seed())),
            rx,
            acks: HashMap::new(),
            queues: HashMap::new(),
            offline: HashMap::new(),
            sockets: HashMap::new(),
            cancel: None,
        }
    }
}

/// A seed for the backoff jitter.
fn seed() -> [u8; 32] {
    let mut s = [0u8; 32];
    if getrandom::fill(&mut s).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        s[..16].copy_from_slice(&t.to_le_bytes());
    }
    s
}

enum Wake {
    Cmd(Cmd),
    Ws(Option<Result<WsMessage, async_tungstenite::tungstenite::Error>>),
    Timer,
    Task,
}

pub(crate) struct ManagerTask {
    shared: Arc<ManagerInner>,
    proto: ProtoManager,
    rx: mpsc::UnboundedReceiver<Cmd>,
    acks: HashMap<(Nsp, u64), PendingAck>,
    queues: HashMap<Nsp, RetryQueue>,
    offline: HashMap<Nsp, VecDeque<Offline>>,
    cancel: Option<Cancel>,
    sockets: HashMap<Nsp, ClientSocket>,
    ws: Option<(u64, Box<Ws>)>,
    tasks: FuturesUnordered<BoxFuture<()>>,
    timer: crate::runtime::DeadlineTimer,
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
            queues: p.queues,
            offline: p.offline,
            cancel: p.cancel,
            sockets,
            ws: None,
            tasks: FuturesUnordered::new(),
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
            self.drain().await;
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
                Wake::Cmd(c) => self.on_cmd(now, c),
                Wake::Ws(m) => self.on_ws(now, m),
                Wake::Timer => {
                    self.proto.handle_timeout(now);
                }
                Wake::Task => {}
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
        if let Some((_, ws)) = self.ws.take() {
            self.close_ws(ws);
        }
        *slot = Some(Parked {
            proto: self.proto,
            rx: self.rx,
            acks: self.acks,
            queues: self.queues,
            offline: self.offline,
            sockets: self
                .sockets
                .iter()
                .map(|(n, s)| (n.clone(), Arc::downgrade(&s.inner)))
                .collect(),
            cancel: self.cancel,
        });
        None
    }

    async fn next_wake(&mut self) -> Wake {
        self.timer.set(&*self.shared.rt, self.proto.poll_timeout());
        std::future::poll_fn(|cx| self.poll_wake(cx)).await
    }

    /// Handler futures first (so that their emits keep their order), then the inbox, the
    /// websocket and the timer.
    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake> {
        if !self.tasks.is_empty() {
            if let Poll::Ready(Some(())) = self.tasks.poll_next_unpin(cx) {
                return Poll::Ready(Wake::Task);
            }
        }
        if let Poll::Ready(Some(c)) = self.rx.poll_next_unpin(cx) {
            return Poll::Ready(Wake::Cmd(c));
        }
        if let Some((_, ws)) = self.ws.as_mut() {
            if let Poll::Ready(m) = ws.poll_next_unpin(cx) {
                return Poll::Ready(Wake::Ws(m));
            }
        }
        if self.timer.poll(cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        Poll::Pending
    }

    fn on_ws(
        &mut self,
        now: Instant,
        m: Option<Result<WsMessage, async_tungstenite::tungstenite::Error>>,
    ) {
        let Some(generation) = self.ws.as_ref().map(|(g, _)| *g) else {
            return;
        };
        match m {
            Some(Ok(WsMessage::Text(t))) => {
                self.proto
                    .handle_ws_frame(now, generation, Frame::Text(Bytes::from(t)));
            }
            Some(Ok(WsMessage::Binary(b))) => {
                self.proto
                    .handle_ws_frame(now, generation, Frame::Binary(b));
            }
            Some(Ok(WsMessage::Close(_))) | None => {
                self.ws = None;
                self.proto.handle_ws_closed(now, generation, false);
            }
            Some(Ok(_)) => {}
            Some(Err(_)) => {
                self.ws = None;
                self.proto.handle_ws_closed(now, generation, true);
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
            Cmd::Connect(socket) => self.on_connect_cmd(now, socket),
            Cmd::Disconnect(nsp) => self.on_disconnect_cmd(now, nsp),
            Cmd::Emit {
                nsp,
                packet,
                volatile,
            } => {
                if self.sockets.contains_key(&nsp) {
                    let _ = self.proto.emit(&nsp, packet, volatile);
                } else if !volatile {
                    let _ = self.push_offline(&nsp, Offline { packet, ack: None });
                }
            }
            Cmd::EmitWithAck {
                nsp,
                id,
                packet,
                timeout,
                reply,
            } => self.on_emit_with_ack(now, nsp, id, packet, timeout, reply),
            Cmd::Queued {
                nsp,
                json,
                attachments,
                timeout,
                retries,
                reply,
            } => {
                let q = self.queues.entry(nsp.clone()).or_default();
                if q.items.len() >= self.shared.opts.max_buffered {
                    if let Some(r) = reply {
                        let _ = r.send(Err(ClientEmitError::QueueFull.into()));
                    }
                    return;
                }
                q.items.push_back(QueuedEmit {
                    json,
                    attachments,
                    timeout,
                    retries,
                    tries: 0,
                    reply,
                });
                self.drive_queue(now, &nsp, false);
            }
            Cmd::ForgetAck { nsp, id } => {
                self.acks.remove(&(nsp.clone(), id));
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
            } => self.proto.handle_poll_response(now, generation, response),
            Cmd::PostResponse { generation, ok } => {
                self.proto.handle_post_response(now, generation, ok);
            }
            Cmd::WsOpened { generation, ws } => {
                let current = generation == self.proto.generation()
                    && self.proto.engine().is_some_and(|e| !e.is_closed());
                if current {
                    if let Some((_, old)) = self.ws.replace((generation, ws)) {
                        self.close_ws(old);
                    }
                    self.proto.handle_ws_open(now, generation);
                } else {
                    self.close_ws(ws);
                }
            }
            Cmd::WsFailed { generation } => self.proto.handle_ws_closed(now, generation, true),
        }
    }

    fn on_connect_cmd(&mut self, now: Instant, socket: ClientSocket) {
        if !socket.active() {
            // Disconnected again before this command was read.
            return;
        }
        let nsp = socket.inner.nsp.clone();
        self.sockets.insert(nsp.clone(), socket);
        self.proto.connect(now, nsp.clone());
        for o in self.offline.remove(&nsp).unwrap_or_default() {
            match o.ack {
                None => {
                    let _ = self.proto.emit(&nsp, o.packet, false);
                }
                Some((id, deadline)) => {
                    if !self.acks.contains_key(&(nsp.clone(), id)) {
                        continue;
                    }
                    if let Err(e) = self.proto.emit_with_ack(&nsp, id, o.packet, deadline) {
                        if let Some(a) = self.acks.remove(&(nsp.clone(), id)) {
                            let _ = a.reply.send(Err(usage_to_emit(e).into()));
                        }
                    }
                }
            }
        }
        self.drive_queue(now, &nsp, false);
    }

    fn on_disconnect_cmd(&mut self, now: Instant, nsp: Nsp) {
        let socket = self.sockets.remove(&nsp);
        self.proto.disconnect(now, &nsp);
        self.fail_acks(&nsp, true);
        if let Some(q) = self.queues.get_mut(&nsp) {
            q.head = None;
        }
        if let Some(s) = socket {
            let was = s.inner.connected.swap(false, Ordering::AcqRel);
            *lock(&s.inner.id) = None;
            if was {
                self.run_handlers(s.disconnect_futures(DisconnectReason::IoClientDisconnect));
            }
        }
    }

    fn on_emit_with_ack(
        &mut self,
        now: Instant,
        nsp: Nsp,
        id: u64,
        packet: EncodedPacket,
        timeout: Option<Duration>,
        reply: AckReply,
    ) {
        let deadline = timeout.map(|d| now + d);
        if self.acks.len() >= self.shared.opts.max_pending_acks {
            let _ = reply.send(Err(ClientEmitError::QueueFull.into()));
            return;
        }
        if !self.sockets.contains_key(&nsp) {
            let o = Offline {
                packet,
                ack: Some((id, deadline)),
            };
            match self.push_offline(&nsp, o) {
                Ok(()) => {
                    self.acks
                        .insert((nsp, id), PendingAck { reply, sent: false });
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            }
            return;
        }
        let sent = self.proto.is_connected(&nsp);
        match self.proto.emit_with_ack(&nsp, id, packet, deadline) {
            Ok(()) => {
                self.acks.insert((nsp, id), PendingAck { reply, sent });
            }
            Err(e) => {
                let _ = reply.send(Err(usage_to_emit(e).into()));
            }
        }
    }

    fn push_offline(&mut self, nsp: &Nsp, o: Offline) -> Result<(), ClientEmitError> {
        let list = self.offline.entry(nsp.clone()).or_default();
        if list.len() >= self.shared.opts.max_buffered {
            return Err(ClientEmitError::QueueFull);
        }
        list.push_back(o);
        Ok(())
    }

    /// Fails the acks of `nsp` that can no longer come: those of packets that left, or all of
    /// them when `all` (the namespace is gone).
    fn fail_acks(&mut self, nsp: &Nsp, all: bool) {
        let ids: Vec<u64> = self
            .acks
            .iter()
            .filter(|((n, _), a)| n == nsp && (all || a.sent))
            .map(|((_, id), _)| *id)
            .collect();
        for id in ids {
            self.proto.forget_ack(nsp, id);
            if let Some(a) = self.acks.remove(&(nsp.clone(), id)) {
                let _ = a.reply.send(Err(ClientAckError::Disconnected));
            }
        }
    }

    /// Sends the head of the at-least-once queue of `nsp` if the namespace is connected and
    /// nothing is in flight (or again, with `force`).
    fn drive_queue(&mut self, now: Instant, nsp: &Nsp, force: bool) {
        loop {
            let connected = self.proto.is_connected(nsp);
            let Some(q) = self.queues.get_mut(nsp) else {
                return;
            };
            if !connected || (q.head.is_some() && !force) {
                return;
            }
            let Some(head) = q.items.front_mut() else {
                self.queues.remove(nsp);
                return;
            };
            if let Some(old) = q.head.take() {
                self.proto.forget_ack(nsp, old);
            }
            let id = self.shared.next_ack_id.fetch_add(1, Ordering::Relaxed)
                & sio_proto::socket::packet::MAX_ACK_ID;
            head.tries += 1;
            let p = Packet::event(
                nsp.clone(),
                head.json.clone(),
                Some(id),
                head.attachments.clone(),
            )
            .encode();
            let deadline = head.timeout.map(|d| now + d);
            match self.proto.emit_with_ack(nsp, id, p, deadline) {
                Ok(()) => {
                    q.head = Some(id);
                    return;
                }
                Err(e) => {
                    if let Some(item) = q.items.pop_front() {
                        if let Some(r) = item.reply {
                            let _ = r.send(Err(usage_to_emit(e).into()));
                        }
                    }
                }
            }
        }
    }

    /// An ack (`Ok`) or an ack timeout (`Err`) for the head of a queue; false when `id` is not
    /// a queue's head.
    fn queue_result(&mut self, now: Instant, nsp: &Nsp, id: u64, r: Result<Packet, ()>) -> bool {
        let Some(q) = self.queues.get_mut(nsp) else {
            return false;
        };
        if q.head != Some(id) {
            return false;
        }
        q.head = None;
        match r {
            Ok(p) => {
                if let Some(r) = q.items.pop_front().and_then(|i| i.reply) {
                    let _ = r.send(Ok(p));
                }
            }
            Err(()) => {
                if q.items.front().is_some_and(|h| h.tries > h.retries) {
                    if let Some(r) = q.items.pop_front().and_then(|i| i.reply) {
                        let _ = r.send(Err(ClientAckError::Timeout));
                    }
                }
            }
        }
        self.drive_queue(now, nsp, false);
        true
    }

    /// The I/O of `generation` is cancelled when a later generation starts.
    fn cancel_signal(&mut self, generation: u64) -> Shared<oneshot::Receiver<()>> {
        if let Some(c) = &self.cancel {
            if c.generation == generation {
                return c.rx.clone();
            }
        }
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
                Err(()) => Cmd::WsFailed { generation },
            };
            let _ = tx.unbounded_send(cmd);
        }));
    }

    /// Closes a websocket in the background (bounded: a peer that does not read cannot hold
    /// it for more than five seconds).
    fn close_ws(&self, mut ws: Box<Ws>) {
        let rt = self.shared.rt.clone();
        let give_up = rt.sleep_until(rt.now() + Duration::from_secs(5));
        rt.spawn(Box::pin(async move {
            let close = SinkExt::close(&mut *ws);
            let _ = select(pin!(close), give_up).await;
        }));
    }

    /// Writes every transmit and dispatches every event, until both queues are empty.
    async fn drain(&mut self) {
        loop {
            let mut progressed = false;
            let mut wrote = false;
            while let Some(t) = self.proto.poll_transmit() {
                progressed = true;
                let generation = self.proto.generation();
                match t {
                    Transmit::PollGet { query } => self.spawn_http(generation, query, None),
                    Transmit::PollPost { query, body } => {
                        self.spawn_http(generation, query, Some(body));
                    }
                    Transmit::WsConnect { query } => self.spawn_ws(generation, query),
                    Transmit::Ws(frame) => {
                        let Some((g, ws)) = self.ws.as_mut() else {
                            continue;
                        };
                        if *g != generation {
                            continue;
                        }
                        let msg = match frame {
                            Frame::Text(b) => match Utf8Bytes::try_from(b) {
                                Ok(t) => WsMessage::Text(t),
                                Err(_) => continue,
                            },
                            Frame::Binary(b) => WsMessage::Binary(b),
                        };
                        if ws.feed(msg).await.is_err() {
                            self.ws = None;
                            let now = self.shared.rt.now();
                            self.proto.handle_ws_closed(now, generation, true);
                        } else {
                            wrote = true;
                        }
                    }
                    Transmit::WsClose => {
                        if let Some((_, ws)) = self.ws.take() {
                            self.close_ws(ws);
                        }
                    }
                }
            }
            if wrote {
                if let Some((g, ws)) = self.ws.as_mut() {
                    if ws.flush().await.is_err() {
                        let g = *g;
                        self.ws = None;
                        let now = self.shared.rt.now();
                        self.proto.handle_ws_closed(now, g, true);
                    }
                }
            }
            while let Some(e) = self.proto.poll_event() {
                progressed = true;
                self.on_event(e);
            }
            if self
                .ws
                .as_ref()
                .is_some_and(|(g, _)| *g != self.proto.generation())
            {
                if let Some((_, ws)) = self.ws.take() {
                    self.close_ws(ws);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Runs handler futures inside this task. A panicking handler is caught (the panic hook
    /// reports it) so that it cannot take the connection down.
    fn run_handlers(&mut self, futures: impl IntoIterator<Item = BoxFuture<()>>) {
        for f in futures {
            self.tasks
                .push(Box::pin(AssertUnwindSafe(f).catch_unwind().map(|_| ())));
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
    }

    fn on_event(&mut self, e: Event) {
        let now = self.shared.rt.now();
        let l = &self.shared.listeners;
        match e {
            Event::Open(data) => {
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
            Event::Connected { nsp, sid } => {
                for ((n, _), a) in self.acks.iter_mut() {
                    if *n == nsp {
                        a.sent = true;
                    }
                }
                if let Some(s) = self.sockets.get(&nsp).cloned() {
                    *lock(&s.inner.id) = Some(sid);
                    s.inner.connected.store(true, Ordering::Release);
                    self.run_handlers(s.connect_futures());
                }
                self.drive_queue(now, &nsp, true);
            }
            Event::ConnectError { nsp, data } => {
                let (message, data) = parse_connect_error(&data);
                self.fail_acks(&nsp, true);
                if let Some(q) = self.queues.get_mut(&nsp) {
                    if let Some(id) = q.head.take() {
                        self.proto.forget_ack(&nsp, id);
                    }
                }
                if let Some(s) = self.sockets.remove(&nsp) {
                    s.inner.active.store(false, Ordering::Release);
                    s.inner.connected.store(false, Ordering::Release);
                    *lock(&s.inner.id) = None;
                    self.run_handlers(s.connect_error_futures(&message, data.as_ref()));
                }
                if self.sockets.is_empty() {
                    // As in Node: the connection closes when no socket wants it any more.
                    self.proto.close(now);
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
            Event::Ack { nsp, packet } => {
                let Some(id) = packet.id else { return };
                if self.queue_result(now, &nsp, id, Ok(packet.clone())) {
                    return;
                }
                if let Some(a) = self.acks.remove(&(nsp, id)) {
                    let _ = a.reply.send(Ok(packet));
                }
            }
            Event::AckTimeout { nsp, id } => {
                if self.queue_result(now, &nsp, id, Err(())) {
                    return;
                }
                if let Some(a) = self.acks.remove(&(nsp, id)) {
                    let _ = a.reply.send(Err(ClientAckError::Timeout));
                }
            }
            Event::Disconnected { nsp, reason } => self.on_disconnected(nsp, reason),
            Event::Closed(reason) => {
                *lock(&self.shared.engine_id) = None;
                self.set_transport();
                emit_to(&l.close, reason);
            }
            Event::Error(err) => {
                emit_error(&l.error, &err);
                self.connect_error_all(&err);
            }
            Event::ReconnectAttempt(n) => emit_to(&l.reconnect_attempt, n),
            Event::ReconnectError(err) => {
                emit_error(&l.error, &err);
                emit_error(&l.reconnect_error, &err);
                self.connect_error_all(&err);
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
        self.fail_acks(&nsp, gone);
        if let Some(q) = self.queues.get_mut(&nsp) {
            if let Some(id) = q.head.take() {
                self.proto.forget_ack(&nsp, id);
            }
        }
        if gone {
            self.sockets.remove(&nsp);
            s.inner.active.store(false, Ordering::Release);
        }
        *lock(&s.inner.id) = None;
        if s.inner.connected.swap(false, Ordering::AcqRel) {
            self.run_handlers(s.disconnect_futures(reason));
        }
    }

    /// A connection attempt failed: every socket waiting for it gets `connect_error`.
    fn connect_error_all(&mut self, err: &OpenError) {
        let data = match err {
            OpenError::Refused { status, body } => Some(serde_json::json!({
                "status": status,
                "body": serde_json::from_slice::<serde_json::Value>(body)
                    .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned().into()),
            })),
            _ => None,
        };
        let msg = err.to_string();
        let waiting: Vec<ClientSocket> = self
            .sockets
            .values()
            .filter(|s| !s.connected())
            .cloned()
            .collect();
        for s in waiting {
            self.run_handlers(s.connect_error_futures(&msg, data.as_ref()));
        }
    }
}

fn usage_to_emit(e: UsageError) -> ClientEmitError {
    match e {
        UsageError::Closed => ClientEmitError::Closed,
        _ => ClientEmitError::QueueFull,
    }
}

/// The CONNECT_ERROR payload: `{"message": .., "data": ..}` (Socket.IO v5) or a string (v4).
fn parse_connect_error(data: &[u8]) -> (String, Option<serde_json::Value>) {
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(serde_json::Value::Object(mut m)) => {
            let message = m
                .get("message")
                .and_then(|v| v.as_str())
                .unwrap_or("connect error")
                .to_owned();
            (message, m.remove("data"))
        }
        Ok(serde_json::Value::String(s)) => (s, None),
        _ => ("connect error".to_owned(), None),
    }
}
