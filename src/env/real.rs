//! The real environment: a tokio runtime, `std::fs`, `fdatasync`.
//!
//! `RealFile` keeps appended bytes in memory (`append` is a memcpy); `hflush` writes them with
//! `write(2)` and `hsync` also calls `fdatasync`, both on tokio's blocking threads. An I/O
//! mutex orders concurrent flushes, so bytes reach the file in append order even when several
//! sync runners flush at once.
#![allow(clippy::disallowed_methods)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::runtime::{Handle, Runtime};

use super::{BoxFuture, DirEntry, Env, FaultPlan, FaultyFs, FileMeta, SyncDone, WalFile, WalFs};
use crate::sync::{lock, Arc, Mutex};

/// Default preallocation chunk of WAL files on local disk.
pub const DEFAULT_PREALLOCATE_BYTES: u64 = 1024 * 1024;

/// How far one extension ahead of need pre-writes (at most a chunk). Small steps spread the
/// zero-filling over many syncs: a whole 1 MiB chunk at once kept the disk busy for ~1.5 ms,
/// and every sync issued meanwhile, with all its writers, waited behind it.
const EXTEND_STEP: u64 = 64 * 1024;

/// The real environment.
pub struct RealEnv {
    runtime: Mutex<Option<Runtime>>,
    handle: Handle,
    fs: Arc<dyn WalFs>,
    start: Instant,
    seed: u64,
}

/// Builder for [`RealEnv`].
pub struct RealEnvBuilder {
    root: PathBuf,
    worker_threads: usize,
    faults: Option<Arc<FaultPlan>>,
    seed: u64,
    preallocate_bytes: u64,
    fs: Option<Arc<dyn WalFs>>,
}

impl RealEnvBuilder {
    /// Pre-write WAL files with zeros in chunks of this many bytes, so syncs overwrite
    /// allocated blocks and commit no file-size metadata (much cheaper fdatasync on ext4/xfs).
    /// The zero tail reads as "end of data"; a clean close truncates it. HBase on HDFS only
    /// appends: `0` reproduces that. Default: 1 MiB.
    pub fn preallocate(mut self, bytes: u64) -> Self {
        self.preallocate_bytes = bytes;
        self
    }
    /// Runtime worker threads. Default: 2. Minimum: 1.
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n.max(1);
        self
    }
    /// Wraps the filesystem in a [`FaultyFs`] driven by `plan`.
    pub fn faults(mut self, plan: Arc<FaultPlan>) -> Self {
        self.faults = Some(plan);
        self
    }
    /// Uses `fs` instead of the local disk under `root` (e.g. a filesystem that discards bytes,
    /// to measure the append path alone); [`RealEnvBuilder::faults`] still wraps it.
    pub fn filesystem(mut self, fs: Arc<dyn WalFs>) -> Self {
        self.fs = Some(fs);
        self
    }
    /// Seed of [`Env::rng`]. Default: 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Builds the runtime and the filesystem (creating `root` if needed).
    pub fn build(self) -> io::Result<Arc<RealEnv>> {
        std::fs::create_dir_all(&self.root)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.worker_threads)
            .thread_name("hwal-rt")
            .enable_time()
            .build()?;
        let handle = runtime.handle().clone();
        let real: Arc<dyn WalFs> = match self.fs {
            Some(fs) => fs,
            None => Arc::new(RealFs::new(&self.root, handle.clone()).with_preallocation(self.preallocate_bytes)),
        };
        let fs: Arc<dyn WalFs> = match self.faults {
            None => real,
            Some(plan) => {
                let h = handle.clone();
                let sleeper = Arc::new(move |d: Duration| -> BoxFuture<'static, ()> {
                    let _g = h.enter();
                    Box::pin(tokio::time::sleep(d))
                });
                Arc::new(FaultyFs::new(real, plan, sleeper))
            }
        };
        Ok(Arc::new(RealEnv { runtime: Mutex::new(Some(runtime)), handle, fs, start: Instant::now(), seed: self.seed }))
    }
}

impl RealEnv {
    /// A builder for an environment rooted at `root`.
    pub fn builder(root: impl AsRef<Path>) -> RealEnvBuilder {
        RealEnvBuilder {
            root: root.as_ref().to_path_buf(),
            worker_threads: 2,
            faults: None,
            seed: 0,
            preallocate_bytes: DEFAULT_PREALLOCATE_BYTES,
            fs: None,
        }
    }

