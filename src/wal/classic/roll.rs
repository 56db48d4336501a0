//! The classic roll (HBase 1.x `replaceWriter` with the SafePointZigZagLatch) and shutdown.
//!
//! Roll steps:
//! 1. Claim a ring slot *before* cocking the latch (with the handler parked and the ring full,
//!    claiming afterwards would deadlock).
//! 2. Cock a fresh latch where the handler looks for it, and publish a sync in the slot: only
//!    batches that hand syncs to runners reach the safe-point check.
//! 3. Wait until the handler attains the safe point. If the roll's sync fails first, HBase 1.x
//!    aborts the server when edits are unflushed; hwal keeps waiting for the handler instead
//!    (it always gets there once the batch's syncs are done or failed), so the roll neither
//!    deadlocks nor swaps under a running handler. The failure already reached the callers.
//! 4. Close the old writer (trailer + sync), install the new one, record the rolled file.
//! 5. Always release the handler.

use crate::core::latch::SafePointLatch;
use crate::sync::{lock, Arc, Ordering};

use super::Classic;
use crate::wal::error::{WalError, WalResult};
use crate::wal::lifecycle::RolledFile;
use crate::wal::listener::{Counters, WalEvent};
use crate::wal::record::{Fut, Truck};
use crate::wal::shared::{fail_all, fail_ring, PipelineImpl, WalShared};
use crate::wal::writer::LogWriter;

impl Classic {
    pub(super) async fn replace_writer_impl(self: &Arc<Self>, next: LogWriter) -> (Option<RolledFile>, String) {
        let b = &self.base;
        // Step 1: the roll holds the roll lock and `closed` is checked under it, so the claim
        // cannot be refused for closing; it may wait for space.
        let seq = loop {
            let space = b.ring_space.listen();
            if let Some(s) = b.ring.try_claim() {
                break s;
            }
            space.await;
        };
        let latch = Arc::new(SafePointLatch::with_mutant(b.mutant));
        *lock(&self.latch) = Some(latch.clone());
        let sync = Fut::with_mutant(seq, false, b.mutant);
        b.ring.publish(seq, Truck::Sync(sync.clone()));
        self.after_publish();
        if let Err(e) = latch.wait_safe_point(&sync).await {
            tracing::warn!(target: "hwal::wal", error = %e, "the roll's sync failed before the safe point; waiting for the handler");
            latch.wait_safe_point(&Fut::new(u64::MAX, false)).await.expect("a pending future never fails");
        }
        // Steps 4–5: the handler is parked and every runner idle.
        let old = lock(&self.writer).take();
        let old_path = old.as_ref().map(|w| w.path().to_string());
        if let Some(w) = &old {
            // Everything appended so far went to the old writer (the handler is parked).
            let unsynced = self.highest_unsynced.load(Ordering::Acquire);
            match w.close(false).await {
                // A clean close flushes and syncs: all of it is durable now.
                Ok(()) => {
                    WalShared::raise(&b.highest_synced, unsynced);
                    WalShared::raise(&b.highest_hsynced, unsynced);
                }
                // Never durable, and 1.x does not re-write: syncs of these txids must fail.
                Err(e) => {
                    tracing::warn!(target: "hwal::wal", file = w.path(), error = %e, "closing the old writer failed");
                    let synced = b.highest_synced.load(Ordering::Acquire);
                    for txid in synced + 1..=unsynced {
                        self.mark_lost(txid);
                    }
                }
            }
        }
        let new_path = next.path().to_string();
        let highest = lock(&b.accounting).reset_highest();
        *lock(&self.writer) = Some(next);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.writer_failed.store(false, Ordering::SeqCst);
        self.entries_since_roll.store(0, Ordering::Release);
        b.roll_requested.store(false, Ordering::SeqCst);
        *lock(&self.latch) = None;
        latch.release_safe_point();
        Counters::add(&b.counters.rolls, 1);
        b.emit(WalEvent::Rolled { old: old_path, new: new_path.clone(), epoch: self.gen(), rewritten: 0 });
        let rolled =
            old.map(|w| RolledFile { number: w.file_number(), path: w.path().to_string(), highest, size: w.length() });
        (rolled, new_path)
    }

    /// HBase 1.x `shutdown`: drain what was published (bounded), stop the handler and runners,
    /// fail what is left with `Closed`, close the writer.
    pub(super) async fn shutdown_impl(self: &Arc<Self>) -> WalResult<()> {
        let b = &self.base;
        let drained = b
            .within_shutdown_timeout(async {
                loop {
                    let l = self.progress.listen();
                    let ring_empty = !b.ring.has_published(&self.handler.lock().await.ring_consumer);
                    if ring_empty && self.handler_idle.load(Ordering::SeqCst) && !self.runners_busy() {
                        return;
                    }
                    self.handler_notify.notify_one();
                    l.await;
                }
            })
            .await
            .is_some();
        self.stopped.store(true, Ordering::SeqCst);
        self.handler_notify.notify_one();
        for r in &self.runners {
            r.notify.notify_one();
        }
        self.progress.notify_all();
        {
            let mut hs = self.handler.lock().await;
            fail_ring(b, &mut hs.ring_consumer);
            fail_all(b, hs.batch.drain(..), &WalError::Closed);
        }
        for r in &self.runners {
            let queued: Vec<_> = lock(&r.queue).drain(..).collect();
            fail_all(b, queued, &WalError::Closed);
        }
        let writer = lock(&self.writer).take();
        let Some(w) = writer else { return Ok(()) };
        // Always try the trailer: a failure may have been transient. Excuse the close of a
        // writer known to have failed (or not drained) if it cannot finish.
        let broken = self.writer_failed.load(Ordering::SeqCst) || !drained;
        match w.close(!drained).await {
            Ok(()) => Ok(()),
            // A writer that already failed cannot close cleanly; nothing it held unsynced was
            // acknowledged (those syncs failed).
            Err(e) if broken => {
                tracing::warn!(target: "hwal::wal", file = w.path(), error = %e, "closing a failed writer failed");
                Ok(())
            }
            Err(e) => Err(WalError::io("close", w.path(), e)),
        }
    }
}
