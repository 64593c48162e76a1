//! Messages of the classic Redis adapter (`createAdapter` of `@socket.io/redis-adapter`) and of
//! `@socket.io/redis-emitter`: broadcasts, requests (types 0 to 7) and their responses.

use super::value::{self, map, str_array, Fields};
use super::{
    encode_object, BroadcastOptions, ClusterError, Encoding, FetchedSocket, Packet, Value,
};

/// Request type numbers of the classic adapter.
pub mod kind {
    /// `SOCKETS`: ids of the sockets in some rooms (answered; no longer sent by 8.x).
    pub const SOCKETS: u64 = 0;
    /// `ALL_ROOMS`: every room of the namespace.
    pub const ALL_ROOMS: u64 = 1;
    /// `REMOTE_JOIN`: make sockets join rooms.
    pub const REMOTE_JOIN: u64 = 2;
    /// `REMOTE_LEAVE`: make sockets leave rooms.
    pub const REMOTE_LEAVE: u64 = 3;
    /// `REMOTE_DISCONNECT`: disconnect sockets.
    pub const REMOTE_DISCONNECT: u64 = 4;
    /// `REMOTE_FETCH`: describe sockets (`fetchSockets`).
    pub const REMOTE_FETCH: u64 = 5;
    /// `SERVER_SIDE_EMIT`: an event for the other servers (and its answers).
    pub const SERVER_SIDE_EMIT: u64 = 6;
    /// `BROADCAST`: a broadcast expecting acknowledgements.
    pub const BROADCAST: u64 = 7;
    /// `BROADCAST_CLIENT_COUNT`: how many clients a node sent such a broadcast to.
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    /// `BROADCAST_ACK`: one client's acknowledgement of such a broadcast.
    pub const BROADCAST_ACK: u64 = 9;
}

/// A broadcast: `[uid, packet, opts]` in MessagePack, on the namespace's broadcast channel
/// (or its room channel when `opts.rooms` has exactly one room).
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The sending node (`"emitter"` for the emitter).
    pub uid: String,
    /// The packet to deliver.
    pub packet: Packet,
    /// Who it is for, and its flags.
    pub opts: BroadcastOptions,
}

impl Broadcast {
    /// The MessagePack bytes Node publishes.
    pub fn encode(&self) -> Vec<u8> {
        value::to_msgpack(&Value::Array(vec![
            Value::from(self.uid.as_str()),
            self.packet.to_value(),
            self.opts.to_value(),
        ]))
    }

    /// Decodes a message received on a broadcast channel.
    pub fn decode(bytes: &[u8]) -> Result<Self, ClusterError> {
        let mut items = value::array(value::decode_msgpack(bytes)?, "a broadcast is not an array")?;
        if items.len() < 3 {
            return Err(ClusterError::Malformed(
                "a broadcast has fewer than 3 elements",
            ));
        }
        items.truncate(3);
        let opts = items.pop().unwrap_or(Value::Nil);
        let packet = items.pop().unwrap_or(Value::Nil);
        let uid = items.pop().unwrap_or(Value::Nil);
        Ok(Broadcast {
            uid: value::string(uid, "a broadcast uid is not a string")?,
            packet: Packet::from_value(packet)?,
            opts: BroadcastOptions::from_value(opts)?,
        })
    }
}

/// Which sockets a remote join, leave or disconnect is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Every socket matching the options (what 8.x and the emitter send; not answered).
    Sockets(BroadcastOptions),
    /// One socket by id (the older form; answered with [`ResponseBody::Done`]).
    Socket(String),
}

impl Target {
    /// The local filter of the sockets targeted (one socket: its own room).
    pub fn to_filter<K>(&self) -> crate::rooms::BroadcastFilter<K> {
        match self {
            Target::Sockets(opts) => opts.to_filter(),
            Target::Socket(id) => crate::rooms::BroadcastFilter::all().to(id.as_str()),
        }
    }
}

