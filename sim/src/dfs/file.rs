//! The engine-facing side of SimDfs: [`SimFs`] (`hwal::env::WalFs`, one per server
//! incarnation) and [`SimFile`] (`hwal::env::WalFile`, one open output stream).
//!
//! Call semantics (see the module docs of `dfs` for the model):
//! - `append` buffers in the writer's view; it may fail once (append-error) or break the stream
//!   (broken-writer). A failed append buffers nothing.
//! - `hflush`/`hsync` cover the bytes appended before the call. Faults and latency are drawn at
//!   the start of the call; lease, breakage and ENOSPC are checked again when it completes, so a
//!   sync that was in flight while the lease was revoked fails.
//! - `close` makes every appended byte visible and releases the lease; on a broken stream it
//!   truncates the file to what was hflushed and reports the breakage.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hwal::env::{parent, yield_now, BoxFuture, DirEntry, FileMeta, WalFile, WalFs};
use madsim::task::NodeId;

use super::{Inode, Lease, SimDfs, State, REPLICATION};
use crate::env::WallClock;
use crate::faults::FaultKind;

/// Longest slow sync, ms.
pub const MAX_SLOW_SYNC_MS: u64 = 5_000;

/// The filesystem as one server incarnation (or the master) sees it (its node owns the leases
/// it takes).
pub struct SimFs {
    dfs: Arc<SimDfs>,
    node: NodeId,
    who: Arc<str>,
    clock: Arc<WallClock>,
    rate_faults: Arc<AtomicBool>,
}

impl SimFs {
    /// A handle for the server `who` running on `node`. While `rate_faults` is false, the rate
    /// faults (slow syncs, sync and append errors, broken streams) spare its files; ENOSPC and
    /// data-node loss still apply.
    pub fn new(
        dfs: Arc<SimDfs>,
        node: NodeId,
        who: Arc<str>,
        clock: Arc<WallClock>,
        rate_faults: Arc<AtomicBool>,
    ) -> Self {
        Self { dfs, node, who, clock, rate_faults }
    }
}

fn norm(path: &str) -> &str {
    path.trim_matches('/')
}

fn no_space(what: &str, path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, format!("{what} {path}: No space left on device (injected ENOSPC)"))
}

impl WalFs for SimFs {
    fn create<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Arc<dyn WalFile>>> {
        Box::pin(async move {
            yield_now().await;
            let path = norm(path);
            let mut st = self.dfs.lock();
            if st.enospc {
                st.record(FaultKind::Enospc, &self.who, format!("op=create file={path}"));
                return Err(no_space("create", path));
            }
            let dir = parent(path);
            if !(dir.is_empty() || st.dirs.contains(dir)) {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("create {path}: parent directory {dir} does not exist"),
                ));
            }
            if st.names.contains_key(path) || st.dirs.contains(path) {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("create {path}: already exists")));
            }
            let pipeline = choose_pipeline(&mut st);
            let (ino, lease) = (st.next_inode, Lease { node: self.node, id: st.next_lease });
            st.next_inode += 1;
            st.next_lease += 1;
            let inode = Inode {
                who: self.who.clone(),
                data: Vec::new(),
                flushed: 0,
                synced: 0,
                lease: Some(lease),
                pipeline,
                broken: None,
                modified_ms: self.clock.now_ms(),
            };
            st.inodes.insert(ino, inode);
            st.names.insert(path.to_string(), ino);
            st.created.insert(path.to_string(), ino);
            let f: Arc<dyn WalFile> = Arc::new(SimFile {
                dfs: self.dfs.clone(),
                ino,
                lease,
                path: path.to_string(),
                who: self.who.clone(),
                clock: self.clock.clone(),
                rate_faults: self.rate_faults.clone(),
            });
            Ok(f)
        })
    }

    fn mkdirs<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move { self.dfs.lock().mkdirs(norm(path)) })
    }

    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Vec<u8>>> {
        Box::pin(async move {
            yield_now().await;
            self.dfs.lock().read(norm(path))
        })
    }

    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move { self.dfs.lock().rename(norm(from), norm(to)) })
    }

    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move { self.dfs.lock().delete(norm(path)) })
    }

    fn list<'a>(&'a self, dir: &'a str) -> BoxFuture<'a, io::Result<Vec<DirEntry>>> {
        Box::pin(async move {
            let st = self.dfs.lock();
            let dir = norm(dir);
            if !(dir.is_empty() || st.dirs.contains(dir)) {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("list {dir}: no such directory")));
            }
            Ok(st.list(dir))
        })
    }

    fn metadata<'a>(&'a self, path: &'a str) -> BoxFuture<'a, io::Result<Option<FileMeta>>> {
        Box::pin(async move { Ok(self.dfs.lock().metadata(norm(path))) })
    }
}

