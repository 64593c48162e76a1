//! The configuration of the Engine.IO server.

use std::time::Duration;

use crate::engine::TransportKind;

/// Which transports the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling.
    pub polling: bool,
    /// WebSocket.
    pub websocket: bool,
}

impl Transports {
    /// Whether `t` is enabled.
    pub fn allows(&self, t: TransportKind) -> bool {
        match t {
            TransportKind::Polling => self.polling,
            TransportKind::WebSocket => self.websocket,
        }
    }
}

impl Default for Transports {
    fn default() -> Self {
        Self {
            polling: true,
            websocket: true,
        }
    }
}

/// Engine.IO server configuration. Defaults are Node's where Node has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Time between two pings (Node `pingInterval`, 25 s).
    pub ping_interval: Duration,
    /// Time to wait for a pong before closing with `ping timeout` (Node `pingTimeout`, 20 s).
    pub ping_timeout: Duration,
    /// Time a websocket probe has to complete the upgrade (Node `upgradeTimeout`, 10 s).
    pub upgrade_timeout: Duration,
    /// Largest accepted POST body or websocket message in bytes (Node `maxHttpBufferSize`,
    /// 1e6); also announced as `maxPayload` in the handshake.
    pub max_http_buffer_size: usize,
    /// Accepted transports (Node `transports`, both).
    pub transports: Transports,
    /// Whether polling sessions may upgrade to websocket (Node `allowUpgrades`, true).
    pub allow_upgrades: bool,
    /// Bound on outbound frames waiting for a transport (default 4096). A send that would go
    /// over it is refused with [`UsageError::QueueFull`](crate::UsageError::QueueFull) and
    /// closes the session with
    /// [`CloseReason::SendBufferFull`](crate::engine::CloseReason::SendBufferFull): a client
    /// that does not read what is sent to it is disconnected, not buffered for without bound.
    pub max_queue: usize,
    /// Bound on the bytes of the outbound frames waiting for a transport (default 8 MiB; the
    /// same rule as `max_queue`). Queued frames usually share their bytes with other sessions
    /// (a broadcast is encoded once), but a client that stopped reading keeps every one of
    /// them alive: this bounds what one such client can pin.
    pub max_queue_bytes: usize,
    /// Bound on packets in one POST body (default 10 000): a 1 MB body of tiny packets
    /// cannot make one request do unbounded work.
    pub max_packets_per_payload: usize,
    /// How long a closing polling session waits for a `GET` to deliver the `close` packet
    /// (Node's polling `closeTimeout`, 30 s).
    pub close_timeout: Duration,
    /// How long a long-poll `GET` that arrives while an upgrade is pending (`3probe` sent,
    /// `upgrade` not yet received) is held before it is released with `noop` (default 100 ms,
    /// the interval of Node's "fast upgrade" check). If `upgrade` comes first, the `GET` gets
    /// 400 instead: the session no longer polls. A client may need that answer to finish
    /// pausing its polling before it sends `upgrade`, so the hold must stay short. Zero answers
    /// such a `GET` with `noop` at once (no hold).
    pub upgrade_noop_delay: Duration,
    /// How long the id of a session closed by the client's `close` packet over long-polling
    /// stays in [`ClosedSessions`](super::ClosedSessions) (default 5 s): a long-poll `GET` still in flight then gets
    /// `noop` instead of 400.
    pub closed_linger: Duration,
    /// Bound on the ids kept in [`ClosedSessions`](super::ClosedSessions) (default 4096, about 0.4 MB at most); over
    /// it the oldest one is forgotten first.
    pub max_closed_lingering: usize,
    /// Whether Engine.IO v3 clients (Socket.IO v2) are accepted (Node `allowEIO3`, off). When
    /// off, a handshake whose `EIO` is not `4` is refused with `Unsupported protocol version`.
    pub allow_eio3: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_http_buffer_size: 1_000_000,
            transports: Transports::default(),
            allow_upgrades: true,
            max_queue: 4096,
            max_queue_bytes: 8 << 20,
            max_packets_per_payload: 10_000,
            close_timeout: Duration::from_millis(30_000),
            upgrade_noop_delay: Duration::from_millis(100),
            closed_linger: Duration::from_secs(5),
            max_closed_lingering: 4096,
            allow_eio3: false,
        }
    }
}
