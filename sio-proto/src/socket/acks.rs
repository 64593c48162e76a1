//! The acks one side awaits, shared by the server [`Connection`](super::server::Connection)
//! and the client [`Manager`](super::client::Manager): keyed by namespace and ack id, each
//! with an optional deadline (one of the owning machine's timers), bounded in number.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::packet::Nsp;
use crate::error::UsageError;

/// Awaited acks, with what the owner keeps about each (`V`) and their deadlines.
#[derive(Debug, Clone)]
pub struct AckTable<V> {
    entries: BTreeMap<(Nsp, u64), (Option<Instant>, V)>,
    deadlines: BTreeSet<(Instant, Nsp, u64)>,
    max: usize,
}

impl<V> AckTable<V> {
    /// An empty table holding at most `max` acks.
    pub fn new(max: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            max,
        }
    }

    /// Number of acks awaited.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no ack is awaited.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the ack `id` of `nsp` is awaited.
    pub fn contains(&self, nsp: &Nsp, id: u64) -> bool {
        self.entries.contains_key(&(nsp.clone(), id))
    }

    /// Awaits the ack `id` of `nsp` until `deadline` (`None`: forever), replacing an entry of
    /// the same id. Fails with [`UsageError::TooManyPendingAcks`] at the bound.
    pub fn insert(
        &mut self,
        nsp: &Nsp,
        id: u64,
        deadline: Option<Instant>,
        value: V,
    ) -> Result<(), UsageError> {
        if self.entries.len() >= self.max {
            return Err(UsageError::TooManyPendingAcks(self.max));
        }
        self.remove(nsp, id);
        self.entries.insert((nsp.clone(), id), (deadline, value));
        if let Some(t) = deadline {
            self.deadlines.insert((t, nsp.clone(), id));
        }
        Ok(())
    }

    /// The ack `id` of `nsp` came (or is no longer awaited): its entry, if it was awaited.
    pub fn remove(&mut self, nsp: &Nsp, id: u64) -> Option<V> {
        let (deadline, v) = self.entries.remove(&(nsp.clone(), id))?;
        if let Some(t) = deadline {
            self.deadlines.remove(&(t, nsp.clone(), id));
        }
        Some(v)
    }

    /// What is kept about the ack `id` of `nsp`.
    pub fn get_mut(&mut self, nsp: &Nsp, id: u64) -> Option<&mut V> {
        self.entries.get_mut(&(nsp.clone(), id)).map(|(_, v)| v)
    }

    /// Removes and returns the acks of `nsp` for which `pred` holds, by id.
    pub fn take_where(&mut self, nsp: &Nsp, mut pred: impl FnMut(&V) -> bool) -> Vec<(u64, V)> {
        let ids: Vec<u64> = self
            .entries
            .iter()
            .filter(|((n, _), (_, v))| n == nsp && pred(v))
            .map(|((_, id), _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| Some((id, self.remove(nsp, id)?)))
            .collect()
    }

    /// Forgets every ack of `nsp`.
    pub fn drop_namespace(&mut self, nsp: &Nsp) {
        self.entries.retain(|(n, _), _| n != nsp);
        self.deadlines.retain(|(_, n, _)| n != nsp);
    }

    /// Forgets every ack.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.deadlines.clear();
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _, _)| *t)
    }

    /// Removes and returns one ack whose deadline is at or before `now`, earliest first.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(Nsp, u64, V)> {
        if self.deadlines.first()?.0 > now {
            return None;
        }
        let (_, nsp, id) = self.deadlines.pop_first()?;
        let (_, v) = self.entries.remove(&(nsp.clone(), id))?;
        Some((nsp, id, v))
    }
}
