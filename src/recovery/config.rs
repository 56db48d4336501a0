//! Log-splitting settings. Every bound has a name here, its HBase default and its minimum.

use crate::format::RecoveryMode;

use super::error::SplitError;

/// The smallest entry-buffer bound accepted (HBase's threading test runs with 1 KiB).
pub const MIN_SPLIT_BUFFER_BYTES: u64 = 1024;
/// The most writer tasks accepted.
pub const MAX_SPLIT_WRITER_THREADS: usize = 256;
/// How often finalizing an output retries a rename that lost to a concurrent one
/// (HBase `deleteOneWithFewerEntriesToRetry`: 5).
pub const FINALIZE_RENAME_RETRIES: u32 = 5;

/// A deliberately broken recovery step, for proving that the recovery tests catch what they
/// guard. Honoured only in builds with the `internals` feature (tests, simulator); production
/// builds ignore it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RecoveryMutant {
    /// The correct code.
    #[default]
    None,
    /// Replay skips a cell when its seqid is at or below the *highest* store's flushed seqid
    /// instead of its own family's (the "taking the maximum will make us fail" bug HBase's
    /// `testReplayEditsAfterPartialFlush` guards against).
    ReplayFilterByMaxStore,
}

impl RecoveryMutant {
    /// True when `m` is this mutant and mutants are compiled in.
    pub fn is(self, m: RecoveryMutant) -> bool {
        cfg!(feature = "internals") && m != RecoveryMutant::None && self == m
    }
}

/// How [`split_server`](super::split_server) works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitConfig {
    /// Bytes of entries buffered between the reader and the writer tasks; the reader waits while
    /// more are buffered (`hbase.regionserver.hlog.splitlog.buffersize`). Default: 128 MiB.
    /// Minimum: 1 KiB ([`MIN_SPLIT_BUFFER_BYTES`]). One entry larger than the bound is still
    /// accepted when the buffers are otherwise empty.
    pub split_buffer_bytes: u64,
    /// Writer tasks writing recovered-edits files
    /// (`hbase.regionserver.hlog.splitlog.writer.threads`). Default: 3. Minimum: 1.
    /// Maximum: 256 ([`MAX_SPLIT_WRITER_THREADS`]).
    pub split_writer_threads: usize,
    /// Move a WAL that cannot be read to `corrupt/` and go on, keeping the entries read before
    /// the damage (`hbase.hlog.split.skip.errors`). Default: false (the split fails, naming the
    /// file and offset, and finalizes nothing).
    pub skip_errors: bool,
    /// How WAL files are read. Default: [`RecoveryMode::TolerateTailCorruption`] (a torn tail is
    /// the normal end of a crashed server's log). `AbsoluteConsistency` makes a torn tail an
    /// error; `TolerateAnyCorruption` reads up to any damage and treats it as the end.
    pub recovery_mode: RecoveryMode,
    /// This splitter's name, part of temporary output names so that two splitters working on
    /// the same WAL never write the same file. Default: `split`. Non-empty, no `/`.
    pub worker_name: String,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            split_buffer_bytes: 128 * 1024 * 1024,
            split_writer_threads: 3,
            skip_errors: false,
            recovery_mode: RecoveryMode::TolerateTailCorruption,
            worker_name: "split".to_string(),
        }
    }
}

impl SplitConfig {
    /// Rejects impossible settings with an error naming the field.
    pub fn validate(&self) -> Result<(), SplitError> {
        let bad = |why: String| Err(SplitError::Config(why));
        if self.split_buffer_bytes < MIN_SPLIT_BUFFER_BYTES {
            return bad(format!(
                "split_buffer_bytes: {} is below the minimum of {MIN_SPLIT_BUFFER_BYTES}",
                self.split_buffer_bytes
            ));
        }
        if self.split_writer_threads == 0 || self.split_writer_threads > MAX_SPLIT_WRITER_THREADS {
            return bad(format!(
                "split_writer_threads: {} must be between 1 and {MAX_SPLIT_WRITER_THREADS}",
                self.split_writer_threads
            ));
        }
        if self.worker_name.is_empty() || self.worker_name.contains('/') {
            return bad(format!("worker_name: {:?} must be non-empty and contain no '/'", self.worker_name));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defaults are valid and match HBase's; impossible values are refused, naming the field.
    #[test]
    fn validate_names_the_bad_field() {
        let d = SplitConfig::default();
        d.validate().unwrap();
        assert_eq!((d.split_buffer_bytes, d.split_writer_threads, d.skip_errors), (134_217_728, 3, false));
        for (c, field) in [
            (SplitConfig { split_buffer_bytes: 1023, ..d.clone() }, "split_buffer_bytes"),
            (SplitConfig { split_writer_threads: 0, ..d.clone() }, "split_writer_threads"),
            (SplitConfig { worker_name: "a/b".into(), ..d.clone() }, "worker_name"),
        ] {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
    }
}
