//! hwal-models: loom models of hwal's lock-free core (`hwal::core`), run with `cargo loom`.
//!
//! The models live in one test binary, `tests/models/main.rs`, one module per protocol; it is
//! `#![cfg(hwal_loom)]`, so a plain `cargo test` compiles it to nothing. They check the production types, compiled against
//! `hwal::sync` with loom's primitives, never re-implementations.
//!
//! This library holds the shared harness:
//! 1. [`harness::check`] runs one model with an explicit preemption bound and counts the
//!    executions loom explored (loom prints nothing without a tracing subscriber).
//! 2. [`harness::bound`] picks the bound: `LOOM_MAX_PREEMPTIONS` if set, else the model's deep
//!    bound when `HWAL_LOOM_DEEP=1`, else its CI bound.
//! 3. [`harness::expect_panic`] and [`harness::expect_child_failure`] prove a mutant is caught:
//!    in-process for mutants that fail with a plain panic, in a child process for mutants whose
//!    failure aborts the process (a loom deadlock inside `loom::future::block_on`).
//! 4. [`harness::PollOnce`] and [`harness::Race`] are the two waiting shapes the engine uses on top
//!    of the core futures: a waiter that gives up, and a wait raced against a timeout.

#[cfg(hwal_loom)]
pub mod harness;
