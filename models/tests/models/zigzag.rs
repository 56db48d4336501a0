//! Loom model of `hwal::core::latch::SafePointLatch` (HBase's SafePointZigZagLatch): the handler
//! and the roller meet at a safe point while the roller swaps the writer.
//!
//! Shape:
//! 1. The writer log is one loom `UnsafeCell` holding the current writer and the retired ones,
//!    so any write racing with the swap is a loom causality violation.
//! 2. Handler: writes entry 1 to the current writer, `safe_point_attained().await`, then writes
//!    entry 2 to whatever writer is current.
//! 3. Roller: `wait_safe_point(&sync).await`; on `Ok` it checks the writer holds exactly the
//!    pre-safe-point entries and swaps in generation 2; on `Err` (the sync it published failed
//!    first) it must not touch the writer and skips the swap. It always `release_safe_point()`s.
//! 4. A sync runner completes the roller's sync future: never, with success (which is not a safe
//!    point), or with an error (which must end the roller's wait and still let the handler go).
//!
//! Properties: no entry is written to a writer after it was swapped out; the end state is one of
//! the two legal ones; and nobody hangs (a hang is a loom deadlock).

use hwal::core::latch::SafePointLatch;
use hwal::core::mutant::{Mutant, MutantSwitch};
use hwal::core::sync_future::SyncFuture;
use hwal_models::harness::{bound, check, expect_panic};
use loom::cell::UnsafeCell;
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

#[derive(Debug, PartialEq, Eq)]
struct Writer {
    generation: u32,
    entries: Vec<u32>,
}

#[derive(Debug)]
struct WriterLog {
    current: Writer,
    retired: Vec<Writer>,
}

/// The writer log, shared by handler and roller without a lock: the latch is the only
/// synchronisation (rule 1).
struct Shared {
    log: UnsafeCell<WriterLog>,
}

// SAFETY: the model's point is to check that the latch orders every access to `log`; loom's
// `UnsafeCell` reports any pair of accesses the latch leaves unordered.
unsafe impl Sync for Shared {}

impl Shared {
    fn write(&self, entry: u32) {
        // SAFETY: checked by loom (see the `Sync` impl).
        self.log.with_mut(|log| unsafe { (*log).current.entries.push(entry) });
    }

    /// The roller's swap (rule 3): the old writer must hold exactly the pre-safe-point entry.
    fn swap(&self) {
        // SAFETY: checked by loom (see the `Sync` impl).
        self.log.with_mut(|log| unsafe {
            let log = &mut *log;
            assert_eq!(log.current.entries, vec![1], "an entry was written to the writer after its safe point");
            let next = Writer { generation: log.current.generation + 1, entries: Vec::new() };
            let old = std::mem::replace(&mut log.current, next);
            log.retired.push(old);
        });
    }

    fn snapshot(&self) -> (Writer, Vec<Writer>) {
        // SAFETY: called after every thread joined.
        self.log.with_mut(|log| unsafe {
            let log = &mut *log;
            let current = std::mem::replace(&mut log.current, Writer { generation: 0, entries: Vec::new() });
            (current, std::mem::take(&mut log.retired))
        })
    }
}

/// What the roller's sync future does during the roll (rule 4).
#[derive(Clone, Copy, Debug)]
enum SyncOutcome {
    Pending,
    Succeeds,
    Fails,
}

fn zigzag_model(sync_outcome: SyncOutcome, mutant: Mutant) -> impl Fn() + Sync + Send {
    move || {
        let latch = Arc::new(SafePointLatch::with_mutant(MutantSwitch::new(mutant)));
        let shared = Arc::new(Shared {
            log: UnsafeCell::new(WriterLog {
                current: Writer { generation: 1, entries: Vec::new() },
                retired: Vec::new(),
            }),
        });
        let sync: SyncFuture<&'static str> = SyncFuture::new(1, false);
        let handler = {
            let (latch, shared) = (latch.clone(), shared.clone());
            thread::spawn(move || {
                shared.write(1);
                block_on(latch.safe_point_attained());
                shared.write(2);
            })
        };
        let runner = match sync_outcome {
            SyncOutcome::Pending => None,
            SyncOutcome::Succeeds => {
                let sync = sync.clone();
                Some(thread::spawn(move || assert!(sync.complete(Ok(1)))))
            }
            SyncOutcome::Fails => {
                let sync = sync.clone();
                Some(thread::spawn(move || assert!(sync.complete(Err("hflush failed")))))
            }
        };
        // The roller (the main thread).
        let swapped = match block_on(latch.wait_safe_point(&sync)) {
            Ok(()) => {
                shared.swap();
                true
            }
            Err(e) => {
                assert!(matches!(sync_outcome, SyncOutcome::Fails), "only a failed sync ends the wait early: {e}");
                false
            }
        };
        latch.release_safe_point();
        handler.join().unwrap();
        if let Some(r) = runner {
            r.join().unwrap();
        }
        let (current, retired) = shared.snapshot();
        if swapped {
            assert_eq!(retired, vec![Writer { generation: 1, entries: vec![1] }], "the swapped-out writer changed");
            assert_eq!(current, Writer { generation: 2, entries: vec![2] });
        } else {
            assert!(retired.is_empty());
            assert_eq!(current, Writer { generation: 1, entries: vec![1, 2] });
        }
        assert!(latch.is_released());
    }
}

/// Handler and roller alone: the swap sees exactly the pre-safe-point entries and nothing is
/// written to the old writer afterwards.
#[test]
fn zigzag_no_write_after_swap() {
    check("zigzag", bound(6, None), zigzag_model(SyncOutcome::Pending, Mutant::None));
}

/// The roller's sync succeeds during the wait: success is not a safe point, the roller keeps
/// waiting for the handler.
#[test]
fn zigzag_successful_sync_is_not_a_safe_point() {
    check("zigzag-sync-ok", bound(3, Some(4)), zigzag_model(SyncOutcome::Succeeds, Mutant::None));
}

/// The roller's sync fails during the wait: the roller proceeds (skipping the swap if the safe
/// point was not reached), still releases, and the handler does not hang.
#[test]
fn zigzag_failed_sync_does_not_deadlock() {
    check("zigzag-sync-fails", bound(3, Some(5)), zigzag_model(SyncOutcome::Fails, Mutant::None));
}

/// Mutant `ZigZagNoWait` (the handler signals the safe point but does not wait for the release)
/// writes entry 2 while the roller swaps: a causality violation or the swap's own assertion.
/// Checked in every sync variant.
#[test]
fn mutant_zigzag_no_wait_is_caught() {
    for outcome in [SyncOutcome::Pending, SyncOutcome::Succeeds, SyncOutcome::Fails] {
        expect_panic(
            &format!("zigzag-no-wait/{outcome:?}"),
            &["Causality violation", "after its safe point"],
            zigzag_model(outcome, Mutant::ZigZagNoWait),
        );
    }
}
