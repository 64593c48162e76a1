//! Requests to the other nodes of a cluster and the answers they are waiting for.
//!
//! Sans-IO, like the rest of the crate: request ids come from a seed and a counter given at
//! construction, time comes in as `now`, and [`RequestTracker::poll_timeout`] says when to
//! call [`RequestTracker::handle_timeout`]. What the responses are (`T`) is up to the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Whose answers a request waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// This many responses, from anyone (the classic adapter, which counts subscribers).
    Count(usize),
    /// One response from each of these nodes (`ClusterAdapterWithHeartbeat`, which knows
    /// its peers); a node that goes away is no longer waited for.
    Nodes(BTreeSet<String>),
    /// Every response until the deadline (acknowledgements of a broadcast: their number is
    /// not known in advance).
    UntilDeadline,
}

/// Why a request could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// As many requests as allowed are pending.
    #[error("too many pending cluster requests")]
    Full,
    /// Nothing is expected: the request needs no publishing and is complete at once
    /// (as Node resolves at once when it is the only server).
    #[error("no response expected")]
    NothingExpected,
}

/// Which answers had not arrived when a request timed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// This many responses.
    Count(usize),
    /// These nodes' responses.
    Nodes(Vec<String>),
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every expected response arrived (or, for [`Expected::UntilDeadline`], the deadline
    /// passed).
    Complete,
    /// The deadline passed first.
    TimedOut(Missing),
    /// The caller cancelled it.
    Cancelled,
}

/// A finished request and what arrived for it, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion<T> {
    /// The request's id.
    pub request_id: String,
    /// The responses received.
    pub responses: Vec<T>,
    /// How it ended.
    pub outcome: Outcome,
}

/// What [`RequestTracker::on_response`] did with a response.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseOutcome<T> {
    /// Kept; more are expected.
    Pending,
    /// Kept, and it was the last one expected.
    Completed(Completion<T>),
    /// Not a pending request (finished, timed out, never issued): dropped.
    Unknown,
    /// From a node not (or no longer) waited for: dropped.
    Unexpected,
}

struct Pending<T> {
    deadline: Instant,
    expected: Expected,
    responses: Vec<T>,
}

/// Pending requests, their deadlines and their responses.
pub struct RequestTracker<T> {
    seed: u64,
    counter: u64,
    max_pending: usize,
    pending: BTreeMap<String, Pending<T>>,
    deadlines: BTreeSet<(Instant, String)>,
}

/// SplitMix64: spreads a counter into an id that peers cannot guess from the previous one
/// without the seed (not a security property; ids only need to be distinct).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl<T> RequestTracker<T> {
    /// A tracker whose request ids derive from `seed`, holding at most `max_pending` requests.
    pub fn new(seed: u64, max_pending: usize) -> Self {
        RequestTracker {
            seed,
            counter: 0,
            max_pending,
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
        }
    }

    /// A fresh request id: 16 lowercase hex digits (the form `ClusterAdapter` uses), distinct
    /// from every earlier one of this tracker (the counter goes through a bijection).
    pub fn next_request_id(&mut self) -> String {
        self.counter = self.counter.wrapping_add(1);
        format!("{:016x}", mix(self.seed ^ mix(self.counter)) ^ self.seed)
    }

    /// Starts waiting for the answers to a new request; returns its id, to put in the
    /// request. Its deadline is `now + timeout`.
    pub fn issue(
        &mut self,
        now: Instant,
        timeout: Duration,
        expected: Expected,
    ) -> Result<String, IssueError> {
        match &expected {
            Expected::Count(0) => return Err(IssueError::NothingExpected),
            Expected::Nodes(nodes) if nodes.is_empty() => return Err(IssueError::NothingExpected),
            _ => {}
        }
        if self.pending.len() >= self.max_pending {
            return Err(IssueError::Full);
        }
        let mut id = self.next_request_id();
        while self.pending.contains_key(&id) {
            id = self.next_request_id();
        }
        // A timeout past the clock's range waits "for ever" (136 years).
        let deadline = now
            .checked_add(timeout)
            .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
            .unwrap_or(now);
        self.deadlines.insert((deadline, id.clone()));
        self.pending.insert(
            id.clone(),
            Pending {
                deadline,
                expected,
                responses: Vec::new(),
            },
        );
        Ok(id)
    }

    /// Records a response to `request_id` from node `from` (needed for [`Expected::Nodes`]).
    pub fn on_response(
        &mut self,
        request_id: &str,
        from: Option<&str>,
        response: T,
    ) -> ResponseOutcome<T> {
        let Some(pending) = self.pending.get_mut(request_id) else {
            return ResponseOutcome::Unknown;
        };
        let done = match &mut pending.expected {
            Expected::Count(n) => pending.responses.len() + 1 >= *n,
            Expected::Nodes(nodes) => {
                if !from.is_some_and(|uid| nodes.remove(uid)) {
                    return ResponseOutcome::Unexpected;
                }
                nodes.is_empty()
            }
            Expected::UntilDeadline => false,
        };
        pending.responses.push(response);
        if done {
            ResponseOutcome::Completed(self.finish(request_id, Outcome::Complete))
        } else {
            ResponseOutcome::Pending
        }
    }

    /// Node `uid` left the cluster: requests waiting only for it complete.
    pub fn node_gone(&mut self, uid: &str) -> Vec<Completion<T>> {
        let mut done = Vec::new();
        for (id, pending) in &mut self.pending {
            if let Expected::Nodes(nodes) = &mut pending.expected {
                if nodes.remove(uid) && nodes.is_empty() {
                    done.push(id.clone());
                }
            }
        }
        done.iter()
            .map(|id| self.finish(id, Outcome::Complete))
            .collect()
    }

    /// Stops waiting for `request_id`; returns what had arrived.
    pub fn cancel(&mut self, request_id: &str) -> Option<Completion<T>> {
        self.pending
            .contains_key(request_id)
            .then(|| self.finish(request_id, Outcome::Cancelled))
    }

    /// The earliest deadline of a pending request.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(deadline, _)| *deadline)
    }

    /// Ends every request whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Completion<T>> {
        let mut out = Vec::new();
        while let Some((deadline, id)) = self.deadlines.first().cloned() {
            if deadline > now {
                break;
            }
            let outcome = match self.pending.get(&id).map(|p| &p.expected) {
                Some(Expected::Count(n)) => {
                    let got = self.pending.get(&id).map_or(0, |p| p.responses.len());
                    Outcome::TimedOut(Missing::Count(n.saturating_sub(got)))
                }
                Some(Expected::Nodes(nodes)) => {
                    Outcome::TimedOut(Missing::Nodes(nodes.iter().cloned().collect()))
                }
                Some(Expected::UntilDeadline) | None => Outcome::Complete,
            };
            out.push(self.finish(&id, outcome));
        }
        out
    }

    /// Number of pending requests.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no request is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Whether `request_id` is pending (the classic adapter ignores requests it issued itself).
    pub fn contains(&self, request_id: &str) -> bool {
        self.pending.contains_key(request_id)
    }

    fn finish(&mut self, request_id: &str, outcome: Outcome) -> Completion<T> {
        let responses = match self.pending.remove(request_id) {
            Some(pending) => {
                self.deadlines
                    .remove(&(pending.deadline, request_id.to_owned()));
                pending.responses
            }
            None => {
                self.deadlines.retain(|(_, id)| id != request_id);
                Vec::new()
            }
        };
        Completion {
            request_id: request_id.to_owned(),
            responses,
            outcome,
        }
    }
}
