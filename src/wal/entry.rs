//! The WAL's data model: keys, cells, edits, meta markers and entries.
//!
//! An [`Entry`] is what the log stores: a [`WalKey`] (which region, which region sequence id,
//! when) plus a [`WalEdit`] (the cells of one row-level transaction), stamped with the WAL-local
//! `txid` of the ring slot it was published in.
//!
//! Meta edits ("markers") follow HBase: a single cell in family [`META_FAMILY`], row
//! [`META_ROW`], whose qualifier names the marker kind (`HBASE::FLUSH`, `HBASE::COMPACTION`,
//! `HBASE::REGION_EVENT::<type>`, ...). Markers are written to the log but never enter the
//! memstore, so they never hold back archiving.

use std::fmt;
use std::sync::Arc;

/// The reserved family of meta edits (markers).
pub const META_FAMILY: &[u8] = b"METAFAMILY";
/// The reserved row of meta edits (markers).
pub const META_ROW: &[u8] = b"METAROW";

/// Qualifier of a flush marker.
pub const FLUSH_QUALIFIER: &[u8] = b"HBASE::FLUSH";
/// Qualifier of a compaction marker.
pub const COMPACTION_QUALIFIER: &[u8] = b"HBASE::COMPACTION";
/// Qualifier of a bulk-load marker.
pub const BULK_LOAD_QUALIFIER: &[u8] = b"HBASE::BULK_LOAD";
/// Qualifier of a replication marker.
pub const REPLICATION_QUALIFIER: &[u8] = b"HBASE::REPLICATION_MARKER";
/// Qualifier prefix of region event markers (`HBASE::REGION_EVENT::OPEN`, `...::CLOSE`).
pub const REGION_EVENT_PREFIX: &[u8] = b"HBASE::REGION_EVENT::";

/// An encoded region name (HBase uses a hex digest; any printable name works here).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionName(Arc<str>);

impl RegionName {
    /// A region name from text.
    pub fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RegionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl From<&str> for RegionName {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// The key of a WAL entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalKey {
    /// Encoded name of the region the edit belongs to.
    pub region: RegionName,
    /// Table name.
    pub table: Arc<str>,
    /// Region sequence id (the region's MVCC write number). Assigned by the WAL at append time,
    /// atomically with the ring slot, so per-region seqid order equals WAL order.
    pub seqid: u64,
    /// Wall-clock write time in milliseconds, as the caller's clock reported it.
    pub write_time_ms: u64,
    /// Ids of the clusters this edit has passed through (replication loop prevention).
    pub cluster_ids: Vec<u128>,
    /// For replayed edits: the seqid the edit had in the log it came from (0 = none).
    pub orig_seqid: u64,
}

impl WalKey {
    /// A key for `region` of `table`; the seqid is filled in by the WAL.
    pub fn new(region: RegionName, table: &str, write_time_ms: u64) -> Self {
        Self { region, table: Arc::from(table), seqid: 0, write_time_ms, cluster_ids: Vec::new(), orig_seqid: 0 }
    }
}

/// The type of a cell, with HBase's `KeyValue.Type` codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum CellKind {
    /// A value.
    Put = 4,
    /// Deletes one version of a column.
    Delete = 8,
    /// Deletes a family's versions at or below the timestamp.
    DeleteFamilyVersion = 10,
    /// Deletes all versions of a column.
    DeleteColumn = 12,
    /// Deletes all columns of a family.
    DeleteFamily = 14,
}

impl CellKind {
    /// The kind for a stored code, or `None` for an unknown code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            4 => Self::Put,
            8 => Self::Delete,
            10 => Self::DeleteFamilyVersion,
            12 => Self::DeleteColumn,
            14 => Self::DeleteFamily,
            _ => return None,
        })
    }
    /// The stored code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// One cell: a versioned value of a column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Row key.
    pub row: Vec<u8>,
    /// Column family.
    pub family: Vec<u8>,
    /// Column qualifier.
    pub qualifier: Vec<u8>,
    /// Version timestamp.
    pub timestamp: u64,
    /// Put or one of the delete kinds.
    pub kind: CellKind,
    /// The value (empty for deletes).
    pub value: Vec<u8>,
}

impl Cell {
    /// A put cell.
    pub fn put(row: &[u8], family: &[u8], qualifier: &[u8], timestamp: u64, value: &[u8]) -> Self {
        Self {
            row: row.to_vec(),
            family: family.to_vec(),
            qualifier: qualifier.to_vec(),
            timestamp,
            kind: CellKind::Put,
            value: value.to_vec(),
        }
    }

    /// Bytes this cell contributes to an entry (an estimate used for batching and buffers).
    pub fn estimated_size(&self) -> usize {
        self.row.len() + self.family.len() + self.qualifier.len() + self.value.len() + 9 + 8
    }
}

/// What a flush marker records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FlushAction {
    /// A flush started (written before the snapshot).
    Start = 0,
    /// A flush committed (store files written).
    Commit = 1,
    /// A flush was aborted.
    Abort = 2,
}

/// Region events recorded by markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionEvent {
    /// Region opened.
    Open,
    /// Region closed.
    Close,
}

impl RegionEvent {
    fn name(self) -> &'static [u8] {
        match self {
            Self::Open => b"OPEN",
            Self::Close => b"CLOSE",
        }
    }
}

/// The kind of a meta edit, decoded from its qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    /// A flush marker.
    Flush,
    /// A compaction marker (kept by split and replayed).
    Compaction,
    /// A region open or close marker.
    RegionEvent(RegionEvent),
    /// A bulk load marker.
    BulkLoad,
    /// A replication marker (dropped by split).
    Replication,
    /// A meta cell with a qualifier this version does not know.
    Other,
}