    /// An environment rooted at `root` with default settings.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Arc<RealEnv>> {
        Self::builder(root).build()
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for RealEnv {
    fn drop(&mut self) {
        if let Some(rt) = lock(&self.runtime).take() {
            rt.shutdown_background();
        }
    }
}

impl Env for RealEnv {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
    fn wall_clock_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let _g = self.handle.enter();
        Box::pin(tokio::time::sleep(d))
    }
    fn spawn(&self, _name: &'static str, task: BoxFuture<'static, ()>) {
        self.handle.spawn(task);
    }
    fn fs(&self) -> Arc<dyn WalFs> {
        self.fs.clone()
    }
    fn seed(&self) -> u64 {
        self.seed
    }
}

/// Local-disk filesystem rooted at a directory.
pub struct RealFs {
    root: PathBuf,
    handle: Handle,
    preallocate_bytes: u64,
}

impl RealFs {
    /// A filesystem rooted at `root`; blocking calls run on `handle`'s blocking threads.
    /// No preallocation.
    pub fn new(root: &Path, handle: Handle) -> Self {
        Self { root: root.to_path_buf(), handle, preallocate_bytes: 0 }
    }

    /// Pre-writes new files with zeros in chunks of `bytes` (0 = off).
    pub fn with_preallocation(mut self, bytes: u64) -> Self {
        self.preallocate_bytes = bytes;
        self
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let mut p = self.root.clone();
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            p.push(seg);
        }
        p
    }

    fn blocking<'a, T: Send + 'static>(
        &'a self,
        f: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> BoxFuture<'a, io::Result<T>> {
        let task = self.handle.spawn_blocking(f);
        Box::pin(async move { task.await.map_err(|e| io::Error::other(format!("blocking task failed: {e}")))? })
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn modified_ms(m: &std::fs::Metadata) -> u64 {
    m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl WalFs for RealFs {
    fn create<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Arc<dyn WalFile>>> {
        let full = self.resolve(path);
        let name = path.to_string();
        let chunk = self.preallocate_bytes;
        let fut = self.blocking(move || {
            let file = OpenOptions::new().write(true).create_new(true).open(&full)?;
            // Pre-write the first chunk now, before the file becomes the current writer (a roll
            // creates it while the old writer still takes appends), so the first syncs on it
            // pay no zero-filling. A crash before the header lands leaves an all-zero file,
            // which readers treat as empty.
            if chunk > 0 {
                file.write_all_at(&vec![0u8; chunk as usize], 0)?;
                file.sync_all()?;
            }
            if let Some(dir) = full.parent() {
                sync_dir(dir)?;
            }
            Ok(file)
        });
        Box::pin(async move {
            let file = fut.await?;
            let f: Arc<dyn WalFile> = Arc::new(RealFile::new(name, file, chunk)?);
            Ok(f)
        })
    }

    fn mkdirs<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        let full = self.resolve(path);
        self.blocking(move || std::fs::create_dir_all(full))
    }

    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Vec<u8>>> {
        let full = self.resolve(path);
        self.blocking(move || std::fs::read(full))
    }

    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, io::Result<()>> {
        let (src, dst) = (self.resolve(from), self.resolve(to));
        self.blocking(move || {
            if dst.exists() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("rename target {} exists", dst.display()),
                ));
            }
            std::fs::rename(&src, &dst)?;
            if let Some(dir) = dst.parent() {
                sync_dir(dir)?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        let full = self.resolve(path);
        self.blocking(move || if full.is_dir() { std::fs::remove_dir(full) } else { std::fs::remove_file(full) })
    }

    fn list<'a>(&'a self, dir: &'a str) -> BoxFuture<'a, io::Result<Vec<DirEntry>>> {
        let full = self.resolve(dir);
        self.blocking(move || {
            let mut out = Vec::new();
            for e in std::fs::read_dir(full)? {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                out.push(DirEntry { name, is_dir: e.file_type()?.is_dir() });
            }
            out.sort();
            Ok(out)
        })
    }

    fn set_modified<'a>(&'a self, path: &'a str, modified_ms: u64) -> BoxFuture<'a, io::Result<()>> {
        let full = self.resolve(path);
        self.blocking(move || {
            let t = UNIX_EPOCH + Duration::from_millis(modified_ms);
            OpenOptions::new().write(true).open(full)?.set_modified(t)
        })
    }

    fn metadata<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Option<FileMeta>>> {
        let full = self.resolve(path);
        self.blocking(move || match std::fs::metadata(full) {
            Ok(m) => Ok(Some(FileMeta {
                len: if m.is_dir() { 0 } else { m.len() },
                is_dir: m.is_dir(),
                modified_ms: modified_ms(&m),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
    }
}

struct Pending {
    data: Vec<u8>,
    appended: u64,
    closed: bool,
    /// A background write of the pending bytes is queued.
    write_queued: bool,
}

/// Pending bytes above which an append queues a background write(2) (no sync), so memory stays
/// bounded without syncs, as an HDFS client sends a packet once it is full.
const WRITE_AHEAD_BYTES: usize = 4 * 1024 * 1024;

struct IoSide {
    file: Option<File>,
    /// Data bytes written (the logical length).
    written: u64,
    spare: Vec<u8>,
}

/// The pre-written region past the data. Rules: zeros are written only at or past
/// `allocated`, and data only below it; `allocated` moves up only after the zeros are synced.
/// Both extensions (ahead of need on the I/O thread, or on demand in a flush) hold this mutex
/// while they write, so they never overlap each other or a close.
struct Prealloc {
    /// A handle of its own, so an extension ahead of need runs without the I/O mutex.
    file: Option<File>,
    /// Bytes pre-written with zeros and synced (0 without preallocation).
    allocated: u64,
    /// Chunk size (0: off, or closed).
    chunk: u64,
    /// An extension ahead of need is queued on the I/O thread.
    queued: bool,
}

impl Prealloc {
    /// Extends the pre-written region past `end` (to a multiple of `step`), never below
    /// `written`; publishes the new end in `ready` once synced.
    fn extend_past(&mut self, written: u64, end: u64, step: u64, ready: &AtomicU64) -> io::Result<()> {
        if self.chunk == 0 || end <= self.allocated {
            return Ok(());
        }
        let target = end.div_ceil(step) * step;
        let file = self.file.as_ref().ok_or_else(|| io::Error::other("preallocation handle closed"))?;
        let mut at = self.allocated.max(written);
        let zeros = vec![0u8; (target - at).min(1 << 20) as usize];
        while at < target {
            let n = (target - at).min(zeros.len() as u64) as usize;
            file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        file.sync_all()?;
        self.allocated = target;
        ready.store(target, Ordering::Release);
        Ok(())
    }
}

struct FileInner {
    path: String,
    pending: Mutex<Pending>,
    io: Mutex<IoSide>,
    prealloc: Mutex<Prealloc>,
    /// `Prealloc::allocated`, readable without its mutex: a flush whose bytes end below it
    /// does not wait for an extension in progress (which holds the mutex through its sync).
    ready: AtomicU64,
    /// The I/O thread's queue (flushes, syncs, closes, extensions ahead of need).
    jobs: std::sync::mpsc::Sender<Job>,
}

impl FileInner {
    /// Writes every pending byte, in order; with `sync`, also fdatasyncs. Blocking.
    fn flush(self: &Arc<Self>, sync: bool) -> io::Result<u64> {
        let mut io_side = lock(&self.io);
        let mut data = std::mem::take(&mut io_side.spare);
        {
            let mut p = lock(&self.pending);
            std::mem::swap(&mut p.data, &mut data);
        }
        if io_side.file.is_none() {
            return Err(io::Error::other(format!("{} is closed", self.path)));
        }
        let end = io_side.written + data.len() as u64;
        // Normally the region is ready (extended ahead of need), and an extension in progress
        // is left alone; otherwise extend it here, waiting for one in progress first.
        let pre = if end <= self.ready.load(Ordering::Acquire) {
            self.prealloc.try_lock().ok()
        } else {
            let mut pre = lock(&self.prealloc);
            let step = pre.chunk.max(1);
            pre.extend_past(io_side.written, end, step, &self.ready)?;
            Some(pre)
        };
        if let Some(mut pre) = pre {
            if pre.chunk > 0 && !pre.queued && pre.allocated - end < pre.chunk / 2 {
                pre.queued = true;
                let me = self.clone();
                let sent = self.jobs.send(Box::new(move || me.extend_ahead()));
                if sent.is_err() {
                    pre.queued = false; // no I/O thread: the next flush extends on demand
                }
            }
        }
        let file = io_side.file.as_ref().expect("checked open");
        file.write_all_at(&data, io_side.written)?;
        if sync {
            file.sync_data()?;
        }
        io_side.written = end;
        data.clear();
        io_side.spare = data;
        Ok(io_side.written)
    }

    /// On the I/O thread: pre-writes the next [`EXTEND_STEP`] bytes before a flush needs them,
    /// so no sync pays for zero-filling. A flush queues at most one step at a time while less
    /// than half a chunk is left, so the steps are spread over the syncs between them.
    fn extend_ahead(&self) {
        let mut pre = lock(&self.prealloc);
        pre.queued = false;
        let (allocated, step) = (pre.allocated, EXTEND_STEP.min(pre.chunk).max(1));
        if let Err(e) = pre.extend_past(allocated, allocated + step, step, &self.ready) {
            // Harmless: the next flush that needs the region extends it (and reports a failure).
            tracing::warn!(target: "hwal::env", file = %self.path, error = %e, "preallocation ahead failed");
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A local file open for appending. Its flushes run, in order, on a dedicated I/O thread: the
/// thread that finishes an fdatasync also runs the caller's completion (`sync_then`), so a
/// group-commit cycle needs no hop back into the async runtime.
struct RealFile {
    inner: Arc<FileInner>,
}

impl RealFile {
    fn new(path: String, file: File, chunk: u64) -> io::Result<Self> {
        // `create` pre-wrote the first chunk.
        let pre_file = if chunk > 0 { Some(file.try_clone()?) } else { None };
        let prealloc = Prealloc { file: pre_file, allocated: chunk, chunk, queued: false };
        let io_side = IoSide { file: Some(file), written: 0, spare: Vec::with_capacity(64 * 1024) };
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let inner = FileInner {
            path,
            pending: Mutex::new(Pending {
                data: Vec::with_capacity(64 * 1024),
                appended: 0,
                closed: false,
                write_queued: false,
            }),
            io: Mutex::new(io_side),
            prealloc: Mutex::new(prealloc),
            ready: AtomicU64::new(chunk),
            jobs,
        };
        std::thread::Builder::new().name("hwal-io".into()).spawn(move || {
            for job in rx {
                job();
            }
        })?;
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Runs `f` on the I/O thread and resolves with its result.
    fn on_io_thread<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Arc<FileInner>) -> io::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, io::Result<T>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let inner = self.inner.clone();
        let sent = self.inner.jobs.send(Box::new(move || {
            let _ = tx.send(f(&inner));
        }));
        let path = self.inner.path.clone();
        Box::pin(async move {
            sent.map_err(|_| io::Error::other(format!("{what} of {path}: the I/O thread is gone")))?;
            rx.await.map_err(|_| io::Error::other(format!("{what} of {path}: the I/O thread dropped the request")))?
        })
    }
}

impl WalFile for RealFile {
    fn path(&self) -> &str {
        &self.inner.path
    }

    fn append(&self, buf: &[u8]) -> io::Result<()> {
        let mut p = lock(&self.inner.pending);
        if p.closed {
            return Err(io::Error::other(format!("append to closed file {}", self.inner.path)));
        }
        p.data.extend_from_slice(buf);
        p.appended += buf.len() as u64;
        if p.data.len() >= WRITE_AHEAD_BYTES && !p.write_queued {
            p.write_queued = true;
            drop(p);
            let inner = self.inner.clone();
            let _ = self.inner.jobs.send(Box::new(move || {
                lock(&inner.pending).write_queued = false;
                if let Err(e) = inner.flush(false) {
                    tracing::warn!(target: "hwal::env", file = %inner.path, error = %e, "background write failed");
                }
            }));
        }
        Ok(())
    }

    fn hflush(&self) -> BoxFuture<'_, io::Result<u64>> {
        self.on_io_thread("hflush", |f| f.flush(false))
    }

    fn hsync(&self) -> BoxFuture<'_, io::Result<u64>> {
        self.on_io_thread("hsync", |f| f.flush(true))
    }

    fn sync_then(&self, hsync: bool, done: SyncDone) -> Result<(), SyncDone> {
        let inner = self.inner.clone();
        let job: Job = Box::new(move || done(inner.flush(hsync)));
        if let Err(e) = self.inner.jobs.send(job) {
            (e.0)(); // the I/O thread is gone (it never exits while the file lives): flush here
        }
        Ok(())
    }

    fn syncs_in_place(&self) -> bool {
        true
    }

    fn sync_now(&self, hsync: bool) -> Option<io::Result<u64>> {
        Some(self.inner.flush(hsync))
    }

    fn len(&self) -> u64 {
        lock(&self.inner.pending).appended
    }

    fn replication(&self) -> u32 {
        0
    }

    fn close(&self) -> BoxFuture<'_, io::Result<()>> {
        self.on_io_thread("close", |inner| {
            {
                // Drop the zero tail before the last bytes (the trailer) go out, so a crash
                // at any point leaves either no trailer or a trailer at the very end.
                // Lock order: `io`, then `prealloc` (as in `flush`). No extension runs past
                // this: `chunk = 0` turns them off, and one queued earlier ran before (the I/O
                // thread runs jobs in order).
                let io_side = lock(&inner.io);
                let mut pre = lock(&inner.prealloc);
                if let Some(file) = io_side.file.as_ref() {
                    if pre.allocated > io_side.written {
                        file.set_len(io_side.written)?;
                    }
                }
                pre.chunk = 0;
                pre.allocated = 0;
                pre.file = None;
                inner.ready.store(0, Ordering::Release);
            }
            inner.flush(false)?;
            lock(&inner.pending).closed = true;
            if let Some(file) = lock(&inner.io).file.take() {
                file.sync_all()?;
            }
            Ok(())
        })
    }
}
