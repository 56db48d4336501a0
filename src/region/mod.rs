//! A minimal region store: enough of HBase's `HRegion` to make recovery real.
//!
//! A region of a table has one store per column family: an active memstore, at most one flush
//! snapshot, and immutable store files on the [`Env`](crate::env::Env) filesystem, each recording
//! the flush seqid it was written at. Mutations go through the [`Wal`](crate::Wal) with the
//! region's [`Mvcc`](crate::Mvcc); flushes follow HBase's protocol against the WAL
//! (`flush.rs`); opening replays recovered edits and continues seqids above everything it found
//! (`open.rs`); reads return cells with their seqids, so tests and the simulator can compare a
//! region with what its clients were acknowledged.
//!
//! On disk (see [`layout`]):
//! ```text
//! data/<table>/<region>/<family>/<%019d flush seqid>   store files
//! data/<table>/<region>/.tmp/                          store files being written
//! data/<table>/<region>/recovered.edits/               split outputs, <n>.seqid
//! ```
//!
//! Families are either fixed ([`RegionOptions::families`], a table descriptor: cells of other
//! families are refused on write and skipped on replay) or dynamic (any valid family name; a new
//! family's directory is created before its first edit reaches the WAL).

mod error;
mod flush;
mod handle;
pub mod layout;
mod memstore;
mod open;
mod seqid_file;
pub(crate) mod storefile;

pub use error::{RegionError, StoreFileError};
pub use flush::FlushOutcome;
pub use handle::Region;
pub use memstore::StoredCell;
pub use storefile::{StoreFile, STORE_FILE_MAGIC, STORE_FILE_VERSION};

use crate::format::RecoveryMode;
use crate::recovery::{RecoveryMutant, ReplayReport};

/// How a region is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionOptions {
    /// The region's families (a table descriptor), or `None` for a dynamic schema (every valid
    /// family name is accepted; families are whatever is on disk plus what is written).
    /// Default: `None`.
    pub families: Option<Vec<Vec<u8>>>,
    /// How recovered edits are read. Default: [`RecoveryMode::TolerateTailCorruption`].
    pub recovery_mode: RecoveryMode,
    /// On a recovered-edits file that cannot be read, move it aside as `<name>.<now ms>` and go
    /// on instead of failing the open (`hbase.hregion.edits.replay.skip.errors`).
    /// Default: false.
    pub replay_skip_errors: bool,
    /// A deliberately broken recovery step (honoured only with the `internals` feature).
    /// Default: none.
    pub mutant: RecoveryMutant,
}

impl Default for RegionOptions {
    fn default() -> Self {
        Self {
            families: None,
            recovery_mode: RecoveryMode::TolerateTailCorruption,
            replay_skip_errors: false,
            mutant: RecoveryMutant::None,
        }
    }
}

impl RegionOptions {
    /// Options with a fixed set of families.
    pub fn with_families<F: AsRef<[u8]>>(families: &[F]) -> Self {
        Self { families: Some(families.iter().map(|f| f.as_ref().to_vec()).collect()), ..Self::default() }
    }
}

/// What opening a region did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The open sequence id: above every seqid held or replayed; new edits get higher ones.
    pub open_seqid: u64,
    /// The highest store max seqid at open (0 without store files).
    pub max_seqid_in_stores: u64,
    /// The lowest store max seqid at open (0 without stores).
    pub min_seqid_in_stores: u64,
    /// The replay of recovered edits.
    pub replay: ReplayReport,
}
