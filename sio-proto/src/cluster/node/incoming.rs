//! What [`ClassicNode`] does with a message from the bus: broadcasts for the local sockets,
//! requests for the local server, responses to its own requests.

use std::time::{Duration, Instant};

use super::super::bridge;
use super::super::classic::{Broadcast, Request, RequestBody, Response, ResponseBody, Target};
use super::super::{FetchedSocket, Packet};
use super::pending::{Kind, Reply};
use super::{ClassicNode, NodeEvent, RequestId};

impl ClassicNode {
    pub(super) fn on_message(&mut self, now: Instant, channel: &str, payload: &[u8]) {
        if channel == self.request_channel {
            self.on_request(now, payload);
        } else if channel == self.response_channel || channel == self.specific_response_channel {
            self.on_response(payload);
        } else if channel.starts_with(self.channel.as_str()) {
            // `key#nsp#` or `key#nsp#room#`: Node ignores a room it does not know; here the
            // local room index selects no one for it.
            self.on_broadcast(payload);
        }
        // Any other channel is not this node's: ignored.
    }

    fn on_broadcast(&mut self, payload: &[u8]) {
        let Ok(msg) = Broadcast::decode(payload) else {
            self.p.malformed += 1;
            return;
        };
        if msg.uid == self.config.uid {
            return;
        }
        if msg.packet.nsp.as_deref().unwrap_or("/") != self.config.nsp.as_str() {
            return;
        }
        match bridge::to_encoded(&msg.packet, &self.config.nsp) {
            Ok(packet) => self.p.events.push_back(NodeEvent::Broadcast {
                packet,
                opts: msg.opts,
            }),
            Err(_) => self.p.malformed += 1,
        }
    }

    fn on_request(&mut self, now: Instant, payload: &[u8]) {
        let Ok(request) = Request::decode(payload) else {
            self.p.malformed += 1;
            return;
        };
        if request.uid.as_deref() == Some(self.config.uid.as_str()) {
            return;
        }
        if let Some(id) = &request.request_id {
            if self.p.is_ours(id) {
                return;
            }
        }
        let Request {
            uid,
            request_id,
            body,
        } = request;
        let timeout = self.config.requests_timeout;
        match body {
            RequestBody::Sockets { rooms } => {
                if let Some(request_id) =
                    self.p
                        .remember(now, request_id, uid, Kind::Sockets, timeout)
                {
                    self.p
                        .events
                        .push_back(NodeEvent::SocketsRequested { request_id, rooms });
                }
            }
            RequestBody::AllRooms => {
                if let Some(request_id) =
                    self.p
                        .remember(now, request_id, uid, Kind::AllRooms, timeout)
                {
                    self.p
                        .events
                        .push_back(NodeEvent::AllRoomsRequested { request_id });
                }
            }
            RequestBody::RemoteFetch { opts } => {
                if let Some(request_id) =
                    self.p.remember(now, request_id, uid, Kind::Fetch, timeout)
                {
                    self.p
                        .events
                        .push_back(NodeEvent::FetchRequested { request_id, opts });
                }
            }
            RequestBody::RemoteJoin { target, rooms } => {
                let request_id = self.one_socket(now, &target, request_id, uid);
                self.p.events.push_back(NodeEvent::JoinRequested {
                    target,
                    rooms,
                    request_id,
                });
            }
            RequestBody::RemoteLeave { target, rooms } => {
                let request_id = self.one_socket(now, &target, request_id, uid);
                self.p.events.push_back(NodeEvent::LeaveRequested {
                    target,
                    rooms,
                    request_id,
                });
            }
            RequestBody::RemoteDisconnect { target, close } => {
                let request_id = self.one_socket(now, &target, request_id, uid);
                self.p.events.push_back(NodeEvent::DisconnectRequested {
                    target,
                    close,
                    request_id,
                });
            }
            RequestBody::ServerSideEmit { data } => {
                let request_id = match request_id {
                    Some(id) => {
                        let Some(id) =
                            self.p
                                .remember(now, Some(id), uid, Kind::ServerSideEmit, timeout)
                        else {
                            return;
                        };
                        Some(id)
                    }
                    None => None,
                };
                self.p
                    .events
                    .push_back(NodeEvent::ServerSideEmit { data, request_id });
            }
            RequestBody::Broadcast { packet, opts } => {
                let Ok(packet) =
                    bridge::to_encoded(&Packet { id: None, ..packet }, &self.config.nsp)
                else {
                    self.p.malformed += 1;
                    return;
                };
                let timeout = opts
                    .flags
                    .as_ref()
                    .and_then(|f| f.timeout_ms())
                    .map_or(timeout, Duration::from_millis);
                if let Some(request_id) =
                    self.p
                        .remember(now, request_id, uid, Kind::BroadcastAck, timeout)
                {
                    self.p
                        .events
                        .push_back(NodeEvent::BroadcastWithAckRequested {
                            request_id,
                            packet,
                            opts,
                        });
                }
            }
        }
    }

    /// Remembers the one-socket form of a join, leave or disconnect that has a request id.
    fn one_socket(
        &mut self,
        now: Instant,
        target: &Target,
        request_id: Option<RequestId>,
        uid: Option<String>,
    ) -> Option<RequestId> {
        match target {
            Target::Socket(_) => {
                let timeout = self.config.requests_timeout;
                self.p.remember(now, request_id, uid, Kind::Done, timeout)
            }
            Target::Sockets(_) => None,
        }
    }

    fn on_response(&mut self, payload: &[u8]) {
        let Ok(response) = Response::decode(payload) else {
            self.p.malformed += 1;
            return;
        };
        let reply = match response.body {
            ResponseBody::Sockets(items) => {
                Reply::Sockets(items.into_iter().map(FetchedSocket::from_value).collect())
            }
            ResponseBody::Rooms(rooms) => Reply::Rooms(rooms),
            ResponseBody::ServerSideEmit(v) => Reply::Value(v),
            ResponseBody::BroadcastClientCount(n) => Reply::ClientCount(n),
            ResponseBody::BroadcastAck(v) => Reply::Ack(v),
            ResponseBody::Done => Reply::Other,
        };
        self.p.on_reply(&response.request_id, reply);
    }
}
