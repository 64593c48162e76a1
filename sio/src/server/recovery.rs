//! Connection state recovery (Node's `connectionStateRecovery`): one namespace's
//! [`RecoveryLog`] behind a lock, and what the namespace, its sockets and the connection task
//! do with it. The rules (offsets, what is kept, what a session gets back) are in
//! `sio_proto::socket::recovery`.
//!
//! Offsets must reach every socket in the order they were given: a packet is recorded and
//! queued to its recipients under the log's lock, and a recovered socket joins its rooms and
//! gets its missed packets under the same lock, so that nothing recorded meanwhile is lost or
//! sent twice.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use sio_proto::rooms::{BroadcastFilter, Room};
use sio_proto::socket::recovery::{recoverable, RecoveryConfig, RecoveryLog, Session};
use sio_proto::socket::{DisconnectReason, EncodedPacket};

use super::handshake::SocketId;
use super::namespace::{Namespace, Socket};
use crate::runtime::Runtime;
use crate::sync::lock;

/// A namespace's recovery state.
pub(crate) struct Recovery {
    log: Mutex<RecoveryLog<http::Extensions>>,
    rt: Arc<dyn Runtime>,
}

/// A CONNECT that is taking back a session: what the socket gets once it is accepted.
pub(crate) struct Recovering {
    pid: String,
    rooms: Vec<Room>,
    after: u64,
}

impl Recovery {
    pub(crate) fn new(config: RecoveryConfig, rt: Arc<dyn Runtime>) -> Self {
        Self {
            log: Mutex::new(RecoveryLog::new(config)),
            rt,
        }
    }

    pub(crate) fn config(&self) -> RecoveryConfig {
        *lock(&self.log).config()
    }

    fn now(&self) -> Instant {
        self.rt.now()
    }

    /// Records `packet` (an event without ack id) as sent to what `filter` selects and queues
    /// it, its offset appended, to the recipients connected now.
    pub(crate) fn emit(
        &self,
        ns: &Namespace,
        packet: &EncodedPacket,
        filter: &BroadcastFilter<SocketId>,
    ) {
        let mut except = filter.except.clone();
        if let Some(s) = &filter.except_socket {
            except.push(Room::from(&**s));
        }
        let now = self.now();
        let mut log = lock(&self.log);
        let p = ns.wire(&log.record(now, &filter.rooms, &except, packet));
        for s in ns.recipients(filter) {
            let _ = s.send_encoded(p.clone());
        }
    }

    /// Takes back the session a CONNECT's auth names (`{"pid", "offset"}`, both strings):
    /// the socket's id and data, and what it gets at [`Recovering::missed`].
    pub(crate) fn take(
        &self,
        auth: &serde_json::Value,
    ) -> Option<(SocketId, http::Extensions, Recovering)> {
        let pid = auth.get("pid")?.as_str()?;
        let offset = auth.get("offset")?.as_str()?;
        let now = self.now();
        let r = lock(&self.log).take(now, pid, offset)?;
        let s = r.session;
        Some((
            SocketId::from(s.sid.as_str()),
            s.data,
            Recovering {
                pid: s.pid,
                rooms: s.rooms,
                after: r.after,
            },
        ))
    }

    /// Holds the log while a socket is accepted: nothing is recorded meanwhile.
    pub(crate) fn hold(&self) -> MutexGuard<'_, RecoveryLog<http::Extensions>> {
        lock(&self.log)
    }

    /// Keeps a socket that ended for `reason` if its client may recover it: called after its
    /// `disconnecting` listeners and before it leaves its rooms.
    pub(crate) fn persist(&self, socket: &Socket, reason: DisconnectReason) {
        if !recoverable(reason) {
            return;
        }
        let Some(pid) = socket.pid() else { return };
        let session = Session {
            sid: socket.id().to_owned(),
            pid,
            rooms: socket.rooms(),
            data: socket.data_snapshot(),
        };
        let now = self.now();
        lock(&self.log).persist(now, session);
    }
}

impl Recovering {
    /// The packets the socket missed (with the log held), or `None` when some are no longer
    /// kept: the socket is then a new one.
    pub(crate) fn missed(&self, log: &RecoveryLog<http::Extensions>) -> Option<Vec<EncodedPacket>> {
        log.missed(self.after, &self.rooms)
    }

    pub(crate) fn pid(&self) -> &str {
        &self.pid
    }

    pub(crate) fn rooms(&self) -> &[Room] {
        &self.rooms
    }
}
