//! Messages of `socket.io-adapter`'s `ClusterAdapter` (and `ClusterAdapterWithHeartbeat`), as
//! the sharded Redis adapter (`createShardedAdapter`) publishes them: one object
//! `{type, data, uid, nsp}`, JSON unless its data holds binary.

use super::value::{self, map, str_array, Fields};
use super::{
    encode_object, BroadcastOptions, ClusterError, Encoding, FetchedSocket, Packet, Value,
};

/// Message type numbers of `ClusterAdapter`.
pub mod kind {
    /// `INITIAL_HEARTBEAT`: a node started (heartbeat variant only).
    pub const INITIAL_HEARTBEAT: u64 = 1;
    /// `HEARTBEAT`: a node is alive (heartbeat variant only).
    pub const HEARTBEAT: u64 = 2;
    /// `BROADCAST`.
    pub const BROADCAST: u64 = 3;
    /// `SOCKETS_JOIN`.
    pub const SOCKETS_JOIN: u64 = 4;
    /// `SOCKETS_LEAVE`.
    pub const SOCKETS_LEAVE: u64 = 5;
    /// `DISCONNECT_SOCKETS`.
    pub const DISCONNECT_SOCKETS: u64 = 6;
    /// `FETCH_SOCKETS`.
    pub const FETCH_SOCKETS: u64 = 7;
    /// `FETCH_SOCKETS_RESPONSE`.
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    /// `SERVER_SIDE_EMIT`.
    pub const SERVER_SIDE_EMIT: u64 = 9;
    /// `SERVER_SIDE_EMIT_RESPONSE`.
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    /// `BROADCAST_CLIENT_COUNT`.
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    /// `BROADCAST_ACK`.
    pub const BROADCAST_ACK: u64 = 12;
    /// `ADAPTER_CLOSE`: a node leaves (heartbeat variant only).
    pub const ADAPTER_CLOSE: u64 = 13;
}

/// What a message says.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterBody {
    /// 1: a node started; others answer with a heartbeat.
    InitialHeartbeat,
    /// 2: a node is alive.
    Heartbeat,
    /// 3: a broadcast; with `request_id`, the clients' acknowledgements are awaited.
    Broadcast {
        /// The packet.
        packet: Packet,
        /// Present when acknowledgements are awaited.
        request_id: Option<String>,
        /// Who it is for.
        opts: BroadcastOptions,
    },
    /// 4: matching sockets join `rooms`.
    SocketsJoin {
        /// Which sockets.
        opts: BroadcastOptions,
        /// The rooms.
        rooms: Vec<String>,
    },
    /// 5: matching sockets leave `rooms`.
    SocketsLeave {
        /// Which sockets.
        opts: BroadcastOptions,
        /// The rooms.
        rooms: Vec<String>,
    },
    /// 6: matching sockets are disconnected.
    DisconnectSockets {
        /// Which sockets.
        opts: BroadcastOptions,
        /// Close the underlying connection too.
        close: bool,
    },
    /// 7: describe the matching sockets.
    FetchSockets {
        /// Which sockets.
        opts: BroadcastOptions,
        /// The id the answers carry.
        request_id: String,
    },
    /// 8: one node's answer to `FETCH_SOCKETS` (see [`FetchedSocket::from_value`]).
    FetchSocketsResponse {
        /// The request answered.
        request_id: String,
        /// The node's matching sockets.
        sockets: Vec<Value>,
    },
    /// 9: an event for the other servers, `[name, ...args]`.
    ServerSideEmit {
        /// Present when answers are awaited.
        request_id: Option<String>,
        /// The event name and arguments.
        packet: Vec<Value>,
    },
    /// 10: one server's acknowledgement of a server-side emit.
    ServerSideEmitResponse {
        /// The request answered.
        request_id: String,
        /// The acknowledgement's argument.
        packet: Value,
    },
    /// 11: how many clients a node sent an acknowledged broadcast to.
    BroadcastClientCount {
        /// The request answered.
        request_id: String,
        /// The number of clients.
        client_count: u64,
    },
    /// 12: one client's acknowledgement of a broadcast.
    BroadcastAck {
        /// The request answered.
        request_id: String,
        /// The acknowledgement's argument.
        packet: Value,
    },
    /// 13: a node is closing.
    AdapterClose,
}

