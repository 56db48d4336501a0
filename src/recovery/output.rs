//! Finalizing split outputs and moving split WALs away (HBase `RecoveredEditsOutputSink.close`,
//! `deleteOneWithFewerEntries`, `WALSplitUtil.archive`).
//!
//! Rules:
//! 1. An output is renamed from its `.temp` name to `%019d(max seqid)` only after the whole split
//!    read every WAL without error.
//! 2. Name collision (the final name exists: a re-run of a split that died after finalizing, or
//!    a duplicated entry after a writer switch): the file whose *first* entry has the lower seqid
//!    holds more and is kept; the other is deleted. A destination without a readable entry
//!    counts as holding nothing (HBase would keep it and drop ours; keeping the one with data is
//!    the safe choice). The rename is retried up to [`FINALIZE_RENAME_RETRIES`] times.
//! 3. A split WAL goes to `oldWALs/` (or `corrupt/`) only after every output is final. If the
//!    destination name is taken, the file gets a `.<ms>` suffix rather than overwriting; if the
//!    WAL is already gone, another splitter of the same WAL archived it (HBase
//!    `testTwoWorkerSplittingSameWAL`) and there is nothing to do.

use std::io;

use super::config::FINALIZE_RENAME_RETRIES;
use super::error::SplitError;
use super::sink::PendingOutput;
use crate::env::WalFs;
use crate::format::{read_log, RecoveryMode};
use crate::region::layout;
use crate::wal::entry::RegionName;

/// A split output after finalizing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputReport {
    /// The table.
    pub table: String,
    /// The region.
    pub region: RegionName,
    /// The WAL file it was split from.
    pub wal: String,
    /// Its final path (or, when `kept` is false, the final path it lost to).
    pub path: String,
    /// Entries written.
    pub edits: u64,
    /// Seqid of its first entry.
    pub first_seqid: u64,
    /// Seqid of its last entry (its name).
    pub max_seqid: u64,
    /// False when a file of the same name holding more was kept instead (rule 2).
    pub kept: bool,
}

/// First entry's seqid of an existing recovered-edits file (`None`: no readable entry).
async fn first_seqid(fs: &dyn WalFs, path: &str) -> Result<Option<u64>, SplitError> {
    let bytes = fs.read(path).await.map_err(|e| SplitError::io("read", path, e))?;
    Ok(read_log(path, &bytes, RecoveryMode::TolerateAnyCorruption)
        .ok()
        .and_then(|r| r.entries.first().map(|e| e.entry.key.seqid)))
}

/// Rules 1 and 2 for one output.
pub(crate) async fn finalize(fs: &dyn WalFs, out: &PendingOutput) -> Result<OutputReport, SplitError> {
    let dir = layout::recovered_edits_dir(&out.key.0, out.key.1.as_str());
    let dst = format!("{dir}/{}", layout::seqid_name(out.max_seqid));
    let report = |kept| OutputReport {
        table: out.key.0.to_string(),
        region: out.key.1.clone(),
        wal: out.wal.clone(),
        path: dst.clone(),
        edits: out.edits,
        first_seqid: out.first_seqid,
        max_seqid: out.max_seqid,
        kept,
    };
    for _ in 0..=FINALIZE_RENAME_RETRIES {
        if fs.metadata(&dst).await.map_err(|e| SplitError::io("stat", &dst, e))?.is_some() {
            let theirs = first_seqid(fs, &dst).await?;
            if theirs.is_some_and(|t| t <= out.first_seqid) {
                tracing::warn!(target: "hwal::split", file = %dst, dropped = %out.temp_path,
                    "an existing edits file holds at least as much: deleting ours");
                fs.delete(&out.temp_path).await.map_err(|e| SplitError::io("delete", &out.temp_path, e))?;
                return Ok(report(false));
            }
            tracing::warn!(target: "hwal::split", file = %dst, "an existing edits file holds less: deleting it");
            match fs.delete(&dst).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(SplitError::io("delete", &dst, e)),
            }
        }
        match fs.rename(&out.temp_path, &dst).await {
            Ok(()) => return Ok(report(true)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SplitError::io("rename", &out.temp_path, e)),
        }
    }
    let reason = format!("{} renames lost to concurrent writers", FINALIZE_RENAME_RETRIES + 1);
    Err(SplitError::io("rename", &out.temp_path, io::Error::other(reason)))
}

/// Rule 3: moves `path` into `dir` under its own name (or with a `.<ms>` suffix); returns the
/// new path, or `None` when `path` is already gone (another splitter of the same WAL moved it).
pub(crate) async fn move_into(
    fs: &dyn WalFs,
    path: &str,
    dir: &str,
    now_ms: u64,
) -> Result<Option<String>, SplitError> {
    let exists = |p: String| async move {
        fs.metadata(&p).await.map(|m| m.is_some()).map_err(|e| SplitError::io("stat", &p, e))
    };
    fs.mkdirs(dir).await.map_err(|e| SplitError::io("mkdirs", dir, e))?;
    let plain = format!("{dir}/{}", crate::env::file_name(path));
    for dst in [plain.clone(), format!("{plain}.{now_ms}")] {
        if !exists(path.to_string()).await? {
            return Ok(None);
        }
        if exists(dst.clone()).await? {
            continue;
        }
        match fs.rename(path, &dst).await {
            Ok(()) => {
                if let Err(e) = fs.set_modified(&dst, now_ms).await {
                    tracing::warn!(target: "hwal::split", file = %dst, error = %e, "cannot stamp the archive time");
                }
                return Ok(Some(dst));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SplitError::io("rename", path, e)),
        }
    }
    if !exists(path.to_string()).await? {
        return Ok(None);
    }
    Err(SplitError::io(
        "rename",
        path,
        io::Error::new(io::ErrorKind::AlreadyExists, format!("{plain} and {plain}.{now_ms} both exist")),
    ))
}

/// Deletes outputs of a failed split (best effort: replay never reads `.temp` files anyway).
pub(crate) async fn discard(fs: &dyn WalFs, outputs: &[PendingOutput]) {
    for o in outputs {
        if let Err(e) = fs.delete(&o.temp_path).await {
            tracing::warn!(target: "hwal::split", file = %o.temp_path, error = %e, "cannot delete a discarded output");
        }
    }
}
