//! A fault-injecting decorator around any [`WalFs`], for real-mode tests.
//!
//! Faults are per instance (a shared [`FaultPlan`]), never process-global, so tests using them
//! run in parallel. Each fault is a counter or a setting on the plan:
//! - sync latency (every hflush/hsync waits this long first), and a count of "slow" syncs with
//!   their own latency;
//! - a count of syncs, appends, creates and whole-file reads to fail;
//! - sticky breakage: after an injected append or sync failure the file stays broken, like a DFS
//!   output stream whose pipeline failed (every later call on it fails);
//! - a replication override, for low-replication rolls.

use std::io;
use std::time::Duration;

use super::{BoxFuture, DirEntry, FileMeta, WalFile, WalFs};
use crate::sync::{lock, Arc, AtomicBool, AtomicU64, Mutex, Ordering};

/// A sleeper for injected latency.
pub type Sleeper = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

#[derive(Debug, Default)]
struct PlanState {
    sync_latency: Duration,
    slow_syncs: u64,
    slow_latency: Duration,
    fail_syncs: u64,
    fail_appends: u64,
    fail_creates: u64,
    fail_reads: u64,
    sticky: bool,
    replication: Option<u32>,
}

/// What to inject. All setters take effect immediately for every file of the fs.
#[derive(Debug, Default)]
pub struct FaultPlan {
    state: Mutex<PlanState>,
    injected: AtomicU64,
    syncs: AtomicU64,
    hsyncs: AtomicU64,
    appends_after_close: AtomicU64,
}

impl FaultPlan {
    /// A plan that injects nothing.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Every sync first waits `d`.
    pub fn set_sync_latency(&self, d: Duration) {
        lock(&self.state).sync_latency = d;
    }
    /// The next `n` syncs wait `d` (instead of the base latency).
    pub fn slow_next_syncs(&self, n: u64, d: Duration) {
        let mut s = lock(&self.state);
        s.slow_syncs = n;
        s.slow_latency = d;
    }
    /// The next `n` syncs fail.
    pub fn fail_next_syncs(&self, n: u64) {
        lock(&self.state).fail_syncs = n;
    }
    /// The next `n` appends fail.
    pub fn fail_next_appends(&self, n: u64) {
        lock(&self.state).fail_appends = n;
    }
    /// The next `n` file creations fail.
    pub fn fail_next_creates(&self, n: u64) {
        lock(&self.state).fail_creates = n;
    }
    /// The next `n` whole-file reads fail (a read error that is not an end of file).
    pub fn fail_next_reads(&self, n: u64) {
        lock(&self.state).fail_reads = n;
    }
    /// After an injected failure, the file stays broken.
    pub fn set_sticky(&self, sticky: bool) {
        lock(&self.state).sticky = sticky;
    }
    /// Overrides what files report as their replication (`None`: the inner file's value).
    pub fn set_replication(&self, r: Option<u32>) {
        lock(&self.state).replication = r;
    }
    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }
    /// Syncs (hflush or hsync) attempted so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }
    /// Appends attempted on a file after its close began (must stay 0: a writer is never
    /// written after it was swapped out).
    pub fn appends_after_close(&self) -> u64 {
        self.appends_after_close.load(Ordering::SeqCst)
    }
    /// hsyncs attempted so far.
    pub fn hsyncs(&self) -> u64 {
        self.hsyncs.load(Ordering::SeqCst)
    }

    fn take(counter: &mut u64) -> bool {
        if *counter > 0 {
            *counter -= 1;
            true
        } else {
            false
        }
    }
}

/// The decorator.
pub struct FaultyFs {
    inner: Arc<dyn WalFs>,
    plan: Arc<FaultPlan>,
    sleeper: Sleeper,
}

impl FaultyFs {
    /// Wraps `inner`; injected latency sleeps through `sleeper`.
    pub fn new(inner: Arc<dyn WalFs>, plan: Arc<FaultPlan>, sleeper: Sleeper) -> Self {
        Self { inner, plan, sleeper }
    }
}

fn injected(what: &str, path: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure on {path}"))
}

