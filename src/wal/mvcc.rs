//! Per-region multi-version concurrency control (HBase `MultiVersionConcurrencyControl`).
//!
//! Rules:
//! 1. `begin` assigns the next write number (the region sequence id) and queues a write entry,
//!    all under the MVCC mutex; [`Mvcc::try_begin`] also runs the WAL's ring-slot claim under that
//!    mutex, so within a region seqid order equals txid order (HBASE-17471).
//! 2. `complete` marks an entry done and advances the read point over the completed prefix of the
//!    queue only: readers never see a write whose predecessors are still in flight.
//! 3. Every begun entry must be completed, also when its WAL append or sync failed; otherwise the
//!    read point stalls. `WriteEntry` is `#[must_use]` for that reason.
//! 4. `read_point <= write_point`, and the read point never goes backwards.

use std::collections::VecDeque;

use crate::core::event::Event;
use crate::sync::{lock, AtomicU64, Mutex, Ordering};

#[derive(Debug)]
struct State {
    write_point: u64,
    /// In-flight write numbers (consecutive), with their completion flag.
    queue: VecDeque<(u64, bool)>,
}

/// A region's MVCC.
#[derive(Debug)]
pub struct Mvcc {
    state: Mutex<State>,
    read_point: AtomicU64,
    advanced: Event,
}

/// A begun write; complete it with [`Mvcc::complete`].
#[must_use = "a write entry must be completed, or the region's read point stalls"]
#[derive(Debug, PartialEq, Eq)]
pub struct WriteEntry {
    seqid: u64,
}

impl WriteEntry {
    /// The write number (region sequence id).
    pub fn seqid(&self) -> u64 {
        self.seqid
    }
}

impl Default for Mvcc {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Mvcc {
    /// An MVCC whose read and write points start at `start`.
    pub fn new(start: u64) -> Self {
        Self {
            state: Mutex::new(State { write_point: start, queue: VecDeque::new() }),
            read_point: AtomicU64::new(start),
            advanced: Event::new(),
        }
    }

    /// Begins a write after `claim` succeeds, atomically with it (rule 1). Returns `None`, with
    /// nothing begun, when `claim` returns `None`.
    pub fn try_begin<R>(&self, claim: impl FnOnce() -> Option<R>) -> Option<(WriteEntry, R)> {
        let mut st = lock(&self.state);
        let r = claim()?;
        st.write_point += 1;
        let seqid = st.write_point;
        st.queue.push_back((seqid, false));
        Some((WriteEntry { seqid }, r))
    }

    /// Begins a write that touches no WAL (HBase `getNextSequenceId`).
    pub fn begin(&self) -> WriteEntry {
        self.try_begin(|| Some(())).map(|(we, ())| we).expect("an infallible claim")
    }

    /// Completes `entry` (rule 2). Returns true when it is visible to readers.
    pub fn complete(&self, entry: WriteEntry) -> bool {
        let visible = {
            let mut st = lock(&self.state);
            let front = st.queue.front().map(|e| e.0).expect("complete with no write in flight");
            let idx = (entry.seqid - front) as usize;
            let slot = st.queue.get_mut(idx).expect("completing an unknown write entry");
            assert_eq!(slot.0, entry.seqid, "MVCC queue lost its consecutive numbering");
            slot.1 = true;
            let mut last = None;
            while let Some(&(n, true)) = st.queue.front() {
                st.queue.pop_front();
                last = Some(n);
            }
            if let Some(n) = last {
                self.read_point.store(n, Ordering::Release);
            }
            last.is_some()
        };
        if visible {
            self.advanced.notify_all();
        }
        self.read_point() >= entry.seqid
    }

    /// Completes `entry` and waits until it is visible.
    pub async fn complete_and_wait(&self, entry: WriteEntry) {
        let seqid = entry.seqid;
        self.complete(entry);
        loop {
            let l = self.advanced.listen();
            if self.read_point() >= seqid {
                return;
            }
            l.await;
        }
    }

    /// Highest write number visible to readers.
    pub fn read_point(&self) -> u64 {
        self.read_point.load(Ordering::Acquire)
    }

    /// Highest write number handed out.
    pub fn write_point(&self) -> u64 {
        lock(&self.state).write_point
    }

    /// Moves both points to `n` when nothing is in flight and `n` is not lower (region open).
    /// Returns false, changing nothing, otherwise.
    pub fn advance_to(&self, n: u64) -> bool {
        let mut st = lock(&self.state);
        if !st.queue.is_empty() || n < st.write_point {
            return false;
        }
        st.write_point = n;
        self.read_point.store(n, Ordering::Release);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HBase `testSimpleMvccOps`: begin/complete moves both points by one.
    #[test]
    fn simple_ops() {
        let m = Mvcc::new(0);
        let w = m.begin();
        assert_eq!(w.seqid(), 1);
        assert_eq!(m.read_point(), 0);
        assert!(m.complete(w));
        assert_eq!((m.read_point(), m.write_point()), (1, 1));
    }

    /// Out-of-order completion: the read point waits for the whole prefix.
    #[test]
    fn read_point_advances_over_completed_prefix_only() {
        let m = Mvcc::new(10);
        let (a, b, c) = (m.begin(), m.begin(), m.begin());
        assert!(!m.complete(c));
        assert_eq!(m.read_point(), 10);
        assert!(!m.complete(b));
        assert_eq!(m.read_point(), 10);
        assert!(m.complete(a));
        assert_eq!(m.read_point(), 13);
    }

    /// A refused claim begins nothing; advance_to needs an idle MVCC.
    #[test]
    fn failed_claim_and_advance() {
        let m = Mvcc::new(0);
        assert!(m.try_begin(|| None::<u64>).is_none());
        assert_eq!(m.write_point(), 0);
        let w = m.begin();
        assert!(!m.advance_to(50));
        m.complete(w);
        assert!(m.advance_to(50));
        assert_eq!(m.begin().seqid(), 51);
    }

    /// Concurrent writers: the read point never goes backwards and ends at the write point.
    #[test]
    fn parallel_writers_keep_read_point_monotone() {
        let m = std::sync::Arc::new(Mvcc::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    let mut last = 0;
                    for _ in 0..2000 {
                        let w = m.begin();
                        m.complete(w);
                        let r = m.read_point();
                        assert!(r >= last, "read point went backwards");
                        last = r;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(m.read_point(), 8000);
    }
}
