//! The region oracles: what a region must hold after its server died and it was reopened
//! elsewhere (split + replay), and what a live region must hold.
//!
//! The model of one region (by name: a region outlives the incarnations hosting it) is
//! - `writes`: every entry ever appended for it, by seqid (a seqid lost in a crash may be
//!   handed out again by the next incarnation, so a seqid can have several writes);
//! - `keep`: cells `(seqid, fingerprint)` that must be readable at every later check: those
//!   found at a verified open (an open leaves everything it holds in store files), and those
//!   a completed flush wrote to store files (applied puts at or below its flushed seqid);
//! - `pending`: obligations of the last recoveries, checked at the region's next open: every
//!   put the dead incarnation acknowledged under the pipeline's ack contract (and the recovery's
//!   loss level) *and* applied to its memstore (`Region::mutate` returned Ok — a put whose sync
//!   failed may be dropped by a later flush, which claims its seqid);
//! - `floor`: the highest seqid the region held or replayed when it last opened; every seqid
//!   its incarnation assigns afterwards must be above it.
//!
//! Checks:
//! 1. **acked-readable** — at an open, every `keep` and `pending` cell is read back (`scan`),
//!    same seqid and value fingerprint.
//! 2. **phantom-read** — every cell read is a put some incarnation appended for this region,
//!    at that seqid with that fingerprint (never a marker, never another region's).
//! 3. **seqid-continuity** — the open seqid is above every seqid read and every seqid the
//!    last split wrote for the region; later appends are above the floor.
//! 4. **replay-idempotence** — (in `cluster::regions`) closing the region, putting the split's
//!    recovered edits back and opening it again reads exactly the same cells.
//! 5. **live-readable** — at the end, a live region holds `keep` and every put its
//!    incarnation applied.

use std::collections::{BTreeMap, BTreeSet};

use super::{Inc, Violation};

/// One entry appended for a region.
#[derive(Clone, Debug)]
pub struct Write {
    /// The incarnation.
    pub inc: usize,
    /// Its txid there.
    pub txid: u64,
    /// Cell fingerprint.
    pub fp: u64,
    /// A marker (never readable).
    pub marker: bool,
}

/// A cell as read: `(seqid, fingerprint)`.
pub type CellId = (u64, u64);

/// The model of one region (see the module docs).
#[derive(Debug, Default)]
pub struct RegionModel {
    /// Every entry appended, by seqid.
    pub writes: BTreeMap<u64, Vec<Write>>,
    /// Cells that must stay readable.
    pub keep: BTreeSet<CellId>,
    /// Obligations awaiting the next open, with why.
    pub pending: BTreeMap<CellId, String>,
    /// `(incarnation, floor)`: that incarnation's seqids must exceed `floor`.
    pub floor: Option<(usize, u64)>,
    /// Highest data seqid the last split wrote for the region.
    pub recovered_max: u64,
    /// `(incarnation, seqid)`: applied puts of that incarnation up to `seqid` are in `keep`.
    pub persisted: (usize, u64),
}

impl RegionModel {
    /// Check 3's second half, for an append of `inc` at `seqid`.
    pub fn check_continuity(&self, inc: usize, who: &str, seqid: u64) -> Result<(), Violation> {
        match self.floor {
            Some((i, floor)) if i == inc && seqid <= floor => Err((
                "seqid-continuity",
                format!("{who}: appended seqid {seqid}, but the region held or replayed seqid {floor} when it opened"),
            )),
            _ => Ok(()),
        }
    }

    fn phantom(&self, label: &str, cells: &BTreeSet<CellId>) -> Result<(), Violation> {
        for &(seqid, fp) in cells {
            let ok = self.writes.get(&seqid).is_some_and(|ws| ws.iter().any(|w| !w.marker && w.fp == fp));
            if !ok {
                let why = match self.writes.get(&seqid) {
                    None => "no entry was ever appended at that seqid".to_string(),
                    Some(ws) => format!("{} entries were appended at that seqid, none with this value", ws.len()),
                };
                return Err(("phantom-read", format!("{label}: read a cell at seqid {seqid}: {why}")));
            }
        }
        Ok(())
    }

    /// Checks 1–3 at an open of the region on incarnation `inc` (`who`), which read `cells`
    /// and reported `open_seqid` after replaying up to `replay_max`; then the cells read become
    /// `keep` and the floor is set.
    pub fn check_open(
        &mut self,
        label: &str,
        inc: usize,
        who: &str,
        cells: &BTreeSet<CellId>,
        open_seqid: u64,
        replay_max: u64,
    ) -> Result<(), Violation> {
        let missing = self
            .keep
            .iter()
            .find(|c| !cells.contains(c))
            .map(|c| (*c, "it was readable or flushed before".to_string()));
        let missing =
            missing.or_else(|| self.pending.iter().find(|(c, _)| !cells.contains(c)).map(|(c, w)| (*c, w.clone())));
        if let Some(((seqid, _), why)) = missing {
            let max = cells.iter().map(|c| c.0).max().unwrap_or(0);
            return Err((
                "acked-readable",
                format!(
                    "{who}: {label} seqid {seqid} is not readable after recovery ({why}); the region holds {} cells, max seqid {max}",
                    cells.len()
                ),
            ));
        }
        self.phantom(label, cells)?;
        let held = cells.iter().map(|c| c.0).max().unwrap_or(0).max(self.recovered_max).max(replay_max);
        if open_seqid <= held {
            return Err((
                "seqid-continuity",
                format!("{who}: {label} opened at seqid {open_seqid}, but it holds or replayed seqid {held}"),
            ));
        }
        self.floor = Some((inc, held));
        self.keep.extend(cells.iter().copied());
        self.pending.clear();
        Ok(())
    }

