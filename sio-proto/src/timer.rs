//! One table of deadlines per machine, indexed by that machine's `Timer` enum.
//!
//! Each machine names its timers with a small enum implementing [`TimerKind`] (its variants
//! in the order in which timers due at the same call fire) and keeps them in one
//! [`TimerTable`]: `poll_timeout` is [`TimerTable::next`], and the machine's timeout step
//! takes the expired timers out with [`TimerTable::pop_expired`] and matches on them. A
//! table of `N` timers is `N` `Option<Instant>`s, nothing more.

use std::marker::PhantomData;
use std::time::Instant;

/// The timers of one machine: an enum whose variants index a [`TimerTable`].
pub(crate) trait TimerKind: Copy + 'static {
    /// Every timer, in firing order (the order [`TimerTable::pop_expired`] reports timers
    /// that are due at the same call).
    const ALL: &'static [Self];

    /// The timer's slot in the table (below the table's `N`).
    fn index(self) -> usize;
}

/// `N` optional deadlines, one per timer of `T`. The machines keep `Instant`s (`I`'s default);
/// any ordered time type works, which lets the table's own tests run without a clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerTable<T, const N: usize, I = Instant> {
    deadlines: [Option<I>; N],
    kind: PhantomData<fn() -> T>,
}

impl<T: TimerKind, const N: usize, I: Copy> Default for TimerTable<T, N, I> {
    fn default() -> Self {
        Self {
            deadlines: [None; N],
            kind: PhantomData,
        }
    }
}

impl<T: TimerKind, const N: usize, I: Copy + Ord> TimerTable<T, N, I> {
    /// Arms `timer` for `at` (replacing its previous deadline).
    pub(crate) fn set(&mut self, timer: T, at: I) {
        self.deadlines[timer.index()] = Some(at);
    }

    /// Stops `timer`.
    pub(crate) fn stop(&mut self, timer: T) {
        self.deadlines[timer.index()] = None;
    }

    /// Stops `timer` and returns the deadline it had.
    pub(crate) fn take(&mut self, timer: T) -> Option<I> {
        self.deadlines[timer.index()].take()
    }

    /// The deadline of `timer`, if armed.
    pub(crate) fn get(&self, timer: T) -> Option<I> {
        self.deadlines[timer.index()]
    }

    /// Stops every timer.
    pub(crate) fn clear(&mut self) {
        self.deadlines = [None; N];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<I> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The first timer, in [`TimerKind::ALL`] order, that is due at `now`: stopped and
    /// returned with the instant it was due (a deadline that follows from it counts from
    /// then). Calling it until `None` fires every expired timer, including those armed by
    /// the handling of an earlier one.
    pub(crate) fn pop_expired(&mut self, now: I) -> Option<(T, I)> {
        T::ALL.iter().find_map(|&t| {
            let slot = &mut self.deadlines[t.index()];
            let at = slot.filter(|&at| at <= now)?;
            *slot = None;
            Some((t, at))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum T {
        A,
        B,
        C,
    }

    impl TimerKind for T {
        const ALL: &'static [Self] = &[T::A, T::B, T::C];
        fn index(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn next_is_the_minimum_and_expired_fire_in_enum_order() {
        // Seconds as plain numbers: the table needs only an ordered time.
        let (t0, s) = (100u64, 1u64);
        let mut table = TimerTable::<T, 3, u64>::default();
        assert_eq!(table.next(), None);
        table.set(T::C, t0 + s);
        table.set(T::B, t0 + 3 * s);
        table.set(T::A, t0 + 2 * s);
        assert_eq!(table.next(), Some(t0 + s));
        assert_eq!(table.get(T::B), Some(t0 + 3 * s));

        // A and C are due: A first (enum order), each with its own deadline.
        assert_eq!(table.pop_expired(t0 + 2 * s), Some((T::A, t0 + 2 * s)));
        assert_eq!(table.pop_expired(t0 + 2 * s), Some((T::C, t0 + s)));
        assert_eq!(table.pop_expired(t0 + 2 * s), None);
        assert_eq!(table.next(), Some(t0 + 3 * s));

        assert_eq!(table.take(T::B), Some(t0 + 3 * s));
        assert_eq!(table.next(), None);
        table.set(T::A, t0);
        table.stop(T::A);
        assert_eq!(table.get(T::A), None);
        table.set(T::B, t0);
        table.clear();
        assert_eq!(table.next(), None);
    }

    #[test]
    fn a_table_is_its_deadlines() {
        assert_eq!(
            std::mem::size_of::<TimerTable<T, 3>>(),
            3 * std::mem::size_of::<Option<Instant>>()
        );
    }
}
