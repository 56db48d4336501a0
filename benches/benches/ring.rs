//! Multi-producer publish throughput: hwal's `Ring` against the `disruptor` crate (4.4),
//! `crossbeam-channel` bounded and `std::sync::mpsc::sync_channel`.
//!
//! One criterion group per producer count (1, 2, 4), one consumer thread draining, elements/s.
//! What is kept equal, so only the queue differs:
//! - capacity 1024 slots everywhere (disruptor's multi-producer ring needs a power of two ≥ 64);
//! - element type `u64`, the producer's running counter;
//! - the consumer's work per element: add it to a running sum (checked at the end);
//! - the wait strategy on both sides: a non-blocking try (`try_claim`, `try_publish`,
//!   `try_send`; `poll`, `take`, `try_recv`) and, when it fails, the same [`Backoff`] (spin with
//!   `spin_loop` a few times, then `yield_now`). No side parks, so no side pays a futex wake;
//! - the consumer releases slots at most every [`BATCH`] elements on both rings (hwal: `release`
//!   after a batch of `poll`s; disruptor: `take(BATCH)`, whose guard releases on drop); the
//!   channels release per element, as they are built to;
//! - every queue is multi-producer even with one producer (hwal's ring is always MPSC).
//!
//! Each measured call builds a fresh queue, starts the consumer and producers, releases them
//! with one barrier and stops the clock when the consumer has taken every element.

use std::hint::{black_box, spin_loop};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use disruptor::{BusySpin, Polling, Producer};
use hwal::core::ring::Ring;

/// Slots in every queue.
const CAPACITY: usize = 1024;
/// Most elements the ring consumers take before releasing slots.
const BATCH: u64 = 128;

/// Spin a little, then yield the core (2 cores shared by producers and consumer).
struct Backoff(u32);

impl Backoff {
    fn new() -> Self {
        Backoff(0)
    }
    fn snooze(&mut self) {
        if self.0 < 6 {
            for _ in 0..(1 << self.0) {
                spin_loop();
            }
            self.0 += 1;
        } else {
            thread::yield_now();
        }
    }
    fn reset(&mut self) {
        self.0 = 0;
    }
}

/// Elements producer `p` of `producers` sends when `total` are sent in all.
fn share(total: u64, producers: usize, p: usize) -> u64 {
    total / producers as u64 + u64::from((p as u64) < total % producers as u64)
}

/// Expected consumer sum: each producer sends 0..n.
fn expected_sum(total: u64, producers: usize) -> u64 {
    (0..producers).map(|p| share(total, producers, p)).map(|n| n * n.saturating_sub(1) / 2).sum()
}

/// Runs `producers` threads calling `produce(p, n)` and one calling `consume(total) -> sum`,
/// released together; returns the time until the consumer is done.
fn run<P, C>(total: u64, producers: usize, produce: P, consume: C) -> Duration
where
    P: Fn(usize, u64) + Sync,
    C: FnOnce(u64) -> u64 + Send,
{
    let barrier = Barrier::new(producers + 1);
    let (elapsed, sum) = thread::scope(|s| {
        for p in 0..producers {
            let (barrier, produce) = (&barrier, &produce);
            s.spawn(move || {
                barrier.wait();
                produce(p, share(total, producers, p));
            });
        }
        let consumer = s.spawn(|| {
            barrier.wait();
            let t = Instant::now();
            let sum = consume(total);
            (t.elapsed(), sum)
        });
        consumer.join().expect("consumer panicked")
    });
    assert_eq!(sum, expected_sum(total, producers), "a queue lost or duplicated elements");
    elapsed
}

fn hwal_ring(total: u64, producers: usize) -> Duration {
    let (ring, mut consumer) = Ring::<u64>::new(CAPACITY);
    let ring = Arc::new(ring);
    let r2 = ring.clone();
    run(
        total,
        producers,
        |_, n| {
            let mut backoff = Backoff::new();
            for v in 0..n {
                let seq = loop {
                    match ring.try_claim() {
                        Some(s) => break s,
                        None => backoff.snooze(),
                    }
                };
                backoff.reset();
                ring.publish(seq, v);
            }
        },
        move |total| {
            let (mut sum, mut got, mut backoff) = (0u64, 0u64, Backoff::new());
            while got < total {
                let mut batch = 0;
                while batch < BATCH {
                    match r2.poll(&mut consumer) {
                        Some((_, v)) => {
                            sum = sum.wrapping_add(black_box(v));
                            batch += 1;
                        }
                        None => break,
                    }
                }
                if batch > 0 {
                    r2.release(&consumer);
                    got += batch;
                    backoff.reset();
                } else {
                    backoff.snooze();
                }
            }
            sum
        },
    )
}

