//! The task that owns one connection: its `sio_proto` [`Connection`], its websocket, its held
//! long-poll, and the futures of the handlers it runs. It follows the drive loop of the core:
//! wait for one input, feed it, drain transmits and events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use async_tungstenite::WebSocketStream;
use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use sio_proto::engine::server::{
    Event as EngineEvent, PollGet, PostResponse, ServerSession, Transmit,
};
use sio_proto::engine::{CloseReason, Frame, TransportKind};
use sio_proto::socket::server::{Connection, Event};

use sio_proto::socket::{EncodedPacket, Nsp, Packet};

use super::namespace::ConnectError;
use super::socket::{AckError, EmitError, Handshake, Socket, SocketId};
use super::ServerInner;
use crate::io::FuturesIo;
use crate::runtime::BoxFuture;

/// The state machine a connection task drives: a Socket.IO connection, or a bare Engine.IO
/// session when the server runs as a plain Engine.IO server ([`crate::engine`]).
#[allow(clippy::large_enum_variant)] // one per connection, not worth a box
pub(crate) enum Machine {
    Socket(Connection),
    Engine(ServerSession),
}

/// What a machine reports.
pub(crate) enum MachineEvent {
    Socket(Event),
    Engine(EngineEvent),
}

macro_rules! both {
    ($self:ident, $m:ident => $e:expr) => {
        match $self {
            Machine::Socket($m) => $e,
            Machine::Engine($m) => $e,
        }
    };
}

impl Machine {
    pub(crate) fn new(now: Instant, session: ServerSession, server: &ServerInner) -> Self {
        if server.engine_app.is_some() {
            Machine::Engine(session)
        } else {
            Machine::Socket(Connection::new(now, session, server.config.connection))
        }
    }
    pub(crate) fn sid(&self) -> &str {
        both!(self, m => m.sid())
    }
    fn is_closed(&self) -> bool {
        both!(self, m => m.is_closed())
    }
    fn lingers(&self) -> bool {
        match self {
            Machine::Socket(c) => c.engine().lingers(),
            Machine::Engine(s) => s.lingers(),
        }
    }
    fn handle_poll_get(&mut self, now: Instant) -> PollGet {
        both!(self, m => m.handle_poll_get(now))
    }
    fn handle_poll_post(&mut self, now: Instant, body: Bytes) -> PostResponse {
        both!(self, m => m.handle_poll_post(now, body))
    }
    fn handle_ws_open(&mut self, now: Instant) -> bool {
        both!(self, m => m.handle_ws_open(now).is_ok())
    }
    fn handle_ws_frame(&mut self, now: Instant, frame: Frame) {
        both!(self, m => m.handle_ws_frame(now, frame))
    }
    fn handle_ws_closed(&mut self, now: Instant, error: bool) {
        both!(self, m => m.handle_ws_closed(now, error))
    }
    fn handle_poll_aborted(&mut self, now: Instant) {
        both!(self, m => m.handle_poll_aborted(now))
    }
    fn handle_timeout(&mut self, now: Instant) {
        both!(self, m => m.handle_timeout(now))
    }
    fn poll_timeout(&self) -> Option<Instant> {
        both!(self, m => m.poll_timeout())
    }
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        both!(self, m => m.poll_transmit())
    }
    fn poll_event(&mut self) -> Option<MachineEvent> {
        match self {
            Machine::Socket(c) => c.poll_event().map(MachineEvent::Socket),
            Machine::Engine(s) => s.poll_event().map(MachineEvent::Engine),
        }
    }
    fn close(&mut self, now: Instant, reason: CloseReason) {
        both!(self, m => m.close(now, reason))
    }
    fn send_encoded(&mut self, p: &EncodedPacket) {
        let _ = match self {
            Machine::Socket(c) => c.send_encoded(p),
            Machine::Engine(s) => s.send_frames(p.frames(), p.frame_count()),
        };
    }
    fn send_frame(&mut self, f: Frame) {
        if let Machine::Engine(s) = self {
            let _ = s.send_frame(f);
        }
    }
    fn send_volatile(&mut self, p: &EncodedPacket) {
        match self {
            Machine::Socket(c) => {
                c.send_volatile(p);
            }
            Machine::Engine(s) => {
                if s.is_writable() {
                    let _ = s.send_frames(p.frames(), p.frame_count());
                }
            }
        }
    }
    fn socket(&mut self) -> Option<&mut Connection> {
        match self {
            Machine::Socket(c) => Some(c),
            Machine::Engine(_) => None,
        }
    }
}

/// The websocket of a connection.
pub(crate) type Ws = WebSocketStream<FuturesIo<hyper::upgrade::Upgraded>>;

