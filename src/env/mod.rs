//! The environment seam: time, tasks, files and randomness.
//!
//! The engine reaches the outside world only through [`Env`], so one codebase runs
//! - for real ([`RealEnv`]: a tokio runtime, `std::fs`, fdatasync on blocking threads),
//! - in simulation (`hwal-sim`'s `SimEnv`: madsim tasks and time, a seeded ChaCha8, SimDfs),
//! - with injected faults ([`FaultyFs`] around any [`WalFs`]),
//! - with HDFS-style leases ([`LeaseFs`] around any [`WalFs`]), so lease recovery fences
//!   zombie writers on local disk too.
//!
//! Rules:
//! 1. Engine tasks wait only on futures. Nothing in the engine blocks a thread: file calls that
//!    block (write, fdatasync) are the `WalFs` implementation's business, and `RealFs` runs them
//!    on blocking threads.
//! 2. Paths are `/`-separated strings relative to the filesystem's root (`WALs/rs1/rs1.1`).
//! 3. Durability levels follow HDFS: [`WalFile::append`] buffers in the writer (lost with the
//!    process), [`WalFile::hflush`] makes the bytes survive a process crash (real: `write(2)`
//!    done), [`WalFile::hsync`] makes them survive power loss (real: `fdatasync` done).

mod block;
mod faulty;
mod lease;
mod real;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::sync::Arc;

pub(crate) use block::in_block_on;
pub use block::{block_on, yield_now};
pub use faulty::{FaultPlan, FaultyFs};
pub use lease::{with_fs, LeaseFs};
pub use real::{RealEnv, RealEnvBuilder, RealFs, DEFAULT_PREALLOCATE_BYTES};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Time, tasks, files and randomness for the engine.
pub trait Env: Send + Sync + 'static {
    /// Monotonic time since the environment started.
    fn now(&self) -> Duration;
    /// Wall-clock milliseconds since the Unix epoch (used in file names; may step in simulation).
    fn wall_clock_ms(&self) -> u64;
    /// A future that completes after `d`.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
    /// Runs `task` concurrently. `name` is for diagnostics.
    fn spawn(&self, name: &'static str, task: BoxFuture<'static, ()>);
    /// The filesystem.
    fn fs(&self) -> Arc<dyn WalFs>;
    /// The run seed (simulation) or a fixed seed (real).
    fn seed(&self) -> u64;
    /// An independent, reproducible random stream derived from the seed.
    fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed());
        rng.set_stream(stream);
        rng
    }
}

/// Metadata of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// Length in bytes (0 for directories).
    pub len: u64,
    /// True for a directory.
    pub is_dir: bool,
    /// Last modification, wall-clock ms.
    pub modified_ms: u64,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirEntry {
    /// The entry's name (not its path).
    pub name: String,
    /// True for a directory.
    pub is_dir: bool,
}

/// A filesystem as the WAL needs it (HDFS-like, with hflush and hsync).
pub trait WalFs: Send + Sync {
    /// Creates a new file for appending. Fails if it exists or its parent directory does not
    /// (so a renamed, fenced WAL directory is never silently re-created).
    fn create<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Arc<dyn WalFile>>>;
    /// Creates a directory and its parents.
    fn mkdirs<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// Reads a whole file (what is visible: hflushed bytes at least).
    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Vec<u8>>>;
    /// Renames a file or directory. Fails if the target exists.
    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// Deletes a file, or an empty directory.
    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// Lists a directory, sorted by name.
    fn list<'a>(&'a self, dir: &'a str) -> BoxFuture<'a, io::Result<Vec<DirEntry>>>;
    /// Metadata, or `None` when the path does not exist.
    fn metadata<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Option<FileMeta>>>;
    /// Sets a file's modification time (the archiver stamps archive time, which the cleaner's
    /// TTL counts from). Filesystems without settable times keep the default no-op.
    fn set_modified<'a>(&'a self, _path: &'a str, _modified_ms: u64) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// Recovers the lease on `path` (HDFS `recoverLease`): once this returns, the file's
    /// length is final and any writer that still holds it open (a zombie server) fails on its
    /// next append, hflush, hsync or close. Log splitting calls it before reading each WAL.
    /// Filesystems without leases (local disk) keep the default no-op; [`LeaseFs`] adds them
    /// to any filesystem.
    fn recover_lease<'a>(&'a self, _path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Completion of a [`WalFile::sync_then`]: the synced length, or the error.
pub type SyncDone = Box<dyn FnOnce(io::Result<u64>) + Send>;

/// A file open for appending.
pub trait WalFile: Send + Sync {
    /// The file's path.
    fn path(&self) -> &str;
    /// Buffers `buf` at the end of the file. Fast; may fail (a broken stream).
    fn append(&self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far survive a process crash. Returns the flushed length.
    fn hflush(&self) -> BoxFuture<'_, io::Result<u64>>;
    /// Makes everything appended so far survive power loss. Returns the synced length.
    fn hsync(&self) -> BoxFuture<'_, io::Result<u64>>;
    /// Starts an hsync (`hsync`) or hflush and calls `done` with its result, on whatever thread
    /// finishes it, without the caller awaiting. A file that cannot do this hands `done` back
    /// (the default), and the caller awaits [`WalFile::hsync`] / [`WalFile::hflush`] instead.
    fn sync_then(&self, _hsync: bool, done: SyncDone) -> Result<(), SyncDone> {
        Err(done)
    }
    /// True when [`WalFile::sync_now`] syncs on the calling thread (local disk). Default: false.
    fn syncs_in_place(&self) -> bool {
        false
    }
    /// Performs an hsync (`hsync`) or hflush on the calling OS thread, blocking it until done;
    /// `None` when the file cannot (the default: see [`WalFile::syncs_in_place`]), and the
    /// caller awaits [`WalFile::hsync`] / [`WalFile::hflush`] instead. Never called from an
    /// async task's thread.
    fn sync_now(&self, _hsync: bool) -> Option<io::Result<u64>> {
        None
    }
    /// Bytes appended so far (including unflushed).
    fn len(&self) -> u64;
    /// True when nothing was appended.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Live replicas of the block being written; 0 when the filesystem has no replication
    /// (local disk), which never triggers a low-replication roll.
    fn replication(&self) -> u32;
    /// Makes everything appended durable (as `hsync`) and releases the file. Further calls
    /// fail.
    fn close(&self) -> BoxFuture<'_, io::Result<()>>;
}

/// Joins path segments with `/`.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{}/{}", dir.trim_end_matches('/'), name)
    }
}

/// The parent of a `/`-separated path ("" for a top-level name).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// The last segment of a `/`-separated path.
pub fn file_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}
