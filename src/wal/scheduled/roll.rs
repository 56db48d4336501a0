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

use std::collections::BTreeMap;
use std::time::Duration;

use crate::sync::{lock, Arc, Ordering};

use super::lifecycle::{LowReplication, RolledFile};
use super::Shared;
use crate::wal::accounting::FlushRequest;
use crate::wal::error::{WalError, WalResult};
use crate::wal::listener::{Counters, WalEvent};
use crate::wal::record::Truck;
use crate::wal::writer::LogWriter;

/// Roller bookkeeping, guarded by the roll lock.
pub(crate) struct RollerState {
    pub last_roll: Duration,
    /// Rolled, not yet archived files by file number (HBase `walFile2Props`).
    pub rolled: BTreeMap<u64, RolledFile>,
    pub low_replication: LowReplication,
}

impl RollerState {
    pub fn new(now: Duration) -> Self {
        Self {
            last_roll: now,
            rolled: BTreeMap::new(),
            low_replication: LowReplication { consecutive_rolls: 0, enabled: true, last_check: now },
        }
    }
}

/// What a roll did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollOutcome {
    /// The file rolled away from.
    pub old: Option<String>,
    /// The new current file.
    pub new: String,
    /// Files archived after the roll.
    pub archived: Vec<String>,
    /// Above `max_logs`: the regions and families to flush so the oldest file can go.
    pub regions_to_flush: Option<FlushRequest>,
}

impl Shared {
    /// The roller task (HBase `AbstractWALRoller`): rolls on request and on period, and checks
    /// replication.
    pub(super) async fn roller_task(self: Arc<Self>) {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            let woken = self.roll_event.listen();
            let due = {
                let mut rs = self.roll_lock.lock().await;
                self.check_low_replication(&mut rs.low_replication);
                self.env.now().saturating_sub(rs.last_roll) >= self.cfg.roll_period
            };
            if self.roll_requested.load(Ordering::SeqCst) || due {
                match self.roll_writer(true).await {
                    Ok(_) => {}
                    Err(WalError::Closed) => return,
                    Err(e) => {
                        tracing::warn!(target: "hwal::wal", error = %e, "roll failed; retrying");
                        self.env.sleep(self.cfg.roller_wake_frequency.min(Duration::from_secs(1))).await;
                    }
                }
                continue;
            }
            let nap = self.cfg.roller_wake_frequency.min(self.cfg.low_replication_check_interval);
            let wake = self.env.sleep(nap);
            crate::wal::timeout::with_timeout(woken, move || wake).await;
        }
    }

    /// Rolls the writer (HBase `rollWriter(force)`). Without `force`, a writer with no entries
    /// is kept. After the swap, archives what it can and reports forced flushes.
    pub async fn roll_writer(&self, force: bool) -> WalResult<Option<RollOutcome>> {
        let mut rs = self.roll_lock.lock().await;
        if self.closed.load(Ordering::SeqCst) {
            return Err(WalError::Closed);
        }
        if !force && lock(&self.consumer).entries_since_roll == 0 {
            return Ok(None);
        }
        // Clear the request before rolling, so one arriving during the roll is kept.
        self.roll_requested.store(false, Ordering::SeqCst);
        let next = match self.create_writer().await {
            Ok(w) => w,
            Err(e) => {
                self.roll_requested.store(true, Ordering::SeqCst);
                return Err(e);
            }
        };
        let (old, new) = self.replace_writer(next).await;
        rs.last_roll = self.env.now();
        self.reset_slow_sync_window();
        let old_path = old.as_ref().map(|f| f.path.clone());
        if let Some(f) = old {
            rs.rolled.insert(f.number, f);
        }
        let archived = self.clean_old_logs(&mut rs.rolled).await;
        let regions_to_flush = self.find_regions_to_force_flush(&rs.rolled);
        Ok(Some(RollOutcome { old: old_path, new, archived, regions_to_flush }))
    }

    /// Rolled files not yet archived, oldest first.
    pub async fn rolled_files(&self) -> Vec<RolledFile> {
        self.roll_lock.lock().await.rolled.values().cloned().collect()
    }

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
    async fn replace_writer(&self, next: LogWriter) -> (Option<RolledFile>, String) {
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
            st.writer = Some(next);
            let rewritten = st.to_write.iter().take_while(|r| r.txid <= st.rewrite_until).count() as u64;
            let highest = lock(&self.accounting).reset_highest();
            self.gate.force_schedule();
            let epoch = self.word.advance_epoch();
            self.roll_requested.store(false, Ordering::SeqCst);
            (epoch, rewritten, highest)
        };
        Counters::add(&self.counters.rolls, 1);
        self.emit(WalEvent::Rolled { old: old_path, new: new_path.clone(), epoch, rewritten });
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
                Self::raise(&self.highest_hsynced, old.max_txid());
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

    /// Shuts the pipeline down (HBase `shutdown` + `doShutdown`): new calls fail with
    /// `Closed`; what is written is synced and the writer closed; every pending sync fails with
    /// `Closed`. Never waits longer than `shutdown_timeout` for the safe point.
    pub async fn close(&self) -> WalResult<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        fence_seq_cst();
        self.roll_event.notify_all();
        self.ring_space.notify_all();
        let timeout = self.cfg.shutdown_timeout;
        let env = self.env.clone();
        let guard = crate::wal::timeout::with_timeout(self.roll_lock.lock(), move || env.sleep(timeout)).await;
        let env = self.env.clone();
        let reached =
            crate::wal::timeout::with_timeout(self.wait_for_safe_point(), move || env.sleep(timeout)).await.is_some();
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
        self.fail_pending();
        lock(&self.runners).clear();
        self.consume_notify.notify_one();
        drop(guard);
        self.emit(WalEvent::Closed);
        self.closed_event.notify_all();
        result
    }

    /// Fails every sync future in the ring and in the consumer's set with `Closed`.
    fn fail_pending(&self) {
        let mut st = lock(&self.consumer);
        while let Some((_, truck)) = self.ring.poll(&mut st.ring_consumer) {
            if let Truck::Sync(f) = truck {
                f.complete(Err(WalError::Closed));
            }
        }
        self.ring.release(&st.ring_consumer);
        for (_, f) in std::mem::take(&mut st.sync_futures) {
            f.complete(Err(WalError::Closed));
        }
        self.ring_space.notify_all();
    }
}

fn fence_seq_cst() {
    crate::sync::fence(Ordering::SeqCst);
}