impl WalFs for FaultyFs {
    fn create<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Arc<dyn WalFile>>> {
        Box::pin(async move {
            if FaultPlan::take(&mut lock(&self.plan.state).fail_creates) {
                self.plan.injected.fetch_add(1, Ordering::SeqCst);
                return Err(injected("create", path));
            }
            let inner = self.inner.create(path).await?;
            let f: Arc<dyn WalFile> = Arc::new(FaultyFile {
                inner,
                plan: self.plan.clone(),
                sleeper: self.sleeper.clone(),
                broken: AtomicBool::new(false),
                closed: AtomicBool::new(false),
            });
            Ok(f)
        })
    }
    fn mkdirs<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        self.inner.mkdirs(path)
    }
    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Vec<u8>>> {
        Box::pin(async move {
            if FaultPlan::take(&mut lock(&self.plan.state).fail_reads) {
                self.plan.injected.fetch_add(1, Ordering::SeqCst);
                return Err(injected("read", path));
            }
            self.inner.read(path).await
        })
    }
    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, io::Result<()>> {
        self.inner.rename(from, to)
    }
    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        self.inner.delete(path)
    }
    fn list<'a>(&'a self, dir: &'a str) -> BoxFuture<'a, io::Result<Vec<DirEntry>>> {
        self.inner.list(dir)
    }
    fn metadata<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Option<FileMeta>>> {
        self.inner.metadata(path)
    }
    fn set_modified<'a>(&'a self, path: &'a str, modified_ms: u64) -> BoxFuture<'a, io::Result<()>> {
        self.inner.set_modified(path, modified_ms)
    }
    fn recover_lease<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        self.inner.recover_lease(path)
    }
}

struct FaultyFile {
    inner: Arc<dyn WalFile>,
    plan: Arc<FaultPlan>,
    sleeper: Sleeper,
    broken: AtomicBool,
    closed: AtomicBool,
}

impl FaultyFile {
    fn fail(&self, what: &str) -> io::Error {
        self.plan.injected.fetch_add(1, Ordering::SeqCst);
        if lock(&self.plan.state).sticky {
            self.broken.store(true, Ordering::SeqCst);
        }
        injected(what, self.inner.path())
    }

    fn check_broken(&self) -> io::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(io::Error::other(format!("stream to {} is broken", self.inner.path())));
        }
        Ok(())
    }

    fn sync(&self, hsync: bool) -> BoxFuture<'_, io::Result<u64>> {
        Box::pin(async move {
            self.plan.syncs.fetch_add(1, Ordering::SeqCst);
            if hsync {
                self.plan.hsyncs.fetch_add(1, Ordering::SeqCst);
            }
            let (delay, fail) = {
                let mut s = lock(&self.plan.state);
                let delay = if FaultPlan::take(&mut s.slow_syncs) { s.slow_latency } else { s.sync_latency };
                (delay, FaultPlan::take(&mut s.fail_syncs))
            };
            if !delay.is_zero() {
                (self.sleeper)(delay).await;
            }
            self.check_broken()?;
            if fail {
                return Err(self.fail(if hsync { "hsync" } else { "hflush" }));
            }
            if hsync {
                self.inner.hsync().await
            } else {
                self.inner.hflush().await
            }
        })
    }
}

impl WalFile for FaultyFile {
    fn path(&self) -> &str {
        self.inner.path()
    }
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            self.plan.appends_after_close.fetch_add(1, Ordering::SeqCst);
        }
        self.check_broken()?;
        if FaultPlan::take(&mut lock(&self.plan.state).fail_appends) {
            return Err(self.fail("append"));
        }
        self.inner.append(buf)
    }
    fn hflush(&self) -> BoxFuture<'_, io::Result<u64>> {
        self.sync(false)
    }
    fn hsync(&self) -> BoxFuture<'_, io::Result<u64>> {
        self.sync(true)
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn replication(&self) -> u32 {
        lock(&self.plan.state).replication.unwrap_or_else(|| self.inner.replication())
    }
    fn close(&self) -> BoxFuture<'_, io::Result<()>> {
        self.closed.store(true, Ordering::SeqCst);
        if self.broken.load(Ordering::SeqCst) {
            // A broken stream loses whatever it had not flushed: do not let the inner file
            // write it out on close.
            let path = self.inner.path().to_string();
            return Box::pin(async move { Err(io::Error::other(format!("stream to {path} is broken"))) });
        }
        self.inner.close()
    }
}
