//! The bookkeeping both node machines share: the requests a node issued and waits answers
//! for (with the gathering of their answers), the requests it was asked and may still
//! answer, and its outgoing queues and counters. The classic and the sharded adapters differ
//! in their messages and channels only; what a request waits for, how long a request asked
//! stays answerable and how a broadcast with acknowledgements is counted are the same.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use super::super::tracker::{Completion, Expected, IssueError, Missing, Outcome, RequestTracker};
use super::super::{ClusterError, FetchedSocket, Value};
use super::{NodeEvent, Publish, RequestId, RequestResult};

/// What a node asked (to read the answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asks {
    Fetch,
    AllRooms,
    ServerSideEmit,
    BroadcastAcks,
}

/// What a request a node was asked expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sockets,
    Fetch,
    AllRooms,
    Done,
    ServerSideEmit,
    BroadcastAck,
}

/// One answer received, as the node read it.
pub(crate) enum Reply {
    Sockets(Result<Vec<FetchedSocket>, ClusterError>),
    Rooms(Vec<String>),
    Value(Value),
    ClientCount(u64),
    Ack(Value),
    /// An answer no request of the node takes (the classic one-socket `Done`).
    Other,
}

/// One answer kept by the tracker.
enum Answer {
    Sockets(Vec<FetchedSocket>),
    Rooms(Vec<String>),
    Value(Value),
}

/// What a broadcast with acknowledgements is waiting for (as socket.io's `emitWithAck`
/// counts): a client count from each other server, then as many acknowledgements.
struct AckWait {
    servers_left: usize,
    expected: u64,
    acks: Vec<Value>,
}

/// A request a node was asked and may still answer.
struct Asked {
    kind: Kind,
    /// The requester (for its own response channel).
    uid: Option<String>,
    deadline: Instant,
}

/// The shared state of a node machine. See the module docs.
pub(crate) struct Pending {
    max_pending: usize,
    tracker: RequestTracker<Answer>,
    asks: BTreeMap<RequestId, Asks>,
    ack_waits: BTreeMap<RequestId, AckWait>,
    asked: BTreeMap<RequestId, Asked>,
    asked_deadlines: BTreeSet<(Instant, RequestId)>,
    pub(crate) publishes: VecDeque<Publish>,
    pub(crate) events: VecDeque<NodeEvent>,
    pub(crate) malformed: u64,
    pub(crate) dropped: u64,
}

impl Pending {
    /// Request ids derive from `seed`; `max_pending` bounds both tables.
    pub(crate) fn new(seed: [u8; 32], max_pending: usize) -> Self {
        let mut word = [0u8; 8];
        for chunk in seed.chunks(8) {
            for (w, b) in word.iter_mut().zip(chunk) {
                *w ^= b;
            }
        }
        Pending {
            max_pending,
            tracker: RequestTracker::new(u64::from_le_bytes(word), max_pending),
            asks: BTreeMap::new(),
            ack_waits: BTreeMap::new(),
            asked: BTreeMap::new(),
            asked_deadlines: BTreeSet::new(),
            publishes: VecDeque::new(),
            events: VecDeque::new(),
            malformed: 0,
            dropped: 0,
        }
    }

    /// Whether `id` is one of the requests this node waits answers for.
    pub(crate) fn is_ours(&self, id: &str) -> bool {
        self.tracker.contains(id)
    }

    /// Starts waiting `others` answers to a new request (after handling due deadlines).
    pub(crate) fn issue(
        &mut self,
        now: Instant,
        timeout: Duration,
        others: usize,
        asks: Asks,
    ) -> Result<RequestId, IssueError> {
        self.expire(now);
        let id = self.tracker.issue(now, timeout, Expected::Count(others))?;
        self.asks.insert(id.clone(), asks);
        Ok(id)
    }

    /// Starts waiting for a client count from each of `others` servers and as many
    /// acknowledgements, until `timeout`.
    pub(crate) fn issue_acks(
        &mut self,
        now: Instant,
        timeout: Duration,
        others: usize,
    ) -> Result<RequestId, IssueError> {
        self.expire(now);
        let id = self.tracker.issue(now, timeout, Expected::UntilDeadline)?;
        self.asks.insert(id.clone(), Asks::BroadcastAcks);
        self.ack_waits.insert(
            id.clone(),
            AckWait {
                servers_left: others,
                expected: 0,
                acks: Vec::new(),
            },
        );
        Ok(id)
    }

    /// Stops waiting for `request_id` (a `Completed` with `Cancelled`).
    pub(crate) fn cancel(&mut self, request_id: &str) -> bool {
        match self.tracker.cancel(request_id) {
            Some(done) => {
                self.complete(done);
                true
            }
            None => false,
        }
    }

