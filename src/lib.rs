//! hwal: an HBase-style write-ahead log engine, built as a deterministic simulation and
//! model-checking testbed.
//!
//! One engine runs three ways: for real (OS threads, local disk, fdatasync), inside the madsim
//! simulator (`hwal-sim`), and — its lock-free core — under loom (`hwal-models`). Everything the
//! engine does to the outside world goes through [`env::Env`].
//!
//! ```no_run
//! use hwal::{Config, Durability, Mvcc, RegionName, Wal, WalEdit, WalKey};
//! let wal = Wal::open("/tmp/hwal-demo", Config::default())?;
//! let region = Mvcc::new(0);
//! let key = WalKey::new(RegionName::new("r1"), "t1", 0);
//! let a = wal.append_blocking(&region, key, WalEdit::put(b"row", b"f", b"q", 1, b"v"))?;
//! wal.sync_blocking(a.txid, Durability::SyncWal)?;
//! region.complete(a.write_entry);
//! wal.close_blocking()?;
//! # Ok::<(), hwal::WalError>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "internals")]
pub mod core;
#[cfg(not(feature = "internals"))]
mod core;
#[cfg(feature = "internals")]
pub mod sync;
#[cfg(not(feature = "internals"))]
mod sync;

#[cfg(not(hwal_loom))]
pub mod env;
#[cfg(not(hwal_loom))]
pub mod format;
#[cfg(not(hwal_loom))]
pub mod recovery;
#[cfg(not(hwal_loom))]
pub mod region;
#[cfg(not(hwal_loom))]
pub mod wal;

#[cfg(not(hwal_loom))]
pub use recovery::{split_server, FlushedSeqids, SplitConfig, SplitError, SplitReport, StoreFileSeqids};
#[cfg(not(hwal_loom))]
pub use region::{Region, RegionError, RegionOptions, StoredCell};
#[cfg(not(hwal_loom))]
pub use wal::{
    api::{Durability, Wal},
    config::{Config, LeaderSync, Pipeline},
    entry::{Cell, CellKind, Entry, RegionName, WalEdit, WalKey},
    error::{WalError, WalResult},
    listener::{RollReason, WalEvent, WalListener, WalStats},
    mvcc::{Mvcc, WriteEntry},
    AppendSynced, Appended, RollOutcome,
};
