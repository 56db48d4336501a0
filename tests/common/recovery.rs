//! Helpers of the recovery tests: WAL files written byte by byte (as HBase's TestWALSplit writes
//! them with raw writers), damage, splitting and reading recovered edits back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hwal::env::{block_on, with_fs, Env, FaultPlan, LeaseFs, RealEnv};
use hwal::format::{
    encode_entry, encode_header, encode_trailer, read_log, FileHeader, FileKind, RecoveryMode, Trailer,
};
use hwal::recovery::{split_server, FlushedSeqids, SplitConfig, SplitError, SplitReport, StoreFileSeqids};
use hwal::region::layout;
use hwal::wal::entry::{Cell, RegionEvent};
use hwal::wal::naming;
use hwal::{Entry, RegionName, WalEdit, WalKey};

/// The table of the generated entries.
pub const TABLE: &str = "t";

/// A temporary root with a real environment (no preallocation: files hold exactly their bytes).
pub struct Root {
    pub dir: tempfile::TempDir,
    pub env: Arc<dyn Env>,
    pub plan: Arc<FaultPlan>,
    pub leases: Arc<LeaseFs>,
}

impl Root {
    /// A fresh root; its filesystem injects `plan`'s faults and enforces leases.
    pub fn new() -> Root {
        let dir = tempfile::tempdir().unwrap();
        let plan = FaultPlan::new();
        let real = RealEnv::builder(dir.path()).preallocate(0).faults(plan.clone()).build().unwrap();
        let leases = Arc::new(LeaseFs::new(real.fs()));
        let env = with_fs(real, leases.clone());
        Root { dir, env, plan, leases }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// File names in `rel` (sorted; empty when it does not exist).
    pub fn list(&self, rel: &str) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.path(rel)) else { return Vec::new() };
        let mut v: Vec<String> = rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    /// Splits `server` with `cfg`, learning flushed seqids from the store files.
    pub fn split(&self, server: &str, cfg: &SplitConfig) -> Result<SplitReport, SplitError> {
        let flushed = StoreFileSeqids::new(self.env.fs());
        self.split_with(server, cfg, &flushed)
    }

    pub fn split_with(
        &self,
        server: &str,
        cfg: &SplitConfig,
        f: &dyn FlushedSeqids,
    ) -> Result<SplitReport, SplitError> {
        block_on(split_server(&self.env, server, cfg, f))
    }

    /// Writes a WAL file `WALs/<server>/<server>.<number>` of `entries`; `closed` adds the
    /// trailer. Returns its path.
    pub fn write_wal(&self, server: &str, number: u64, entries: &[Entry], closed: bool) -> PathBuf {
        let dir = self.path(&naming::server_dir(server));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(naming::wal_file_name(server, number));
        std::fs::write(&path, wal_bytes(server, number, entries, closed)).unwrap();
        path
    }

    /// The entries of every finished recovered-edits file of `region`, in name order.
    pub fn recovered(&self, region: &str) -> Vec<Entry> {
        let dir = layout::recovered_edits_dir(TABLE, region);
        let mut out = Vec::new();
        for name in self.list(&dir) {
            if layout::parse_recovered_edits(&name).is_none() {
                continue;
            }
            let p = self.path(&format!("{dir}/{name}"));
            let bytes = std::fs::read(&p).unwrap();
            let read = read_log(&p.display().to_string(), &bytes, RecoveryMode::AbsoluteConsistency).unwrap();
            assert_eq!(read.header.kind, FileKind::RecoveredEdits);
            out.extend(read.entries.into_iter().map(|r| r.entry));
        }
        out
    }

    /// Names in `region`'s recovered.edits directory.
    pub fn edits_files(&self, region: &str) -> Vec<String> {
        self.list(&layout::recovered_edits_dir(TABLE, region))
    }
}

/// An entry of `region` at `seqid` with one put of row `row-<seqid>` in `family`.
pub fn entry(region: &str, seqid: u64, family: &str) -> Entry {
    let mut key = WalKey::new(RegionName::new(region), TABLE, 1000 + seqid);
    key.seqid = seqid;
    let row = format!("row-{seqid:05}");
    let value = vec![b'v'; 48];
    Entry { txid: seqid, key, edit: WalEdit::put(row.as_bytes(), family.as_bytes(), b"q", seqid, &value) }
}

/// A meta marker entry of `region` at `seqid`.
pub fn marker(region: &str, seqid: u64, edit: WalEdit) -> Entry {
    let mut key = WalKey::new(RegionName::new(region), TABLE, 1000 + seqid);
    key.seqid = seqid;
    Entry { txid: seqid, key, edit }
}

/// A region-open marker entry.
pub fn region_event(region: &str, seqid: u64) -> Entry {
    marker(region, seqid, WalEdit::region_event_marker(RegionEvent::Open, seqid, 0))
}

/// The bytes of a WAL file of `entries`.
pub fn wal_bytes(server: &str, number: u64, entries: &[Entry], closed: bool) -> Vec<u8> {
    let mut b = Vec::new();
    encode_header(&FileHeader::new(FileKind::Wal, server, number, 0, "hwal/test"), &mut b);
    for e in entries {
        encode_entry(e, &mut b);
    }
    if closed {
        let t = Trailer {
            entries: entries.len() as u64,
            max_txid: entries.iter().map(|e| e.txid).max().unwrap_or(0),
            max_seqid: entries.iter().map(|e| e.key.seqid).max().unwrap_or(0),
        };
        encode_trailer(&t, &mut b);
    }
    b
}

/// HBase `generateWALs(writers, entries)`: `files` WAL files of `server`, each with
/// `per_region` entries for every region, seqids increasing per region across files. Returns
/// the entries per file.
pub fn generate_wals(root: &Root, server: &str, files: u64, regions: &[&str], per_region: u64) -> Vec<Vec<Entry>> {
    let mut all = Vec::new();
    for f in 0..files {
        let mut entries = Vec::new();
        for j in 0..per_region {
            for r in regions {
                entries.push(entry(r, f * per_region + j + 1, "f"));
            }
        }
        root.write_wal(server, f + 1, &entries, true);
        all.push(entries);
    }
    all
}

/// The (seqid, row) of entries, for comparisons.
pub fn ids(entries: &[Entry]) -> Vec<(u64, Vec<u8>)> {
    entries
        .iter()
        .map(|e| (e.key.seqid, e.edit.cells.first().map(|c: &Cell| c.row.clone()).unwrap_or_default()))
        .collect()
}

/// Byte offsets of the entry frames of a WAL written by [`wal_bytes`].
pub fn frame_offsets(server: &str, number: u64, entries: &[Entry]) -> Vec<usize> {
    let bytes = wal_bytes(server, number, entries, false);
    let read = read_log("x", &bytes, RecoveryMode::AbsoluteConsistency).unwrap();
    read.entries.iter().map(|r| r.offset as usize).collect()
}

/// Reads a file as bytes.
pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}
