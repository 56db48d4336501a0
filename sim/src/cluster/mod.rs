//! The simulated cluster and the supervisor that runs one seed.
//!
//! Phases (TigerBeetle VOPR style):
//! 1. **Safety**: every server slot runs an incarnation ([`server`]) with its clients
//!    ([`workload`]); the fault plan's rate faults are on in SimDfs, and its scheduled events
//!    fire as the cluster's started-op count passes their `at_op`. Crashes, power loss and
//!    zombies go through the master ([`master`]): fence, recover, check, restart the slot as a
//!    new incarnation. The phase ends when the op budget is used and the clients' calls have
//!    returned, or after [`SAFETY_CAP`] of simulated time.
//! 2. **Liveness**: faults stop (rates zero, data nodes back, space back); each server runs a
//!    small SYNC/FSYNC workload that must fully succeed, and every call still outstanding from
//!    the safety phase must return, all within [`LIVENESS_BOUND`]. Then each server runs
//!    `sync_all(hsync)` and `close`, and its directory is read and checked (everything it ever
//!    appended must be there; the last file ends cleanly).
//!
//! The supervisor runs on madsim's main node, polls every [`TICK`], and stops at the first
//! failure.

pub mod master;
pub mod regions;
pub mod server;
pub mod workload;
pub mod world;

use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::Handle;

use crate::dfs::SimDfs;
use crate::env::WallClock;
use crate::faults::{Action, FaultKind, Rates};
use crate::knobs::Knobs;
use crate::oracle::recovery::{check_fenced, Need};
use crate::oracle::{Category, Failure};
use crate::rng::{stream, Dice};
use crate::trace::{lock, Recorder, SimEvent};
use master::{RecoveryHook, SplitRecovery};
use server::{ServerCtl, Stage};
use world::World;

/// Supervisor poll interval while waiting to fire a scheduled fault.
pub const TICK: Duration = Duration::from_millis(2);
/// Supervisor poll interval while waiting for a phase to end.
pub const PHASE_TICK: Duration = Duration::from_millis(10);
/// Longest safety phase (simulated).
pub const SAFETY_CAP: Duration = Duration::from_secs(120);
/// Once faults stop, every call must return within this (simulated).
pub const LIVENESS_BOUND: Duration = Duration::from_secs(30);
/// The table every region belongs to.
pub const TABLE: &str = "t1";
/// The family every put writes (regions have this one family).
pub const FAMILY: &[u8] = b"f";

/// What a run produced.
pub struct Outcome {
    /// The first failure, if any.
    pub failure: Option<Failure>,
    /// Ops started.
    pub ops: u64,
    /// The recorder (trace and fault counts).
    pub rec: Arc<Recorder>,
}

struct Supervisor {
    world: Arc<World>,
    servers: Vec<Arc<ServerCtl>>,
    hook: Box<dyn RecoveryHook>,
}

/// Where a run publishes its recorder, so a panicking run still leaves its trace.
pub type RecorderSlot = Arc<std::sync::Mutex<Option<Arc<Recorder>>>>;

/// Runs the seed of `knobs` inside the current madsim runtime (which must have [`SimDfs`]).
pub async fn run(knobs: Knobs, slot: &RecorderSlot) -> Outcome {
    let rec = Recorder::new();
    *lock(slot) = Some(rec.clone());
    let dfs = madsim::plugin::simulator::<SimDfs>();
    let clock = WallClock::new(&mut Dice::new(knobs.seed, stream::MASTER));
    dfs.configure(knobs.seed, rec.clone(), knobs.datanodes, knobs.sync_ms_max, knobs.plan.rates());
    let world = World::new(knobs, rec.clone(), dfs, clock);
    let master_env = crate::env::SimEnv::new(
        madsim::plugin::node(),
        world.master.clone(),
        world.dfs.clone(),
        world.clock.clone(),
        world.knobs.seed,
    );
    let hook = Box::new(SplitRecovery::new(master_env, world.knobs.split_config()));
    let mut sup = Supervisor { world: world.clone(), servers: Vec::new(), hook };
    world.rec.sim(&world.master, SimEvent::Phase("safety"));
    for slot in 0..world.knobs.servers {
        sup.servers.push(server::start(&world, slot, 1));
    }
    sup.safety().await;
    if !world.failed() {
        sup.liveness().await;
    }
    world.rec.end(&world.master, SimEvent::End { ops: world.ops_started() });
    // Kill every node so madsim drops their tasks: a task parked on a `Notify` that it owns
    // itself (a flusher on its queue, engine tasks on their WAL's events) is a reference cycle
    // nothing else would ever break, and it would keep the whole run (world, regions, WALs)
    // alive until the sweep ends.
    for s in &sup.servers {
        Handle::current().kill(s.node);
    }
    madsim::time::sleep(TICK).await;
    // What a leftover cycle could still keep alive should not be the run's bulk: the model,
    // the master's copies and every file's bytes go now (the trace goes once the runner read it).
    *lock(&world.oracle) = crate::oracle::Oracle::default();
    world.clear_edits_snapshots();
    world.dfs.clear();
    Outcome { failure: world.failure(), ops: world.ops_started(), rec }
}