/// Up to [`REPLICATION`] distinct live data nodes, in random order.
fn choose_pipeline(st: &mut State) -> Vec<usize> {
    let mut live: Vec<usize> = (0..st.datanodes.len()).filter(|&d| st.datanodes[d]).collect();
    let n = live.len().min(REPLICATION);
    for i in 0..n {
        let j = i + st.dice.below((live.len() - i) as u64) as usize;
        live.swap(i, j);
    }
    live.truncate(n);
    live
}

/// One open output stream.
pub struct SimFile {
    dfs: Arc<SimDfs>,
    ino: u64,
    lease: Lease,
    path: String,
    who: Arc<str>,
    clock: Arc<WallClock>,
    rate_faults: Arc<AtomicBool>,
}

/// What a sync will do, decided when it starts.
struct SyncPlan {
    target: usize,
    delay_ms: u64,
    yields: u64,
    error: bool,
    ack_lost: bool,
    breaks: bool,
}

impl SimFile {
    /// Fails unless this stream still holds the lease and is not broken.
    fn check<'s>(&self, st: &'s mut State, op: &str) -> io::Result<&'s mut Inode> {
        let path = &self.path;
        let i = st
            .inodes
            .get_mut(&self.ino)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{op} on {path}: the file was deleted")))?;
        if i.lease != Some(self.lease) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{op} on {path}: lease revoked or expired (the file was closed or recovered)"),
            ));
        }
        if let Some(b) = &i.broken {
            return Err(io::Error::other(format!("{op} on {path}: stream is broken: {b}")));
        }
        Ok(i)
    }

    fn plan_sync(&self, hsync: bool) -> io::Result<SyncPlan> {
        let mut st = self.dfs.lock();
        let op = if hsync { "hsync" } else { "hflush" };
        let target = self.check(&mut st, op)?.data.len();
        let r = st.rates;
        let max = st.sync_ms_max;
        let on = self.rate_faults.load(Ordering::SeqCst);
        let d = &mut st.dice;
        let slow = d.chance(r.slow_sync) && on;
        let slow_ms = d.pareto(r.slow_scale_ms as f64, 1.1, MAX_SLOW_SYNC_MS);
        let normal_ms = d.range(0, max);
        let yields = d.range(1, 4);
        let error = d.chance(r.sync_error) && on;
        let ack_lost = d.chance(0.5);
        let breaks = d.chance(r.broken_writer) && on;
        if slow {
            st.record(FaultKind::SlowSync, &self.who, format!("op={op} file={} ms={slow_ms}", self.path));
        }
        let delay_ms = if slow { slow_ms } else { normal_ms };
        Ok(SyncPlan { target, delay_ms, yields, error, ack_lost, breaks })
    }

    fn finish_sync(&self, hsync: bool, p: SyncPlan) -> io::Result<u64> {
        let mut st = self.dfs.lock();
        let op = if hsync { "hsync" } else { "hflush" };
        let path = self.path.clone();
        let enospc = st.enospc;
        let i = self.check(&mut st, op)?;
        let level = if hsync { i.synced } else { i.flushed };
        if enospc && p.target > level {
            i.broken = Some("No space left on device".into());
            st.record(FaultKind::Enospc, &self.who, format!("op={op} file={path}"));
            return Err(io::Error::new(io::ErrorKind::StorageFull, format!("{op} {path}: No space left on device")));
        }
        if p.breaks {
            i.broken = Some("injected pipeline failure".into());
            st.record(FaultKind::BrokenWriter, &self.who, format!("op={op} file={path}"));
            return Err(io::Error::other(format!("{op} {path}: injected pipeline failure; the stream is broken")));
        }
        if p.error && !p.ack_lost {
            st.record(FaultKind::SyncError, &self.who, format!("op={op} file={path} ack_lost=false"));
            return Err(io::Error::other(format!("{op} {path}: injected sync failure")));
        }
        i.flushed = i.flushed.max(p.target);
        if hsync {
            i.synced = i.synced.max(p.target);
        }
        let flushed = i.flushed as u64;
        if p.error {
            st.record(FaultKind::SyncError, &self.who, format!("op={op} file={path} ack_lost=true"));
            return Err(io::Error::other(format!("{op} {path}: injected sync failure (after the bytes were stored)")));
        }
        Ok(flushed)
    }

    fn sync(&self, hsync: bool) -> BoxFuture<'_, io::Result<u64>> {
        Box::pin(async move {
            let plan = self.plan_sync(hsync)?;
            if plan.delay_ms > 0 {
                madsim::time::sleep(Duration::from_millis(plan.delay_ms)).await;
            } else {
                for _ in 0..plan.yields {
                    yield_now().await;
                }
            }
            self.finish_sync(hsync, plan)
        })
    }
}

