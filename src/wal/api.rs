//! The public WAL handle.

use std::path::Path;

use crate::env::{block_on, Env, RealEnv};
use crate::sync::{Arc, Ordering};

use super::accounting::OutOfOrder;
use super::classic::Classic;
use super::cleaner::LogCleaner;
use super::config::{Config, Pipeline};
use super::entry::{RegionName, WalEdit, WalKey};
use super::error::{WalError, WalResult};
use super::lifecycle::{RollOutcome, RolledFile};
use super::listener::{NoopListener, WalEvent, WalListener, WalStats};
use super::mvcc::Mvcc;
use super::scheduled::Scheduled;
use super::shared::{self, AppendSynced, Appended, PipelineImpl, WalShared};
use crate::sync::lock;

/// How durable a caller needs an edit to be (HBase `Durability`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Use the WAL's default (`Config::default_hsync` decides hflush or hsync).
    #[default]
    UseDefault,
    /// Do not write the WAL at all (the edit is lost on a crash).
    SkipWal,
    /// Write the WAL but do not wait for a sync.
    AsyncWal,
    /// Wait until the edit survives a process crash (hflush).
    SyncWal,
    /// Wait until the edit survives power loss (hsync).
    FsyncWal,
}

/// A write-ahead log.
///
/// Every method has an async form (for tasks, including the simulator) and, where callers are
/// OS threads, a `_blocking` form. Once [`Wal::close`] ran, every call fails with
/// [`WalError::Closed`] and no waiter hangs.
pub struct Wal {
    engine: Engine,
    env: Arc<dyn Env>,
}

/// The pipeline behind a [`Wal`].
enum Engine {
    Scheduled(Arc<Scheduled>),
    Classic(Arc<Classic>),
}

/// Runs `$body` with `$p` bound to the engine's pipeline (static dispatch).
macro_rules! with_pipeline {
    ($engine:expr, $p:ident => $body:expr) => {
        match $engine {
            Engine::Scheduled($p) => $body,
            Engine::Classic($p) => $body,
        }
    };
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").field("server", &self.base().cfg.server).finish()
    }
}

impl Wal {
    /// Opens a WAL on local disk under `dir` (blocking; creates `dir`).
    pub fn open(dir: impl AsRef<Path>, config: Config) -> WalResult<Wal> {
        let env =
            RealEnv::new(dir.as_ref()).map_err(|e| WalError::io("open", &dir.as_ref().display().to_string(), e))?;
        Self::open_blocking(env, config, Arc::new(NoopListener))
    }

    /// Opens a WAL in `env` from an OS thread (blocking).
    pub fn open_blocking(env: Arc<dyn Env>, config: Config, listener: Arc<dyn WalListener>) -> WalResult<Wal> {
        block_on(Self::open_with(env, config, listener))
    }

    /// Opens a WAL in `env`, reporting to `listener`.
    pub async fn open_with(env: Arc<dyn Env>, config: Config, listener: Arc<dyn WalListener>) -> WalResult<Wal> {
        let engine = match config.pipeline {
            Pipeline::Scheduled => Engine::Scheduled(Scheduled::open(env.clone(), config, listener).await?),
            Pipeline::Classic => Engine::Classic(Classic::open(env.clone(), config, listener).await?),
        };
        Ok(Wal { engine, env })
    }

    fn base(&self) -> &WalShared {
        with_pipeline!(&self.engine, p => p.base())
    }

