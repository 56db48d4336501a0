//! Loom models of `hwal::core::latch::AsyncLatch` and `hwal::core::event::Event`: a signal or
//! notify racing with waiters that block in `loom::future::block_on`.
//!
//! Properties:
//! 1. `AsyncLatch`: every waiter, blocked before or arriving after `signal`, wakes.
//! 2. `Event`, used as the engine uses it (listen, then check the condition, then wait on the
//!    listener): a waiter never sleeps through the notify that follows the condition change.
//!
//! A lost wake-up is a loom deadlock, which aborts the process: the deadlocking mutants run in a
//! child process (`harness::expect_child_failure`).

use hwal::core::event::Event;
use hwal::core::latch::AsyncLatch;
use hwal::core::mutant::{Mutant, MutantSwitch};
use hwal_models::harness::{bound, check, expect_child_failure, MUTANT_BOUND};
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Rule 1: one signaller, two waiters (the main thread and one more).
fn latch_model(mutant: Mutant) -> impl Fn() + Sync + Send {
    move || {
        let latch = Arc::new(AsyncLatch::with_mutant(MutantSwitch::new(mutant)));
        let signaller = {
            let latch = latch.clone();
            thread::spawn(move || latch.signal())
        };
        let waiter = {
            let latch = latch.clone();
            thread::spawn(move || block_on(latch.wait()))
        };
        block_on(latch.wait());
        assert!(latch.is_set());
        signaller.join().unwrap();
        waiter.join().unwrap();
    }
}

/// How a waiter uses the event.
#[derive(Clone, Copy)]
enum Waiting {
    /// The engine's order: listen, check the condition, wait.
    ListenThenCheck,
    /// Model-level mutant: check, then listen — a notify in between is missed.
    CheckThenListen,
}

/// Rule 2: a notifier sets a condition then notifies; two waiters wait for the condition.
fn event_model(waiting: Waiting) -> impl Fn() + Sync + Send {
    move || {
        let event = Arc::new(Event::new());
        let ready = Arc::new(AtomicBool::new(false));
        let wait_for_ready = move |event: &Event, ready: &AtomicBool| loop {
            match waiting {
                Waiting::ListenThenCheck => {
                    let changed = event.listen();
                    if ready.load(Ordering::Acquire) {
                        return;
                    }
                    block_on(changed);
                }
                Waiting::CheckThenListen => {
                    if ready.load(Ordering::Acquire) {
                        return;
                    }
                    block_on(event.listen());
                }
            }
        };
        let notifier = {
            let (event, ready) = (event.clone(), ready.clone());
            thread::spawn(move || {
                ready.store(true, Ordering::Release);
                event.notify_all();
            })
        };
        let waiter = {
            let (event, ready) = (event.clone(), ready.clone());
            thread::spawn(move || wait_for_ready(&event, &ready))
        };
        wait_for_ready(&event, &ready);
        notifier.join().unwrap();
        waiter.join().unwrap();
    }
}

/// A signal racing with two waiters wakes both.
#[test]
fn async_latch_signal_wakes_every_waiter() {
    check("async-latch", bound(3, Some(5)), latch_model(Mutant::None));
}

/// Listen-before-check never misses a notify.
#[test]
fn event_listen_before_check_never_misses_a_notify() {
    check("event", bound(3, Some(4)), event_model(Waiting::ListenThenCheck));
}

/// Mutant `LatchNoRecheck` in the latch model; deadlocks (child process).
#[test]
#[ignore = "mutant: aborts the process; run by mutant_latch_no_recheck_is_caught"]
fn mutant_latch_no_recheck() {
    check("latch-no-recheck", Some(MUTANT_BOUND), latch_model(Mutant::LatchNoRecheck));
}

/// Mutant `LatchNoRecheck` (register without re-checking the flag under the lock) loses the
/// wake-up: loom reports a deadlock.
#[test]
fn mutant_latch_no_recheck_is_caught() {
    expect_child_failure(module_path!(), "mutant_latch_no_recheck", "deadlock");
}

/// The event model with waiters that check before listening; deadlocks (child process).
#[test]
#[ignore = "mutant: aborts the process; run by mutant_event_check_then_listen_is_caught"]
fn mutant_event_check_then_listen() {
    check("event-check-then-listen", Some(MUTANT_BOUND), event_model(Waiting::CheckThenListen));
}

/// Model-level mutant: a waiter that checks its condition before listening sleeps through the
/// notify: loom reports a deadlock. (`Event` has no mutant hook; the misuse is the caller's.)
#[test]
fn mutant_event_check_then_listen_is_caught() {
    expect_child_failure(module_path!(), "mutant_event_check_then_listen", "deadlock");
}
