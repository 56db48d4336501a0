//! A region-server incarnation: one madsim node, one `Wal`, its slot's regions (real
//! `hwal::Region`s, reopened on every incarnation: `regions`), client tasks, a roller client and
//! a flusher, all spawned on that node (so `Handle::kill` drops all of them, engine tasks
//! included, and `Handle::pause` stalls them).
//!
//! Lifecycle (driven by the supervisor through [`ServerCtl`]):
//! 1. open the WAL (retried every 5 ms while it fails, e.g. under ENOSPC), open and check the
//!    regions (replaying what the master split), start the clients;
//! 2. on `go_liveness`: run the liveness workload (SYNC/FSYNC puts that must all succeed);
//! 3. on `go_close`: the final region checks (`regions::final_checks`: quiescent MVCC, live
//!    content, flush everything, roll, bounded file count), `sync_all(hsync)` then `close`, and
//!    report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hwal::env::Env;
use hwal::Wal;
use madsim::task::NodeId;
use tokio::sync::Notify;

use super::regions::{self, FlushQueue};
use super::workload;
use super::world::World;
use crate::env::SimEnv;
use crate::oracle::listener::SimListener;
use crate::rng::{stream, Dice};
use crate::trace::{lock, SimEvent};

/// Where an incarnation is in its lifecycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Opening its WAL.
    Opening,
    /// Serving the safety-phase workload.
    Running,
    /// Finished the liveness workload (ops done, or the first error).
    LivenessDone(Result<u64, String>),
    /// Closed its WAL (or failed to).
    Closed(Result<(), String>),
}

/// The supervisor's handle on an incarnation.
pub struct ServerCtl {
    /// Model id.
    pub inc: usize,
    /// Server name, `rs<slot>,<incarnation>`.
    pub name: Arc<str>,
    /// Slot (0-based).
    pub slot: usize,
    /// Incarnation number (1-based).
    pub incarnation: u32,
    /// The madsim node.
    pub node: NodeId,
    /// Lifecycle stage.
    pub stage: Mutex<Stage>,
    go_liveness: Notify,
    go_close: Notify,
}

impl ServerCtl {
    /// Starts the liveness workload.
    pub fn go_liveness(&self) {
        self.go_liveness.notify_one();
    }

    /// Starts the final sync and close.
    pub fn go_close(&self) {
        self.go_close.notify_one();
    }

    /// The current stage.
    pub fn stage(&self) -> Stage {
        lock(&self.stage).clone()
    }

    fn set(&self, s: Stage) {
        *lock(&self.stage) = s;
    }
}

/// Region names of slot `slot` (stable across incarnations: a region moves, it is not new).
pub fn region_labels(world: &World, slot: usize) -> Vec<String> {
    (0..world.knobs.regions).map(|i| format!("r{}-{}", slot + 1, i)).collect()
}

/// Starts incarnation `incarnation` of slot `slot` on a new node.
pub fn start(world: &Arc<World>, slot: usize, incarnation: u32) -> Arc<ServerCtl> {
    let name: Arc<str> = Arc::from(format!("rs{},{}", slot + 1, incarnation));
    let node = madsim::runtime::Handle::current().create_node().name(format!("rs{}", slot + 1)).build();
    let inc = lock(&world.oracle).add_inc(name.clone(), slot);
    let ctl = Arc::new(ServerCtl {
        inc,
        name: name.clone(),
        slot,
        incarnation,
        node: node.id(),
        stage: Mutex::new(Stage::Opening),
        go_liveness: Notify::new(),
        go_close: Notify::new(),
    });
    world.rec.sim(&name, SimEvent::Start { regions: world.knobs.regions, clients: world.knobs.clients });
    node.spawn(main(world.clone(), ctl.clone()));
    ctl
}

async fn open(world: &Arc<World>, ctl: &ServerCtl, env: &Arc<SimEnv>, flushes: &Arc<FlushQueue>) -> Arc<Wal> {
    let cfg = world.knobs.config(&ctl.name);
    let listener = SimListener::new(world.clone(), ctl.inc, ctl.name.clone(), flushes.clone());
    loop {
        match Wal::open_with(env.clone(), cfg.clone(), listener.clone()).await {
            Ok(w) => return Arc::new(w),
            Err(e) => {
                world.rec.sim(&ctl.name, SimEvent::OpenFailed { error: e.to_string() });
                madsim::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

async fn main(world: Arc<World>, ctl: Arc<ServerCtl>) {
    let env = SimEnv::new(ctl.node, ctl.name.clone(), world.dfs.clone(), world.clock.clone(), world.knobs.seed);
    let flushes = Arc::new(FlushQueue::default());
    let wal = open(&world, &ctl, &env, &flushes).await;
    let env: Arc<dyn Env> = env;
    let regions = Arc::new(regions::open_all(&world, &ctl, &env, &wal).await);
    ctl.set(Stage::Running);
    let k = &world.knobs;
    for c in 0..k.clients {
        let d = Dice::new(k.seed, stream::client(ctl.slot, ctl.incarnation, c));
        madsim::task::spawn(workload::client(world.clone(), ctl.clone(), wal.clone(), regions.clone(), d));
    }
    if let Some(ms) = k.roll_every_ms {
        madsim::task::spawn(workload::roller(world.clone(), ctl.clone(), wal.clone(), ms));
    }
    madsim::task::spawn(regions::flusher(world.clone(), ctl.clone(), wal.clone(), regions.clone(), flushes));
    ctl.go_liveness.notified().await;
    let tasks = k.clients.min(4);
    let handles: Vec<_> = (0..tasks)
        .map(|c| {
            let d = Dice::new(k.seed, stream::client(ctl.slot, ctl.incarnation, 512 + c));
            let ops = k.liveness_ops;
            madsim::task::spawn(workload::liveness_client(world.clone(), ctl.clone(), regions.clone(), ops, d))
        })
        .collect();
    let mut result = Ok(0);
    for h in handles {
        let r = h.await.unwrap_or_else(|e| Err(format!("liveness client task failed: {e}")));
        result = match (result, r) {
            (Ok(a), Ok(b)) => Ok(a + b),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    ctl.set(Stage::LivenessDone(result));
    ctl.go_close.notified().await;
    let checked = regions::final_checks(&world, &ctl, &wal, &regions).await;
    let synced = workload::with_classic_retries(&world, || workload::sync_all(&world, &ctl, &wal, true)).await;
    let call = world.begin_call(ctl.inc, &ctl.name, "close", 0);
    let closed = wal.close().await.map_err(|e| format!("close: {e}"));
    world.end_call(call);
    ctl.set(Stage::Closed(checked.and(synced).and(closed)));
}
