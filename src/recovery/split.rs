//! Splitting a dead server's WALs into per-region recovered edits (HBase `WALSplitter`, run for
//! every file of the server as the master's split procedure does; spec §6.1–6.5).
//!
//! Protocol:
//! 1. **Fence.** Rename `WALs/<server>` to `WALs/<server>-splitting` (or resume an existing
//!    `-splitting` directory). From here a zombie of the server cannot create a WAL file (its
//!    parent is gone: `WalError::Fenced`).
//! 2. Take the directory's WAL files in file-number order. For each: **recover its lease**
//!    (a zombie's later appends and syncs on it fail, on filesystems with leases), read it with
//!    the configured [`RecoveryMode`](crate::format::RecoveryMode), and classify it:
//!    - empty, or a header cut short (a crash right after create): no entries, not corrupt;
//!    - a torn tail: the entries before it, not corrupt (HBASE-2643: truncation is expected);
//!    - damage the mode calls an error: with `skip_errors` the entries before the damage are
//!      kept and the file is marked corrupt; without it the split fails naming file and offset.
//! 3. **Filter** each entry: empty edits and markers other than compaction markers are dropped;
//!    entries at or below the region's last flushed seqid are dropped, and cells of families
//!    whose store already holds the entry's seqid (see [`super::flushed`]).
//! 4. **Buffer and write**: kept entries go through the bounded [`EntryBuffers`](super::buffers)
//!    to `split_writer_threads` writer tasks, which write one `.temp` file per region per WAL.
//!    The reader waits while the buffers are full; a writer error ends the split.
//! 5. **Finalize** only after every WAL was read without error: rename every output to
//!    `%019d(max seqid)` (name collisions: see [`super::output`]), then move each WAL to
//!    `oldWALs/` (or `corrupt/`), then remove the `-splitting` directory if it is empty.
//! 6. **Failure** anywhere before step 5 deletes this run's `.temp` outputs and leaves every WAL
//!    where it is, so running the split again starts over cleanly.

use std::collections::BTreeMap;
use std::io;

use super::buffers::RegionKey;
use super::config::SplitConfig;
use super::error::SplitError;
use super::flushed::{FlushedSeqids, LastFlushed};
use super::output::{self, OutputReport};
use super::sink::{OutputSink, PendingOutput};
use crate::env::{Env, WalFs};
use crate::format::{framed_entry_len, read_log, FormatError, ReadEntry, TailState};
use crate::region::layout;
use crate::sync::Arc;
use crate::wal::entry::{MarkerKind, META_FAMILY};
use crate::wal::naming;

/// Where a split WAL went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalDisposition {
    /// Read completely (up to a torn tail at most): archived to `oldWALs/`.
    Archived {
        /// Its archived path.
        to: String,
    },
    /// Damaged and `skip_errors` was set: moved to `corrupt/` after its readable entries were
    /// split.
    Corrupt {
        /// Its path under `corrupt/`.
        to: String,
    },
    /// The file disappeared before it could be read or moved: another splitter of the same WAL
    /// archived it (nothing to do).
    Missing,
}

/// What the split did with one WAL file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalReport {
    /// Its path in the splitting directory.
    pub path: String,
    /// Entries read.
    pub entries_read: u64,
    /// Entries handed to the writers.
    pub edits_kept: u64,
    /// Entries dropped as already flushed (or of a deleted region).
    pub skipped_flushed: u64,
    /// Markers dropped (all but compaction markers).
    pub skipped_markers: u64,
    /// Entries without cells dropped.
    pub skipped_empty: u64,
    /// How the file ended if not cleanly: a torn tail, or the damage that ended the read.
    pub damage: Option<String>,
    /// Where it went.
    pub disposition: WalDisposition,
}

/// What a whole split did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitReport {
    /// The server split.
    pub server: String,
    /// The fenced directory (removed at the end when empty).
    pub splitting_dir: String,
    /// The WAL files, in file-number order.
    pub wals: Vec<WalReport>,
    /// Every output, in WAL order then region order.
    pub outputs: Vec<OutputReport>,
}

impl SplitReport {
    /// Entries written to kept outputs, per (table, region).
    pub fn edits_per_region(&self) -> BTreeMap<(String, String), u64> {
        let mut m = BTreeMap::new();
        for o in self.outputs.iter().filter(|o| o.kept) {
            *m.entry((o.table.clone(), o.region.to_string())).or_insert(0) += o.edits;
        }
        m
    }

    /// WAL files moved to `corrupt/`.
    pub fn corrupt_files(&self) -> Vec<&str> {
        self.wals.iter().filter(|w| matches!(w.disposition, WalDisposition::Corrupt { .. })).map(|w| &*w.path).collect()
    }
}

