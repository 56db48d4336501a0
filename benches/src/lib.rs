//! Helpers shared by hwal's criterion benches (`benches/benches/*.rs`).
//!
//! - [`null_env`]: a `RealEnv` whose filesystem keeps names and lengths but discards bytes, and whose
//!   hflush/hsync complete at once, so the `append` bench measures the append path alone.
//! - [`run_writers`]: N OS threads appending (and optionally waiting for durability) through the
//!   public API, timed from a common start.
//! - [`SyncReport`]: appends per sync and syncs per second between two [`WalStats`] snapshots,
//!   printed next to criterion's throughput (STYLE.md rule 20).
//!
//! Benches go through the public API only; the ring bench also uses `hwal::core::ring` (the
//! `internals` feature), which is the component it measures.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use hwal::env::{BoxFuture, DirEntry, FileMeta, RealEnv, WalFile, WalFs};
use hwal::{Durability, Mvcc, RegionName, Wal, WalEdit, WalKey, WalStats};

/// A [`RealEnv`] (tokio runtime with `worker_threads` workers, as `RealEnv`'s 2 by default, real
/// clock) whose filesystem is a [`NullFs`]: no bytes are stored and syncs complete at once.
pub fn null_env(worker_threads: usize) -> io::Result<Arc<RealEnv>> {
    RealEnv::builder(std::env::temp_dir())
        .worker_threads(worker_threads)
        .filesystem(Arc::new(NullFs::default()))
        .build()
}

/// A filesystem that remembers which paths exist (and file lengths) but stores no bytes.
#[derive(Default)]
pub struct NullFs {
    /// Path → is_dir. Files' lengths live in their [`NullFile`].
    paths: Mutex<BTreeMap<String, bool>>,
}

fn ready<T: Send + 'static>(v: io::Result<T>) -> BoxFuture<'static, io::Result<T>> {
    Box::pin(std::future::ready(v))
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path} does not exist"))
}

impl NullFs {
    fn paths(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, bool>> {
        self.paths.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl WalFs for NullFs {
    fn create<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Arc<dyn WalFile>>> {
        let mut paths = self.paths();
        let parent = hwal::env::parent(path);
        if !parent.is_empty() && paths.get(parent) != Some(&true) {
            return ready(Err(not_found(parent)));
        }
        if paths.contains_key(path) {
            return ready(Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{path} exists"))));
        }
        paths.insert(path.to_string(), false);
        let f: Arc<dyn WalFile> = Arc::new(NullFile { path: path.to_string(), len: AtomicU64::new(0) });
        ready(Ok(f))
    }
    fn mkdirs<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        let mut paths = self.paths();
        let mut at = String::new();
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            at = hwal::env::join(&at, seg);
            paths.insert(at.clone(), true);
        }
        ready(Ok(()))
    }
    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Vec<u8>>> {
        // Nothing is stored; the append bench never reads.
        ready(if self.paths().contains_key(path) { Ok(Vec::new()) } else { Err(not_found(path)) })
    }
    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, io::Result<()>> {
        let mut paths = self.paths();
        if paths.contains_key(to) {
            return ready(Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{to} exists"))));
        }
        match paths.remove(from) {
            Some(is_dir) => {
                paths.insert(to.to_string(), is_dir);
                ready(Ok(()))
            }
            None => ready(Err(not_found(from))),
        }
    }
    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        ready(self.paths().remove(path).map(|_| ()).ok_or_else(|| not_found(path)))
    }
    fn list<'a>(&'a self, dir: &'a str) -> BoxFuture<'a, io::Result<Vec<DirEntry>>> {
        let paths = self.paths();
        let out = paths
            .iter()
            .filter(|(p, _)| hwal::env::parent(p) == dir.trim_end_matches('/'))
            .map(|(p, is_dir)| DirEntry { name: hwal::env::file_name(p).to_string(), is_dir: *is_dir })
            .collect();
        ready(Ok(out))
    }
    fn metadata<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Option<FileMeta>>> {
        let meta = self.paths().get(path).map(|is_dir| FileMeta { len: 0, is_dir: *is_dir, modified_ms: 0 });
        ready(Ok(meta))
    }
}

/// A file that counts appended bytes and drops them.
pub struct NullFile {
    path: String,
    len: AtomicU64,
}

impl WalFile for NullFile {
    fn path(&self) -> &str {
        &self.path
    }
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        self.len.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn hflush(&self) -> BoxFuture<'_, io::Result<u64>> {
        ready(Ok(self.len.load(Ordering::Relaxed)))
    }
    fn hsync(&self) -> BoxFuture<'_, io::Result<u64>> {
        ready(Ok(self.len.load(Ordering::Relaxed)))
    }
    fn len(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }
    fn replication(&self) -> u32 {
        0
    }
    fn close(&self) -> BoxFuture<'_, io::Result<()>> {
        ready(Ok(()))
    }
}