impl WalFile for SimFile {
    fn path(&self) -> &str {
        &self.path
    }

    /// Completes a sync from a task of its own (like a DFS client's ack thread), so the engine's
    /// `direct_sync` path runs in the simulator too.
    fn sync_then(&self, hsync: bool, done: hwal::env::SyncDone) -> Result<(), hwal::env::SyncDone> {
        let file = SimFile {
            dfs: self.dfs.clone(),
            ino: self.ino,
            lease: self.lease,
            path: self.path.clone(),
            who: self.who.clone(),
            clock: self.clock.clone(),
            rate_faults: self.rate_faults.clone(),
        };
        madsim::task::spawn(async move {
            let r = file.sync(hsync).await;
            done(r);
        });
        Ok(())
    }

    fn append(&self, buf: &[u8]) -> io::Result<()> {
        let mut st = self.dfs.lock();
        self.check(&mut st, "append")?;
        let r = st.rates;
        let on = self.rate_faults.load(Ordering::SeqCst);
        let breaks = st.dice.chance(r.broken_writer) && on;
        let fails = st.dice.chance(r.append_error) && on;
        let path = &self.path;
        if breaks {
            self.check(&mut st, "append")?.broken = Some("injected pipeline failure".into());
            st.record(FaultKind::BrokenWriter, &self.who, format!("op=append file={path}"));
            return Err(io::Error::other(format!("append {path}: injected pipeline failure; the stream is broken")));
        }
        if fails {
            st.record(FaultKind::AppendError, &self.who, format!("op=append file={path}"));
            return Err(io::Error::other(format!("append {path}: injected append failure")));
        }
        let now = self.clock.now_ms();
        let i = self.check(&mut st, "append")?;
        i.data.extend_from_slice(buf);
        i.modified_ms = now;
        Ok(())
    }

    fn hflush(&self) -> BoxFuture<'_, io::Result<u64>> {
        self.sync(false)
    }

    fn hsync(&self) -> BoxFuture<'_, io::Result<u64>> {
        self.sync(true)
    }

    fn len(&self) -> u64 {
        self.dfs.len_of(self.ino)
    }

    fn replication(&self) -> u32 {
        let st = self.dfs.lock();
        st.inodes.get(&self.ino).map_or(0, |i| i.pipeline.iter().filter(|&&d| st.datanodes[d]).count() as u32)
    }

    fn close(&self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            yield_now().await;
            let mut st = self.dfs.lock();
            let enospc = st.enospc;
            let path = self.path.clone();
            let i = st.inodes.get_mut(&self.ino).ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("close {path}: the file was deleted"))
            })?;
            if i.lease != Some(self.lease) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("close {path}: lease revoked or expired (the file was closed or recovered)"),
                ));
            }
            let failure = match (&i.broken, enospc && i.data.len() > i.flushed) {
                (Some(b), _) => Some(format!("close {path}: stream is broken: {b}")),
                (None, true) => Some(format!("close {path}: No space left on device")),
                (None, false) => None,
            };
            if failure.is_some() {
                let keep = i.flushed;
                i.data.truncate(keep);
            }
            // `WalFile::close` makes the file durable: a clean close completes the last block
            // on every replica (as an HDFS close does), so it survives power loss.
            i.flushed = i.data.len();
            if failure.is_none() {
                i.synced = i.data.len();
            }
            i.lease = None;
            match failure {
                Some(msg) => Err(io::Error::other(msg)),
                None => Ok(()),
            }
        })
    }
}
