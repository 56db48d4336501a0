//! The `hwal-sim` command line (`cargo sim <subcommand>`). The flags below are relied on by the
//! project's checks; keep them stable.
//!
//! - `sweep --seeds A..B [--jobs J] [--shard K/N] [--pipeline P] [--faults swarm|none|LIST] [--json]`
//! - `run --seed S [--pipeline P] [--trace FILE]`
//! - `determinism --seeds A..B [--jobs J]`
//! - `minimize --seed S`
//! - `diff A B`
//!
//! Hidden on sweep/run/determinism/minimize: `--mutant NAME` (a deliberately broken engine),
//! `--ops N` (safety-phase client ops), `--no-ack-check` (only recovery/final oracles judge
//! durability), `--no-archive-check` (no archive-current check at ARCHIVED events); on run: `--keep-faults I,J,..|none` (a minimized
//! schedule). Exit codes: 0 ok, 1 a seed failed (or traces differ), 2 usage error.

mod run;
mod sweep;

use std::collections::BTreeSet;

use clap::{Args, Parser, Subcommand};
use hwal::core::mutant::Mutant;
use hwal::Pipeline;

use crate::faults::FaultSelect;
use crate::knobs::{RunOptions, AVAILABLE_PIPELINES, DEFAULT_OPS};

