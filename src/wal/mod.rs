//! The WAL engine: API types, MVCC, the pipelines, writers and observation.

pub mod accounting;
pub mod api;
mod classic;
pub mod cleaner;
pub mod config;
pub mod entry;
pub mod error;
pub mod lifecycle;
pub mod listener;
pub mod mvcc;
pub mod naming;
mod record;
mod scheduled;
mod shared;
mod timeout;
mod writer;

pub use lifecycle::{RollOutcome, RolledFile};
pub use record::Fut;
pub use shared::{AppendSynced, Appended};
