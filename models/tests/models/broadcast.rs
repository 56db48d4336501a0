//! Loom models of `hwal::core::broadcast::Broadcast`: OS-thread waiters sleeping on lanes, and
//! completers that wake only the lanes of the futures they complete.
//!
//! Properties:
//! 1. A waiter blocked on its lane always wakes once its future is completed, however its
//!    recording of the lane interleaves with the completion (no lost wake-up).
//! 2. A waiter that moved lanes since it last waited (its hint changed) is still woken, even by
//!    a completer that read its old lane.
//! 3. Two completers racing on two lanes each wake their own waiter.
//!
//! Under loom a condvar wait never times out, so the broadcast's safety tick cannot hide a lost
//! wake-up: it is a loom deadlock, which aborts the process, so the deadlocking mutant runs in a
//! child process (`harness::expect_child_failure`).

use std::time::{Duration, Instant};

use hwal::core::broadcast::Broadcast;
use hwal::core::mutant::{Mutant, MutantSwitch};
use hwal::core::sync_future::SyncFuture;
use hwal_models::harness::{bound, check, expect_child_failure, MUTANT_BOUND};
use loom::sync::Arc;
use loom::thread;

type Fut = SyncFuture<&'static str>;

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// Rules 1–2: one waiter, one completer. The waiter last slept on lane 0 and now waits on
/// lane 1, so the completer may read either lane, or none.
fn one_waiter(mutant: Mutant) -> impl Fn() + Sync + Send {
    move || {
        let b = Arc::new(Broadcast::with_mutant(MutantSwitch::new(mutant)));
        let f: Fut = SyncFuture::new(1, false);
        f.set_lane(0);
        let completer = {
            let (b, f) = (b.clone(), f.clone());
            thread::spawn(move || {
                let mut n = 0;
                b.complete_and_wake(&[(f, 1)], |_, _| n += 1);
                assert_eq!(n, 1, "the only completer must complete the future");
            })
        };
        assert_eq!(b.wait_for(&f, 1, far()), Some(Ok(1)));
        completer.join().unwrap();
    }
}

/// Rule 3: two waiters on lanes 1 and 2, each future completed by its own completer.
fn two_lanes() -> impl Fn() + Sync + Send {
    || {
        let b = Arc::new(Broadcast::new());
        let futures: Vec<Fut> = (1..=2).map(|t| SyncFuture::new(t, false)).collect();
        let completers: Vec<_> = futures
            .iter()
            .map(|f| {
                let (b, f) = (b.clone(), f.clone());
                thread::spawn(move || b.complete_and_wake(&[(f.clone(), f.txid())], |_, _| {}))
            })
            .collect();
        let other = {
            let (b, f) = (b.clone(), futures[1].clone());
            thread::spawn(move || b.wait_for(&f, 2, far()))
        };
        assert_eq!(b.wait_for(&futures[0], 1, far()), Some(Ok(1)));
        assert_eq!(other.join().unwrap(), Some(Ok(2)));
        for c in completers {
            c.join().unwrap();
        }
    }
}

/// A completion racing with a waiter that records a new lane: the waiter always wakes.
#[test]
fn broadcast_completion_wakes_its_lane() {
    check("broadcast-one-waiter", bound(3, Some(6)), one_waiter(Mutant::None));
}

/// Two completers on two lanes: each waiter wakes.
#[test]
fn broadcast_two_lanes_two_completers() {
    check("broadcast-two-lanes", bound(2, Some(4)), two_lanes());
}

/// Mutant `LanesReadEarly` in the one-waiter model; deadlocks (child process).
#[test]
#[ignore = "mutant: aborts the process; run by mutant_lanes_read_early_is_caught"]
fn mutant_lanes_read_early_wake() {
    check("broadcast-lanes-read-early", Some(MUTANT_BOUND), one_waiter(Mutant::LanesReadEarly));
}

/// Mutant `LanesReadEarly` (read the waiters' lanes before completing their futures): a waiter
/// that records its lane and re-checks in between sleeps forever; loom reports a deadlock.
#[test]
fn mutant_lanes_read_early_is_caught() {
    expect_child_failure(module_path!(), "mutant_lanes_read_early_wake", "deadlock");
}
