//! SequenceIdAccounting (HBase `SequenceIdAccounting`): which region edits in which WAL files
//! are still only in memstores, so the WAL knows what it may archive and whom to flush.
//!
//! Three maps, all ordered (so every listing is deterministic):
//! - `lowest_unflushed[region][family]`: the lowest seqid of the family's memstore that is not
//!   being flushed — the first edit appended for it since its last flush;
//! - `flushing[region][family]`: the lowest seqids moved out of `lowest_unflushed` by a flush
//!   in progress (restored by an abort, dropped by a completion);
//! - `highest[region]`: the highest seqid appended to the *current* file; handed to the rolled
//!   file's properties by [`Accounting::reset_highest`] at a roll.
//!
//! Rules:
//! 1. `update` keeps the first (lowest) seqid per (region, family) and only for edits that
//!    enter the memstore; markers (flush, compaction, region events) never block archiving.
//! 2. A region close marker drops the region from all three maps (HBASE-23157/23181).
//! 3. A file may be archived when, for every region in it, its highest seqid there is below
//!    both the region's lowest unflushed and lowest flushing seqid (absent = +infinity).
//! 4. `complete_cache_flush(r, m)` leaves no family of `r` with a lowest seqid `<= m`, so a
//!    region's max flushed seqid never goes backwards with ASYNC_WAL edits (HBASE-23157).
//! 5. `abort_cache_flush` restores the flushing seqids; finding a lower value already present
//!    means edits were acquired out of order — an invariant violation reported as an error.
//! 6. An entry is accounted once, when first written. Its re-writes after a writer failure
//!    only raise the new file's `highest` (the consumer's `AppendRecord::accounted`): a
//!    re-applied REGION_CLOSE would drop a region reopened since, a re-applied edit would
//!    count an edit flushed since as unflushed again.

use std::collections::BTreeMap;

use super::entry::{RegionName, META_FAMILY};

/// Per-family seqids of one region.
pub type FamilySeqids = BTreeMap<Vec<u8>, u64>;

/// Highest seqid per region of one WAL file.
pub type RegionSeqids = BTreeMap<RegionName, u64>;

/// The regions (and their families) that must flush before the oldest file can be archived.
pub type FlushRequest = BTreeMap<RegionName, Vec<Vec<u8>>>;

/// Sequence-id accounting state (see the module rules).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accounting {
    lowest_unflushed: BTreeMap<RegionName, FamilySeqids>,
    flushing: BTreeMap<RegionName, FamilySeqids>,
    highest: RegionSeqids,
}

/// An abort found edits acquired out of order (HBase halts the process).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("region {region}: family {family} has unflushed seqid {present} below the aborted flush's {restored}: edits acquired out of order")]
pub struct OutOfOrder {
    /// The region.
    pub region: RegionName,
    /// The family, lossily as text.
    pub family: String,
    /// The seqid already present.
    pub present: u64,
    /// The seqid the abort restored.
    pub restored: u64,
}

fn min_ignoring_meta(m: &FamilySeqids) -> Option<u64> {
    m.iter().filter(|(f, _)| f.as_slice() != META_FAMILY).map(|(_, s)| *s).min()
}

impl Accounting {
    /// Empty accounting.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rule 1: records an appended entry.
    /// Called once per appended entry: keys are cloned only the first time they are seen.
    pub fn update(&mut self, region: &RegionName, families: &[Vec<u8>], seqid: u64, in_memstore: bool) {
        match self.highest.get_mut(region) {
            Some(h) => *h = (*h).max(seqid),
            None => {
                self.highest.insert(region.clone(), seqid);
            }
        }
        if !in_memstore {
            return;
        }
        if !self.lowest_unflushed.contains_key(region) {
            self.lowest_unflushed.insert(region.clone(), FamilySeqids::new());
        }
        let lowest = self.lowest_unflushed.get_mut(region).expect("inserted above");
        for f in families {
            if !lowest.contains_key(f) {
                lowest.insert(f.clone(), seqid);
            }
        }
    }

    /// Rule 2: forgets a closed region.
    pub fn on_region_close(&mut self, region: &RegionName) {
        self.lowest_unflushed.remove(region);
        self.flushing.remove(region);
        self.highest.remove(region);
    }