/// What each writer thread does per operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Append only (HBase ASYNC_WAL); the WAL still syncs every `batch_size_bytes`.
    Append,
    /// Append, then wait for the entry to be durable at `durability`.
    AppendSync(Durability),
}

/// Runs `threads` OS threads, each doing `ops_per_thread` operations on its own region, all
/// released by one barrier; returns the time from the release until every thread finished and
/// (for [`Op::Append`]) everything appended was written (`sync_all(false)`).
///
/// Panics on a WAL error: a bench that cannot write has no number to report.
pub fn run_writers(wal: &Wal, regions: &[Mvcc], ops_per_thread: u64, op: Op, value: &[u8]) -> Duration {
    let threads = regions.len();
    let barrier = Barrier::new(threads + 1);
    let start = std::thread::scope(|s| {
        for (t, mvcc) in regions.iter().enumerate() {
            let barrier = &barrier;
            s.spawn(move || {
                let region = RegionName::new(&format!("r{t}"));
                barrier.wait();
                for i in 0..ops_per_thread {
                    let key = WalKey::new(region.clone(), "bench", i);
                    let edit = WalEdit::put(&i.to_be_bytes(), b"f", b"q", i, value);
                    let a = wal.append_blocking(mvcc, key, edit).expect("append");
                    if let Op::AppendSync(d) = op {
                        wal.sync_blocking(a.txid, d).expect("sync");
                    }
                    mvcc.complete(a.write_entry);
                }
            });
        }
        barrier.wait();
        Instant::now()
    });
    if op == Op::Append {
        hwal::env::block_on(wal.sync_all(false)).expect("sync_all");
    }
    start.elapsed()
}

/// Appends per sync and syncs per second over a measured interval.
#[derive(Debug, Default)]
pub struct SyncReport {
    before: WalStats,
    measured: Duration,
}

impl SyncReport {
    /// Starts counting from `wal`'s current counters.
    pub fn start(wal: &Wal) -> Self {
        Self { before: wal.stats(), measured: Duration::ZERO }
    }
    /// Adds measured time (what criterion timed).
    pub fn add(&mut self, d: Duration) {
        self.measured += d;
    }
    /// One line: appends, syncs, appends/sync, syncs/s and appends/s over the measured time
    /// (warm-up included, since criterion does not say which calls are warm-up); `None` when
    /// nothing ran (the function was filtered out).
    pub fn line(&self, wal: &Wal, name: &str) -> Option<String> {
        let now = wal.stats();
        let appends = now.appends - self.before.appends;
        let syncs = now.syncs - self.before.syncs;
        if appends == 0 {
            return None; // not run (filtered out on the command line)
        }
        let secs = self.measured.as_secs_f64().max(1e-9);
        Some(format!(
            "{name}: appends={appends} syncs={syncs} appends/sync={:.2} syncs/s={:.0} appends/s={:.0}",
            appends as f64 / syncs.max(1) as f64,
            syncs as f64 / secs,
            appends as f64 / secs
        ))
    }
}

/// 100-byte values, as in the targets.
pub const VALUE_SIZE: usize = 100;

/// A fresh directory on the same disk as the build (not a tmpfs), removed on drop: under
/// `$HWAL_BENCH_DIR` if set, else under `fallback` (benches pass `CARGO_TARGET_TMPDIR`).
pub fn bench_dir(fallback: &str) -> tempfile::TempDir {
    let base = std::env::var_os("HWAL_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| fallback.into());
    std::fs::create_dir_all(&base).expect("create bench base directory");
    tempfile::Builder::new().prefix("hwal-bench-").tempdir_in(&base).expect("create bench directory")
}
