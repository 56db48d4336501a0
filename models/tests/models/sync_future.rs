//! Loom models of `hwal::core::sync_future::SyncFuture`: completion racing with waiters, with a
//! waiter that gives up, with a timeout, and with a second completer.
//!
//! Properties:
//! 1. A waiter blocked in `wait()` always wakes once the future is completed (no lost wake-up).
//! 2. Of racing `complete` calls exactly one returns true, and every waiter sees its result.
//! 3. A waiter that gives up (polls once and drops its wait, or loses a race against a timeout)
//!    leaves the future pending for its completer: the completion still wins and is visible.
//!
//! Waiters block in `loom::future::block_on`, so a lost wake-up is a loom deadlock, which aborts
//! the process: the deadlocking mutant runs in a child process (`harness::expect_child_failure`).

use hwal::core::latch::AsyncLatch;
use hwal::core::mutant::{Mutant, MutantSwitch};
use hwal::core::sync_future::SyncFuture;
use hwal_models::harness::{bound, check, expect_child_failure, expect_panic, PollOnce, Race, Won, MUTANT_BOUND};
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

type Fut = SyncFuture<&'static str>;

/// Rule 1: a completer against two waiters (the caller, and a roller waiting on the same future).
fn completion_wakes_waiters(mutant: Mutant) -> impl Fn() + Sync + Send {
    move || {
        let f: Fut = SyncFuture::with_mutant(1, false, MutantSwitch::new(mutant));
        let completer = {
            let f = f.clone();
            thread::spawn(move || assert!(f.complete(Ok(1)), "the only completer must win"))
        };
        let second_waiter = {
            let f = f.clone();
            thread::spawn(move || block_on(f.wait()))
        };
        assert_eq!(block_on(f.wait()), Ok(1));
        completer.join().unwrap();
        assert_eq!(second_waiter.join().unwrap(), Ok(1));
        assert!(f.is_done());
    }
}

/// Rule 2: a success and a failure race to complete; the main thread waits.
fn two_completers(mutant: Mutant) -> impl Fn() + Sync + Send {
    move || {
        let f: Fut = SyncFuture::with_mutant(2, true, MutantSwitch::new(mutant));
        let ok = {
            let f = f.clone();
            thread::spawn(move || f.complete(Ok(3)))
        };
        let err = {
            let f = f.clone();
            thread::spawn(move || f.complete(Err("hsync failed")))
        };
        let seen = block_on(f.wait());
        let (ok_won, err_won) = (ok.join().unwrap(), err.join().unwrap());
        assert!(ok_won != err_won, "exactly one completion must win (ok={ok_won}, err={err_won})");
        let expected = if ok_won { Ok(3) } else { Err("hsync failed") };
        assert_eq!(seen, expected, "the waiter must see the winning completion");
        assert_eq!(f.result(), Some(expected));
        assert!(!f.complete(Ok(9)), "a completed future stays completed");
    }
}

/// What a waiter that gives up does to the future.
#[derive(Clone, Copy)]
enum GiveUp {
    /// The engine's behaviour: drop the wait, leave the future to its completer.
    LeavePending,
    /// Model-level mutant: fail the future on giving up (a timeout that "cancels" the sync).
    FailFuture,
}

impl GiveUp {
    fn apply(self, f: &Fut) {
        if let GiveUp::FailFuture = self {
            f.complete(Err("timed out"));
        }
    }
}

/// Rule 3: the main thread polls once and gives up while a completer completes.
fn give_up_model(give_up: GiveUp) -> impl Fn() + Sync + Send {
    move || {
        let f: Fut = SyncFuture::new(1, false);
        let completer = {
            let f = f.clone();
            thread::spawn(move || f.complete(Ok(1)))
        };
        let early = block_on(PollOnce::new(f.wait()));
        assert!(matches!(early, None | Some(Ok(1))), "a single poll sees pending or the completion: {early:?}");
        if early.is_none() {
            give_up.apply(&f);
        }
        assert!(completer.join().unwrap(), "GIVING UP COMPLETED the future: the completion must stay the completer's");
        assert_eq!(f.result(), Some(Ok(1)));
        assert_eq!(block_on(f.wait()), Ok(1), "a later wait sees the completion at once");
    }
}

