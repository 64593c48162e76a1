//! The messages Socket.IO servers exchange to form a cluster, in the wire formats of the
//! npm packages `@socket.io/redis-adapter` 8.x (both of its adapters),
//! `@socket.io/redis-emitter` 5.x and `socket.io-adapter` 2.5's `ClusterAdapter`.
//!
//! This is the protocol core: codecs, channel names, a request tracker, the node machines of
//! both adapters and the bridge to this crate's socket packets. It does no I/O:
//!
//! - [`ClassicNode`] ([`node`]) is one namespace of one server in a classic-adapter cluster,
//!   driven like the other machines of the crate: messages from the bus and the clock in
//!   ([`ClassicNode::handle`]), commands and answers from the local server, publishes
//!   ([`ClassicNode::poll_publish`]), events ([`ClassicNode::poll_event`]) and a deadline
//!   ([`ClassicNode::poll_timeout`]) out. A driver only moves bytes between it and Redis.
//! - [`ShardedNode`] ([`sharded_node`]) is the same for the sharded adapter, with the same
//!   inputs, events and answers, plus the sharded channels to subscribe as rooms come and go.
//! - [`bridge`] turns the packet a broadcast carries (MessagePack, binary as `bin`) into the
//!   Socket.IO packet our sockets send (JSON with placeholders, attachments) and back.
//! - Lower down, [`classic`] and [`sharded`] encode and decode the messages, [`channel`] names
//!   the channels, and a [`RequestTracker`] keeps the requests waiting for answers.
//!
//! # The classic Redis adapter (`createAdapter`) and the emitter
//!
//! Each node has a `uid` (6 characters in Node, `"emitter"` for the emitter). With the key
//! prefix `key` (default `socket.io`) and a namespace `nsp`:
//!
//! - a broadcast is the MessagePack array `[uid, packet, opts]` published on `key#nsp#`, or on
//!   `key#nsp#room#` when it targets exactly one room; `packet` is the Socket.IO packet object
//!   (`{type, data, nsp}`) and `opts` is `{rooms, except, flags}` ([`BroadcastOptions`]);
//! - requests (types 0 to 7, [`classic::Request`]) go to `key-request#nsp#` as JSON, except
//!   `BROADCAST` (a broadcast expecting acknowledgements), which is MessagePack;
//! - responses ([`classic::Response`]) go to `key-response#nsp#`, or to `key-response#nsp#uid#`
//!   of the requester with `publishOnSpecificResponseChannel`; they are JSON, except
//!   `BROADCAST_ACK`, which is MessagePack. A message that starts with `{` is JSON, any other
//!   MessagePack.
//!
//! # The sharded Redis adapter (`createShardedAdapter`) and `ClusterAdapter`
//!
//! Every message is one object `{type, data, uid, nsp}` ([`sharded::ClusterMessage`], types 1
//! to 13), JSON unless its data holds binary, then MessagePack. Messages go to `key#nsp#`
//! (and, in the dynamic subscription modes, a broadcast without acknowledgement to one room
//! goes to `key#nsp#room#`); responses go to `key#nsp#uid#` of the requester.
//!
//! # Untrusted input
//!
//! Every decoder takes bytes from the network: a malformed message is a [`ClusterError`],
//! never a panic, and decoding does work and allocation bounded by the input size (nesting
//! depth limited by [`value::MAX_DEPTH`]). Fields the format does not define are ignored, as
//! Node ignores them. Re-encoding a decoded message gives Node's bytes when Node's key order is
//! the one used here (everything the adapters publish; the emitter writes a broadcast's
//! `flags` before `except`, which decodes the same).

pub mod bridge;
pub mod channel;
pub mod classic;
mod either;
pub mod node;
pub mod sharded;
pub mod sharded_node;
mod tracker;
pub mod value;

pub use either::{AdapterMode, ClusterNode, NodeSubscriptions};
pub use node::{
    AckBroadcastError, ClassicNode, NodeConfig, NodeEvent, NodeInput, Publish, RequestId,
    RequestResult, Subscriptions,
};
pub use rmpv::Value;
pub use sharded_node::{ShardedNode, ShardedSubscriptions};
pub use tracker::{
    Completion, Expected, IssueError, Missing, Outcome, RequestTracker, ResponseOutcome,
};

