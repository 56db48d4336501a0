//! The engines under test, each behind [`Target`]: one durable write per call, from many OS
//! threads at once.
//!
//! How each is driven (the BENCHMARKS.md notes say why this is fair):
//! - `hwal-scheduled` / `hwal-classic`: `Wal::open_blocking` on `RealEnv::builder(dir)` (local
//!   disk; `--hwal-preallocate`, default hwal's 1 MiB pre-written chunks) with
//!   `Config { pipeline, ..default }`; thread t owns region `r<t>`; one op is
//!   `append_sync_blocking(.., Durability::FsyncWal)` of a 100-byte put (append and wait for
//!   fdatasync in one call), then the MVCC entry's completion. Syncs: `Wal::stats().syncs`.
//! - `raft-engine`: `Engine::open_with_file_system(Config { dir, ..default }, counting fs)`, thread
//!   t owns raft group t+1; one op is a `LogBatch` with one `put(group, key, value)` written with
//!   `write(&mut batch, sync = true)` (fdatasync by the group's leader). Syncs: counted by a
//!   [`FileSystem`] wrapper around raft-engine's own `DefaultFileSystem` (every `Handle::sync`).
//! - `okaywal`: `Configuration::default_for(dir).open(LogVoid)`; one op is `begin_entry`,
//!   `write_chunk(value)`, `commit` (returns once fdatasync'ed, batched across threads). Syncs:
//!   not countable (it calls `File::sync_data` directly; 0.3 has no filesystem seam).

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use raft_engine::env::{DefaultFileSystem, FileSystem, Handle, Permission};

/// One engine, open in its own directory.
pub trait Target: Sync {
    /// One durable write of `value` by thread `thread` (its `i`-th). Returns once durable.
    fn op(&self, thread: usize, i: u64, value: &[u8]) -> Result<(), String>;
    /// Filesystem syncs so far, when the engine lets us count them.
    fn syncs(&self) -> Option<u64>;
    /// Closes the engine (not timed).
    fn close(self: Box<Self>) -> Result<(), String>;
}

/// Engine names, in the default run order.
pub const ENGINES: [&str; 4] = ["hwal-scheduled", "hwal-classic", "raft-engine", "okaywal"];

/// Engine settings that differ from each engine's defaults (none by default).
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// hwal's `RealEnv` pre-write chunk in bytes (0 = append-only files, as HBase on HDFS).
    pub hwal_preallocate_bytes: u64,
}

/// Opens engine `name` in the (fresh) directory `dir` for `threads` writer threads.
pub fn open(name: &str, dir: &Path, threads: usize, opts: Options) -> Result<Box<dyn Target>, String> {
    let prealloc = opts.hwal_preallocate_bytes;
    match name {
        "hwal-scheduled" => Ok(Box::new(HwalTarget::open(dir, hwal::Pipeline::Scheduled, threads, prealloc)?)),
        "hwal-classic" => Ok(Box::new(HwalTarget::open(dir, hwal::Pipeline::Classic, threads, prealloc)?)),
        "raft-engine" => Ok(Box::new(RaftEngineTarget::open(dir)?)),
        "okaywal" => Ok(Box::new(OkayWalTarget::open(dir)?)),
        other => Err(format!("unknown engine {other:?}")),
    }
}

struct HwalTarget {
    wal: hwal::Wal,
    regions: Vec<(hwal::RegionName, hwal::Mvcc)>,
}

impl HwalTarget {
    fn open(dir: &Path, pipeline: hwal::Pipeline, threads: usize, preallocate: u64) -> Result<Self, String> {
        let env = hwal::env::RealEnv::builder(dir)
            .preallocate(preallocate)
            .build()
            .map_err(|e| format!("hwal env in {}: {e}", dir.display()))?;
        let cfg = hwal::Config { pipeline, ..hwal::Config::default() };
        let wal = hwal::Wal::open_blocking(env, cfg, Arc::new(hwal::wal::listener::NoopListener))
            .map_err(|e| format!("hwal open: {e}"))?;
        let regions = (0..threads).map(|t| (hwal::RegionName::new(&format!("r{t}")), hwal::Mvcc::new(0))).collect();
        Ok(Self { wal, regions })
    }
}

impl Target for HwalTarget {
    fn op(&self, thread: usize, i: u64, value: &[u8]) -> Result<(), String> {
        let (region, mvcc) = &self.regions[thread];
        let key = hwal::WalKey::new(region.clone(), "peers", i);
        let edit = hwal::WalEdit::put(&i.to_be_bytes(), b"f", b"q", i, value);
        let r = self
            .wal
            .append_sync_blocking(mvcc, key, edit, hwal::Durability::FsyncWal)
            .map_err(|e| format!("hwal append: {e}"))?;
        mvcc.complete(r.appended.write_entry);
        r.synced.map_err(|e| format!("hwal sync: {e}"))
    }
    fn syncs(&self) -> Option<u64> {
        Some(self.wal.stats().syncs)
    }
    fn close(self: Box<Self>) -> Result<(), String> {
        self.wal.close_blocking().map_err(|e| format!("hwal close: {e}"))
    }
}

