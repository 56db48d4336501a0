//! The consume run (HBase 3.x `consume`, `appendAndSync`, `sync(writer)`, `finishSync`,
//! `syncCompleted`, `onException`). Every function here runs under the consumer mutex.

use std::io;
use std::time::Duration;

use crate::core::mutant::Mutant;
use crate::env::SyncDone;
use crate::sync::{lock, Arc, MutexGuard, Ordering};

use super::{ConsumerState, Scheduled, SyncRequest};
use crate::wal::config::LeaderSync;
use crate::wal::listener::{Counters, RollReason, WalEvent};
use crate::wal::record::{AppendRecord, Truck};
use crate::wal::shared::{complete_all, LeadSync, WalShared};

/// Bytes of hflush-acked but not yet hsynced entries after which the next sync is an hsync.
/// Bounds what must be kept for re-writing after a writer failure.
const MAX_UNHSYNCED_BYTES: u64 = 8 * 1024 * 1024;

impl Scheduled {
    /// One consume run. Returns true when the run must be resubmitted.
    pub(super) fn consume(&self) -> bool {
        let (again, lead) = self.consume_with(lock(&self.consumer), false);
        debug_assert!(lead.is_none(), "the consumer task never leads a sync");
        again
    }

    /// A consume run only if the consumer mutex is free right now: `None` when it is held — by
    /// another run, or by this very thread (a listener that appends from inside an event the
    /// consumer emits), where waiting for it would never end. With `lead`, the first sync the
    /// run starts is returned for the caller to perform (`Config::leader_sync`).
    pub(super) fn try_consume(&self, lead: bool) -> Option<(bool, Option<LeadSync>)> {
        let guard = match self.consumer.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(self.consume_with(guard, lead))
    }

    fn consume_with(&self, mut guard: MutexGuard<'_, ConsumerState>, lead: bool) -> (bool, Option<LeadSync>) {
        guard.lead_allowed = lead;
        let again = self.consume_locked(&mut guard);
        guard.lead_allowed = false;
        let lead = guard.lead.take();
        let timer = Self::coalesce_timer_needed(&mut guard);
        self.unlock(guard);
        if let (Some(gen), Some(me)) = (timer, self.me.upgrade()) {
            me.start_coalesce_timer(gen);
        }
        (again, lead)
    }

    /// A `sync_coalesce` hold needs its fallback timer only while a sync is actually waiting
    /// behind it, and only when some waiter will not nudge (blocking callers wake up after
    /// `sync_coalesce_wait` and end the hold themselves: no timer task to wake per hold);
    /// one timer per hold.
    fn coalesce_timer_needed(st: &mut ConsumerState) -> Option<u64> {
        if st.reappend_wait == 0 || !st.sync_deferred || st.timer_gen == st.coalesce_gen {
            return None;
        }
        let nudged = !st.sync_futures.is_empty() && st.sync_futures.values().all(|f| f.self_nudging());
        if nudged {
            return None;
        }
        st.timer_gen = st.coalesce_gen;
        Some(st.coalesce_gen)
    }

