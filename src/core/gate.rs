//! The consumer gate: HBase's `consumerScheduled` flag with the idle-exit double-check.
//!
//! `scheduled == true` means "a consume run is queued or running". Protocol:
//! 1. A producer publishes its slot, then calls [`ConsumerGate::try_schedule`]; only the caller
//!    that flips `scheduled` from false to true submits a consume run.
//! 2. The consumer, finding nothing to do, calls [`ConsumerGate::idle_exit`]: it clears
//!    `scheduled` and then re-checks for published work. If work appeared, it tries to take the
//!    flag back and keeps running only if it wins; a producer that won instead has submitted a
//!    new run.
//! 3. Both sides put a SeqCst fence between their write (publish / clear) and their read
//!    (flag / work). This is the store-buffering pattern: without the fences the producer can
//!    read a stale `true` while the consumer reads stale "no work", and the published item sits
//!    in the ring with nobody scheduled (a lost wake-up).
//! 4. The roller may force the flag on ([`ConsumerGate::force_schedule`]) while it owns the
//!    consumer (roll and shutdown), so producers do not schedule runs meanwhile.
//! 5. A producer that skips scheduling while the pipeline is paused (waiting-roll or a broken
//!    writer: the roller reschedules the consumer afterwards) must read that state *after* the
//!    SeqCst fence too, i.e. through [`ConsumerGate::try_schedule_unless`]. Read before the fence,
//!    a stale "paused" and the roller's consume run missing the publish can both happen (store
//!    buffering again), and the item waits with nobody scheduled. Found by the loom model
//!    `models/tests/models/gate_roll.rs`.

use super::mutant::{Mutant, MutantSwitch};
use crate::sync::{fence, AtomicBool, Ordering};

/// The `consumerScheduled` flag and its protocol.
#[derive(Debug)]
pub struct ConsumerGate {
    scheduled: AtomicBool,
    mutant: MutantSwitch,
}

impl Default for ConsumerGate {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsumerGate {
    /// A gate with nothing scheduled.
    pub fn new() -> Self {
        Self::with_mutant(MutantSwitch::OFF)
    }

    /// A gate running a mutant (models and simulator only).
    pub fn with_mutant(mutant: MutantSwitch) -> Self {
        Self { scheduled: AtomicBool::new(false), mutant }
    }

    fn weak(&self) -> bool {
        self.mutant.is(Mutant::GateWeakOrdering)
    }

    /// Producer side (rule 1): returns true when the caller must submit a consume run.
    #[must_use]
    pub fn try_schedule(&self) -> bool {
        self.try_schedule_unless(|| false)
    }

    /// Producer side (rules 1 and 5): as [`ConsumerGate::try_schedule`], but returns false
    /// without touching the flag when `paused()` says the pipeline must not be scheduled now
    /// (a roll waits, or the writer is broken). `paused` runs after the fence.
    #[must_use]
    pub fn try_schedule_unless(&self, paused: impl FnOnce() -> bool) -> bool {
        if self.weak() {
            return !paused()
                && self.scheduled.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok();
        }
        fence(Ordering::SeqCst);
        if paused() || self.scheduled.load(Ordering::SeqCst) {
            return false;
        }
        self.scheduled.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    /// Consumer side (rule 2): clears the flag, re-checks `has_work`, and returns true when the
    /// consumer won the flag back and must run again.
    #[must_use]
    pub fn idle_exit(&self, has_work: impl FnOnce() -> bool) -> bool {
        if self.weak() {
            self.scheduled.store(false, Ordering::Release);
        } else {
            self.scheduled.store(false, Ordering::SeqCst);
            fence(Ordering::SeqCst);
        }
        if self.mutant.is(Mutant::GateNoRecheck) || !has_work() {
            return false;
        }
        self.scheduled.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    /// Roller side (rule 4): marks a run as scheduled unconditionally.
    pub fn force_schedule(&self) {
        self.scheduled.store(true, Ordering::SeqCst);
    }

    /// True while a run is queued or running (a snapshot).
    pub fn is_scheduled(&self) -> bool {
        self.scheduled.load(Ordering::SeqCst)
    }
}

#[cfg(all(test, not(hwal_loom)))]
mod tests {
    use super::*;

    /// Only one of many schedulers wins, and the idle exit hands the flag back correctly.
    #[test]
    fn one_winner_and_recheck() {
        let g = ConsumerGate::new();
        assert!(g.try_schedule());
        assert!(!g.try_schedule());
        assert!(!g.idle_exit(|| false));
        assert!(!g.is_scheduled());
        assert!(g.try_schedule());
        assert!(g.idle_exit(|| true), "work seen on re-check: the consumer keeps the flag");
        assert!(g.is_scheduled());
    }

    /// A paused pipeline is not scheduled and the flag is left alone.
    #[test]
    fn paused_pipeline_is_not_scheduled() {
        let g = ConsumerGate::new();
        assert!(!g.try_schedule_unless(|| true));
        assert!(!g.is_scheduled());
        assert!(g.try_schedule_unless(|| false));
        assert!(g.is_scheduled());
    }
}
