//! What a connection task drives: a Socket.IO connection, or a bare Engine.IO session for a
//! plain Engine.IO server, behind one interface; and that server's interface to the task.

use std::time::Instant;

use sio_proto::engine::server::{Event as EngineEvent, Input, Reply, ServerSession, Transmit};
use sio_proto::engine::{CloseReason, Frame};
use sio_proto::socket::server::{Connection, Event};
use sio_proto::socket::EncodedPacket;

use super::handshake::Handshake;
use super::inbox::ConnHandle;
use super::ServerInner;
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
            Machine::Socket(Connection::new(
                now,
                session,
                server.connection_config.clone(),
            ))
        }
    }
    pub(crate) fn sid(&self) -> &str {
        both!(self, m => m.sid())
    }
    pub(crate) fn is_closed(&self) -> bool {
        both!(self, m => m.is_closed())
    }
    pub(crate) fn lingers(&self) -> bool {
        match self {
            Machine::Socket(c) => c.engine().lingers(),
            Machine::Engine(s) => s.lingers(),
        }
    }
    /// Feeds one input from the transport or the clock.
    pub(crate) fn handle(&mut self, now: Instant, input: Input) -> Reply {
        both!(self, m => m.handle(now, input))
    }
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        both!(self, m => m.poll_timeout())
    }
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        both!(self, m => m.poll_transmit())
    }
    pub(crate) fn poll_event(&mut self) -> Option<MachineEvent> {
        match self {
            Machine::Socket(c) => c.poll_event().map(MachineEvent::Socket),
            Machine::Engine(s) => s.poll_event().map(MachineEvent::Engine),
        }
    }
    pub(crate) fn close(&mut self, now: Instant, reason: CloseReason) {
        both!(self, m => m.close(now, reason))
    }
    pub(crate) fn send_encoded(&mut self, p: &EncodedPacket) {
        let _ = match self {
            Machine::Socket(c) => c.send_encoded(p),
            Machine::Engine(s) => s.send_frames(p.frames(), p.frame_count()),
        };
    }
    pub(crate) fn send_frame(&mut self, f: Frame) {
        if let Machine::Engine(s) = self {
            let _ = s.send_frame(f);
        }
    }
    pub(crate) fn send_volatile(&mut self, p: &EncodedPacket) {
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
    pub(crate) fn socket(&mut self) -> Option<&mut Connection> {
        match self {
            Machine::Socket(c) => Some(c),
            Machine::Engine(_) => None,
        }
    }
}

/// A plain Engine.IO application ([`crate::engine`] implements it): what a connection task
/// without the Socket.IO layer hands its session's events to. (An interface here, so that the
/// connection task does not depend on the module built on top of it.)
pub(crate) trait EngineHandler: Send + Sync {
    /// A new session: its event sink and the futures of the connection handlers.
    fn open(
        &self,
        sid: String,
        conn: ConnHandle,
        handshake: Handshake,
    ) -> (Box<dyn EngineSession>, Vec<BoxFuture<()>>);
}

/// The events of one plain Engine.IO session, for the application.
pub(crate) trait EngineSession: Send {
    /// A message from the client.
    fn deliver(&self, m: sio_proto::engine::Message);
    /// The session closed; returns the futures of the close handlers.
    fn closed(&self, reason: CloseReason) -> Vec<BoxFuture<()>>;
}
