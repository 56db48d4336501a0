//! The WAL engine: API types, MVCC, the pipelines, writers and observation.

pub mod accounting;
pub mod api;
pub mod cleaner;
pub mod config;
pub mod entry;
pub mod error;
pub mod listener;
pub mod mvcc;
pub mod naming;
mod record;
mod scheduled;
mod timeout;
mod writer;

pub use record::Fut;
pub use scheduled::{Appended, RollOutcome};
