//! Errors of the WAL API. Each variant says whether it is transient (retrying or rolling can
//! help) or permanent.

use std::io;
use std::sync::Arc;
use std::time::Duration;

/// An error from the WAL API. Cheap to clone: one failure is often reported to many waiters.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WalError {
    /// Permanent: the WAL was closed; no append or sync can succeed any more.
    #[error("WAL has been closed")]
    Closed,
    /// Permanent for this caller: the sync did not complete in time. HBase treats this as fatal
    /// for the region server ("WAL system stuck?"): the edit may or may not be durable.
    #[error("sync of txid {txid} did not complete within {timeout:?} (WAL system stuck?)")]
    SyncTimeout {
        /// The txid waited for.
        txid: u64,
        /// The configured timeout.
        timeout: Duration,
    },
    /// Transient: a filesystem call failed; the writer is marked broken and rolled.
    #[error("{op} failed on {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The cause.
        source: Arc<io::Error>,
    },
    /// Transient: the writer broke before the data this caller asked for was hsynced, and that
    /// data cannot be re-written (classic pipeline, or an hsync lost with a broken writer).
    #[error("writer broken: {0}")]
    WriterBroken(String),
    /// Permanent: the configuration is impossible.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Permanent: this server's WAL directory was fenced (renamed for splitting).
    #[error("fenced: {0}")]
    Fenced(String),
    /// Permanent: a file could not be read because it is damaged.
    #[error("corrupt WAL data: {0}")]
    Corrupt(String),
    /// Transient: a roll could not complete.
    #[error("roll failed: {0}")]
    RollFailed(String),
}

impl WalError {
    /// An I/O error during `op` on `path`.
    pub fn io(op: &'static str, path: &str, source: io::Error) -> Self {
        WalError::Io { op, path: path.to_string(), source: Arc::new(source) }
    }

    /// True for errors after which the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, WalError::Io { .. } | WalError::WriterBroken(_) | WalError::RollFailed(_))
    }
}

/// Result of WAL API calls.
pub type WalResult<T> = Result<T, WalError>;
