//! Running one seed: a fresh OS thread, a fresh madsim runtime seeded with the run seed (so
//! std's `RandomState` and madsim's scheduler start from the seed), SimDfs registered as a
//! plugin, panics caught and classified.

use std::any::Any;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::Duration;

use crate::cluster::{self, RecorderSlot};
use crate::faults::FaultKind;
use crate::knobs::{Knobs, RunOptions};
use crate::oracle::{Category, Failure};

/// Longest simulated time a run may take before madsim aborts it (a hang).
pub const TIME_LIMIT: Duration = Duration::from_secs(3_600);
/// Longest wall-clock time a run may take (a busy loop that never yields to the scheduler).
pub const WALL_LIMIT: Duration = Duration::from_secs(300);

/// The result of one seed.
#[derive(Debug)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The knobs line.
    pub knobs: String,
    /// The numbered fault plan.
    pub plan: Vec<String>,
    /// The first failure.
    pub failure: Option<Failure>,
    /// How many times each fault kind fired (index: `FaultKind::index`).
    pub fired: [u64; FaultKind::ALL.len()],
    /// Client ops started.
    pub ops: u64,
    /// The trace lines (when asked for; on failure always).
    pub trace: Option<Vec<String>>,
    /// Wall-clock time the run took, ms.
    pub wall_ms: u64,
}

thread_local! {
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that keeps seed threads quiet and remembers where they panicked.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let quiet = std::thread::current().name().is_some_and(|n| n.starts_with("sim-seed-"));
            if quiet {
                let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                PANIC_AT.with(|p| *p.borrow_mut() = Some(at));
            } else {
                default(info);
            }
        }));
    });
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs `seed` with `opts`; keeps the full trace when `keep_trace` (and on failure).
pub fn run_seed(seed: u64, opts: &RunOptions, keep_trace: bool) -> RunResult {
    install_hook();
    let repro = opts.repro_command(seed);
    let opts = opts.clone();
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("sim-seed-{seed}"))
        .stack_size(16 << 20)
        .spawn(move || {
            let _ = tx.send(run_on_this_thread(seed, &opts, keep_trace));
        })
        .expect("spawning a seed thread");
    let started = std::time::Instant::now();
    let Ok(mut r) = rx.recv_timeout(WALL_LIMIT) else {
        // A loop that never yields hangs the simulator thread with simulated time stopped;
        // madsim cannot see it. Nothing can stop that thread, so report and end the process.
        eprintln!("FAIL seed={seed} liveness failure, check no-hang: the run used more than {WALL_LIMIT:?} of wall-clock time (a loop that never yields?)");
        eprintln!("  reproduce: {repro}");
        std::process::exit(1);
    };
    thread.join().expect("the seed thread catches its own panics");
    r.wall_ms = started.elapsed().as_millis() as u64;
    r
}

fn run_on_this_thread(seed: u64, opts: &RunOptions, keep_trace: bool) -> RunResult {
    let knobs = Knobs::derive(seed, opts);
    let (line, plan) = (knobs.line(), knobs.plan.describe());
    let slot: RecorderSlot = Arc::new(Mutex::new(None));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut rt = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
        rt.add_simulator::<crate::dfs::SimDfs>();
        rt.set_time_limit(TIME_LIMIT);
        let outcome = rt.block_on(cluster::run(knobs, &slot));
        let failed = outcome.failure.is_some();
        let trace = (keep_trace || failed).then(|| outcome.rec.with_trace(|t| t.lines()));
        outcome.rec.clear();
        (outcome.failure, outcome.rec.fired(), outcome.ops, trace)
    }));
    match result {
        Ok((failure, fired, ops, trace)) => {
            RunResult { seed, knobs: line, plan, failure, fired, ops, trace, wall_ms: 0 }
        }
        Err(p) => {
            let msg = panic_message(&*p);
            let at = PANIC_AT.with(|a| a.borrow_mut().take()).unwrap_or_default();
            let hang = msg.contains("time limit exceeded") || msg.contains("no events, all tasks will block forever");
            let failure = Failure {
                category: if hang { Category::Liveness } else { Category::CrashPanic },
                check: if hang { "no-hang" } else { "panic" },
                message: format!("panicked: {msg}{at}"),
            };
            let rec = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let fired = rec.as_ref().map_or([0; 10], |r| r.fired());
            let trace = rec.map(|r| r.with_trace(|t| t.lines()));
            RunResult { seed, knobs: line, plan, failure: Some(failure), fired, ops: 0, trace, wall_ms: 0 }
        }
    }
}

/// Runs `work` over `items` on `jobs` worker threads; `progress(done, total)` is called on the
/// calling thread after each result. Results come back in item order.
pub fn pool<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    mut progress: impl FnMut(usize, usize, &R),
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(items.len().max(1)) {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= items.len() {
                    break;
                }
                if tx.send((i, work(&items[i]))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut done = 0;
        for (i, r) in rx {
            done += 1;
            progress(done, items.len(), &r);
            out[i] = Some(r);
        }
    });
    out.into_iter().map(|r| r.expect("every item ran")).collect()
}

/// Runs every seed of `seeds` with `opts` on `jobs` threads (no traces kept).
pub fn run_many(seeds: &[u64], jobs: usize, opts: &RunOptions) -> Vec<RunResult> {
    pool(seeds, jobs, |&s| run_seed(s, opts, false), |_, _, _| {})
}

/// A progress line on stderr: rewritten in place on a terminal (at most 4 times a second),
/// one line every 5 s otherwise (CI logs).
pub struct Progress {
    tty: bool,
    last: std::time::Instant,
    printed: bool,
}

impl Default for Progress {
    fn default() -> Self {
        use std::io::IsTerminal;
        Self { tty: std::io::stderr().is_terminal(), last: std::time::Instant::now(), printed: false }
    }
}

impl Progress {
    /// Shows `line` if it is time to (always when `done`).
    pub fn show(&mut self, line: &str, done: bool) {
        use std::io::Write;
        let every = if self.tty { std::time::Duration::from_millis(250) } else { std::time::Duration::from_secs(5) };
        if !done && self.last.elapsed() < every {
            return;
        }
        self.last = std::time::Instant::now();
        if self.tty {
            eprint!("\r{line}   ");
            self.printed = true;
            if done {
                eprintln!();
                self.printed = false;
            }
        } else {
            eprintln!("{line}");
        }
        let _ = std::io::stderr().flush();
    }

    /// Clears the in-place line before other output.
    pub fn interrupt(&mut self) {
        if self.tty && self.printed {
            eprintln!();
            self.printed = false;
        }
    }
}