/// The cells of one row-level transaction, or one meta marker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalEdit {
    /// The cells, in the order the client gave them.
    pub cells: Vec<Cell>,
}

impl WalEdit {
    /// An edit of the given cells.
    pub fn new(cells: Vec<Cell>) -> Self {
        Self { cells }
    }

    /// An edit with a single put.
    pub fn put(row: &[u8], family: &[u8], qualifier: &[u8], timestamp: u64, value: &[u8]) -> Self {
        Self::new(vec![Cell::put(row, family, qualifier, timestamp, value)])
    }

    fn marker(qualifier: Vec<u8>, timestamp: u64, value: Vec<u8>) -> Self {
        Self::new(vec![Cell {
            row: META_ROW.to_vec(),
            family: META_FAMILY.to_vec(),
            qualifier,
            timestamp,
            kind: CellKind::Put,
            value,
        }])
    }

    /// A flush marker; the value records the action and the flush's sequence id.
    pub fn flush_marker(action: FlushAction, flush_seqid: u64, timestamp: u64) -> Self {
        let mut value = vec![action as u8];
        value.extend_from_slice(&flush_seqid.to_be_bytes());
        Self::marker(FLUSH_QUALIFIER.to_vec(), timestamp, value)
    }

    /// A compaction marker naming the compacted store files.
    pub fn compaction_marker(family: &[u8], timestamp: u64) -> Self {
        Self::marker(COMPACTION_QUALIFIER.to_vec(), timestamp, family.to_vec())
    }

    /// A region open or close marker.
    pub fn region_event_marker(event: RegionEvent, seqid: u64, timestamp: u64) -> Self {
        let mut q = REGION_EVENT_PREFIX.to_vec();
        q.extend_from_slice(event.name());
        Self::marker(q, timestamp, seqid.to_be_bytes().to_vec())
    }

    /// A replication marker.
    pub fn replication_marker(timestamp: u64) -> Self {
        Self::marker(REPLICATION_QUALIFIER.to_vec(), timestamp, Vec::new())
    }

    /// True when the edit has no cells (used only to obtain a seqid; nothing is written).
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// True when every cell is in [`META_FAMILY`] (and there is at least one).
    pub fn is_meta(&self) -> bool {
        !self.cells.is_empty() && self.cells.iter().all(|c| c.family == META_FAMILY)
    }

    /// The marker kind of a meta edit, `None` for a data edit.
    pub fn marker_kind(&self) -> Option<MarkerKind> {
        if !self.is_meta() {
            return None;
        }
        let q = self.cells[0].qualifier.as_slice();
        Some(match q {
            FLUSH_QUALIFIER => MarkerKind::Flush,
            COMPACTION_QUALIFIER => MarkerKind::Compaction,
            BULK_LOAD_QUALIFIER => MarkerKind::BulkLoad,
            REPLICATION_QUALIFIER => MarkerKind::Replication,
            _ if q == [REGION_EVENT_PREFIX, b"OPEN"].concat() => MarkerKind::RegionEvent(RegionEvent::Open),
            _ if q == [REGION_EVENT_PREFIX, b"CLOSE"].concat() => MarkerKind::RegionEvent(RegionEvent::Close),
            _ => MarkerKind::Other,
        })
    }

    /// True for a region close marker (it drops the region from sequence-id accounting).
    pub fn is_region_close_marker(&self) -> bool {
        self.marker_kind() == Some(MarkerKind::RegionEvent(RegionEvent::Close))
    }

    /// The distinct data families of the edit, byte-ordered, [`META_FAMILY`] excluded.
    pub fn families(&self) -> Vec<Vec<u8>> {
        let mut fams: Vec<Vec<u8>> =
            self.cells.iter().filter(|c| c.family != META_FAMILY).map(|c| c.family.clone()).collect();
        fams.sort();
        fams.dedup();
        fams
    }

    /// Estimated size of the edit's cells in bytes.
    pub fn estimated_size(&self) -> usize {
        self.cells.iter().map(Cell::estimated_size).sum()
    }
}

/// One WAL entry: key, edit and the txid of the ring slot it was published in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// WAL-local transaction id (ring sequence); strictly increasing over all regions.
    pub txid: u64,
    /// The key.
    pub key: WalKey,
    /// The cells.
    pub edit: WalEdit,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirrors HBase `TestFSWALEntry.testCollectFamilies`: distinct, byte-ordered, no meta family.
    #[test]
    fn families_are_distinct_ordered_and_exclude_meta() {
        let mut edit = WalEdit::put(b"r", b"cf2", b"q", 1, b"v");
        edit.cells.push(Cell::put(b"r", b"cf1", b"q", 1, b"v"));
        edit.cells.push(Cell::put(b"r", b"cf2", b"q2", 1, b"v"));
        edit.cells.push(Cell::put(META_ROW, META_FAMILY, FLUSH_QUALIFIER, 1, b""));
        assert_eq!(edit.families(), vec![b"cf1".to_vec(), b"cf2".to_vec()]);
        assert!(!edit.is_meta());
    }

    #[test]
    fn markers_decode_their_kind() {
        assert_eq!(WalEdit::flush_marker(FlushAction::Start, 5, 0).marker_kind(), Some(MarkerKind::Flush));
        assert!(WalEdit::region_event_marker(RegionEvent::Close, 3, 0).is_region_close_marker());
        assert!(!WalEdit::region_event_marker(RegionEvent::Open, 3, 0).is_region_close_marker());
        assert_eq!(WalEdit::compaction_marker(b"f", 0).marker_kind(), Some(MarkerKind::Compaction));
        assert_eq!(WalEdit::put(b"r", b"f", b"q", 1, b"v").marker_kind(), None);
        assert!(WalEdit::default().is_empty());
    }
}
