//! Crash recovery: splitting a dead server's WALs into per-region recovered edits, and
//! replaying them when a region opens (spec §6).
//!
//! ```text
//!  WALs/<server>/ ──fence──▶ WALs/<server>-splitting/ ──split──▶ data/<table>/<region>/recovered.edits/<%019d>
//!                                  │                                        │
//!                                  ├─▶ oldWALs/ (split)                     └─▶ Region::open replays, flushes, deletes
//!                                  └─▶ corrupt/ (damaged, skip_errors)
//! ```
//!
//! Everything here is async and goes through [`Env`](crate::env::Env) and its
//! [`WalFs`](crate::env::WalFs): no threads, no blocking, no `std::fs`. Writer tasks are
//! started with `Env::spawn` and coordinate through `core::event::Event`, so the simulator can run
//! a split on its own filesystem and clock.
//!
//! - [`split_server`]: the split (protocol in `split.rs`).
//! - [`SplitConfig`]: buffer bound, writer tasks, skip-errors, recovery mode.
//! - [`FlushedSeqids`]: where the split learns what regions flushed ([`StoreFileSeqids`] reads
//!   store files; [`NoFlushedSeqids`] keeps everything).
//! - [`ReplayReport`]: what a region open replayed (the replay itself runs inside
//!   [`Region::open`](crate::region::Region::open)).

mod buffers;
mod config;
mod error;
mod flushed;
mod output;
pub(crate) mod replay;
mod sink;
mod split;

pub use config::{
    RecoveryMutant, SplitConfig, FINALIZE_RENAME_RETRIES, MAX_SPLIT_WRITER_THREADS, MIN_SPLIT_BUFFER_BYTES,
};
pub use error::{ReplayError, SplitError};
pub use flushed::{FlushedSeqids, LastFlushed, NoFlushedSeqids, StoreFileSeqids};
pub use output::OutputReport;
pub use replay::ReplayReport;
pub use split::{split_server, SplitReport, WalDisposition, WalReport};
