//! The oracles (spec `hbase-wal.md` §10), and the model they check against.
//!
//! The WAL model is kept per server **incarnation** (`rs1,2`: a fresh `Wal` with its own txids
//! and its own directory, like an HBase server name with a new start code); the region model
//! per region ([`regions`]: a region outlives the incarnations that host it). Every entry —
//! a client's put or a region's marker — enters the model in the appending task, before it is
//! published (`WalListener::before_append`, [`Oracle::record_append`]). Checks:
//!
//! - on every engine event ([`events`]): entries are written only as appended, to the current
//!   epoch's file (no phantom write, region and seqid as assigned); `SyncDone` only for the
//!   current, unbroken epoch (epoch fencing); `synced` never decreases; a sync never claims a
//!   txid beyond what was written; each sync future completes once, with `done >= txid`, and
//!   only for a txid somebody waits on; WAL file numbers strictly increase; an archived file
//!   is never the current one and holds no edit that is not in store files ([`archive`]);
//!   the cache-flush protocol is well formed and never runs ahead of the store files.
//! - on every acknowledgement ([`Oracle::check_ack`]): a SYNC ack at txid t means every txid
//!   <= t appended by this incarnation is hflushed in some file of it *now*; FSYNC: hsynced.
//!   (Computed from the DFS's real lengths and the file offset each `APPEND` event ended at.)
//! - at every recovery and at the end ([`recovery`]): every file (live or archived) reads as a
//!   prefix of entries plus a clean/open/torn tail, never corrupt; every entry read is one that
//!   was appended (same region, seqid, cells); per region, seqids strictly increase in file
//!   order except for exact re-writes of already-seen txids (allowed after a writer failure);
//!   everything a SYNC ack covered survives a server crash, everything an FSYNC ack covered
//!   survives power loss, everything appended before a final `sync_all(hsync)` is there after
//!   the clean close; a fenced zombie acked nothing the recovery did not see.
//! - at every split ([`split`]): split completeness against what the master read first.
//! - at every region open, flush and at the end ([`regions`], `cluster::regions`): acked ⇒
//!   readable after recovery, nothing read that was never appended, seqid continuity, replay
//!   idempotence, accounting after a flush, MVCC, bounded file count.
//! - liveness (in `cluster`): once faults stop, every outstanding call returns within a bound.

pub mod archive;
pub mod events;
pub mod listener;
pub mod recovery;
pub mod regions;
pub mod split;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use hwal::{WalEdit, WalKey};

use crate::dfs::SimDfs;

/// How a failure is classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// An oracle saw a wrong result.
    Correctness,
    /// A call did not return in time once faults stopped (or the simulation hung).
    Liveness,
    /// Something panicked.
    CrashPanic,
}

impl Category {
    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Category::Correctness => "correctness",
            Category::Liveness => "liveness",
            Category::CrashPanic => "crash-panic",
        }
    }
}

/// A failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The class.
    pub category: Category,
    /// Which check.
    pub check: &'static str,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failure, check {}: {}", self.category.name(), self.check, self.message)
    }
}