    /// Starts a flush of `families` of `region`: moves their lowest unflushed seqids to
    /// "flushing". Returns the lowest unflushed seqid left in the region (other families), or
    /// `None` when nothing is left (HBase `NO_SEQNUM`).
    pub fn start_cache_flush(&mut self, region: &RegionName, families: &[Vec<u8>]) -> Option<u64> {
        let mut moved = FamilySeqids::new();
        if let Some(lowest) = self.lowest_unflushed.get_mut(region) {
            for f in families {
                if let Some(s) = lowest.remove(f) {
                    moved.insert(f.clone(), s);
                }
            }
            if lowest.is_empty() {
                self.lowest_unflushed.remove(region);
            }
        }
        if !moved.is_empty() {
            self.flushing.insert(region.clone(), moved);
        }
        self.lowest_unflushed.get(region).and_then(min_ignoring_meta)
    }

    /// Rule 4: a flush of `region` up to `max_flushed_seqid` completed.
    pub fn complete_cache_flush(&mut self, region: &RegionName, max_flushed_seqid: u64) {
        self.flushing.remove(region);
        if let Some(lowest) = self.lowest_unflushed.get_mut(region) {
            for s in lowest.values_mut() {
                if *s <= max_flushed_seqid {
                    *s = max_flushed_seqid + 1;
                }
            }
        }
    }

    /// Rule 5: a flush of `region` was aborted; its seqids become unflushed again.
    pub fn abort_cache_flush(&mut self, region: &RegionName) -> Result<(), OutOfOrder> {
        let Some(restored) = self.flushing.remove(region) else { return Ok(()) };
        let lowest = self.lowest_unflushed.entry(region.clone()).or_default();
        for (f, s) in restored {
            if let Some(&present) = lowest.get(&f) {
                if present < s {
                    return Err(OutOfOrder {
                        region: region.clone(),
                        family: String::from_utf8_lossy(&f).into_owned(),
                        present,
                        restored: s,
                    });
                }
            }
            lowest.insert(f, s);
        }
        Ok(())
    }

