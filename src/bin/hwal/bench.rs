//! `hwal bench`: the WALPerformanceEvaluation analogue.
//!
//! N OS threads each append a V-byte edit and (per `--sync`) wait until it is durable, through
//! the public API. In the same run and directory it measures the disk's ceiling: one full batch
//! (threads × framed entry size) written and fdatasync'ed, appended to a new file and
//! overwritten in a pre-written file; L is the lower median; each writer waits at least one
//! sync and one sync can at best cover every writer, so the ceiling is `threads / L`. Half the
//! probe samples are taken before the workload and half after, and the medians are over both:
//! a shared disk's sync latency drifts within minutes, and a ceiling taken at one moment alone
//! made the efficiency swing by 2x between otherwise equal runs.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use hwal::format::framed_entry_len;
use hwal::{Config, Durability, Entry, Mvcc, RegionName, Wal, WalEdit, WalKey};

use super::PipelineArg;

/// How often writers sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncEvery {
    /// After every append.
    Every,
    /// Never (ASYNC_WAL); one sync at the end.
    None,
    /// After every K appends of a thread.
    K(u64),
}

impl FromStr for SyncEvery {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "every" => Ok(SyncEvery::Every),
            "none" => Ok(SyncEvery::None),
            k => match k.parse::<u64>() {
                Ok(0) | Err(_) => Err(format!("--sync takes `every`, `none` or a positive count, not {k:?}")),
                Ok(1) => Ok(SyncEvery::Every),
                Ok(k) => Ok(SyncEvery::K(k)),
            },
        }
    }
}

