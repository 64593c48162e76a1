//! What [`ClassicNode`] does with a message from the bus: broadcasts for the local sockets,
//! requests for the local server, responses to its own requests.

use std::time::{Duration, Instant};

use super::super::bridge;
use super::super::classic::{Broadcast, Request, RequestBody, Response, ResponseBody, Target};
use super::super::tracker::ResponseOutcome;
use super::super::{ClusterError, Packet};
use super::{Answer, Asked, Asks, ClassicNode, Kind, NodeEvent, RequestId};

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
            self.malformed += 1;
            return;
        };
        if msg.uid == self.config.uid {
            return;
        }
        if msg.packet.nsp.as_deref().unwrap_or("/") != self.config.nsp.as_str() {
            return;
        }
        match bridge::to_encoded(&msg.packet, &self.config.nsp) {
            Ok(packet) => self.events.push_back(NodeEvent::Broadcast {
                packet,
                opts: msg.opts,
            }),
            Err(_) => self.malformed += 1,
        }
    }

    fn on_request(&mut self, now: Instant, payload: &[u8]) {
        let Ok(request) = Request::decode(payload) else {
            self.malformed += 1;
            return;
        };
        if request.uid.as_deref() == Some(self.config.uid.as_str()) {
            return;
        }
        if let Some(id) = &request.request_id {
            if self.tracker.contains(id) {
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
                    self.remember(now, request_id, uid, Kind::Sockets, timeout)
                {
                    self.events
                        .push_back(NodeEvent::SocketsRequested { request_id, rooms });
                }
            }
            RequestBody::AllRooms => {
                if let Some(request_id) =
                    self.remember(now, request_id, uid, Kind::AllRooms, timeout)
                {
                    self.events
                        .push_back(NodeEvent::AllRoomsRequested { request_id });
                }
            }
            RequestBody::RemoteFetch { opts } => {
                if let Some(request_id) = self.remember(now, request_id, uid, Kind::Fetch, timeout)
                {
                    self.events
                        .push_back(NodeEvent::FetchRequested { request_id, opts });
                }
            }
            RequestBody::RemoteJoin { target, rooms } => {
                let request_id = self.one_socket(now, &target, request_id, uid);
                self.events.push_back(NodeEvent::JoinRequested {
                    target,
                    rooms,
                    request_id,
                });
            }
            RequestBody::RemoteLeave { target, rooms } => {
                let request_id = self.one_socket(now, &target, request_id, uid);
                self.events.push_back(NodeEvent::LeaveRequested {
                    target,
                    rooms,
                    request_id,
                });
            }
            RequestBody::RemoteDisconnect { target, close } => {
                let request_id = self.one_socket(now, &target, request_id, uid);
                self.events.push_back(NodeEvent::DisconnectRequested {
                    target,
                    close,
                    request_id,
                });
            }
            RequestBody::ServerSideEmit { data } => {
                let request_id = match request_id {
                    Some(id) => {
                        let Some(id) =
                            self.remember(now, Some(id), uid, Kind::ServerSideEmit, timeout)
                        else {
                            return;
                        };
                        Some(id)
                    }
                    None => None,
                };
                self.events
                    .push_back(NodeEvent::ServerSideEmit { data, request_id });
            }
            RequestBody::Broadcast { packet, opts } => {
                let Ok(packet) =
                    bridge::to_encoded(&Packet { id: None, ..packet }, &self.config.nsp)
                else {
                    self.malformed += 1;
                    return;
                };
                let timeout = opts
                    .flags
                    .as_ref()
                    .and_then(|f| f.timeout_ms())
                    .map_or(timeout, Duration::from_millis);
                if let Some(request_id) =
                    self.remember(now, request_id, uid, Kind::BroadcastAck, timeout)
                {
                    self.events.push_back(NodeEvent::BroadcastWithAckRequested {
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
                self.remember(now, request_id, uid, Kind::Done, timeout)
            }
            Target::Sockets(_) => None,
        }
    }

    /// Keeps a request asked of this node until it is answered or `timeout` passes. `None`
    /// (the request is dropped) without a request id (nobody could read an answer), for an
    /// id already pending, or over the bound.
    fn remember(
        &mut self,
        now: Instant,
        request_id: Option<RequestId>,
        uid: Option<String>,
        kind: Kind,
        timeout: Duration,
    ) -> Option<RequestId> {
        let id = request_id?;
        if self.asked.contains_key(&id) {
            return None;
        }
        if self.asked.len() >= self.config.max_pending_requests {
            self.dropped += 1;
            return None;
        }
        let deadline = now
            .checked_add(timeout)
            .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
            .unwrap_or(now);
        self.asked_deadlines.insert((deadline, id.clone()));
        self.asked.insert(
            id.clone(),
            Asked {
                kind,
                uid,
                deadline,
            },
        );
        Some(id)
    }

    fn on_response(&mut self, payload: &[u8]) {
        let Ok(response) = Response::decode(payload) else {
            self.malformed += 1;
            return;
        };
        // Responses to other nodes' requests share the common channel: not ours, ignored.
        let Some(asks) = self.asks.get(&response.request_id).copied() else {
            return;
        };
        if asks == Asks::BroadcastAcks {
            self.on_broadcast_ack(response);
            return;
        }
        let answer = match (asks, &response.body) {
            (Asks::Fetch, ResponseBody::Sockets(_)) => {
                response.fetched_sockets().map(Answer::Sockets)
            }
            (Asks::AllRooms, ResponseBody::Rooms(rooms)) => Ok(Answer::Rooms(rooms.clone())),
            (Asks::ServerSideEmit, ResponseBody::ServerSideEmit(v)) => Ok(Answer::Value(v.clone())),
            _ => Err(ClusterError::Malformed(
                "a response that does not fit its request",
            )),
        };
        let Ok(answer) = answer else {
            self.malformed += 1;
            return;
        };
        match self.tracker.on_response(&response.request_id, None, answer) {
            ResponseOutcome::Completed(done) => self.complete(done),
            ResponseOutcome::Pending | ResponseOutcome::Unknown | ResponseOutcome::Unexpected => {}
        }
    }

    fn on_broadcast_ack(&mut self, response: Response) {
        let Some(wait) = self.ack_waits.get_mut(&response.request_id) else {
            return;
        };
        match response.body {
            ResponseBody::BroadcastClientCount(n) => {
                wait.servers_left = wait.servers_left.saturating_sub(1);
                wait.expected = wait.expected.saturating_add(n);
            }
            ResponseBody::BroadcastAck(value) => wait.acks.push(value),
            _ => {
                self.malformed += 1;
                return;
            }
        }
        if wait.servers_left == 0 && wait.acks.len() as u64 >= wait.expected {
            if let Some(done) = self.tracker.cancel(&response.request_id) {
                self.complete(done);
            }
        }
    }
}