    /// A `Closed` error of a WAL that closed itself because it was fenced reads `Fenced`.
    fn explain<T>(&self, r: WalResult<T>) -> WalResult<T> {
        match r {
            Err(WalError::Closed) => match lock(&self.base().fenced).clone() {
                Some(reason) => Err(WalError::Fenced(reason)),
                None => Err(WalError::Closed),
            },
            other => other,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.base().cfg
    }

    /// The environment.
    pub fn env(&self) -> &Arc<dyn Env> {
        &self.env
    }

    /// Appends a data edit of the region owning `mvcc`. The region sequence id is assigned
    /// atomically with the txid. Complete the returned write entry once done with it.
    pub async fn append(&self, mvcc: &Mvcc, key: WalKey, edit: WalEdit) -> WalResult<Appended> {
        self.explain(with_pipeline!(&self.engine, p => shared::append(&**p, mvcc, key, edit, true).await))
    }

    /// Appends a meta marker (flush, compaction, region event): written to the log, never
    /// counted as unflushed memstore data.
    pub async fn append_marker(&self, mvcc: &Mvcc, key: WalKey, edit: WalEdit) -> WalResult<Appended> {
        self.explain(with_pipeline!(&self.engine, p => shared::append(&**p, mvcc, key, edit, false).await))
    }

    /// Blocking [`Wal::append_marker`].
    pub fn append_marker_blocking(&self, mvcc: &Mvcc, key: WalKey, edit: WalEdit) -> WalResult<Appended> {
        block_on(self.append_marker(mvcc, key, edit))
    }

    /// Blocking [`Wal::append`].
    pub fn append_blocking(&self, mvcc: &Mvcc, key: WalKey, edit: WalEdit) -> WalResult<Appended> {
        block_on(self.append(mvcc, key, edit))
    }

    /// Appends `edit` and waits until it is as durable as `durability` asks: [`Wal::append`]
    /// then [`Wal::sync_for`] of its txid in one call, which lets the consumer run once for
    /// both instead of once per call. Returns `Err` only when nothing was appended; a failed
    /// sync is in `synced`, and the MVCC write entry is the caller's to complete either way
    /// (if the future is dropped before it resolves, it completes the entry itself).
    pub async fn append_sync(
        &self,
        mvcc: &Mvcc,
        key: WalKey,
        edit: WalEdit,
        durability: Durability,
    ) -> WalResult<AppendSynced> {
        let hsync = self.resolve_hsync(durability);
        let r = with_pipeline!(&self.engine, p => shared::append_sync(&**p, mvcc, key, edit, hsync).await);
        self.explain_append_sync(r)
    }

    /// Blocking [`Wal::append_sync`].
    pub fn append_sync_blocking(
        &self,
        mvcc: &Mvcc,
        key: WalKey,
        edit: WalEdit,
        durability: Durability,
    ) -> WalResult<AppendSynced> {
        let r = match (&self.engine, self.resolve_hsync(durability)) {
            (Engine::Scheduled(p), Some(hsync)) => shared::append_sync_blocking(&**p, mvcc, key, edit, hsync),
            (_, hsync) => block_on(async {
                with_pipeline!(&self.engine, p => shared::append_sync(&**p, mvcc, key, edit, hsync).await)
            }),
        };
        self.explain_append_sync(r)
    }

    /// `Some(hsync)` when `durability` waits for a sync, `None` when it does not. As in HBase,
    /// `SyncWal` means hflush and `FsyncWal` hsync whatever the default; `UseDefault` follows
    /// `Config::default_hsync`.
    fn resolve_hsync(&self, durability: Durability) -> Option<bool> {
        match durability {
            Durability::SkipWal | Durability::AsyncWal => None,
            Durability::UseDefault => Some(self.base().cfg.default_hsync),
            Durability::SyncWal => Some(false),
            Durability::FsyncWal => Some(true),
        }
    }

    fn explain_append_sync(&self, r: WalResult<AppendSynced>) -> WalResult<AppendSynced> {
        let mut r = self.explain(r)?;
        r.synced = self.explain(r.synced);
        Ok(r)
    }

    /// Waits until every append up to `txid` is durable at the WAL's default level (hflush,
    /// or hsync when `Config::default_hsync`).
    pub async fn sync(&self, txid: u64) -> WalResult<()> {
        self.sync_for(txid, Durability::UseDefault).await
    }

    /// Waits until every append up to `txid` is as durable as `durability` asks. As in HBase,
    /// `SyncWal` means hflush and `FsyncWal` hsync whatever the default; `UseDefault` follows
    /// `Config::default_hsync`.
    pub async fn sync_for(&self, txid: u64, durability: Durability) -> WalResult<()> {
        let Some(hsync) = self.resolve_hsync(durability) else { return Ok(()) };
        self.explain(with_pipeline!(&self.engine, p => shared::sync(&**p, txid, hsync).await))
    }

    /// Blocking [`Wal::sync_for`].
    pub fn sync_blocking(&self, txid: u64, durability: Durability) -> WalResult<()> {
        let Some(hsync) = self.resolve_hsync(durability) else { return Ok(()) };
        match &self.engine {
            // One completion batch per sync: one broadcast wakes every waiter it satisfied.
            Engine::Scheduled(p) => self.explain(shared::sync_blocking(&**p, txid, hsync)),
            // Completions arrive from several runners at different moments: wake each waiter
            // only for its own future, not all of them for every batch.
            Engine::Classic(p) => self.explain(block_on(shared::sync(&**p, txid, hsync))),
        }
    }

    /// Waits until everything appended before the call is durable; `hsync` forces hsync.
    pub async fn sync_all(&self, hsync: bool) -> WalResult<()> {
        self.explain(with_pipeline!(&self.engine, p => shared::sync_all(&**p, hsync).await))
    }

    /// Rolls the writer to a new file. Without `force`, a file with no entries is kept.
    pub async fn roll_writer(&self, force: bool) -> WalResult<Option<RollOutcome>> {
        self.explain(with_pipeline!(&self.engine, p => shared::roll_writer(p, force).await))
    }

    /// Blocking [`Wal::roll_writer`].
    pub fn roll_writer_blocking(&self, force: bool) -> WalResult<Option<RollOutcome>> {
        block_on(self.roll_writer(force))
    }

    /// Closes the WAL: syncs and closes the current file; pending syncs fail with `Closed`
    /// (`Fenced` once the WAL closed itself because its directory was fenced for splitting).
    pub async fn close(&self) -> WalResult<()> {
        with_pipeline!(&self.engine, p => shared::close(p).await)
    }

    /// Blocking [`Wal::close`].
    pub fn close_blocking(&self) -> WalResult<()> {
        block_on(self.close())
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.base().closed.load(Ordering::SeqCst)
    }

    /// Counters.
    pub fn stats(&self) -> WalStats {
        self.base().counters.snapshot()
    }

    /// Highest txid known durable (hflush level).
    pub fn highest_synced_txid(&self) -> u64 {
        self.base().highest_synced.load(Ordering::Acquire)
    }

    /// The current file's path, if a writer is open.
    pub fn current_file(&self) -> Option<String> {
        with_pipeline!(&self.engine, p => p.current_file())
    }

    /// Rolled files not yet archived, oldest first, with their per-region highest seqids.
    pub async fn rolled_files(&self) -> Vec<RolledFile> {
        self.base().roll_lock.lock().await.rolled.values().cloned().collect()
    }

    /// The archive cleaner (holds, and one-off passes).
    pub fn cleaner(&self) -> &LogCleaner {
        &self.base().cleaner
    }

    /// A region starts flushing `families` (HBase `startCacheFlush`). Returns the lowest
    /// unflushed seqid left in the region, or `None` when the flush covers everything.
    pub fn start_cache_flush(&self, region: &RegionName, families: &[Vec<u8>]) -> Option<u64> {
        let left = lock(&self.base().accounting).start_cache_flush(region, families);
        self.base().emit(WalEvent::CacheFlush { region: region.clone(), action: "start", seqid: left.unwrap_or(0) });
        left
    }

    /// A region's flush up to `max_flushed_seqid` completed (HBase `completeCacheFlush`).
    pub fn complete_cache_flush(&self, region: &RegionName, max_flushed_seqid: u64) {
        lock(&self.base().accounting).complete_cache_flush(region, max_flushed_seqid);
        self.base().emit(WalEvent::CacheFlush { region: region.clone(), action: "complete", seqid: max_flushed_seqid });
    }

    /// A region's flush failed before committing (HBase `abortCacheFlush`). An error means
    /// edits were acquired out of order: the region's accounting can no longer be trusted.
    pub fn abort_cache_flush(&self, region: &RegionName) -> Result<(), OutOfOrder> {
        let r = lock(&self.base().accounting).abort_cache_flush(region);
        self.base().emit(WalEvent::CacheFlush { region: region.clone(), action: "abort", seqid: 0 });
        r
    }

    /// Lowest seqid of `region` not yet flushed (flushing or unflushed), if any.
    pub fn lowest_unflushed_seqid(&self, region: &RegionName) -> Option<u64> {
        lock(&self.base().accounting).lowest_seqid(region)
    }
}
