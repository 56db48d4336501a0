//! `run`, `determinism` and `minimize`.

use std::collections::BTreeSet;
use std::io::Write;

use hwal::Pipeline;

use super::sweep::print_failure;
use crate::knobs::RunOptions;
use crate::runner::{pool, run_seed, Progress, RunResult};
use crate::tracediff;

/// Trace lines printed with a failure.
const LAST_LINES: usize = 40;

fn write_trace(path: &str, lines: &[String]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for l in lines {
        writeln!(f, "{l}")?;
    }
    f.flush()
}

fn fired_line(r: &RunResult) -> String {
    let v: Vec<String> = crate::faults::FaultKind::ALL
        .iter()
        .filter(|k| r.fired[k.index()] > 0)
        .map(|k| format!("{}={}", k.name(), r.fired[k.index()]))
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

/// `run --seed S`: returns the exit code.
pub fn run(seed: u64, pipelines: &[Pipeline], opts: &RunOptions, trace: Option<&str>, diff: bool) -> i32 {
    let mut code = 0;
    let mut views = Vec::new();
    for &p in pipelines {
        let o = RunOptions { pipeline: p, ..opts.clone() };
        let r = run_seed(seed, &o, true);
        println!("{}", r.knobs);
        for line in &r.plan {
            println!("fault {line}");
        }
        if let (Some(path), Some(lines)) = (trace, &r.trace) {
            let path = if pipelines.len() > 1 { format!("{path}.{}", p.name()) } else { path.to_string() };
            if let Err(e) = write_trace(&path, lines) {
                eprintln!("error: cannot write the trace to {path}: {e}");
                return 2;
            }
        }
        let lines = r.trace.as_ref().map_or(0, |t| t.len());
        if diff {
            views.push((p, tracediff::pipeline_view(&r.trace.clone().unwrap_or_default().join("\n")).join("\n")));
        }
        match &r.failure {
            None => println!(
                "result=ok seed={seed} pipeline={} ops={} events={lines} fired={}",
                p.name(),
                r.ops,
                fired_line(&r)
            ),
            Some(_) => {
                println!("result=FAIL seed={seed} pipeline={} events={lines} fired={}", p.name(), fired_line(&r));
                print_failure(&r, &o, LAST_LINES);
                code = 1;
            }
        }
    }
    if let [(pa, va), (pb, vb)] = &views[..] {
        match tracediff::report(pa.name(), va, pb.name(), vb) {
            None => println!("diff: {} and {} agree on every region's durable entries", pa.name(), pb.name()),
            Some(r) => {
                println!("diff: the pipelines disagree (with faults on, some divergence can be legitimate)\n{r}");
                code = 1;
            }
        }
    }
    code
}

/// `determinism --seeds A..B`: each seed twice, traces compared byte for byte.
pub fn determinism(seeds: &[u64], jobs: usize, opts: &RunOptions) -> i32 {
    let mut progress = Progress::default();
    let results = pool(
        seeds,
        jobs,
        |&seed| {
            let a = run_seed(seed, opts, true).trace.unwrap_or_default().join("\n");
            let b = run_seed(seed, opts, true).trace.unwrap_or_default().join("\n");
            let lines = a.lines().count();
            (seed, lines, tracediff::report("first run", &a, "second run", &b))
        },
        |done, total, _| progress.show(&format!("determinism: {done}/{total} seeds"), done == total),
    );
    let mut bad = 0;
    let mut total_lines = 0;
    for (seed, lines, diff) in &results {
        total_lines += lines;
        if let Some(d) = diff {
            bad += 1;
            println!("seed {seed}: NOT deterministic\n{d}  reproduce: {}", opts.repro_command(*seed));
        }
    }
    let avg = total_lines / results.len().max(1);
    if bad == 0 {
        println!("determinism: {} seeds, each run twice: all traces byte-identical (avg {avg} lines)", results.len());
        0
    } else {
        println!("determinism: {bad} of {} seeds produced different traces", results.len());
        1
    }
}

fn same_failure(a: &RunResult, b: &RunResult) -> bool {
    match (&a.failure, &b.failure) {
        (Some(x), Some(y)) => x.category == y.category && x.check == y.check,
        _ => false,
    }
}

/// `minimize --seed S`: drops fault-plan items while the seed still fails the same check.
pub fn minimize(seed: u64, opts: &RunOptions) -> i32 {
    let full = run_seed(seed, opts, false);
    let Some(f) = &full.failure else {
        println!("seed {seed} passes with {}; nothing to minimize", opts.repro_command(seed));
        return 0;
    };
    println!("seed {seed} fails: {f}");
    println!("fault plan ({} items):", full.plan.len());
    for p in &full.plan {
        println!("  {p}");
    }
    let all: BTreeSet<usize> = (0..full.plan.len()).collect();
    let attempt =
        |keep: &BTreeSet<usize>| run_seed(seed, &RunOptions { keep: Some(keep.clone()), ..opts.clone() }, false);
    let mut keep = all.clone();
    let mut runs = 1;
    let none = BTreeSet::new();
    runs += 1;
    if same_failure(&full, &attempt(&none)) {
        keep = none;
    } else {
        for i in all {
            let trial: BTreeSet<usize> = keep.iter().copied().filter(|&j| j != i).collect();
            runs += 1;
            if same_failure(&full, &attempt(&trial)) {
                keep = trial;
                println!("  dropped item #{i}: still fails");
            }
        }
    }
    let o = RunOptions { keep: Some(keep.clone()), ..opts.clone() };
    println!("smallest schedule after {runs} runs: {} of {} items", keep.len(), full.plan.len());
    for i in &keep {
        println!("  {}", full.plan[*i]);
    }
    if keep.is_empty() {
        println!("  (no faults needed)");
    }
    println!("reproduce: {}", o.repro_command(seed));
    1
}