impl SyncEvery {
    fn name(self) -> String {
        match self {
            SyncEvery::Every => "every".into(),
            SyncEvery::None => "none".into(),
            SyncEvery::K(k) => k.to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DurabilityArg {
    /// hflush: survives a process crash (write(2) on local disk).
    Sync,
    /// hsync: survives power loss (fdatasync).
    Fsync,
}

/// Flags of `hwal bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Directory for the WAL and the ceiling probe files (created; must hold no WAL yet).
    #[arg(long)]
    dir: PathBuf,
    /// Writer threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Appends per thread.
    #[arg(long, default_value_t = 10_000)]
    iterations: u64,
    /// Value bytes per edit.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Regions; thread i writes region i % regions.
    #[arg(long, default_value_t = 1)]
    regions: usize,
    /// `every`, `none`, or K (sync after every K appends of a thread).
    #[arg(long, default_value = "every")]
    sync: SyncEvery,
    /// What a sync waits for.
    #[arg(long, value_enum, default_value = "fsync")]
    durability: DurabilityArg,
    /// Which pipeline.
    #[arg(long, value_enum, default_value = "scheduled")]
    pipeline: PipelineArg,
    /// Roll the WAL whenever the current file exceeds this many bytes.
    #[arg(long)]
    roll_size: Option<u64>,
    /// Syncs in flight at once (0 = unbounded, as HBase).
    #[arg(long, default_value_t = 1)]
    max_inflight_syncs: usize,
    /// Issue the next sync at once instead of letting woken writers re-append first (HBase).
    #[arg(long)]
    no_sync_coalesce: bool,
    /// Hand every sync to a sync-runner task (HBase) instead of starting it from the consumer.
    #[arg(long)]
    no_direct_sync: bool,
    /// Always wake the consumer task (HBase) instead of consuming on the caller's thread.
    #[arg(long)]
    no_inline_consume: bool,
    /// Hand every sync to the file's I/O thread instead of letting the waiting caller that
    /// runs the consume perform it (HBase hands syncs to runner threads).
    #[arg(long)]
    no_leader_sync: bool,
    /// Append and sync in two calls (`append` then `sync`, as HBase's WALPerformanceEvaluation
    /// does) instead of one `append_sync` call when an operation syncs.
    #[arg(long)]
    separate_sync: bool,
    /// Pre-write WAL files with zeros in chunks of this many bytes (0 = append-only, as HBase).
    #[arg(long, default_value_t = hwal::env::DEFAULT_PREALLOCATE_BYTES)]
    preallocate: u64,
    /// Samples per ceiling probe (half before the workload, half after).
    #[arg(long, default_value_t = 200)]
    ceiling_samples: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

struct Ceiling {
    append_us: f64,
    overwrite_us: f64,
    ops_per_sec: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// `samples` fdatasync'ed writes of `batch` to a new file at `path` (removed after); their times
/// in microseconds.
fn probe(path: &Path, batch: &[u8], samples: usize, overwrite: bool) -> std::io::Result<Vec<f64>> {
    let mut f: File = OpenOptions::new().create_new(true).write(true).open(path)?;
    if overwrite {
        f.write_all(&vec![0u8; batch.len() * samples])?;
        f.sync_all()?;
    }
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let t = Instant::now();
        if overwrite {
            f.write_all_at(batch, (i * batch.len()) as u64)?;
        } else {
            f.write_all(batch)?;
        }
        f.sync_data()?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    drop(f);
    std::fs::remove_file(path)?;
    Ok(times)
}

/// Sync times of the ceiling probes, gathered in rounds (before and after the workload).
#[derive(Default)]
struct CeilingSamples {
    append_us: Vec<f64>,
    overwrite_us: Vec<f64>,
}

impl CeilingSamples {
    /// One round of `samples` appending and `samples` overwriting probes of one full batch.
    fn probe(&mut self, dir: &Path, threads: usize, entry_len: usize, samples: usize) -> std::io::Result<()> {
        let batch = vec![0x5au8; threads * entry_len];
        let samples = samples.max(3);
        self.append_us.extend(probe(&dir.join(".ceiling-append"), &batch, samples, false)?);
        self.overwrite_us.extend(probe(&dir.join(".ceiling-overwrite"), &batch, samples, true)?);
        Ok(())
    }

    fn ceiling(self, threads: usize) -> Ceiling {
        let append_us = median(self.append_us);
        let overwrite_us = median(self.overwrite_us);
        let l = append_us.min(overwrite_us);
        Ceiling { append_us, overwrite_us, ops_per_sec: threads as f64 / (l / 1e6) }
    }
}

fn sample_entry(value_size: usize) -> Entry {
    let mut key = WalKey::new(RegionName::new("r0"), "bench", 0);
    key.seqid = 1_000_000;
    Entry { txid: 1_000_000, key, edit: edit(0, 0, value_size) }
}

fn edit(thread: usize, i: u64, value_size: usize) -> WalEdit {
    let row = format!("row-{thread:04}-{i:010}");
    WalEdit::put(row.as_bytes(), b"f", b"q", i, &vec![b'v'; value_size])
}

/// Latencies in microseconds, in a fixed-size log-linear histogram: exact below 128 µs, then 64
/// buckets per power of two (a bucket is at most 1/64 = 1.6% wide). Its size does not depend on
/// the number of operations, so the bench's own memory stays flat however long it runs (the
/// peak-RSS measurement of the engine depends on that).
#[derive(Clone)]
struct LatencyHist {
    counts: Vec<u64>,
    total: u64,
    max: u32,
}

/// Sub-buckets per power of two (above the exact range).
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Values below this are counted exactly.
const EXACT: u32 = 2 * SUB as u32;
/// Buckets for the whole `u32` range: the exact ones plus 64 per power of two from 2^7 to 2^31.
const BUCKETS: usize = EXACT as usize + (31 - SUB_BITS as usize) * SUB;

impl LatencyHist {
    fn new() -> Self {
        Self { counts: vec![0; BUCKETS], total: 0, max: 0 }
    }

    fn index(v: u32) -> usize {
        if v < EXACT {
            return v as usize;
        }
        let shift = 31 - v.leading_zeros() - SUB_BITS;
        let top = (v >> shift) as usize - SUB;
        EXACT as usize + (shift as usize - 1) * SUB + top
    }

    /// The smallest value that falls in bucket `i`.
    fn lower_bound(i: usize) -> u32 {
        if i < EXACT as usize {
            return i as u32;
        }
        let j = i - EXACT as usize;
        let shift = (j / SUB + 1) as u32;
        ((SUB + j % SUB) as u32) << shift
    }

    fn record(&mut self, v: u32) {
        self.counts[Self::index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    fn merge(&mut self, other: &LatencyHist) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The value at rank `floor(total × p)` (0-based), as its bucket's lower bound: exact below
    /// 128 µs, at most 1.6% low above. 0 when empty.
    fn percentile(&self, p: f64) -> u32 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((self.total as f64 * p) as u64).min(self.total - 1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen > rank {
                return Self::lower_bound(i).min(self.max);
            }
        }
        self.max
    }
}

fn check(a: &BenchArgs) -> Result<(), String> {
    if a.threads == 0 || a.iterations == 0 || a.regions == 0 {
        return Err("--threads, --iterations and --regions must be at least 1".into());
    }
    if a.value_size > 16 << 20 {
        return Err(format!("--value-size {} is above the 16 MiB limit", a.value_size));
    }
    if a.dir.join("WALs").exists() {
        return Err(format!("{} already holds a WAL (WALs/); give bench an empty directory", a.dir.display()));
    }
    Ok(())
}

/// Runs the benchmark; returns the exit code.
pub fn run(a: BenchArgs) -> i32 {
    if let Err(e) = check(&a) {
        eprintln!("hwal bench: {e}");
        return 2;
    }
    match run_inner(&a) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("hwal bench: {e}");
            1
        }
    }
}

struct Outcome {
    elapsed: Duration,
    latencies: LatencyHist,
    stats: hwal::WalStats,
}

fn workload(a: &BenchArgs) -> Result<Outcome, String> {
    let mut cfg = Config {
        pipeline: a.pipeline.into(),
        max_inflight_syncs: a.max_inflight_syncs,
        sync_coalesce: !a.no_sync_coalesce,
        direct_sync: !a.no_direct_sync,
        inline_consume: !a.no_inline_consume,
        leader_sync: if a.no_leader_sync { hwal::LeaderSync::Off } else { hwal::LeaderSync::Blocking },
        ..Config::default()
    };
    if let Some(r) = a.roll_size {
        cfg.roll_size_bytes = r;
    }
    let env = hwal::env::RealEnv::builder(&a.dir).preallocate(a.preallocate).build().map_err(|e| e.to_string())?;
    let listener = Arc::new(hwal::wal::listener::NoopListener);
    let wal = Arc::new(Wal::open_blocking(env, cfg, listener).map_err(|e| e.to_string())?);
    let regions: Vec<Arc<Mvcc>> = (0..a.regions).map(|_| Arc::new(Mvcc::new(0))).collect();
    let durability = match a.durability {
        DurabilityArg::Sync => Durability::SyncWal,
        DurabilityArg::Fsync => Durability::FsyncWal,
    };
    let done = Arc::new(AtomicU64::new(0));
    let progress = progress_reporter(done.clone(), a.threads as u64 * a.iterations);
    let start = Instant::now();
    let handles: Vec<_> = (0..a.threads)
        .map(|t| {
            let (wal, mvcc, done) = (wal.clone(), regions[t % a.regions].clone(), done.clone());
            let region = RegionName::new(&format!("r{}", t % a.regions));
            let (iterations, value_size, sync, separate) = (a.iterations, a.value_size, a.sync, a.separate_sync);
            std::thread::spawn(move || -> Result<LatencyHist, String> {
                let mut lat = LatencyHist::new();
                for i in 0..iterations {
                    let t0 = Instant::now();
                    let key = WalKey::new(region.clone(), "bench", i);
                    let want = match sync {
                        SyncEvery::Every => true,
                        SyncEvery::None => false,
                        SyncEvery::K(k) => (i + 1) % k == 0,
                    };
                    let r = if want && !separate {
                        let r = wal.append_sync_blocking(&mvcc, key, edit(t, i, value_size), durability);
                        let r = r.map_err(|e| e.to_string())?;
                        mvcc.complete(r.appended.write_entry);
                        r.synced
                    } else {
                        let ap = wal.append_blocking(&mvcc, key, edit(t, i, value_size)).map_err(|e| e.to_string())?;
                        let r = if want { wal.sync_blocking(ap.txid, durability) } else { Ok(()) };
                        mvcc.complete(ap.write_entry);
                        r
                    };
                    r.map_err(|e| e.to_string())?;
                    lat.record(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(lat)
            })
        })
        .collect();
    let mut latencies = LatencyHist::new();
    for h in handles {
        latencies.merge(&h.join().map_err(|_| "a writer thread panicked".to_string())??);
    }
    let hsync = matches!(a.durability, DurabilityArg::Fsync);
    hwal::env::block_on(wal.sync_all(hsync)).map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    done.store(u64::MAX, Ordering::Relaxed);
    let stats = wal.stats();
    wal.close_blocking().map_err(|e| e.to_string())?;
    if let Some(p) = progress {
        let _ = p.join();
    }
    Ok(Outcome { elapsed, latencies, stats })
}

fn progress_reporter(done: Arc<AtomicU64>, total: u64) -> Option<std::thread::JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        let d = done.load(Ordering::Relaxed);
        if d == u64::MAX {
            eprint!("\r{:60}\r", "");
            return;
        }
        eprint!("\rhwal bench: {d}/{total} ops ({:.0}%)", d as f64 * 100.0 / total as f64);
    }))
}

fn run_inner(a: &BenchArgs) -> Result<(), String> {
    std::fs::create_dir_all(&a.dir).map_err(|e| format!("cannot create {}: {e}", a.dir.display()))?;
    let entry_len = framed_entry_len(&sample_entry(a.value_size));
    let probe_failed = |e: std::io::Error| format!("ceiling probe in {} failed: {e}", a.dir.display());
    let mut samples = CeilingSamples::default();
    let before = a.ceiling_samples.div_ceil(2);
    samples.probe(&a.dir, a.threads, entry_len, before).map_err(probe_failed)?;
    let o = workload(a)?;
    samples.probe(&a.dir, a.threads, entry_len, a.ceiling_samples - before).map_err(probe_failed)?;
    report(a, &o, &samples.ceiling(a.threads));
    Ok(())
}

fn report(a: &BenchArgs, o: &Outcome, c: &Ceiling) {
    let appends = a.threads as u64 * a.iterations;
    let secs = o.elapsed.as_secs_f64();
    let ops = appends as f64 / secs;
    let syncs = o.stats.syncs.max(1);
    let mb = o.stats.appended_bytes as f64 / secs / 1e6;
    let (p50, p99, p999) = (o.latencies.percentile(0.50), o.latencies.percentile(0.99), o.latencies.percentile(0.999));
    let max = o.latencies.max;
    let eff = ops / c.ops_per_sec;
    if a.json {
        let j = serde_json::json!({
            "threads": a.threads, "iterations": a.iterations, "value_size": a.value_size,
            "regions": a.regions, "sync": a.sync.name(), "pipeline": format!("{:?}", a.pipeline).to_lowercase(),
            "appends": appends, "syncs": o.stats.syncs, "appends_per_sync": appends as f64 / syncs as f64,
            "rolls": o.stats.rolls, "elapsed_s": secs, "ops_per_sec": ops, "mb_per_sec": mb,
            "latency_us": {"p50": p50, "p99": p99, "p999": p999, "max": max},
            "ceiling_append_sync_us": c.append_us, "ceiling_overwrite_sync_us": c.overwrite_us,
            "ceiling_ops_per_sec": c.ops_per_sec, "efficiency": eff,
        });
        println!("{j}");
        return;
    }
    println!(
        "hwal bench: {} threads x {} appends, {} B values, {} regions, sync {}, pipeline {:?}",
        a.threads,
        a.iterations,
        a.value_size,
        a.regions,
        a.sync.name(),
        a.pipeline
    );
    println!("  ops/s               {ops:>12.0}");
    println!("  MB/s                {mb:>12.2}");
    println!("  syncs               {:>12}", o.stats.syncs);
    println!("  appends/sync        {:>12.2}", appends as f64 / syncs as f64);
    println!("  rolls               {:>12}", o.stats.rolls);
    println!("  latency p50/p99/p999/max us  {p50} / {p99} / {p999} / {max}");
    println!("  ceiling: fdatasync {:.0} us appending, {:.0} us overwriting", c.append_us, c.overwrite_us);
    println!("  ceiling ops/s       {:>12.0}", c.ops_per_sec);
    println!("  efficiency          {eff:>12.3}");
}

#[cfg(test)]
mod tests {
    use super::LatencyHist;

