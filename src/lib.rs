//! hwal: an HBase-style write-ahead log engine, built as a deterministic simulation and
//! model-checking testbed.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod format;
pub mod wal;
