//! The task that owns one connection: its `sio_proto` [`Connection`](sio_proto::socket::server::Connection), its websocket, its held
//! long-poll, and the futures of the handlers it runs. It follows the drive loop of the core:
//! wait for one input, feed it, drain transmits and events.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use sio_proto::engine::server::{
    ErrorCode, Event as EngineEvent, HttpResponse, Input as SessionInput, Reply, Transmit,
};
use sio_proto::engine::{CloseReason, TransportKind};

use super::metrics::Metrics;
use sio_proto::socket::server::Event;
use sio_proto::socket::DisconnectReason;

use sio_proto::socket::Nsp;

use super::inbox::Ws;
use super::inbox::{AckReply, ConnHandle, Input};
use super::machine::{EngineSession, Machine, MachineEvent};
use super::namespace::ConnectError;
use super::recovery::Recovering;
use super::socket::{AckError, EmitError, Handshake, Socket, SocketId};
use super::ServerInner;
use crate::drive::{self, DeadlineTimer, Room, Tasks, Wake, WsLink};
use crate::runtime::{catch, BoxFuture};

/// What wakes a connection task besides the common [`Wake`]s.
enum ConnWake {
    Common(Wake<Input>),
    /// The client went away while its long-poll was held.
    GetAborted,
    /// A middleware chain decided.
    Connect(ConnectDecision),
}

pub(crate) struct ConnTask {
    server: Arc<ServerInner>,
    conn: Machine,
    handle: ConnHandle,
    rx: mpsc::UnboundedReceiver<Input>,
    ws: WsLink<super::inbox::WsIo>,
    held_get: Option<oneshot::Sender<HttpResponse>>,
    /// The sockets of the connection, one per namespace it joined (a few at most: a list).
    sockets: Vec<(Nsp, Socket)>,
    acks: HashMap<(Nsp, u64), AckReply>,
    tasks: Tasks,
    /// Middleware chains under way (allocated only while there are some).
    connecting: Option<Box<FuturesUnordered<BoxFuture<ConnectDecision>>>>,
    timer: DeadlineTimer,
    /// What each socket of the connection starts from (shared, cloned per socket).
    handshake: Arc<Handshake>,
    engine_socket: Option<Box<dyn EngineSession>>,
    /// The task ran to its end (see `Drop`).
    finished: bool,
    /// Packets and bytes taken off the inbox for the client and not yet added to the
    /// server's counters (added once per batch of inputs: the fan-out loop adds nothing).
    sent: (u64, u64),
}

impl ConnTask {
    pub(crate) fn new(
        server: Arc<ServerInner>,
        conn: Machine,
        handle: ConnHandle,
        rx: mpsc::UnboundedReceiver<Input>,
        ws: Option<Box<Ws>>,
        held_get: Option<oneshot::Sender<HttpResponse>>,
        handshake: Handshake,
    ) -> Self {
        Metrics::add(&server.metrics.sessions_opened, 1);
        let mut link = WsLink::default();
        if let Some(ws) = ws {
            link.open(0, ws);
        }
        Self {
            server,
            conn,
            handle,
            rx,
            ws: link,
            held_get,
            sockets: Vec::new(),
            acks: HashMap::new(),
            tasks: Tasks::default(),
            connecting: None,
            timer: Default::default(),
            handshake: Arc::new(handshake),
            engine_socket: None,
            finished: false,
            sent: (0, 0),
        }
    }

    /// The socket of namespace `nsp`, if the connection joined it.
    fn socket(&self, nsp: &Nsp) -> Option<Socket> {
        self.sockets
            .iter()
            .find(|(n, _)| n == nsp)
            .map(|(_, s)| s.clone())
    }

