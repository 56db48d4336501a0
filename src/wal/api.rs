//! The public WAL handle.

use std::path::Path;

use crate::env::{block_on, Env, RealEnv};
use crate::sync::{Arc, Ordering};

use super::config::{Config, Pipeline};
use super::entry::{WalEdit, WalKey};
use super::error::{WalError, WalResult};
use super::listener::{NoopListener, WalListener, WalStats};
use super::mvcc::Mvcc;
use super::scheduled::{Appended, RollOutcome, Shared};

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
    shared: Arc<Shared>,
    env: Arc<dyn Env>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").field("server", &self.shared.cfg.server).finish()
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
        if config.pipeline == Pipeline::Classic {
            return Err(WalError::Config("pipeline: the classic pipeline is not available yet".into()));
        }
        let shared = Shared::open(env.clone(), config, listener).await?;
        Ok(Wal { shared, env })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.shared.cfg
    }

    /// The environment.
    pub fn env(&self) -> &Arc<dyn Env> {
        &self.env
    }

    /// Appends a data edit of the region owning `mvcc`. The region sequence id is assigned
    /// atomically with the txid. Complete the returned write entry once done with it.
    pub async fn append(&self, mvcc: &Mvcc, key: WalKey, edit: WalEdit) -> WalResult<Appended> {
        self.shared.append(mvcc, key, edit, true).await
    }

    /// Appends a meta marker (flush, compaction, region event): written to the log, never
    /// counted as unflushed memstore data.
    pub async fn append_marker(&self, mvcc: &Mvcc, key: WalKey, edit: WalEdit) -> WalResult<Appended> {
        self.shared.append(mvcc, key, edit, false).await
    }

    /// Blocking [`Wal::append`].
    pub fn append_blocking(&self, mvcc: &Mvcc, key: WalKey, edit: WalEdit) -> WalResult<Appended> {
        block_on(self.append(mvcc, key, edit))
    }

    /// Waits until every append up to `txid` survives a process crash (hsync if the WAL's
    /// default says so).
    pub async fn sync(&self, txid: u64) -> WalResult<()> {
        self.shared.sync(txid, false).await
    }

    /// Waits until every append up to `txid` is as durable as `durability` asks.
    pub async fn sync_for(&self, txid: u64, durability: Durability) -> WalResult<()> {
        match durability {
            Durability::SkipWal | Durability::AsyncWal => Ok(()),
            Durability::UseDefault | Durability::SyncWal => self.shared.sync(txid, false).await,
            Durability::FsyncWal => self.shared.sync(txid, true).await,
        }
    }

    /// Blocking [`Wal::sync_for`].
    pub fn sync_blocking(&self, txid: u64, durability: Durability) -> WalResult<()> {
        block_on(self.sync_for(txid, durability))
    }

    /// Waits until everything appended before the call is durable; `hsync` forces hsync.
    pub async fn sync_all(&self, hsync: bool) -> WalResult<()> {
        self.shared.sync_all(hsync).await
    }

    /// Rolls the writer to a new file. Without `force`, a file with no entries is kept.
    pub async fn roll_writer(&self, force: bool) -> WalResult<Option<RollOutcome>> {
        self.shared.roll_writer(force).await
    }

    /// Blocking [`Wal::roll_writer`].
    pub fn roll_writer_blocking(&self, force: bool) -> WalResult<Option<RollOutcome>> {
        block_on(self.roll_writer(force))
    }

    /// Closes the WAL: syncs and closes the current file; pending syncs fail with `Closed`.
    pub async fn close(&self) -> WalResult<()> {
        self.shared.close().await
    }

    /// Blocking [`Wal::close`].
    pub fn close_blocking(&self) -> WalResult<()> {
        block_on(self.close())
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Counters.
    pub fn stats(&self) -> WalStats {
        self.shared.counters.snapshot()
    }

    /// Highest txid known durable (hflush level).
    pub fn highest_synced_txid(&self) -> u64 {
        self.shared.highest_synced.load(Ordering::Acquire)
    }

    /// The current file's path, if a writer is open.
    pub fn current_file(&self) -> Option<String> {
        self.shared.current_file()
    }
}