/// What a request asks.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// 0: ids of the sockets in `rooms`.
    Sockets {
        /// The rooms (all sockets when empty).
        rooms: Vec<String>,
    },
    /// 1: every room of the namespace.
    AllRooms,
    /// 2: sockets join `rooms`.
    RemoteJoin {
        /// The sockets.
        target: Target,
        /// The rooms to join.
        rooms: Vec<String>,
    },
    /// 3: sockets leave `rooms`.
    RemoteLeave {
        /// The sockets.
        target: Target,
        /// The rooms to leave.
        rooms: Vec<String>,
    },
    /// 4: sockets are disconnected; `close` also closes their connection.
    RemoteDisconnect {
        /// The sockets.
        target: Target,
        /// Close the underlying connection too.
        close: bool,
    },
    /// 5: describe the matching sockets.
    RemoteFetch {
        /// Which sockets.
        opts: BroadcastOptions,
    },
    /// 6: an event for the other servers, `[name, ...args]` (answered when the request has
    /// an id).
    ServerSideEmit {
        /// The event name and arguments.
        data: Vec<Value>,
    },
    /// 7: a broadcast whose clients' acknowledgements are awaited.
    Broadcast {
        /// The packet.
        packet: Packet,
        /// Who it is for.
        opts: BroadcastOptions,
    },
}

impl RequestBody {
    /// The request type number.
    pub fn kind(&self) -> u64 {
        match self {
            RequestBody::Sockets { .. } => kind::SOCKETS,
            RequestBody::AllRooms => kind::ALL_ROOMS,
            RequestBody::RemoteJoin { .. } => kind::REMOTE_JOIN,
            RequestBody::RemoteLeave { .. } => kind::REMOTE_LEAVE,
            RequestBody::RemoteDisconnect { .. } => kind::REMOTE_DISCONNECT,
            RequestBody::RemoteFetch { .. } => kind::REMOTE_FETCH,
            RequestBody::ServerSideEmit { .. } => kind::SERVER_SIDE_EMIT,
            RequestBody::Broadcast { .. } => kind::BROADCAST,
        }
    }
}

/// A request, published on the namespace's request channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The requesting node; the emitter leaves it out of join, leave and disconnect requests.
    pub uid: Option<String>,
    /// The id responses carry back; absent for requests nobody answers.
    pub request_id: Option<String>,
    /// What is asked.
    pub body: RequestBody,
}

