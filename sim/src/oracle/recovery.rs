//! Reading a server's WAL directory and checking what it holds (see the `oracle` module docs).
//!
//! The master reads a dead server's fenced directory (and the files its WAL archived) directly
//! with `hwal::format::read_log`, in file-number order, before splitting it: these checks judge
//! the WAL itself; the split and the reopened regions have their own (`split`, `regions`).

use std::collections::{BTreeMap, BTreeSet};

use hwal::format::{read_log, ReadEntry, RecoveryMode, TailState};
use hwal::wal::naming;

use super::{fingerprint, Inc, Violation};
use crate::dfs::SimDfs;

/// One file as read.
#[derive(Debug)]
pub struct FileRead {
    /// Path.
    pub path: String,
    /// File number.
    pub number: u64,
    /// Entries in file order.
    pub entries: Vec<ReadEntry>,
    /// How it ended (`None`: the file had no complete header).
    pub tail: Option<TailState>,
}

/// What a directory holds.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Files in file-number order.
    pub files: Vec<FileRead>,
    /// Distinct txids present.
    pub present: BTreeSet<u64>,
    /// Highest seqid per region.
    pub max_seqid: BTreeMap<String, u64>,
    /// Entries read (with re-written duplicates).
    pub entries: usize,
}

/// What a recovery must find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// After a server crash or fencing: everything a SYNC or FSYNC ack covered.
    ServerCrash,
    /// After power loss: everything an FSYNC ack covered.
    PowerLoss,
    /// After `sync_all(hsync)` and a clean close: every put, and the last file closed cleanly.
    CleanClose,
}

/// Reads every WAL file of `server` in `dir`, in file-number order. Corruption is a violation
/// (crash-prefix readability); a file without a complete header holds no entries.
pub fn read_dir(dfs: &SimDfs, dir: &str, server: &str) -> Result<Recovered, Violation> {
    let mut numbered: Vec<(u64, String)> = Vec::new();
    for name in dfs.list_files(dir) {
        let Some(n) = naming::parse_file_number(server, &name) else {
            return Err(("wal-dir", format!("{dir} holds {name}, which is not a WAL file of {server}")));
        };
        numbered.push((n, format!("{dir}/{name}")));
    }
    read_files(dfs, numbered, server)
}

/// The files the WAL of `server` archived to `oldWALs/` (read like [`read_dir`]). Together
/// with its directory they hold everything it wrote: archiving moves files, the cleaner is off
/// in the simulator.
pub fn read_archived(dfs: &SimDfs, server: &str) -> Result<Recovered, Violation> {
    let numbered = dfs
        .list_files(naming::OLD_WALS_DIR)
        .into_iter()
        .filter_map(|name| {
            let n = naming::parse_file_number(server, &name)?;
            Some((n, format!("{}/{name}", naming::OLD_WALS_DIR)))
        })
        .collect();
    read_files(dfs, numbered, server)
}

impl Recovered {
    /// `self` plus the files of `other`, in file-number order.
    pub fn merged(mut self, other: Recovered) -> Recovered {
        self.files.extend(other.files);
        self.files.sort_by_key(|f| f.number);
        self.present.extend(other.present);
        for (r, s) in other.max_seqid {
            let m = self.max_seqid.entry(r).or_insert(0);
            *m = (*m).max(s);
        }
        self.entries += other.entries;
        self
    }
}

fn read_files(dfs: &SimDfs, mut numbered: Vec<(u64, String)>, server: &str) -> Result<Recovered, Violation> {
    numbered.sort();
    let mut out = Recovered::default();
    for (number, path) in numbered {
        let bytes = dfs.read_now(&path).map_err(|e| ("wal-dir", format!("cannot read {path}: {e}")))?;
        let (entries, tail) = match read_log(&path, &bytes, RecoveryMode::TolerateTailCorruption) {
            Ok(l) => {
                if l.header.server != server || l.header.file_number != number {
                    return Err((
                        "crash-prefix",
                        format!("{path}: header names {} file {}", l.header.server, l.header.file_number),
                    ));
                }
                (l.entries, Some(l.tail))
            }
            Err(e) if e.is_truncation() => (Vec::new(), None),
            Err(e) => return Err(("crash-prefix", format!("{e} ({} bytes)", bytes.len()))),
        };
        for e in &entries {
            out.present.insert(e.entry.txid);
            let m = out.max_seqid.entry(e.entry.key.region.as_str().to_string()).or_insert(0);
            *m = (*m).max(e.entry.key.seqid);
        }
        out.entries += entries.len();
        out.files.push(FileRead { path, number, entries, tail });
    }
    Ok(out)
}