impl ClusterBody {
    /// The message type number.
    pub fn kind(&self) -> u64 {
        match self {
            ClusterBody::InitialHeartbeat => kind::INITIAL_HEARTBEAT,
            ClusterBody::Heartbeat => kind::HEARTBEAT,
            ClusterBody::Broadcast { .. } => kind::BROADCAST,
            ClusterBody::SocketsJoin { .. } => kind::SOCKETS_JOIN,
            ClusterBody::SocketsLeave { .. } => kind::SOCKETS_LEAVE,
            ClusterBody::DisconnectSockets { .. } => kind::DISCONNECT_SOCKETS,
            ClusterBody::FetchSockets { .. } => kind::FETCH_SOCKETS,
            ClusterBody::FetchSocketsResponse { .. } => kind::FETCH_SOCKETS_RESPONSE,
            ClusterBody::ServerSideEmit { .. } => kind::SERVER_SIDE_EMIT,
            ClusterBody::ServerSideEmitResponse { .. } => kind::SERVER_SIDE_EMIT_RESPONSE,
            ClusterBody::BroadcastClientCount { .. } => kind::BROADCAST_CLIENT_COUNT,
            ClusterBody::BroadcastAck { .. } => kind::BROADCAST_ACK,
            ClusterBody::AdapterClose => kind::ADAPTER_CLOSE,
        }
    }

    /// Whether this is an answer to a request (published on the requester's channel).
    pub fn is_response(&self) -> bool {
        matches!(
            self,
            ClusterBody::FetchSocketsResponse { .. }
                | ClusterBody::ServerSideEmitResponse { .. }
                | ClusterBody::BroadcastClientCount { .. }
                | ClusterBody::BroadcastAck { .. }
        )
    }

    /// The request id the message carries, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ClusterBody::Broadcast { request_id, .. }
            | ClusterBody::ServerSideEmit { request_id, .. } => request_id.as_deref(),
            ClusterBody::FetchSockets { request_id, .. }
            | ClusterBody::FetchSocketsResponse { request_id, .. }
            | ClusterBody::ServerSideEmitResponse { request_id, .. }
            | ClusterBody::BroadcastClientCount { request_id, .. }
            | ClusterBody::BroadcastAck { request_id, .. } => Some(request_id),
            _ => None,
        }
    }

    fn data(&self) -> Option<Value> {
        let id = |s: &str| Some(Value::from(s));
        Some(match self {
            ClusterBody::InitialHeartbeat | ClusterBody::Heartbeat | ClusterBody::AdapterClose => {
                return None
            }
            ClusterBody::Broadcast {
                packet,
                request_id,
                opts,
            } => map(vec![
                ("packet", Some(packet.to_value())),
                ("requestId", request_id.as_deref().and_then(id)),
                ("opts", Some(opts.to_value())),
            ]),
            ClusterBody::SocketsJoin { opts, rooms }
            | ClusterBody::SocketsLeave { opts, rooms } => map(vec![
                ("opts", Some(opts.to_value())),
                ("rooms", Some(str_array(rooms))),
            ]),
            ClusterBody::DisconnectSockets { opts, close } => map(vec![
                ("opts", Some(opts.to_value())),
                ("close", Some(Value::from(*close))),
            ]),
            ClusterBody::FetchSockets { opts, request_id } => map(vec![
                ("opts", Some(opts.to_value())),
                ("requestId", id(request_id)),
            ]),
            ClusterBody::FetchSocketsResponse {
                request_id,
                sockets,
            } => map(vec![
                ("requestId", id(request_id)),
                ("sockets", Some(Value::Array(sockets.clone()))),
            ]),
            ClusterBody::ServerSideEmit { request_id, packet } => map(vec![
                ("requestId", request_id.as_deref().and_then(id)),
                ("packet", Some(Value::Array(packet.clone()))),
            ]),
            ClusterBody::ServerSideEmitResponse { request_id, packet }
            | ClusterBody::BroadcastAck { request_id, packet } => map(vec![
                ("requestId", id(request_id)),
                ("packet", Some(packet.clone())),
            ]),
            ClusterBody::BroadcastClientCount {
                request_id,
                client_count,
            } => map(vec![
                ("requestId", id(request_id)),
                ("clientCount", Some(Value::from(*client_count))),
            ]),
        })
    }
}

/// One message between cluster nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterMessage {
    /// The sending node (16 hex characters in Node; `"emitter"` for an emitter).
    pub uid: String,
    /// The namespace.
    pub nsp: String,
    /// What it says.
    pub body: ClusterBody,
}

impl ClusterMessage {
    /// The message as Node writes it (key order `type, data, uid, nsp`).
    pub fn to_value(&self) -> Value {
        map(vec![
            ("type", Some(Value::from(self.body.kind()))),
            ("data", self.body.data()),
            ("uid", Some(Value::from(self.uid.as_str()))),
            ("nsp", Some(Value::from(self.nsp.as_str()))),
        ])
    }

    /// The bytes to publish: JSON, or MessagePack when the data holds binary.
    pub fn encode(&self) -> (Encoding, Vec<u8>) {
        encode_object(&self.to_value(), Encoding::Json)
    }

