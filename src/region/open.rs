//! Opening a region (HBase `initializeRegionInternals` + `openHRegion`, spec §6.6).
//!
//! 1. Create the region directory (and, with a fixed schema, every family directory); drop
//!    leftovers of interrupted flushes under `.tmp/`.
//! 2. Load every store: its files and their max seqids (`maxSeqIdInStores`).
//!    `max_seqid` = the highest, `min_seqid` = the lowest (0 without stores);
//!    `mvcc.advance_to(max_seqid)`.
//! 3. Replay `recovered.edits/` (rules in [`crate::recovery`]'s `replay.rs`).
//! 4. If any cell was applied, flush every memstore at the highest seqid seen (no WAL markers);
//!    then delete the replayed and skipped files. A failure before this point fails the open
//!    and leaves the files for the next attempt.
//! 5. `next = max(max_seqid, highest .seqid file, highest seqid seen in replay) + 1`; write
//!    `recovered.edits/<next - 1>.seqid`; the open seqid is `next`: `mvcc.advance_to(next)`, so
//!    every new edit gets a seqid above everything the region held or replayed (HBase test2727).
//! 6. Append a REGION_OPEN marker and sync it. If that fails, write a `.seqid` file at the
//!    marker's seqid (best effort) before failing the open, so a retried open continues above
//!    the marker, which may be in the WAL.

use std::collections::BTreeMap;

use super::error::RegionError;
use super::handle::Region;
use super::memstore::Store;
use super::{layout, seqid_file, storefile, OpenReport, RegionOptions};
use crate::env::{block_on, Env, WalFs};
use crate::recovery::replay::{replay_recovered_edits, ReplayTarget};
use crate::sync::{lock, Arc, AtomicBool, AtomicU64, Mutex};
use crate::wal::api::Wal;
use crate::wal::entry::{RegionEvent, RegionName, WalEdit};
use crate::wal::mvcc::Mvcc;

impl Region {
    /// Opens `region` of `table` on `wal`: loads its stores, replays its recovered edits and
    /// writes the open markers (the protocol in the module docs).
    pub async fn open(
        env: Arc<dyn Env>,
        wal: Arc<Wal>,
        table: &str,
        region: &RegionName,
        options: RegionOptions,
    ) -> Result<Region, RegionError> {
        let name = region.as_str();
        let bad = |reason| RegionError::BadMutation { region: name.to_string(), reason };
        layout::check_segment("table", table).map_err(bad)?;
        layout::check_segment("region", name).map_err(bad)?;
        for f in options.families.iter().flatten() {
            layout::check_family(f).map_err(bad)?;
        }
        let fs = env.fs();
        let stores = prepare_dirs_and_load(&*fs, table, name, &options).await?;
        let r = Region {
            fs: fs.clone(),
            wal,
            table: table.to_string(),
            name: region.clone(),
            options,
            mvcc: Mvcc::new(0),
            updates: tokio::sync::RwLock::new(()),
            flush_lock: tokio::sync::Mutex::new(()),
            stores: Mutex::new(stores),
            closed: AtomicBool::new(false),
            max_flushed_seqid: AtomicU64::new(0),
            open_report: Mutex::new(OpenReport::default()),
            env,
        };
        r.initialize().await?;
        Ok(r)
    }

    /// [`Region::open`] from an OS thread.
    pub fn open_blocking(
        env: Arc<dyn Env>,
        wal: Arc<Wal>,
        table: &str,
        region: &RegionName,
        options: RegionOptions,
    ) -> Result<Region, RegionError> {
        block_on(Self::open(env, wal, table, region, options))
    }

