//! An in-process client/server pair in virtual time: the server side (router + one
//! [`Connection`]) and the client [`Manager`] exchange their transmits through memory, with no
//! I/O and no clock. Every frame that crosses is recorded, so the in-process example can print
//! the wire and tests can assert on it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sio_proto::engine::client::{Input as EInput, Transmit as ClientTransmit};
use sio_proto::engine::server::{
    EngineConfig, EngineServer, Input, Method, Reply, Request, Route, SessionRequest,
    Transmit as ServerTransmit,
};
use sio_proto::engine::{Frame, TransportKind};
use sio_proto::socket::client::{self, Input as MInput, Manager, ManagerConfig};
use sio_proto::socket::server::{self, Connection, ConnectionConfig};
use sio_proto::socket::Nsp;
use sio_proto::IdGenerator;

/// One line of the wire log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// Client to server.
    Up(String),
    /// Server to client.
    Down(String),
}

/// What the server application decides on a CONNECT.
pub type ConnectPolicy =
    Box<dyn FnMut(&Nsp, &Bytes) -> Result<(), (String, Option<serde_json::Value>)>>;

/// The pair.
pub struct Pair {
    /// Virtual time.
    pub now: Instant,
    /// The router.
    pub router: EngineServer,
    /// The server's connection, once the handshake happened.
    pub conn: Option<Connection>,
    /// The connection config.
    pub conn_config: ConnectionConfig,
    /// The client.
    pub client: Manager,
    /// The server holds a long-poll GET of the client.
    pub held_get: bool,
    /// Generation of the client session the held GET / websocket belong to.
    pub gen: u64,
    /// The websocket between them is open.
    pub ws_open: bool,
    /// Events seen on the server side.
    pub server_events: Vec<server::Event>,
    /// Events seen on the client side.
    pub client_events: Vec<client::Event>,
    /// Wire log.
    pub wire: Vec<Wire>,
    /// When set, everything the client sends is lost (a silent or vanished client).
    pub client_silent: bool,
    /// When set, everything the server sends is lost (a silent server).
    pub server_silent: bool,
    /// Decision on CONNECT.
    pub policy: ConnectPolicy,
    /// Auth the client sends with each CONNECT.
    pub auth: Option<Bytes>,
    /// Ids for accepted sockets.
    pub socket_ids: IdGenerator,
    /// Whether the server answers CONNECT by itself.
    pub auto_accept: bool,
    /// Whether the client sends CONNECT by itself on NamespaceReady.
    pub auto_connect: bool,
    /// Number of connections the server accepted.
    pub handshakes: u32,
    queue_up: VecDeque<ClientTransmit>,
}

impl Pair {
    /// A pair with the given configs; the client is not opened yet.
    pub fn new(server: EngineConfig, conn: ConnectionConfig, client: ManagerConfig) -> Self {
        // `settle` runs without time passing: a GET that reaches the server while an upgrade
        // is pending is answered at once rather than after the (real-time) release delay
        // (`engine_server.rs` tests the delay itself).
        let server = EngineConfig {
            upgrade_noop_delay: Duration::ZERO,
            ..server
        };
        Self {
            now: start(),
            router: EngineServer::new(server, IdGenerator::from_u64(1)),
            conn: None,
            conn_config: conn,
            client: Manager::new(client, IdGenerator::from_u64(2)),
            held_get: false,
            gen: 0,
            ws_open: false,
            server_events: Vec::new(),
            client_events: Vec::new(),
            wire: Vec::new(),
            client_silent: false,
            server_silent: false,
            policy: Box::new(|_, _| Ok(())),
            auth: None,
            socket_ids: IdGenerator::from_u64(3),
            auto_accept: true,
            auto_connect: true,
            handshakes: 0,
            queue_up: VecDeque::new(),
        }
    }

    /// Default configs.
    pub fn default_pair() -> Self {
        Self::new(
            EngineConfig::default(),
            ConnectionConfig::default(),
            ManagerConfig::default(),
        )
    }

    /// The client joins `nsp` (opening the connection if needed) and everything settles.
    pub fn connect(&mut self, nsp: &str) {
        let nsp = Nsp::new(nsp).expect("valid namespace");
        self.client.connect(self.now, nsp);
        self.settle();
    }

    /// The server connection (panics when there is none).
    pub fn conn(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("server connection")
    }