/// An answer to a long-polling request.
#[derive(Debug)]
pub(crate) struct HttpReply {
    pub status: u16,
    pub body: Bytes,
}

/// What the connection task is asked to do.
pub(crate) enum Input {
    PollGet(oneshot::Sender<HttpReply>),
    PollPost(Bytes, oneshot::Sender<HttpReply>),
    WebSocket(Box<Ws>),
    Packet(EncodedPacket),
    /// One bare Engine.IO frame (plain Engine.IO servers).
    Frame(Frame),
    Volatile(EncodedPacket),
    AckRequest {
        nsp: Nsp,
        id: u64,
        packet: EncodedPacket,
        timeout: Option<Duration>,
        reply: AckReply,
    },
    Disconnect {
        nsp: Nsp,
        close: bool,
    },
    Close(CloseReason),
    ConnectDecision {
        nsp: Nsp,
        socket: Socket,
        result: Result<(), ConnectError>,
    },
}

impl Input {
    fn is_outbound(&self) -> bool {
        matches!(
            self,
            Input::Packet(_) | Input::Frame(_) | Input::Volatile(_) | Input::AckRequest { .. }
        )
    }
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
            AckReply::Callback(f) => f(r),
        }
    }
}

/// A handle to a connection task's inbox. Outbound packets count against `max`: a client that
/// does not keep up makes further emits fail with `QueueFull` instead of growing memory.
#[derive(Clone)]
pub(crate) struct ConnHandle {
    tx: mpsc::UnboundedSender<Input>,
    queued: Arc<AtomicUsize>,
    /// A POST is being read or processed (the protocol allows one at a time).
    pub(crate) post_in_flight: Arc<std::sync::atomic::AtomicBool>,
    transport: Arc<AtomicU8>,
    max: usize,
}

impl std::fmt::Debug for ConnHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnHandle")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .finish()
    }
}

impl ConnHandle {
    pub(crate) fn push(&self, input: Input) -> Result<(), EmitError> {
        if input.is_outbound() {
            if self.queued.load(Ordering::Relaxed) >= self.max {
                return Err(EmitError::QueueFull);
            }
            self.queued.fetch_add(1, Ordering::Relaxed);
        }
        self.tx
            .unbounded_send(input)
            .map_err(|_| EmitError::Disconnected)
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
    max: usize,
    transport: TransportKind,
) -> (ConnHandle, mpsc::UnboundedReceiver<Input>) {
    let (tx, rx) = mpsc::unbounded();
    let h = ConnHandle {
        tx,
        queued: Arc::new(AtomicUsize::new(0)),
        post_in_flight: Arc::default(),
        transport: Arc::new(AtomicU8::new(u8::from(
            transport == TransportKind::WebSocket,
        ))),
        max,
    };
    (h, rx)
}

enum Wake {
    Input(Input),
    GetAborted,
    Ws(Option<Result<WsMessage, async_tungstenite::tungstenite::Error>>),
    Timer,
    Task,
}

pub(crate) struct ConnTask {
    server: Arc<ServerInner>,
    conn: Machine,
    sid: String,
    handle: ConnHandle,
    rx: mpsc::UnboundedReceiver<Input>,
    ws: Option<Box<Ws>>,
    held_get: Option<oneshot::Sender<HttpReply>>,
    sockets: HashMap<Nsp, Socket>,
    acks: HashMap<(Nsp, u64), AckReply>,
    tasks: FuturesUnordered<BoxFuture<()>>,
    timer: crate::runtime::DeadlineTimer,
    handshake: Handshake,
    engine_socket: Option<crate::engine::EngineSocket>,
}

impl ConnTask {
    pub(crate) fn new(
        server: Arc<ServerInner>,
        conn: Machine,
        handle: ConnHandle,
        rx: mpsc::UnboundedReceiver<Input>,
        ws: Option<Box<Ws>>,
        held_get: Option<oneshot::Sender<HttpReply>>,
        handshake: Handshake,
    ) -> Self {
        Self {
            sid: conn.sid().to_owned(),
            server,
            conn,
            handle,
            rx,
            ws,
            held_get,
            sockets: HashMap::new(),
            acks: HashMap::new(),
            tasks: FuturesUnordered::new(),
            timer: Default::default(),
            handshake,
            engine_socket: None,
        }
    }

