//! The format layer's one error type.
//!
//! Every variant names the file and, where a position is meaningful, the byte offset, and its
//! message says what the reader expected to find there. Errors of this layer are **permanent**
//! for the bytes they describe: re-reading the same bytes gives the same error. Whether a caller
//! may carry on is a policy question: [`FormatError::is_truncation`] tells the "the writer
//! crashed mid-write" cases (normal end of a WAL that was never closed, like HBase's
//! `EOFException`) from real corruption.

use thiserror::Error;

/// Why a log file could not be read (or could not be read completely).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FormatError {
    /// The file has zero bytes, or only zero bytes (preallocated): it was created but its header
    /// was never written. Callers treat it as a file with no entries (HBase's
    /// `WALHeaderEOFException`). A truncation.
    #[error("{path}: file is empty (no bytes, or only zeros); expected a file header starting with magic \"HWAL\" at offset 0")]
    EmptyFile {
        /// The file.
        path: String,
    },

    /// The file ends before its header does: the writer crashed while writing the header.
    /// A truncation; the file holds no entries.
    #[error("{path}: truncated file header: the file ends at offset {len}, before the end of the file header (magic, version, kind, body length, body, body checksum)")]
    TruncatedHeader {
        /// The file.
        path: String,
        /// The file's length in bytes.
        len: u64,
    },

    /// The file is not an hwal log this version can read: wrong magic, unsupported format
    /// version, unknown file kind or unknown codec. Permanent.
    #[error("{path}: not a readable hwal log: {reason}")]
    BadHeader {
        /// The file.
        path: String,
        /// What was found and what was expected, with its offset.
        reason: String,
    },

    /// Bytes that are all present but wrong: a checksum mismatch, an impossible frame length,
    /// an undecodable payload, an unknown record type, bytes after the end magic, non-zero
    /// bytes in a zero-filled region. Permanent; never the result of a mere truncation.
    #[error("{path}: corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// Start of the corrupt frame, or the first offending byte (see [`crate::format`]).
        offset: u64,
        /// What was found and what was expected.
        reason: String,
    },

    /// The last frame (or the trailer and end magic) is incomplete, and the caller asked for
    /// [`RecoveryMode::AbsoluteConsistency`](super::RecoveryMode::AbsoluteConsistency).
    /// A truncation.
    #[error("{path}: torn tail at offset {offset}: the last frame is incomplete (expected a complete frame, or a trailer frame followed by end magic \"LAWH\")")]
    TornTail {
        /// The file.
        path: String,
        /// Start of the incomplete frame.
        offset: u64,
    },
}

impl FormatError {
    /// True when the error means "the file ends early" (the writer crashed before finishing a
    /// write), false when bytes that are present are wrong.
    pub fn is_truncation(&self) -> bool {
        matches!(self, Self::EmptyFile { .. } | Self::TruncatedHeader { .. } | Self::TornTail { .. })
    }

    /// The file the error is about.
    pub fn path(&self) -> &str {
        match self {
            Self::EmptyFile { path }
            | Self::TruncatedHeader { path, .. }
            | Self::BadHeader { path, .. }
            | Self::Corrupt { path, .. }
            | Self::TornTail { path, .. } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the three "file ends early" variants count as truncation.
    #[test]
    fn truncation_classification() {
        let p = || "f".to_string();
        assert!(FormatError::EmptyFile { path: p() }.is_truncation());
        assert!(FormatError::TruncatedHeader { path: p(), len: 3 }.is_truncation());
        assert!(FormatError::TornTail { path: p(), offset: 9 }.is_truncation());
        let bad = FormatError::BadHeader { path: p(), reason: "x".into() };
        assert!(!bad.is_truncation());
        let corrupt = FormatError::Corrupt { path: p(), offset: 1, reason: "x".into() };
        assert!(!corrupt.is_truncation());
    }

    /// Messages name the file and the offset.
    #[test]
    fn messages_name_file_and_offset() {
        let e = FormatError::Corrupt { path: "/wal/a".into(), offset: 77, reason: "bad".into() };
        assert_eq!(e.to_string(), "/wal/a: corrupt at offset 77: bad");
        let e = FormatError::TornTail { path: "/wal/a".into(), offset: 12 };
        assert!(e.to_string().starts_with("/wal/a: torn tail at offset 12:"));
        assert_eq!(e.path(), "/wal/a");
    }
}
