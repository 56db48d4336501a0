//! Proves the sweep's power: deliberately broken engines (`Config::mutant`) are caught.
//!
//! For each mutant — sync futures completed before the sync returns (`complete-before-sync`),
//! unacked entries dropped instead of re-written after a writer breaks
//! (`no-rewrite-after-broken`), the current file archived with the rolled ones
//! (`archive-current-file`) — a few hundred seeds are run and the test asserts that the
//! oracles fail at least half of them (once with every oracle, once without the mutant's most
//! direct check — the immediate ack check, or the archive-current check at `ARCHIVED` events —
//! so the crash-recovery, region and final oracles prove their own power), while the correct
//! engine passes every one of the same seeds.
//!
//! The seed set is a fixed range minus the seeds on which the *current* engine already fails
//! (engine bugs the simulator found; they are printed by the test). Once those are fixed the
//! filter drops nothing; the test also asserts it never drops more than a third of the range.
#![cfg(madsim)]

use hwal::core::mutant::Mutant;
use hwal_sim::faults::{FaultKind, FaultSelect};
use hwal_sim::knobs::RunOptions;
use hwal_sim::runner::run_many;

const SEEDS: std::ops::Range<u64> = 0..300;
const JOBS: usize = 2;

fn options() -> RunOptions {
    // Writer failures and crashes, the faults these mutants are about; no zombies or ENOSPC.
    let kinds = vec![
        FaultKind::SlowSync,
        FaultKind::SyncError,
        FaultKind::AppendError,
        FaultKind::BrokenWriter,
        FaultKind::ServerKill,
        FaultKind::PowerLoss,
    ];
    RunOptions { faults: FaultSelect::List(kinds), ..RunOptions::default() }
}

/// Each mutant fails many of the seeds on which the correct engine passes.
#[test]
fn mutants_are_caught_and_the_correct_engine_is_not() {
    let seeds: Vec<u64> = SEEDS.collect();
    let correct = run_many(&seeds, JOBS, &options());
    let clean: Vec<u64> = correct.iter().filter(|r| r.failure.is_none()).map(|r| r.seed).collect();
    for r in correct.iter().filter(|r| r.failure.is_some()) {
        eprintln!("engine failure (excluded): seed {} {}", r.seed, r.failure.as_ref().unwrap());
    }
    assert!(
        clean.len() * 3 >= seeds.len() * 2,
        "the correct engine failed {} of {} seeds",
        seeds.len() - clean.len(),
        seeds.len()
    );
    for mutant in [Mutant::CompleteBeforeSync, Mutant::NoRewriteAfterBroken, Mutant::ArchiveCurrentFile] {
        // With every oracle, then without the mutant's most direct check (the recovery,
        // region and final oracles alone must still catch it).
        for direct in [true, false] {
            let opts = match mutant {
                Mutant::ArchiveCurrentFile => RunOptions { mutant, archive_check: direct, ..options() },
                _ => RunOptions { mutant, ack_check: direct, ..options() },
            };
            let runs = run_many(&clean, JOBS, &opts);
            let caught = runs.iter().filter(|r| r.failure.is_some()).count();
            eprintln!(
                "mutant {} (direct check {}): caught on {caught} of {} seeds the correct engine passes",
                mutant.name(),
                if direct { "on" } else { "off" },
                clean.len()
            );
            assert!(
                caught * 2 >= clean.len(),
                "mutant {} was caught on only {caught} of {} seeds",
                mutant.name(),
                clean.len()
            );
        }
    }
    let again = run_many(&clean, JOBS, &options());
    assert!(again.iter().all(|r| r.failure.is_none()), "the correct engine is deterministic on the clean seeds");
}
