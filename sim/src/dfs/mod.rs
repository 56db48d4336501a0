//! SimDfs: an HDFS-like filesystem for the simulation, as a madsim plugin.
//!
//! Model:
//! 1. **Namespace**: one global tree of directories and files (`/`-separated paths relative to
//!    the root). `create` fails when the parent directory is missing — after the master renamed
//!    a dead server's directory to `-splitting`, a zombie cannot create WAL files in it
//!    (fencing). Files are inodes: renaming a directory does not disturb open streams.
//! 2. **Durability** per file: `data` holds every byte appended (the writer's view); `flushed`
//!    (hflush: on all live replicas' memory) and `synced` (hsync: on replicas' disks) are
//!    prefixes of it. A reader sees `flushed` bytes while a writer holds the lease, all bytes
//!    once the file is closed or recovered.
//! 3. **Crashes**: madsim `Handle::kill(node)` calls [`Simulator::reset_node`]: every file whose
//!    lease that node holds is cut to `flushed` (keeping a random torn prefix of the rest when
//!    armed with [`SimDfs::arm_torn`]) and its lease expires. [`SimDfs::power_loss`] cuts every
//!    file to `synced` (optionally torn). Always kill before restarting (`restart` alone does
//!    not reset).
//! 4. **Leases**: a file's writer holds a lease (node + lease id). [`SimDfs::revoke_leases`]
//!    (HDFS `recoverLease`) fences it: later appends and syncs by the old writer fail clearly.
//! 5. **Replicas**: each file gets a pipeline of up to 3 live data nodes at creation;
//!    `replication()` counts the live ones. A pipeline with none left breaks the stream.
//! 6. **Latency**: a sync sleeps whole simulated milliseconds (madsim's sleep floor is 1 ms, so
//!    we never ask for less): a normal sync draws `0..=sync_ms_max` ticks — 0 meaning it only
//!    yields to the scheduler (a few random polls), which still lets other tasks interleave —
//!    and a slow sync draws a Pareto (heavy-tailed) delay. An HDFS pipeline hflush costs about a
//!    millisecond, so whole-ms ticks are the model, not a distortion of it.
//! 7. **Faults** are drawn from the DFS's own stream, on each call, when the call starts (so the
//!    draw order is the call order); see `faults::FaultKind` for each kind's semantics.

mod file;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use hwal::env::{parent, DirEntry, FileMeta};
use madsim::plugin::Simulator;
use madsim::task::NodeId;

use crate::faults::{FaultKind, Rates};
use crate::rng::{stream, Dice};
use crate::trace::{Recorder, SimEvent};

pub use file::{SimFile, SimFs};

pub use crate::knobs::REPLICATION;

/// The writer lease of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lease {
    pub node: NodeId,
    pub id: u64,
}

/// One file.
#[derive(Debug)]
pub(crate) struct Inode {
    pub who: Arc<str>,
    pub data: Vec<u8>,
    pub flushed: usize,
    pub synced: usize,
    pub lease: Option<Lease>,
    pub pipeline: Vec<usize>,
    pub broken: Option<String>,
    pub modified_ms: u64,
}

/// Everything the DFS holds.
pub(crate) struct State {
    pub rec: Option<Arc<Recorder>>,
    pub dice: Dice,
    pub rates: Rates,
    pub sync_ms_max: u64,
    pub dirs: BTreeSet<String>,
    pub names: BTreeMap<String, u64>,
    /// Inode by the path it was created at (never changes on rename).
    pub created: BTreeMap<String, u64>,
    pub inodes: BTreeMap<u64, Inode>,
    pub next_inode: u64,
    pub next_lease: u64,
    pub datanodes: Vec<bool>,
    pub enospc: bool,
    pub torn_on_kill: bool,
}

/// The plugin. Reach it with `madsim::plugin::simulator::<SimDfs>()`.
pub struct SimDfs {
    st: Mutex<State>,
}

impl Simulator for SimDfs {
    fn new(_rand: &madsim::rand::GlobalRng, _time: &madsim::time::TimeHandle, _config: &madsim::Config) -> Self {
        SimDfs {
            st: Mutex::new(State {
                rec: None,
                dice: Dice::new(0, stream::DFS),
                rates: Rates::default(),
                sync_ms_max: 0,
                dirs: BTreeSet::new(),
                names: BTreeMap::new(),
                created: BTreeMap::new(),
                inodes: BTreeMap::new(),
                next_inode: 1,
                next_lease: 1,
                datanodes: vec![true; REPLICATION],
                enospc: false,
                torn_on_kill: false,
            }),
        }
    }

