//! Errors of the region layer. Each variant says whether it is transient or permanent.

use std::io;
use std::sync::Arc;

use crate::recovery::ReplayError;
use crate::wal::accounting::OutOfOrder;
use crate::wal::error::WalError;

/// A store file that cannot be read: the file, the offset and what was expected. Permanent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: corrupt store file at offset {offset}: {reason}")]
pub struct StoreFileError {
    /// The file.
    pub path: String,
    /// Where the problem starts.
    pub offset: u64,
    /// What was found and what was expected.
    pub reason: String,
}

/// An error from a region operation.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RegionError {
    /// Permanent: the region was closed (or its open failed); open it again.
    #[error("region {region} is closed")]
    Closed {
        /// The region.
        region: String,
    },
    /// Permanent for this call: the mutation is malformed (no cells, several rows, the meta
    /// family, a family the region does not have, a name that cannot be a path segment).
    #[error("region {region}: bad mutation: {reason}")]
    BadMutation {
        /// The region.
        region: String,
        /// What is wrong.
        reason: String,
    },
    /// The WAL refused or failed a call; transient or permanent as [`WalError::is_transient`]
    /// says. For a mutation the edit is not applied to the memstore.
    #[error("region {region}: WAL {op} failed: {source}")]
    Wal {
        /// The region.
        region: String,
        /// The WAL call.
        op: &'static str,
        /// The cause.
        source: WalError,
    },
    /// Transient: a filesystem call on a region file failed.
    #[error("region {region}: {op} failed on {path}: {source}")]
    Io {
        /// The region.
        region: String,
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The cause.
        source: Arc<io::Error>,
    },
    /// Permanent: a store file is damaged.
    #[error(transparent)]
    StoreFile(#[from] StoreFileError),
    /// Replaying recovered edits failed (the open is abandoned; the files stay for a retry).
    #[error("region {region}: replaying recovered edits failed: {source}")]
    Replay {
        /// The region.
        region: String,
        /// The cause.
        source: ReplayError,
    },
    /// Transient: a flush failed after it started; it was aborted (ABORT_FLUSH written, the
    /// WAL's accounting restored, the snapshot returned to the memstore). Nothing was lost.
    #[error("region {region}: flush at seqid {flush_seqid} aborted: {cause}")]
    FlushAborted {
        /// The region.
        region: String,
        /// The flush's sequence id.
        flush_seqid: u64,
        /// Why.
        cause: String,
    },
    /// Permanent: the region's sequence-id file would go backwards (HBase throws the same).
    #[error("{path}: the new max sequence id {new} is less than the old max sequence id {old}")]
    SeqidRegression {
        /// The existing file.
        path: String,
        /// The seqid that was to be written.
        new: u64,
        /// The highest existing one.
        old: u64,
    },
    /// Permanent: the WAL's accounting found edits acquired out of order (HBase halts).
    #[error(transparent)]
    OutOfOrder(#[from] OutOfOrder),
}

impl RegionError {
    /// An I/O error during `op` on `path` of `region`.
    pub fn io(region: &str, op: &'static str, path: &str, source: io::Error) -> Self {
        RegionError::Io { region: region.to_string(), op, path: path.to_string(), source: Arc::new(source) }
    }

    /// A WAL error during `op` for `region`.
    pub fn wal(region: &str, op: &'static str, source: WalError) -> Self {
        RegionError::Wal { region: region.to_string(), op, source }
    }

    /// True for errors after which the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            RegionError::Wal { source, .. } => source.is_transient(),
            RegionError::Io { .. } | RegionError::FlushAborted { .. } => true,
            RegionError::Replay { source, .. } => source.is_transient(),
            _ => false,
        }
    }
}