    /// Adds what was sent since the last call to the server's counters.
    fn count_sent(&mut self) {
        let (packets, bytes) = std::mem::take(&mut self.sent);
        if packets > 0 {
            Metrics::add(&self.server.metrics.packets_out, packets);
            Metrics::add(&self.server.metrics.bytes_out, bytes);
        }
        let dropped = self.handle.outbound.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            Metrics::add(&self.server.metrics.queue_full, u64::from(dropped));
        }
    }

    /// Runs `fut` on this task, its panics caught.
    fn run_here(&mut self, fut: BoxFuture<()>) {
        self.tasks.push(fut);
    }

    /// The task's future. (Not an `async fn`: its argument would be stored twice in the
    /// future, about 1 KiB more per connection.)
    #[allow(clippy::manual_async_fn)] // on purpose, see above
    pub(crate) fn run(mut self) -> impl std::future::Future<Output = ()> + Send {
        use tracing::Instrument;
        // One span per Engine.IO session: everything logged while it runs carries these.
        let span = tracing::info_span!(
            "sio_session",
            sid = %self.conn.sid(),
            transport = if self.handle.transport.load(Ordering::Relaxed) == 1 {
                "websocket"
            } else {
                "polling"
            },
            remote = ?self.handshake.address,
        );
        let task = async move {
            tracing::debug!("session opened");
            self.start_engine_socket();
            loop {
                std::future::poll_fn(|cx| {
                    self.drain(cx);
                    Poll::Ready(())
                })
                .await;
                if self.conn.is_closed() && self.tasks.is_empty() && self.connecting.is_none() {
                    break;
                }
                self.settle_direct();
                let wake = self.next_wake().await;
                // Awake: no direct write from now on, until everything is out again.
                self.handle.outbound.idle.store(false, Ordering::SeqCst);
                let now = self.server.rt.now();
                match wake {
                    ConnWake::Common(Wake::Input(i)) => {
                        self.on_input(now, i);
                        // Take what else is already queued before writing, so that a burst of
                        // emits leaves in one write (bounded, to keep reading the websocket).
                        for _ in 0..64 {
                            let Ok(i) = self.rx.try_recv() else { break };
                            self.on_input(now, i);
                        }
                        self.count_sent();
                    }
                    ConnWake::GetAborted => {
                        // The client went away while its long-poll was held (Node: "poll
                        // connection closed prematurely").
                        self.held_get = None;
                        self.conn.handle(now, SessionInput::PollAborted);
                    }
                    ConnWake::Common(Wake::Ws(Some(Ok(m)))) => match m {
                        WsMessage::Close(_) => {
                            self.drop_ws(None);
                            self.conn
                                .handle(now, SessionInput::WsClosed { error: false });
                        }
                        m => {
                            if let Some(f) = drive::ws_frame(m) {
                                let n = f.len() as u64;
                                Metrics::add(&self.server.metrics.bytes_in, n);
                                self.conn.handle(now, SessionInput::WsFrame(f));
                            }
                        }
                    },
                    ConnWake::Common(Wake::Ws(Some(Err(e)))) => {
                        // A message over `maxHttpBufferSize` is answered with close code 1009
                        // (message too big) before the connection goes.
                        let close = matches!(e, WsError::Capacity(_)).then(|| CloseFrame {
                            code: CloseCode::Size,
                            reason: "message too big".into(),
                        });
                        self.drop_ws(close);
                        self.conn
                            .handle(now, SessionInput::WsClosed { error: true });
                    }
                    ConnWake::Common(Wake::Ws(None)) => {
                        self.drop_ws(None);
                        self.conn
                            .handle(now, SessionInput::WsClosed { error: false });
                    }
                    ConnWake::Common(Wake::WsFailed(_)) => {
                        self.conn
                            .handle(now, SessionInput::WsClosed { error: true });
                    }
                    ConnWake::Common(Wake::Writable | Wake::Task) => {}
                    ConnWake::Common(Wake::Timer) => {
                        self.conn.handle(now, SessionInput::Timeout);
                    }
                    ConnWake::Connect(d) => self.on_connect_decision(d),
                }
            }
            self.finished = true;
            self.server.remove_session(self.conn.sid(), false);
        };
        // Each poll is a batch scope (`direct::BatchScope`).
        super::direct::Batched::new(task).instrument(span)
    }

    /// Waits for the next input: handler futures first (so that a handler registered by a
    /// connection handler is in place before the next packet), then middleware decisions, a
    /// held long-poll's client going away, and the common ones ([`drive::poll_wake`]).
    async fn next_wake(&mut self) -> ConnWake {
        self.timer.set(&*self.server.rt, self.conn.poll_timeout());
        std::future::poll_fn(|cx| self.poll_wake(cx)).await
    }

    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<ConnWake> {
        if self.tasks.poll(cx, self.conn.sid()).is_ready() {
            return Poll::Ready(ConnWake::Common(Wake::Task));
        }
        if let Some(c) = self.connecting.as_mut() {
            match c.poll_next_unpin(cx) {
                Poll::Ready(Some(d)) => return Poll::Ready(ConnWake::Connect(d)),
                Poll::Ready(None) => self.connecting = None,
                Poll::Pending => {}
            }
        }
        if let Some(tx) = self.held_get.as_mut() {
            if tx.poll_canceled(cx).is_ready() {
                return Poll::Ready(ConnWake::GetAborted);
            }
        }
        drive::poll_wake(cx, &mut self.rx, &mut self.ws, &mut self.timer).map(ConnWake::Common)
    }

    fn on_input(&mut self, now: Instant, input: Input) {
        if let Some(bytes) = input.outbound_bytes() {
            self.sent.0 += 1;
            self.sent.1 += bytes as u64;
            // After `idle` is cleared: see `super::direct`.
            self.handle.outbound.packets.fetch_sub(1, Ordering::SeqCst);
            self.handle
                .outbound
                .bytes
                .fetch_sub(bytes, Ordering::Relaxed);
        }
        match input {
            Input::PollGet(tx) => match self.conn.handle(now, SessionInput::PollGet) {
                // The session answers an overlapping GET itself: none was held.
                Reply::Held => self.held_get = Some(tx),
                Reply::Http(r) => {
                    let _ = tx.send(r);
                }
                // Not replies to a GET.
                Reply::None | Reply::Refused(_) => {
                    let _ = tx.send(HttpResponse::error(ErrorCode::BadRequest));
                }
            },
            Input::PostStarted(tx) => {
                let r = match self.conn.handle(now, SessionInput::PollPostStarted) {
                    Reply::Http(r) => Some(r),
                    _ => None,
                };
                let _ = tx.send(r);
            }
            Input::PostAborted => {
                self.conn.handle(now, SessionInput::PollPostAborted);
            }
            Input::PollPost(body, tx) => {
                Metrics::add(&self.server.metrics.bytes_in, body.len() as u64);
                let r = match self.conn.handle(now, SessionInput::PollPost(body)) {
                    Reply::Http(r) => r,
                    // A POST body always gets an answer; this is not one.
                    _ => HttpResponse::error(ErrorCode::BadRequest),
                };
                let _ = tx.send(r);
            }
            Input::WebSocket(ws) => match self.conn.handle(now, SessionInput::WsOpen) {
                Reply::Refused(_) => self.retire_ws(ws, Vec::new(), None),
                _ => {
                    if let Some(old) = self.ws.open(0, ws) {
                        self.retire_ws(old, Vec::new(), None);
                    }
                }
            },
            Input::Packet(p) => self.conn.send_encoded(&p),
            Input::Frame(f) => self.conn.send_frame(f),
            Input::Volatile(p) => {
                self.conn.send_volatile(&p);
            }
            Input::AckRequest(request) => {
                let super::inbox::AckRequest {
                    nsp,
                    id,
                    packet,
                    timeout,
                    reply,
                } = *request;
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
            // The rest of a direct write goes out with the next flush.
            Input::Backlog => self.ws.want_flush(),
        }
    }

    /// Before the task waits: publishes its websocket for direct writes while it is the
    /// session's transport without compression (withdraws it otherwise), and says the task is
    /// idle when nothing waits to be written.
    fn settle_direct(&mut self) {
        let io = self
            .ws
            .current()
            .map(|ws| ws.get_ref())
            .filter(|io| io.deflate().is_none())
            .filter(|_| {
                self.handle.transport() == TransportKind::WebSocket && !self.conn.is_closed()
            })
            .map(|io| io.get_ref());
        let out = &self.handle.outbound;
        out.direct.sync(io);
        out.idle
            .store(io.is_some() && self.ws.is_quiet(), Ordering::SeqCst);
    }

    /// A CONNECT whose middleware chain ran: the socket joins, or the client gets
    /// CONNECT_ERROR.
    fn on_connect_decision(&mut self, d: ConnectDecision) {
        let ConnectDecision {
            nsp,
            socket,
            result,
            recovering,
        } = d;
        match result {
            Ok(()) => {
                let ns = socket.ns().clone();
                let new_pid = ns.recovery().map(|_| self.server.next_socket_id());
                let Some(conn) = self.conn.socket() else {
                    return;
                };
                // With recovery on, the log is held from the reply to the last missed packet,
                // the socket joining its rooms meanwhile (see `recovery`).
                let log = ns.recovery().map(|r| r.hold());
                let missed = recovering
                    .as_ref()
                    .zip(log.as_deref())
                    .and_then(|(r, log)| r.missed(log));
                let pid = match (&recovering, &missed) {
                    (Some(r), Some(_)) => Some(r.pid()),
                    _ => new_pid.as_deref(),
                };
                if let Err(e) = conn.accept_with_pid(&nsp, socket.id(), pid) {
                    // The connection closed, or the client left the namespace, while
                    // the middleware ran: there is no one to answer.
                    tracing::debug!(sid = %self.conn.sid(), nsp = %nsp, error = %e, "CONNECT not accepted");
                    return;
                }
                if let Some(pid) = pid {
                    socket.set_recovery(pid, missed.is_some());
                }
                socket
                    .inner
                    .connected
                    .store(true, std::sync::atomic::Ordering::Release);
                tracing::debug!(%nsp, id = socket.id(), recovered = missed.is_some(), "socket connected");
                catch("the adapter's add_socket", || ns.add_socket(&socket));
                if let (Some(r), Some(missed)) = (&recovering, missed) {
                    let rooms: Vec<&str> = r
                        .rooms()
                        .iter()
                        .map(|r| &**r)
                        .filter(|r| *r != socket.id())
                        .collect();
                    catch("the adapter's join", || ns.join(&socket.sid(), rooms));
                    for p in &missed {
                        let _ = conn.send_encoded(p);
                    }
                }
                drop(log);
                self.sockets.retain(|(n, _)| *n != nsp);
                self.sockets.push((nsp, socket.clone()));
                for h in ns.connection_handlers() {
                    if let Some(f) = catch("a connection handler", || h(socket.clone())) {
                        self.run_here(f);
                    }
                }
            }
            Err(e) => {
                tracing::debug!(%nsp, message = %e.message, "CONNECT refused by a middleware");
                if let Some(conn) = self.conn.socket() {
                    let _ = conn.reject(&nsp, &e.message, e.data.as_ref());
                }
            }
        }
    }

    /// Writes what the machine transmits and dispatches its events, until both are drained
    /// or the websocket cannot take more now: the rest then waits in the machine, counted
    /// against its bounds, and the task goes on with its other inputs meanwhile.
    fn drain(&mut self, cx: &mut Context<'_>) {
        loop {
            let mut progressed = self.write(cx);
            while let Some(e) = self.conn.poll_event() {
                progressed = true;
                match e {
                    MachineEvent::Socket(e) => self.on_event(e),
                    MachineEvent::Engine(e) => self.on_engine_event(e),
                }
            }
            if !progressed {
                break;
            }
        }
        if self.conn.is_closed() {
            if let Some((ws, mut last)) = self.ws.take_with_pending() {
                // Closed: what is still to write goes in a closing future, with a deadline.
                while let Some(t) = self.conn.poll_transmit() {
                    match t {
                        Transmit::Ws(f) | Transmit::WsUncompressed(f) => {
                            last.extend(drive::ws_message(f))
                        }
                        Transmit::WsClose => break,
                        Transmit::PollResponse(r) => self.answer_get(r),
                    }
                }
                self.retire_ws(ws, last, None);
            }
        }
    }

    /// Moves transmits from the machine to the transport while the websocket takes them;
    /// returns whether any transmit was taken.
    fn write(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        loop {
            match self.ws.poll_room(cx) {
                Room::Free => {}
                Room::Busy => break,
                Room::Failed(_) => {
                    self.ws_failed();
                    continue;
                }
            }
            let Some(t) = self.conn.poll_transmit() else {
                break;
            };
            progressed = true;
            match t {
                Transmit::PollResponse(r) => self.answer_get(r),
                Transmit::Ws(frame) => self.ws.put(frame, true),
                Transmit::WsUncompressed(frame) => self.ws.put(frame, false),
                Transmit::WsClose => self.drop_ws(None),
            }
        }
        if let Room::Failed(_) = self.ws.poll_flush(cx) {
            self.ws_failed();
        }
        progressed
    }

    fn answer_get(&mut self, r: HttpResponse) {
        if let Some(tx) = self.held_get.take() {
            let _ = tx.send(r);
        }
    }

    /// The websocket failed while writing.
    fn ws_failed(&mut self) {
        let now = self.server.rt.now();
        self.conn
            .handle(now, SessionInput::WsClosed { error: true });
    }

    /// Closes the current websocket (after what was written to it), with `close` as the close
    /// frame if given.
    fn drop_ws(&mut self, close: Option<CloseFrame>) {
        if let Some(ws) = self.ws.take() {
            self.retire_ws(ws, Vec::new(), close);
        }
    }

    /// Writes `last` to `ws` and closes it, in the background of this task, for at most
    /// [`drive::WS_CLOSE_LINGER`].
    fn retire_ws(&mut self, ws: Box<Ws>, last: Vec<WsMessage>, close: Option<CloseFrame>) {
        let f = drive::retire_ws(&*self.server.rt, ws, last, close);
        self.run_here(f);
    }

    fn on_event(&mut self, e: Event) {
        if matches!(
            e,
            Event::Connect { .. } | Event::Event { .. } | Event::Ack { .. }
        ) {
            Metrics::add(&self.server.metrics.packets_in, 1);
        }
        match e {
            Event::Connect { nsp, auth } => self.on_connect(nsp, auth),
            Event::Event { nsp, packet } => {
                let Some(socket) = self.socket(&nsp) else {
                    return;
                };
                let name = packet
                    .event_name()
                    .map(|n| n.into_owned())
                    .unwrap_or_default();
                let pass = catch("a packet middleware or on_any listener", || {
                    socket.pre_dispatch(&name, &packet)
                });
                if pass != Some(true) {
                    return;
                }
                let ack = super::socket::AckSender {
                    nsp,
                    id: packet.id,
                    conn: self.handle.clone(),
                };
                if let Some(h) = socket.handler(&name) {
                    if let Some(f) = catch("an event handler", || h(socket, packet, ack)) {
                        self.run_here(f);
                    }
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
                Metrics::add(&self.server.metrics.ack_timeouts, 1);
                if let Some(tx) = self.acks.remove(&(nsp, id)) {
                    tx.send(Err(AckError::Timeout));
                }
            }
            Event::Disconnect { nsp, reason } => {
                tracing::debug!(%nsp, %reason, "socket disconnected");
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
                let gone = self.sockets.iter().position(|(n, _)| *n == nsp);
                if let Some((_, s)) = gone.map(|i| self.sockets.swap_remove(i)) {
                    for f in socket_gone(&s, reason) {
                        self.run_here(f);
                    }
                }
            }
            Event::Upgraded => self.upgraded(),
            Event::Closed(reason) => {
                tracing::debug!(%reason, "session closed");
                for (_, r) in self.acks.drain() {
                    r.send(Err(AckError::Disconnected));
                }
                self.server
                    .remove_session(self.conn.sid(), self.conn.lingers());
            }
        }
    }

    /// Events of a bare Engine.IO session ([`crate::engine`]).
    fn on_engine_event(&mut self, e: EngineEvent) {
        let Some(socket) = self.engine_socket.as_ref() else {
            return;
        };
        match e {
            EngineEvent::Message(m) => {
                catch("a message handler", || socket.deliver(m));
            }
            EngineEvent::Upgrading => {}
            EngineEvent::Upgraded => self.upgraded(),
            EngineEvent::Closed(reason) => {
                self.server
                    .remove_session(self.conn.sid(), self.conn.lingers());
                let fs = catch("a close handler", || socket.closed(reason));
                for f in fs.into_iter().flatten() {
                    self.run_here(f);
                }
            }
        }
    }

    /// The session now uses its websocket: the router and the API objects learn it.
    fn upgraded(&mut self) {
        tracing::debug!("upgraded to websocket");
        self.handle.transport.store(1, Ordering::Relaxed);
        crate::sync::lock(&self.server.router).upgraded(self.conn.sid());
    }

    /// Starts a bare Engine.IO session: its connection handlers run now.
    pub(crate) fn start_engine_socket(&mut self) {
        let Some(app) = self.server.engine_app.clone() else {
            return;
        };
        let opened = catch("a connection handler", || {
            app.open(
                self.conn.sid().to_owned(),
                self.handle.clone(),
                (*self.handshake).clone(),
            )
        });
        if let Some((socket, fs)) = opened {
            self.engine_socket = Some(socket);
            for f in fs {
                self.run_here(f);
            }
        }
    }

    fn on_connect(&mut self, nsp: Nsp, auth: Bytes) {
        let Some(ns) = self.server.namespace_for(nsp.as_str()) else {
            tracing::debug!(%nsp, "CONNECT to an unknown namespace refused");
            if let Some(conn) = self.conn.socket() {
                let _ = conn.reject_invalid_namespace(&nsp);
            }
            return;
        };
        let mut hs = (*self.handshake).clone();
        hs.auth = if auth.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&auth).unwrap_or(serde_json::Value::Null)
        };
        let restored = ns.recovery().and_then(|r| r.take(&hs.auth));
        let Some((id, data, recovering)) = restored else {
            let v2_id = self.conn.socket().and_then(|c| c.v2_socket_id(&nsp));
            let id: SocketId = v2_id.unwrap_or_else(|| self.server.next_socket_id()).into();
            let socket = Socket::new(id, ns.clone(), self.handle.clone(), hs);
            return self.run_middlewares(nsp, socket, None);
        };
        let socket = Socket::new(id, ns.clone(), self.handle.clone(), hs);
        socket.restore_data(data);
        if ns.recovery().is_some_and(|r| r.config().skip_middlewares) {
            self.on_connect_decision(ConnectDecision {
                nsp,
                socket,
                result: Ok(()),
                recovering: Some(recovering),
            });
        } else {
            self.run_middlewares(nsp, socket, Some(recovering));
        }
    }

    /// Runs the namespace's middleware for a CONNECT; the decision comes back to the task.
    fn run_middlewares(&mut self, nsp: Nsp, socket: Socket, recovering: Option<Recovering>) {
        let middlewares = socket.ns().middlewares();
        let connecting = self.connecting.get_or_insert_with(Box::default);
        connecting.push(Box::pin(async move {
            use futures_util::FutureExt;
            let mut result = Ok(());
            for m in middlewares {
                // A middleware that panics refuses the connection (its panic is reported).
                let r = match catch("a middleware", || m(socket.clone())) {
                    None => Err(()),
                    Some(f) => match std::panic::AssertUnwindSafe(f).catch_unwind().await {
                        Ok(r) => Ok(r),
                        Err(p) => {
                            tracing::error!(
                                panic = crate::runtime::panic_message(&*p),
                                "a middleware panicked"
                            );
                            Err(())
                        }
                    },
                };
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        result = Err(e);
                        break;
                    }
                    Err(()) => {
                        result = Err(ConnectError::new(MIDDLEWARE_PANICKED));
                        break;
                    }
                }
            }
            ConnectDecision {
                nsp,
                socket,
                result,
                recovering,
            }
        }));
    }
}

