//! `cargo test-all`: every hwal test suite, each build mode in its own target dir.
//!
//! Stages (each can be selected alone: `cargo test-all -- <stage>...`):
//! - `unit`: `cargo test --workspace` — unit, integration (real disk, SIGKILL crash), proptest,
//!   insta snapshots of the normal build.
//! - `loom`: `cargo loom` — loom models of the lock-free core and their mutants.
//! - `sim`: `cargo sim-test` — madsim tests (determinism, mutant checks, pinned trace snapshots).
//! - `sweep`: `cargo sim sweep --seeds 0..2000 --pipeline both` and
//!   `cargo sim determinism --seeds 0..50` — the main job at CI size.
//!
//! Prints each stage's time and, last, one line `test-all: N passed, M failed`.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

struct Stage {
    name: &'static str,
    what: &'static str,
    args: &'static [&'static str],
    /// Runs without being named.
    default: bool,
}

const STAGES: &[Stage] = &[
    Stage {
        name: "unit",
        what: "unit, integration, proptest, insta (hwal-peers builds C peers: run it with -p)",
        args: &["test", "--workspace", "--exclude", "hwal-peers"],
        default: true,
    },
    Stage { name: "loom", what: "loom models and mutants", args: &["loom"], default: true },
    Stage { name: "sim", what: "madsim tests", args: &["sim-test"], default: true },
    Stage {
        name: "sweep",
        what: "simulation sweep, 2000 seeds, both pipelines",
        args: &["sim", "sweep", "--seeds", "0..2000", "--jobs", "2", "--pipeline", "both"],
        default: true,
    },
    Stage {
        name: "determinism",
        what: "same seed twice, 50 seeds",
        args: &["sim", "determinism", "--seeds", "0..50"],
        default: true,
    },
];

/// Counts `test result: ok. N passed; M failed` lines.
fn count(line: &str, passed: &mut u64, failed: &mut u64) {
    let Some(rest) = line.split("test result: ").nth(1) else { return };
    let num = |key: &str| -> u64 {
        rest.split(';')
            .find_map(|part| {
                part.trim().trim_start_matches("ok.").trim_start_matches("FAILED.").trim().strip_suffix(key)
            })
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    *passed += num(" passed");
    *failed += num(" failed");
}

fn run(stage: &Stage, passed: &mut u64, failed: &mut u64) -> bool {
    eprintln!("== test-all: {} ({}): cargo {}", stage.name, stage.what, stage.args.join(" "));
    let start = Instant::now();
    let mut child = match Command::new(env!("CARGO")).args(stage.args).stdout(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("test-all: cannot start cargo: {e}");
            return false;
        }
    };
    for line in BufReader::new(child.stdout.take().expect("piped")).lines().map_while(Result::ok) {
        println!("{line}");
        count(&line, passed, failed);
    }
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    eprintln!(
        "== test-all: {} {} in {:.1}s",
        stage.name,
        if ok { "passed" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    ok
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("test-all") {
        eprintln!("usage: cargo test-all [-- <stage>...]   (stages: unit loom sim sweep determinism)");
        return ExitCode::from(2);
    }
    let selected: Vec<&String> = args[1..].iter().filter(|a| *a != "--").collect();
    if let Some(bad) = selected.iter().find(|s| !STAGES.iter().any(|st| st.name == s.as_str())) {
        eprintln!("test-all: unknown stage {bad:?} (stages: unit loom sim sweep determinism)");
        return ExitCode::from(2);
    }
    let (mut passed, mut failed, mut stage_failures) = (0u64, 0u64, Vec::new());
    let start = Instant::now();
    let chosen =
        |s: &&Stage| if selected.is_empty() { s.default } else { selected.iter().any(|x| x.as_str() == s.name) };
    for stage in STAGES.iter().filter(chosen) {
        if !run(stage, &mut passed, &mut failed) {
            stage_failures.push(stage.name);
        }
    }
    eprintln!("== test-all: {:.1}s in all; failed stages: {:?}", start.elapsed().as_secs_f64(), stage_failures);
    let failed_total = failed + stage_failures.len() as u64 * u64::from(failed == 0);
    println!("test-all: {passed} passed, {failed_total} failed");
    if stage_failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
