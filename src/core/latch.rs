//! Async latches: a one-shot [`AsyncLatch`], and HBase 1.x's [`SafePointLatch`]
//! (SafePointZigZagLatch) built from two of them.
//!
//! These replace Java's `CountDownLatch`: they are futures, not blocking waits, so the same code
//! runs on OS threads (blocked at the API edge), in madsim (one thread: a blocking wait would
//! hang the simulation), and under loom.
//!
//! AsyncLatch protocol:
//! 1. `signal` sets the flag and takes the registered wakers under the mutex, then wakes them.
//! 2. A waiter checks the flag, and when unset locks the mutex, re-checks the flag, and only
//!    then registers its waker. Rules 1 and 2 together rule out a missed wake-up.
//!
//! SafePointLatch protocol (one fresh latch per roll):
//! 1. COCKED: created by the roller, both latches unset.
//! 2. The handler (consumer), on reaching the safe point, signals `attained` and then waits for
//!    `released`: nothing is written to the writer while it waits.
//! 3. The roller waits for `attained` — or for the sync it published to fail, so a failed sync
//!    cannot deadlock the roll — swaps the writer, and signals `released`, always.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::mutant::{Mutant, MutantSwitch};
use super::sync_future::SyncFuture;
use crate::sync::{lock, AtomicBool, Mutex, Ordering};

/// A one-shot async latch.
#[derive(Debug)]
pub struct AsyncLatch {
    set: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
    mutant: MutantSwitch,
}

impl Default for AsyncLatch {
    fn default() -> Self {
        Self::new()
    }
}

impl AsyncLatch {
    /// An unset latch.
    pub fn new() -> Self {
        Self::with_mutant(MutantSwitch::OFF)
    }

    /// An unset latch running a mutant (models only).
    pub fn with_mutant(mutant: MutantSwitch) -> Self {
        Self { set: AtomicBool::new(false), wakers: Mutex::new(Vec::new()), mutant }
    }

    /// Sets the latch and wakes every waiter (rule 1). Idempotent.
    pub fn signal(&self) {
        let wakers = {
            let mut w = lock(&self.wakers);
            self.set.store(true, Ordering::Release);
            std::mem::take(&mut *w)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// True once signalled.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Polls the latch, registering the waker when unset (rule 2).
    pub fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_set() {
            return Poll::Ready(());
        }
        let mut w = lock(&self.wakers);
        if !self.mutant.is(Mutant::LatchNoRecheck) && self.set.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// A future that resolves once the latch is set.
    pub fn wait(&self) -> LatchWait<'_> {
        LatchWait { latch: self }
    }
}

/// Future returned by [`AsyncLatch::wait`].
pub struct LatchWait<'a> {
    latch: &'a AsyncLatch,
}

impl Future for LatchWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.latch.poll_wait(cx)
    }
}

/// HBase's SafePointZigZagLatch: the handler and the roller meet at a safe point.
#[derive(Debug, Default)]
pub struct SafePointLatch {
    attained: AsyncLatch,
    released: AsyncLatch,
    mutant: MutantSwitch,
}

impl SafePointLatch {
    /// A cocked latch (rule 1).
    pub fn new() -> Self {
        Self::with_mutant(MutantSwitch::OFF)
    }

    /// A cocked latch running a mutant (models and simulator only).
    pub fn with_mutant(mutant: MutantSwitch) -> Self {
        Self { attained: AsyncLatch::with_mutant(mutant), released: AsyncLatch::with_mutant(mutant), mutant }
    }

    /// True until the handler attains the safe point.
    pub fn is_cocked(&self) -> bool {
        !self.attained.is_set()
    }

    /// True once the roller released the handler.
    pub fn is_released(&self) -> bool {
        self.released.is_set()
    }

    /// Handler side (rule 2): signal the safe point, then wait until released.
    pub async fn safe_point_attained(&self) {
        self.attained.signal();
        if self.mutant.is(Mutant::ZigZagNoWait) {
            return;
        }
        self.released.wait().await;
    }

    /// Roller side (rule 3): resolves `Ok` once the safe point is attained, or `Err` as soon as
    /// `sync` completes with an error.
    pub fn wait_safe_point<'a, E: Clone>(&'a self, sync: &'a SyncFuture<E>) -> WaitSafePoint<'a, E> {
        WaitSafePoint { latch: self, sync }
    }

    /// Roller side (rule 3): lets the handler continue. Always called, even after a failure.
    pub fn release_safe_point(&self) {
        self.released.signal();
    }
}

/// Future returned by [`SafePointLatch::wait_safe_point`].
pub struct WaitSafePoint<'a, E> {
    latch: &'a SafePointLatch,
    sync: &'a SyncFuture<E>,
}

impl<E: Clone> Future for WaitSafePoint<'_, E> {
    type Output = Result<(), E>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.latch.attained.poll_wait(cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        match self.sync.poll_done(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // A successful sync alone is not the safe point: keep waiting for `attained`.
            Poll::Ready(Ok(_)) | Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(all(test, not(hwal_loom)))]
mod tests {
    use super::*;
    use crate::env::block_on;

    /// A signalled latch releases current and future waiters.
    #[test]
    fn latch_releases_waiters() {
        let l = std::sync::Arc::new(AsyncLatch::new());
        let l2 = l.clone();
        let t = std::thread::spawn(move || block_on(l2.wait()));
        l.signal();
        t.join().unwrap();
        block_on(l.wait());
        assert!(l.is_set());
    }

    /// The roller's wait ends with the sync's error when the sync fails before the safe point.
    #[test]
    fn failed_sync_ends_safe_point_wait() {
        let latch = SafePointLatch::new();
        let sync: SyncFuture<&'static str> = SyncFuture::new(3, false);
        sync.complete(Err("disk gone"));
        assert_eq!(block_on(latch.wait_safe_point(&sync)), Err("disk gone"));
        assert!(latch.is_cocked());
    }

    /// Zig-zag on two threads: handler attains and parks; roller proceeds, then releases.
    #[test]
    fn zigzag_handshake() {
        let latch = std::sync::Arc::new(SafePointLatch::new());
        let h = latch.clone();
        let handler = std::thread::spawn(move || block_on(h.safe_point_attained()));
        let sync: SyncFuture<()> = SyncFuture::new(1, false);
        block_on(latch.wait_safe_point(&sync)).unwrap();
        assert!(!latch.is_cocked());
        latch.release_safe_point();
        handler.join().unwrap();
    }
}
