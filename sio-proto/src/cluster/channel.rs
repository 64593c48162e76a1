//! Channel names of the Redis adapters, and which namespace (and room or node) a channel
//! name is for.
//!
//! Namespace names are taken to contain no `#` when a channel is parsed (the part after the
//! key prefix is split at its first `#`); room names may contain anything.

use super::sharded::{ClusterBody, ClusterMessage};

/// The classic adapter's channel of broadcasts to a whole namespace: `key#nsp#`.
pub fn broadcast(key: &str, nsp: &str) -> String {
    format!("{key}#{nsp}#")
}

/// The classic adapter's channel of broadcasts to exactly one room: `key#nsp#room#`.
pub fn room(key: &str, nsp: &str, room: &str) -> String {
    format!("{key}#{nsp}#{room}#")
}

/// Where the classic adapter publishes a broadcast to `rooms`: the room channel when there
/// is exactly one room, the namespace channel otherwise.
pub fn broadcast_for(key: &str, nsp: &str, rooms: &[String]) -> String {
    match rooms {
        [only] => room(key, nsp, only),
        _ => broadcast(key, nsp),
    }
}

/// The classic adapter's request channel: `key-request#nsp#`.
pub fn request(key: &str, nsp: &str) -> String {
    format!("{key}-request#{nsp}#")
}

/// The classic adapter's common response channel: `key-response#nsp#`.
pub fn response(key: &str, nsp: &str) -> String {
    format!("{key}-response#{nsp}#")
}

/// The response channel of node `uid` (`publishOnSpecificResponseChannel`):
/// `key-response#nsp#uid#`.
pub fn specific_response(key: &str, nsp: &str, uid: &str) -> String {
    format!("{key}-response#{nsp}#{uid}#")
}

/// What a classic adapter channel is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicChannel<'a> {
    /// `key#nsp#`: broadcasts to the namespace.
    Broadcast {
        /// The namespace.
        nsp: &'a str,
    },
    /// `key#nsp#room#`: broadcasts to one room.
    Room {
        /// The namespace.
        nsp: &'a str,
        /// The room.
        room: &'a str,
    },
    /// `key-request#nsp#`.
    Request {
        /// The namespace.
        nsp: &'a str,
    },
    /// `key-response#nsp#`.
    Response {
        /// The namespace.
        nsp: &'a str,
    },
    /// `key-response#nsp#uid#`.
    SpecificResponse {
        /// The namespace.
        nsp: &'a str,
        /// The node the responses are for.
        uid: &'a str,
    },
}

/// Splits `nsp#` or `nsp#rest#` (the text after a prefix) into the namespace and the rest.
fn split(tail: &str) -> Option<(&str, Option<&str>)> {
    let (nsp, rest) = tail.split_once('#')?;
    if rest.is_empty() {
        return Some((nsp, None));
    }
    let inner = rest.strip_suffix('#')?;
    Some((nsp, Some(inner)))
}

/// Which classic adapter channel of key prefix `key` this is, if any.
pub fn parse_classic<'a>(key: &str, channel: &'a str) -> Option<ClassicChannel<'a>> {
    let rest = channel.strip_prefix(key)?;
    if let Some(tail) = rest.strip_prefix('#') {
        return Some(match split(tail)? {
            (nsp, None) => ClassicChannel::Broadcast { nsp },
            (nsp, Some(room)) => ClassicChannel::Room { nsp, room },
        });
    }
    if let Some(tail) = rest.strip_prefix("-request#") {
        return match split(tail)? {
            (nsp, None) => Some(ClassicChannel::Request { nsp }),
            (_, Some(_)) => None,
        };
    }
    let tail = rest.strip_prefix("-response#")?;
    Some(match split(tail)? {
        (nsp, None) => ClassicChannel::Response { nsp },
        (nsp, Some(uid)) => ClassicChannel::SpecificResponse { nsp, uid },
    })
}

/// How a sharded adapter subscribes to rooms (`subscriptionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// One channel per namespace.
    Static,
    /// Plus one channel per public room (not a socket's own room). Node's default.
    #[default]
    Dynamic,
    /// Plus one channel per room, private rooms included.
    DynamicPrivate,
}

/// The sharded adapter's namespace channel: `key#nsp#` (same form as the classic one).
pub fn sharded(key: &str, nsp: &str) -> String {
    broadcast(key, nsp)
}

/// The sharded adapter's channel of one room (dynamic modes) or of responses to node `uid`:
/// `key#nsp#name#`.
pub fn sharded_sub(key: &str, nsp: &str, name: &str) -> String {
    room(key, nsp, name)
}

/// Whether Node's sharded adapter takes `room` for a socket's own room (20 characters).
pub fn looks_like_socket_id(room: &str) -> bool {
    room.chars().count() == 20
}

/// Where the sharded adapter publishes `message` (not a response): the room channel for a
/// broadcast without acknowledgement to exactly one room in the dynamic modes (not for a
/// room that looks like a socket id in `Dynamic`), the namespace channel otherwise.
pub fn sharded_publish(key: &str, message: &ClusterMessage, mode: SubscriptionMode) -> String {
    if let ClusterBody::Broadcast {
        request_id: None,
        opts,
        ..
    } = &message.body
    {
        if let [only] = opts.rooms.as_slice() {
            let dynamic = match mode {
                SubscriptionMode::Static => false,
                SubscriptionMode::Dynamic => !looks_like_socket_id(only),
                SubscriptionMode::DynamicPrivate => true,
            };
            if dynamic {
                return sharded_sub(key, &message.nsp, only);
            }
        }
    }
    sharded(key, &message.nsp)
}

/// What a sharded adapter channel is for. `key#nsp#name#` is a room channel or a node's
/// response channel, which only the subscriber can tell (it knows its own uid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardedChannel<'a> {
    /// `key#nsp#`.
    Namespace {
        /// The namespace.
        nsp: &'a str,
    },
    /// `key#nsp#name#`.
    Sub {
        /// The namespace.
        nsp: &'a str,
        /// A room name, or the uid of the node the responses are for.
        name: &'a str,
    },
}

/// Which sharded adapter channel of key prefix `key` this is, if any.
pub fn parse_sharded<'a>(key: &str, channel: &'a str) -> Option<ShardedChannel<'a>> {
    Some(match parse_classic(key, channel)? {
        ClassicChannel::Broadcast { nsp } => ShardedChannel::Namespace { nsp },
        ClassicChannel::Room { nsp, room } => ShardedChannel::Sub { nsp, name: room },
        _ => return None,
    })
}
