//! The WAL engine.
pub mod entry;