/// Checks what was read against the model of `inc`.
pub fn check(inc: &Inc, rec: &Recovered, need: Need, prefix_acks: bool) -> Result<(), Violation> {
    let name = &inc.name;
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    let mut region_max: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &rec.files {
        let mut last_txid = 0;
        let mut file_region_max: BTreeMap<&str, u64> = BTreeMap::new();
        for re in &f.entries {
            let e = &re.entry;
            let (txid, region, seqid) = (e.txid, e.key.region.as_str(), e.key.seqid);
            let at = || format!("{} offset {}", f.path, re.offset);
            let Some(put) = inc.puts.get(&txid) else {
                return Err((
                    "phantom-entry",
                    format!("{}: txid {txid} ({region} seqid {seqid}) was never appended by {name}", at()),
                ));
            };
            let cell_ok = e.edit.cells.len() == 1
                && fingerprint(&e.edit.cells[0].row, &e.edit.cells[0].value) == put.fp
                && e.edit.is_meta() == put.marker;
            if put.region.as_ref() != region || put.seqid != seqid || !cell_ok {
                return Err((
                    "phantom-entry",
                    format!("{}: txid {txid} reads as {region} seqid {seqid} (cells ok: {cell_ok}), appended as {} seqid {}", at(), put.region, put.seqid),
                ));
            }
            if txid <= last_txid {
                return Err(("file-order", format!("{}: txid {txid} follows txid {last_txid} in the same file", at())));
            }
            last_txid = txid;
            if file_region_max.get(region).is_some_and(|&m| seqid <= m) {
                return Err((
                    "region-order",
                    format!("{}: {region} seqid {seqid} does not increase within the file", at()),
                ));
            }
            file_region_max.insert(region, seqid);
            let dup = !seen.insert(txid);
            if !dup && region_max.get(region).is_some_and(|&m| seqid <= m) {
                return Err((
                    "region-order",
                    format!("{}: {region} seqid {seqid} (txid {txid}) after seqid {} in an earlier file, and it is not a re-write", at(), region_max[region]),
                ));
            }
            let m = region_max.entry(region).or_insert(0);
            *m = (*m).max(seqid);
        }
    }
    let (obliged, why) = match need {
        Need::ServerCrash => (inc.obliged(prefix_acks, false), "a SYNC/FSYNC ack"),
        Need::PowerLoss => (inc.obliged(prefix_acks, true), "an FSYNC ack"),
        Need::CleanClose if prefix_acks => (inc.puts.keys().copied().collect(), "the final sync_all(hsync) + close"),
        Need::CleanClose => (inc.obliged(false, false), "an ack (classic: per entry)"),
    };
    if let Some(u) = obliged.into_iter().find(|u| !rec.present.contains(u)) {
        let put = &inc.puts[&u];
        return Err((
            "acked-survives",
            format!(
                "{name}: txid {u} ({} seqid {}, durability {}) is missing after {need:?}, though {why} covered it",
                put.region, put.seqid, put.durability
            ),
        ));
    }
    if need == Need::CleanClose {
        // The writer's last file must end with a trailer. (A file whose creation failed half-way
        // during a roll may hold no header at all; that is not the writer's file.)
        let last = inc.cur_path.as_ref().and_then(|p| rec.files.iter().find(|f| &f.path == p));
        if let Some(last) = last {
            if !matches!(last.tail, Some(TailState::Clean { .. })) {
                return Err((
                    "clean-close",
                    format!("{}: the writer's last file after a clean close ends {:?}", last.path, last.tail),
                ));
            }
        }
    }
    Ok(())
}

/// The zombie check: every ack of a fenced incarnation must be in what the fencing read saw.
pub fn check_fenced(inc: &Inc, dfs: &SimDfs, prefix_acks: bool) -> Result<(), Violation> {
    let Some(present) = &inc.fenced else { return Ok(()) };
    if let Some(u) = inc.obliged(prefix_acks, false).into_iter().find(|u| !present.contains(u)) {
        let dir = naming::server_dir(&inc.name);
        let after = dfs.list_files(&dir);
        return Err((
            "zombie-fencing",
            format!(
                "{}: acked up to txid {} (SYNC) but txid {u} was not in the WALs read at fencing; \
                 files written under {dir} after fencing: {} {:?}",
                inc.name,
                inc.acked_sync,
                after.len(),
                after.iter().take(3).collect::<Vec<_>>()
            ),
        ));
    }
    Ok(())
}