    /// Steps 2–6 (the stores are loaded).
    async fn initialize(&self) -> Result<(), RegionError> {
        let name = self.name.as_str();
        let store_seqids = self.store_max_seqids();
        let max_seqid = store_seqids.values().copied().max().unwrap_or(0);
        let min_seqid = store_seqids.values().copied().min().unwrap_or(0);
        assert!(self.mvcc.advance_to(max_seqid), "a fresh MVCC advances");
        self.max_flushed_seqid.store(min_seqid, crate::sync::Ordering::Release);
        let dir = layout::recovered_edits_dir(&self.table, name);
        let accepts = |f: &[u8]| self.accepts_family(f);
        let target = ReplayTarget {
            region: name,
            dir: dir.clone(),
            store_seqids: &store_seqids,
            min_seqid,
            accepts_family: &accepts,
            mode: self.options.recovery_mode,
            skip_errors: self.options.replay_skip_errors,
            mutant: self.options.mutant,
        };
        let mut apply =
            |cell: &crate::wal::entry::Cell, seqid: u64| self.memstore_insert(std::slice::from_ref(cell), seqid);
        let replay = replay_recovered_edits(&*self.env, &target, &mut apply)
            .await
            .map_err(|source| RegionError::Replay { region: name.to_string(), source })?;
        if replay.cells_applied > 0 {
            self.flush_for_replay(replay.max_seen_seqid).await?;
        }
        for path in &replay.done {
            self.fs.delete(path).await.map_err(|e| RegionError::io(name, "delete", path, e))?;
        }
        let (max_seqid_file, _) = seqid_file::read_seqid_files(&*self.fs, name, &dir).await?;
        let next = max_seqid.max(max_seqid_file).max(replay.max_seen_seqid) + 1;
        seqid_file::write_seqid_file(&*self.fs, name, &dir, next - 1).await?;
        assert!(self.mvcc.advance_to(next), "nothing is in flight during open");
        let marker = WalEdit::region_event_marker(RegionEvent::Open, next, self.now_ms());
        if let Err(e) = self.write_marker(marker, "write REGION_OPEN", true).await {
            // The marker may be in the WAL above `next`: a retried open must start above it, or
            // the region's seqids would repeat in the WAL. Best effort: the open fails anyway.
            let _ = seqid_file::write_seqid_file(&*self.fs, name, &dir, self.mvcc.write_point()).await;
            return Err(e);
        }
        tracing::info!(target: "hwal::region", region = name, open_seqid = next, applied = replay.cells_applied,
            files = replay.replayed.len(), "region opened");
        *lock(&self.open_report) =
            OpenReport { open_seqid: next, max_seqid_in_stores: max_seqid, min_seqid_in_stores: min_seqid, replay };
        Ok(())
    }
}

/// Steps 1 and 2: directories, `.tmp/` cleanup, stores.
async fn prepare_dirs_and_load(
    fs: &dyn WalFs,
    table: &str,
    region: &str,
    options: &RegionOptions,
) -> Result<BTreeMap<Vec<u8>, Store>, RegionError> {
    let io = |op, path: &str, e| RegionError::io(region, op, path, e);
    let dir = layout::region_dir(table, region);
    fs.mkdirs(&dir).await.map_err(|e| io("mkdirs", &dir, e))?;
    for f in options.families.iter().flatten() {
        let fd = layout::family_dir(table, region, f);
        fs.mkdirs(&fd).await.map_err(|e| io("mkdirs", &fd, e))?;
    }
    let tmp = layout::tmp_dir(table, region);
    if fs.metadata(&tmp).await.map_err(|e| io("stat", &tmp, e))?.is_some() {
        for e in fs.list(&tmp).await.map_err(|e| io("list", &tmp, e))? {
            let p = format!("{tmp}/{}", e.name);
            fs.delete(&p).await.map_err(|e| io("delete", &p, e))?;
        }
    }
    let mut stores = BTreeMap::new();
    for e in fs.list(&dir).await.map_err(|e| io("list", &dir, e))? {
        if !e.is_dir || e.name == layout::RECOVERED_EDITS_DIR || e.name == layout::TMP_DIR {
            continue;
        }
        let files = storefile::read_family(fs, region, &format!("{dir}/{}", e.name)).await?;
        stores.insert(e.name.into_bytes(), Store { files, ..Store::default() });
    }
    Ok(stores)
}
