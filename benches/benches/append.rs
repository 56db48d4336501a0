//! The append path alone, without a filesystem: ASYNC_WAL appends (no sync waited for) of
//! 100-byte values from 1 and 4 OS threads, through the public API, on a WAL whose filesystem
//! discards bytes and whose syncs complete at once ([`hwal_benches::null_env`]). Both pipelines.
//!
//! One criterion iteration = one append; each measured call splits its appends across the
//! threads and includes the final `sync_all` that waits until the consumer wrote them all (so a
//! backlog in the ring is not hidden). After each function, one line on stderr gives appends
//! per sync and syncs per second (the WAL still syncs every `batch_size_bytes`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hwal::wal::listener::NoopListener;
use hwal::{Config, Mvcc, Pipeline, Wal};
use hwal_benches::{null_env, run_writers, Op, SyncReport, VALUE_SIZE};

fn append(c: &mut Criterion) {
    let value = vec![b'v'; VALUE_SIZE];
    let mut g = c.benchmark_group("append_nullfs");
    g.throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for pipeline in [Pipeline::Scheduled, Pipeline::Classic] {
        for threads in [1usize, 4] {
            let env = null_env(2).expect("runtime");
            let cfg = Config { pipeline, ..Config::default() };
            let wal = Wal::open_blocking(env, cfg, std::sync::Arc::new(NoopListener)).expect("open");
            let regions: Vec<Mvcc> = (0..threads).map(|_| Mvcc::new(0)).collect();
            let mut report = SyncReport::start(&wal);
            g.bench_with_input(BenchmarkId::new(pipeline.name(), threads), &threads, |b, &t| {
                b.iter_custom(|iters| {
                    let d = run_writers(&wal, &regions, iters.div_ceil(t as u64), Op::Append, &value);
                    report.add(d);
                    d
                })
            });
            if let Some(line) = report.line(&wal, &format!("append_nullfs/{}/{threads}", pipeline.name())) {
                eprintln!("{line}");
            }
            wal.close_blocking().expect("close");
        }
    }
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
