//! The shared model harness: bounds, execution counting, mutant checks, waiting shapes.
//!
//! Rules:
//! 1. Every model runs through [`check`], which sets loom's preemption bound explicitly and
//!    prints one `loom-model name=… preemption_bound=… executions=… wall_ms=…` line
//!    (visible with `cargo loom -- --nocapture`). Models of one test binary run one at a time.
//! 2. A model's bound comes from [`bound`]; mutant runs use a fixed bound ([`MUTANT_BOUND`]),
//!    so an override meant for the models can never make a mutant check vacuous.
//! 3. A mutant check asserts that the run fails *and* that the failure names the broken
//!    property (a needle), so an unrelated panic does not count as "caught".

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The preemption bound every mutant is checked at. Every mutant check passes at 1 except the
/// epoch model's stale-only variant, which needs the sync runner preempted twice (after issuing
/// and before completing); at 2 every check still finishes in milliseconds.
pub const MUTANT_BOUND: usize = 2;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// True when `HWAL_LOOM_DEEP=1`: the nightly-style run with higher bounds.
pub fn deep_mode() -> bool {
    std::env::var("HWAL_LOOM_DEEP").is_ok_and(|v| v == "1")
}

/// The preemption bound for a model: `LOOM_MAX_PREEMPTIONS` if set, else `deep` under
/// [`deep_mode`] (`None` = unbounded), else `ci`. (loom itself parses `LOOM_MAX_PREEMPTIONS` as a
/// number, so unbounded runs come only from a model's deep bound.)
pub fn bound(ci: usize, deep: Option<usize>) -> Option<usize> {
    if let Ok(v) = std::env::var("LOOM_MAX_PREEMPTIONS") {
        return Some(v.parse().unwrap_or_else(|_| panic!("LOOM_MAX_PREEMPTIONS={v:?} is not a number")));
    }
    if deep_mode() {
        deep
    } else {
        Some(ci)
    }
}

/// What one model run explored.
#[derive(Clone, Copy, Debug)]
pub struct Explored {
    /// Complete executions (interleavings) loom ran.
    pub executions: usize,
    /// Wall time of the whole exploration.
    pub elapsed: Duration,
}

/// Runs `model` under loom with `preemption_bound` (rule 1) and reports what it explored.
pub fn check<F>(name: &str, preemption_bound: Option<usize>, model: F) -> Explored
where
    F: Fn() + Sync + Send + 'static,
{
    // One model at a time per process: loom maps a fresh stack for every thread of every
    // execution, and two models mapping in parallel contend on the process's memory map (measured:
    // the gate file took 9.1 s with two test threads and 5.0 s with one).
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemption_bound;
    let start = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model();
    });
    let explored = Explored { executions: count.load(Ordering::Relaxed), elapsed: start.elapsed() };
    let pb = preemption_bound.map_or_else(|| "none".to_string(), |b| b.to_string());
    println!(
        "loom-model name={name} preemption_bound={pb} executions={} wall_ms={}",
        explored.executions,
        explored.elapsed.as_millis()
    );
    assert!(explored.executions > 0, "model {name} explored nothing");
    explored
}

/// Runs a mutant model at [`MUTANT_BOUND`] and asserts it panics with one of `needles` in the
/// panic message (rule 3). For mutants whose failure is a plain panic (an assertion or a loom
/// causality violation) raised while no other loom thread is parked in `block_on`.
pub fn expect_panic<F>(name: &str, needles: &[&str], model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check(name, Some(MUTANT_BOUND), model);
    }));
    let payload = match outcome {
        Ok(()) => panic!("mutant {name} NOT caught: every execution at bound {MUTANT_BOUND} passed"),
        Err(p) => p,
    };
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<non-string panic payload>".to_string());
    assert!(
        needles.iter().any(|n| msg.contains(n)),
        "mutant {name} failed, but not with any of {needles:?}; it failed with: {msg}"
    );
    println!("mutant {name} caught: {}", msg.lines().next().unwrap_or(""));
}

/// Re-runs the `#[ignore]`d test `test` of module `module` (pass `module_path!()`) of the current
/// test binary in a child process and asserts that the child fails with `needle` in its output
/// (rule 3). For mutants whose failure aborts the process: loom's deadlock panic inside
/// `loom::future::block_on` is followed by a panic in a destructor during cleanup, which aborts,
/// so `catch_unwind` cannot see it.
pub fn expect_child_failure(module: &str, test: &str, needle: &str) {
    // Test names are module paths without the crate name: `models::latch` -> `latch::test`.
    let test = match module.split_once("::") {
        Some((_, rest)) => format!("{rest}::{test}"),
        None => test.to_string(),
    };
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let out = std::process::Command::new(exe)
        .args(["--exact", &test, "--ignored", "--nocapture", "--test-threads", "1"])
        .output()
        .expect("re-running the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // loom 0.7.2 leaves a `dbg!` in its Notify: drop that noise before quoting the output.
    let quoted: Vec<&str> =
        stdout.lines().chain(stderr.lines()).filter(|l| !l.contains("(state.notified, spurious)")).collect();
    let ran = stdout.contains("running 1 test");
    assert!(ran, "child for {test} did not run exactly one test:\n{}", quoted.join("\n"));
    assert!(!out.status.success(), "mutant {test} NOT caught: the child passed:\n{}", quoted.join("\n"));
    let hit = quoted.iter().find(|l| l.contains(needle));
    assert!(hit.is_some(), "mutant {test} failed, but without {needle:?} in its output:\n{}", quoted.join("\n"));
    println!("mutant {test} caught ({}): {}", out.status, hit.map_or("", |l| l.trim()));
}

/// A waiter that gives up: polls the inner future once, then resolves with `Some(output)` if it
/// was ready or `None` if it was pending (a timeout that fired before the first poll ended).
pub struct PollOnce<F: Future> {
    inner: Pin<Box<F>>,
}

impl<F: Future> PollOnce<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        Self { inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for PollOnce<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.inner.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => Poll::Ready(None),
        }
    }
}

/// Which side of a [`Race`] finished first.
#[derive(Debug, PartialEq, Eq)]
pub enum Won<A, B> {
    /// The awaited operation.
    Left(A),
    /// The timeout.
    Right(B),
}

/// A wait raced against a timeout (the engine's `with_timeout`): polls `left` first, then
/// `right`; both register their wakers with the same task.
pub struct Race<A: Future, B: Future> {
    left: Pin<Box<A>>,
    right: Pin<Box<B>>,
}

impl<A: Future, B: Future> Race<A, B> {
    /// Races `left` against `right`.
    pub fn new(left: A, right: B) -> Self {
        Self { left: Box::pin(left), right: Box::pin(right) }
    }
}

impl<A: Future, B: Future> Future for Race<A, B> {
    type Output = Won<A::Output, B::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(v) = self.left.as_mut().poll(cx) {
            return Poll::Ready(Won::Left(v));
        }
        if let Poll::Ready(v) = self.right.as_mut().poll(cx) {
            return Poll::Ready(Won::Right(v));
        }
        Poll::Pending
    }
}