    /// Lowest seqid of `region` still only in memory (flushing or unflushed), if any.
    pub fn lowest_seqid(&self, region: &RegionName) -> Option<u64> {
        let a = self.flushing.get(region).and_then(min_ignoring_meta);
        let b = self.lowest_unflushed.get(region).and_then(min_ignoring_meta);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Lowest seqid of one family: its flushing value if a flush runs, else its unflushed one.
    pub fn lowest_seqid_of_family(&self, region: &RegionName, family: &[u8]) -> Option<u64> {
        self.flushing
            .get(region)
            .and_then(|m| m.get(family))
            .or_else(|| self.lowest_unflushed.get(region).and_then(|m| m.get(family)))
            .copied()
    }

    /// Hands over the current file's highest seqids and starts a new, empty map (at a roll).
    pub fn reset_highest(&mut self) -> RegionSeqids {
        std::mem::take(&mut self.highest)
    }

    /// Highest seqids appended to the current file so far.
    pub fn highest(&self) -> &RegionSeqids {
        &self.highest
    }

    /// Rule 3: true when a file with `file_highest` may be archived; otherwise fills
    /// `blocking` with the regions that hold it back.
    pub fn are_all_lower(&self, file_highest: &RegionSeqids, blocking: &mut Vec<RegionName>) -> bool {
        blocking.clear();
        for (region, &high) in file_highest {
            if self.lowest_seqid(region).is_some_and(|low| low <= high) {
                blocking.push(region.clone());
            }
        }
        blocking.is_empty()
    }

    /// The (region, families) whose lowest unflushed seqid is at or below the file's highest
    /// seqid for that region: flushing them makes the file archivable. `None` when none.
    pub fn find_lower(&self, file_highest: &RegionSeqids) -> Option<FlushRequest> {
        let mut out = FlushRequest::new();
        for (region, &high) in file_highest {
            let Some(lowest) = self.lowest_unflushed.get(region) else { continue };
            let fams: Vec<Vec<u8>> = lowest
                .iter()
                .filter(|(f, s)| f.as_slice() != META_FAMILY && **s <= high)
                .map(|(f, _)| f.clone())
                .collect();
            if !fams.is_empty() {
                out.insert(region.clone(), fams);
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// Every region with unflushed or flushing edits.
    pub fn regions_with_unflushed(&self) -> Vec<RegionName> {
        let mut v: Vec<_> = self.lowest_unflushed.keys().chain(self.flushing.keys()).cloned().collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RegionName {
        RegionName::new(s)
    }
    fn fams(names: &[&str]) -> Vec<Vec<u8>> {
        names.iter().map(|n| n.as_bytes().to_vec()).collect()
    }

    /// HBase `TestSequenceIdAccounting.testStartCacheFlush`.
    #[test]
    fn start_cache_flush() {
        let mut a = Accounting::new();
        assert_eq!(a.start_cache_flush(&r("r"), &fams(&["a", "b"])), None, "empty region: NO_SEQNUM");
        a.update(&r("r"), &fams(&["a", "b"]), 1, true);
        a.update(&r("r"), &fams(&["a", "b"]), 2, true);
        assert_eq!(a.start_cache_flush(&r("r"), &fams(&["c"])), Some(1), "unrelated family: lowest of the region");
        assert_eq!(a.start_cache_flush(&r("r"), &fams(&["a", "b"])), None, "everything flushing");
    }

    /// HBase `TestSequenceIdAccounting.testAreAllLower`.
    #[test]
    fn are_all_lower() {
        let mut a = Accounting::new();
        let mut blocking = Vec::new();
        let file = |s: u64| RegionSeqids::from([(r("r"), s)]);
        assert!(a.are_all_lower(&file(5), &mut blocking), "empty accounting blocks nothing");
        a.update(&r("r"), &fams(&["a"]), 1, true);
        a.update(&r("r"), &fams(&["a"]), 2, true);
        assert!(!a.are_all_lower(&file(1), &mut blocking));
        assert_eq!(blocking, vec![r("r")]);
        assert_eq!(a.lowest_seqid(&r("r")), Some(1), "lowest is the first inserted seqid");
        a.start_cache_flush(&r("r"), &fams(&["a"]));
        assert!(!a.are_all_lower(&file(1), &mut blocking), "flushing ids still block");
        a.complete_cache_flush(&r("r"), 2);
        assert!(a.are_all_lower(&file(2), &mut blocking), "flushed: nothing blocks");
        a.update(&r("r"), &fams(&["a"]), 3, true);
        assert!(a.are_all_lower(&file(2), &mut blocking), "newer edits do not block an older file");
        assert!(!a.are_all_lower(&file(3), &mut blocking), "edits at or below the file's highest block");
        let mut m = Accounting::new();
        m.update(&r("m"), &[META_FAMILY.to_vec()], 1, true);
        assert!(m.are_all_lower(&RegionSeqids::from([(r("m"), 10)]), &mut blocking), "META never blocks");
    }

    /// HBase `TestSequenceIdAccounting.testFindLower`.
    #[test]
    fn find_lower() {
        let mut a = Accounting::new();
        a.update(&r("r"), &[META_FAMILY.to_vec()], 1, true);
        for s in 2..=4 {
            a.update(&r("r"), &fams(&["a"]), s, true);
        }
        let file = |s: u64| RegionSeqids::from([(r("r"), s)]);
        assert_eq!(a.find_lower(&file(1)), None);
        assert_eq!(a.find_lower(&file(2)), Some(FlushRequest::from([(r("r"), fams(&["a"]))])));
        assert_eq!(a.find_lower(&file(1)), None, "highest = lowest - 1: nothing to flush");
    }

    /// Markers (not in memstore) never enter lowest-unflushed (HBASE-8597).
    #[test]
    fn markers_do_not_block() {
        let mut a = Accounting::new();
        a.update(&r("r"), &[], 7, false);
        assert_eq!(a.highest().get(&r("r")), Some(&7));
        assert_eq!(a.lowest_seqid(&r("r")), None);
    }

    /// Abort restores; a lower value already present is reported as out of order.
    #[test]
    fn abort_restores_and_detects_out_of_order() {
        let mut a = Accounting::new();
        a.update(&r("r"), &fams(&["a"]), 5, true);
        a.start_cache_flush(&r("r"), &fams(&["a"]));
        a.update(&r("r"), &fams(&["a"]), 6, true);
        a.abort_cache_flush(&r("r")).unwrap();
        assert_eq!(a.lowest_seqid_of_family(&r("r"), b"a"), Some(5));
        let mut b = Accounting::new();
        b.update(&r("r"), &fams(&["a"]), 5, true);
        b.start_cache_flush(&r("r"), &fams(&["a"]));
        b.update(&r("r"), &fams(&["a"]), 3, true);
        assert!(b.abort_cache_flush(&r("r")).is_err());
    }

    /// Completion moves surviving lowest seqids above the flushed id (HBASE-23157).
    #[test]
    fn completion_never_leaves_lower_seqids() {
        let mut a = Accounting::new();
        a.update(&r("r"), &fams(&["a"]), 1, true);
        a.start_cache_flush(&r("r"), &fams(&["a"]));
        a.update(&r("r"), &fams(&["b"]), 2, true);
        a.complete_cache_flush(&r("r"), 5);
        assert_eq!(a.lowest_seqid_of_family(&r("r"), b"b"), Some(6));
    }
}