fn target_fields(target: &Target) -> [(&'static str, Option<Value>); 2] {
    match target {
        Target::Sockets(opts) => [("opts", Some(opts.to_value())), ("sid", None)],
        Target::Socket(sid) => [("opts", None), ("sid", Some(Value::from(sid.as_str())))],
    }
}

fn read_target(f: &mut Fields) -> Result<Target, ClusterError> {
    if let Some(opts) = f.opt("opts") {
        return Ok(Target::Sockets(BroadcastOptions::from_value(opts)?));
    }
    let sid = f.req("sid", "a remote operation has neither opts nor sid")?;
    Ok(Target::Socket(value::string(
        sid,
        "a socket id is not a string",
    )?))
}

impl Request {
    /// The request as Node writes it (key order `uid, requestId, type, ...`).
    pub fn to_value(&self) -> Value {
        let mut fields = vec![
            ("uid", self.uid.as_deref().map(Value::from)),
            ("requestId", self.request_id.as_deref().map(Value::from)),
            ("type", Some(Value::from(self.body.kind()))),
        ];
        match &self.body {
            RequestBody::Sockets { rooms } => fields.push(("rooms", Some(str_array(rooms)))),
            RequestBody::AllRooms => {}
            RequestBody::RemoteJoin { target, rooms }
            | RequestBody::RemoteLeave { target, rooms } => {
                let [opts, sid] = target_fields(target);
                fields.push(opts);
                fields.push(sid);
                match target {
                    Target::Sockets(_) => fields.push(("rooms", Some(str_array(rooms)))),
                    // The older form names one room.
                    Target::Socket(_) => {
                        fields.push(("room", rooms.first().map(|r| Value::from(r.as_str()))))
                    }
                }
            }
            RequestBody::RemoteDisconnect { target, close } => {
                let [opts, sid] = target_fields(target);
                fields.push(opts);
                fields.push(sid);
                fields.push(("close", Some(Value::from(*close))));
            }
            RequestBody::RemoteFetch { opts } => fields.push(("opts", Some(opts.to_value()))),
            RequestBody::ServerSideEmit { data } => {
                fields.push(("data", Some(Value::Array(data.clone()))))
            }
            RequestBody::Broadcast { packet, opts } => {
                fields.push(("packet", Some(packet.to_value())));
                fields.push(("opts", Some(opts.to_value())));
            }
        }
        map(fields)
    }

    /// The bytes to publish: JSON, except a `BROADCAST` request (MessagePack, as Node) and a
    /// request carrying binary data.
    pub fn encode(&self) -> (Encoding, Vec<u8>) {
        let prefer = match self.body {
            RequestBody::Broadcast { .. } => Encoding::MsgPack,
            _ => Encoding::Json,
        };
        encode_object(&self.to_value(), prefer)
    }

    /// Decodes a message received on a request channel (JSON when it starts with `{`,
    /// MessagePack otherwise).
    pub fn decode(bytes: &[u8]) -> Result<Self, ClusterError> {
        let mut f = Fields::new(value::decode_any(bytes)?, "a request is not an object")?;
        let uid = f
            .opt("uid")
            .map(|v| value::string(v, "a request uid is not a string"))
            .transpose()?;
        let request_id = f.opt("requestId").map(request_id).transpose()?;
        let kind = value::uint(f.req("type", "a request has no type")?, "bad request type")?;
        let body = match kind {
            kind::SOCKETS => RequestBody::Sockets {
                rooms: value::rooms(f.opt("rooms"))?,
            },
            kind::ALL_ROOMS => RequestBody::AllRooms,
            kind::REMOTE_JOIN | kind::REMOTE_LEAVE => {
                let target = read_target(&mut f)?;
                let rooms = match target {
                    Target::Sockets(_) => value::rooms(f.opt("rooms"))?,
                    Target::Socket(_) => {
                        vec![value::room(f.req("room", "a remote join has no room")?)?]
                    }
                };
                if kind == kind::REMOTE_JOIN {
                    RequestBody::RemoteJoin { target, rooms }
                } else {
                    RequestBody::RemoteLeave { target, rooms }
                }
            }
            kind::REMOTE_DISCONNECT => {
                let target = read_target(&mut f)?;
                // Node passes `close` on as it is; anything but `true` leaves the connection.
                let close = f.opt("close").and_then(|v| v.as_bool()).unwrap_or(false);
                RequestBody::RemoteDisconnect { target, close }
            }
            kind::REMOTE_FETCH => RequestBody::RemoteFetch {
                opts: BroadcastOptions::from_value(f.req("opts", "a fetch request has no opts")?)?,
            },
            kind::SERVER_SIDE_EMIT => RequestBody::ServerSideEmit {
                data: value::array(
                    f.req("data", "a server-side emit has no data")?,
                    "server-side emit data is not an array",
                )?,
            },
            kind::BROADCAST => RequestBody::Broadcast {
                packet: Packet::from_value(f.req("packet", "a broadcast request has no packet")?)?,
                opts: BroadcastOptions::from_value(
                    f.req("opts", "a broadcast request has no opts")?,
                )?,
            },
            other => return Err(ClusterError::UnknownType(other)),
        };
        Ok(Request {
            uid,
            request_id,
            body,
        })
    }
}

/// Request ids are strings (`uid2(6)` in Node); a number is taken as its decimal text.
fn request_id(value: Value) -> Result<String, ClusterError> {
    match value {
        Value::Integer(i) => Ok(i.to_string()),
        other => value::string(other, "a request id is not a string"),
    }
}

/// What a response carries. Responses to types 0 to 5 have no type of their own: the
/// requester knows what it asked; their shape is decoded here.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseBody {
    /// `{requestId, sockets}`: socket ids (answer to `SOCKETS`) or socket descriptions
    /// (answer to `REMOTE_FETCH`, see [`FetchedSocket::from_value`]).
    Sockets(Vec<Value>),
    /// `{requestId, rooms}`: answer to `ALL_ROOMS`.
    Rooms(Vec<String>),
    /// `{requestId}`: a one-socket join, leave or disconnect was done.
    Done,
    /// `{type: 6, requestId, data}`: one server's acknowledgement of a server-side emit.
    ServerSideEmit(Value),
    /// `{type: 8, requestId, clientCount}`.
    BroadcastClientCount(u64),
    /// `{type: 9, requestId, packet}`: one client's acknowledgement (MessagePack).
    BroadcastAck(Value),
}

