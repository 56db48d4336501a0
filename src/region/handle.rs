//! The region handle: mutations through the WAL, reads, close.
//!
//! Write protocol (HBase `doMiniBatchMutate`, reduced to one row-level mutation):
//! 1. Hold the `updates` lock shared for the whole mutation; a flush's prepare phase and close
//!    take it exclusively, so they see no mutation in flight.
//! 2. A new family (dynamic schema) gets its store directory *before* its first edit reaches the
//!    WAL, so a split always knows the family exists and never treats another family's flushed
//!    seqid as covering it.
//! 3. Append to the WAL with the region's MVCC (the seqid is assigned atomically with the ring
//!    slot), sync at the requested durability (both in one `Wal::append_sync` call), and only
//!    then write the memstore.
//! 4. Complete the MVCC write entry in every case, also when the sync failed (then the memstore
//!    is not written and the caller gets the error) and when the caller's future is dropped
//!    mid-way (a drop guard completes it), or the region's read point stalls.
//! 6. Markers (flush, open, close) complete their MVCC entry right after the append: they put
//!    nothing in a memstore, so readers have nothing to wait for; a sync follows when asked.
//! 5. `SkipWal` takes a seqid from the MVCC without touching the WAL (HBase `SKIP_WAL`).

use std::collections::BTreeMap;

use super::error::RegionError;
use super::layout;
use super::memstore::{visible, Store, StoredCell};
use super::{OpenReport, RegionOptions};
use crate::env::{Env, WalFs};
use crate::sync::{lock, Arc, AtomicBool, AtomicU64, Mutex, Ordering};
use crate::wal::api::{Durability, Wal};
use crate::wal::entry::{Cell, CellKind, RegionEvent, RegionName, WalEdit, WalKey, META_FAMILY};
use crate::wal::mvcc::Mvcc;

/// Completes a write entry when dropped (rule 4).
struct Completing<'a> {
    mvcc: &'a Mvcc,
    entry: Option<crate::wal::mvcc::WriteEntry>,
}

impl Drop for Completing<'_> {
    fn drop(&mut self) {
        if let Some(e) = self.entry.take() {
            self.mvcc.complete(e);
        }
    }
}

/// An open region: a memstore per family over immutable store files, written through a WAL.
pub struct Region {
    pub(super) env: Arc<dyn Env>,
    pub(super) fs: Arc<dyn WalFs>,
    pub(super) wal: Arc<Wal>,
    pub(super) table: String,
    pub(super) name: RegionName,
    pub(super) options: RegionOptions,
    pub(super) mvcc: Mvcc,
    pub(super) updates: tokio::sync::RwLock<()>,
    pub(super) flush_lock: tokio::sync::Mutex<()>,
    pub(super) stores: Mutex<BTreeMap<Vec<u8>, Store>>,
    pub(super) closed: AtomicBool,
    pub(super) max_flushed_seqid: AtomicU64,
    pub(super) open_report: Mutex<OpenReport>,
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region").field("table", &self.table).field("name", &self.name).finish()
    }
}

impl Region {
    /// The region's name.
    pub fn name(&self) -> &RegionName {
        &self.name
    }

    /// The region's table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The region's MVCC (its write point is the highest seqid handed out).
    pub fn mvcc(&self) -> &Mvcc {
        &self.mvcc
    }