    /// Runs every exchange that can happen without time passing.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    /// Advances virtual time by `d`, firing every timer on the way.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        loop {
            self.settle();
            let next = [
                self.conn.as_ref().and_then(|c| c.poll_timeout()),
                self.client.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    if let Some(c) = self.conn.as_mut() {
                        c.handle(now, Input::Timeout);
                    }
                    self.client.handle(now, MInput::Timeout);
                }
                _ => break,
            }
        }
        self.now = target;
        self.settle();
    }

    /// Takes the server events seen so far.
    pub fn take_server_events(&mut self) -> Vec<server::Event> {
        std::mem::take(&mut self.server_events)
    }

    /// Takes the client events seen so far.
    pub fn take_client_events(&mut self) -> Vec<client::Event> {
        std::mem::take(&mut self.client_events)
    }

    /// One round: returns whether anything happened.
    fn step(&mut self) -> bool {
        let mut progressed = false;
        // Client side.
        while let Some(t) = self.client.poll_transmit() {
            progressed = true;
            self.queue_up.push_back(t);
        }
        while let Some(e) = self.client.poll_event() {
            progressed = true;
            if let client::Event::NamespaceReady { nsp } = &e {
                if self.auto_connect {
                    let auth = self.auth.clone();
                    let _ = self.client.send_connect(nsp, auth);
                }
            }
            self.client_events.push(e);
        }
        if let Some(t) = self.queue_up.pop_front() {
            progressed = true;
            if !self.client_silent {
                self.deliver_up(t);
            }
        }
        // Server side.
        if let Some(c) = self.conn.as_mut() {
            let mut down = Vec::new();
            while let Some(t) = c.poll_transmit() {
                down.push(t);
            }
            let mut events = Vec::new();
            while let Some(e) = c.poll_event() {
                events.push(e);
            }
            if !down.is_empty() || !events.is_empty() {
                progressed = true;
            }
            for t in down {
                if !self.server_silent {
                    self.deliver_down(t);
                }
            }
            for e in events {
                if let server::Event::Connect { nsp, auth } = &e {
                    if self.auto_accept {
                        let decision = (self.policy)(nsp, auth);
                        let id = self.socket_ids.next_id();
                        let c = self.conn.as_mut().expect("conn");
                        let _ = match decision {
                            Ok(()) => c.accept(nsp, &id),
                            Err((m, d)) => c.reject(nsp, &m, d.as_ref()),
                        };
                    }
                }
                self.server_events.push(e);
            }
        }
        progressed
    }

    fn deliver_up(&mut self, t: ClientTransmit) {
        let now = self.now;
        let gen = self.client.generation();
        match t {
            ClientTransmit::PollGet { query } => {
                let req = Request {
                    method: Method::Get,
                    query: &query,
                    websocket_upgrade: false,
                    origin: None,
                };
                match self.route(&req) {
                    Route::Handshake(kind) => {
                        self.new_connection(kind.transport);
                        self.gen = gen;
                        self.held_get = true;
                    }
                    Route::Session {
                        kind: SessionRequest::PollGet,
                        ..
                    } => {
                        self.wire.push(Wire::Up("GET".into()));
                        match self.conn().handle(now, Input::PollGet) {
                            Reply::Held => self.held_get = true,
                            Reply::Http(r) => {
                                self.client.handle(
                                    now,
                                    MInput::Engine {
                                        generation: gen,
                                        input: EInput::PollResponse(Ok((r.status, r.body))),
                                    },
                                );
                            }
                            other => panic!("unexpected reply {other:?}"),
                        }
                    }
                    Route::Respond(r) => {
                        self.client.handle(
                            now,
                            MInput::Engine {
                                generation: gen,
                                input: EInput::PollResponse(Ok((r.status, r.body))),
                            },
                        );
                    }
                    other => panic!("unexpected route {other:?}"),
                }
            }
            ClientTransmit::PollPost { query, body } => {
                let req = Request {
                    method: Method::Post,
                    query: &query,
                    websocket_upgrade: false,
                    origin: None,
                };
                self.wire.push(Wire::Up(format!("POST {}", show(&body))));
                match self.route(&req) {
                    Route::Session {
                        kind: SessionRequest::PollPost,
                        ..
                    } => {
                        let r = self.conn().handle(now, Input::PollPost(body));
                        let ok = matches!(r, Reply::Http(r) if r.status == 200);
                        self.client.handle(
                            now,
                            MInput::Engine {
                                generation: gen,
                                input: EInput::PostResponse { ok },
                            },
                        );
                    }
                    _ => self.client.handle(
                        now,
                        MInput::Engine {
                            generation: gen,
                            input: EInput::PostResponse { ok: false },
                        },
                    ),
                }
            }
            ClientTransmit::WsConnect { query } => {
                let req = Request {
                    method: Method::Get,
                    query: &query,
                    websocket_upgrade: true,
                    origin: None,
                };
                self.wire.push(Wire::Up(format!("websocket {query}")));
                match self.route(&req) {
                    Route::Handshake(kind) => {
                        self.new_connection(kind.transport);
                        self.ws_open = true;
                        self.client.handle(
                            now,
                            MInput::Engine {
                                generation: gen,
                                input: EInput::WsOpen,
                            },
                        );
                    }
                    Route::Session {
                        kind: SessionRequest::WebSocket,
                        ..
                    } => {
                        if self.conn().handle(now, Input::WsOpen) == Reply::None {
                            self.ws_open = true;
                            self.client.handle(
                                now,
                                MInput::Engine {
                                    generation: gen,
                                    input: EInput::WsOpen,
                                },
                            );
                        } else {
                            self.client.handle(
                                now,
                                MInput::Engine {
                                    generation: gen,
                                    input: EInput::WsClosed { error: true },
                                },
                            );
                        }
                    }
                    _ => self.client.handle(
                        now,
                        MInput::Engine {
                            generation: gen,
                            input: EInput::WsClosed { error: true },
                        },
                    ),
                }
            }
            ClientTransmit::Ws(frame) | ClientTransmit::WsUncompressed(frame) => {
                self.wire
                    .push(Wire::Up(format!("ws {}", show_frame(&frame))));
                if self.ws_open {
                    if let Some(c) = self.conn.as_mut() {
                        c.handle(now, Input::WsFrame(frame));
                    }
                }
            }
            ClientTransmit::WsClose => {
                self.wire.push(Wire::Up("ws close".into()));
                if self.ws_open {
                    self.ws_open = false;
                    if let Some(c) = self.conn.as_mut() {
                        c.handle(now, Input::WsClosed { error: false });
                    }
                }
            }
        }
    }

    fn deliver_down(&mut self, t: ServerTransmit) {
        let now = self.now;
        let gen = self.gen;
        match t {
            ServerTransmit::PollResponse(r) => {
                let shown = match r.status {
                    200 => format!("GET <- {}", show(&r.body)),
                    status => format!("GET <- {status} {}", show(&r.body)),
                };
                self.wire.push(Wire::Down(shown));
                if self.held_get {
                    self.held_get = false;
                    self.client.handle(
                        now,
                        MInput::Engine {
                            generation: gen,
                            input: EInput::PollResponse(Ok((r.status, r.body))),
                        },
                    );
                }
            }
            ServerTransmit::Ws(frame) | ServerTransmit::WsUncompressed(frame) => {
                self.wire
                    .push(Wire::Down(format!("ws {}", show_frame(&frame))));
                if self.ws_open {
                    self.client.handle(
                        now,
                        MInput::Engine {
                            generation: gen,
                            input: EInput::WsFrame(frame),
                        },
                    );
                }
            }
            ServerTransmit::WsClose => {
                self.wire.push(Wire::Down("ws close".into()));
                if self.ws_open {
                    self.ws_open = false;
                    self.client.handle(
                        now,
                        MInput::Engine {
                            generation: gen,
                            input: EInput::WsClosed { error: false },
                        },
                    );
                }
            }
        }
    }

    fn route(&mut self, req: &Request<'_>) -> Route<()> {
        // The router learns what became of the session, as a runtime tells it.
        if let Some(c) = self.conn.as_ref() {
            if c.is_closed() {
                self.router.remove(self.now, c.sid(), false);
            } else if c.engine().transport() == TransportKind::WebSocket {
                self.router.upgraded(c.sid());
            }
        }
        self.router.route(self.now, req)
    }

    fn new_connection(&mut self, kind: TransportKind) {
        self.handshakes += 1;
        self.held_get = false;
        self.ws_open = false;
        if let Some(old) = self.conn.take() {
            self.router.remove(self.now, old.sid(), false);
        }
        let session = self.router.accept(self.now, kind, ());
        self.wire
            .push(Wire::Up(format!("handshake {}", kind.as_str())));
        self.conn = Some(Connection::new(self.now, session, self.conn_config));
        self.gen = self.client.generation();
    }
}

/// A fixed starting instant for virtual time.
#[allow(clippy::disallowed_methods)]
pub fn start() -> Instant {
    // Tests may read the clock once; the code under test never does.
    Instant::now()
}

/// Bytes as printable text (binary shown as hex).
pub fn show(b: &Bytes) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.replace('\u{1e}', "\\x1e"),
        Err(_) => format!("<{}>", hex(b)),
    }
}

/// A frame as printable text.
pub fn show_frame(f: &Frame) -> String {
    match f {
        Frame::Text(b) => show(b),
        Frame::Binary(b) => format!("<binary {}>", hex(b)),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `Nsp` from a literal.
pub fn nsp(s: &str) -> Nsp {
    Nsp::new(s).expect("valid namespace")
}
