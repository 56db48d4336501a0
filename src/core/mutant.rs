//! Deliberately broken variants of the concurrent protocols, for proving that the loom models
//! and the simulator catch what they guard.
//!
//! A [`MutantSwitch`] is zero-sized unless the crate is built for models (`--cfg hwal_loom`) or
//! with the `internals` feature (the simulator and models), so production builds carry no hook.

/// A named, deliberately broken variant of one protocol step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// The correct code.
    #[default]
    None,
    /// Consumer gate: the idle exit clears `scheduled` without re-checking for published work.
    GateNoRecheck,
    /// Consumer gate: Release/Acquire instead of SeqCst fences around the double-check.
    GateWeakOrdering,
    /// Ring: the slot is marked published before its value is written.
    RingPublishBeforeWrite,
    /// Ring: producers ignore the gating sequence and may overwrite unconsumed slots.
    RingNoGatingCheck,
    /// SyncFuture: the waiter registers its waker without re-checking completion under the lock.
    SyncFutureNoRecheck,
    /// Async latch: the waiter registers without re-checking the flag under the lock.
    LatchNoRecheck,
    /// Zig-zag latch: the handler signals "attained" but does not wait for the release.
    ZigZagNoWait,
    /// Epoch: sync completions are accepted whatever epoch they carry.
    EpochNoStaleCheck,
    /// Engine: sync futures are completed when the sync is issued, before it returns.
    CompleteBeforeSync,
    /// Engine: after a writer breaks, unacked entries are dropped instead of re-written.
    NoRewriteAfterBroken,
    /// Engine: the archiver may archive the current (open) file.
    ArchiveCurrentFile,
    /// Engine: a blocking waiter's nudge never ends a `sync_coalesce` hold (a hold that no
    /// timer watches then lasts until some other call arrives).
    NoNudge,
    /// Broadcast: a completer reads its futures' lanes before completing them, so a waiter that
    /// records its lane and re-checks in between is never woken.
    LanesReadEarly,
    /// Engine: `append_sync` leaves its append unhooked (rule 1) even when the sync request
    /// cannot get a ring slot at once, so it waits for a consumer nobody scheduled.
    AppendSyncNoHook,
}

impl Mutant {
    /// Every mutant, for listings and sweeps.
    pub const ALL: [Mutant; 14] = [
        Mutant::GateNoRecheck,
        Mutant::GateWeakOrdering,
        Mutant::RingPublishBeforeWrite,
        Mutant::RingNoGatingCheck,
        Mutant::SyncFutureNoRecheck,
        Mutant::LatchNoRecheck,
        Mutant::ZigZagNoWait,
        Mutant::EpochNoStaleCheck,
        Mutant::CompleteBeforeSync,
        Mutant::NoRewriteAfterBroken,
        Mutant::ArchiveCurrentFile,
        Mutant::NoNudge,
        Mutant::LanesReadEarly,
        Mutant::AppendSyncNoHook,
    ];

    /// A stable kebab-case name (used on command lines).
    pub fn name(self) -> &'static str {
        match self {
            Mutant::None => "none",
            Mutant::GateNoRecheck => "gate-no-recheck",
            Mutant::GateWeakOrdering => "gate-weak-ordering",
            Mutant::RingPublishBeforeWrite => "ring-publish-before-write",
            Mutant::RingNoGatingCheck => "ring-no-gating-check",
            Mutant::SyncFutureNoRecheck => "sync-future-no-recheck",
            Mutant::LatchNoRecheck => "latch-no-recheck",
            Mutant::ZigZagNoWait => "zigzag-no-wait",
            Mutant::EpochNoStaleCheck => "epoch-no-stale-check",
            Mutant::CompleteBeforeSync => "complete-before-sync",
            Mutant::NoRewriteAfterBroken => "no-rewrite-after-broken",
            Mutant::ArchiveCurrentFile => "archive-current-file",
            Mutant::NoNudge => "no-nudge",
            Mutant::LanesReadEarly => "lanes-read-early",
            Mutant::AppendSyncNoHook => "append-sync-no-hook",
        }
    }

    /// Parses [`Mutant::name`].
    pub fn from_name(name: &str) -> Option<Mutant> {
        if name == "none" {
            return Some(Mutant::None);
        }
        Mutant::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Which mutant (if any) a component runs. Zero-sized in production builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MutantSwitch {
    #[cfg(any(hwal_loom, feature = "internals"))]
    active: Mutant,
}

impl MutantSwitch {
    /// The correct code.
    pub const OFF: MutantSwitch = MutantSwitch {
        #[cfg(any(hwal_loom, feature = "internals"))]
        active: Mutant::None,
    };

    /// A switch running `mutant`.
    #[cfg(any(hwal_loom, feature = "internals"))]
    pub fn new(mutant: Mutant) -> Self {
        Self { active: mutant }
    }

    /// True when `mutant` is the active one. Always false in production builds.
    #[inline(always)]
    pub fn is(&self, mutant: Mutant) -> bool {
        #[cfg(any(hwal_loom, feature = "internals"))]
        {
            self.active == mutant && mutant != Mutant::None
        }
        #[cfg(not(any(hwal_loom, feature = "internals")))]
        {
            let _ = mutant;
            false
        }
    }
}
