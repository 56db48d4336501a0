//! `hwal-peers`: hwal (both pipelines) head to head with tikv's raft-engine and okaywal.
//!
//! The same workload for every engine: N OS threads, each in a loop writing a B-byte entry and
//! waiting until it is durable (each engine's fdatasync write), `--ops` operations in all split
//! across the threads. Engines run one after another in one process, each in a fresh
//! subdirectory of one scratch directory (created under `--dir`, default the current
//! directory, and removed at the end). Reported per engine: ops/s, p50 and p99 latency (µs,
//! one op = write + wait for durability) and ops per sync where the engine lets us count syncs.
//! Each engine first runs `--warmup-ops` unmeasured operations (default: half of `--ops`), so
//! the engine that runs first is measured in the same steady state as the others.
//!
//! `--json` prints exactly one JSON object on stdout:
//! `{"<engine>": {"ops_per_sec": f, "p50_us": n, "p99_us": n, "ops_per_sync": f|null}, ...}`.
//! Progress goes to stderr.

mod engines;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use clap::Parser;

/// hwal vs raft-engine vs okaywal: N threads, each writing a B-byte entry and waiting until it
/// is durable.
#[derive(Parser, Debug)]
#[command(name = "hwal-peers")]
struct Args {
    /// Writer threads (each its own region / raft group).
    #[arg(long, default_value_t = 32)]
    threads: usize,
    /// Bytes of each entry's value.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Operations per engine, split across the threads.
    #[arg(long, default_value_t = 40_000)]
    ops: u64,
    /// Where to create the scratch directory (default: the current directory). Must be on
    /// the disk you mean to measure; not a tmpfs.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Operations per engine run before the measured ones, unmeasured, split across the
    /// threads as `--ops` is (0: none) [default: half of --ops]. Without them, whichever
    /// engine runs first has whole groups of slow syncs in its first ~200 ms and a p99 up to
    /// twice its steady one (see BENCHMARKS.md).
    #[arg(long)]
    warmup_ops: Option<u64>,
    /// Comma-separated engines, run in this order.
    #[arg(long, value_delimiter = ',', default_value = "hwal-scheduled,hwal-classic,raft-engine,okaywal")]
    engines: Vec<String>,
    /// hwal only: pre-write WAL files with zeros in chunks of this many bytes, so syncs
    /// overwrite allocated blocks (hwal's default); 0 = append-only files, as HBase does.
    #[arg(long, default_value_t = HWAL_DEFAULT_PREALLOCATE_BYTES)]
    hwal_preallocate: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// `--warmup-ops`, or half of `--ops`.
    fn warmup(&self) -> u64 {
        self.warmup_ops.unwrap_or(self.ops / 2)
    }
}

/// Largest value accepted (okaywal chunks and raft-engine batches are in memory).
const MAX_VALUE_SIZE: usize = 16 << 20;
/// hwal's own default pre-write chunk (`RealEnvBuilder::preallocate`: 1 MiB).
const HWAL_DEFAULT_PREALLOCATE_BYTES: u64 = 1024 * 1024;
/// Most writer threads accepted.
const MAX_THREADS: usize = 4096;

fn check(a: &Args) -> Result<(), String> {
    if a.threads == 0 || a.threads > MAX_THREADS {
        return Err(format!("--threads {} must be between 1 and {MAX_THREADS}", a.threads));
    }
    if a.value_size == 0 || a.value_size > MAX_VALUE_SIZE {
        return Err(format!("--value-size {} must be between 1 and {MAX_VALUE_SIZE}", a.value_size));
    }
    if a.ops < a.threads as u64 {
        return Err(format!("--ops {} must be at least --threads {} (every thread writes)", a.ops, a.threads));
    }
    if a.engines.is_empty() {
        return Err("--engines is empty".into());
    }
    for (i, e) in a.engines.iter().enumerate() {
        if !engines::ENGINES.contains(&e.as_str()) {
            return Err(format!("unknown engine {e:?} in --engines; known: {}", engines::ENGINES.join(", ")));
        }
        if a.engines[..i].contains(e) {
            return Err(format!("engine {e:?} is listed twice in --engines"));
        }
    }
    Ok(())
}

/// What one engine did.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    ops: u64,
    elapsed: Duration,
    /// Sorted, nanoseconds.
    latencies_ns: Vec<u64>,
    syncs: Option<u64>,
}

impl Outcome {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// Nearest-rank percentile in whole microseconds.
    fn percentile_us(&self, p: f64) -> u64 {
        let v = &self.latencies_ns;
        if v.is_empty() {
            return 0;
        }
        let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1] / 1000
    }
    fn ops_per_sync(&self) -> Option<f64> {
        self.syncs.filter(|&s| s > 0).map(|s| self.ops as f64 / s as f64)
    }
    fn json(&self) -> serde_json::Value {
        let round = |x: f64, d: i32| (x * 10f64.powi(d)).round() / 10f64.powi(d);
        serde_json::json!({
            "ops_per_sec": round(self.ops_per_sec(), 1),
            "p50_us": self.percentile_us(0.50),
            "p99_us": self.percentile_us(0.99),
            "ops_per_sync": self.ops_per_sync().map(|x| round(x, 2)),
        })
    }
}