    fn reset_node(&self, id: NodeId) {
        let mut st = self.lock();
        let torn = std::mem::take(&mut st.torn_on_kill);
        let ids: Vec<u64> =
            st.inodes.iter().filter(|(_, i)| i.lease.is_some_and(|l| l.node == id)).map(|(k, _)| *k).collect();
        for ino in ids {
            let floor = st.inodes[&ino].flushed;
            st.cut(ino, floor, torn);
        }
    }
}

impl SimDfs {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the run's seed, recorder, data nodes and fault rates (call once, first).
    pub fn configure(&self, seed: u64, rec: Arc<Recorder>, datanodes: usize, sync_ms_max: u64, rates: Rates) {
        let mut st = self.lock();
        st.dice = Dice::new(seed, stream::DFS);
        st.rec = Some(rec);
        st.datanodes = vec![true; datanodes];
        st.sync_ms_max = sync_ms_max;
        st.rates = rates;
    }

    /// Forgets every file and directory (end of run: nothing may read them any more).
    pub fn clear(&self) {
        let mut st = self.lock();
        st.dirs.clear();
        st.names.clear();
        st.created.clear();
        st.inodes.clear();
    }

    /// Replaces the fault rates (all zero at the start of the liveness phase).
    pub fn set_rates(&self, rates: Rates) {
        self.lock().rates = rates;
    }

    /// The next `Handle::kill` keeps a torn prefix of the killed node's unflushed bytes.
    pub fn arm_torn(&self, torn: bool) {
        self.lock().torn_on_kill = torn;
    }

    /// Power loss: every file keeps only its hsynced bytes (plus a torn prefix of the rest when
    /// `torn`); every lease expires. Kill the server nodes afterwards.
    pub fn power_loss(&self, torn: bool) {
        let mut st = self.lock();
        let ids: Vec<u64> = st.inodes.keys().copied().collect();
        for ino in ids {
            let floor = st.inodes[&ino].synced;
            st.cut(ino, floor, torn);
        }
    }

    /// HDFS `recoverLease(path)`: revokes the writer's lease on `path` and closes the file at its
    /// hflushed length; the old writer's later appends and syncs fail. Returns false when the
    /// file has no lease (already closed or recovered) or does not exist.
    pub fn revoke_lease(&self, path: &str) -> bool {
        let mut st = self.lock();
        let Some(&ino) = st.names.get(path) else { return false };
        if st.inodes[&ino].lease.is_none() {
            return false;
        }
        let floor = st.inodes[&ino].flushed;
        st.cut(ino, floor, false);
        true
    }

    /// [`SimDfs::revoke_lease`] on every file under `dir`; returns how many were revoked.
    pub fn revoke_leases(&self, dir: &str) -> usize {
        let prefix = format!("{dir}/");
        let paths: Vec<String> = self.lock().names.keys().filter(|p| p.starts_with(&prefix)).cloned().collect();
        paths.iter().filter(|p| self.revoke_lease(p)).count()
    }

    /// Takes data node `dn` down; returns false (and changes nothing) if it is the last live one
    /// or already down. Pipelines left without a live replica break.
    pub fn datanode_down(&self, dn: usize) -> bool {
        let mut st = self.lock();
        let live = st.datanodes.iter().filter(|u| **u).count();
        if dn >= st.datanodes.len() || !st.datanodes[dn] || live <= 1 {
            return false;
        }
        st.datanodes[dn] = false;
        let dns = st.datanodes.clone();
        for ino in st.inodes.values_mut() {
            if ino.lease.is_some() && ino.broken.is_none() && !ino.pipeline.iter().any(|&d| dns[d]) {
                ino.broken = Some("all datanodes of the pipeline are bad".into());
            }
        }
        true
    }

    /// Brings every data node back.
    pub fn datanodes_up(&self) {
        let mut st = self.lock();
        st.datanodes.iter_mut().for_each(|u| *u = true);
    }

    /// Brings data node `dn` back.
    pub fn datanode_up(&self, dn: usize) {
        let mut st = self.lock();
        if let Some(u) = st.datanodes.get_mut(dn) {
            *u = true;
        }
    }