    /// A self-nudging waiter's nudge: ends a hold that has lasted `sync_coalesce_wait` and
    /// issues the sync it deferred, which the nudging caller leads (`Config::leader_sync`).
    /// Also returns the current hold's generation (`None` when the consumer was busy).
    pub(super) fn nudge_hold(&self) -> (Option<LeadSync>, Option<u64>) {
        let mut st = match self.consumer.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return (None, None), // someone is at work
        };
        let held = self.base.env.now().saturating_sub(st.hold_since);
        let expired = held >= self.base.cfg.sync_coalesce_wait && !self.base.mutant(Mutant::NoNudge);
        if st.reappend_wait > 0 && st.sync_deferred && expired {
            st.reappend_wait = 0;
            st.lead_allowed = self.may_lead(crate::env::in_block_on());
            self.issue_deferred(&mut st);
            st.lead_allowed = false;
        }
        let (lead, gen) = (st.lead.take(), st.coalesce_gen);
        self.unlock(st);
        (lead, Some(gen))
    }

    /// Releases the consumer mutex, then completes the futures the run finished (waking many
    /// callers takes a while; nothing else needs to wait for it).
    pub(super) fn unlock(&self, mut guard: MutexGuard<'_, ConsumerState>) {
        let done = std::mem::take(&mut guard.to_complete);
        drop(guard);
        complete_all(&self.base, done);
    }

    fn consume_locked(&self, st: &mut ConsumerState) -> bool {
        let s = self.word.load();
        if s.writer_broken() {
            // The roll reschedules the consumer once the writer is replaced.
            return false;
        }
        if s.waiting_roll() {
            self.consume_waiting_roll(st);
            return false;
        }
        self.drain_ring(st);
        if let Err(e) = self.append_and_sync(st) {
            // Append failed: the writer is broken; unacked entries go back for re-writing.
            self.on_exception(st, s.epoch(), &e.to_string());
            return false;
        }
        if self.consume_queued.load(Ordering::SeqCst) {
            return false;
        }
        if st.unacked_bytes >= self.base.cfg.max_unacked_bytes {
            // Back-pressure: stop (the gate stays set, so producers do not reschedule us); the
            // next sync completion resumes the consumer — so make sure one is coming: sync what
            // was written (or queue that behind the sync in flight), past any coalescing hold.
            st.backpressured = true;
            if st.writer.as_ref().is_some_and(|w| w.length() > st.file_length_at_last_sync) {
                self.sync_writer_if_allowed(st, true);
            }
            return false;
        }
        if !st.to_write.is_empty() || self.base.ring.has_published(&st.ring_consumer) {
            return true;
        }
        if self.gate.idle_exit(|| self.base.ring.has_published(&st.ring_consumer)) {
            return true;
        }
        self.sync_if_needed(st);
        false
    }

    /// While a roll waits: no draining; once every written entry is acked, report ready,
    /// otherwise make sure a sync covers what was written.
    fn consume_waiting_roll(&self, st: &mut ConsumerState) {
        if st.unacked.is_empty() {
            self.set_ready_for_rolling(st);
            return;
        }
        let unsynced = st.writer.as_ref().is_some_and(|w| w.length() > st.file_length_at_last_sync);
        if unsynced {
            self.sync_writer(st);
        }
    }

    fn set_ready_for_rolling(&self, st: &mut ConsumerState) {
        if !st.ready_for_rolling {
            st.ready_for_rolling = true;
            self.base.emit(WalEvent::SafePoint { epoch: self.word.load().epoch() });
            self.ready_event.notify_all();
        }
    }

    /// HBase `trySetReadyForRolling`.
    pub(super) fn try_set_ready_for_rolling(&self, st: &mut ConsumerState) -> bool {
        if self.word.load().waiting_roll() && st.unacked.is_empty() {
            self.set_ready_for_rolling(st);
            return true;
        }
        false
    }

    fn drain_ring(&self, st: &mut ConsumerState) {
        let (mut appends, mut syncs) = (0, 0);
        // `to_write` holds at most a ring's worth: beyond that, entries wait in the ring and
        // producers feel the back-pressure.
        while st.to_write.len() < self.base.cfg.ring_capacity {
            let Some((seq, truck)) = self.base.ring.poll(&mut st.ring_consumer) else { break };
            match truck {
                Truck::Append(rec) => {
                    st.to_write.push_back(rec);
                    appends += 1;
                }
                Truck::Sync(f) => {
                    st.sync_futures.insert((f.txid(), seq), f);
                    syncs += 1;
                    // A caller the last sync woke is back with its next sync request.
                    st.reappend_wait = st.reappend_wait.saturating_sub(1);
                }
            }
        }
        if appends + syncs > 0 {
            self.base.ring.release(&st.ring_consumer);
            self.base.ring_space.notify_all();
            if self.base.detailed {
                self.base.emit(WalEvent::Drained { appends, syncs });
            }
        }
    }

    fn append_and_sync(&self, st: &mut ConsumerState) -> io::Result<()> {
        self.finish_sync(st);
        let batch = self.base.cfg.batch_size_bytes;
        let max = self.inflight_bound();
        let epoch = self.word.load().epoch();
        while let Some(mut rec) = st.to_write.pop_front() {
            let Some(writer) = st.writer.as_mut() else {
                st.to_write.push_front(rec);
                return Ok(());
            };
            let written = !rec.frame.is_empty();
            if written {
                if let Err(e) = writer.append(&rec) {
                    st.to_write.push_front(rec);
                    return Err(e);
                }
                {
                    // Empty edits are skipped before this point, as HBase's appendEntry does.
                    let mut acc = lock(&self.base.accounting);
                    if rec.accounted {
                        // A re-write: the new file holds a copy, nothing else changes.
                        acc.update(&rec.region, &[], rec.seqid, false);
                    } else if rec.close_region {
                        acc.on_region_close(&rec.region);
                    } else {
                        acc.update(&rec.region, rec.families.as_slice(), rec.seqid, rec.in_memstore);
                    }
                    rec.accounted = true;
                }
                Counters::add(&self.base.counters.appends, 1);
                Counters::add(&self.base.counters.appended_bytes, rec.len());
                if self.base.detailed {
                    self.base.emit(WalEvent::Appended {
                        txid: rec.txid,
                        region: rec.region.clone(),
                        seqid: rec.seqid,
                        bytes: rec.len(),
                        epoch,
                    });
                }
            }
            let txid = rec.txid;
            st.highest_processed_txid = st.highest_processed_txid.max(txid);
            self.base.highest_processed.fetch_max(txid, Ordering::AcqRel);
            st.entries_since_roll += 1;
            if written {
                st.unacked_bytes += rec.len();
                st.unacked.push_back(rec);
            }
            let len = st.writer.as_ref().map_or(0, |w| w.length());
            // Cut the batch for a sync only when one can go out now: with the in-flight bound
            // reached, keep writing (the deferred sync will cover it all).
            let sync_possible = max == 0 || st.inflight_syncs < max;
            if len - st.file_length_at_last_sync >= batch && txid >= st.rewrite_until && sync_possible {
                break;
            }
            if st.unacked_bytes >= self.base.cfg.max_unacked_bytes && txid >= st.rewrite_until {
                break; // back-pressure: the sync completion resumes the consumer
            }
        }
        let len = st.writer.as_ref().map_or(0, |w| w.length());
        if len - st.file_length_at_last_sync >= batch {
            self.sync_writer_if_allowed(st, true);
            return Ok(());
        }
        if st.reappend_wait == 0 {
            self.issue_deferred(st);
        }
        if len == st.file_length_at_last_sync && st.unacked.is_empty() {
            // Only empty edits since the last sync: they are "durable" without a sync.
            WalShared::raise(&self.base.highest_synced, st.highest_processed_txid);
            self.finish_sync(st);
            self.try_set_ready_for_rolling(st);
        }
        Ok(())
    }

    /// Step 6 of consume: sync when pending futures need bytes beyond the last sync, or an
    /// FSYNC request waits for an hsync.
    fn sync_if_needed(&self, st: &mut ConsumerState) {
        let Some(w) = st.writer.as_ref() else { return };
        let unsynced = w.length() > st.file_length_at_last_sync;
        let beyond =
            st.sync_futures.keys().next_back().is_some_and(|(t, _)| *t > st.highest_processed_txid_at_last_sync);
        if (unsynced && beyond) || self.hsync_needed(st) {
            self.sync_writer(st);
        }
    }

    /// The level an FSYNC future at `txid` needs: every append up to `min(txid, processed)`.
    fn hsync_target(st: &ConsumerState, txid: u64) -> u64 {
        txid.min(st.highest_processed_txid)
    }

    /// True when an FSYNC future waits for an hsync that nobody has requested yet.
    fn hsync_needed(&self, st: &ConsumerState) -> bool {
        let hsynced = self.base.highest_hsynced.load(Ordering::Acquire);
        st.sync_futures.values().any(|f| {
            let target = Self::hsync_target(st, f.txid());
            f.force_sync() && target > hsynced && target > st.hsync_requested_upto
        })
    }

    /// Syncs allowed in flight at once, 0 for no bound. `max_inflight_syncs = 0` means "as
    /// HBase": through runner tasks each runner syncs one request at a time, so at most
    /// `sync_runners` overlap; a consumer dispatching syncs itself (`direct_sync`) has no runner
    /// to wait for and gets that same bound here, or it would start a sync for every drain.
    fn inflight_bound(&self) -> usize {
        let cfg = &self.base.cfg;
        match cfg.max_inflight_syncs {
            0 if cfg.direct_sync => cfg.sync_runners,
            n => n,
        }
    }

    /// HBase `sync(writer)`: hands a sync of everything written so far to a runner.
    pub(super) fn sync_writer(&self, st: &mut ConsumerState) {
        self.sync_writer_if_allowed(st, false);
    }

    /// `force` (a full batch, or a waiting roll) skips the coalescing hold, not the in-flight
    /// bound.
    fn sync_writer_if_allowed(&self, st: &mut ConsumerState, force: bool) {
        let Some(w) = st.writer.as_ref() else { return };
        let max = self.inflight_bound();
        let hold = st.reappend_wait > 0 && !force && !self.word.load().waiting_roll();
        if hold || (max > 0 && st.inflight_syncs >= max) {
            st.sync_deferred = true;
            return;
        }
        st.file_length_at_last_sync = w.length();
        let txid = st.highest_processed_txid;
        // HBase `isHsync`: hsync if a pending request asks for it; with none pending, the default.
        let requested = if st.sync_futures.is_empty() {
            self.base.cfg.default_hsync
        } else {
            st.sync_futures.values().any(|f| f.force_sync())
        };
        let hsync = requested || st.force_next_hsync;
        st.highest_processed_txid_at_last_sync = txid;
        if hsync {
            st.hsync_requested_upto = st.hsync_requested_upto.max(txid);
            st.force_next_hsync = false;
        }
        let epoch = self.word.load().epoch();
        let req = SyncRequest { file: w.file().clone(), txid, hsync, epoch, issued: self.base.env.now() };
        if self.base.cfg.direct_sync {
            let runner = (st.runner_index + 1) % self.base.cfg.sync_runners;
            match self.dispatch(st, req) {
                Ok(()) => {
                    st.runner_index = runner;
                    return;
                }
                Err(back) => return self.hand_to_runner(st, back),
            }
        }
        self.hand_to_runner(st, req);
    }

    /// What a runner does with a request (runner rules 1–2), done by the consumer itself when
    /// the file can complete a sync on its own I/O thread (`WalFile::sync_then`): no hand-off
    /// to a runner task, and the completion is reported from the thread that synced. Hands the
    /// request back when the file cannot. In a waiting caller's run (`Config::leader_sync`) the
    /// first sync is left in `lead` for that caller to perform after the mutex is released.
    fn dispatch(&self, st: &mut ConsumerState, req: SyncRequest) -> Result<(), SyncRequest> {
        let (epoch, txid, hsync) = (req.epoch, req.txid, req.hsync);
        let Some(me) = self.me.upgrade() else { return Err(req) };
        // Led only when no other sync is in flight: the file's I/O thread runs its jobs in order
        // (a sync queued before a roll's close runs before it), and a sync on another thread
        // must not overtake or trail one of those.
        let alone = st.inflight_syncs == 0;
        let in_place = || req.file.syncs_in_place() && crate::env::in_block_on();
        let lead = st.lead_allowed && alone && (self.base.cfg.leader_sync == LeaderSync::Always || in_place());
        st.inflight_syncs += 1;
        self.base.note_sync_issued(txid.max(self.base.highest_processed.load(Ordering::Acquire)));
        self.base.emit(WalEvent::SyncIssued { epoch, txid, hsync, runner: st.runner_index, lead });
        if self.covered(&req) {
            self.sync_completed_locked(st, epoch, txid, hsync, Duration::ZERO, false);
            return Ok(());
        }
        let covers = txid.max(self.base.highest_processed.load(Ordering::Acquire));
        if self.base.mutant(Mutant::CompleteBeforeSync) {
            self.sync_completed_locked(st, epoch, covers, hsync, Duration::ZERO, true);
        }
        let (issued, path) = (req.issued, req.file.path().to_string());
        let file = req.file.clone();
        let done: SyncDone = Box::new(move |r: std::io::Result<u64>| {
            let elapsed = me.base.env.now().saturating_sub(issued);
            match r {
                Ok(_) => me.on_sync_completed(epoch, covers, hsync, elapsed, true),
                Err(e) => me.on_sync_failed(
                    epoch,
                    txid,
                    &format!("{} of {path}: {e}", if hsync { "hsync" } else { "hflush" }),
                ),
            }
        });
        if lead {
            // A waiting caller ran this consume: it performs the sync itself once the mutex is
            // released (one lead per run).
            st.lead_allowed = false;
            st.lead = Some(LeadSync { file, hsync, done });
            return Ok(());
        }
        match req.file.sync_then(hsync, done) {
            Ok(()) => Ok(()),
            Err(_) => {
                st.inflight_syncs -= 1;
                Err(req)
            }
        }
    }

    /// Hands a request to the next runner task round-robin (HBase `offerSyncRequest`).
    fn hand_to_runner(&self, st: &mut ConsumerState, req: SyncRequest) {
        let (epoch, txid, hsync) = (req.epoch, req.txid, req.hsync);
        let runners = lock(&self.runners);
        let n = runners.len();
        let mut req = Some(req);
        for i in 1..=n {
            let idx = (st.runner_index + i) % n;
            match runners[idx].try_send(req.take().expect("request present")) {
                Ok(()) => {
                    st.runner_index = idx;
                    st.inflight_syncs += 1;
                    drop(runners);
                    self.base.note_sync_issued(txid);
                    self.base.emit(WalEvent::SyncIssued { epoch, txid, hsync, runner: idx, lead: false });
                    return;
                }
                Err(e) => req = Some(e.into_inner()),
            }
        }
        drop(runners);
        // Every runner queue is full or shut down: HBase fails the sync, which breaks the writer.
        self.on_exception(st, epoch, "there is no available sync runner");
    }

    /// HBase `finishSync`: advances `highest_synced` as far as provably safe and completes the
    /// sync futures it covers. Returns how many were completed.
    pub(super) fn finish_sync(&self, st: &mut ConsumerState) -> u64 {
        let synced = self.base.highest_synced.load(Ordering::Acquire);
        let limit = if let Some(first) = st.unacked.front() {
            (first.txid - 1).max(synced)
        } else if let Some(first) = st.to_write.front() {
            (first.txid - 1).max(synced)
        } else {
            u64::MAX
        };
        if limit != u64::MAX {
            WalShared::raise(&self.base.highest_synced, limit);
        }
        let hsynced = self.base.highest_hsynced.load(Ordering::Acquire);
        let mut running = synced;
        let mut done_keys = Vec::with_capacity(st.sync_futures.len());
        for (key, f) in st.sync_futures.range(..=(limit, u64::MAX)) {
            let t = key.0;
            if f.force_sync() && hsynced < Self::hsync_target(st, t) {
                continue; // stays pending until an hsync covers it
            }
            let done = if limit == u64::MAX {
                running = running.max(t);
                running
            } else {
                limit
            };
            done_keys.push((*key, done));
        }
        if limit == u64::MAX && running > synced {
            WalShared::raise(&self.base.highest_synced, running);
        }
        let n = done_keys.len() as u64;
        st.to_complete.reserve(done_keys.len());
        for (key, done) in done_keys {
            let f = st.sync_futures.remove(&key).expect("key just seen");
            st.to_complete.push((f, done));
        }
        n
    }

    /// HBase `syncCompleted`, epoch-checked (rule 2 of `core::epoch`).
    /// A runner's sync covering `txid` succeeded (`performed`), or the watermarks already
    /// covered it and the runner skipped it: either way the request is done for its epoch, and
    /// what it covers is released (a skipped safe-point sync must still let a roll proceed).
    pub(super) fn on_sync_completed(
        self: &Arc<Self>,
        epoch: u32,
        txid: u64,
        hsync: bool,
        elapsed: Duration,
        performed: bool,
    ) {
        let mut guard = lock(&self.consumer);
        self.sync_completed_locked(&mut guard, epoch, txid, hsync, elapsed, performed);
        let timer = Self::coalesce_timer_needed(&mut guard);
        let resume = guard.backpressured && guard.unacked_bytes < self.base.cfg.max_unacked_bytes;
        if resume {
            guard.backpressured = false;
        }
        self.unlock(guard);
        if let Some(gen) = timer {
            self.start_coalesce_timer(gen);
        }
        if resume {
            self.schedule_consumer();
        }
    }

    /// Ends a `sync_coalesce` hold after `sync_coalesce_wait` if the re-appends did not.
    fn start_coalesce_timer(self: &Arc<Self>, gen: u64) {
        let me = self.clone();
        let nap = self.base.env.sleep(self.base.cfg.sync_coalesce_wait);
        self.base.env.spawn(
            "wal-sync-coalesce",
            Box::pin(async move {
                nap.await;
                let mut st = lock(&me.consumer);
                if st.coalesce_gen == gen && st.reappend_wait > 0 {
                    st.reappend_wait = 0;
                    me.issue_deferred(&mut st);
                }
                me.unlock(st);
            }),
        );
    }

    /// A runner finished a request (any outcome): one fewer in flight for its epoch.
    fn sync_reported(&self, st: &mut ConsumerState, epoch: u32) {
        if self.word.load().epoch() == epoch {
            st.inflight_syncs = st.inflight_syncs.saturating_sub(1);
        }
    }

    /// Issues the sync that was deferred while `max_inflight_syncs` were in flight.
    fn issue_deferred(&self, st: &mut ConsumerState) {
        if !st.sync_deferred || self.word.load().writer_broken() {
            return;
        }
        if st.reappend_wait > 0 && !self.word.load().waiting_roll() {
            return; // held by `sync_coalesce`; a re-append or the fallback timer ends the hold
        }
        st.sync_deferred = false;
        if self.word.load().waiting_roll() {
            self.consume_waiting_roll(st);
            return;
        }
        let unsynced = st.writer.as_ref().is_some_and(|w| w.length() > st.file_length_at_last_sync);
        if unsynced || self.hsync_needed(st) {
            self.sync_writer(st);
        }
    }

    fn sync_completed_locked(
        &self,
        st: &mut ConsumerState,
        epoch: u32,
        txid: u64,
        hsync: bool,
        elapsed: Duration,
        performed: bool,
    ) {
        self.sync_reported(st, epoch);
        if !self.word.accepts(epoch) {
            self.base.emit(WalEvent::SyncIgnored { epoch, txid, reason: "stale-epoch-or-broken" });
            return;
        }
        // HBase ignores a completion below the watermark (out of order). Its watermark must not
        // move back, but the entries it covers must still be released: entries re-written after
        // a writer failure keep their old txids, which can sit below the watermark, and only a
        // completion of this epoch can release them.
        if hsync {
            WalShared::raise(&self.base.highest_hsynced, txid);
            self.trim_unhsynced(st);
        }
        WalShared::raise(&self.base.highest_synced, txid);
        self.release_unacked(st, txid);
        let futures = self.finish_sync(st);
        let synced = self.base.highest_synced.load(Ordering::Acquire);
        if performed && futures > 0 && self.base.cfg.sync_coalesce {
            // Let (most of) the callers this sync wakes append again before the next sync.
            st.reappend_wait = (futures * 7 / 8).max(1);
            st.coalesce_gen += 1;
            st.hold_since = self.base.env.now();
        }
        if performed {
            Counters::add(&self.base.counters.syncs, 1);
            let elapsed_us = elapsed.as_micros() as u64;
            self.base.emit(WalEvent::SyncDone { epoch, txid, hsync, synced, futures, elapsed_us });
            self.base.post_sync(elapsed);
        } else {
            self.base.emit(WalEvent::SyncIgnored { epoch, txid, reason: "already-covered" });
        }
        if self.try_set_ready_for_rolling(st) {
            return;
        }
        let len = st.writer.as_ref().map_or(0, |w| w.length());
        if len > self.base.cfg.roll_size_bytes {
            self.base.request_roll(RollReason::Size);
        }
        self.issue_deferred(st);
    }

    /// Moves acked entries out of `unacked`, keeping them for re-writing until hsynced.
    fn release_unacked(&self, st: &mut ConsumerState, txid: u64) {
        let hsynced = self.base.highest_hsynced.load(Ordering::Acquire);
        while st.unacked.front().is_some_and(|r| r.txid <= txid) {
            let rec = st.unacked.pop_front().expect("front exists");
            st.unacked_bytes -= rec.len();
            if rec.txid > hsynced {
                st.unhsynced_bytes += rec.len();
                st.unhsynced.push_back(rec);
            }
        }
        if st.unhsynced_bytes > MAX_UNHSYNCED_BYTES {
            st.force_next_hsync = true;
        }
    }

    pub(super) fn trim_unhsynced(&self, st: &mut ConsumerState) {
        let hsynced = self.base.highest_hsynced.load(Ordering::Acquire);
        while st.unhsynced.front().is_some_and(|r| r.txid <= hsynced) {
            let rec = st.unhsynced.pop_front().expect("front exists");
            st.unhsynced_bytes -= rec.len();
        }
    }

    /// A runner's sync failed (HBase `syncFailed`).
    pub(super) fn on_sync_failed(&self, epoch: u32, txid: u64, error: &str) {
        let mut guard = lock(&self.consumer);
        self.sync_reported(&mut guard, epoch);
        self.base.emit(WalEvent::SyncFailed { epoch, txid, error: error.to_string() });
        self.on_exception(&mut guard, epoch, error);
        self.unlock(guard);
    }

    /// HBase `onException`: marks the writer of `epoch` broken (once), re-queues everything not
    /// yet hsynced in front of `to_write`, and requests a roll.
    pub(super) fn on_exception(&self, st: &mut ConsumerState, epoch: u32, error: &str) {
        let Some(prior) = self.word.mark_broken(epoch) else { return };
        Counters::add(&self.base.counters.broken, 1);
        if prior.waiting_roll() {
            self.set_ready_for_rolling(st);
        }
        let mut requeue: Vec<AppendRecord> = st.unhsynced.drain(..).chain(st.unacked.drain(..)).collect();
        st.unhsynced_bytes = 0;
        st.unacked_bytes = 0;
        if self.base.mutant(Mutant::NoRewriteAfterBroken) {
            requeue.clear();
        }
        let requeued = requeue.len() as u64;
        // Never lower it: a writer breaking again mid-re-write must not let a batch cut (and a
        // sync claiming the rest) happen before every earlier re-queued entry is re-written.
        st.rewrite_until = requeue.last().map_or(st.rewrite_until, |r| r.txid.max(st.rewrite_until));
        for rec in requeue.into_iter().rev() {
            st.to_write.push_front(rec);
        }
        self.base.emit(WalEvent::WriterBroken { epoch, requeued, error: error.to_string() });
        if !prior.waiting_roll() {
            self.base.request_roll(RollReason::Error);
        }
    }
}
