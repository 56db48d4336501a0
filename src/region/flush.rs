//! The flush protocol, as HBase runs it against the WAL (spec §4.4).
//!
//! 1. One flush at a time (`flush_lock`).
//! 2. Prepare, holding the `updates` lock exclusively (no mutation in flight):
//!    `earliest = wal.start_cache_flush(region, families)`; the flush seqid is a fresh MVCC
//!    number (begin + complete-and-wait: HBase `getNextSequenceId`); `flushed_seqid = earliest - 1`
//!    when other families keep unflushed edits, else the flush seqid; append START_FLUSH (not
//!    synced); move the flushed families' memstores to snapshots; release the lock.
//! 3. Sync the WAL (START_FLUSH is durable), write one store file per snapshot at the flush
//!    seqid (written under `.tmp/`, renamed into place), install them, drop the snapshots.
//! 4. Append COMMIT_FLUSH and sync it, then `wal.complete_cache_flush(region, flushed_seqid)`;
//!    the region's max flushed seqid becomes `flushed_seqid`.
//! 5. Abort: a failure after `start_cache_flush` and before step 4 appends ABORT_FLUSH (not
//!    synced), returns the snapshots to the memstores and calls `wal.abort_cache_flush`; the
//!    caller gets [`RegionError::FlushAborted`]. Nothing is lost: the edits are still in the
//!    memstore and in the WAL.
//! 6. A failed COMMIT_FLUSH (HBase: fatal, the server aborts): the store files are already
//!    durable, so the flush still completes in the WAL's accounting and the error is returned.
//! 7. The replay flush of region open runs without the WAL: every non-empty memstore is written
//!    at the highest replayed seqid, with no markers and no accounting (HBase
//!    `internalFlushcache(null, seqid, ...)`).

use std::collections::BTreeMap;

use super::error::RegionError;
use super::handle::Region;
use super::memstore::{MemStore, StoredCell};
use super::storefile::{self, StoreFile};
use crate::sync::{lock, Ordering};
use crate::wal::entry::{FlushAction, WalEdit};

/// What a flush did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlushOutcome {
    /// The flush's sequence id (the store files' max seqid).
    pub flush_seqid: u64,
    /// Everything at or below this is now in store files, in every family.
    pub flushed_seqid: u64,
    /// The store files written.
    pub files: Vec<String>,
    /// Cells written.
    pub cells: usize,
}

/// What the prepare phase hands to the write phase.
struct Prepared {
    flush_seqid: u64,
    flushed_seqid: u64,
    start_txid: u64,
    snapshots: BTreeMap<Vec<u8>, Vec<StoredCell>>,
}

impl Region {
    /// Flushes every family with edits in its memstore. `None` when there was nothing to flush.
    pub async fn flush(&self) -> Result<Option<FlushOutcome>, RegionError> {
        self.check_open()?;
        self.flush_internal().await
    }

    /// Flushes only `families` (a partial flush: the region's flushed seqid stays below the
    /// oldest edit of the others).
    pub async fn flush_families(&self, families: &[Vec<u8>]) -> Result<Option<FlushOutcome>, RegionError> {
        self.check_open()?;
        let _one = self.flush_lock.lock().await;
        self.flush_locked(Some(families)).await
    }

    pub(super) async fn flush_internal(&self) -> Result<Option<FlushOutcome>, RegionError> {
        let _one = self.flush_lock.lock().await;
        self.flush_locked(None).await
    }

    async fn flush_locked(&self, only: Option<&[Vec<u8>]>) -> Result<Option<FlushOutcome>, RegionError> {
        let Some(p) = self.prepare(only).await? else { return Ok(None) };
        let synced = self.wal.sync(p.start_txid).await;
        if let Err(e) = synced {
            return Err(self.abort(p, format!("syncing START_FLUSH failed: {e}")).await);
        }
        let files = match self.write_snapshots(&p).await {
            Ok(files) => files,
            Err(e) => return Err(self.abort(p, e.to_string()).await),
        };
        let outcome = FlushOutcome {
            flush_seqid: p.flush_seqid,
            flushed_seqid: p.flushed_seqid,
            files: files.iter().map(|f| f.path.clone()).collect(),
            cells: p.snapshots.values().map(Vec::len).sum(),
        };
        self.install(files);
        let committed = self.commit_marker(p.flush_seqid).await;
        // Rule 6: the files are durable whatever the marker did.
        self.wal.complete_cache_flush(&self.name, p.flushed_seqid);
        self.max_flushed_seqid.fetch_max(p.flushed_seqid, Ordering::AcqRel);
        committed?;
        Ok(Some(outcome))
    }