/// A correctness violation: `(check, message)`.
pub type Violation = (&'static str, String);

/// An entry as it was appended: a client's put, or a region's marker (flush, open, close).
#[derive(Clone, Debug)]
pub struct Put {
    /// Region name.
    pub region: Arc<str>,
    /// Sequence id the WAL assigned.
    pub seqid: u64,
    /// Fingerprint of the cell (row + value).
    pub fp: u64,
    /// Durability asked for (0 async, 1 sync, 2 fsync; markers 0).
    pub durability: u8,
    /// A region marker (meta family), not client data.
    pub marker: bool,
}

/// Fingerprint of a cell: CRC32C of the row and of the value, with the value's length.
pub fn fingerprint(row: &[u8], value: &[u8]) -> u64 {
    ((crc32c::crc32c(row) as u64) << 32 | crc32c::crc32c(value) as u64) ^ ((value.len() as u64) << 20)
}

/// The model of one server incarnation.
#[derive(Debug, Default)]
pub struct Inc {
    /// Server name (`rs<slot>,<incarnation>`).
    pub name: Arc<str>,
    /// Server slot.
    pub slot: usize,
    /// Every put appended, by txid.
    pub puts: BTreeMap<u64, Put>,
    /// Highest txid acked at SYNC level or better.
    pub acked_sync: u64,
    /// Highest txid acked at FSYNC level.
    pub acked_fsync: u64,
    /// Txids present when the master fenced and read this incarnation (zombie check).
    pub fenced: Option<BTreeSet<u64>>,
    /// Path of the engine's current writer file.
    pub cur_path: Option<String>,
    pub(crate) epoch_file: BTreeMap<u32, u64>,
    pub(crate) pending_file: Option<u64>,
    pub(crate) last_file_number: u64,
    pub(crate) cur_epoch: u32,
    pub(crate) broken_epochs: BTreeSet<u32>,
    pub(crate) last_synced: u64,
    pub(crate) max_written: u64,
    /// Where each txid was written: (inode, end offset).
    pub(crate) copies: BTreeMap<u64, Vec<(u64, u64)>>,
    /// Txids written to each inode.
    pub(crate) by_inode: BTreeMap<u64, Vec<u64>>,
    pub(crate) sync_callers: BTreeSet<u64>,
    pub(crate) futures_done: BTreeSet<u64>,
    /// All puts <= frontier[level] were found durable at that level (0 hflush, 1 hsync).
    frontier: [u64; 2],
    /// Per-entry acks (pipelines without prefix acks): txid -> acked at hsync level.
    pub acked_entries: BTreeMap<u64, bool>,
    /// Txids of puts whose `Region::mutate` returned Ok (the memstore holds them).
    pub applied: BTreeSet<u64>,
    /// Txid of each (region, seqid) this incarnation appended.
    pub by_seqid: BTreeMap<(Arc<str>, u64), u64>,
    /// Per region: the cache-flush protocol as the WAL reported it (`events`).
    pub(crate) cache_flush: BTreeMap<String, archive::FlushState>,
}

impl Inc {
    /// The txids an ack obliges to be present after a loss of the given level (hsync: power
    /// loss; otherwise a server crash), under the pipeline's ack contract.
    pub fn obliged(&self, prefix_acks: bool, hsync: bool) -> Vec<u64> {
        if prefix_acks {
            let upto = if hsync { self.acked_fsync } else { self.acked_sync };
            self.puts.range(..=upto).map(|(u, _)| *u).collect()
        } else {
            self.acked_entries.iter().filter(|(_, h)| !hsync || **h).map(|(u, _)| *u).collect()
        }
    }
}

/// The whole model.
#[derive(Debug, Default)]
pub struct Oracle {
    /// Incarnations, indexed by id.
    pub incs: Vec<Inc>,
    /// The ack contract. Scheduled (HBase 3.x): a successful `sync(t)` means every append up to
    /// `t` is durable (unacked entries are re-written after a failure). Classic (HBase 1.x): a
    /// failed sync fails its callers and nothing is re-written, so an ack covers the caller's
    /// own entry only.
    pub prefix_acks: bool,
    /// Per region (by name; a region outlives the incarnations that host it).
    pub regions: BTreeMap<Arc<str>, regions::RegionModel>,
    /// Check at every `ARCHIVED` event that the current file is not the one archived.
    pub archive_check: bool,
    /// Puts a client is inside `Region::mutate` for, by cell fingerprint: their durability
    /// (how [`Oracle::record_append`] tells a client's put from anything else).
    pub in_flight: BTreeMap<u64, u8>,
}

impl Oracle {
    /// Registers a new incarnation; returns its id.
    pub fn add_inc(&mut self, name: Arc<str>, slot: usize) -> usize {
        self.incs.push(Inc { name, slot, ..Inc::default() });
        self.incs.len() - 1
    }

    /// Incarnation `inc` is about to publish an entry (`WalListener::before_append`): records
    /// it, for the WAL oracles by txid and for the region oracles by (region, seqid). A data
    /// entry must be a put a client is inside `Region::mutate` for; its seqid must exceed
    /// everything its region held when it opened (seqid continuity).
    pub fn record_append(&mut self, inc: usize, txid: u64, key: &WalKey, edit: &WalEdit) -> Result<(), Violation> {
        let name = self.incs[inc].name.clone();
        let label = key.region.as_str();
        let seqid = key.seqid;
        let marker = edit.is_meta();
        let fp = match edit.cells.as_slice() {
            [c] => fingerprint(&c.row, &c.value),
            cells => return Err(("phantom-append", format!("{name}: {label} seqid {seqid}: {} cells", cells.len()))),
        };
        let durability = if marker {
            0
        } else {
            *self.in_flight.get(&fp).ok_or_else(|| {
                ("phantom-append", format!("{name}: {label} seqid {seqid} (txid {txid}) is a put no client made"))
            })?
        };
        let region = self.region(label);
        region.check_continuity(inc, &name, seqid)?;
        region.writes.entry(seqid).or_default().push(regions::Write { inc, txid, fp, marker });
        let region: Arc<str> = self.regions.get_key_value(label).map(|(k, _)| k.clone()).expect("just added");
        let m = &mut self.incs[inc];
        m.by_seqid.insert((region.clone(), seqid), txid);
        if durability > 0 || marker {
            m.sync_callers.insert(txid);
        }
        let put = Put { region, seqid, fp, durability, marker };
        if let Some(old) = m.puts.insert(txid, put) {
            return Err(("unique-txid", format!("{}: txid {txid} was returned twice (first for {old:?})", m.name)));
        }
        Ok(())
    }

    /// The region model of `label` (created on first use).
    pub fn region(&mut self, label: &str) -> &mut regions::RegionModel {
        if !self.regions.contains_key(label) {
            self.regions.insert(Arc::from(label), regions::RegionModel::default());
        }
        self.regions.get_mut(label).expect("just inserted")
    }

    /// The txid incarnation `inc` appended `region`'s `seqid` at.
    pub fn txid_of(&self, inc: usize, region: &Arc<str>, seqid: u64) -> Option<u64> {
        self.incs[inc].by_seqid.get(&(region.clone(), seqid)).copied()
    }

    /// Highest txid appended so far by `inc`.
    pub fn max_put(&self, inc: usize) -> u64 {
        self.incs[inc].puts.keys().next_back().copied().unwrap_or(0)
    }

    /// A sync of `txid` returned Ok at level `hsync`: everything appended up to `txid` must be
    /// durable at that level right now.
    pub fn check_ack(&mut self, inc: usize, txid: u64, hsync: bool, dfs: &SimDfs) -> Result<(), Violation> {
        if !self.prefix_acks {
            return self.check_entry_ack(inc, txid, hsync, dfs);
        }
        let m = &mut self.incs[inc];
        m.acked_sync = m.acked_sync.max(txid);
        if hsync {
            m.acked_fsync = m.acked_fsync.max(txid);
        }
        let level = hsync as usize;
        let from = m.frontier[level];
        if from >= txid {
            return Ok(());
        }
        for (&u, put) in m.puts.range(from + 1..=txid) {
            let copies = m.copies.get(&u).map_or(&[][..], |v| &v[..]);
            let durable = copies.iter().any(|&(ino, end)| end <= dfs.durable_len(ino, hsync));
            if !durable {
                let kind = if hsync { "hsynced" } else { "hflushed" };
                return Err((
                    "ack-durable",
                    format!(
                        "{}: a {} ack covered txid {txid}, but txid {u} ({} seqid {}) is not {kind} in any file \
                         (copies written: {})",
                        m.name,
                        if hsync { "FSYNC" } else { "SYNC" },
                        put.region,
                        put.seqid,
                        copies.len()
                    ),
                ));
            }
            m.frontier[level] = u;
        }
        m.frontier[level] = m.frontier[level].max(txid);
        Ok(())
    }

    /// The per-entry contract: the acked entry itself must be durable at the acked level now.
    fn check_entry_ack(&mut self, inc: usize, txid: u64, hsync: bool, dfs: &SimDfs) -> Result<(), Violation> {
        let m = &mut self.incs[inc];
        let level = m.acked_entries.entry(txid).or_insert(false);
        *level |= hsync;
        m.acked_sync = m.acked_sync.max(txid);
        if hsync {
            m.acked_fsync = m.acked_fsync.max(txid);
        }
        let Some(put) = m.puts.get(&txid) else { return Ok(()) };
        let copies = m.copies.get(&txid).map_or(&[][..], |v| &v[..]);
        if copies.iter().any(|&(ino, end)| end <= dfs.durable_len(ino, hsync)) {
            return Ok(());
        }
        let kind = if hsync { "hsynced" } else { "hflushed" };
        Err((
            "ack-durable",
            format!(
                "{}: txid {txid} ({} seqid {}) was acked but is not {kind} in any file",
                m.name, put.region, put.seqid
            ),
        ))
    }
}
