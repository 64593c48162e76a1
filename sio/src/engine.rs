//! A plain Engine.IO server, like Node's `engine.io` package: sessions exchanging text and
//! binary messages over long-polling and websocket, with heartbeat and upgrade, and no
//! Socket.IO layer (no namespaces, events or acks). It shares everything below that layer
//! with [`Server`]: the HTTP handling, the connection task and the `sio_proto` session.

use std::future::Future;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use sio_proto::engine::{CloseReason, Message};

use crate::runtime::{BoxFuture, Runtime};
use crate::server::inbox::{ConnHandle, Input};
use crate::server::machine::{EngineHandler, EngineSession};
use crate::server::socket::{read, write};
use crate::server::{EmitError, Handshake, Server, ServerConfig};

type ConnectionHandler = Arc<dyn Fn(EngineSocket) -> BoxFuture<()> + Send + Sync>;
type MessageHandler = Arc<dyn Fn(&EngineSocket, Message) + Send + Sync>;
type CloseHandler = Arc<dyn Fn(EngineSocket, CloseReason) -> BoxFuture<()> + Send + Sync>;

/// The connection handlers of a plain Engine.IO server.
#[derive(Default)]
pub(crate) struct EngineApp {
    on_connection: RwLock<Vec<ConnectionHandler>>,
}

impl EngineHandler for EngineApp {
    fn open(
        &self,
        sid: String,
        conn: ConnHandle,
        handshake: Handshake,
    ) -> (Box<dyn EngineSession>, Vec<BoxFuture<()>>) {
        let s = EngineSocket::new(sid, conn, handshake);
        let fs = read(&self.on_connection)
            .iter()
            .map(|h| h(s.clone()))
            .collect();
        (Box::new(s), fs)
    }
}

/// A plain Engine.IO server. Serve it like a [`Server`] (for example with
/// `sio_tokio::serve(listener, eio.server().clone())`).
#[derive(Clone)]
pub struct EngineIo {
    server: Server,
    app: Arc<EngineApp>,
}

impl std::fmt::Debug for EngineIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineIo").finish_non_exhaustive()
    }
}

impl EngineIo {
    /// A server on `rt`. Its default path is `/engine.io` (set `config.path` to change it).
    pub fn new(rt: Arc<dyn Runtime>, mut config: ServerConfig) -> Self {
        if config.path == ServerConfig::default().path {
            config.path = "/engine.io".into();
        }
        let app = Arc::new(EngineApp::default());
        Self {
            server: Server::build(rt, config, Some(app.clone())),
            app,
        }
    }

    /// The underlying server, to serve or to mount.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Registers a connection handler, called once per new session.
    pub fn on_connection<F, Fut>(&self, f: F)
    where
        F: Fn(EngineSocket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        write(&self.app.on_connection).push(Arc::new(move |s| Box::pin(f(s))));
    }
}

struct Inner {
    id: String,
    handle: ConnHandle,
    handshake: Handshake,
    on_message: RwLock<Vec<MessageHandler>>,
    on_close: RwLock<Vec<CloseHandler>>,
}

/// One Engine.IO session. Cloning is cheap.
#[derive(Clone)]
pub struct EngineSocket {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EngineSocket").field(&self.inner.id).finish()
    }
}

impl EngineSocket {
    pub(crate) fn new(id: String, handle: ConnHandle, handshake: Handshake) -> Self {
        Self {
            inner: Arc::new(Inner {
                id,
                handle,
                handshake,
                on_message: RwLock::default(),
                on_close: RwLock::default(),
            }),
        }
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The handshake request's details.
    pub fn handshake(&self) -> &Handshake {
        &self.inner.handshake
    }

    /// The transport in use.
    pub fn transport(&self) -> &'static str {
        self.inner.handle.transport().as_str()
    }

    /// Sends a text message.
    pub fn send_text(&self, text: &str) -> Result<(), EmitError> {
        self.send(Message::Text(Bytes::copy_from_slice(text.as_bytes())))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: Bytes) -> Result<(), EmitError> {
        self.send(Message::Binary(data))
    }

    /// Sends a message as it came (echo servers).
    pub fn send(&self, m: Message) -> Result<(), EmitError> {
        self.inner.handle.push(Input::Frame(m.to_frame()))
    }

    /// Registers a message handler (called in arrival order, on the session's task).
    pub fn on_message(&self, f: impl Fn(&EngineSocket, Message) + Send + Sync + 'static) {
        write(&self.inner.on_message).push(Arc::new(f));
    }

    /// Registers a close handler.
    pub fn on_close<F, Fut>(&self, f: F)
    where
        F: Fn(EngineSocket, CloseReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        write(&self.inner.on_close).push(Arc::new(move |s, r| Box::pin(f(s, r))));
    }

    /// Closes the session (`forced close`).
    pub fn close(&self) {
        let _ = self
            .inner
            .handle
            .push(Input::Close(CloseReason::ForcedClose));
    }
}

impl EngineSession for EngineSocket {
    fn deliver(&self, m: Message) {
        let handlers = read(&self.inner.on_message).clone();
        for h in handlers {
            h(self, m.clone());
        }
    }

    fn closed(&self, reason: CloseReason) -> Vec<BoxFuture<()>> {
        read(&self.inner.on_close)
            .iter()
            .map(|h| h(self.clone(), reason))
            .collect()
    }
}
