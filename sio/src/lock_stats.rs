//! Counts of the locks this crate takes, by the place in its code that takes them (feature
//! `lock-stats`, off by default): what a lock-contention profile needs. Every acquisition
//! first tries the lock; one that has to wait counts as contended, with the time it waited.
//!
//! A lock taken once per delivery of a broadcast, on an object every delivery shares, is what
//! would serialize many cores; one taken once per broadcast, or on a per-connection object,
//! is not. Counting has a cost of its own (a per-thread table updated on every acquisition):
//! compare runs with the feature, not against runs without it.
//!
//! ```no_run
//! # #[cfg(feature = "lock-stats")] {
//! sio::lock_stats::reset();
//! // ... load ...
//! print!("{}", sio::lock_stats::table(&sio::lock_stats::report()));
//! # }
//! ```

use std::fmt::Write as _;
use std::time::Duration;

/// One place in this crate's code that takes a lock, with its counts since the last
/// [`reset`].
#[derive(Debug, Clone)]
pub struct LockSite {
    /// `file:line` of the acquisition.
    pub place: String,
    /// `mutex`, `read` or `write`.
    pub kind: &'static str,
    /// Acquisitions.
    pub taken: u64,
    /// Acquisitions that found the lock held and waited.
    pub contended: u64,
    /// The time those waited, in all.
    pub wait: Duration,
}

/// Every place that took a lock, the most taken first (all threads).
pub fn report() -> Vec<LockSite> {
    crate::sync::stats::report()
}

/// Sets every count back to zero.
pub fn reset() {
    crate::sync::stats::reset()
}

/// The report as a text table, one line a place.
pub fn table(sites: &[LockSite]) -> String {
    let mut out = String::from("place kind taken contended contended_% wait_us\n");
    for s in sites {
        let share = if s.taken == 0 {
            0.0
        } else {
            100.0 * s.contended as f64 / s.taken as f64
        };
        let _ = writeln!(
            out,
            "{} {} {} {} {:.3} {}",
            s.place,
            s.kind,
            s.taken,
            s.contended,
            share,
            s.wait.as_micros()
        );
    }
    out
}