/// raft-engine's default filesystem, counting `Handle::sync` (fdatasync of a log file).
struct CountingFs {
    inner: DefaultFileSystem,
    syncs: Arc<AtomicU64>,
}

type DefaultHandle = <DefaultFileSystem as FileSystem>::Handle;

struct CountedHandle {
    inner: Arc<DefaultHandle>,
    syncs: Arc<AtomicU64>,
}

impl Handle for CountedHandle {
    fn truncate(&self, offset: usize) -> io::Result<()> {
        self.inner.truncate(offset)
    }
    fn file_size(&self) -> io::Result<usize> {
        self.inner.file_size()
    }
    fn sync(&self) -> io::Result<()> {
        let r = self.inner.sync();
        self.syncs.fetch_add(1, Ordering::Relaxed);
        r
    }
}

impl CountingFs {
    fn wrap(&self, h: DefaultHandle) -> CountedHandle {
        CountedHandle { inner: Arc::new(h), syncs: self.syncs.clone() }
    }
}

impl FileSystem for CountingFs {
    type Handle = CountedHandle;
    type Reader = <DefaultFileSystem as FileSystem>::Reader;
    type Writer = <DefaultFileSystem as FileSystem>::Writer;

    fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<Self::Handle> {
        self.inner.create(path).map(|h| self.wrap(h))
    }
    fn open<P: AsRef<Path>>(&self, path: P, perm: Permission) -> io::Result<Self::Handle> {
        self.inner.open(path, perm).map(|h| self.wrap(h))
    }
    fn delete<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.inner.delete(path)
    }
    fn rename<P: AsRef<Path>>(&self, src_path: P, dst_path: P) -> io::Result<()> {
        self.inner.rename(src_path, dst_path)
    }
    fn reuse<P: AsRef<Path>>(&self, src_path: P, dst_path: P) -> io::Result<()> {
        self.inner.reuse(src_path, dst_path)
    }
    fn new_reader(&self, handle: Arc<Self::Handle>) -> io::Result<Self::Reader> {
        self.inner.new_reader(handle.inner.clone())
    }
    fn new_writer(&self, handle: Arc<Self::Handle>) -> io::Result<Self::Writer> {
        self.inner.new_writer(handle.inner.clone())
    }
}

struct RaftEngineTarget {
    engine: raft_engine::Engine<CountingFs>,
    syncs: Arc<AtomicU64>,
}

impl RaftEngineTarget {
    fn open(dir: &Path) -> Result<Self, String> {
        let cfg = raft_engine::Config { dir: dir.to_string_lossy().into_owned(), ..raft_engine::Config::default() };
        let syncs = Arc::new(AtomicU64::new(0));
        let fs = Arc::new(CountingFs { inner: DefaultFileSystem, syncs: syncs.clone() });
        let engine =
            raft_engine::Engine::open_with_file_system(cfg, fs).map_err(|e| format!("raft-engine open: {e}"))?;
        Ok(Self { engine, syncs })
    }
}

impl Target for RaftEngineTarget {
    fn op(&self, thread: usize, i: u64, value: &[u8]) -> Result<(), String> {
        let mut batch = raft_engine::LogBatch::with_capacity(1);
        let mut key = Vec::with_capacity(9);
        key.push(b'k');
        key.extend_from_slice(&i.to_be_bytes());
        batch.put(thread as u64 + 1, key, value.to_vec()).map_err(|e| format!("raft-engine put: {e}"))?;
        self.engine.write(&mut batch, true).map(|_| ()).map_err(|e| format!("raft-engine write: {e}"))
    }
    fn syncs(&self) -> Option<u64> {
        Some(self.syncs.load(Ordering::Relaxed))
    }
    fn close(self: Box<Self>) -> Result<(), String> {
        drop(self.engine);
        Ok(())
    }
}

struct OkayWalTarget {
    log: okaywal::WriteAheadLog,
}

impl OkayWalTarget {
    fn open(dir: &Path) -> Result<Self, String> {
        let log = okaywal::Configuration::default_for(dir)
            .open(okaywal::LogVoid)
            .map_err(|e| format!("okaywal open: {e}"))?;
        Ok(Self { log })
    }
}

impl Target for OkayWalTarget {
    fn op(&self, _thread: usize, _i: u64, value: &[u8]) -> Result<(), String> {
        let mut entry = self.log.begin_entry().map_err(|e| format!("okaywal begin_entry: {e}"))?;
        entry.write_chunk(value).map_err(|e| format!("okaywal write_chunk: {e}"))?;
        entry.commit().map(|_| ()).map_err(|e| format!("okaywal commit: {e}"))
    }
    fn syncs(&self) -> Option<u64> {
        None
    }
    fn close(self: Box<Self>) -> Result<(), String> {
        self.log.shutdown().map_err(|e| format!("okaywal shutdown: {e}"))
    }
}
