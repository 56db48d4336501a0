//! Replaying a region's recovered edits when it opens (HBase `replayRecoveredEditsIfAny` and
//! `replayRecoveredEdits`, spec §6.6 steps 3–5). [`Region::open`](crate::region::Region::open)
//! runs it between loading the stores and writing the open markers.
//!
//! Rules:
//! 1. Files are taken in name order (= max-seqid order); only all-digit names count, so `.temp`
//!    outputs of a split still running, `.seqid` files and moved-aside files are never read.
//! 2. A zero-length file is deleted unread; a file whose name (its max seqid) is at or below the
//!    region's least flushed store is skipped whole (everything in it is in store files).
//! 3. Per cell: meta-family cells (markers) are skipped, cells of families the region does not
//!    have are skipped, and a cell is applied only when its entry's seqid is above its family's
//!    max flushed seqid. Cells keep their original seqids; applying the same cell twice keeps
//!    one (duplicates across files are harmless).
//! 4. The recovery mode decides what a damaged file is: a torn tail ends the file normally
//!    except under `AbsoluteConsistency`; under `TolerateAnyCorruption` corruption ends it too.
//! 5. Any other read error — corruption the mode refuses, or an I/O error that is not "end of
//!    file" — fails the open (HBASE-15252: never silently lose edits), unless
//!    `replay_skip_errors` is set: then the entries read before the damage are applied and the
//!    file is moved aside as `<name>.<now ms>`.
//! 6. Nothing but zero-length files is deleted here. The caller flushes what was applied and then deletes
//!    [`ReplayReport::done`], so a crash in between replays the same files again.

use std::collections::BTreeMap;

use super::error::ReplayError;
use crate::env::{Env, WalFs};
use crate::format::{read_log, FormatError, ReadEntry, RecoveryMode, TailState};
use crate::region::layout;
use crate::wal::entry::{Cell, META_FAMILY};

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Files whose entries were read and applied.
    pub replayed: Vec<String>,
    /// Files skipped whole (rule 2) or empty.
    pub skipped: Vec<String>,
    /// Files moved aside after an error (rule 5): (from, to).
    pub moved_aside: Vec<(String, String)>,
    /// Entries read.
    pub entries_read: u64,
    /// Cells applied to memstores.
    pub cells_applied: u64,
    /// Cells skipped (flushed already, meta, unknown family, another region).
    pub cells_skipped: u64,
    /// Highest seqid of any entry read (0 when none).
    pub max_seen_seqid: u64,
    /// Highest seqid of an applied cell (0 when none).
    pub max_applied_seqid: u64,
    /// Files to delete once what was applied is flushed (replayed and skipped).
    pub done: Vec<String>,
}

/// What replay needs to know about the region.
pub(crate) struct ReplayTarget<'a> {
    /// The region's name.
    pub region: &'a str,
    /// Its `recovered.edits` directory.
    pub dir: String,
    /// Max flushed seqid per store.
    pub store_seqids: &'a BTreeMap<Vec<u8>, u64>,
    /// Least flushed store (0 when the region has none).
    pub min_seqid: u64,
    /// Whether the region has (or, with a dynamic schema, may have) a family.
    pub accepts_family: &'a (dyn Fn(&[u8]) -> bool + Sync),
    /// How files are read.
    pub mode: RecoveryMode,
    /// Rule 5's option.
    pub skip_errors: bool,
    /// A deliberately broken filter (tests only).
    pub mutant: super::RecoveryMutant,
}

/// Replays the recovered edits of `t`, applying each kept cell with `apply(cell, seqid)`.
pub(crate) async fn replay_recovered_edits(
    env: &dyn Env,
    t: &ReplayTarget<'_>,
    apply: &mut (dyn FnMut(&Cell, u64) + Send),
) -> Result<ReplayReport, ReplayError> {
    let fs = env.fs();
    let mut report = ReplayReport::default();
    if fs.metadata(&t.dir).await.map_err(|e| ReplayError::io("stat", &t.dir, e))?.is_none() {
        return Ok(report);
    }
    let mut files: Vec<(u64, String)> = Vec::new();
    for e in fs.list(&t.dir).await.map_err(|e| ReplayError::io("list", &t.dir, e))? {
        if let Some(seqid) = layout::parse_recovered_edits(&e.name).filter(|_| !e.is_dir) {
            files.push((seqid, e.name));
        }
    }
    files.sort();
    for (max_seqid, name) in files {
        let path = format!("{}/{name}", t.dir);
        let len = fs.metadata(&path).await.map_err(|e| ReplayError::io("stat", &path, e))?.map_or(0, |m| m.len);
        if len == 0 {
            fs.delete(&path).await.map_err(|e| ReplayError::io("delete", &path, e))?;
            report.skipped.push(path);
            continue;
        }
        if max_seqid <= t.min_seqid {
            tracing::debug!(target: "hwal::replay", file = %path, max_seqid, min = t.min_seqid, "every edit already flushed");
            report.skipped.push(path.clone());
            report.done.push(path);
            continue;
        }
        replay_file(env, &*fs, t, &path, apply, &mut report).await?;
    }
    Ok(report)
}

