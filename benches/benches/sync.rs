//! Append + FSYNC_WAL on real disk: N OS threads each append a 100-byte value and wait until it
//! is hsync'ed (fdatasync), through the public API, in a fresh directory under
//! `$HWAL_BENCH_DIR` or the target dir's tmp (the same disk as the build, never a tmpfs).
//!
//! - `sync_writers`: 1, 8, 32, 64 writers, default config (scheduled pipeline).
//! - `sync_runners_32w`: 32 writers with 1, 3, 5 sync runners, once with the default of one sync
//!   in flight (`max_inflight_syncs = 1`) and once letting every runner sync at once (`0`,
//!   HBase's behaviour).
//!
//! One criterion iteration = [`OPS_PER_WRITER`] durable appends by each writer; throughput is
//! elements (durable appends) per second. After each function one line on stderr gives appends
//! per sync and syncs per second. Flat sampling: each sample runs the same number of iterations.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use hwal::env::RealEnv;
use hwal::wal::listener::NoopListener;
use hwal::{Config, Durability, Mvcc, Wal};
use hwal_benches::{bench_dir, run_writers, Op, SyncReport, VALUE_SIZE};

/// Durable appends per writer in one criterion iteration.
const OPS_PER_WRITER: u64 = 16;

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Benchmarks `writers` writers on a fresh WAL with `cfg`, as `function/param` in `g`.
fn measure(g: &mut Group<'_>, group: &str, function: &str, param: usize, writers: usize, cfg: Config) {
    let value = vec![b'v'; VALUE_SIZE];
    let dir = bench_dir(env!("CARGO_TARGET_TMPDIR"));
    let env = RealEnv::builder(dir.path()).build().expect("real env");
    let wal = Wal::open_blocking(env, cfg, std::sync::Arc::new(NoopListener)).expect("open");
    let regions: Vec<Mvcc> = (0..writers).map(|_| Mvcc::new(0)).collect();
    let mut report = SyncReport::start(&wal);
    let name = format!("{group}/{function}/{param}");
    g.throughput(Throughput::Elements(writers as u64 * OPS_PER_WRITER));
    g.bench_function(BenchmarkId::new(function, param), |b| {
        b.iter_custom(|iters| {
            let d = run_writers(&wal, &regions, iters * OPS_PER_WRITER, Op::AppendSync(Durability::FsyncWal), &value);
            report.add(d);
            d
        })
    });
    if let Some(line) = report.line(&wal, &name) {
        eprintln!("{line}");
    }
    wal.close_blocking().expect("close");
}

fn configure(g: &mut Group<'_>) {
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
}

fn sync_writers(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync_writers");
    configure(&mut g);
    for writers in [1usize, 8, 32, 64] {
        measure(&mut g, "sync_writers", "scheduled", writers, writers, Config::default());
    }
    g.finish();
}

fn sync_runners(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync_runners_32w");
    configure(&mut g);
    for (label, inflight) in [("inflight=1", 1usize), ("inflight=all", 0)] {
        for runners in [1usize, 3, 5] {
            let cfg = Config { sync_runners: runners, max_inflight_syncs: inflight, ..Config::default() };
            measure(&mut g, "sync_runners_32w", &format!("{label}/runners"), runners, 32, cfg);
        }
    }
    g.finish();
}

criterion_group!(benches, sync_writers, sync_runners);
criterion_main!(benches);