    #[test]
    fn buckets_cover_u32_and_stay_within_1_6_percent() {
        let mut last = 0;
        for v in (0..5000u32).chain([u32::MAX / 3, u32::MAX - 1, u32::MAX]) {
            let i = LatencyHist::index(v);
            assert!(i < super::BUCKETS, "{v} -> bucket {i}");
            assert!(i >= last || v > 5000, "index not monotonic at {v}");
            last = i;
            let lo = LatencyHist::lower_bound(i);
            assert!(lo <= v, "{v}: lower bound {lo}");
            assert!((v - lo) as f64 <= v as f64 / 64.0, "{v}: lower bound {lo} too far");
            assert_eq!(LatencyHist::index(lo), i, "lower bound {lo} of bucket {i} falls elsewhere");
        }
    }

    #[test]
    fn percentiles_match_a_sorted_vector() {
        let mut h = LatencyHist::new();
        let mut all: Vec<u32> = (0..10_000u32).map(|i| (i * 7919) % 3000 + (i % 97) * 50).collect();
        for &v in &all {
            h.record(v);
        }
        all.sort_unstable();
        for p in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let exact = all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
            let got = h.percentile(p);
            assert!(got <= exact && (exact - got) as f64 <= exact as f64 / 64.0, "p{p}: {got} vs exact {exact}");
        }
        assert_eq!(h.max, *all.last().unwrap());
        assert_eq!(LatencyHist::new().percentile(0.5), 0);
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (LatencyHist::new(), LatencyHist::new());
        a.record(10);
        b.record(1000);
        b.record(20);
        a.merge(&b);
        assert_eq!((a.total, a.max, a.percentile(0.0), a.percentile(0.5)), (3, 1000, 10, 20));
    }
}