/// One file (rules 3–5).
async fn replay_file(
    env: &dyn Env,
    fs: &dyn WalFs,
    t: &ReplayTarget<'_>,
    path: &str,
    apply: &mut (dyn FnMut(&Cell, u64) + Send),
    report: &mut ReplayReport,
) -> Result<(), ReplayError> {
    let bytes = match fs.read(path).await {
        Ok(b) => b,
        Err(e) if t.skip_errors => return move_aside(env, fs, path, &e.to_string(), report).await,
        Err(e) => return Err(ReplayError::io("read", path, e)),
    };
    match read_log(path, &bytes, t.mode) {
        Ok(read) => {
            if let TailState::Corrupt { offset, reason } = &read.tail {
                tracing::warn!(target: "hwal::replay", file = path, offset, %reason, "replaying up to corruption");
            }
            apply_entries(t, read.entries, apply, report);
            report.replayed.push(path.to_string());
            report.done.push(path.to_string());
            Ok(())
        }
        Err(FormatError::EmptyFile { .. } | FormatError::TruncatedHeader { .. }) => {
            report.skipped.push(path.to_string());
            report.done.push(path.to_string());
            Ok(())
        }
        Err(e) if t.skip_errors => {
            if let Ok(prefix) = read_log(path, &bytes, RecoveryMode::TolerateAnyCorruption) {
                apply_entries(t, prefix.entries, apply, report);
            }
            move_aside(env, fs, path, &e.to_string(), report).await
        }
        Err(e) => Err(ReplayError::Format(e)),
    }
}

fn apply_entries(
    t: &ReplayTarget<'_>,
    entries: Vec<ReadEntry>,
    apply: &mut (dyn FnMut(&Cell, u64) + Send),
    report: &mut ReplayReport,
) {
    let mut last_seqid = 0;
    let max_store = t.store_seqids.values().copied().max().unwrap_or(0);
    let by_max = t.mutant.is(super::RecoveryMutant::ReplayFilterByMaxStore);
    for ReadEntry { entry, offset, .. } in entries {
        report.entries_read += 1;
        let seqid = entry.key.seqid;
        report.max_seen_seqid = report.max_seen_seqid.max(seqid);
        if seqid < last_seqid {
            tracing::warn!(target: "hwal::replay", region = t.region, seqid, last_seqid, offset, "found decreasing seqid");
        }
        last_seqid = seqid;
        if entry.key.region.as_str() != t.region {
            report.cells_skipped += entry.edit.cells.len() as u64;
            continue;
        }
        for cell in &entry.edit.cells {
            let flushed = if by_max { max_store } else { t.store_seqids.get(&cell.family).copied().unwrap_or(0) };
            if cell.family == META_FAMILY || !(t.accepts_family)(&cell.family) || seqid <= flushed {
                report.cells_skipped += 1;
                continue;
            }
            apply(cell, seqid);
            report.cells_applied += 1;
            report.max_applied_seqid = report.max_applied_seqid.max(seqid);
        }
    }
}

/// Rule 5's move aside.
async fn move_aside(
    env: &dyn Env,
    fs: &dyn WalFs,
    path: &str,
    why: &str,
    report: &mut ReplayReport,
) -> Result<(), ReplayError> {
    let to = format!("{path}.{}", env.wall_clock_ms());
    tracing::warn!(target: "hwal::replay", file = path, to = %to, error = why, "moving a damaged recovered-edits file aside");
    fs.rename(path, &to).await.map_err(|e| ReplayError::io("move aside", path, e))?;
    report.moved_aside.push((path.to_string(), to));
    Ok(())
}
