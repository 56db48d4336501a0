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

use std::time::Duration;

use crate::core::mutant::Mutant;
use crate::sync::{lock, Arc, Ordering};

use super::Classic;
use crate::wal::error::WalError;
use crate::wal::listener::{Counters, RollReason, WalEvent};
use crate::wal::record::Fut;
use crate::wal::shared::{complete_all, WalShared};

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
            // Rule 5: wait for a sync slot; what queues meanwhile joins this sync.
            let _permit = match &self.sync_permits {
                Some(s) => Some(s.acquire().await.expect("the semaphore is never closed")),
                None => None,
            };
            let Some(first) = self.complete_covered(index, first) else {
                self.idle(index);
                continue;
            };
            let cur = r.sequence.load(Ordering::SeqCst).max(first.txid());
            let unsynced = self.highest_unsynced.load(Ordering::Acquire);
            let hsync = first.force_sync() || lock(&r.queue).iter().any(Fut::force_sync);
            let file = lock(&self.writer).as_ref().map(|w| w.file().clone());
            let start = self.base.env.now();
            let result = match &file {
                None => Err(std::io::Error::other("no writer (WAL closing)")),
                Some(f) if self.base.mutant(Mutant::CompleteBeforeSync) => {
                    // Mutant: completes the futures before the data is durable.
                    let done = cur.max(unsynced);
                    self.finish(index, first.clone(), done, unsynced, hsync, Duration::ZERO);
                    if hsync {
                        f.hsync().await.map(|_| ())
                    } else {
                        f.hflush().await.map(|_| ())
                    }
                }
                Some(f) => {
                    if hsync {
                        f.hsync().await.map(|_| ())
                    } else {
                        f.hflush().await.map(|_| ())
                    }
                }
            };
            let done = cur.max(unsynced);
            match result {
                Ok(()) => self.finish(index, first, done, unsynced, hsync, self.base.env.now().saturating_sub(start)),
                Err(e) => self.fail(index, first, done, &e),
            }
            self.idle(index);
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
        for f in lost {
            f.complete(Err(lost_error(f.txid())));
        }
        complete_all(&self.base, ok.into_iter().map(|f| (f, synced)).collect());
        self.base.blocking.notify_all();
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
        {
            let mut q = lock(&self.runners[index].queue);
            while q.front().is_some_and(|f| f.txid() <= done && (hsync || !f.force_sync())) {
                completed.push((q.pop_front().expect("front exists"), done));
            }
        }
        let futures = completed.len() as u64;
        let (lost, completed): (Vec<_>, Vec<_>) = completed.into_iter().partition(|(f, _)| self.is_lost(f.txid()));
        for (f, _) in lost {
            f.complete(Err(lost_error(f.txid())));
        }
        self.base.blocking.notify_all();
        complete_all(&self.base, completed);
        Counters::add(&self.base.counters.syncs, 1);
        let synced = self.base.highest_synced.load(Ordering::Acquire);
        let elapsed_us = elapsed.as_micros() as u64;
        self.base.emit(WalEvent::SyncDone { epoch: self.gen(), txid: written, hsync, synced, futures, elapsed_us });
        self.base.post_sync(elapsed);
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