    /// A flush of the region on incarnation `inc` completed with everything at or below
    /// `flushed_seqid` in store files: its applied puts up to there must stay readable.
    pub fn flushed(&mut self, inc: usize, m: &Inc, flushed_seqid: u64) {
        let from = if self.persisted.0 == inc { self.persisted.1 + 1 } else { 0 };
        if from > flushed_seqid {
            return;
        }
        for ws in self.writes.range(from..=flushed_seqid).map(|(_, ws)| ws) {
            for w in ws.iter().filter(|w| w.inc == inc && !w.marker && m.applied.contains(&w.txid)) {
                let seqid = m.puts[&w.txid].seqid;
                self.keep.insert((seqid, w.fp));
            }
        }
        self.persisted = (inc, flushed_seqid);
    }

    /// Check 5: the live region of incarnation `inc` read `cells`.
    pub fn check_live(&self, label: &str, inc: usize, m: &Inc, cells: &BTreeSet<CellId>) -> Result<(), Violation> {
        if let Some((seqid, _)) = self.keep.iter().find(|c| !cells.contains(c)) {
            return Err((
                "live-readable",
                format!("{}: {label} seqid {seqid} (kept since an open or a flush) is not readable", m.name),
            ));
        }
        for (seqid, ws) in &self.writes {
            for w in ws.iter().filter(|w| w.inc == inc && !w.marker && m.applied.contains(&w.txid)) {
                if !cells.contains(&(*seqid, w.fp)) {
                    return Err((
                        "live-readable",
                        format!("{}: {label} seqid {seqid} (txid {}) was applied but is not readable", m.name, w.txid),
                    ));
                }
            }
        }
        self.phantom(label, cells)
    }
}

/// Recovery of incarnation `m` at loss level `hsync`: the puts its acks oblige (under the
/// pipeline's contract) and that it applied become pending obligations of their regions.
pub fn oblige(regions: &mut BTreeMap<std::sync::Arc<str>, RegionModel>, m: &Inc, prefix_acks: bool, hsync: bool) {
    for txid in m.obliged(prefix_acks, hsync) {
        let put = &m.puts[&txid];
        if put.marker || !m.applied.contains(&txid) {
            continue;
        }
        let why = format!("{} txid {txid} durability {}, acked", m.name, put.durability);
        if let Some(r) = regions.get_mut(&put.region) {
            r.pending.insert((put.seqid, put.fp), why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> RegionModel {
        let mut r = RegionModel::default();
        for (seqid, fp, marker) in [(1, 10, false), (2, 20, true), (3, 30, false)] {
            r.writes.entry(seqid).or_default().push(Write { inc: 0, txid: seqid, fp, marker });
        }
        r
    }

    /// An open must read back every pending obligation; what it reads then must stay.
    #[test]
    fn pending_and_kept_cells_must_be_read() {
        let mut r = model();
        r.pending.insert((3, 30), "acked".into());
        let read: BTreeSet<CellId> = [(1, 10)].into();
        let e = r.check_open("r1-0", 1, "rs1,2", &read, 4, 0).unwrap_err();
        assert_eq!(e.0, "acked-readable", "{}", e.1);
        let read: BTreeSet<CellId> = [(1, 10), (3, 30)].into();
        r.check_open("r1-0", 1, "rs1,2", &read, 4, 0).unwrap();
        assert!(r.pending.is_empty());
        let e = r.check_open("r1-0", 2, "rs1,3", &[(1, 10)].into(), 5, 0).unwrap_err();
        assert_eq!(e.0, "acked-readable", "a cell read at an earlier open must stay: {}", e.1);
    }

    /// Markers, other values and unknown seqids are never readable.
    #[test]
    fn phantom_cells_are_refused() {
        for cell in [(2, 20), (1, 11), (9, 10)] {
            let e = model().check_open("r1-0", 1, "rs1,2", &[cell].into(), 10, 0).unwrap_err();
            assert_eq!(e.0, "phantom-read", "{cell:?}: {}", e.1);
        }
    }

    /// The open seqid is above everything held or replayed, and later appends stay above it.
    #[test]
    fn seqids_continue_above_the_open() {
        let mut r = model();
        r.recovered_max = 5;
        let e = r.check_open("r1-0", 1, "rs1,2", &[(3, 30)].into(), 5, 0).unwrap_err();
        assert_eq!(e.0, "seqid-continuity", "{}", e.1);
        r.check_open("r1-0", 1, "rs1,2", &[(3, 30)].into(), 6, 0).unwrap();
        assert_eq!(r.check_continuity(1, "rs1,2", 5).unwrap_err().0, "seqid-continuity");
        r.check_continuity(1, "rs1,2", 6).unwrap();
        r.check_continuity(2, "rs1,3", 1).unwrap();
    }
}
