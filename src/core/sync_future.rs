//! SyncFuture: the handle a caller waits on until its txid is durable.
//!
//! Protocol:
//! 1. A future is created pending with the caller's txid and whether it asks for hsync.
//! 2. It is completed exactly once, by [`SyncFuture::complete`]: the first call wins and returns
//!    true; later calls change nothing and return false. A successful completion carries a done
//!    txid that is at least the future's own txid (asserted).
//! 3. Completion and waker registration happen under the same mutex, and a waiter re-checks the
//!    result after registering, so no waiter misses its wake-up. Any number of waiters may wait
//!    (the caller, and the roller waiting for a safe point).
//! 4. Waiting is a plain `Future`: async callers `.await` it; OS-thread callers block on it at
//!    the API edge; timeouts are the caller's (the engine races it against `Env::sleep`). A waiter
//!    that gives up leaves the future pending for its completer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::mutant::{Mutant, MutantSwitch};
use crate::sync::{lock, Arc, AtomicBool, AtomicU32, Mutex, Ordering};

struct State<E> {
    result: Option<Result<u64, E>>,
    wakers: Vec<Waker>,
}

struct Inner<E> {
    txid: u64,
    force_sync: bool,
    done: AtomicBool,
    /// The waiter is an OS thread that wakes itself to nudge the engine (`mark_self_nudging`).
    self_nudging: AtomicBool,
    /// The broadcast lane its OS-thread waiter sleeps on, `NO_LANE` when none (`set_lane`).
    lane: AtomicU32,
    state: Mutex<State<E>>,
    mutant: MutantSwitch,
}

const NO_LANE: u32 = u32::MAX;

/// A completable, awaitable handle for "txid is durable". Cloning shares the same future.
pub struct SyncFuture<E> {
    inner: Arc<Inner<E>>,
}

impl<E> Clone for SyncFuture<E> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<E: Clone> std::fmt::Debug for SyncFuture<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncFuture")
            .field("txid", &self.inner.txid)
            .field("force_sync", &self.inner.force_sync)
            .field("done", &self.is_done())
            .finish()
    }
}

impl<E: Clone> SyncFuture<E> {
    /// A pending future for `txid`; `force_sync` asks for hsync rather than hflush.
    pub fn new(txid: u64, force_sync: bool) -> Self {
        Self::with_mutant(txid, force_sync, MutantSwitch::OFF)
    }

    /// As [`SyncFuture::new`], running a mutant (models and simulator only).
    pub fn with_mutant(txid: u64, force_sync: bool, mutant: MutantSwitch) -> Self {
        let state = State { result: None, wakers: Vec::new() };
        Self {
            inner: Arc::new(Inner {
                txid,
                force_sync,
                done: AtomicBool::new(false),
                self_nudging: AtomicBool::new(false),
                lane: AtomicU32::new(NO_LANE),
                state: Mutex::new(state),
                mutant,
            }),
        }
    }

    /// The txid this future waits for.
    pub fn txid(&self) -> u64 {
        self.inner.txid
    }

    /// True when the caller asked for hsync (HBase's `forceSync`).
    pub fn force_sync(&self) -> bool {
        self.inner.force_sync
    }

    /// Marks the future's waiter as one that wakes up on its own while it waits and asks the
    /// engine to end any hold on its sync (a blocking caller; `Config::sync_coalesce`), so the
    /// engine needs no timer for it. Set before the future is published.
    pub fn mark_self_nudging(&self) {
        self.inner.self_nudging.store(true, Ordering::Release);
    }

    /// True when [`SyncFuture::mark_self_nudging`] was called.
    pub fn self_nudging(&self) -> bool {
        self.inner.self_nudging.load(Ordering::Acquire)
    }

    /// Records the broadcast lane the waiter is about to sleep on (before it re-checks the
    /// result: SeqCst, so a completer that reads the lane after completing either sees this
    /// lane or completed before the waiter's re-check).
    pub fn set_lane(&self, lane: u32) {
        self.inner.lane.store(lane, Ordering::SeqCst);
    }

    /// The bit of the waiter's broadcast lane, 0 when no OS thread sleeps on one.
    pub fn lane_bit(&self) -> u32 {
        match self.inner.lane.load(Ordering::SeqCst) {
            NO_LANE => 0,
            l => 1 << (l % 32),
        }
    }

    /// True once completed (a snapshot).
    pub fn is_done(&self) -> bool {
        self.inner.done.load(Ordering::Acquire)
    }

    /// True when both handles are the same future.
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Completes the future (rule 2). Returns false if it was already completed.
    pub fn complete(&self, result: Result<u64, E>) -> bool {
        if let Ok(done) = &result {
            assert!(
                *done >= self.inner.txid,
                "sync future for txid {} completed with lower done txid {done}",
                self.inner.txid
            );
        }
        let wakers = {
            let mut st = lock(&self.inner.state);
            if st.result.is_some() {
                return false;
            }
            st.result = Some(result);
            self.inner.done.store(true, Ordering::Release);
            std::mem::take(&mut st.wakers)
        };
        for w in wakers {
            w.wake();
        }
        true
    }

    /// The result, if completed.
    pub fn result(&self) -> Option<Result<u64, E>> {
        if !self.is_done() {
            return None;
        }
        lock(&self.inner.state).result.clone()
    }

    /// Polls for completion, registering `cx`'s waker when pending (rule 3).
    pub fn poll_done(&self, cx: &mut Context<'_>) -> Poll<Result<u64, E>> {
        if let Some(r) = self.result() {
            return Poll::Ready(r);
        }
        let no_recheck = self.inner.mutant.is(Mutant::SyncFutureNoRecheck);
        // Mutant: registers without re-checking, so a completion between the check above and
        // this registration is missed.
        let mut st = lock(&self.inner.state);
        if !no_recheck {
            if let Some(r) = &st.result {
                return Poll::Ready(r.clone());
            }
        }
        if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            st.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// A future that resolves with the completion result.
    pub fn wait(&self) -> SyncWait<E> {
        SyncWait { future: self.clone() }
    }
}

/// Future returned by [`SyncFuture::wait`].
pub struct SyncWait<E> {
    future: SyncFuture<E>,
}

impl<E: Clone> Future for SyncWait<E> {
    type Output = Result<u64, E>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.poll_done(cx)
    }
}

#[cfg(all(test, not(hwal_loom)))]
mod tests {
    use super::*;

    /// First completion wins; the loser changes nothing (HBase `TestSyncFuture.testGet` shape).
    #[test]
    fn first_completion_wins() {
        let f: SyncFuture<&'static str> = SyncFuture::new(7, false);
        assert!(!f.is_done());
        assert!(f.complete(Ok(9)));
        assert!(!f.complete(Err("late")));
        assert_eq!(f.result(), Some(Ok(9)));
    }

    /// A done txid below the future's own txid is a programming error.
    #[test]
    #[should_panic(expected = "lower done txid")]
    fn done_txid_must_cover_own_txid() {
        let f: SyncFuture<()> = SyncFuture::new(7, true);
        f.complete(Ok(6));
    }
}
