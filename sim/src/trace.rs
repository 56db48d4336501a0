//! The run's trace: one line per event, engine events (`WalEvent`'s stable `Display`) and the
//! simulator's own (faults, crashes, fencing, recovery, phases, oracle failures).
//!
//! Line format: `<time> <who> <event>` where
//! - `time` is simulated time in units of 0.1 ms, as `TTTTTTT.T` ms (coarse on purpose: madsim
//!   adds 50–100 ns per poll, so a harmless extra poll does not rewrite every line);
//! - `who` is the server incarnation (`rs1,2`: slot 1, incarnation 2, as in HBase's
//!   `host,port,startcode` server names), `master`, or `dfs`;
//! - `event` has fixed fields in `key=value` form, no wall clock, no addresses.
//!
//! Events are stored unformatted and rendered on demand (`lines`), so a sweep pays little.

use std::fmt;
use std::sync::{Arc, Mutex};

use hwal::WalEvent;
use madsim::time::Instant;

use crate::faults::FaultKind;

/// The simulator's own events.
#[derive(Clone, Debug)]
pub enum SimEvent {
    /// A phase starts.
    Phase(&'static str),
    /// A fault was injected.
    Fault { kind: &'static str, detail: String },
    /// A server incarnation started.
    Start { regions: usize, clients: usize },
    /// A server was killed.
    Crash { torn: bool },
    /// Power loss of the whole cluster.
    PowerLoss { torn: bool },
    /// A server stalls / resumes.
    Pause,
    /// A server resumes (as a zombie when it was fenced meanwhile).
    Resume,
    /// A torn tail was kept on a file at a crash.
    Torn { file: String, kept: u64, dropped: u64 },
    /// The master fenced a server's directory.
    Fence { dir: String, leases: usize },
    /// The master recovered a server's WALs.
    Recovered { files: usize, entries: usize, max_txid: u64, acked_sync: u64, acked_fsync: u64 },
    /// WAL open failed (retried).
    OpenFailed { error: String },
    /// A server's directory was read and checked after its clean close.
    Verified { files: usize, entries: usize },
    /// The master split a dead server's WALs (after `attempts` tries).
    Split {
        server: String,
        wals: usize,
        entries: usize,
        kept: u64,
        skipped_flushed: u64,
        outputs: usize,
        attempts: u32,
    },
    /// A split attempt failed (retried).
    SplitFailed { attempt: u32, error: String },
    /// A region opened (replaying its recovered edits) and was verified.
    Replay { region: Arc<str>, files: usize, applied: u64, replay_max: u64, open_seqid: u64, cells: usize },
    /// A region was closed, its recovered edits put back, reopened, and read the same.
    Reopen { region: Arc<str>, restored: usize, open_seqid: u64, cells: usize },
    /// A region operation failed (`open` is retried).
    RegionFailed { region: Arc<str>, op: &'static str, error: String },
    /// A region flush completed.
    Flush { region: Arc<str>, reason: &'static str, flush_seqid: u64, flushed_seqid: u64, cells: usize },
    /// A region flush failed.
    FlushFailed { region: Arc<str>, reason: &'static str, error: String },
    /// After the final flushes and rolls: WAL files left in the server's directory, and the
    /// archived ones.
    WalFiles { live: usize, archived: usize },
    /// An oracle failed.
    OracleFail { category: &'static str, check: &'static str, message: String },
    /// The run ended.
    End { ops: u64 },
}

impl fmt::Display for SimEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimEvent::Phase(p) => write!(f, "PHASE       name={p}"),
            SimEvent::Fault { kind, detail } if detail.is_empty() => write!(f, "FAULT       kind={kind}"),
            SimEvent::Fault { kind, detail } => write!(f, "FAULT       kind={kind} {detail}"),
            SimEvent::Start { regions, clients } => write!(f, "START       regions={regions} clients={clients}"),
            SimEvent::Crash { torn } => write!(f, "CRASH       torn={torn}"),
            SimEvent::PowerLoss { torn } => write!(f, "POWER_LOSS  torn={torn}"),
            SimEvent::Pause => write!(f, "PAUSE"),
            SimEvent::Resume => write!(f, "RESUME"),
            SimEvent::Torn { file, kept, dropped } => write!(f, "TORN        file={file} kept={kept} dropped={dropped}"),
            SimEvent::Fence { dir, leases } => write!(f, "FENCE       dir={dir} leases={leases}"),
            SimEvent::Recovered { files, entries, max_txid, acked_sync, acked_fsync } => write!(
                f,
                "RECOVERED   files={files} entries={entries} max_txid={max_txid} acked_sync={acked_sync} acked_fsync={acked_fsync}"
            ),
            SimEvent::OpenFailed { error } => write!(f, "OPEN_FAIL   error={error:?}"),
            SimEvent::Verified { files, entries } => write!(f, "VERIFIED    files={files} entries={entries}"),
            SimEvent::Split { server, wals, entries, kept, skipped_flushed, outputs, attempts } => write!(
                f,
                "SPLIT       server={server} wals={wals} entries={entries} kept={kept} skipped_flushed={skipped_flushed} outputs={outputs} attempts={attempts}"
            ),
            SimEvent::SplitFailed { attempt, error } => write!(f, "SPLIT_FAIL  attempt={attempt} error={error:?}"),
            SimEvent::Replay { region, files, applied, replay_max, open_seqid, cells } => write!(
                f,
                "REPLAY      region={region} files={files} applied={applied} replay_max={replay_max} open_seqid={open_seqid} cells={cells}"
            ),
            SimEvent::Reopen { region, restored, open_seqid, cells } => {
                write!(f, "REOPEN      region={region} restored={restored} open_seqid={open_seqid} cells={cells}")
            }
            SimEvent::RegionFailed { region, op, error } => {
                write!(f, "REGION_FAIL region={region} op={op} error={error:?}")
            }
            SimEvent::Flush { region, reason, flush_seqid, flushed_seqid, cells } => write!(
                f,
                "FLUSH       region={region} reason={reason} flush_seqid={flush_seqid} flushed={flushed_seqid} cells={cells}"
            ),
            SimEvent::FlushFailed { region, reason, error } => {
                write!(f, "FLUSH_FAIL  region={region} reason={reason} error={error:?}")
            }
            SimEvent::WalFiles { live, archived } => write!(f, "WAL_FILES   live={live} archived={archived}"),
            SimEvent::OracleFail { category, check, message } => {
                write!(f, "ORACLE_FAIL category={category} check={check} message={message:?}")
            }
            SimEvent::End { ops } => write!(f, "END         ops={ops}"),
        }
    }
}

#[derive(Clone, Debug)]
enum Body {
    Wal(WalEvent),
    Sim(SimEvent),
}

#[derive(Clone, Debug)]
struct Rec {
    t_ns: u64,
    who: Arc<str>,
    body: Body,
}

/// The recorder.
#[derive(Debug, Default)]
pub struct Trace {
    recs: Vec<Rec>,
}

impl Trace {
    /// Records an engine event.
    pub fn wal(&mut self, t_ns: u64, who: &Arc<str>, ev: &WalEvent) {
        self.recs.push(Rec { t_ns, who: who.clone(), body: Body::Wal(ev.clone()) });
    }

    /// Records a simulator event.
    pub fn sim(&mut self, t_ns: u64, who: &Arc<str>, ev: SimEvent) {
        self.recs.push(Rec { t_ns, who: who.clone(), body: Body::Sim(ev) });
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Renders events `from..` as lines.
    pub fn lines_from(&self, from: usize) -> Vec<String> {
        self.recs[from.min(self.recs.len())..].iter().map(render).collect()
    }

    /// Renders every event.
    pub fn lines(&self) -> Vec<String> {
        self.lines_from(0)
    }
}

fn render(r: &Rec) -> String {
    let tenths = r.t_ns / 100_000;
    match &r.body {
        Body::Wal(e) => format!("{:07}.{} {:<6} {e}", tenths / 10, tenths % 10, r.who),
        Body::Sim(e) => format!("{:07}.{} {:<6} {e}", tenths / 10, tenths % 10, r.who),
    }
}

/// The run's shared recorder: the trace and the per-kind fault counts. Lock order: take it last
/// (after the oracle and the DFS).
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    trace: Mutex<Trace>,
    fired: Mutex<[u64; FaultKind::ALL.len()]>,
    ended: std::sync::atomic::AtomicBool,
}

impl Recorder {
    /// A recorder whose time zero is now (simulated).
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            // A run records about 5,000–10,000 events: start big enough to rarely regrow.
            trace: Mutex::new(Trace { recs: Vec::with_capacity(8_192) }),
            fired: Mutex::new([0; 10]),
            ended: Default::default(),
        })
    }

    /// Simulated nanoseconds since the run started.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Records the end of the run; later events (tasks polled in the same scheduler round as
    /// the supervisor's last step) are not recorded.
    pub fn end(&self, who: &Arc<str>, ev: SimEvent) {
        self.sim(who, ev);
        self.ended.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn ended(&self) -> bool {
        self.ended.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Records an engine event.
    pub fn wal(&self, who: &Arc<str>, ev: &WalEvent) {
        if self.ended() {
            return;
        }
        let t = self.now_ns();
        lock(&self.trace).wal(t, who, ev);
    }

    /// Records a simulator event.
    pub fn sim(&self, who: &Arc<str>, ev: SimEvent) {
        if self.ended() {
            return;
        }
        let t = self.now_ns();
        lock(&self.trace).sim(t, who, ev);
    }

    /// Counts and records an injected fault.
    pub fn fault(&self, kind: FaultKind, who: &Arc<str>, detail: String) {
        lock(&self.fired)[kind.index()] += 1;
        self.sim(who, SimEvent::Fault { kind: kind.name(), detail });
    }

    /// How many times each kind fired.
    pub fn fired(&self) -> [u64; FaultKind::ALL.len()] {
        *lock(&self.fired)
    }

    /// Drops the recorded events (the runner, once it took what it needs).
    pub fn clear(&self) {
        *lock(&self.trace) = Trace::default();
    }

    /// Runs `f` on the trace.
    pub fn with_trace<R>(&self, f: impl FnOnce(&Trace) -> R) -> R {
        f(&lock(&self.trace))
    }
}

/// Locks a mutex, ignoring poisoning (a panic already fails the run).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
