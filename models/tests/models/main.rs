//! The loom models of hwal's lock-free core, one module per protocol, in one test binary (one
//! build and link instead of seven; `cargo loom` runs them). See `models/README.md`.
//!
//! Deadlocking mutants are `#[ignore]`d tests re-run by their drivers as a child process of this
//! binary, addressed by their full test path (`module::test`).
#![cfg(hwal_loom)]

mod broadcast;
mod epoch;
mod gate;
mod gate_roll;
mod latch;
mod ring;
mod sync_future;
mod zigzag;