    /// The WAL the region writes.
    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }

    /// What the open did: store seqids, replayed files and edits, the open seqid.
    pub fn open_report(&self) -> OpenReport {
        lock(&self.open_report).clone()
    }

    /// The open sequence id: greater than every seqid the region held or replayed at open;
    /// every later edit gets a higher one.
    pub fn open_seqid(&self) -> u64 {
        lock(&self.open_report).open_seqid
    }

    /// Everything at or below this seqid is in store files (HBase `maxFlushedSeqId`).
    pub fn max_flushed_seqid(&self) -> u64 {
        self.max_flushed_seqid.load(Ordering::Acquire)
    }

    /// Max flush seqid per family store (HBase `maxSeqIdInStores`).
    pub fn store_max_seqids(&self) -> BTreeMap<Vec<u8>, u64> {
        lock(&self.stores).iter().map(|(f, s)| (f.clone(), s.max_flushed_seqid())).collect()
    }

    /// Cells in memstores (active and snapshot), over all families.
    pub fn memstore_cells(&self) -> usize {
        lock(&self.stores).values().map(|s| s.active.len() + s.snapshot.as_ref().map_or(0, |m| m.len())).sum()
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(super) fn check_open(&self) -> Result<(), RegionError> {
        if self.is_closed() {
            return Err(RegionError::Closed { region: self.name.to_string() });
        }
        Ok(())
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.env.wall_clock_ms()
    }

    pub(super) fn key(&self) -> WalKey {
        WalKey::new(self.name.clone(), &self.table, self.now_ms())
    }

    fn bad(&self, reason: String) -> RegionError {
        RegionError::BadMutation { region: self.name.to_string(), reason }
    }

    /// Whether cells of `family` belong in this region (fixed or dynamic schema).
    pub(super) fn accepts_family(&self, family: &[u8]) -> bool {
        match &self.options.families {
            Some(fams) => fams.iter().any(|f| f == family),
            None => layout::check_family(family).is_ok(),
        }
    }

    fn validate(&self, cells: &[Cell]) -> Result<Vec<Vec<u8>>, RegionError> {
        let Some(first) = cells.first() else { return Err(self.bad("a mutation needs at least one cell".into())) };
        let mut families = Vec::new();
        for c in cells {
            if c.row != first.row {
                return Err(self.bad("all cells of a mutation must be of one row".into()));
            }
            if c.family == META_FAMILY {
                return Err(self.bad("the meta family is reserved for markers".into()));
            }
            layout::check_family(&c.family).map_err(|r| self.bad(r))?;
            if !self.accepts_family(&c.family) {
                let f = String::from_utf8_lossy(&c.family);
                return Err(self.bad(format!("family {f:?} is not a family of this region")));
            }
            if !families.contains(&c.family) {
                families.push(c.family.clone());
            }
        }
        Ok(families)
    }

    /// Rule 2: creates the store directories of families not seen before.
    async fn ensure_families(&self, families: &[Vec<u8>]) -> Result<(), RegionError> {
        let new: Vec<Vec<u8>> = {
            let stores = lock(&self.stores);
            families.iter().filter(|f| !stores.contains_key(*f)).cloned().collect()
        };
        for f in new {
            let dir = layout::family_dir(&self.table, self.name.as_str(), &f);
            self.fs.mkdirs(&dir).await.map_err(|e| RegionError::io(self.name.as_str(), "mkdirs", &dir, e))?;
            lock(&self.stores).entry(f).or_default();
        }
        Ok(())
    }

    pub(super) fn memstore_insert(&self, cells: &[Cell], seqid: u64) {
        let mut stores = lock(&self.stores);
        for c in cells {
            stores.entry(c.family.clone()).or_default().active.insert(c, seqid);
        }
    }

    /// Applies one row-level mutation (rules 1–5). Returns the edit's seqid once it is as
    /// durable as `durability` asks and visible to readers.
    pub async fn mutate(&self, cells: Vec<Cell>, durability: Durability) -> Result<u64, RegionError> {
        self.check_open()?;
        let families = self.validate(&cells)?;
        self.ensure_families(&families).await?;
        let _shared = self.updates.read().await;
        self.check_open()?;
        if durability == Durability::SkipWal {
            let we = self.mvcc.begin();
            let seqid = we.seqid();
            self.memstore_insert(&cells, seqid);
            self.mvcc.complete(we);
            return Ok(seqid);
        }
        let region = self.name.as_str();
        let edit = WalEdit::new(cells);
        // One call for the append and its sync; dropped before it returns, it completes the
        // MVCC entry itself (rule 4).
        let done = self.wal.append_sync(&self.mvcc, self.key(), edit.clone(), durability).await;
        let done = done.map_err(|e| RegionError::wal(region, "append", e))?;
        let a = done.appended;
        // Rule 4: complete whatever happens from here on, cancellation included.
        let completing = Completing { mvcc: &self.mvcc, entry: Some(a.write_entry) };
        if done.synced.is_ok() {
            self.memstore_insert(&edit.cells, a.seqid);
        }
        drop(completing);
        done.synced.map_err(|e| RegionError::wal(region, "sync", e))?;
        Ok(a.seqid)
    }

    /// Rule 6: appends a marker, completes its MVCC entry, and syncs it when `sync`. Returns
    /// the marker's txid.
    pub(super) async fn write_marker(&self, edit: WalEdit, what: &'static str, sync: bool) -> Result<u64, RegionError> {
        let region = self.name.as_str();
        let a = self.wal.append_marker(&self.mvcc, self.key(), edit).await;
        let a = a.map_err(|e| RegionError::wal(region, what, e))?;
        self.mvcc.complete(a.write_entry);
        if sync {
            self.wal.sync(a.txid).await.map_err(|e| RegionError::wal(region, what, e))?;
        }
        Ok(a.txid)
    }

    /// Puts one value at the current wall-clock time.
    pub async fn put(
        &self,
        row: &[u8],
        family: &[u8],
        qualifier: &[u8],
        value: &[u8],
        durability: Durability,
    ) -> Result<u64, RegionError> {
        let cell = Cell::put(row, family, qualifier, self.now_ms(), value);
        self.mutate(vec![cell], durability).await
    }

    /// Deletes every version of a column up to the current wall-clock time.
    pub async fn delete(
        &self,
        row: &[u8],
        family: &[u8],
        qualifier: &[u8],
        durability: Durability,
    ) -> Result<u64, RegionError> {
        let cell = Cell {
            kind: CellKind::DeleteColumn,
            value: Vec::new(),
            ..Cell::put(row, family, qualifier, self.now_ms(), b"")
        };
        self.mutate(vec![cell], durability).await
    }

    /// Every cell the region holds, raw: deletes and hidden versions included, in store order
    /// (family, row, qualifier, timestamp desc, kind desc, seqid desc).
    pub fn scan_raw(&self) -> Vec<StoredCell> {
        let read_point = self.mvcc.read_point();
        lock(&self.stores).iter().flat_map(|(f, s)| s.raw_cells(f, read_point)).collect()
    }

    /// Every visible put, ordered by row, then family, qualifier, timestamp desc, seqid desc.
    pub fn scan(&self) -> Vec<StoredCell> {
        let read_point = self.mvcc.read_point();
        let mut out: Vec<StoredCell> = {
            let stores = lock(&self.stores);
            stores.iter().flat_map(|(f, s)| visible(s.raw_cells(f, read_point))).collect()
        };
        // Stable: within a row, the per-family store order is kept.
        out.sort_by(|a, b| a.cell.row.cmp(&b.cell.row).then_with(|| a.cell.family.cmp(&b.cell.family)));
        out
    }

    /// The visible puts of one row.
    pub fn get(&self, row: &[u8]) -> Vec<StoredCell> {
        self.scan().into_iter().filter(|c| c.cell.row == row).collect()
    }

    /// Closes the region (HBase `doClose`): refuses new mutations, waits for those in flight,
    /// flushes, writes a synced REGION_CLOSE marker (which drops the region from the WAL's
    /// accounting) and a `.seqid` file at the read point (at the marker's seqid when the marker
    /// failed, so a reopen continues above it). Idempotent.
    pub async fn close(&self) -> Result<(), RegionError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        drop(self.updates.write().await);
        self.flush_internal().await?;
        let region = self.name.as_str();
        let marker = WalEdit::region_event_marker(RegionEvent::Close, self.mvcc.read_point(), self.now_ms());
        let dir = layout::recovered_edits_dir(&self.table, region);
        if let Err(e) = self.write_marker(marker, "REGION_CLOSE", true).await {
            // The marker may be in the WAL: a reopen must continue above its seqid (best effort).
            let _ = super::seqid_file::write_seqid_file(&*self.fs, region, &dir, self.mvcc.write_point()).await;
            return Err(e);
        }
        super::seqid_file::write_seqid_file(&*self.fs, region, &dir, self.mvcc.read_point()).await
    }

    /// Checks the region's invariants (cheap ones always, the rest in debug builds): the read
    /// point never exceeds the write point, the flushed seqid never exceeds the write point, and
    /// every store file holds only its family's cells, at or below its max seqid.
    pub fn check_invariants(&self) {
        assert!(self.mvcc.read_point() <= self.mvcc.write_point(), "read point above write point");
        assert!(self.max_flushed_seqid() <= self.mvcc.write_point(), "flushed seqid above the write point");
        if cfg!(debug_assertions) {
            for (f, s) in lock(&self.stores).iter() {
                for file in &s.files {
                    assert!(file.cells.iter().all(|c| c.seqid <= file.max_seqid), "{}: cell above max", file.path);
                    assert_eq!(&file.family, f, "{}: store file of another family", file.path);
                }
            }
        }
    }
}