/// Splits every WAL of `server` (the protocol in the module docs).
pub async fn split_server(
    env: &Arc<dyn Env>,
    server: &str,
    cfg: &SplitConfig,
    flushed: &dyn FlushedSeqids,
) -> Result<SplitReport, SplitError> {
    cfg.validate()?;
    layout::check_segment("server", server).map_err(SplitError::Config)?;
    let fs = env.fs();
    let dir = fence(&*fs, server).await?;
    let wals = list_wals(&*fs, &dir, server).await?;
    tracing::info!(target: "hwal::split", server, dir = %dir, files = wals.len(), "split started");
    let mut run = SplitRun { env, fs: fs.clone(), cfg, flushed, server, cache: BTreeMap::new(), pending: Vec::new() };
    let mut reports = Vec::new();
    for (number, name) in &wals {
        match run.split_wal(&format!("{dir}/{name}"), name, *number).await {
            Ok(r) => reports.push(r),
            Err(e) => {
                tracing::warn!(target: "hwal::split", server, error = %e, "split failed; discarding its outputs");
                output::discard(&*fs, &run.pending).await;
                return Err(e);
            }
        }
    }
    let mut outputs = Vec::new();
    for p in &run.pending {
        outputs.push(output::finalize(&*fs, p).await?);
    }
    for r in &mut reports {
        r.disposition = run.dispose(r).await?;
    }
    remove_if_empty(&*fs, &dir).await?;
    tracing::info!(target: "hwal::split", server, files = reports.len(), outputs = outputs.len(), "split done");
    Ok(SplitReport { server: server.to_string(), splitting_dir: dir, wals: reports, outputs })
}

/// Step 1. The rename is tried first and the directories inspected only after it failed, so two
/// splitters fencing the same server at once both end up splitting the `-splitting` directory.
async fn fence(fs: &dyn WalFs, server: &str) -> Result<String, SplitError> {
    let (dir, sdir) = (naming::server_dir(server), naming::splitting_dir(server));
    let exists = |p: String| async move {
        fs.metadata(&p).await.map(|m| m.is_some()).map_err(|e| SplitError::io("stat", &p, e))
    };
    match fs.rename(&dir, &sdir).await {
        Ok(()) => {
            tracing::info!(target: "hwal::split", from = %dir, to = %sdir, "WAL directory fenced");
            return Ok(sdir);
        }
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::AlreadyExists) => {}
        Err(e) => return Err(SplitError::io("rename", &dir, e)),
    }
    match (exists(dir.clone()).await?, exists(sdir.clone()).await?) {
        (true, true) => Err(SplitError::BothDirs { dir, splitting_dir: sdir }),
        (false, true) => Ok(sdir), // resumed, or fenced by another splitter
        (_, false) => Err(SplitError::NoWalDir { server: server.to_string(), dir, splitting_dir: sdir }),
    }
}

/// Step 2's order: the server's WAL files by file number; other names are left alone.
async fn list_wals(fs: &dyn WalFs, dir: &str, server: &str) -> Result<Vec<(u64, String)>, SplitError> {
    let mut wals = Vec::new();
    let entries = match fs.list(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(), // another splitter finished
        Err(e) => return Err(SplitError::io("list", dir, e)),
    };
    for e in entries {
        match naming::parse_file_number(server, &e.name) {
            Some(n) if !e.is_dir => wals.push((n, e.name)),
            _ => tracing::warn!(target: "hwal::split", dir, name = %e.name, "not a WAL file of the server; left alone"),
        }
    }
    wals.sort();
    Ok(wals)
}

async fn remove_if_empty(fs: &dyn WalFs, dir: &str) -> Result<(), SplitError> {
    let gone = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
    match fs.list(dir).await {
        Ok(entries) if entries.is_empty() => match fs.delete(dir).await {
            Ok(()) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(SplitError::io("delete", dir, e)),
        },
        Ok(_) => {
            tracing::warn!(target: "hwal::split", dir, "splitting directory not empty after the split; kept");
            Ok(())
        }
        Err(e) if gone(&e) => Ok(()),
        Err(e) => Err(SplitError::io("list", dir, e)),
    }
}

/// What reading one WAL produced (step 2).
struct Parsed {
    entries: Vec<ReadEntry>,
    damage: Option<String>,
    corrupt: bool,
}

struct SplitRun<'a> {
    env: &'a Arc<dyn Env>,
    fs: Arc<dyn WalFs>,
    cfg: &'a SplitConfig,
    flushed: &'a dyn FlushedSeqids,
    server: &'a str,
    cache: BTreeMap<RegionKey, LastFlushed>,
    /// Every output written so far (finalized at the end, or discarded on failure).
    pending: Vec<PendingOutput>,
}

