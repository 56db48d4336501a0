//! Writer replacement and shutdown for the scheduled pipeline (HBase 3.x `rollWriter`,
//! `waitForSafePoint`, `doReplaceWriter`, `doShutdown`), and the roller task.
//!
//! Roll protocol (transitions T1–T5 of the spec):
//! 1. T1: under the consumer mutex, unless the writer is broken, set waiting-roll, force the
//!    consumer flag on and submit a run; wait until the consumer sets `ready_for_rolling`.
//! 2. The consumer, seeing waiting-roll, drains nothing; it syncs what was written and reports
//!    ready once `unacked` is empty (T2/T3), or immediately when the writer breaks (T4).
//! 3. The old writer is taken out and closed (trailer + hsync) unless broken. A clean close
//!    makes everything it held hsynced; a failed one re-queues the not-yet-hsynced entries.
//! 4. T5: under the consumer mutex, install the new writer, reset the sync bookkeeping, bump the
//!    epoch (clearing both state bits), clear the roll request, and reschedule the consumer.

use crate::sync::{lock, Ordering};

use super::Scheduled;
use crate::wal::error::{WalError, WalResult};
use crate::wal::lifecycle::RolledFile;
use crate::wal::listener::{Counters, WalEvent};
use crate::wal::shared::{fail_all, fail_ring, WalShared};
use crate::wal::writer::LogWriter;

impl Scheduled {
    /// T1: waits until the consumer reports ready (no-op when the writer is already broken).
    async fn wait_for_safe_point(&self) {
        {
            let mut st = lock(&self.consumer);
            if self.word.load().writer_broken() || st.writer.is_none() {
                return;
            }
            self.gate.force_schedule();
            self.word.set_waiting_roll();
            st.ready_for_rolling = false;
        }
        self.schedule_consumer();
        loop {
            let l = self.ready_event.listen();
            if lock(&self.consumer).ready_for_rolling {
                return;
            }
            l.await;
        }
    }

    /// Steps 1–4; returns the rolled file (if there was a current one) and the new path.
    pub(super) async fn replace_writer_impl(&self, next: LogWriter) -> (Option<RolledFile>, String) {
        self.wait_for_safe_point().await;
        let (old, broken) = {
            let mut st = lock(&self.consumer);
            (st.writer.take(), self.word.load().writer_broken())
        };
        let old_path = old.as_ref().map(|w| w.path().to_string());
        if let Some(old) = &old {
            self.close_old_writer(old, broken).await;
        }
        let new_path = next.path().to_string();
        let (epoch, rewritten, highest) = {
            let mut st = lock(&self.consumer);
            st.file_length_at_last_sync = next.length();
            st.highest_processed_txid_at_last_sync = 0;
            st.entries_since_roll = 0;
            st.inflight_syncs = 0;
            st.sync_deferred = false;
            st.reappend_wait = 0;
            st.coalesce_gen += 1;
            st.writer = Some(next);
            let rewritten = st.to_write.iter().take_while(|r| r.txid <= st.rewrite_until).count() as u64;
            let highest = lock(&self.base.accounting).reset_highest();
            self.gate.force_schedule();
            let epoch = self.word.advance_epoch();
            self.base.roll_requested.store(false, Ordering::SeqCst);
            (epoch, rewritten, highest)
        };
        Counters::add(&self.base.counters.rolls, 1);
        self.base.emit(WalEvent::Rolled { old: old_path, new: new_path.clone(), epoch, rewritten });
        self.schedule_consumer();
        let rolled =
            old.map(|w| RolledFile { number: w.file_number(), path: w.path().to_string(), highest, size: w.length() });
        (rolled, new_path)
    }

    /// Step 3: close the old writer; on success its entries are hsynced.
    async fn close_old_writer(&self, old: &LogWriter, broken: bool) {
        let result = old.close(broken).await;
        let mut st = lock(&self.consumer);
        match result {
            Ok(()) if !broken => {
                WalShared::raise(&self.base.highest_hsynced, old.max_txid());
                self.trim_unhsynced(&mut st);
                self.finish_sync(&mut st);
                self.unlock(st);
            }
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(target: "hwal::wal", file = old.path(), error = %e, "closing the old writer failed");
                // Entries acked by hflush but never hsynced must reach the next writer.
                let requeue: Vec<_> = st.unhsynced.drain(..).collect();
                st.unhsynced_bytes = 0;
                if let Some(last) = requeue.last() {
                    st.rewrite_until = st.rewrite_until.max(last.txid);
                }
                for rec in requeue.into_iter().rev() {
                    st.to_write.push_front(rec);
                }
            }
        }
    }

    /// HBase `doShutdown`: reach the safe point (bounded), close the writer, stop the tasks and
    /// fail every pending sync with `Closed`.
    pub(super) async fn shutdown_impl(&self) -> WalResult<()> {
        let reached = self.base.within_shutdown_timeout(self.wait_for_safe_point()).await.is_some();
        let (writer, broken) = {
            let mut st = lock(&self.consumer);
            (st.writer.take(), self.word.load().writer_broken() || !reached)
        };
        let mut result = Ok(());
        if let Some(w) = writer {
            match w.close(broken).await {
                Ok(()) => {}
                // A broken stream failing to close is expected; what it held unacked was never
                // acknowledged to anyone.
                Err(e) if broken => {
                    tracing::warn!(target: "hwal::wal", file = w.path(), error = %e, "closing a broken writer failed")
                }
                Err(e) => result = Err(WalError::io("close", w.path(), e)),
            }
        }
        self.stopped.store(true, Ordering::SeqCst);
        {
            let mut st = lock(&self.consumer);
            fail_ring(&self.base, &mut st.ring_consumer);
            let pending = std::mem::take(&mut st.sync_futures);
            fail_all(&self.base, pending.into_values(), &WalError::Closed);
        }
        lock(&self.runners).clear();
        self.consume_notify.notify_one();
        result
    }
}
