//! Log lifecycle around rolls: rolled-file properties, archiving (HBase `cleanOldLogs`),
//! forced flushes (`findRegionsToForceFlush`), low replication (`doCheckLogLowReplication`)
//! and the slow-sync window (`postSync`, `doCheckSlowSync`).
//!
//! Rules:
//! 1. A rolled file is recorded with the highest seqid of every region written to it, taken at
//!    the writer swap, when nothing else is appended.
//! 2. A rolled file is archived (renamed into `oldWALs/`) only if every region in it has
//!    flushed past its highest seqid there (accounting rule 3). Any archivable file goes, not
//!    only a prefix. The current file is never a candidate.
//! 3. Above `max_logs` rolled files, the regions (and families) holding the oldest file back are
//!    reported, to be flushed.
//! 4. Low replication requests at most `low_replication_roll_limit` consecutive rolls, then
//!    disables the check until replication recovers on a writer with more than one entry.
//! 5. A single sync slower than `roll_on_sync`, or `slow_sync_roll_threshold` slow syncs within
//!    one `slow_sync_roll_interval` window (a stale window of two intervals or more does not
//!    count), requests a roll. A roll starts a new window.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::core::mutant::Mutant;
use crate::env::{file_name, join};
use crate::sync::{lock, Ordering};

use super::accounting::{FlushRequest, RegionSeqids};
use super::listener::{Counters, RollReason, WalEvent};
use super::naming::OLD_WALS_DIR;
use super::shared::WalShared;

/// A rolled (no longer current) WAL file that is not archived yet (HBase `WALProps`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolledFile {
    /// File number.
    pub number: u64,
    /// Path.
    pub path: String,
    /// Highest seqid per region written to the file.
    pub highest: RegionSeqids,
    /// Length in bytes when rolled.
    pub size: u64,
}

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

/// Low-replication check state (rule 4).
#[derive(Debug)]
pub(crate) struct LowReplication {
    pub consecutive_rolls: u32,
    pub enabled: bool,
    pub last_check: Duration,
}

impl WalShared {
    /// Rule 2: archives every archivable rolled file. Returns the archived paths.
    pub(crate) async fn clean_old_logs(
        &self,
        rolled: &mut BTreeMap<u64, RolledFile>,
        current: Option<String>,
    ) -> Vec<String> {
        let candidates: Vec<RolledFile> = {
            let acc = lock(&self.accounting);
            let mut blocking = Vec::new();
            let mut c: Vec<RolledFile> =
                rolled.values().filter(|f| acc.are_all_lower(&f.highest, &mut blocking)).cloned().collect();
            if self.mutant(Mutant::ArchiveCurrentFile) {
                // Mutant: the current file is treated like a rolled one.
                if let Some(cur) = current {
                    if acc.are_all_lower(acc.highest(), &mut blocking) {
                        c.push(RolledFile { number: u64::MAX, path: cur, highest: RegionSeqids::new(), size: 0 });
                    }
                }
            }
            c
        };
        let fs = self.env.fs();
        let mut archived = Vec::new();
        for f in candidates {
            let target = join(OLD_WALS_DIR, file_name(&f.path));
            match fs.rename(&f.path, &target).await {
                Ok(()) => {
                    if let Err(e) = fs.set_modified(&target, self.env.wall_clock_ms()).await {
                        tracing::warn!(target: "hwal::wal", file = %target, error = %e, "cannot stamp the archive time");
                    }
                    rolled.remove(&f.number);
                    Counters::add(&self.counters.archived, 1);
                    self.emit(WalEvent::Archived { file: file_name(&f.path).to_string() });
                    archived.push(f.path);
                }
                Err(e) => {
                    tracing::warn!(target: "hwal::wal", file = %f.path, error = %e, "archiving failed; will retry at the next roll");
                }
            }
        }
        archived
    }

