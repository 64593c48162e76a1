//! The server's counters ([`Server::metrics`](super::Server::metrics)): sessions, sockets per
//! namespace, packets and bytes in and out, ack timeouts, queue overflows and refused requests.
//! Relaxed atomics, bumped where the event happens; a snapshot reads them (not atomically as a
//! whole).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The live counters, shared by the server and its connections.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) sessions_opened: AtomicU64,
    pub(crate) sessions_closed: AtomicU64,
    pub(crate) packets_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) packets_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) packets_out_direct: AtomicU64,
    pub(crate) ack_timeouts: AtomicU64,
    pub(crate) queue_full: AtomicU64,
    pub(crate) refused_requests: AtomicU64,
}

impl Metrics {
    /// Adds `n` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, sockets: BTreeMap<String, usize>) -> ServerMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let opened = get(&self.sessions_opened);
        ServerMetrics {
            sessions: opened.saturating_sub(get(&self.sessions_closed)),
            sessions_opened: opened,
            sockets,
            packets_in: get(&self.packets_in),
            bytes_in: get(&self.bytes_in),
            packets_out: get(&self.packets_out),
            bytes_out: get(&self.bytes_out),
            packets_out_direct: get(&self.packets_out_direct),
            ack_timeouts: get(&self.ack_timeouts),
            queue_full: get(&self.queue_full),
            refused_requests: get(&self.refused_requests),
        }
    }
}

/// What a server counted so far ([`Server::metrics`](super::Server::metrics)), for a metrics
/// exporter to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerMetrics {
    /// Engine.IO sessions open now.
    pub sessions: u64,
    /// Engine.IO sessions opened since the server started.
    pub sessions_opened: u64,
    /// Connected sockets, by namespace.
    pub sockets: BTreeMap<String, usize>,
    /// Socket.IO packets received from clients: CONNECT, EVENT and ACK (binary ones
    /// included).
    pub packets_in: u64,
    /// Bytes received from clients: websocket frames and long-polling bodies.
    pub bytes_in: u64,
    /// EVENT and ACK packets sent to clients by the application: emits, broadcasts (once
    /// per recipient) and acks (not the protocol's own CONNECT answers and pings). Counted
    /// when a connection takes them from its queue, or when a broadcast writes them straight
    /// into the websocket (dropped ones are in `queue_full`).
    pub packets_out: u64,
    /// Their encoded bytes.
    pub bytes_out: u64,
    /// Of `packets_out`, the broadcast deliveries written straight into the recipient's
    /// websocket (its connection had nothing else on its way out), without its queue.
    pub packets_out_direct: u64,
    /// Acknowledgements the server waited for in vain.
    pub ack_timeouts: u64,
    /// Packets dropped because a client's send queue was full (a non-volatile one also
    /// closes that session with `send buffer full`); counted when that connection next
    /// handles an input, or closes.
    pub queue_full: u64,
    /// HTTP requests refused (Node's `connection_error`: unknown transport or session,
    /// protocol version, CORS, `allow_request`, over-size or too-slow POSTs).
    pub refused_requests: u64,
}