    /// Decodes a received message (JSON when it starts with `{`, MessagePack otherwise).
    pub fn decode(bytes: &[u8]) -> Result<Self, ClusterError> {
        let mut f = Fields::new(
            value::decode_any(bytes)?,
            "a cluster message is not an object",
        )?;
        let kind = value::uint(
            f.req("type", "a cluster message has no type")?,
            "bad message type",
        )?;
        let uid = value::string(
            f.req("uid", "a cluster message has no uid")?,
            "a uid is not a string",
        )?;
        let nsp = value::string(
            f.req("nsp", "a cluster message has no nsp")?,
            "a namespace is not a string",
        )?;
        let body = match kind {
            kind::INITIAL_HEARTBEAT => ClusterBody::InitialHeartbeat,
            kind::HEARTBEAT => ClusterBody::Heartbeat,
            kind::ADAPTER_CLOSE => ClusterBody::AdapterClose,
            kind::BROADCAST..=kind::BROADCAST_ACK => {
                let data = f.req("data", "a cluster message has no data")?;
                read_data(kind, Fields::new(data, "message data is not an object")?)?
            }
            other => return Err(ClusterError::UnknownType(other)),
        };
        Ok(ClusterMessage { uid, nsp, body })
    }
}

fn opts(d: &mut Fields) -> Result<BroadcastOptions, ClusterError> {
    BroadcastOptions::from_value(d.req("opts", "message data has no opts")?)
}

fn id(d: &mut Fields) -> Result<String, ClusterError> {
    value::string(
        d.req("requestId", "message data has no requestId")?,
        "a request id is not a string",
    )
}

fn opt_id(d: &mut Fields) -> Result<Option<String>, ClusterError> {
    d.opt("requestId")
        .map(|v| value::string(v, "a request id is not a string"))
        .transpose()
}

fn read_data(kind: u64, mut d: Fields) -> Result<ClusterBody, ClusterError> {
    Ok(match kind {
        kind::BROADCAST => ClusterBody::Broadcast {
            packet: Packet::from_value(d.req("packet", "a broadcast has no packet")?)?,
            request_id: opt_id(&mut d)?,
            opts: opts(&mut d)?,
        },
        kind::SOCKETS_JOIN => ClusterBody::SocketsJoin {
            opts: opts(&mut d)?,
            rooms: value::rooms(d.opt("rooms"))?,
        },
        kind::SOCKETS_LEAVE => ClusterBody::SocketsLeave {
            opts: opts(&mut d)?,
            rooms: value::rooms(d.opt("rooms"))?,
        },
        kind::DISCONNECT_SOCKETS => ClusterBody::DisconnectSockets {
            opts: opts(&mut d)?,
            close: d.opt("close").and_then(|v| v.as_bool()).unwrap_or(false),
        },
        kind::FETCH_SOCKETS => ClusterBody::FetchSockets {
            opts: opts(&mut d)?,
            request_id: id(&mut d)?,
        },
        kind::FETCH_SOCKETS_RESPONSE => ClusterBody::FetchSocketsResponse {
            request_id: id(&mut d)?,
            sockets: value::array(
                d.req("sockets", "a fetch response has no sockets")?,
                "sockets are not an array",
            )?,
        },
        kind::SERVER_SIDE_EMIT => ClusterBody::ServerSideEmit {
            request_id: opt_id(&mut d)?,
            packet: value::array(
                d.req("packet", "a server-side emit has no packet")?,
                "a server-side emit is not an array",
            )?,
        },
        kind::SERVER_SIDE_EMIT_RESPONSE => ClusterBody::ServerSideEmitResponse {
            request_id: id(&mut d)?,
            packet: d.take("packet").unwrap_or(Value::Nil),
        },
        kind::BROADCAST_CLIENT_COUNT => ClusterBody::BroadcastClientCount {
            request_id: id(&mut d)?,
            client_count: value::uint(
                d.req("clientCount", "a client count has no count")?,
                "bad client count",
            )?,
        },
        kind::BROADCAST_ACK => ClusterBody::BroadcastAck {
            request_id: id(&mut d)?,
            packet: d.take("packet").unwrap_or(Value::Nil),
        },
        other => return Err(ClusterError::UnknownType(other)),
    })
}

impl ClusterMessage {
    /// The sockets of a `FETCH_SOCKETS_RESPONSE`.
    pub fn fetched_sockets(&self) -> Result<Vec<FetchedSocket>, ClusterError> {
        match &self.body {
            ClusterBody::FetchSocketsResponse { sockets, .. } => sockets
                .iter()
                .cloned()
                .map(FetchedSocket::from_value)
                .collect(),
            _ => Err(ClusterError::Malformed("not a fetch response")),
        }
    }
}
