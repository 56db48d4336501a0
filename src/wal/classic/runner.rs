//! Classic sync runners (HBase 1.x `SyncRunner.run`).
//!
//! Rules:
//! 1. Take the oldest queued future; `cur` = the runner's sequence (every append up to it is in
//!    the writer). If the watermark already covers it, complete it and take the next.
//! 2. Read `highest_unsynced` before syncing: the sync covers `max(cur, that)`.
//! 3. Sync with hsync when any queued future asks for it (HBase honoured only the taken
//!    future's flag, HBASE-23587; hwal never releases an FSYNC request on an hflush).
//! 4. Success: raise the watermarks, complete the taken future and every queued one the sync
//!    covers. Failure: fail them all and request a roll; nothing is re-written (1.x).
//! 5. At most `max_inflight_syncs` runners sync at once (HBase 1.x: unbounded, i.e. 0). On a
//!    local disk overlapping fdatasyncs serialise; waiting for the slot lets one sync cover
//!    everything appended meanwhile, and runners whose futures it covered answer them
//!    without syncing (rule 1).
//! 6. With `direct_sync` and a file that completes syncs on its own I/O thread
//!    (`WalFile::sync_then`), rule 4 runs on that thread: callers are woken by the thread that
//!    synced and the next sync may start at once, without waiting for this task to be
//!    scheduled again. `direct_sync = false`: the runner awaits the sync and runs rule 4
//!    itself, as HBase's SyncRunner threads do.
//! 7. With `direct_sync`, a successful sync also completes what it covers in the other
//!    runners' queues, instead of leaving each to be found covered when its runner next wakes
//!    (rule 1; HBase 1.x's behaviour, kept with `direct_sync = false`).

use std::time::Duration;

use crate::core::latch::AsyncLatch;
use crate::core::mutant::Mutant;
use crate::env::SyncDone;
use crate::sync::{lock, Arc, Ordering};

use super::Classic;
use crate::wal::error::WalError;
use crate::wal::listener::{Counters, RollReason, WalEvent};
use crate::wal::record::Fut;
use crate::wal::shared::{complete_all, PipelineImpl, WalShared};

impl Classic {
    pub(super) async fn runner_task(self: Arc<Self>, index: usize) {
        let r = &self.runners[index];
        loop {
            let Some(first) = self.take(index).await else { return };
            // Rule 1: what another runner's sync already covers needs no sync of its own.
            let Some(first) = self.complete_covered(index, first) else {
                self.idle(index);
                continue;
            };
            // Rule 5: wait for a sync slot; what queues meanwhile joins this sync. The slot is
            // given back by whoever finishes the sync (rule 6), not when this task wakes up.
            if let Some(s) = &self.sync_permits {
                s.acquire().await.expect("the semaphore is never closed").forget();
            }
            let Some(first) = self.complete_covered(index, first) else {
                self.release_sync_slot();
                self.idle(index);
                continue;
            };
            let cur = r.sequence.load(Ordering::SeqCst).max(first.txid());
            let unsynced = self.highest_unsynced.load(Ordering::Acquire);
            let hsync = first.force_sync() || lock(&r.queue).iter().any(Fut::force_sync);
            let file = lock(&self.writer).as_ref().map(|w| w.file().clone());
            let start = self.base.env.now();
            let done = cur.max(unsynced);
            self.base.note_sync_issued(done);
            let Some(f) = file else {
                self.fail(index, first, done, &std::io::Error::other("no writer (WAL closing)"));
                self.release_sync_slot();
                self.idle(index);
                continue;
            };
            if self.base.mutant(Mutant::CompleteBeforeSync) {
                // Mutant: completes the futures before the data is durable.
                self.finish(index, first.clone(), done, unsynced, hsync, Duration::ZERO);
                let _ = if hsync { f.hsync().await } else { f.hflush().await };
                self.release_sync_slot();
                self.idle(index);
                continue;
            }
            // Rule 4, run by whichever thread the sync ends on (rule 6).
            let finished = Arc::new(AsyncLatch::new());
            let (me, signal) = (self.clone(), finished.clone());
            let on_done: SyncDone = Box::new(move |result: std::io::Result<u64>| {
                match result {
                    Ok(_) => {
                        let elapsed = me.base.env.now().saturating_sub(start);
                        me.finish(index, first, done, unsynced, hsync, elapsed)
                    }
                    Err(e) => me.fail(index, first, done, &e),
                }
                me.release_sync_slot();
                signal.signal();
            });
            let on_done = if self.base.cfg.direct_sync { f.sync_then(hsync, on_done) } else { Err(on_done) };
            if let Err(on_done) = on_done {
                on_done(if hsync { f.hsync().await } else { f.hflush().await });
            }
            finished.wait().await;
            self.idle(index);
        }
    }

    /// Gives back the sync slot taken in rule 5.
    fn release_sync_slot(&self) {
        if let Some(s) = &self.sync_permits {
            s.add_permits(1);
        }
    }

