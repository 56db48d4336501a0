//! The lock-free, I/O-free core: every piece here compiles against [`crate::sync`] and is
//! model-checked by loom in `models/`.
//!
//! - [`ring`]: the multi-producer ring of trucks.
//! - [`gate`]: the consumerScheduled flag and its idle-exit double-check.
//! - [`sync_future`]: SyncFuture, completed exactly once.
//! - [`latch`]: async one-shot latch and the SafePointZigZagLatch.
//! - [`event`]: a broadcast wake-up for waiters (full ring).
//! - [`broadcast`]: laned wake-ups for OS threads blocked on sync futures.
//! - [`epoch`]: the scheduled pipeline's epoch-and-state word.
//! - [`mutant`]: deliberately broken variants, for proving the models and simulator bite.

#![cfg_attr(not(any(feature = "internals", hwal_loom)), allow(dead_code))]

pub mod broadcast;
pub mod epoch;
pub mod event;
pub mod gate;
pub mod latch;
pub mod mutant;
pub mod ring;
pub mod sync_future;
