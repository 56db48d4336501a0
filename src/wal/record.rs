//! What travels through the ring: append records and sync requests ("trucks").
//!
//! An append is encoded into its on-disk frame by the producer, before it is published, so the
//! single consumer only copies bytes; the frame carries the txid, so an entry re-written after a
//! writer failure is byte-identical to its first copy.

use crate::core::sync_future::SyncFuture;
use crate::format::{encode_entry, framed_entry_len};

use super::entry::{Entry, RegionName, WalEdit, WalKey, META_FAMILY};
use super::error::WalError;

/// The engine's sync future type.
pub type Fut = SyncFuture<WalError>;

/// One ring slot's payload.
pub(crate) enum Truck {
    /// An entry to write.
    Append(AppendRecord),
    /// A caller waiting for a sync.
    Sync(Fut),
}

/// An encoded entry plus what sequence-id accounting needs to know about it.
pub(crate) struct AppendRecord {
    pub txid: u64,
    pub region: RegionName,
    pub seqid: u64,
    /// Data families of the edit (none for markers).
    pub families: Families,
    /// False for markers: they never enter the memstore or the lowest-unflushed accounting.
    pub in_memstore: bool,
    /// A region close marker: drops the region from accounting.
    pub close_region: bool,
    /// The framed entry; empty for an empty edit (nothing is written, the txid still counts).
    pub frame: Vec<u8>,
    /// Set once the entry was written and its accounting applied. A re-write after a writer
    /// failure (which can come long after: everything not yet hsynced is re-written) only adds
    /// the copy to the new file's highest seqids: re-applying a REGION_CLOSE would drop the
    /// accounting of the region reopened since, and re-applying an edit would count an edit
    /// flushed since as unflushed again.
    pub accounted: bool,
}

impl AppendRecord {
    /// Encodes `key` + `edit` as the entry for `txid`.
    pub fn encode(txid: u64, key: WalKey, edit: WalEdit, in_memstore: bool) -> Self {
        let close_region = !in_memstore && edit.is_region_close_marker();
        let empty = edit.is_empty();
        let entry = Entry { txid, key, edit };
        let mut frame = Vec::new();
        if !empty {
            // Exactly the frame's size: one allocation, no growth while encoding.
            frame.reserve_exact(framed_entry_len(&entry));
            encode_entry(&entry, &mut frame);
        }
        // The edit is encoded: its family names move into the record instead of being copied.
        let families = if in_memstore { Families::take(entry.edit) } else { Families::Many(Vec::new()) };
        AppendRecord {
            txid,
            region: entry.key.region,
            seqid: entry.key.seqid,
            families,
            in_memstore,
            close_region,
            frame,
            accounted: false,
        }
    }

    /// Bytes this record occupies in a file.
    pub fn len(&self) -> u64 {
        self.frame.len() as u64
    }
}

/// The distinct data families of an edit, in order: most edits touch one family, which needs
/// no list of its own.
pub(crate) enum Families {
    One(Vec<u8>),
    /// Sorted and distinct; empty for an edit without data cells.
    Many(Vec<Vec<u8>>),
}

impl Families {
    /// Moves the family names out of `edit`'s cells (meta family excluded); the same set as
    /// [`WalEdit::families`].
    fn take(edit: WalEdit) -> Self {
        let mut names = edit.cells.into_iter().map(|c| c.family).filter(|f| f.as_slice() != META_FAMILY);
        let Some(first) = names.next() else { return Self::Many(Vec::new()) };
        let mut others: Vec<Vec<u8>> = names.filter(|f| *f != first).collect();
        if others.is_empty() {
            return Self::One(first);
        }
        others.push(first);
        others.sort();
        others.dedup();
        Self::Many(others)
    }

    pub fn as_slice(&self) -> &[Vec<u8>] {
        match self {
            Self::One(f) => std::slice::from_ref(f),
            Self::Many(fs) => fs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::entry::Cell;

    /// The moved-out families are exactly `WalEdit::families()`, for one, several, repeated
    /// and meta-only families.
    #[test]
    fn taken_families_match_the_edit_families() {
        let meta = WalEdit::flush_marker(crate::wal::entry::FlushAction::Start, 5, 0);
        let mut several = WalEdit::put(b"r", b"cf2", b"q", 1, b"v");
        several.cells.push(Cell::put(b"r", b"cf1", b"q", 1, b"v"));
        several.cells.push(Cell::put(b"r", b"cf2", b"q2", 1, b"v"));
        several.cells.extend(meta.cells.iter().cloned());
        let mut repeated = WalEdit::put(b"r", b"cf", b"q", 1, b"v");
        repeated.cells.push(Cell::put(b"r2", b"cf", b"q", 1, b"v"));
        for edit in [WalEdit::put(b"r", b"f", b"q", 1, b"v"), several, repeated, meta, WalEdit::default()] {
            let expected = edit.families();
            let taken = Families::take(edit);
            assert_eq!(taken.as_slice(), expected.as_slice());
        }
    }
}