    /// The task's future. (Not an `async fn`: its argument would be stored twice in the
    /// future, about 1 KiB more per connection.)
    #[allow(clippy::manual_async_fn)] // on purpose, see above
    pub(crate) fn run(mut self) -> impl std::future::Future<Output = ()> + Send {
        async move {
            self.start_engine_socket();
            loop {
                self.drain().await;
                if self.conn.is_closed() && self.tasks.is_empty() {
                    break;
                }
                let wake = self.next_wake().await;
                let now = self.server.rt.now();
                match wake {
                    Wake::Input(i) => {
                        self.on_input(now, i);
                        // Take what else is already queued before writing, so that a burst of
                        // emits leaves in one write (bounded, to keep reading the websocket).
                        for _ in 0..64 {
                            let Ok(i) = self.rx.try_recv() else { break };
                            self.on_input(now, i);
                        }
                    }
                    Wake::GetAborted => {
                        // The client went away while its long-poll was held (Node: "poll
                        // connection closed prematurely").
                        self.held_get = None;
                        self.conn.handle_poll_aborted(now);
                    }
                    Wake::Ws(Some(Ok(m))) => match m {
                        WsMessage::Text(t) => {
                            self.conn.handle_ws_frame(now, Frame::Text(Bytes::from(t)));
                        }
                        WsMessage::Binary(b) => self.conn.handle_ws_frame(now, Frame::Binary(b)),
                        WsMessage::Close(_) => {
                            self.ws = None;
                            self.conn.handle_ws_closed(now, false);
                        }
                        _ => {}
                    },
                    Wake::Ws(Some(Err(_))) => {
                        self.ws = None;
                        self.conn.handle_ws_closed(now, true);
                    }
                    Wake::Ws(None) => {
                        self.ws = None;
                        self.conn.handle_ws_closed(now, false);
                    }
                    Wake::Timer => {
                        self.conn.handle_timeout(now);
                    }
                    Wake::Task => {}
                }
            }
            self.server.remove_session(&self.sid);
        }
    }

