//! `sweep`: many seeds in parallel, a progress line on stderr, a summary (runs, failures by
//! category, seeds/s, how many runs each fault kind fired in) and, with `--json`, one JSON
//! object on stdout. Exit code 1 when any seed fails.

use std::collections::BTreeMap;
use std::time::Instant;

use hwal::Pipeline;
use serde_json::json;

use crate::faults::FaultKind;
use crate::knobs::RunOptions;
use crate::oracle::Category;
use crate::runner::{pool, run_seed, Progress, RunResult};

/// Prints a failing run: the failure, its fault plan, the last trace lines, the command.
pub fn print_failure(r: &RunResult, opts: &RunOptions, last_lines: usize) {
    let f = r.failure.as_ref().expect("a failed run");
    eprintln!("FAIL seed={} {}", r.seed, f);
    if last_lines > 0 {
        eprintln!("  knobs: {}", r.knobs);
        for p in &r.plan {
            eprintln!("  fault {p}");
        }
        if let Some(t) = &r.trace {
            // Show the events leading to the first oracle failure (or the end of the run).
            let at = t.iter().position(|l| l.contains(" ORACLE_FAIL ")).map_or(t.len(), |i| (i + 4).min(t.len()));
            eprintln!("  events before the failure:");
            for l in &t[at.saturating_sub(last_lines)..at] {
                eprintln!("    {l}");
            }
        }
    }
    eprintln!("  reproduce: {}", opts.repro_command(r.seed));
}

/// The sweep; returns the exit code.
pub fn sweep(seeds: &[u64], jobs: usize, pipelines: &[Pipeline], opts: &RunOptions, json: bool) -> i32 {
    let runs: Vec<(Pipeline, u64)> = pipelines.iter().flat_map(|&p| seeds.iter().map(move |&s| (p, s))).collect();
    let started = Instant::now();
    let mut progress = Progress::default();
    let mut failed = 0;
    let results = pool(
        &runs,
        jobs,
        |&(p, seed)| {
            let o = RunOptions { pipeline: p, ..opts.clone() };
            (p, run_seed(seed, &o, false))
        },
        |done, total, (p, r)| {
            if r.failure.is_some() {
                failed += 1;
                progress.interrupt();
                print_failure(r, &RunOptions { pipeline: *p, ..opts.clone() }, 0);
            }
            let sps = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
            progress.show(&format!("sweep: {done}/{total} runs, {failed} failed, {sps:.1} seeds/s"), done == total);
        },
    );
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let sps = results.len() as f64 / secs;
    let mut by_cat: BTreeMap<&str, usize> =
        [Category::Correctness, Category::Liveness, Category::CrashPanic].iter().map(|c| (c.name(), 0)).collect();
    let mut fault_runs: BTreeMap<&str, usize> = FaultKind::ALL.iter().map(|k| (k.name(), 0)).collect();
    let mut failed_seeds = Vec::new();
    for (_, r) in &results {
        for k in FaultKind::ALL {
            if r.fired[k.index()] > 0 {
                *fault_runs.get_mut(k.name()).expect("all kinds") += 1;
            }
        }
        if let Some(f) = &r.failure {
            *by_cat.get_mut(f.category.name()).expect("all categories") += 1;
            failed_seeds.push(r.seed);
        }
    }
    let mut slow: Vec<(u64, u64)> = results.iter().map(|(_, r)| (r.wall_ms, r.seed)).collect();
    slow.sort_unstable_by(|a, b| b.cmp(a));
    let slowest: Vec<String> = slow.iter().take(5).map(|(ms, s)| format!("{s}:{ms}ms")).collect();
    eprintln!("slowest runs (seed:wall): {}", slowest.join(" "));
    let names: Vec<&str> = pipelines.iter().map(|p| p.name()).collect();
    let fired: Vec<String> = fault_runs.iter().map(|(k, n)| format!("{k}={n}")).collect();
    let cats: Vec<String> = by_cat.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let summary = format!(
        "sweep: {} runs (pipeline {}, faults {}), {} failures ({}), {:.1} seeds/s in {:.1} s; runs each fault kind fired in: {}",
        results.len(),
        names.join("+"),
        opts.faults.spelling(),
        failed_seeds.len(),
        cats.join(", "),
        sps,
        secs,
        fired.join(" ")
    );
    if json {
        let obj = json!({
            "runs": results.len(),
            "failures": failed_seeds.len(),
            "failures_by_category": by_cat,
            "seeds_per_sec": (sps * 10.0).round() / 10.0,
            "fault_runs": fault_runs,
            "failed_seeds": failed_seeds,
            "pipelines": names,
        });
        println!("{obj}");
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    if failed_seeds.is_empty() {
        0
    } else {
        1
    }
}
