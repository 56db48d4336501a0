//! Pinned traces: a handful of small seeded runs whose full event traces are insta snapshots
//! under `traces/`. Any change to what the engine or the simulator does on these seeds shows up
//! as a snapshot diff; `cargo insta review` (or `INSTA_UPDATE=always cargo sim-test`) accepts
//! a reviewed change. CI never accepts one on its own.
#![cfg(madsim)]

use hwal::Pipeline;
use hwal_sim::faults::{FaultKind, FaultSelect};
use hwal_sim::knobs::RunOptions;
use hwal_sim::runner::run_seed;

/// Client ops of a pinned run: enough for every phase, short enough to read.
const OPS: u64 = 60;

/// Runs `seed` on `pipeline` with only `faults`, checks it passed, that each listed fault fired
/// and that the trace shows each event kind in `shows` (what the scenario is pinned for), and
/// compares its trace with the pinned snapshot `name`.
fn pinned(name: &str, seed: u64, pipeline: Pipeline, faults: &[FaultKind], shows: &[&str]) {
    let select = if faults.is_empty() { FaultSelect::None } else { FaultSelect::List(faults.to_vec()) };
    let opts = RunOptions { pipeline, faults: select, ops: OPS, ..RunOptions::default() };
    let r = run_seed(seed, &opts, true);
    assert!(r.failure.is_none(), "{name}: the pinned run failed: {:?}", r.failure);
    for k in faults {
        assert!(r.fired[k.index()] > 0, "{name}: fault {} never fired; pick another seed", k.name());
    }
    let lines = r.trace.expect("trace kept");
    for kind in shows {
        let has = lines.iter().any(|l| l.split_whitespace().nth(2) == Some(kind));
        assert!(has, "{name}: the trace has no {kind} event; pick another seed");
    }
    let trace = lines.join("\n");
    let list: Vec<&str> = faults.iter().map(|k| k.name()).collect();
    let faults_flag = if list.is_empty() { "none".to_string() } else { list.join(",") };
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../traces");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(format!(
        "cargo sim run --seed {seed} --pipeline {} --faults {faults_flag} --ops {OPS} --trace FILE",
        pipeline.name()
    ));
    settings.bind(|| insta::assert_snapshot!(name, trace));
}

/// A quiet run of the scheduled pipeline: appends, group commit, rolls, clean close.
#[test]
fn scheduled_quiet() {
    pinned("scheduled_quiet", 7, Pipeline::Scheduled, &[], &["ROLLED", "ARCHIVED"]);
}

/// The same seed on the classic pipeline.
#[test]
fn classic_quiet() {
    pinned("classic_quiet", 7, Pipeline::Classic, &[], &["SAFE_POINT", "ROLLED"]);
}

/// Slow syncs: slow-sync events and the rolls they request.
#[test]
fn scheduled_slow_sync() {
    pinned("scheduled_slow_sync", 9, Pipeline::Scheduled, &[FaultKind::SlowSync], &["SLOW_SYNC"]);
}

/// A broken writer on the scheduled pipeline: epoch bump, re-written entries, no caller error.
#[test]
fn scheduled_broken_writer() {
    pinned("scheduled_broken_writer", 6, Pipeline::Scheduled, &[FaultKind::BrokenWriter], &["BROKEN", "ROLLED"]);
}

/// A broken writer on the classic pipeline: damaged WAL, failed syncs, zig-zag roll.
#[test]
fn classic_broken_writer() {
    pinned(
        "classic_broken_writer",
        7,
        Pipeline::Classic,
        &[FaultKind::BrokenWriter],
        &["BROKEN", "SYNC_FAIL", "SAFE_POINT"],
    );
}

/// Data-node loss: low replication and its rolls.
#[test]
fn scheduled_low_replication() {
    pinned("scheduled_low_replication", 11, Pipeline::Scheduled, &[FaultKind::DatanodeLoss], &["LOW_REPL", "ROLL_REQ"]);
}

/// A region-server kill: torn tail, fencing, recovery, the next incarnation.
#[test]
fn scheduled_crash_recovery() {
    pinned(
        "scheduled_crash_recovery",
        11,
        Pipeline::Scheduled,
        &[FaultKind::ServerKill],
        &["CRASH", "FENCE", "SPLIT", "REPLAY"],
    );
}

/// The same crash on the classic pipeline.
#[test]
fn classic_crash_recovery() {
    pinned(
        "classic_crash_recovery",
        11,
        Pipeline::Classic,
        &[FaultKind::ServerKill],
        &["CRASH", "FENCE", "SPLIT", "REPLAY"],
    );
}