impl Supervisor {
    async fn wait_until(&self, deadline: Duration, tick: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        loop {
            if self.world.failed() {
                return false;
            }
            if done(self) {
                return true;
            }
            if now() >= deadline {
                return false;
            }
            madsim::time::sleep(tick).await;
        }
    }

    async fn safety(&mut self) {
        let cap = now() + SAFETY_CAP;
        for (at_op, action) in self.world.knobs.plan.events() {
            self.wait_until(cap, TICK, |s| s.world.ops_started() >= at_op).await;
            if self.world.failed() {
                return;
            }
            self.apply(action).await;
        }
        let world = self.world.clone();
        let budget = world.knobs.opts.ops;
        self.wait_until(cap, PHASE_TICK, |_| {
            world.ops_started() >= budget && world.outstanding_of(&["put", "sync", "sync_all", "flush"]) == 0
        })
        .await;
    }

    async fn apply(&mut self, action: Action) {
        let w = self.world.clone();
        let kind = action.kind();
        match action {
            Action::KillServer { server, torn } => {
                w.rec.fault(kind, &self.servers[server].name, format!("torn={torn}"));
                self.kill(server, torn);
                self.recover_and_restart(&[server], Need::ServerCrash).await;
            }
            Action::PowerLoss { torn } => {
                w.rec.fault(kind, &w.master, format!("torn={torn}"));
                w.rec.sim(&w.master, SimEvent::PowerLoss { torn });
                w.dfs.power_loss(torn);
                let all: Vec<usize> = (0..self.servers.len()).collect();
                for &s in &all {
                    self.kill(s, false);
                }
                self.recover_and_restart(&all, Need::PowerLoss).await;
            }
            Action::Zombie { server, pause_ms, zombie_ms } => self.zombie(server, pause_ms, zombie_ms).await,
            Action::DatanodeDown { dn, down_ms } => {
                if w.dfs.datanode_down(dn) {
                    w.rec.fault(kind, &w.master, format!("dn={dn} down_ms={down_ms}"));
                    madsim::task::spawn(async move {
                        madsim::time::sleep(Duration::from_millis(down_ms)).await;
                        w.dfs.datanode_up(dn);
                        w.rec.sim(&w.master, SimEvent::Fault { kind: "datanode-up", detail: format!("dn={dn}") });
                    });
                }
            }
            Action::Enospc { ms } => {
                w.dfs.set_enospc(true);
                w.rec.fault(kind, &w.master, format!("on ms={ms}"));
                madsim::task::spawn(async move {
                    madsim::time::sleep(Duration::from_millis(ms)).await;
                    if w.in_safety() {
                        w.dfs.set_enospc(false);
                        w.rec.sim(&w.master, SimEvent::Fault { kind: "enospc-off", detail: String::new() });
                    }
                });
            }
            Action::ClockStep { delta_ms } => {
                w.clock.step(delta_ms);
                w.rec.fault(kind, &w.master, format!("delta_ms={delta_ms}"));
            }
        }
    }

    /// Kills slot `slot`'s node; the DFS drops its unflushed bytes (torn prefix if `torn`).
    fn kill(&self, slot: usize, torn: bool) {
        let ctl = &self.servers[slot];
        self.world.rec.sim(&ctl.name, SimEvent::Crash { torn });
        self.world.dfs.arm_torn(torn);
        Handle::current().kill(ctl.node);
        self.world.drop_calls(ctl.inc);
    }