/// Operations thread `t` of `threads` performs out of `total`.
fn share(total: u64, threads: usize, t: usize) -> u64 {
    total / threads as u64 + u64::from((t as u64) < total % threads as u64)
}

/// Runs the workload on one open engine: threads released by one barrier, each timing every op.
/// Thread `t` numbers its ops from `first(t)` on (entry indexes continue past a warm-up).
fn drive(
    target: &dyn engines::Target,
    threads: usize,
    total: u64,
    value: &[u8],
    first: impl Fn(usize) -> u64 + Sync,
) -> Result<Outcome, String> {
    let barrier = Barrier::new(threads + 1);
    let syncs_before = target.syncs();
    let (start, results) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, first) = (&barrier, &first);
                s.spawn(move || -> Result<Vec<u64>, String> {
                    let n = share(total, threads, t);
                    let mut lat = Vec::with_capacity(n as usize);
                    let base = first(t);
                    barrier.wait();
                    for i in base..base + n {
                        let t0 = Instant::now();
                        target.op(t, i, value)?;
                        lat.push(t0.elapsed().as_nanos() as u64);
                    }
                    Ok(lat)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<_> =
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a writer thread panicked".into()))).collect();
        (start, results)
    });
    let elapsed = start.elapsed();
    let mut latencies_ns = Vec::with_capacity(total as usize);
    for r in results {
        latencies_ns.extend(r?);
    }
    latencies_ns.sort_unstable();
    let syncs = match (syncs_before, target.syncs()) {
        (Some(b), Some(a)) => Some(a - b),
        _ => None,
    };
    Ok(Outcome { ops: total, elapsed, latencies_ns, syncs })
}

/// `--warmup-ops` unmeasured operations, then the measured `--ops` (entry indexes continue).
fn warm_then_drive(target: &dyn engines::Target, a: &Args, value: &[u8]) -> Result<Outcome, String> {
    let warmup = a.warmup();
    if warmup > 0 {
        drive(target, a.threads, warmup, value, |_| 0)?;
    }
    drive(target, a.threads, a.ops, value, |t| share(warmup, a.threads, t))
}

fn run_engine(name: &str, dir: &Path, a: &Args, value: &[u8]) -> Result<Outcome, String> {
    std::fs::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let opts = engines::Options { hwal_preallocate_bytes: a.hwal_preallocate };
    let target = engines::open(name, dir, a.threads, opts)?;
    let outcome = warm_then_drive(&*target, a, value)?;
    target.close()?;
    Ok(outcome)
}

fn table(a: &Args, results: &[(String, Outcome)]) -> String {
    let mut out = format!(
        "hwal-peers: {} threads, {} B values, {} ops per engine after {} unmeasured, each op waits for fdatasync; hwal pre-writes {} B chunks\n",
        a.threads, a.value_size, a.ops, a.warmup(), a.hwal_preallocate
    );
    out += &format!(
        "{:<16} {:>12} {:>9} {:>9} {:>9} {:>10} {:>9}\n",
        "engine", "ops/s", "p50 us", "p99 us", "syncs", "ops/sync", "secs"
    );
    for (name, o) in results {
        let syncs = o.syncs.map_or("n/a".to_string(), |s| s.to_string());
        let per = o.ops_per_sync().map_or("n/a".to_string(), |x| format!("{x:.2}"));
        out += &format!(
            "{:<16} {:>12.0} {:>9} {:>9} {:>9} {:>10} {:>9.2}\n",
            name,
            o.ops_per_sec(),
            o.percentile_us(0.50),
            o.percentile_us(0.99),
            syncs,
            per,
            o.elapsed.as_secs_f64()
        );
    }
    out
}

fn run(a: &Args) -> Result<(), String> {
    let base = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?,
    };
    std::fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix(".hwal-peers-")
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a scratch directory in {}: {e}", base.display()))?;
    let value = vec![0xa5u8; a.value_size];
    let mut results = Vec::new();
    for (i, name) in a.engines.iter().enumerate() {
        eprintln!(
            "hwal-peers: [{}/{}] {name}: {} threads, {} ops, {} B values in {}",
            i + 1,
            a.engines.len(),
            a.threads,
            a.ops,
            a.value_size,
            scratch.path().join(name).display()
        );
        let o = run_engine(name, &scratch.path().join(name), a, &value).map_err(|e| format!("{name}: {e}"))?;
        eprintln!(
            "hwal-peers: [{}/{}] {name}: {:.0} ops/s, p50 {} us, p99 {} us, {} in {:.2} s",
            i + 1,
            a.engines.len(),
            o.ops_per_sec(),
            o.percentile_us(0.50),
            o.percentile_us(0.99),
            o.ops_per_sync().map_or("ops/sync n/a".to_string(), |x| format!("{x:.2} ops/sync")),
            o.elapsed.as_secs_f64()
        );
        results.push((name.clone(), o));
    }
    let mut stdout = std::io::stdout().lock();
    if a.json {
        let obj: serde_json::Map<String, serde_json::Value> =
            results.iter().map(|(n, o)| (n.clone(), o.json())).collect();
        writeln!(stdout, "{}", serde_json::Value::Object(obj)).map_err(|e| format!("stdout: {e}"))?;
    } else {
        write!(stdout, "{}", table(a, &results)).map_err(|e| format!("stdout: {e}"))?;
    }
    Ok(())
}

