//! A laned broadcast for OS threads blocked at the API edge on sync futures.
//!
//! Many callers wait for "my future completed", and one completion batch wakes them with one
//! `notify_all` per lane instead of one unpark per caller (waking 32 writers one by one costs
//! more than an fdatasync on a fast disk). Waiters are spread over [`LANES`] lanes: a waiter
//! sleeps on the lane of the sync it expects to cover it, and a completion wakes only the lanes
//! of the futures it completed, not callers still waiting for a later sync. A lane is only a
//! grouping: a waiter woken on the wrong lane re-checks and waits again.
//!
//! Protocol:
//! 1. A waiter records its lane in its future ([`SyncFuture::set_lane`], SeqCst), registers on
//!    that lane (SeqCst) and fences, then re-checks its future under the lane's mutex before
//!    each wait.
//! 2. A completer completes its futures, fences, and only then reads their lanes; it locks and
//!    notifies a lane only when someone is registered on it. With the fences on both sides, a
//!    completer that read an old lane (or none) completed before the waiter's re-check, which
//!    then sees the result: "completion not seen, and lane not seen" is impossible.
//! 3. A waiter also re-checks every `SAFETY_TICK`, so a completion path that forgot to notify
//!    costs latency, never a hang.

use std::time::{Duration, Instant};

use super::mutant::{Mutant, MutantSwitch};
use super::sync_future::SyncFuture;
use crate::sync::{fence, lock, AtomicUsize, Condvar, Mutex, Ordering};

/// How many lanes a [`Broadcast`] has.
pub const LANES: usize = 4;

const SAFETY_TICK: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
struct Lane {
    generation: Mutex<u64>,
    cv: Condvar,
    waiters: AtomicUsize,
}

/// Wakes OS threads blocked on sync futures, by lane (see the module docs).
#[derive(Debug)]
pub struct Broadcast {
    lanes: [Lane; LANES],
    /// How often a waiter re-checks without a notify (rule 3).
    tick: Duration,
    mutant: MutantSwitch,
}

impl Default for Broadcast {
    fn default() -> Self {
        Self { lanes: Default::default(), tick: SAFETY_TICK, mutant: MutantSwitch::OFF }
    }
}

impl Broadcast {
    /// A broadcast with no waiters.
    pub fn new() -> Self {
        Self::default()
    }

    /// As [`Broadcast::new`], running a mutant (models only).
    pub fn with_mutant(mutant: MutantSwitch) -> Self {
        Self { mutant, ..Self::default() }
    }

    /// Wakes every waiting thread, on every lane (cheap when none waits).
    pub fn notify_all(&self) {
        self.notify_lanes(u32::MAX);
    }

    /// Wakes the threads on the lanes whose bits are set in `mask` (bit `i`: lane `i`).
    pub fn notify_lanes(&self, mask: u32) {
        fence(Ordering::SeqCst);
        for (i, lane) in self.lanes.iter().enumerate() {
            if mask & (1 << i) == 0 || lane.waiters.load(Ordering::SeqCst) == 0 {
                continue;
            }
            *lock(&lane.generation) += 1;
            lane.cv.notify_all();
        }
    }

    /// Completes each future with `Ok(done)` (rule 2), then wakes the lanes of their waiters.
    /// `completed` runs for each future this call completed (not for one completed before).
    pub fn complete_and_wake<E: Clone>(
        &self,
        futures: &[(SyncFuture<E>, u64)],
        mut completed: impl FnMut(&SyncFuture<E>, u64),
    ) {
        // Mutant: reads the lanes before completing, so a waiter that records its lane and
        // re-checks in between sleeps through its completion.
        let early = self.mutant.is(Mutant::LanesReadEarly).then(|| lanes_of(futures));
        for (f, done) in futures {
            if f.complete(Ok(*done)) {
                completed(f, *done);
            }
        }
        fence(Ordering::SeqCst);
        self.notify_lanes(early.unwrap_or_else(|| lanes_of(futures)));
    }

    /// Blocks on lane `lane` (modulo [`LANES`]) until `fut` completes (its result), or until
    /// `deadline` (then `None`).
    pub fn wait_for<E: Clone>(&self, fut: &SyncFuture<E>, lane: u32, deadline: Instant) -> Option<Result<u64, E>> {
        fut.set_lane(lane);
        self.wait_until(lane as usize, || fut.result(), deadline)
    }