    /// Rule 1: if the watermarks already cover `first`, completes it and every queued future
    /// they cover, at once (failing lost ones), and returns `None`; otherwise hands `first` back.
    fn complete_covered(&self, index: usize, first: Fut) -> Option<Fut> {
        let (synced, hsynced) =
            (self.base.highest_synced.load(Ordering::Acquire), self.base.highest_hsynced.load(Ordering::Acquire));
        let covered = |f: &Fut| f.txid() <= synced && (!f.force_sync() || f.txid() <= hsynced);
        if !covered(&first) {
            return Some(first);
        }
        let mut done = vec![first];
        {
            let mut q = lock(&self.runners[index].queue);
            while q.front().is_some_and(&covered) {
                done.push(q.pop_front().expect("front exists"));
            }
        }
        let (lost, ok): (Vec<Fut>, Vec<Fut>) = done.into_iter().partition(|f| self.is_lost(f.txid()));
        if !lost.is_empty() {
            for f in lost {
                f.complete(Err(lost_error(f.txid())));
            }
            self.base.blocking.notify_all();
        }
        complete_all(&self.base, ok.into_iter().map(|f| (f, synced)).collect());
        None
    }

    /// Waits for the next future of runner `index`; `None` once stopped.
    async fn take(&self, index: usize) -> Option<Fut> {
        let r = &self.runners[index];
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return None;
            }
            let notified = r.notify.notified();
            {
                let mut q = lock(&r.queue);
                if let Some(f) = q.pop_front() {
                    r.busy.store(true, Ordering::SeqCst);
                    return Some(f);
                }
            }
            notified.await;
        }
    }

    fn idle(&self, index: usize) {
        self.runners[index].busy.store(false, Ordering::SeqCst);
        self.progress.notify_all();
    }

    /// Rule 4, success.
    /// `done`: the ring sequence the sync covers (sync slots included, as 1.x counts it);
    /// `written`: the highest appended txid it made durable.
    fn finish(&self, index: usize, first: Fut, done: u64, written: u64, hsync: bool, elapsed: Duration) {
        WalShared::raise(&self.base.highest_synced, done);
        if hsync {
            WalShared::raise(&self.base.highest_hsynced, done);
        }
        let mut completed = vec![(first, done)];
        // Rule 4; with `direct_sync` also what waits in the other runners' queues (rule 7).
        let n = self.runners.len();
        let queues = if self.base.cfg.direct_sync { n } else { 1 };
        for i in 0..queues {
            let mut q = lock(&self.runners[(index + i) % n].queue);
            while q.front().is_some_and(|f| f.txid() <= done && (hsync || !f.force_sync())) {
                completed.push((q.pop_front().expect("front exists"), done));
            }
        }
        let futures = completed.len() as u64;
        let (lost, completed): (Vec<_>, Vec<_>) = completed.into_iter().partition(|(f, _)| self.is_lost(f.txid()));
        if !lost.is_empty() {
            for (f, _) in lost {
                f.complete(Err(lost_error(f.txid())));
            }
            self.base.blocking.notify_all();
        }
        complete_all(&self.base, completed);
        Counters::add(&self.base.counters.syncs, 1);
        let synced = self.base.highest_synced.load(Ordering::Acquire);
        let elapsed_us = elapsed.as_micros() as u64;
        self.base.emit(WalEvent::SyncDone { epoch: self.gen(), txid: written, hsync, synced, futures, elapsed_us });
        self.base.post_sync(elapsed);
        // HBase 1.x `checkLogRoll`: low replication first, then size.
        if let Some((replication, entries)) = self.writer_health() {
            self.base.check_low_replication_after_sync(replication, entries);
        }
        let len = lock(&self.writer).as_ref().map_or(0, |w| w.length());
        if len > self.base.cfg.roll_size_bytes {
            self.base.request_roll(RollReason::Size);
        }
    }

    /// Rule 4, failure: the taken future and every queued one up to `done` fail.
    fn fail(&self, index: usize, first: Fut, done: u64, e: &std::io::Error) {
        let err = WalError::Io {
            op: "sync",
            path: self.current_path(),
            source: Arc::new(std::io::Error::new(e.kind(), e.to_string())),
        };
        self.base.emit(WalEvent::SyncFailed { epoch: self.gen(), txid: done, error: e.to_string() });
        first.complete(Err(err.clone()));
        let mut q = lock(&self.runners[index].queue);
        while q.front().is_some_and(|f| f.txid() <= done) {
            q.pop_front().expect("front exists").complete(Err(err.clone()));
        }
        drop(q);
        self.base.blocking.notify_all();
        self.writer_failed.store(true, Ordering::SeqCst);
        self.base.request_roll(RollReason::Error);
    }

    fn current_path(&self) -> String {
        lock(&self.writer).as_ref().map(|w| w.path().to_string()).unwrap_or_default()
    }
}

fn lost_error(txid: u64) -> WalError {
    WalError::WriterBroken(format!("txid {txid} was on a writer that failed before syncing it"))
}