    /// Waits for the next input: handler futures first (so that a handler registered by a
    /// connection handler is in place before the next packet), then the inbox, the websocket
    /// and the timer.
    async fn next_wake(&mut self) -> Wake {
        self.timer.set(&*self.server.rt, self.conn.poll_timeout());
        std::future::poll_fn(|cx| self.poll_wake(cx)).await
    }

    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake> {
        if !self.tasks.is_empty() {
            if let Poll::Ready(Some(())) = self.tasks.poll_next_unpin(cx) {
                return Poll::Ready(Wake::Task);
            }
        }
        if let Poll::Ready(Some(i)) = self.rx.poll_next_unpin(cx) {
            return Poll::Ready(Wake::Input(i));
        }
        if let Some(tx) = self.held_get.as_mut() {
            if tx.poll_canceled(cx).is_ready() {
                return Poll::Ready(Wake::GetAborted);
            }
        }
        if let Some(ws) = self.ws.as_mut() {
            if let Poll::Ready(m) = ws.poll_next_unpin(cx) {
                return Poll::Ready(Wake::Ws(m));
            }
        }
        if self.timer.poll(cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        Poll::Pending
    }

    fn on_input(&mut self, now: Instant, input: Input) {
        if input.is_outbound() {
            self.handle.queued.fetch_sub(1, Ordering::Relaxed);
        }
        match input {
            Input::PollGet(tx) => match self.conn.handle_poll_get(now) {
                PollGet::Held => {
                    if let Some(old) = self.held_get.replace(tx) {
                        // Cannot happen: the session refuses overlapping GETs before this.
                        let _ = old.send(HttpReply {
                            status: 400,
                            body: Bytes::new(),
                        });
                    }
                }
                PollGet::Answer(body) => {
                    let _ = tx.send(HttpReply { status: 200, body });
                }
                PollGet::Reject { status, body } => {
                    let _ = tx.send(HttpReply { status, body });
                }
            },
            Input::PollPost(body, tx) => {
                let r = self.conn.handle_poll_post(now, body);
                let _ = tx.send(HttpReply {
                    status: r.status,
                    body: r.body,
                });
            }
            Input::WebSocket(ws) => {
                if self.conn.handle_ws_open(now) {
                    self.ws = Some(ws);
                } else {
                    let mut ws = ws;
                    self.tasks.push(Box::pin(async move {
                        let _ = SinkExt::close(&mut *ws).await;
                    }));
                }
            }
            Input::Packet(p) => self.conn.send_encoded(&p),
            Input::Frame(f) => self.conn.send_frame(f),
            Input::Volatile(p) => {
                self.conn.send_volatile(&p);
            }
            Input::AckRequest {
                nsp,
                id,
                packet,
                timeout,
                reply,
            } => {
                let deadline = timeout.map(|d| now + d);
                let Some(conn) = self.conn.socket() else {
                    return;
                };
                match conn.send_with_ack(&nsp, id, &packet, deadline) {
                    Ok(()) => {
                        self.acks.insert((nsp, id), reply);
                    }
                    Err(_) => {
                        reply.send(Err(AckError::Emit(EmitError::QueueFull)));
                    }
                }
            }
            Input::Disconnect { nsp, close } => {
                if let Some(conn) = self.conn.socket() {
                    conn.disconnect(now, &nsp, close);
                }
            }
            Input::Close(reason) => self.conn.close(now, reason),
            Input::ConnectDecision {
                nsp,
                socket,
                result,
            } => match result {
                Ok(()) => {
                    let Some(conn) = self.conn.socket() else {
                        return;
                    };
                    if conn.accept(&nsp, socket.id()).is_ok() {
                        socket
                            .inner
                            .connected
                            .store(true, std::sync::atomic::Ordering::Release);
                        let ns = socket.ns().clone();
                        ns.add_socket(&socket);
                        self.sockets.insert(nsp, socket.clone());
                        for h in ns.connection_handlers() {
                            self.tasks.push(h(socket.clone()));
                        }
                    }
                }
                Err(e) => {
                    if let Some(conn) = self.conn.socket() {
                        let _ = conn.reject(&nsp, &e.message, e.data.as_ref());
                    }
                }
            },
        }
    }

    /// Writes every transmit and dispatches every event, until both queues are empty.
    async fn drain(&mut self) {
        loop {
            let mut progressed = false;
            let mut wrote = false;
            while let Some(t) = self.conn.poll_transmit() {
                progressed = true;
                match t {
                    Transmit::PollResponse(body) => {
                        if let Some(tx) = self.held_get.take() {
                            let _ = tx.send(HttpReply { status: 200, body });
                        }
                    }
                    Transmit::PollReject { status, body } => {
                        if let Some(tx) = self.held_get.take() {
                            let _ = tx.send(HttpReply { status, body });
                        }
                    }
                    Transmit::Ws(frame) => {
                        if let Some(ws) = self.ws.as_mut() {
                            let msg = match frame {
                                Frame::Text(b) => match Utf8Bytes::try_from(b) {
                                    Ok(s) => WsMessage::Text(s),
                                    Err(_) => continue,
                                },
                                Frame::Binary(b) => WsMessage::Binary(b),
                            };
                            if ws.feed(msg).await.is_err() {
                                self.ws = None;
                                let now = self.server.rt.now();
                                self.conn.handle_ws_closed(now, true);
                            } else {
                                wrote = true;
                            }
                        }
                    }
                    Transmit::WsClose => {
                        if let Some(mut ws) = self.ws.take() {
                            let _ = SinkExt::close(&mut *ws).await;
                        }
                    }
                }
            }
            if wrote {
                if let Some(ws) = self.ws.as_mut() {
                    if ws.flush().await.is_err() {
                        self.ws = None;
                        let now = self.server.rt.now();
                        self.conn.handle_ws_closed(now, true);
                    }
                }
            }
            while let Some(e) = self.conn.poll_event() {
                progressed = true;
                match e {
                    MachineEvent::Socket(e) => self.on_event(e),
                    MachineEvent::Engine(e) => self.on_engine_event(e),
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Connect { nsp, auth } => self.on_connect(nsp, auth),
            Event::Event { nsp, packet } => {
                let Some(socket) = self.sockets.get(&nsp).cloned() else {
                    return;
                };
                let name = packet
                    .event_name()
                    .map(|n| n.into_owned())
                    .unwrap_or_default();
                if !socket.pre_dispatch(&name, &packet) {
                    return;
                }
                let ack = super::socket::AckSender {
                    nsp,
                    id: packet.id,
                    conn: self.handle.clone(),
                };
                if let Some(h) = socket.handler(&name) {
                    self.tasks.push(h(socket, packet, ack));
                }
            }
            Event::Ack { nsp, packet } => {
                if let Some(id) = packet.id {
                    if let Some(tx) = self.acks.remove(&(nsp, id)) {
                        tx.send(Ok(packet));
                    }
                }
            }
            Event::AckTimeout { nsp, id } => {
                if let Some(tx) = self.acks.remove(&(nsp, id)) {
                    tx.send(Err(AckError::Timeout));
                }
            }
            Event::Disconnect { nsp, reason } => {
                let gone: Vec<(Nsp, u64)> = self
                    .acks
                    .keys()
                    .filter(|(n, _)| *n == nsp)
                    .cloned()
                    .collect();
                for k in gone {
                    if let Some(r) = self.acks.remove(&k) {
                        r.send(Err(AckError::Disconnected));
                    }
                }
                if let Some(s) = self.sockets.remove(&nsp) {
                    s.inner
                        .connected
                        .store(false, std::sync::atomic::Ordering::Release);
                    s.run_disconnecting(reason);
                    s.ns().remove_socket(&s.sid());
                    for f in s.disconnect_futures(reason) {
                        self.tasks.push(f);
                    }
                }
            }
            Event::Upgraded => {
                self.handle.transport.store(1, Ordering::Relaxed);
            }
            Event::Closed(_) => {
                for (_, r) in self.acks.drain() {
                    r.send(Err(AckError::Disconnected));
                }
                self.server.session_closed(&self.sid, self.conn.lingers());
                if let Some(tx) = self.held_get.take() {
                    let _ = tx.send(HttpReply {
                        status: 200,
                        body: Bytes::from_static(b"1"),
                    });
                }
            }
        }
    }

    /// Events of a bare Engine.IO session ([`crate::engine`]).
    fn on_engine_event(&mut self, e: EngineEvent) {
        let Some(socket) = self.engine_socket.clone() else {
            return;
        };
        match e {
            EngineEvent::Message(m) => socket.dispatch_message(m),
            EngineEvent::Upgrading => {}
            EngineEvent::Upgraded => self.handle.transport.store(1, Ordering::Relaxed),
            EngineEvent::Closed(reason) => {
                self.server.session_closed(&self.sid, self.conn.lingers());
                if let Some(tx) = self.held_get.take() {
                    let _ = tx.send(HttpReply {
                        status: 200,
                        body: Bytes::from_static(b"1"),
                    });
                }
                self.tasks.extend(socket.dispatch_close(reason));
            }
        }
    }

    /// Starts a bare Engine.IO session: its connection handlers run now.
    pub(crate) fn start_engine_socket(&mut self) {
        let Some(app) = self.server.engine_app.clone() else {
            return;
        };
        let socket = crate::engine::EngineSocket::new(
            self.sid.clone(),
            self.handle.clone(),
            self.handshake.clone(),
        );
        self.engine_socket = Some(socket.clone());
        self.tasks.extend(app.connection_futures(&socket));
    }

    fn on_connect(&mut self, nsp: Nsp, auth: Bytes) {
        let Some(ns) = self.server.namespace_for(nsp.as_str()) else {
            if let Some(conn) = self.conn.socket() {
                let _ = conn.reject(&nsp, "Invalid namespace", None);
            }
            return;
        };
        let id: SocketId = self.server.next_socket_id().into();
        let mut hs = self.handshake.clone();
        hs.auth = if auth.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&auth).unwrap_or(serde_json::Value::Null)
        };
        let socket = Socket::new(id, ns.clone(), self.handle.clone(), hs);
        let middlewares = ns.middlewares();
        let handle = self.handle.clone();
        self.tasks.push(Box::pin(async move {
            let mut result = Ok(());
            for m in middlewares {
                if let Err(e) = m(socket.clone()).await {
                    result = Err(e);
                    break;
                }
            }
            let _ = handle.push(Input::ConnectDecision {
                nsp,
                socket,
                result,
            });
        }));
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    struct Inert;

    impl crate::Runtime for Inert {
        fn spawn(&self, _f: BoxFuture<()>) {}
        fn sleep_until(&self, _d: Instant) -> BoxFuture<()> {
            Box::pin(std::future::pending())
        }
        #[allow(clippy::disallowed_methods)]
        fn now(&self) -> Instant {
            Instant::now()
        }
        fn connect(
            &self,
            _h: &str,
            _p: u16,
        ) -> BoxFuture<std::io::Result<crate::runtime::BoxStream>> {
            Box::pin(async { Err(std::io::Error::other("no network")) })
        }
    }

    /// One future per connection lives as long as the connection: it must hold the task once
    /// (an `async fn run(mut self)` holds it twice, about 1 KiB more per connection).
    #[test]
    fn the_task_future_holds_the_task_once() {
        let server = crate::Server::new(Arc::new(Inert), Default::default());
        let inner = server.inner.clone();
        let now = inner.rt.now();
        let session = crate::sync::lock(&inner.router).accept(now, TransportKind::WebSocket);
        let machine = Machine::new(now, session, &inner);
        let (h, rx) = channel(10, TransportKind::WebSocket);
        let task = ConnTask::new(
            inner.clone(),
            machine,
            h,
            rx,
            None,
            None,
            Handshake::default(),
        );
        let task_size = std::mem::size_of_val(&task);
        let future_size = std::mem::size_of_val(&task.run());
        assert!(
            future_size < task_size * 3 / 2,
            "{future_size} B for a {task_size} B task"
        );
    }
}