impl SplitRun<'_> {
    async fn split_wal(&mut self, path: &str, name: &str, number: u64) -> Result<WalReport, SplitError> {
        let mut report = WalReport {
            path: path.to_string(),
            entries_read: 0,
            edits_kept: 0,
            skipped_flushed: 0,
            skipped_markers: 0,
            skipped_empty: 0,
            damage: None,
            disposition: WalDisposition::Missing,
        };
        self.fs.recover_lease(path).await.map_err(|e| SplitError::io("recover lease", path, e))?;
        let parsed = match self.fs.read(path).await {
            Ok(bytes) => self.parse(path, &bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(report),
            Err(e) if self.cfg.skip_errors => {
                Parsed { entries: Vec::new(), damage: Some(e.to_string()), corrupt: true }
            }
            Err(e) => return Err(SplitError::io("read", path, e)),
        };
        report.damage = parsed.damage;
        let mut corrupt = parsed.corrupt;
        let sink = OutputSink::start(self.env, self.cfg, self.server, name, number);
        let fed = self.feed(&sink, path, parsed.entries, &mut report).await;
        let (outputs, sink_error) = sink.finish(fed.is_err()).await;
        self.pending.extend(outputs);
        match fed {
            Ok(()) => {}
            Err(e) if self.cfg.skip_errors && matches!(e, SplitError::BadName { .. }) => {
                report.damage = Some(e.to_string());
                corrupt = true;
            }
            Err(e) => return Err(e),
        }
        if let Some(e) = sink_error {
            return Err(e);
        }
        report.disposition = if corrupt {
            WalDisposition::Corrupt { to: String::new() }
        } else {
            WalDisposition::Archived { to: String::new() }
        };
        tracing::info!(target: "hwal::split", file = path, read = report.entries_read, kept = report.edits_kept, corrupt, "WAL split");
        Ok(report)
    }

    /// Step 2's classification.
    fn parse(&self, path: &str, bytes: &[u8]) -> Result<Parsed, SplitError> {
        match read_log(path, bytes, self.cfg.recovery_mode) {
            Ok(read) => {
                let damage = match &read.tail {
                    TailState::Clean { .. } | TailState::Open => None,
                    TailState::Torn { offset, bytes } => Some(format!("torn tail at offset {offset} ({bytes} bytes)")),
                    TailState::Corrupt { offset, reason } => Some(format!("corrupt at offset {offset}: {reason}")),
                };
                Ok(Parsed { entries: read.entries, damage, corrupt: false })
            }
            Err(e @ (FormatError::EmptyFile { .. } | FormatError::TruncatedHeader { .. })) => {
                Ok(Parsed { entries: Vec::new(), damage: Some(e.to_string()), corrupt: false })
            }
            Err(e) if self.cfg.skip_errors => {
                let prefix = read_log(path, bytes, crate::format::RecoveryMode::TolerateAnyCorruption)
                    .map(|r| r.entries)
                    .unwrap_or_default();
                tracing::warn!(target: "hwal::split", file = path, error = %e, kept = prefix.len(), "corrupt WAL skipped");
                Ok(Parsed { entries: prefix, damage: Some(e.to_string()), corrupt: true })
            }
            Err(e) => Err(SplitError::Corrupt(e)),
        }
    }

    async fn last_flushed(&mut self, key: &RegionKey) -> Result<&LastFlushed, SplitError> {
        if !self.cache.contains_key(key) {
            let lf = self.flushed.last_flushed(&key.0, &key.1).await?;
            self.cache.insert(key.clone(), lf);
        }
        Ok(&self.cache[key])
    }

    /// Step 3, then hands each kept entry to the sink.
    async fn feed(
        &mut self,
        sink: &OutputSink,
        path: &str,
        entries: Vec<ReadEntry>,
        report: &mut WalReport,
    ) -> Result<(), SplitError> {
        for ReadEntry { offset, entry: mut e, .. } in entries {
            report.entries_read += 1;
            if e.edit.is_empty() {
                report.skipped_empty += 1;
                continue;
            }
            if e.edit.marker_kind().is_some_and(|k| k != MarkerKind::Compaction) {
                report.skipped_markers += 1;
                continue;
            }
            let bad = |reason| SplitError::BadName { path: path.to_string(), offset, reason };
            layout::check_segment("table", &e.key.table).map_err(bad)?;
            layout::check_segment("region", e.key.region.as_str()).map_err(bad)?;
            let key: RegionKey = (e.key.table.clone(), e.key.region.clone());
            let seqid = e.key.seqid;
            let lf = self.last_flushed(&key).await?;
            if seqid <= lf.region_seqid() {
                report.skipped_flushed += 1;
                continue;
            }
            e.edit.cells.retain(|c| c.family == META_FAMILY || seqid > lf.family_seqid(&c.family));
            if e.edit.cells.is_empty() {
                report.skipped_flushed += 1;
                continue;
            }
            let bytes = framed_entry_len(&e) as u64;
            sink.append(key, e, bytes).await?;
            report.edits_kept += 1;
        }
        Ok(())
    }

    /// Step 5's move of one WAL.
    async fn dispose(&self, r: &WalReport) -> Result<WalDisposition, SplitError> {
        let now = self.env.wall_clock_ms();
        let fs = &*self.fs;
        Ok(match r.disposition {
            WalDisposition::Missing => WalDisposition::Missing,
            WalDisposition::Archived { .. } => match output::move_into(fs, &r.path, naming::OLD_WALS_DIR, now).await? {
                Some(to) => WalDisposition::Archived { to },
                None => WalDisposition::Missing,
            },
            WalDisposition::Corrupt { .. } => match output::move_into(fs, &r.path, naming::CORRUPT_DIR, now).await? {
                Some(to) => WalDisposition::Corrupt { to },
                None => WalDisposition::Missing,
            },
        })
    }
}
