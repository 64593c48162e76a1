//! What [`ShardedNode`] does with a message from the bus: broadcasts and requests for the
//! local server, responses to its own requests.

use std::time::Instant;

use super::super::bridge;
use super::super::classic::Target;
use super::super::node::pending::{Kind, Reply};
use super::super::sharded::{ClusterBody, ClusterMessage};
use super::super::{FetchedSocket, Packet};
use super::{NodeEvent, ShardedNode};

impl ShardedNode {
    pub(super) fn on_message(&mut self, now: Instant, channel: &str, payload: &[u8]) {
        if channel == self.response_channel {
            // Node reads whatever arrives on its own response channel as a response.
            match ClusterMessage::decode(payload) {
                Ok(message) => self.on_response(message.body),
                Err(_) => self.p.malformed += 1,
            }
        } else if channel == self.channel
            || (channel.starts_with(self.channel.as_str()) && channel.ends_with('#'))
        {
            // The namespace channel or a room channel; another node's response channel is
            // never subscribed here, and its messages are not this node's (uid, ids).
            match ClusterMessage::decode(payload) {
                Ok(message) => self.on_cluster_message(now, message),
                Err(_) => self.p.malformed += 1,
            }
        }
        // Any other channel is not this node's: ignored.
    }

    fn on_cluster_message(&mut self, now: Instant, message: ClusterMessage) {
        if message.uid == self.config.uid || message.nsp != self.config.nsp.as_str() {
            return;
        }
        let ClusterMessage { uid, body, .. } = message;
        let timeout = self.config.requests_timeout;
        match body {
            ClusterBody::InitialHeartbeat | ClusterBody::Heartbeat | ClusterBody::AdapterClose => {}
            ClusterBody::Broadcast {
                packet,
                request_id: None,
                opts,
            } => match bridge::to_encoded(&packet, &self.config.nsp) {
                Ok(packet) => self
                    .p
                    .events
                    .push_back(NodeEvent::Broadcast { packet, opts }),
                Err(_) => self.p.malformed += 1,
            },
            ClusterBody::Broadcast {
                packet,
                request_id: Some(request_id),
                opts,
            } => {
                let Ok(packet) =
                    bridge::to_encoded(&Packet { id: None, ..packet }, &self.config.nsp)
                else {
                    self.p.malformed += 1;
                    return;
                };
                let timeout = self.timeout(&opts);
                let remembered = self.p.remember(
                    now,
                    Some(request_id),
                    Some(uid),
                    Kind::BroadcastAck,
                    timeout,
                );
                if let Some(request_id) = remembered {
                    self.p
                        .events
                        .push_back(NodeEvent::BroadcastWithAckRequested {
                            request_id,
                            packet,
                            opts,
                        });
                }
            }
            ClusterBody::SocketsJoin { opts, rooms } => {
                self.p.events.push_back(NodeEvent::JoinRequested {
                    target: Target::Sockets(opts),
                    rooms,
                    request_id: None,
                })
            }
            ClusterBody::SocketsLeave { opts, rooms } => {
                self.p.events.push_back(NodeEvent::LeaveRequested {
                    target: Target::Sockets(opts),
                    rooms,
                    request_id: None,
                })
            }
            ClusterBody::DisconnectSockets { opts, close } => {
                self.p.events.push_back(NodeEvent::DisconnectRequested {
                    target: Target::Sockets(opts),
                    close,
                    request_id: None,
                })
            }
            ClusterBody::FetchSockets { opts, request_id } => {
                let timeout = self.timeout(&opts);
                if let Some(request_id) =
                    self.p
                        .remember(now, Some(request_id), Some(uid), Kind::Fetch, timeout)
                {
                    self.p
                        .events
                        .push_back(NodeEvent::FetchRequested { request_id, opts });
                }
            }
            ClusterBody::ServerSideEmit {
                request_id,
                packet: data,
            } => {
                let request_id = match request_id {
                    None => None,
                    Some(id) => {
                        let remembered = self.p.remember(
                            now,
                            Some(id),
                            Some(uid),
                            Kind::ServerSideEmit,
                            timeout,
                        );
                        let Some(id) = remembered else {
                            return;
                        };
                        Some(id)
                    }
                };
                self.p
                    .events
                    .push_back(NodeEvent::ServerSideEmit { data, request_id });
            }
            response => self.on_response(response),
        }
    }

    fn on_response(&mut self, body: ClusterBody) {
        let (request_id, reply) = match body {
            ClusterBody::FetchSocketsResponse {
                request_id,
                sockets,
            } => (
                request_id,
                Reply::Sockets(sockets.into_iter().map(FetchedSocket::from_value).collect()),
            ),
            ClusterBody::ServerSideEmitResponse { request_id, packet } => {
                (request_id, Reply::Value(packet))
            }
            ClusterBody::BroadcastClientCount {
                request_id,
                client_count,
            } => (request_id, Reply::ClientCount(client_count)),
            ClusterBody::BroadcastAck { request_id, packet } => (request_id, Reply::Ack(packet)),
            // Not a response: Node's `onResponse` ignores it.
            _ => return,
        };
        self.p.on_reply(&request_id, reply);
    }
}