fn disruptor_ring(total: u64, producers: usize) -> Duration {
    // The wait strategy applies to managed consumers only; the poller below is our own thread.
    let (mut poller, builder) = disruptor::build_multi_producer(CAPACITY, || 0u64, BusySpin).new_event_poller();
    let producer = builder.build();
    let handles: Vec<_> = (0..producers).map(|_| std::sync::Mutex::new(Some(producer.clone()))).collect();
    drop(producer);
    run(
        total,
        producers,
        |p, n| {
            let mut prod = handles[p].lock().unwrap().take().expect("one producer per thread");
            let mut backoff = Backoff::new();
            for v in 0..n {
                while prod.try_publish(|e| *e = v).is_err() {
                    backoff.snooze();
                }
                backoff.reset();
            }
        },
        move |total| {
            let (mut sum, mut got, mut backoff) = (0u64, 0u64, Backoff::new());
            while got < total {
                match poller.take(BATCH) {
                    Ok(mut events) => {
                        for e in &mut events {
                            sum = sum.wrapping_add(black_box(*e));
                            got += 1;
                        }
                        backoff.reset();
                    }
                    Err(Polling::NoEvents) => backoff.snooze(),
                    Err(Polling::Shutdown) => panic!("disruptor shut down before all elements arrived"),
                }
            }
            sum
        },
    )
}

fn crossbeam_channel(total: u64, producers: usize) -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(CAPACITY);
    run(
        total,
        producers,
        |_, n| {
            let mut backoff = Backoff::new();
            for v in 0..n {
                let mut item = v;
                while let Err(e) = tx.try_send(item) {
                    item = e.into_inner();
                    backoff.snooze();
                }
                backoff.reset();
            }
        },
        move |total| {
            let (mut sum, mut got, mut backoff) = (0u64, 0u64, Backoff::new());
            while got < total {
                match rx.try_recv() {
                    Ok(v) => {
                        sum = sum.wrapping_add(black_box(v));
                        got += 1;
                        backoff.reset();
                    }
                    Err(_) => backoff.snooze(),
                }
            }
            sum
        },
    )
}

fn std_sync_channel(total: u64, producers: usize) -> Duration {
    let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(CAPACITY);
    run(
        total,
        producers,
        |_, n| {
            let tx = tx.clone();
            let mut backoff = Backoff::new();
            for v in 0..n {
                let mut item = v;
                while let Err(e) = tx.try_send(item) {
                    item = match e {
                        std::sync::mpsc::TrySendError::Full(v) => v,
                        std::sync::mpsc::TrySendError::Disconnected(_) => panic!("consumer gone"),
                    };
                    backoff.snooze();
                }
                backoff.reset();
            }
        },
        move |total| {
            let (mut sum, mut got, mut backoff) = (0u64, 0u64, Backoff::new());
            while got < total {
                match rx.try_recv() {
                    Ok(v) => {
                        sum = sum.wrapping_add(black_box(v));
                        got += 1;
                        backoff.reset();
                    }
                    Err(_) => backoff.snooze(),
                }
            }
            sum
        },
    )
}

type Impl = fn(u64, usize) -> Duration;

const IMPLS: [(&str, Impl); 4] = [
    ("hwal-ring", hwal_ring),
    ("disruptor", disruptor_ring),
    ("crossbeam-bounded", crossbeam_channel),
    ("std-sync-channel", std_sync_channel),
];

fn ring(c: &mut Criterion) {
    for producers in [1usize, 2, 4] {
        let mut g = c.benchmark_group(format!("ring_mpsc_{producers}p"));
        g.throughput(Throughput::Elements(1))
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (name, f) in IMPLS {
            // One criterion iteration = one element through the queue.
            g.bench_with_input(BenchmarkId::new(name, producers), &producers, |b, &p| {
                b.iter_custom(|iters| f(iters, p))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, ring);
criterion_main!(benches);
