//! The run's shared state: knobs, recorder, DFS, clock, the oracle's model, the registry of
//! outstanding calls (for the liveness oracle), the op budget and the first failure.
//!
//! Lock order: `oracle` → DFS → recorder; `calls` and `failure` are leaves. Nothing here is
//! owned by a region-server node, so killing a node loses none of it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hwal::Pipeline;

use crate::dfs::SimDfs;
use crate::env::WallClock;
use crate::knobs::Knobs;
use crate::oracle::{Category, Failure, Oracle};
use crate::trace::{lock, Recorder, SimEvent};

/// One call a client or roller is inside of.
#[derive(Clone, Debug)]
pub struct Call {
    /// Incarnation.
    pub inc: usize,
    /// Server name.
    pub who: Arc<str>,
    /// `append`, `sync`, `sync_all`, `roll`, `close`.
    pub what: &'static str,
    /// Txid concerned (0 if none).
    pub txid: u64,
    /// When it started, simulated ns.
    pub started_ns: u64,
}

/// Recovered-edits files of a region as the master copied them: (path, bytes).
pub type EditsFiles = Vec<(String, Vec<u8>)>;

/// Everything the actors of a run share.
pub struct World {
    /// The seed's knobs.
    pub knobs: Knobs,
    /// Trace and fault counts.
    pub rec: Arc<Recorder>,
    /// The filesystem.
    pub dfs: Arc<SimDfs>,
    /// The wall clock.
    pub clock: Arc<WallClock>,
    /// The model.
    pub oracle: Mutex<Oracle>,
    /// Trace name of the master.
    pub master: Arc<str>,
    calls: Mutex<(u64, BTreeMap<u64, Call>)>,
    edits: Mutex<BTreeMap<String, EditsFiles>>,
    failure: Mutex<Option<Failure>>,
    ops_started: AtomicU64,
    ops_done: AtomicU64,
    budget: AtomicU64,
    safety_over: AtomicBool,
}

impl World {
    /// A world for `knobs`, with the safety-phase op budget.
    pub fn new(knobs: Knobs, rec: Arc<Recorder>, dfs: Arc<SimDfs>, clock: Arc<WallClock>) -> Arc<Self> {
        let budget = knobs.opts.ops;
        let prefix_acks = knobs.opts.pipeline == Pipeline::Scheduled;
        let archive_check = knobs.opts.archive_check;
        Arc::new(Self {
            knobs,
            rec,
            dfs,
            clock,
            oracle: Mutex::new(Oracle { prefix_acks, archive_check, ..Oracle::default() }),
            master: Arc::from("master"),
            calls: Mutex::new((0, BTreeMap::new())),
            edits: Mutex::new(BTreeMap::new()),
            failure: Mutex::new(None),
            ops_started: AtomicU64::new(0),
            ops_done: AtomicU64::new(0),
            budget: AtomicU64::new(budget),
            safety_over: AtomicBool::new(false),
        })
    }

    /// Records the first failure (later ones are ignored) and traces it.
    pub fn fail(&self, category: Category, check: &'static str, message: String) {
        let mut f = lock(&self.failure);
        if f.is_none() {
            self.rec
                .sim(&self.master, SimEvent::OracleFail { category: category.name(), check, message: message.clone() });
            *f = Some(Failure { category, check, message });
        }
    }

    /// True once something failed.
    pub fn failed(&self) -> bool {
        lock(&self.failure).is_some()
    }

    /// The first failure.
    pub fn failure(&self) -> Option<Failure> {
        lock(&self.failure).clone()
    }

    /// Takes one op from the budget; false when it is used up.
    pub fn take_ticket(&self) -> bool {
        let budget = self.budget.load(Ordering::SeqCst);
        self.ops_started.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < budget).then_some(n + 1)).is_ok()
    }

    /// Ends the safety phase: no more safety-phase ops or forced rolls.
    pub fn end_safety(&self) {
        self.budget.store(0, Ordering::SeqCst);
        self.safety_over.store(true, Ordering::SeqCst);
    }

    /// True during the safety phase.
    pub fn in_safety(&self) -> bool {
        !self.safety_over.load(Ordering::SeqCst)
    }

    /// Ops started so far.
    pub fn ops_started(&self) -> u64 {
        self.ops_started.load(Ordering::SeqCst)
    }

    /// Counts a finished op.
    pub fn op_done(&self) {
        self.ops_done.fetch_add(1, Ordering::SeqCst);
    }

    /// Ops finished so far.
    pub fn ops_done(&self) -> u64 {
        self.ops_done.load(Ordering::SeqCst)
    }

    /// Registers a call; returns its id for [`World::end_call`].
    pub fn begin_call(&self, inc: usize, who: &Arc<str>, what: &'static str, txid: u64) -> u64 {
        let started_ns = self.rec.now_ns();
        let mut c = lock(&self.calls);
        c.0 += 1;
        let id = c.0;
        c.1.insert(id, Call { inc, who: who.clone(), what, txid, started_ns });
        id
    }

    /// The call returned.
    pub fn end_call(&self, id: u64) {
        lock(&self.calls).1.remove(&id);
    }

    /// Forgets the calls of a killed incarnation (they died with it).
    pub fn drop_calls(&self, inc: usize) {
        lock(&self.calls).1.retain(|_, c| c.inc != inc);
    }

    /// The master's copy of `region`'s finished recovered-edits files after a split (path,
    /// bytes), for the replay-idempotence check.
    pub fn set_edits_snapshot(&self, region: &str, files: EditsFiles) {
        lock(&self.edits).insert(region.to_string(), files);
    }

    /// Takes the copy [`World::set_edits_snapshot`] made (empty when there is none).
    pub fn take_edits_snapshot(&self, region: &str) -> EditsFiles {
        lock(&self.edits).remove(region).unwrap_or_default()
    }

    /// Drops every copy [`World::set_edits_snapshot`] made (end of run).
    pub fn clear_edits_snapshots(&self) {
        lock(&self.edits).clear();
    }

    /// Outstanding calls, oldest first.
    pub fn outstanding(&self) -> Vec<Call> {
        lock(&self.calls).1.values().cloned().collect()
    }

    /// Outstanding calls whose kind is one of `what`.
    pub fn outstanding_of(&self, what: &[&str]) -> usize {
        lock(&self.calls).1.values().filter(|c| what.contains(&c.what)).count()
    }
}