use crate::rooms::BroadcastFilter;
use value::{map, str_array, Fields};

/// A node id as Node's adapters make them (`uid2(6)`): six letters or digits, from `seed`.
pub fn node_uid(seed: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    seed.iter()
        .cycle()
        .take(6)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The `uid` the Node emitters publish with.
pub const EMITTER_UID: &str = "emitter";

/// A cluster message that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The bytes are not a message of the format; the text says what is wrong.
    #[error("malformed cluster message: {0}")]
    Malformed(&'static str),
    /// A well-formed message of a type this implementation does not know.
    #[error("unknown cluster message type {0}")]
    UnknownType(u64),
}

/// How a message is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `JSON.stringify` text.
    Json,
    /// MessagePack as `notepack.io` writes it.
    MsgPack,
}

/// The Socket.IO packet a broadcast carries, as the Node servers pass it between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The Socket.IO packet type (2 for EVENT; Node keeps 2 with binary arguments too).
    pub kind: u8,
    /// The packet's data: for an event, `[name, ...args]`.
    pub data: Value,
    /// The namespace, when the sender set it (the classic adapter does, `ClusterAdapter` not;
    /// the classic adapter takes an absent one for `/`).
    pub nsp: Option<String>,
    /// The acknowledgement id, when present.
    pub id: Option<u64>,
}

impl Packet {
    /// An EVENT packet with `data` = `[name, ...args]`.
    pub fn event(data: Vec<Value>, nsp: Option<&str>) -> Self {
        Packet {
            kind: 2,
            data: Value::Array(data),
            nsp: nsp.map(str::to_owned),
            id: None,
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        map(vec![
            ("type", Some(Value::from(self.kind))),
            ("data", Some(self.data.clone())),
            ("nsp", self.nsp.as_deref().map(Value::from)),
            ("id", self.id.map(Value::from)),
        ])
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, ClusterError> {
        let mut f = Fields::new(value, "a packet is not an object")?;
        let kind = value::uint(f.req("type", "a packet has no type")?, "bad packet type")?;
        let kind = u8::try_from(kind).map_err(|_| ClusterError::Malformed("bad packet type"))?;
        let data = f.opt("data").unwrap_or(Value::Nil);
        let nsp = f
            .opt("nsp")
            .map(|v| value::string(v, "a packet namespace is not a string"))
            .transpose()?;
        let id = f
            .opt("id")
            .map(|v| value::uint(v, "bad packet id"))
            .transpose()?;
        Ok(Packet {
            kind,
            data,
            nsp,
            id,
        })
    }
}

/// The flags of a broadcast, in the order the sender set them (`volatile`, `compress`,
/// `local`, `timeout`, ...). Kept as written so that re-encoding gives the same bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags(pub Vec<(String, Value)>);

impl Flags {
    /// The value of flag `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Sets flag `name` (replacing an earlier value in place).
    pub fn set(&mut self, name: &str, value: Value) -> &mut Self {
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(entry) => entry.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
        self
    }

    fn flag(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }

    /// `volatile`: drop rather than queue when a client cannot take it now.
    pub fn volatile(&self) -> Option<bool> {
        self.flag("volatile")
    }

    /// `compress`.
    pub fn compress(&self) -> Option<bool> {
        self.flag("compress")
    }

    /// `local`: this node only (never published; present for completeness).
    pub fn local(&self) -> Option<bool> {
        self.flag("local")
    }

    /// `timeout` in milliseconds (a broadcast with acknowledgements, `fetchSockets`).
    pub fn timeout_ms(&self) -> Option<u64> {
        self.get("timeout").and_then(Value::as_u64)
    }

    fn to_value(&self) -> Value {
        Value::Map(
            self.0
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
                .collect(),
        )
    }

    fn from_value(value: Value) -> Result<Self, ClusterError> {
        match value {
            Value::Map(entries) => entries
                .into_iter()
                .map(|(k, v)| Ok((value::string(k, "a flag name is not a string")?, v)))
                .collect::<Result<Vec<_>, _>>()
                .map(Flags),
            _ => Err(ClusterError::Malformed("flags are not an object")),
        }
    }
}

/// Who a broadcast or a remote operation is for: sockets in any of `rooms` (all when empty)
/// and in none of `except`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BroadcastOptions {
    /// Target rooms; empty means every socket of the namespace.
    pub rooms: Vec<String>,
    /// Rooms whose sockets are left out.
    pub except: Vec<String>,
    /// The flags; `None` when the sender wrote none (remote join, leave, fetch and disconnect
    /// requests of the classic adapter).
    pub flags: Option<Flags>,
}

impl BroadcastOptions {
    /// With Node's `volatile` flag when `volatile` (clients not ready may miss it).
    pub fn volatile(mut self, volatile: bool) -> Self {
        if volatile {
            self.flags
                .get_or_insert_with(Flags::default)
                .set("volatile", Value::from(true));
        }
        self
    }

