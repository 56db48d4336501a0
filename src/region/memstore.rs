//! The memstore of one family, the store that owns it, and read-time visibility.
//!
//! Cells are ordered as HBase's `CellComparator` orders them within a family: row, qualifier,
//! timestamp descending, kind code descending (deletes before puts of the same timestamp), and
//! sequence id descending (newest write first).
//!
//! Rules:
//! 1. A store is its immutable files, an active memstore and at most one snapshot (a flush in
//!    progress). Reads see all three; a flush moves active → snapshot → a new file.
//! 2. Memstore cells above the region's MVCC read point are not yet visible; store-file cells
//!    always are.
//! 3. Inserting the same (row, qualifier, timestamp, kind, seqid) twice keeps one cell: replaying
//!    duplicated recovered edits is idempotent.
//! 4. Visibility: a put is hidden by a `DeleteFamily` of its row with a timestamp at or above its
//!    own, a `DeleteFamilyVersion` with its exact timestamp, a `DeleteColumn` of its column at or
//!    above its timestamp, or a `Delete` of its column with its exact timestamp.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::storefile::StoreFile;
use crate::wal::entry::{Cell, CellKind};

/// A cell and the sequence id of the edit that wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCell {
    /// The cell.
    pub cell: Cell,
    /// The region sequence id of its edit.
    pub seqid: u64,
}

/// Memstore order within a family.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct CellKey {
    row: Vec<u8>,
    qualifier: Vec<u8>,
    timestamp: Reverse<u64>,
    kind: Reverse<u8>,
    seqid: Reverse<u64>,
}

/// The in-memory cells of one family.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemStore {
    cells: BTreeMap<CellKey, Vec<u8>>,
}

impl MemStore {
    /// Rule 3: adds a cell (of this memstore's family) written at `seqid`.
    pub fn insert(&mut self, cell: &Cell, seqid: u64) {
        let key = CellKey {
            row: cell.row.clone(),
            qualifier: cell.qualifier.clone(),
            timestamp: Reverse(cell.timestamp),
            kind: Reverse(cell.kind.code()),
            seqid: Reverse(seqid),
        };
        self.cells.insert(key, cell.value.clone());
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Moves every cell of `other` in.
    pub fn absorb(&mut self, other: MemStore) {
        self.cells.extend(other.cells);
    }

    /// The cells in order, with `family` filled in, at or below `read_point`.
    pub fn cells(&self, family: &[u8], read_point: u64) -> impl Iterator<Item = StoredCell> + '_ {
        let family = family.to_vec();
        self.cells.iter().filter(move |(k, _)| k.seqid.0 <= read_point).map(move |(k, v)| StoredCell {
            cell: Cell {
                row: k.row.clone(),
                family: family.clone(),
                qualifier: k.qualifier.clone(),
                timestamp: k.timestamp.0,
                kind: CellKind::from_code(k.kind.0).expect("only valid kinds are inserted"),
                value: v.clone(),
            },
            seqid: k.seqid.0,
        })
    }
}

/// One family of a region (rule 1).
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub files: Vec<StoreFile>,
    pub active: MemStore,
    pub snapshot: Option<MemStore>,
}

impl Store {
    /// Highest flush seqid of the store's files (0 when none): HBase `maxSeqIdInStores[family]`.
    pub fn max_flushed_seqid(&self) -> u64 {
        self.files.iter().map(|f| f.max_seqid).max().unwrap_or(0)
    }

    /// Every cell of the store, raw (deletes and hidden versions included), in order, without
    /// duplicates; memstore cells only up to `read_point` (rule 2).
    pub fn raw_cells(&self, family: &[u8], read_point: u64) -> Vec<StoredCell> {
        let mut all = MemStore::default();
        for f in &self.files {
            for c in &f.cells {
                all.insert(&c.cell, c.seqid);
            }
        }
        for m in self.snapshot.iter().chain(std::iter::once(&self.active)) {
            for c in m.cells(family, read_point) {
                all.insert(&c.cell, c.seqid);
            }
        }
        all.cells(family, u64::MAX).collect()
    }
}

/// Rule 4: the puts of `cells` (one family, in store order) that no delete hides.
pub(crate) fn visible(cells: Vec<StoredCell>) -> Vec<StoredCell> {
    let deletes: Vec<&StoredCell> = cells.iter().filter(|c| c.cell.kind != CellKind::Put).collect();
    let hidden = |p: &StoredCell| {
        deletes.iter().any(|d| {
            let (d, p) = (&d.cell, &p.cell);
            d.row == p.row
                && match d.kind {
                    CellKind::DeleteFamily => p.timestamp <= d.timestamp,
                    CellKind::DeleteFamilyVersion => p.timestamp == d.timestamp,
                    CellKind::DeleteColumn => d.qualifier == p.qualifier && p.timestamp <= d.timestamp,
                    CellKind::Delete => d.qualifier == p.qualifier && p.timestamp == d.timestamp,
                    CellKind::Put => false,
                }
        })
    };
    cells.iter().filter(|c| c.cell.kind == CellKind::Put && !hidden(c)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(row: &str, q: &str, ts: u64) -> Cell {
        Cell::put(row.as_bytes(), b"f", q.as_bytes(), ts, b"v")
    }

    fn del(row: &str, q: &str, ts: u64, kind: CellKind) -> Cell {
        Cell { kind, value: Vec::new(), ..put(row, q, ts) }
    }

    /// Order is row, qualifier, timestamp desc, seqid desc; duplicates collapse; the read point
    /// hides later writes.
    #[test]
    fn order_dedup_and_read_point() {
        let mut m = MemStore::default();
        m.insert(&put("b", "q", 1), 4);
        m.insert(&put("a", "q", 1), 2);
        m.insert(&put("a", "q", 5), 3);
        m.insert(&put("a", "q", 5), 3);
        let got: Vec<_> = m.cells(b"f", 10).map(|c| (c.cell.row[0], c.cell.timestamp, c.seqid)).collect();
        assert_eq!(got, vec![(b'a', 5, 3), (b'a', 1, 2), (b'b', 1, 4)]);
        assert_eq!(m.cells(b"f", 3).count(), 2, "seqid 4 is above the read point");
    }

    /// Each delete kind hides exactly the puts HBase's rules say it hides.
    #[test]
    fn deletes_hide_what_they_cover() {
        let cells = |extra: Cell| {
            let mut m = MemStore::default();
            for (i, c) in
                [put("r", "a", 1), put("r", "a", 2), put("r", "b", 2), put("s", "a", 2), extra].iter().enumerate()
            {
                m.insert(c, i as u64 + 1);
            }
            let v = visible(m.cells(b"f", 100).collect());
            v.iter()
                .map(|c| format!("{}{}{}", c.cell.row[0] as char, c.cell.qualifier[0] as char, c.cell.timestamp))
                .collect::<Vec<_>>()
        };
        assert_eq!(cells(del("r", "", 2, CellKind::DeleteFamily)), ["sa2"]);
        assert_eq!(cells(del("r", "", 2, CellKind::DeleteFamilyVersion)), ["ra1", "sa2"]);
        assert_eq!(cells(del("r", "a", 2, CellKind::DeleteColumn)), ["rb2", "sa2"]);
        assert_eq!(cells(del("r", "a", 1, CellKind::Delete)), ["ra2", "rb2", "sa2"]);
    }
}
