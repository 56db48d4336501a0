//! The ring handler (HBase 1.x `RingBufferEventHandler.onEvent` and `attainSafePoint`).

use crate::sync::{lock, Arc, Ordering};

use super::{Classic, HandlerState};
use crate::wal::error::WalError;
use crate::wal::listener::{Counters, RollReason, WalEvent};
use crate::wal::record::{AppendRecord, Truck};

impl Classic {
    /// The always-on handler: waits for published trucks and consumes them in batches.
    pub(super) async fn handler_task(self: Arc<Self>) {
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            let has_work = {
                let hs = self.handler.lock().await;
                self.base.ring.has_published(&hs.ring_consumer)
            };
            if !has_work {
                self.handler_idle.store(true, Ordering::SeqCst);
                self.progress.notify_all();
                let rechecked = {
                    let hs = self.handler.lock().await;
                    self.gate.idle_exit(|| self.base.ring.has_published(&hs.ring_consumer))
                };
                if !rechecked {
                    self.handler_notify.notified().await;
                }
                self.handler_idle.store(false, Ordering::SeqCst);
                continue;
            }
            let mut hs = self.handler.lock().await;
            self.process_batch(&mut hs).await;
            drop(hs);
            crate::env::yield_now().await;
        }
    }

    /// Consumes every currently published truck; `end_of_batch` marks the last one.
    async fn process_batch(&self, hs: &mut HandlerState) {
        let (mut appends, mut syncs) = (0, 0);
        while let Some((seq, truck)) = self.base.ring.poll(&mut hs.ring_consumer) {
            self.base.ring.release(&hs.ring_consumer);
            self.base.ring_space.notify_all();
            match truck {
                Truck::Append(_) => appends += 1,
                Truck::Sync(_) => syncs += 1,
            }
            let end_of_batch = !self.base.ring.has_published(&hs.ring_consumer);
            self.on_event(hs, truck, seq, end_of_batch).await;
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
        }
        if self.base.detailed && appends + syncs > 0 {
            self.base.emit(WalEvent::Drained { appends, syncs });
        }
    }

    /// HBase `onEvent(truck, sequence, endOfBatch)`.
    async fn on_event(&self, hs: &mut HandlerState, truck: Truck, seq: u64, mut end_of_batch: bool) {
        match truck {
            Truck::Sync(f) => {
                hs.batch.push(f);
                if hs.batch.len() >= self.base.cfg.sync_batch_count {
                    end_of_batch = true;
                }
            }
            Truck::Append(rec) => {
                if hs.exception.is_some() {
                    // A damaged WAL drops appends until the next safe point; their syncs must
                    // never succeed.
                    self.mark_lost(rec.txid);
                    return;
                }
                let txid = rec.txid;
                if let Err(e) = self.append_entry(rec) {
                    self.mark_lost(txid);
                    self.writer_failed.store(true, Ordering::SeqCst);
                    self.base.request_roll(RollReason::Error);
                    let damaged =
                        WalError::WriterBroken(format!("append failed, WAL damaged until the next roll: {e}"));
                    Counters::add(&self.base.counters.broken, 1);
                    self.base.emit(WalEvent::WriterBroken { epoch: self.gen(), requeued: 0, error: e.to_string() });
                    fail(&self.base, &mut hs.batch, &damaged);
                    hs.exception = Some(damaged);
                    return;
                }
            }
        }
        if hs.exception.is_none() {
            if !end_of_batch || hs.batch.is_empty() {
                return;
            }
            if let Err(e) = self.offer(hs, seq) {
                self.base.request_roll(RollReason::Error);
                hs.exception = Some(e);
            }
        }
        if let Some(e) = hs.exception.clone() {
            fail(&self.base, &mut hs.batch, &e);
        }
        self.attain_safe_point(hs, seq).await;
    }

    /// Writes one entry to the current writer (HBase `FSHLog.append` on the handler thread).
    fn append_entry(&self, rec: AppendRecord) -> std::io::Result<()> {
        if rec.frame.is_empty() {
            return Ok(()); // an empty edit writes nothing
        }
        {
            let mut w = lock(&self.writer);
            let Some(w) = w.as_mut() else {
                return Err(std::io::Error::other("no writer (WAL closing)"));
            };
            w.append(&rec)?;
        }
        self.highest_unsynced.fetch_max(rec.txid, Ordering::AcqRel);
        self.base.highest_processed.fetch_max(rec.txid, Ordering::AcqRel);
        {
            let mut acc = lock(&self.base.accounting);
            if rec.close_region {
                acc.on_region_close(&rec.region);
            } else {
                acc.update(&rec.region, rec.families.as_slice(), rec.seqid, rec.in_memstore);
            }
        }
        self.entries_since_roll.fetch_add(1, Ordering::AcqRel);
        Counters::add(&self.base.counters.appends, 1);
        Counters::add(&self.base.counters.appended_bytes, rec.len());
        if self.base.detailed {
            let (txid, region, seqid, bytes) = (rec.txid, rec.region.clone(), rec.seqid, rec.len());
            self.base.emit(WalEvent::Appended { txid, region, seqid, bytes, epoch: self.gen() });
        }
        Ok(())
    }

    /// Hands the batch to the next runner round-robin (HBase `SyncRunner.offer`): the sequence
    /// first, then the futures.
    fn offer(&self, hs: &mut HandlerState, seq: u64) -> Result<(), WalError> {
        let n = self.runners.len();
        hs.runner_index = (hs.runner_index + 1) % n;
        let r = &self.runners[hs.runner_index];
        r.sequence.fetch_max(seq, Ordering::SeqCst);
        let mut q = lock(&r.queue);
        if q.len() + hs.batch.len() > self.base.cfg.sync_runner_queue {
            return Err(WalError::WriterBroken(format!("sync runner {} queue is full", hs.runner_index)));
        }
        hs.handed.clear();
        for f in hs.batch.drain(..) {
            hs.handed.push(f.clone());
            q.push_back(f);
        }
        drop(q);
        r.notify.notify_one();
        self.base.emit(WalEvent::SyncIssued {
            epoch: self.gen(),
            txid: seq,
            hsync: false,
            runner: hs.runner_index,
            lead: false,
        });
        Ok(())
    }

    /// HBase `attainSafePoint`: if a roll cocked the latch, wait until this batch's syncs are
    /// done (or failed) and every runner is idle, clear the sticky error, signal "attained"
    /// and park until the roller releases.
    async fn attain_safe_point(&self, hs: &mut HandlerState, seq: u64) {
        let Some(latch) = lock(&self.latch).clone() else { return };
        if !latch.is_cocked() {
            return;
        }
        loop {
            let l = self.progress.listen();
            let outstanding = hs.handed.iter().any(|f| !f.is_done());
            let waiting_own =
                latch.is_cocked() && self.base.highest_synced.load(Ordering::Acquire) < seq && outstanding;
            if self.stopped.load(Ordering::SeqCst) || !(waiting_own || self.runners_busy()) {
                break;
            }
            l.await;
        }
        hs.exception = None;
        self.base.emit(WalEvent::SafePoint { epoch: self.gen() });
        latch.safe_point_attained().await;
    }
}

fn fail(base: &crate::wal::shared::WalShared, batch: &mut Vec<crate::wal::record::Fut>, e: &WalError) {
    crate::wal::shared::fail_all(base, batch.drain(..), e);
}