    /// Fences, recovers and checks the dead incarnations of `slots`, then restarts each slot
    /// as a new incarnation, which reopens (replays) the slot's regions.
    async fn recover_and_restart(&mut self, slots: &[usize], need: Need) {
        for &slot in slots {
            let ctl = self.servers[slot].clone();
            if master::fence_and_recover(&self.world, &*self.hook, ctl.inc, &ctl.name, need).await.is_none() {
                return;
            }
        }
        for &slot in slots {
            let next = self.servers[slot].incarnation + 1;
            self.servers[slot] = server::start(&self.world, slot, next);
        }
    }

    async fn zombie(&mut self, slot: usize, pause_ms: u64, zombie_ms: u64) {
        let w = self.world.clone();
        let ctl = self.servers[slot].clone();
        w.rec.fault(FaultKind::Zombie, &ctl.name, format!("pause_ms={pause_ms} zombie_ms={zombie_ms}"));
        w.rec.sim(&ctl.name, SimEvent::Pause);
        Handle::current().pause(ctl.node);
        madsim::time::sleep(Duration::from_millis(pause_ms)).await;
        if master::fence_and_recover(&w, &*self.hook, ctl.inc, &ctl.name, Need::ServerCrash).await.is_none() {
            return;
        }
        w.rec.sim(&ctl.name, SimEvent::Resume);
        Handle::current().resume(ctl.node);
        madsim::time::sleep(Duration::from_millis(zombie_ms)).await;
        self.kill(slot, false);
        let r = {
            let o = lock(&w.oracle);
            check_fenced(&o.incs[ctl.inc], &w.dfs, o.prefix_acks)
        };
        if let Err((check, msg)) = r {
            w.fail(Category::Correctness, check, msg);
            return;
        }
        self.servers[slot] = server::start(&w, slot, ctl.incarnation + 1);
    }

    async fn liveness(&mut self) {
        let w = self.world.clone();
        w.end_safety();
        w.rec.sim(&w.master, SimEvent::Phase("liveness"));
        w.dfs.set_rates(Rates::default());
        w.dfs.datanodes_up();
        w.dfs.set_enospc(false);
        let deadline = now() + LIVENESS_BOUND;
        for s in &self.servers {
            s.go_liveness();
        }
        let done = self
            .wait_until(deadline, PHASE_TICK, |s| {
                s.servers.iter().all(|c| matches!(c.stage(), Stage::LivenessDone(_)))
                    && s.world.outstanding().is_empty()
            })
            .await;
        if !done {
            if !w.failed() {
                w.fail(Category::Liveness, "no-hang", self.stuck_report("liveness workload"));
            }
            return;
        }
        for s in &self.servers {
            if let Stage::LivenessDone(Err(e)) = s.stage() {
                w.fail(Category::Liveness, "recovers", format!("{}: a call failed after faults stopped: {e}", s.name));
                return;
            }
        }
        w.rec.sim(&w.master, SimEvent::Phase("close"));
        for s in &self.servers {
            s.go_close();
        }
        let closed = self
            .wait_until(now() + LIVENESS_BOUND, PHASE_TICK, |s| {
                s.servers.iter().all(|c| matches!(c.stage(), Stage::Closed(_)))
            })
            .await;
        if !closed {
            if !w.failed() {
                w.fail(Category::Liveness, "no-hang", self.stuck_report("final sync_all + close"));
            }
            return;
        }
        for s in &self.servers {
            if let Stage::Closed(Err(e)) = s.stage() {
                w.fail(Category::Liveness, "recovers", format!("{}: final sync_all/close failed: {e}", s.name));
                return;
            }
            if !master::check_closed(&w, s.inc, &s.name) {
                return;
            }
        }
    }

    fn stuck_report(&self, what: &str) -> String {
        let now_ns = self.world.rec.now_ns();
        let stages: Vec<String> = self.servers.iter().map(|s| format!("{}={:?}", s.name, s.stage())).collect();
        let calls: Vec<String> = self
            .world
            .outstanding()
            .iter()
            .take(8)
            .map(|c| format!("{} {} txid={} for {} ms", c.who, c.what, c.txid, (now_ns - c.started_ns) / 1_000_000))
            .collect();
        format!(
            "{what} did not finish within {:?} after faults stopped; servers: {}; outstanding calls: [{}]",
            LIVENESS_BOUND,
            stages.join(" "),
            calls.join(", ")
        )
    }
}

fn now() -> Duration {
    madsim::time::TimeHandle::current().elapsed()
}
