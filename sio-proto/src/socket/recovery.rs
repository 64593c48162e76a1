//! Connection state recovery (Node's `connectionStateRecovery`, socket.io 4.6+), the server's
//! part: what one namespace keeps so that a client whose transport died can come back as the
//! same socket, with what it missed.
//!
//! - Every non-volatile event without an ack id that the namespace sends is [`record`]ed: it
//!   gets an offset, appended to its arguments (the client keeps the last one it saw), and is
//!   kept with the rooms it was sent to for [`RecoveryConfig::max_disconnection_duration`].
//! - A socket that ends for a reason a client recovers from ([`recoverable`]: the transport
//!   died, not a deliberate disconnect) is [`persist`]ed: its id, private id (`pid`, only ever
//!   told to its client), rooms and data.
//! - A CONNECT carrying `{pid, offset}` [`take`]s that session back, and once the socket is
//!   accepted, [`missed`] gives every packet recorded after `offset` that the session's rooms
//!   select, in order: the packets the client did not receive, whether they were sent while
//!   it was away or lost with the dead transport.
//!
//! Everything is bounded: packets by count and bytes (oldest dropped first), sessions by count
//! (oldest dropped first), both by age. A client whose offset is older than what is kept, or
//! whose session is gone, gets a fresh socket, as in Node.
//!
//! [`record`]: RecoveryLog::record
//! [`persist`]: RecoveryLog::persist
//! [`take`]: RecoveryLog::take
//! [`missed`]: RecoveryLog::missed

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use super::packet::EncodedPacket;
use super::DisconnectReason;
use crate::rooms::Room;

/// Settings of connection state recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected socket can be recovered, and how long packets are kept (Node's
    /// `maxDisconnectionDuration`, 2 min).
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the namespace's middleware (Node's `skipMiddlewares`,
    /// true).
    pub skip_middlewares: bool,
    /// Bound on disconnected sessions kept per namespace (default 10 000); over it the oldest
    /// is forgotten.
    pub max_sessions: usize,
    /// Bound on packets kept per namespace (default 65 536); over it the oldest is dropped.
    pub max_packets: usize,
    /// Bound on the bytes of the packets kept per namespace (default 32 MiB; text frames and
    /// attachments); over it the oldest are dropped.
    pub max_bytes: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_sessions: 10_000,
            max_packets: 65_536,
            max_bytes: 32 << 20,
        }
    }
}

/// Whether a socket that ended for `reason` may be recovered (Node's list: the transport
/// closed or failed, the heartbeat failed, the connection was closed by force, the server
/// shut down). A deliberate disconnect by either side is final.
pub fn recoverable(reason: DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::TransportError
            | DisconnectReason::TransportClose
            | DisconnectReason::ForcedClose
            | DisconnectReason::PingTimeout
            | DisconnectReason::ServerShuttingDown
            | DisconnectReason::ForcedServerClose
    )
}

/// A disconnected socket as it is kept: `D` is whatever the server keeps of its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session<D> {
    /// The socket id.
    pub sid: String,
    /// The private id its client proves it is with.
    pub pid: String,
    /// Its rooms at the disconnection (its own room included).
    pub rooms: Vec<Room>,
    /// Its data.
    pub data: D,
}

/// A session taken back by [`RecoveryLog::take`]: the socket is being recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored<D> {
    /// The session.
    pub session: Session<D>,
    /// The offset of the last packet the client received.
    pub after: u64,
}

#[derive(Debug)]
struct Logged {
    offset: u64,
    at: Instant,
    rooms: Vec<Room>,
    except: Vec<Room>,
    packet: EncodedPacket,
    bytes: usize,
}

impl Logged {
    /// Node's `shouldIncludePacket`: sent to every socket or to one of the rooms, and none of
    /// the rooms is excluded.
    fn selects(&self, rooms: &[Room]) -> bool {
        let included = self.rooms.is_empty() || self.rooms.iter().any(|r| rooms.contains(r));
        included && !self.except.iter().any(|r| rooms.contains(r))
    }
}

#[derive(Debug)]
struct Kept<D> {
    session: Session<D>,
    at: Instant,
}

/// One namespace's recovery state (see the module docs).
#[derive(Debug)]
pub struct RecoveryLog<D> {
    config: RecoveryConfig,
    packets: VecDeque<Logged>,
    bytes: usize,
    next: u64,
    sessions: BTreeMap<String, Kept<D>>,
    /// Sessions in the order they were kept (entries of sessions taken since are skipped).
    order: VecDeque<(Instant, String)>,
}