    /// Turns the out-of-space condition on or off.
    pub fn set_enospc(&self, on: bool) {
        self.lock().enospc = on;
    }

    /// The inode of the file created at `path` (wherever it was renamed to since).
    pub fn inode_of(&self, path: &str) -> Option<u64> {
        self.lock().created.get(path.trim_matches('/')).copied()
    }

    /// The inode of the file now at `path`.
    pub fn inode_at(&self, path: &str) -> Option<u64> {
        self.lock().names.get(path.trim_matches('/')).copied()
    }

    /// Where inode `ino` is now (`None`: deleted).
    pub fn path_of_inode(&self, ino: u64) -> Option<String> {
        self.lock().names.iter().find(|(_, i)| **i == ino).map(|(p, _)| p.clone())
    }

    /// Creates `path` as a closed, durable file holding `bytes` (the master restoring files).
    pub fn write_now(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let mut st = self.lock();
        let path = path.trim_matches('/');
        if !st.dir_exists(parent(path)) {
            return Err(not_found("write: parent of", path));
        }
        if st.names.contains_key(path) || st.dirs.contains(path) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("write {path}: already exists")));
        }
        let ino = st.next_inode;
        st.next_inode += 1;
        let len = bytes.len();
        let inode = Inode {
            who: Arc::from("master"),
            data: bytes.to_vec(),
            flushed: len,
            synced: len,
            lease: None,
            pipeline: Vec::new(),
            broken: None,
            modified_ms: 0,
        };
        st.inodes.insert(ino, inode);
        st.names.insert(path.to_string(), ino);
        Ok(())
    }

    /// Directories directly in `dir` (names, sorted).
    pub fn list_dirs(&self, dir: &str) -> Vec<String> {
        let st = self.lock();
        st.list(dir).into_iter().filter(|e| e.is_dir).map(|e| e.name).collect()
    }

    /// True if a file or directory is at `path`.
    pub fn exists(&self, path: &str) -> bool {
        let st = self.lock();
        let p = path.trim_matches('/');
        st.names.contains_key(p) || st.dirs.contains(p)
    }

    /// Bytes appended to inode `ino` so far (the writer's view).
    pub fn len_of(&self, ino: u64) -> u64 {
        self.lock().inodes.get(&ino).map_or(0, |i| i.data.len() as u64)
    }

    /// Durable length of inode `ino`: hsynced bytes when `hsync`, else hflushed.
    pub fn durable_len(&self, ino: u64, hsync: bool) -> u64 {
        self.lock().inodes.get(&ino).map_or(0, |i| if hsync { i.synced } else { i.flushed } as u64)
    }

    /// Files directly in `dir` (names, sorted) — a synchronous listing for the master.
    pub fn list_files(&self, dir: &str) -> Vec<String> {
        let st = self.lock();
        st.list(dir).into_iter().filter(|e| !e.is_dir).map(|e| e.name).collect()
    }

    /// The visible bytes of `path` (synchronous, for the master and oracles).
    pub fn read_now(&self, path: &str) -> io::Result<Vec<u8>> {
        self.lock().read(path)
    }

    /// Renames synchronously (the master's fencing step).
    pub fn rename_now(&self, from: &str, to: &str) -> io::Result<()> {
        self.lock().rename(from, to)
    }

    /// Creates a directory and its parents synchronously (the master's fence marker).
    pub fn mkdirs_now(&self, path: &str) -> io::Result<()> {
        self.lock().mkdirs(path)
    }

    /// True if `path` is a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        let st = self.lock();
        st.dirs.contains(path)
    }
}

fn not_found(what: &str, path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{what} {path}: no such file or directory"))
}

impl State {
    pub(crate) fn record(&self, kind: FaultKind, who: &Arc<str>, detail: String) {
        if let Some(rec) = &self.rec {
            rec.fault(kind, who, detail);
        }
    }

