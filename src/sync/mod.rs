//! The one concurrency shim: std primitives normally, loom's under `--cfg hwal_loom`.
//!
//! Rules:
//! 1. Engine code takes `Arc`, `Mutex`, atomics, `fence` and `UnsafeCell` only from here, so the
//!    lock-free core compiles unchanged against loom and its models check production code.
//! 2. `UnsafeCell` has loom's closure API (`with`, `with_mut`) in both builds.
//! 3. [`lock`] ignores poisoning: a panic while holding an engine lock is already fatal to the
//!    test or process that hit it; later lockers must not cascade a second panic.

#![allow(unused_imports)]

#[cfg(hwal_loom)]
pub use loom::cell::UnsafeCell;
#[cfg(hwal_loom)]
pub use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(hwal_loom)]
pub use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(not(hwal_loom))]
pub use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(hwal_loom))]
pub use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// std `UnsafeCell` with loom's closure API, so call sites are identical in both builds.
#[cfg(not(hwal_loom))]
#[derive(Debug)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(hwal_loom))]
impl<T> UnsafeCell<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }
    /// Runs `f` with a shared raw pointer to the value.
    #[allow(dead_code)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    /// Runs `f` with a mutable raw pointer to the value.
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `m`, ignoring poisoning (see rule 3).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