impl<D> RecoveryLog<D> {
    /// An empty log.
    pub fn new(config: RecoveryConfig) -> Self {
        Self {
            config,
            packets: VecDeque::new(),
            bytes: 0,
            next: 0,
            sessions: BTreeMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    /// Packets kept.
    pub fn packets(&self) -> usize {
        self.packets.len()
    }

    /// Bytes of the packets kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Sessions kept.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Keeps an event (no ack id) sent to the sockets of `rooms` (every socket when empty)
    /// less the members of `except`, and returns it with its offset appended as its last
    /// argument: what the recipients must be sent. A packet that is not an event comes back
    /// as it is, not kept.
    pub fn record(
        &mut self,
        now: Instant,
        rooms: &[Room],
        except: &[Room],
        packet: &EncodedPacket,
    ) -> EncodedPacket {
        self.expire(now);
        let offset = self.next;
        let Some(packet) = with_offset(packet, &offset_string(offset)) else {
            return packet.clone();
        };
        self.next += 1;
        let bytes = packet.text.len() + packet.attachments.iter().map(Bytes::len).sum::<usize>();
        self.bytes += bytes;
        self.packets.push_back(Logged {
            offset,
            at: now,
            rooms: rooms.to_vec(),
            except: except.to_vec(),
            packet: packet.clone(),
            bytes,
        });
        while self.packets.len() > self.config.max_packets || self.bytes > self.config.max_bytes {
            self.drop_oldest_packet();
        }
        packet
    }

    /// Keeps a socket that ended for a [`recoverable`] reason.
    pub fn persist(&mut self, now: Instant, session: Session<D>) {
        self.expire(now);
        if self.config.max_sessions == 0 {
            return;
        }
        while self.sessions.len() >= self.config.max_sessions {
            if !self.drop_oldest_session() {
                break;
            }
        }
        let pid = session.pid.clone();
        self.order.push_back((now, pid.clone()));
        self.sessions.insert(pid, Kept { session, at: now });
        if self.order.len() > 2 * self.config.max_sessions.max(16) {
            // Entries of sessions taken back: drop them so that the order stays bounded.
            let sessions = &self.sessions;
            self.order
                .retain(|(at, pid)| sessions.get(pid).is_some_and(|k| k.at == *at));
        }
    }

    /// Takes back the session of `pid` for a client that received every packet up to
    /// `offset`: `None` when there is no such session (never kept, expired, forgotten, taken
    /// already) or when packets after `offset` are no longer all kept (the session is
    /// forgotten then too).
    pub fn take(&mut self, now: Instant, pid: &str, offset: &str) -> Option<Restored<D>> {
        self.expire(now);
        let kept = self.sessions.remove(pid)?;
        let after = parse_offset(offset)?;
        self.covers(after).then_some(Restored {
            session: kept.session,
            after,
        })
    }

    /// Every packet kept after offset `after` that a socket in `rooms` was sent, in order;
    /// `None` when some of them are no longer kept.
    pub fn missed(&self, after: u64, rooms: &[Room]) -> Option<Vec<EncodedPacket>> {
        if !self.covers(after) {
            return None;
        }
        let start = self
            .packets
            .front()
            .map_or(0, |f| (after + 1).saturating_sub(f.offset));
        let start = usize::try_from(start).ok()?;
        Some(
            self.packets
                .iter()
                .skip(start)
                .filter(|p| p.selects(rooms))
                .map(|p| p.packet.clone())
                .collect(),
        )
    }

    /// Whether every packet recorded after `after` is kept.
    fn covers(&self, after: u64) -> bool {
        if after >= self.next {
            return false;
        }
        let first = self.packets.front().map_or(self.next, |p| p.offset);
        after + 1 >= first
    }

    /// Drops packets and sessions older than the disconnection window.
    fn expire(&mut self, now: Instant) {
        let window = self.config.max_disconnection_duration;
        while self
            .packets
            .front()
            .is_some_and(|p| now.saturating_duration_since(p.at) > window)
        {
            self.drop_oldest_packet();
        }
        while self
            .order
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > window)
        {
            self.drop_oldest_session();
        }
    }

    fn drop_oldest_packet(&mut self) {
        if let Some(p) = self.packets.pop_front() {
            self.bytes -= p.bytes;
        }
    }

    /// Forgets the oldest session still kept; false when there is none.
    fn drop_oldest_session(&mut self) -> bool {
        while let Some((at, pid)) = self.order.pop_front() {
            if self.sessions.get(&pid).is_some_and(|k| k.at == at) {
                self.sessions.remove(&pid);
                return true;
            }
        }
        false
    }
}

/// An offset as the client sees it: the counter in hexadecimal.
fn offset_string(n: u64) -> String {
    format!("{n:x}")
}

fn parse_offset(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 || s.starts_with('+') {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// `packet` (an EVENT or BINARY_EVENT without ack id) with `offset` as a last string
/// argument; `None` when it is not such a packet.
fn with_offset(packet: &EncodedPacket, offset: &str) -> Option<EncodedPacket> {
    let text = &packet.text[..];
    let body = text.strip_suffix(b"]")?;
    // `4`, then `2` or `5<n>-`, then the namespace and `,` unless it is `/`, then the JSON
    // array: an ack id would come between the header and the `[`.
    let mut at = 2;
    match text.get(1)? {
        b'2' => {}
        b'5' => {
            while text.get(at)?.is_ascii_digit() {
                at += 1;
            }
            if text[at] != b'-' {
                return None;
            }
            at += 1;
        }
        _ => return None,
    }
    if text.get(at) == Some(&b'/') {
        at += text[at..].iter().position(|&b| b == b',')? + 1;
    }
    if text.get(at) != Some(&b'[') {
        return None;
    }
    let mut out = BytesMut::with_capacity(text.len() + offset.len() + 3);
    out.extend_from_slice(body);
    out.put_slice(b",\"");
    out.put_slice(offset.as_bytes());
    out.put_slice(b"\"]");
    Some(EncodedPacket {
        text: out.freeze(),
        attachments: packet.attachments.clone(),
        uncompressed: packet.uncompressed,
    })
}

/// The client's part: splits the offset off the arguments of an event (`data`, its JSON
/// array) when the last one is a string; returns the array without it and the offset.
pub fn split_offset(data: &Bytes) -> Option<(Bytes, String)> {
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_slice(data).ok()?;
    // The event name and at least one argument.
    let last = items.get(1..)?.last()?;
    let offset: String = serde_json::from_str(last.get()).ok()?;
    let start = (last.get().as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
    let before = data.get(..start)?;
    let comma = before.iter().rposition(|&b| b == b',')?;
    let mut out = BytesMut::with_capacity(comma + 1);
    out.extend_from_slice(&before[..comma]);
    out.put_u8(b']');
    Some((out.freeze(), offset))
}