#[derive(Parser)]
#[command(name = "hwal-sim", about = "Deterministic simulation of the hwal WAL engine (madsim)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs many seeds and summarises failures and fault coverage.
    Sweep {
        /// Seed range `A..B` (exclusive), `A..=B`, or one seed.
        #[arg(long)]
        seeds: String,
        /// Parallel seeds.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Run only shard K of N (0-based): the seeds with `seed % N == K`.
        #[arg(long)]
        shard: Option<String>,
        #[command(flatten)]
        common: Common,
        /// One JSON object on stdout instead of the human summary.
        #[arg(long)]
        json: bool,
    },
    /// Runs one seed; prints its knobs, writes its trace.
    Run {
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// Write the full trace here.
        #[arg(long)]
        trace: Option<String>,
        /// Keep only these fault-plan items (as printed by `minimize`), or `none`.
        #[arg(long, hide = true)]
        keep_faults: Option<String>,
        /// With `--pipeline both`: compare what the two pipelines made durable (per region),
        /// ignoring events that legitimately differ; exit 1 when they disagree.
        #[arg(long)]
        diff: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Runs each seed twice and compares the traces byte for byte.
    Determinism {
        /// Seed range.
        #[arg(long)]
        seeds: String,
        /// Parallel seeds.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Shrinks a failing seed's fault schedule.
    Minimize {
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        #[command(flatten)]
        common: Common,
    },
    /// First divergence of two trace files (exit 1 when they differ).
    Diff {
        /// First trace file.
        a: String,
        /// Second trace file.
        b: String,
    },
}

#[derive(Args, Clone)]
struct Common {
    /// scheduled, classic or both.
    #[arg(long, default_value = "scheduled")]
    pipeline: String,
    /// swarm (each kind on in about half the seeds), none, or a comma-separated list of kinds.
    #[arg(long, default_value = "swarm")]
    faults: String,
    /// Run a deliberately broken engine (e.g. complete-before-sync, no-rewrite-after-broken).
    #[arg(long, hide = true, default_value = "none")]
    mutant: String,
    /// Client ops of the safety phase.
    #[arg(long, hide = true, default_value_t = DEFAULT_OPS)]
    ops: u64,
    /// Do not check acknowledgements immediately; only recovery and final oracles judge.
    #[arg(long, hide = true)]
    no_ack_check: bool,
    /// Do not check at each ARCHIVED event that the current file is not archived; only the
    /// recovery and region oracles judge.
    #[arg(long, hide = true)]
    no_archive_check: bool,
}

/// A usage error: message for stderr, exit code 2.
type Usage = String;

impl Common {
    /// The pipelines to run, and the options shared by all of them.
    fn options(&self) -> Result<(Vec<Pipeline>, RunOptions), Usage> {
        let pipelines = match self.pipeline.as_str() {
            "both" => {
                let missing: Vec<_> = [Pipeline::Scheduled, Pipeline::Classic]
                    .into_iter()
                    .filter(|p| !AVAILABLE_PIPELINES.contains(p))
                    .map(|p| p.name())
                    .collect();
                if !missing.is_empty() {
                    eprintln!(
                        "warning: --pipeline both: {} not available yet; running the others only",
                        missing.join(", ")
                    );
                }
                AVAILABLE_PIPELINES.to_vec()
            }
            name => {
                let p = Pipeline::from_name(name)
                    .ok_or_else(|| format!("unknown --pipeline {name:?}; expected scheduled, classic or both"))?;
                if !AVAILABLE_PIPELINES.contains(&p) {
                    return Err(format!("--pipeline {name}: the {name} pipeline is not available yet"));
                }
                vec![p]
            }
        };
        let mutant = Mutant::from_name(&self.mutant).ok_or_else(|| {
            let all: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
            format!("unknown --mutant {:?}; expected none or one of {}", self.mutant, all.join(", "))
        })?;
        let faults = FaultSelect::parse(&self.faults)?;
        let opts = RunOptions {
            pipeline: pipelines[0],
            mutant,
            faults,
            keep: None,
            ops: self.ops,
            ack_check: !self.no_ack_check,
            per_client_ops: false,
            archive_check: !self.no_archive_check,
        };
        Ok((pipelines, opts))
    }
}

/// Parses `A..B`, `A..=B` or `A`.
fn parse_seeds(s: &str) -> Result<Vec<u64>, Usage> {
    let bad = || format!("bad --seeds {s:?}; expected A..B, A..=B or a single seed");
    let num = |x: &str| x.trim().parse::<u64>().map_err(|_| bad());
    if let Some((a, b)) = s.split_once("..=") {
        Ok((num(a)?..=num(b)?).collect())
    } else if let Some((a, b)) = s.split_once("..") {
        Ok((num(a)?..num(b)?).collect())
    } else {
        Ok(vec![num(s)?])
    }
}

/// Parses `K/N` and keeps the seeds of shard K.
fn shard(seeds: Vec<u64>, spec: Option<&str>) -> Result<Vec<u64>, Usage> {
    let Some(spec) = spec else { return Ok(seeds) };
    let bad = || format!("bad --shard {spec:?}; expected K/N with 0 <= K < N");
    let (k, n) = spec.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok(seeds.into_iter().filter(|s| s % n == k).collect())
}

fn parse_keep(s: &str) -> Result<BTreeSet<usize>, Usage> {
    if s == "none" {
        return Ok(BTreeSet::new());
    }
    s.split(',').map(|x| x.trim().parse::<usize>().map_err(|_| format!("bad --keep-faults {s:?}"))).collect()
}

/// Entry point; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Sweep { seeds, jobs, shard: sh, common, json } => (|| {
            let (pipelines, opts) = common.options()?;
            let seeds = shard(parse_seeds(&seeds)?, sh.as_deref())?;
            Ok(sweep::sweep(&seeds, jobs.max(1), &pipelines, &opts, json))
        })(),
        Cmd::Run { seed, trace, keep_faults, diff, common } => (|| {
            let (pipelines, mut opts) = common.options()?;
            opts.keep = keep_faults.as_deref().map(parse_keep).transpose()?;
            if diff && pipelines.len() < 2 {
                return Err("--diff compares the two pipelines: add --pipeline both".into());
            }
            opts.per_client_ops |= diff;
            Ok(run::run(seed, &pipelines, &opts, trace.as_deref(), diff))
        })(),
        Cmd::Determinism { seeds, jobs, common } => (|| {
            let (_, opts) = common.options()?;
            Ok(run::determinism(&parse_seeds(&seeds)?, jobs.max(1), &opts))
        })(),
        Cmd::Minimize { seed, common } => (|| {
            let (_, opts) = common.options()?;
            Ok(run::minimize(seed, &opts))
        })(),
        Cmd::Diff { a, b } => Ok(diff(&a, &b)),
    };
    r.unwrap_or_else(|e: Usage| {
        eprintln!("error: {e}");
        2
    })
}

fn diff(a: &str, b: &str) -> i32 {
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"));
    match (read(a), read(b)) {
        (Ok(ta), Ok(tb)) => match crate::tracediff::report(a, &ta, b, &tb) {
            None => {
                println!("identical ({} lines)", ta.lines().count());
                0
            }
            Some(r) => {
                print!("{r}");
                1
            }
        },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            2
        }
    }
}
