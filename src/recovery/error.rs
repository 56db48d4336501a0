//! Errors of log splitting and of recovered-edits replay. Each variant says whether it is
//! transient (running the split or the open again can succeed) or permanent.

use std::io;
use std::sync::Arc;

use crate::format::FormatError;
use crate::region::StoreFileError;

/// Why a split failed. When a split fails, no output was finalized by the failing step and the
/// WAL files it had not archived stay where they were (in `WALs/<server>-splitting/`), so the
/// split can simply run again.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SplitError {
    /// Permanent until the file is fixed or `skip_errors` is set: a WAL file is corrupt (or
    /// torn, under `AbsoluteConsistency`). The error names the file and the offset.
    #[error("corrupt WAL: {0}")]
    Corrupt(FormatError),
    /// Permanent until fixed: an entry names a table or region that cannot be a directory name.
    #[error("{path}: entry at offset {offset}: {reason}")]
    BadName {
        /// The WAL file.
        path: String,
        /// The entry's offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Transient: a filesystem call failed (reading a WAL, writing or renaming an output,
    /// archiving).
    #[error("{op} failed on {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The cause.
        source: Arc<io::Error>,
    },
    /// Permanent: the server has no WAL directory to split.
    #[error("nothing to split for server {server}: neither {dir} nor {splitting_dir} exists")]
    NoWalDir {
        /// The server.
        server: String,
        /// `WALs/<server>`.
        dir: String,
        /// `WALs/<server>-splitting`.
        splitting_dir: String,
    },
    /// Permanent: both the live and the splitting directory exist (a server was restarted under
    /// the name of one being split); resolve by hand.
    #[error("both {dir} and {splitting_dir} exist: a live server reuses the name of one being split")]
    BothDirs {
        /// `WALs/<server>`.
        dir: String,
        /// `WALs/<server>-splitting`.
        splitting_dir: String,
    },
    /// Permanent: the split configuration is impossible.
    #[error("invalid split configuration: {0}")]
    Config(String),
    /// The last-flushed-seqid source failed (a damaged store file, or a lookup error).
    #[error("cannot learn what region {region} flushed: {reason}")]
    FlushedSeqids {
        /// The region.
        region: String,
        /// Why.
        reason: String,
    },
    /// A store file read by the flushed-seqid source is damaged. Permanent.
    #[error(transparent)]
    StoreFile(#[from] StoreFileError),
}

impl SplitError {
    /// An I/O error during `op` on `path`.
    pub fn io(op: &'static str, path: &str, source: io::Error) -> Self {
        SplitError::Io { op, path: path.to_string(), source: Arc::new(source) }
    }

    /// True when the failure is a damaged input file (the CLI exits with 2 for these).
    pub fn is_corruption(&self) -> bool {
        matches!(self, SplitError::Corrupt(_) | SplitError::BadName { .. } | SplitError::StoreFile(_))
    }

    /// True for errors after which running the split again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SplitError::Io { .. } | SplitError::FlushedSeqids { .. })
    }
}

/// Why replaying a region's recovered edits failed. The open fails; the files stay in
/// `recovered.edits/` (nothing is deleted before a successful replay flush), so a later open
/// replays them again.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ReplayError {
    /// Permanent until fixed or `replay_skip_errors` is set: a recovered-edits file is damaged.
    #[error("cannot replay recovered edits: {0}")]
    Format(FormatError),
    /// Transient: reading, deleting or moving a recovered-edits file failed.
    #[error("{op} failed on {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: Arc<io::Error>,
    },
}

impl ReplayError {
    /// An I/O error during `op` on `path`.
    pub fn io(op: &'static str, path: &str, source: io::Error) -> Self {
        ReplayError::Io { op, path: path.to_string(), source: Arc::new(source) }
    }

    /// True for errors after which opening again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ReplayError::Io { .. })
    }
}