fn main() {
    let a = Args::parse();
    if let Err(e) = check(&a) {
        eprintln!("hwal-peers: {e}");
        std::process::exit(2);
    }
    if let Err(e) = run(&a) {
        eprintln!("hwal-peers: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<Args, String> {
        let mut v = vec!["hwal-peers"];
        v.extend_from_slice(extra);
        let a = Args::try_parse_from(v).map_err(|e| e.to_string())?;
        check(&a)?;
        Ok(a)
    }

    /// Bad flags are refused with a message naming the flag; good ones parse.
    #[test]
    fn flags_are_checked() {
        let a = args(&["--threads", "8", "--ops", "100", "--engines", "okaywal,hwal-classic"]).unwrap();
        assert_eq!(a.engines, vec!["okaywal", "hwal-classic"]);
        assert!(args(&["--threads", "0"]).unwrap_err().contains("--threads"));
        assert!(args(&["--threads", "8", "--ops", "4"]).unwrap_err().contains("--ops"));
        assert!(args(&["--value-size", "0"]).unwrap_err().contains("--value-size"));
        assert!(args(&["--engines", "rocksdb"]).unwrap_err().contains("rocksdb"));
        assert!(args(&["--engines", "okaywal,okaywal"]).unwrap_err().contains("twice"));
        assert!(args(&["--threads", "x"]).is_err());
    }

    /// Records every op; counts syncs as one per op.
    #[derive(Default)]
    struct Recorder {
        ops: std::sync::Mutex<Vec<(usize, u64)>>,
    }

    impl engines::Target for Recorder {
        fn op(&self, thread: usize, i: u64, _value: &[u8]) -> Result<(), String> {
            self.ops.lock().unwrap().push((thread, i));
            Ok(())
        }
        fn syncs(&self) -> Option<u64> {
            Some(self.ops.lock().unwrap().len() as u64)
        }
        fn close(self: Box<Self>) -> Result<(), String> {
            Ok(())
        }
    }

    /// The warm-up runs first and is not measured; each thread's entry indexes run on from it
    /// without a gap or a repeat; `--warmup-ops 0` measures from the first op.
    #[test]
    fn warm_up_is_unmeasured_and_indexes_continue() {
        for warmup in [Some("10"), Some("0"), Some("3"), None] {
            let mut flags = vec!["--threads", "4", "--ops", "70"];
            flags.extend(warmup.iter().flat_map(|w| ["--warmup-ops", *w]));
            let a = args(&flags).unwrap();
            assert_eq!(a.warmup(), warmup.map_or(35, |w| w.parse().unwrap()));
            let rec = Recorder::default();
            let o = warm_then_drive(&rec, &a, b"v").unwrap();
            assert_eq!((o.ops, o.latencies_ns.len() as u64, o.syncs), (70, 70, Some(70)));
            let all = rec.ops.into_inner().unwrap();
            assert_eq!(all.len() as u64, a.warmup() + 70);
            for t in 0..4 {
                let mut mine: Vec<u64> = all.iter().filter(|(th, _)| *th == t).map(|(_, i)| *i).collect();
                mine.sort_unstable();
                let n = share(a.warmup(), 4, t) + share(70, 4, t);
                assert_eq!(mine, (0..n).collect::<Vec<_>>(), "thread {t} with --warmup-ops {warmup:?}");
            }
        }
        assert!(args(&["--warmup-ops", "-1"]).is_err());
    }

    /// Ops are split exactly; percentiles are nearest-rank; ops/sync is null without syncs.
    #[test]
    fn shares_percentiles_and_json() {
        assert_eq!((0..3).map(|t| share(10, 3, t)).collect::<Vec<_>>(), vec![4, 3, 3]);
        let o = Outcome {
            ops: 100,
            elapsed: Duration::from_secs(2),
            latencies_ns: (1..=100).map(|i| i * 1000).collect(),
            syncs: None,
        };
        assert_eq!((o.percentile_us(0.5), o.percentile_us(0.99)), (50, 99));
        let j = o.json();
        assert_eq!(j["ops_per_sec"], 50.0);
        assert!(j["ops_per_sync"].is_null());
        let o = Outcome { syncs: Some(40), ..o };
        assert_eq!(o.json()["ops_per_sync"], 2.5);
    }
}