    /// Rule 2.
    async fn prepare(&self, only: Option<&[Vec<u8>]>) -> Result<Option<Prepared>, RegionError> {
        let _exclusive = self.updates.write().await;
        let families: Vec<Vec<u8>> = {
            let stores = lock(&self.stores);
            stores
                .iter()
                .filter(|(f, s)| !s.active.is_empty() && only.is_none_or(|o| o.contains(f)))
                .map(|(f, _)| f.clone())
                .collect()
        };
        if families.is_empty() {
            return Ok(None);
        }
        let earliest = self.wal.start_cache_flush(&self.name, &families);
        let we = self.mvcc.begin();
        let flush_seqid = we.seqid();
        self.mvcc.complete_and_wait(we).await;
        let flushed_seqid = earliest.map_or(flush_seqid, |e| e - 1);
        let marker = WalEdit::flush_marker(FlushAction::Start, flush_seqid, self.now_ms());
        let start_txid = match self.write_marker(marker, "append START_FLUSH", false).await {
            Ok(txid) => txid,
            Err(e) => {
                self.wal.abort_cache_flush(&self.name)?;
                let cause = e.to_string();
                return Err(RegionError::FlushAborted { region: self.name.to_string(), flush_seqid, cause });
            }
        };
        let mut snapshots = BTreeMap::new();
        let mut stores = lock(&self.stores);
        for f in &families {
            let store = stores.get_mut(f).expect("listed above");
            assert!(store.snapshot.is_none(), "a snapshot outlived its flush");
            let snap = std::mem::take(&mut store.active);
            snapshots.insert(f.clone(), snap.cells(f, u64::MAX).collect());
            store.snapshot = Some(snap);
        }
        Ok(Some(Prepared { flush_seqid, flushed_seqid, start_txid, snapshots }))
    }

    /// Step 3: one store file per snapshot. Files renamed into place before a later one failed
    /// stay (they hold exactly their snapshot at the flush seqid, which stays true).
    async fn write_snapshots(&self, p: &Prepared) -> Result<Vec<StoreFile>, RegionError> {
        let mut files = Vec::new();
        for (family, cells) in &p.snapshots {
            let table = &self.table;
            files.push(
                storefile::write(&*self.fs, table, self.name.as_str(), family, p.flush_seqid, cells.clone()).await?,
            );
        }
        Ok(files)
    }

    /// Step 3's install: the new files become part of their stores; the snapshots go.
    fn install(&self, files: Vec<StoreFile>) {
        let mut stores = lock(&self.stores);
        for f in files {
            let store = stores.get_mut(&f.family).expect("a flushed family has a store");
            store.snapshot = None;
            store.files.push(f);
        }
    }

    async fn commit_marker(&self, flush_seqid: u64) -> Result<(), RegionError> {
        let marker = WalEdit::flush_marker(FlushAction::Commit, flush_seqid, self.now_ms());
        self.write_marker(marker, "write COMMIT_FLUSH", true).await.map(|_| ())
    }

    /// Rule 5; returns the error for the caller.
    async fn abort(&self, p: Prepared, cause: String) -> RegionError {
        tracing::warn!(target: "hwal::region", region = %self.name, flush_seqid = p.flush_seqid, %cause, "flush aborted");
        {
            let mut stores = lock(&self.stores);
            for f in p.snapshots.keys() {
                let store = stores.get_mut(f).expect("a flushed family has a store");
                if let Some(snap) = store.snapshot.take() {
                    let newer = std::mem::replace(&mut store.active, snap);
                    store.active.absorb(newer);
                }
            }
        }
        let marker = WalEdit::flush_marker(FlushAction::Abort, p.flush_seqid, self.now_ms());
        if let Err(e) = self.write_marker(marker, "append ABORT_FLUSH", false).await {
            tracing::warn!(target: "hwal::region", region = %self.name, error = %e, "ABORT_FLUSH not written");
        }
        if let Err(e) = self.wal.abort_cache_flush(&self.name) {
            return RegionError::OutOfOrder(e);
        }
        RegionError::FlushAborted { region: self.name.to_string(), flush_seqid: p.flush_seqid, cause }
    }

    /// Rule 7: writes every memstore at `seqid`, without the WAL.
    pub(super) async fn flush_for_replay(&self, seqid: u64) -> Result<Vec<String>, RegionError> {
        let snapshots: Vec<(Vec<u8>, Vec<StoredCell>)> = {
            let stores = lock(&self.stores);
            stores
                .iter()
                .filter(|(_, s)| !s.active.is_empty())
                .map(|(f, s)| (f.clone(), s.active.cells(f, u64::MAX).collect()))
                .collect()
        };
        let mut files = Vec::new();
        for (family, cells) in snapshots {
            assert!(cells.iter().all(|c| c.seqid <= seqid), "replayed cell above the replay flush seqid");
            files.push(storefile::write(&*self.fs, &self.table, self.name.as_str(), &family, seqid, cells).await?);
        }
        let paths = files.iter().map(|f| f.path.clone()).collect();
        {
            let mut stores = lock(&self.stores);
            for f in files {
                let store = stores.get_mut(&f.family).expect("a flushed family has a store");
                store.active = MemStore::default();
                store.files.push(f);
            }
        }
        self.max_flushed_seqid.fetch_max(seqid, Ordering::AcqRel);
        Ok(paths)
    }
}