    /// Cuts inode `ino` to `floor` bytes (plus a random torn prefix of the rest when `torn`),
    /// makes what is left visible, and drops the lease.
    pub(crate) fn cut(&mut self, ino: u64, floor: usize, torn: bool) {
        let len = self.inodes[&ino].data.len();
        let keep = if torn && len > floor { floor + self.dice.below((len - floor + 1) as u64) as usize } else { floor };
        let i = self.inodes.get_mut(&ino).expect("inode exists");
        i.data.truncate(keep);
        i.flushed = keep;
        i.synced = i.synced.min(keep);
        i.lease = None;
        if torn && len > floor {
            let (who, file) = (i.who.clone(), self.path_of(ino));
            if let Some(rec) = &self.rec {
                let ev = SimEvent::Torn { file, kept: (keep - floor) as u64, dropped: (len - keep) as u64 };
                rec.sim(&who, ev);
            }
        }
    }

    pub(crate) fn path_of(&self, ino: u64) -> String {
        self.names.iter().find(|(_, i)| **i == ino).map_or_else(|| format!("<deleted inode {ino}>"), |(p, _)| p.clone())
    }

    fn dir_exists(&self, path: &str) -> bool {
        path.is_empty() || self.dirs.contains(path)
    }

    pub(crate) fn mkdirs(&mut self, path: &str) -> io::Result<()> {
        let mut p = String::new();
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            if !p.is_empty() {
                p.push('/');
            }
            p.push_str(seg);
            if self.names.contains_key(&p) {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("mkdirs {path}: {p} is a file")));
            }
            self.dirs.insert(p.clone());
        }
        Ok(())
    }

    pub(crate) fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        let ino = self.names.get(path).ok_or_else(|| not_found("read", path))?;
        let i = &self.inodes[ino];
        let visible = if i.lease.is_some() { i.flushed } else { i.data.len() };
        Ok(i.data[..visible].to_vec())
    }

    pub(crate) fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        if self.names.contains_key(to) || self.dirs.contains(to) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("rename {from} -> {to}: target exists")));
        }
        if !self.dir_exists(parent(to)) {
            return Err(not_found("rename: parent of", to));
        }
        if let Some(ino) = self.names.remove(from) {
            self.names.insert(to.to_string(), ino);
            return Ok(());
        }
        if !self.dirs.contains(from) {
            return Err(not_found("rename", from));
        }
        let prefix = format!("{from}/");
        let moved = |p: &str| format!("{to}/{}", &p[prefix.len()..]);
        let dirs: Vec<String> = self.dirs.iter().filter(|d| d.starts_with(&prefix)).cloned().collect();
        self.dirs.remove(from);
        self.dirs.insert(to.to_string());
        for d in dirs {
            self.dirs.remove(&d);
            self.dirs.insert(moved(&d));
        }
        let files: Vec<(String, u64)> =
            self.names.iter().filter(|(p, _)| p.starts_with(&prefix)).map(|(p, i)| (p.clone(), *i)).collect();
        for (p, ino) in files {
            self.names.remove(&p);
            self.names.insert(moved(&p), ino);
        }
        Ok(())
    }

    pub(crate) fn delete(&mut self, path: &str) -> io::Result<()> {
        if let Some(ino) = self.names.remove(path) {
            self.inodes.remove(&ino);
            return Ok(());
        }
        if !self.dirs.contains(path) {
            return Err(not_found("delete", path));
        }
        let prefix = format!("{path}/");
        if self.names.keys().any(|p| p.starts_with(&prefix)) || self.dirs.iter().any(|d| d.starts_with(&prefix)) {
            return Err(io::Error::other(format!("delete {path}: directory not empty")));
        }
        self.dirs.remove(path);
        Ok(())
    }

    pub(crate) fn list(&self, dir: &str) -> Vec<DirEntry> {
        let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        let child = |p: &str| -> Option<String> {
            let rest = p.strip_prefix(&prefix)?;
            (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_string())
        };
        let mut out: Vec<DirEntry> = self
            .dirs
            .iter()
            .filter_map(|d| child(d).map(|name| DirEntry { name, is_dir: true }))
            .chain(self.names.keys().filter_map(|p| child(p).map(|name| DirEntry { name, is_dir: false })))
            .collect();
        out.sort();
        out
    }

    pub(crate) fn metadata(&self, path: &str) -> Option<FileMeta> {
        if self.dir_exists(path) {
            return Some(FileMeta { len: 0, is_dir: true, modified_ms: 0 });
        }
        let i = &self.inodes[self.names.get(path)?];
        let len = if i.lease.is_some() { i.flushed } else { i.data.len() } as u64;
        Some(FileMeta { len, is_dir: false, modified_ms: i.modified_ms })
    }
}