    /// Keeps a request asked of this node until it is answered or `timeout` passes. `None`
    /// (the request is dropped) without a request id (nobody could read an answer), for an
    /// id already pending, or over the bound (counted).
    pub(crate) fn remember(
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
        if self.asked.len() >= self.max_pending {
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

    /// The requester of a request asked of this node, when it may be answered with `kind`
    /// (`Some(None)`: an anonymous requester). The request is forgotten, except a broadcast
    /// with acknowledgements, whose acknowledgements keep coming until its deadline.
    pub(crate) fn take_asked(&mut self, request_id: &str, kind: Kind) -> Option<Option<String>> {
        let asked = self.asked.get(request_id)?;
        if asked.kind != kind {
            return None;
        }
        let uid = asked.uid.clone();
        if kind != Kind::BroadcastAck {
            if let Some(asked) = self.asked.remove(request_id) {
                self.asked_deadlines
                    .remove(&(asked.deadline, request_id.to_owned()));
            }
        }
        Some(uid)
    }

    /// An answer to request `request_id`. Answers to requests this node is not waiting for
    /// are ignored (other nodes' requests share channels); one that does not fit its request
    /// is malformed.
    pub(crate) fn on_reply(&mut self, request_id: &str, reply: Reply) {
        let Some(asks) = self.asks.get(request_id).copied() else {
            return;
        };
        let answer = match (asks, reply) {
            (Asks::BroadcastAcks, Reply::ClientCount(n)) => {
                return self.on_ack(request_id, Some(n), None)
            }
            (Asks::BroadcastAcks, Reply::Ack(v)) => return self.on_ack(request_id, None, Some(v)),
            (Asks::Fetch, Reply::Sockets(Ok(sockets))) => Answer::Sockets(sockets),
            (Asks::AllRooms, Reply::Rooms(rooms)) => Answer::Rooms(rooms),
            (Asks::ServerSideEmit, Reply::Value(v)) => Answer::Value(v),
            _ => {
                self.malformed += 1;
                return;
            }
        };
        if let super::super::ResponseOutcome::Completed(done) =
            self.tracker.on_response(request_id, None, answer)
        {
            self.complete(done);
        }
    }

    fn on_ack(&mut self, request_id: &str, count: Option<u64>, ack: Option<Value>) {
        let Some(wait) = self.ack_waits.get_mut(request_id) else {
            return;
        };
        if let Some(n) = count {
            wait.servers_left = wait.servers_left.saturating_sub(1);
            wait.expected = wait.expected.saturating_add(n);
        }
        if let Some(value) = ack {
            wait.acks.push(value);
        }
        if wait.servers_left == 0 && wait.acks.len() as u64 >= wait.expected {
            if let Some(done) = self.tracker.cancel(request_id) {
                self.complete(done);
            }
        }
    }

    /// Handles every deadline at or before `now`.
    pub(crate) fn expire(&mut self, now: Instant) {
        for done in self.tracker.handle_timeout(now) {
            self.complete(done);
        }
        while let Some((deadline, id)) = self.asked_deadlines.first().cloned() {
            if deadline > now {
                break;
            }
            self.asked_deadlines.remove(&(deadline, id.clone()));
            self.asked.remove(&id);
        }
    }

    /// The earliest deadline of a request issued or asked.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let asked = self.asked_deadlines.first().map(|(d, _)| *d);
        match (self.tracker.poll_timeout(), asked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Requests this node waits answers for.
    pub(crate) fn len(&self) -> usize {
        self.tracker.len()
    }

    fn complete(&mut self, mut done: Completion<Answer>) {
        let asks = self.asks.remove(&done.request_id);
        let result = match asks {
            Some(Asks::BroadcastAcks) => {
                let wait = self.ack_waits.remove(&done.request_id);
                let wait = wait.unwrap_or(AckWait {
                    servers_left: 0,
                    expected: 0,
                    acks: Vec::new(),
                });
                let got = wait.acks.len() as u64;
                let missing =
                    (wait.expected.saturating_sub(got) as usize).saturating_add(wait.servers_left);
                // The tracker ends a wait "until the deadline" as complete; it is complete only
                // when nothing is missing (and it was cancelled when everything arrived).
                done.outcome = match done.outcome {
                    Outcome::Cancelled if wait.servers_left == 0 && got >= wait.expected => {
                        Outcome::Complete
                    }
                    Outcome::Complete if missing > 0 => Outcome::TimedOut(Missing::Count(missing)),
                    other => other,
                };
                RequestResult::BroadcastAcks(wait.acks)
            }
            Some(Asks::Fetch) | None => RequestResult::Fetched(
                done.responses
                    .into_iter()
                    .flat_map(|a| match a {
                        Answer::Sockets(s) => s,
                        _ => Vec::new(),
                    })
                    .collect(),
            ),
            Some(Asks::AllRooms) => {
                let mut seen = BTreeSet::new();
                let mut rooms = Vec::new();
                for answer in done.responses {
                    if let Answer::Rooms(list) = answer {
                        for room in list {
                            if seen.insert(room.clone()) {
                                rooms.push(room);
                            }
                        }
                    }
                }
                RequestResult::Rooms(rooms)
            }
            Some(Asks::ServerSideEmit) => RequestResult::ServerSideEmit(
                done.responses
                    .into_iter()
                    .filter_map(|a| match a {
                        Answer::Value(v) => Some(v),
                        _ => None,
                    })
                    .collect(),
            ),
        };
        self.events.push_back(NodeEvent::Completed {
            request_id: done.request_id,
            result,
            outcome: done.outcome,
        });
    }
}

/// `items` without repeats, in first-appearance order (a JavaScript `Set` spread).
pub(crate) fn dedup(items: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .iter()
        .filter(|item| seen.insert(item.as_str()))
        .cloned()
        .collect()
}
