//! `epoch_and_state`: the scheduled pipeline's roll and failure state (HBase 3.x
//! `AbstractFSWAL.epochAndState`).
//!
//! Bit layout of the `u32`:
//! ```text
//!  bit 31 ................ 2 | 1             | 0
//!  epoch (0 ..= MAX_EPOCH)   | writer_broken | waiting_roll
//! ```
//! Rules:
//! 1. Transitions are made only by the holder of the consumer lock; reads are lock-free.
//! 2. Every sync captures the epoch when it is issued. Its completion or failure counts only if
//!    the epoch is unchanged and the writer is not broken ([`EpochAndState::accepts`]); a stale
//!    completion changes nothing (HBASE-22761).
//! 3. `mark_broken` succeeds once per epoch; a roll (`advance_epoch`) clears both bits and
//!    bumps the epoch, wrapping from `MAX_EPOCH` to 0.

use super::mutant::{Mutant, MutantSwitch};
use crate::sync::{AtomicU32, Ordering};

/// Largest epoch before wrapping to 0.
pub const MAX_EPOCH: u32 = 0x3FFF_FFFF;

const WAITING_ROLL: u32 = 0b01;
const WRITER_BROKEN: u32 = 0b10;

/// A decoded snapshot of the state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RollState(u32);

impl RollState {
    /// A roll is waiting for the safe point.
    pub fn waiting_roll(self) -> bool {
        self.0 & WAITING_ROLL != 0
    }
    /// The current writer failed an append or sync.
    pub fn writer_broken(self) -> bool {
        self.0 & WRITER_BROKEN != 0
    }
    /// The writer epoch.
    pub fn epoch(self) -> u32 {
        self.0 >> 2
    }
}

impl std::fmt::Display for RollState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match (self.writer_broken(), self.waiting_roll()) {
            (false, false) => "normal",
            (false, true) => "waiting-roll",
            (true, false) => "broken",
            (true, true) => "broken+waiting-roll",
        };
        write!(f, "epoch={} state={name}", self.epoch())
    }
}

/// The atomic state word.
#[derive(Debug)]
pub struct EpochAndState {
    word: AtomicU32,
    mutant: MutantSwitch,
}

impl Default for EpochAndState {
    fn default() -> Self {
        Self::new()
    }
}

impl EpochAndState {
    /// Epoch 0, normal.
    pub fn new() -> Self {
        Self::with_mutant(MutantSwitch::OFF)
    }

    /// Epoch 0, normal, running a mutant (models and simulator only).
    pub fn with_mutant(mutant: MutantSwitch) -> Self {
        Self { word: AtomicU32::new(0), mutant }
    }

    /// A snapshot.
    pub fn load(&self) -> RollState {
        RollState(self.word.load(Ordering::Acquire))
    }

    /// The one transition helper: applies `f` to the current state; `None` from `f` means the
    /// transition is not allowed from that state. Returns the prior state when applied.
    fn transition(&self, f: impl Fn(RollState) -> Option<RollState>) -> Option<RollState> {
        let mut cur = self.word.load(Ordering::Acquire);
        loop {
            let next = f(RollState(cur))?;
            match self.word.compare_exchange(cur, next.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(RollState(cur)),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Sets the waiting-roll bit. Returns the prior state.
    pub fn set_waiting_roll(&self) -> RollState {
        self.transition(|s| Some(RollState(s.0 | WAITING_ROLL))).expect("set_waiting_roll is always allowed")
    }

    /// Marks the writer of `epoch` broken (rule 3). Returns the prior state, or `None` when the
    /// epoch is stale or the writer is already broken.
    #[must_use]
    pub fn mark_broken(&self, epoch: u32) -> Option<RollState> {
        self.transition(|s| (s.epoch() == epoch && !s.writer_broken()).then_some(RollState(s.0 | WRITER_BROKEN)))
    }

    /// Bumps the epoch and clears both bits (a writer swap). Returns the new epoch.
    pub fn advance_epoch(&self) -> u32 {
        let prior = self
            .transition(|s| {
                let e = if s.epoch() == MAX_EPOCH { 0 } else { s.epoch() + 1 };
                Some(RollState(e << 2))
            })
            .expect("advance_epoch is always allowed");
        if prior.epoch() == MAX_EPOCH {
            0
        } else {
            prior.epoch() + 1
        }
    }

    /// True when a sync issued at `epoch` may still count (rule 2).
    pub fn accepts(&self, epoch: u32) -> bool {
        if self.mutant.is(Mutant::EpochNoStaleCheck) {
            return true;
        }
        let s = self.load();
        s.epoch() == epoch && !s.writer_broken()
    }
}

#[cfg(all(test, not(hwal_loom)))]
mod tests {
    use super::*;

    /// Broken once per epoch; a swap clears both bits; stale epochs are refused.
    #[test]
    fn transitions() {
        let s = EpochAndState::new();
        assert!(s.accepts(0));
        s.set_waiting_roll();
        assert!(s.load().waiting_roll());
        assert!(s.mark_broken(1).is_none(), "stale epoch cannot break the writer");
        assert!(s.mark_broken(0).is_some());
        assert!(s.mark_broken(0).is_none(), "already broken");
        assert!(!s.accepts(0));
        assert_eq!(s.advance_epoch(), 1);
        let st = s.load();
        assert!(!st.waiting_roll() && !st.writer_broken());
        assert!(!s.accepts(0) && s.accepts(1));
    }

    /// The epoch wraps from MAX_EPOCH to 0.
    #[test]
    fn epoch_wraps() {
        let s = EpochAndState::new();
        s.word.store(MAX_EPOCH << 2, Ordering::SeqCst);
        assert_eq!(s.advance_epoch(), 0);
    }
}