/// A CONNECT whose middleware chain ran.
struct ConnectDecision {
    nsp: Nsp,
    socket: Socket,
    result: Result<(), ConnectError>,
    /// The CONNECT takes back a session (connection state recovery).
    recovering: Option<Recovering>,
}

/// The CONNECT_ERROR message a client gets when a middleware panicked.
pub(crate) const MIDDLEWARE_PANICKED: &str = "Internal server error";

/// A socket is gone: it is marked disconnected, its `disconnecting` listeners run, it leaves
/// its namespace and rooms; returns the futures of its `disconnect` handlers. Panics in any
/// of them are caught.
fn socket_gone(s: &Socket, reason: DisconnectReason) -> Vec<BoxFuture<()>> {
    s.inner
        .connected
        .store(false, std::sync::atomic::Ordering::Release);
    // `disconnecting` listeners still see the socket's rooms (as in Node).
    catch("a disconnecting handler", || s.run_disconnecting(reason));
    if let Some(r) = s.ns().recovery() {
        catch("keeping the socket for recovery", || r.persist(s, reason));
    }
    catch("the adapter's remove_socket", || {
        s.ns().remove_socket(&s.sid())
    });
    catch("a disconnect handler", || s.disconnect_futures(reason)).unwrap_or_default()
}

impl Drop for ConnTask {
    /// However the task ends — also when it is dropped half-way (a panic in it, the runtime
    /// shutting down) — its session leaves the index, its sockets leave their namespaces and
    /// rooms and their disconnect handlers run, and awaited acks fail.
    fn drop(&mut self) {
        self.count_sent();
        Metrics::add(&self.server.metrics.sessions_closed, 1);
        if self.finished {
            return;
        }
        self.server.remove_session(self.conn.sid(), false);
        let sockets: Vec<Socket> = self.sockets.drain(..).map(|(_, s)| s).collect();
        let acks: Vec<AckReply> = self.acks.drain().map(|(_, r)| r).collect();
        let engine_socket = self.engine_socket.take();
        if sockets.is_empty() && acks.is_empty() && engine_socket.is_none() {
            return;
        }
        tracing::error!(sid = %self.conn.sid(), "connection task ended abnormally; cleaning up");
        // User code does not run inside a drop (it may be one during a panic): a task of
        // its own does it.
        crate::runtime::spawn_contained(&*self.server.rt, "a connection's clean-up", async move {
            for r in acks {
                r.send(Err(AckError::Disconnected));
            }
            let mut fs = Vec::new();
            for s in &sockets {
                fs.extend(socket_gone(s, DisconnectReason::TransportError));
            }
            if let Some(e) = engine_socket {
                let close = catch("a close handler", || e.closed(CloseReason::TransportError));
                fs.extend(close.into_iter().flatten());
            }
            for f in fs {
                crate::runtime::contained("a disconnect handler", f).await;
            }
        });
    }
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