/// Rule 3 with a timer: the main thread races the wait against a timeout latch.
fn timeout_model(give_up: GiveUp) -> impl Fn() + Sync + Send {
    move || {
        let f: Fut = SyncFuture::new(1, false);
        let timer = Arc::new(AsyncLatch::new());
        let completer = {
            let f = f.clone();
            thread::spawn(move || f.complete(Ok(1)))
        };
        let fire = {
            let timer = timer.clone();
            thread::spawn(move || timer.signal())
        };
        match block_on(Race::new(f.wait(), timer.wait())) {
            Won::Left(r) => assert_eq!(r, Ok(1)),
            Won::Right(()) => {
                assert!(timer.is_set());
                give_up.apply(&f);
            }
        }
        assert!(completer.join().unwrap(), "GIVING UP COMPLETED the future: the completion must stay the completer's");
        fire.join().unwrap();
        assert_eq!(block_on(f.wait()), Ok(1));
    }
}

/// A completion racing with a waiter and a second waiter: every waiter wakes with the result.
#[test]
fn sync_future_completion_wakes_every_waiter() {
    check("sync-future-wake", bound(3, Some(5)), completion_wakes_waiters(Mutant::None));
}

/// Two completers (a success and a failure) race: exactly one wins and the waiter sees its result.
#[test]
fn sync_future_exactly_one_completion_wins() {
    check("sync-future-two-completers", bound(4, Some(6)), two_completers(Mutant::None));
}

/// A waiter that polls once and gives up never completes the future or hides the completion.
#[test]
fn sync_future_waiter_gives_up() {
    check("sync-future-give-up", bound(3, None), give_up_model(GiveUp::LeavePending));
}

/// A wait raced against a timeout ends one way or the other, and a timed-out wait leaves the
/// future completable.
#[test]
fn sync_future_wait_races_timeout() {
    check("sync-future-timeout", bound(4, Some(6)), timeout_model(GiveUp::LeavePending));
}

/// Mutant `SyncFutureNoRecheck` in the two-waiter model; deadlocks (child process).
#[test]
#[ignore = "mutant: aborts the process; run by mutant_sync_future_no_recheck_is_caught"]
fn mutant_sync_future_no_recheck_wake() {
    check("sync-future-no-recheck/wake", Some(MUTANT_BOUND), completion_wakes_waiters(Mutant::SyncFutureNoRecheck));
}

/// Mutant `SyncFutureNoRecheck` in the two-completer model; deadlocks (child process).
#[test]
#[ignore = "mutant: aborts the process; run by mutant_sync_future_no_recheck_is_caught"]
fn mutant_sync_future_no_recheck_two_completers() {
    check("sync-future-no-recheck/two-completers", Some(MUTANT_BOUND), two_completers(Mutant::SyncFutureNoRecheck));
}

/// Mutant `SyncFutureNoRecheck` (register the waker without re-checking under the lock) loses
/// the wake-up in both blocking models: loom reports a deadlock.
#[test]
fn mutant_sync_future_no_recheck_is_caught() {
    expect_child_failure(module_path!(), "mutant_sync_future_no_recheck_wake", "deadlock");
    expect_child_failure(module_path!(), "mutant_sync_future_no_recheck_two_completers", "deadlock");
}

/// Model-level mutant: a waiter that fails the future when it gives up (after one poll, or on a
/// timeout) steals the completion from the completer.
#[test]
fn mutant_give_up_fails_future_is_caught() {
    expect_panic("give-up-fails-future/poll-once", &["GIVING UP COMPLETED"], give_up_model(GiveUp::FailFuture));
    expect_panic("give-up-fails-future/timeout", &["GIVING UP COMPLETED"], timeout_model(GiveUp::FailFuture));
}