/// A response, on the common or the requester's own response channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The request it answers.
    pub request_id: String,
    /// The answer.
    pub body: ResponseBody,
}

impl Response {
    /// The response as Node writes it.
    pub fn to_value(&self) -> Value {
        let id = Some(Value::from(self.request_id.as_str()));
        match &self.body {
            ResponseBody::Sockets(sockets) => map(vec![
                ("requestId", id),
                ("sockets", Some(Value::Array(sockets.clone()))),
            ]),
            ResponseBody::Rooms(rooms) => {
                map(vec![("requestId", id), ("rooms", Some(str_array(rooms)))])
            }
            ResponseBody::Done => map(vec![("requestId", id)]),
            ResponseBody::ServerSideEmit(data) => map(vec![
                ("type", Some(Value::from(kind::SERVER_SIDE_EMIT))),
                ("requestId", id),
                ("data", Some(data.clone())),
            ]),
            ResponseBody::BroadcastClientCount(n) => map(vec![
                ("type", Some(Value::from(kind::BROADCAST_CLIENT_COUNT))),
                ("requestId", id),
                ("clientCount", Some(Value::from(*n))),
            ]),
            ResponseBody::BroadcastAck(packet) => map(vec![
                ("type", Some(Value::from(kind::BROADCAST_ACK))),
                ("requestId", id),
                ("packet", Some(packet.clone())),
            ]),
        }
    }

    /// The bytes to publish: JSON, except `BROADCAST_ACK` (MessagePack, as Node) and a
    /// response carrying binary data.
    pub fn encode(&self) -> (Encoding, Vec<u8>) {
        let prefer = match self.body {
            ResponseBody::BroadcastAck(_) => Encoding::MsgPack,
            _ => Encoding::Json,
        };
        encode_object(&self.to_value(), prefer)
    }

    /// Decodes a message received on a response channel.
    pub fn decode(bytes: &[u8]) -> Result<Self, ClusterError> {
        let mut f = Fields::new(value::decode_any(bytes)?, "a response is not an object")?;
        let request_id = request_id(f.req("requestId", "a response has no requestId")?)?;
        let body = match f
            .opt("type")
            .map(|t| value::uint(t, "bad response type"))
            .transpose()?
        {
            Some(kind::SERVER_SIDE_EMIT) => {
                ResponseBody::ServerSideEmit(f.take("data").unwrap_or(Value::Nil))
            }
            Some(kind::BROADCAST_CLIENT_COUNT) => ResponseBody::BroadcastClientCount(value::uint(
                f.req("clientCount", "a client count response has no count")?,
                "bad client count",
            )?),
            Some(kind::BROADCAST_ACK) => {
                ResponseBody::BroadcastAck(f.take("packet").unwrap_or(Value::Nil))
            }
            Some(other) => return Err(ClusterError::UnknownType(other)),
            None => {
                if let Some(sockets) = f.opt("sockets") {
                    ResponseBody::Sockets(value::array(sockets, "sockets are not an array")?)
                } else if let Some(rooms) = f.opt("rooms") {
                    ResponseBody::Rooms(value::rooms(Some(rooms))?)
                } else {
                    ResponseBody::Done
                }
            }
        };
        Ok(Response { request_id, body })
    }

    /// The socket ids of a `SOCKETS` answer.
    pub fn socket_ids(&self) -> Result<Vec<String>, ClusterError> {
        match &self.body {
            ResponseBody::Sockets(items) => items
                .iter()
                .map(|v| value::string(v.clone(), "a socket id is not a string"))
                .collect(),
            _ => Err(ClusterError::Malformed("not a sockets response")),
        }
    }

    /// The sockets of a `REMOTE_FETCH` answer.
    pub fn fetched_sockets(&self) -> Result<Vec<FetchedSocket>, ClusterError> {
        match &self.body {
            ResponseBody::Sockets(items) => items
                .iter()
                .cloned()
                .map(FetchedSocket::from_value)
                .collect(),
            _ => Err(ClusterError::Malformed("not a sockets response")),
        }
    }
}