    /// Blocks on lane `lane` (modulo [`LANES`]) until `ready` returns `Some`, or until
    /// `deadline` (then `None`). `ready` must turn `Some` only after a notify of this lane (or
    /// of every lane) is due.
    pub fn wait_until<T>(&self, lane: usize, mut ready: impl FnMut() -> Option<T>, deadline: Instant) -> Option<T> {
        let lane = &self.lanes[lane % LANES];
        lane.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let mut g = lock(&lane.generation);
        let out = loop {
            if let Some(v) = ready() {
                break Some(v);
            }
            #[allow(clippy::disallowed_methods)] // the API edge measures real time for OS threads
            let now = Instant::now();
            if now >= deadline {
                break None;
            }
            let wait = (deadline - now).min(self.tick);
            g = match lane.cv.wait_timeout(g, wait) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        };
        drop(g);
        lane.waiters.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

fn lanes_of<E: Clone>(futures: &[(SyncFuture<E>, u64)]) -> u32 {
    futures.iter().fold(0, |m, (f, _)| m | f.lane_bit())
}

#[cfg(all(test, not(hwal_loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn far() -> Instant {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        now + Duration::from_secs(60)
    }

    /// A completion wakes its waiter's lane and leaves the other lanes asleep: a waiter on
    /// another lane does not re-check (its `ready` is not called again).
    #[test]
    fn a_completion_wakes_only_the_lanes_of_its_futures() {
        let b = Arc::new(Broadcast { tick: Duration::from_secs(600), ..Broadcast::new() });
        let (mine, other) = (SyncFuture::<&str>::new(1, false), SyncFuture::<&str>::new(2, false));
        let checks = Arc::new(AtomicUsize::new(0));
        let sleeper = {
            let (b, other, checks) = (b.clone(), other.clone(), checks.clone());
            std::thread::spawn(move || {
                other.set_lane(2);
                b.wait_until(
                    2,
                    || {
                        checks.fetch_add(1, Ordering::SeqCst);
                        other.result()
                    },
                    far(),
                )
            })
        };
        let waiter = {
            let (b, mine) = (b.clone(), mine.clone());
            std::thread::spawn(move || b.wait_for(&mine, 1, far()))
        };
        // The sleeper has checked once: it is in (or, holding the lane mutex, about to enter)
        // its wait, so a notify of lane 2 from here on would make it check again. No safety
        // tick fires during the test.
        while checks.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let before = checks.load(Ordering::SeqCst);
        let mut completed = Vec::new();
        b.complete_and_wake(&[(mine.clone(), 1)], |f, done| completed.push((f.txid(), done)));
        assert_eq!(waiter.join().unwrap(), Some(Ok(1)));
        assert_eq!(completed, vec![(1, 1)]);
        assert_eq!(checks.load(Ordering::SeqCst), before, "lane 2 was woken by a lane-1 completion");
        b.complete_and_wake(&[(other.clone(), 2)], |_, _| {});
        assert_eq!(sleeper.join().unwrap(), Some(Ok(2)));
    }

    /// A future completed a second time is not reported again, and a waiter that has not
    /// recorded a lane yet is not notified (it sees the result when it checks).
    #[test]
    fn completing_twice_reports_once_and_a_laneless_future_wakes_nobody() {
        let b = Broadcast::new();
        let f = SyncFuture::<&str>::new(7, false);
        assert_eq!(lanes_of(&[(f.clone(), 7)]), 0);
        let mut n = 0;
        b.complete_and_wake(&[(f.clone(), 9)], |_, _| n += 1);
        b.complete_and_wake(&[(f.clone(), 9)], |_, _| n += 1);
        assert_eq!(n, 1);
        assert_eq!(b.wait_for(&f, 3, far()), Some(Ok(9)));
        assert_eq!(f.lane_bit(), 1 << 3);
    }

    /// The deadline ends a wait for a future nobody completes.
    #[test]
    fn a_wait_ends_at_its_deadline() {
        let b = Broadcast::new();
        let f = SyncFuture::<&str>::new(1, false);
        #[allow(clippy::disallowed_methods)]
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(b.wait_for(&f, 0, soon), None);
    }
}
