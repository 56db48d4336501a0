//! HDFS-style file leases over any [`WalFs`], so lease recovery fences a zombie writer on local
//! disk and in tests as it does on HDFS.
//!
//! On HDFS the writer of a file holds its lease; `recoverLease` (log splitting calls it before
//! reading a dead server's WAL) revokes it, closes the file at its final length and makes every
//! later write of the old writer fail. A local filesystem has no such thing: a process that still
//! holds a file open keeps writing into it after the file was renamed or read. [`LeaseFs`] adds
//! leases to any filesystem (within one `LeaseFs` instance, i.e. one process):
//!
//! 1. `create` takes a lease on the new file, registered under its path. A rename of the file, or
//!    of a directory above it, moves the registration (a lease follows the file, not its name);
//!    `delete` and the writer's `close` release it.
//! 2. `recover_lease(path)` takes the lease's I/O lock exclusively, marks it revoked and releases
//!    the registration: an hflush, hsync or close already running finishes first (its bytes are
//!    then part of the final length every reader sees), and every later append, hflush, hsync or
//!    close of that writer fails with an error naming the file.
//! 3. A writer's hflush, hsync and close hold the I/O lock shared while they run, so a
//!    revocation never interleaves with one.
//!
//! [`with_fs`] wraps an [`Env`] so it hands out a different filesystem (for example a `LeaseFs`
//! around its own).

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use super::{BoxFuture, DirEntry, Env, FileMeta, WalFile, WalFs};
use crate::sync::{lock, Arc, AtomicBool, Mutex, Ordering};

/// One lease: revoked or not, and the lock that orders revocation against the writer's I/O.
struct Lease {
    revoked: AtomicBool,
    io: tokio::sync::RwLock<()>,
}

type Registry = Arc<Mutex<BTreeMap<String, Arc<Lease>>>>;

/// A filesystem decorator that gives every created file a lease (see the module rules).
pub struct LeaseFs {
    inner: Arc<dyn WalFs>,
    leases: Registry,
}

impl LeaseFs {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn WalFs>) -> Self {
        Self { inner, leases: Arc::new(Mutex::new(BTreeMap::new())) }
    }

    /// Paths of files whose lease is held (open for writing, not recovered).
    pub fn leased_paths(&self) -> Vec<String> {
        lock(&self.leases).keys().cloned().collect()
    }

    /// Rule 1: moves registrations at `from`, or under the directory `from`, to `to`.
    fn move_leases(&self, from: &str, to: &str) {
        let mut map = lock(&self.leases);
        let prefix = format!("{}/", from.trim_end_matches('/'));
        let moved: Vec<String> = map.keys().filter(|k| *k == from || k.starts_with(&prefix)).cloned().collect();
        for old in moved {
            let lease = map.remove(&old).expect("key listed above");
            let new = format!("{to}{}", &old[from.len()..]);
            map.insert(new, lease);
        }
    }
}

fn revoked_error(path: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "lease on {path} was recovered (the file was fenced for log splitting): this writer may no longer write it"
        ),
    )
}

impl WalFs for LeaseFs {
    fn create<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Arc<dyn WalFile>>> {
        Box::pin(async move {
            let inner = self.inner.create(path).await?;
            let lease = Arc::new(Lease { revoked: AtomicBool::new(false), io: tokio::sync::RwLock::new(()) });
            lock(&self.leases).insert(path.to_string(), lease.clone());
            let f: Arc<dyn WalFile> = Arc::new(LeasedFile { inner, lease, registry: self.leases.clone() });
            Ok(f)
        })
    }
    fn mkdirs<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        self.inner.mkdirs(path)
    }
    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Vec<u8>>> {
        self.inner.read(path)
    }
    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            self.inner.rename(from, to).await?;
            self.move_leases(from, to);
            Ok(())
        })
    }
    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            self.inner.delete(path).await?;
            lock(&self.leases).remove(path);
            Ok(())
        })
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
        Box::pin(async move {
            let lease = lock(&self.leases).remove(path);
            if let Some(lease) = lease {
                // Rule 2: wait out the writer's running I/O, then revoke.
                let _exclusive = lease.io.write().await;
                lease.revoked.store(true, Ordering::SeqCst);
                tracing::info!(target: "hwal::env", file = path, "lease recovered: the writer is fenced");
            }
            self.inner.recover_lease(path).await
        })
    }
}

/// A file written under a lease.
struct LeasedFile {
    inner: Arc<dyn WalFile>,
    lease: Arc<Lease>,
    registry: Registry,
}

impl LeasedFile {
    fn check(&self) -> io::Result<()> {
        if self.lease.revoked.load(Ordering::SeqCst) {
            return Err(revoked_error(self.inner.path()));
        }
        Ok(())
    }

    fn sync(&self, hsync: bool) -> BoxFuture<'_, io::Result<u64>> {
        Box::pin(async move {
            let _shared = self.lease.io.read().await;
            self.check()?;
            if hsync {
                self.inner.hsync().await
            } else {
                self.inner.hflush().await
            }
        })
    }
}

impl WalFile for LeasedFile {
    fn path(&self) -> &str {
        self.inner.path()
    }
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        self.check()?;
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
        self.inner.replication()
    }
    fn close(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            let _shared = self.lease.io.read().await;
            self.check()?;
            let result = self.inner.close().await;
            lock(&self.registry).retain(|_, l| !Arc::ptr_eq(l, &self.lease));
            result
        })
    }
}

/// An [`Env`] that is `env` in everything but its filesystem, which is `fs`.
pub fn with_fs(env: Arc<dyn Env>, fs: Arc<dyn WalFs>) -> Arc<dyn Env> {
    Arc::new(FsOverride { env, fs })
}

struct FsOverride {
    env: Arc<dyn Env>,
    fs: Arc<dyn WalFs>,
}

impl Env for FsOverride {
    fn now(&self) -> Duration {
        self.env.now()
    }
    fn wall_clock_ms(&self) -> u64 {
        self.env.wall_clock_ms()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        self.env.sleep(d)
    }
    fn spawn(&self, name: &'static str, task: BoxFuture<'static, ()>) {
        self.env.spawn(name, task)
    }
    fn fs(&self) -> Arc<dyn WalFs> {
        self.fs.clone()
    }
    fn seed(&self) -> u64 {
        self.env.seed()
    }
    fn rng(&self, stream: u64) -> ChaCha8Rng {
        self.env.rng(stream)
    }
}
