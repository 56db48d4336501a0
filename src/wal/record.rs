//! What travels through the ring: append records and sync requests ("trucks").
//!
//! An append is encoded into its on-disk frame by the producer, before it is published, so the
//! single consumer only copies bytes; the frame carries the txid, so an entry re-written after a
//! writer failure is byte-identical to its first copy.

use crate::core::sync_future::SyncFuture;
use crate::format::encode_entry;

use super::entry::{Entry, RegionName, WalEdit, WalKey};
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
    /// Data families of the edit (empty for markers).
    pub families: Vec<Vec<u8>>,
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
        let families = if in_memstore { edit.families() } else { Vec::new() };
        let close_region = !in_memstore && edit.is_region_close_marker();
        let empty = edit.is_empty();
        let entry = Entry { txid, key, edit };
        let mut frame = Vec::new();
        if !empty {
            frame.reserve(entry.edit.estimated_size() + 96);
            encode_entry(&entry, &mut frame);
        }
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