    /// With Node's `timeout` flag (`.timeout(ms)`: how long acks and answers are awaited), when
    /// there is a timeout.
    pub fn timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        if let Some(t) = timeout {
            let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
            self.flags
                .get_or_insert_with(Flags::default)
                .set("timeout", Value::from(ms));
        }
        self
    }

    /// The wire options of a local broadcast filter: its rooms and exceptions, the excepted
    /// socket (the sender of `socket.broadcast`) as an exception of its own room, since every
    /// socket is in the room named after its id on every server.
    pub fn from_filter<K: AsRef<str>>(filter: &BroadcastFilter<K>) -> Self {
        let mut except: Vec<String> = filter.except.iter().map(|r| r.to_string()).collect();
        if let Some(id) = &filter.except_socket {
            except.push(id.as_ref().to_owned());
        }
        BroadcastOptions {
            rooms: filter.rooms.iter().map(|r| r.to_string()).collect(),
            except,
            flags: None,
        }
    }

    /// The local filter of wire options (every socket in `rooms`, none in `except`).
    pub fn to_filter<K>(&self) -> BroadcastFilter<K> {
        let mut f = BroadcastFilter::all();
        for r in &self.rooms {
            f = f.to(r.as_str());
        }
        for r in &self.except {
            f = f.except(r.as_str());
        }
        f
    }

    pub(crate) fn to_value(&self) -> Value {
        map(vec![
            ("rooms", Some(str_array(&self.rooms))),
            ("except", Some(str_array(&self.except))),
            ("flags", self.flags.as_ref().map(Flags::to_value)),
        ])
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, ClusterError> {
        let mut f = Fields::new(value, "options are not an object")?;
        Ok(BroadcastOptions {
            rooms: value::rooms(f.opt("rooms"))?,
            except: value::rooms(f.opt("except"))?,
            flags: f.opt("flags").map(Flags::from_value).transpose()?,
        })
    }
}

/// One socket of a `fetchSockets` answer: its id, handshake (headers, query, address, ...),
/// rooms and application data.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedSocket {
    /// The socket id.
    pub id: String,
    /// The handshake object, as the owning node described it.
    pub handshake: Value,
    /// The rooms the socket is in (its own id included).
    pub rooms: Vec<String>,
    /// The socket's `data`.
    pub data: Value,
}

impl FetchedSocket {
    /// Reads one element of a `sockets` list.
    pub fn from_value(value: Value) -> Result<Self, ClusterError> {
        let mut f = Fields::new(value, "a fetched socket is not an object")?;
        Ok(FetchedSocket {
            id: value::string(
                f.req("id", "a fetched socket has no id")?,
                "a socket id is not a string",
            )?,
            handshake: f.opt("handshake").unwrap_or(Value::Nil),
            rooms: value::rooms(f.opt("rooms"))?,
            data: f.take("data").unwrap_or(Value::Nil),
        })
    }

    /// The value this socket is sent as.
    pub fn to_value(&self) -> Value {
        map(vec![
            ("id", Some(Value::from(self.id.as_str()))),
            ("handshake", Some(self.handshake.clone())),
            ("rooms", Some(str_array(&self.rooms))),
            ("data", Some(self.data.clone())),
        ])
    }
}

/// Encodes a message object the way the adapters do: JSON when `prefer` is JSON and the
/// value has nothing JSON cannot carry, MessagePack otherwise.
pub(crate) fn encode_object(value: &Value, prefer: Encoding) -> (Encoding, Vec<u8>) {
    if prefer == Encoding::Json {
        if let Some(json) = value::to_json(value) {
            return (Encoding::Json, json);
        }
    }
    (Encoding::MsgPack, value::to_msgpack(value))
}
