//! Lock helpers: a poisoned lock (a handler panicked while holding it) is used as it is,
//! since every critical section here leaves the data consistent at each step.
//!
//! With the feature `lock-stats`, every lock taken through these helpers is counted by the
//! place that takes it: see `sio::lock_stats`.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(not(feature = "lock-stats"))]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(not(feature = "lock-stats"))]
pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

#[cfg(not(feature = "lock-stats"))]
pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(feature = "lock-stats")]
#[track_caller]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    stats::counted(stats::Kind::Mutex, || m.try_lock(), || m.lock())
}

#[cfg(feature = "lock-stats")]
#[track_caller]
pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    stats::counted(stats::Kind::Read, || m.try_read(), || m.read())
}

#[cfg(feature = "lock-stats")]
#[track_caller]
pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    stats::counted(stats::Kind::Write, || m.try_write(), || m.write())
}

/// The counters behind [`crate::lock_stats`]: one table per thread (so that counting takes
/// no shared lock on the way), every table listed once in a global list for the report.
#[cfg(feature = "lock-stats")]
pub(crate) mod stats {
    use std::collections::HashMap;
    use std::panic::Location;
    use std::sync::{Arc, LockResult, Mutex, TryLockError, TryLockResult};
    use std::time::{Duration, Instant};

    #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
    pub(crate) enum Kind {
        Mutex,
        Read,
        Write,
    }

    #[derive(Default, Clone, Copy)]
    struct Counts {
        taken: u64,
        contended: u64,
        wait: Duration,
    }

    type Table = HashMap<(&'static Location<'static>, Kind), Counts>;

    static TABLES: Mutex<Vec<Arc<Mutex<Table>>>> = Mutex::new(Vec::new());

    thread_local! {
        static MINE: Arc<Mutex<Table>> = {
            let t = Arc::new(Mutex::new(Table::new()));
            TABLES.lock().unwrap_or_else(|e| e.into_inner()).push(t.clone());
            t
        };
    }

    #[track_caller]
    fn count(kind: Kind, wait: Option<Duration>) {
        let at = Location::caller();
        // A thread being torn down has no table left: its last locks go uncounted.
        let _ = MINE.try_with(|t| {
            let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
            let c = t.entry((at, kind)).or_default();
            c.taken += 1;
            if let Some(w) = wait {
                c.contended += 1;
                c.wait += w;
            }
        });
    }

    /// Takes a lock (`try_take` first, `take` when it is held), counting the acquisition.
    #[track_caller]
    pub(crate) fn counted<G>(
        kind: Kind,
        try_take: impl FnOnce() -> TryLockResult<G>,
        take: impl FnOnce() -> LockResult<G>,
    ) -> G {
        match try_take() {
            Ok(g) => {
                count(kind, None);
                g
            }
            Err(TryLockError::Poisoned(e)) => {
                count(kind, None);
                e.into_inner()
            }
            Err(TryLockError::WouldBlock) => {
                let start = Instant::now();
                let g = take().unwrap_or_else(|e| e.into_inner());
                count(kind, Some(start.elapsed()));
                g
            }
        }
    }

    pub(crate) fn report() -> Vec<crate::lock_stats::LockSite> {
        let mut all: HashMap<(&'static Location<'static>, Kind), Counts> = HashMap::new();
        for t in TABLES.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            for (k, c) in t.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let a = all.entry(*k).or_default();
                a.taken += c.taken;
                a.contended += c.contended;
                a.wait += c.wait;
            }
        }
        let mut out: Vec<_> = all
            .into_iter()
            .map(|((at, kind), c)| crate::lock_stats::LockSite {
                place: format!("{}:{}", at.file(), at.line()),
                kind: match kind {
                    Kind::Mutex => "mutex",
                    Kind::Read => "read",
                    Kind::Write => "write",
                },
                taken: c.taken,
                contended: c.contended,
                wait: c.wait,
            })
            .collect();
        out.sort_by(|a, b| b.taken.cmp(&a.taken).then(a.place.cmp(&b.place)));
        out
    }

    pub(crate) fn reset() {
        for t in TABLES.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            t.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }
}

#[cfg(all(test, feature = "lock-stats"))]
mod tests {
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::Duration;

    fn site(line: u32) -> crate::lock_stats::LockSite {
        let place = format!("{}:{line}", file!());
        crate::lock_stats::report()
            .into_iter()
            .find(|s| s.place == place)
            .unwrap_or_else(|| panic!("no count for {place}"))
    }

    #[test]
    fn a_lock_that_waits_counts_as_contended_at_its_place() {
        let m = Arc::new(Mutex::new(0));
        let (free_line, free) = (line!(), super::lock(&m));
        drop(free);
        let held = m.lock().expect("not poisoned");
        let (tx, rx) = mpsc::channel();
        let m2 = m.clone();
        let t = std::thread::spawn(move || {
            tx.send(()).expect("main waits");
            let (line, mut g) = (line!(), super::lock(&m2));
            *g += 1;
            line
        });
        rx.recv().expect("thread started");
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
        let waited_line = t.join().expect("no panic");
        assert_eq!(*super::lock(&m), 1);

        let free = site(free_line);
        assert_eq!((free.kind, free.taken, free.contended), ("mutex", 1, 0));
        let waited = site(waited_line);
        assert_eq!((waited.taken, waited.contended), (1, 1));
        assert!(
            waited.wait >= Duration::from_millis(100),
            "{:?}",
            waited.wait
        );
        let table = crate::lock_stats::table(&[waited]);
        assert!(table.contains(" mutex 1 1 100.000 "), "{table}");
    }
}