    /// Rule 3: the flushes that would let the oldest rolled file go, above `max_logs`.
    pub(crate) fn find_regions_to_force_flush(&self, rolled: &BTreeMap<u64, RolledFile>) -> Option<FlushRequest> {
        if rolled.len() <= self.cfg.max_logs {
            return None;
        }
        let oldest = rolled.values().next()?;
        let request = lock(&self.accounting).find_lower(&oldest.highest)?;
        let mut regions: Vec<String> = request
            .iter()
            .flat_map(|(r, fams)| fams.iter().map(move |f| format!("{r}:{}", String::from_utf8_lossy(f))))
            .collect();
        regions.sort();
        self.emit(WalEvent::RegionsToFlush { regions });
        Some(request)
    }

    /// Rule 4, run by the roller every `low_replication_check_interval`.
    pub(crate) fn check_low_replication(&self, state: &mut LowReplication, replication: u32, entries: u64) {
        let min = self.cfg.min_tolerable_replication;
        let now = self.env.now();
        if min == 0 || now.saturating_sub(state.last_check) < self.cfg.low_replication_check_interval {
            return;
        }
        state.last_check = now;
        self.evaluate_low_replication(state, replication, entries);
    }

    /// Rule 4 after a successful sync, as HBase 1.x's `checkLogRoll` does on the classic
    /// pipeline: no interval, and skipped while a roll holds the roll lock (`tryLock`) or a roll
    /// is already requested.
    pub(crate) fn check_low_replication_after_sync(&self, replication: u32, entries: u64) {
        if self.cfg.min_tolerable_replication == 0 || self.roll_requested.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut rs) = self.roll_lock.try_lock() {
            self.evaluate_low_replication(&mut rs.low_replication, replication, entries);
        }
    }

    /// HBase `doCheckLogLowReplication`.
    fn evaluate_low_replication(&self, state: &mut LowReplication, replication: u32, entries: u64) {
        let min = self.cfg.min_tolerable_replication;
        if replication != 0 && replication < min {
            if !state.enabled {
                return;
            }
            if state.consecutive_rolls < self.cfg.low_replication_roll_limit {
                state.consecutive_rolls += 1;
                self.emit(WalEvent::LowReplication { replication, check_enabled: true });
                self.request_roll(RollReason::LowReplication);
            } else {
                tracing::warn!(target: "hwal::wal", replication, "too many consecutive low-replication rolls; disabling the check until replication recovers");
                state.consecutive_rolls = 0;
                state.enabled = false;
                self.emit(WalEvent::LowReplication { replication, check_enabled: false });
            }
        } else if replication >= min {
            state.consecutive_rolls = 0;
            // A fresh writer always reports full replication: wait for real traffic.
            if !state.enabled && entries > 1 {
                state.enabled = true;
            }
        }
    }

    /// Rule 5 (HBase `postSync` + `doCheckSlowSync`), after every accepted sync.
    pub(crate) fn post_sync(&self, elapsed: Duration) {
        if elapsed > self.cfg.slow_sync {
            Counters::add(&self.counters.slow_syncs, 1);
            self.slow_sync_count.fetch_add(1, Ordering::AcqRel);
            self.emit(WalEvent::SlowSync { elapsed_ms: elapsed.as_millis() as u64 });
            if elapsed > self.cfg.roll_on_sync {
                self.request_roll(RollReason::SlowSync);
            }
        }
        if self.roll_requested.load(Ordering::Acquire) {
            return;
        }
        let now = self.env.now().as_nanos() as u64;
        let start = self.slow_sync_window_start_ns.load(Ordering::Acquire);
        let interval = self.cfg.slow_sync_roll_interval.as_nanos() as u64;
        let span = now.saturating_sub(start);
        if span < interval {
            return;
        }
        if self.slow_sync_window_start_ns.compare_exchange(start, now, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return; // another report reset the window
        }
        let count = self.slow_sync_count.swap(0, Ordering::AcqRel);
        if count >= u64::from(self.cfg.slow_sync_roll_threshold) && span < 2 * interval {
            self.request_roll(RollReason::SlowSync);
        }
    }

    /// A roll starts a new slow-sync window (rule 5).
    pub(crate) fn reset_slow_sync_window(&self) {
        self.slow_sync_window_start_ns.store(self.env.now().as_nanos() as u64, Ordering::Release);
        self.slow_sync_count.store(0, Ordering::Release);
    }
}
