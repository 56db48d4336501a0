//! `SimEnv`: the engine's [`Env`] inside madsim.
//!
//! - `now`/`sleep`: madsim's simulated clock (sleeps last at least 1 ms, madsim's floor).
//! - `wall_clock_ms`: a [`WallClock`] derived from simulated time plus a per-seed base, which
//!   the clock-step fault moves backwards or forwards (it feeds WAL file numbers).
//! - `spawn`: on the madsim node that owns the WAL, so killing the node drops the engine's
//!   tasks with it (and pausing the node stalls them).
//! - `fs`: a [`SimFs`] bound to that node; `seed`: the run seed (so `Env::rng` streams are
//!   derived from it).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hwal::env::{BoxFuture, Env, WalFs};
use madsim::task::NodeId;
use madsim::time::Instant;

use crate::dfs::{SimDfs, SimFs};
use crate::rng::Dice;

/// A wall clock: simulated elapsed time + a base + a steppable offset.
#[derive(Debug)]
pub struct WallClock {
    start: Instant,
    base_ms: u64,
    offset_ms: AtomicI64,
}

impl WallClock {
    /// A clock starting somewhere in 2023–2025, chosen by `dice`.
    pub fn new(dice: &mut Dice) -> Arc<Self> {
        let base_ms = 1_672_531_200_000 + dice.below(3 * 365 * 86_400_000);
        Arc::new(Self { start: Instant::now(), base_ms, offset_ms: AtomicI64::new(0) })
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let elapsed = self.start.elapsed().as_millis() as i64;
        (self.base_ms as i64 + elapsed + self.offset_ms.load(Ordering::SeqCst)).max(0) as u64
    }

    /// Steps the clock by `delta_ms` (negative: backwards).
    pub fn step(&self, delta_ms: i64) {
        self.offset_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

/// The environment of one server incarnation.
pub struct SimEnv {
    node: NodeId,
    fs: Arc<dyn WalFs>,
    rate_faults: Arc<AtomicBool>,
    clock: Arc<WallClock>,
    seed: u64,
    start: Instant,
}

impl SimEnv {
    /// The environment of server `who` on madsim node `node`.
    pub fn new(node: NodeId, who: Arc<str>, dfs: Arc<SimDfs>, clock: Arc<WallClock>, seed: u64) -> Arc<Self> {
        let rate_faults = Arc::new(AtomicBool::new(true));
        let fs: Arc<dyn WalFs> = Arc::new(SimFs::new(dfs, node, who, clock.clone(), rate_faults.clone()));
        Arc::new(Self { node, fs, rate_faults, clock, seed, start: Instant::now() })
    }

    /// Switches the DFS's rate faults on or off for this environment's files (the master's last
    /// split attempts run without them; see `cluster::master`).
    pub fn set_rate_faults(&self, on: bool) {
        self.rate_faults.store(on, Ordering::SeqCst);
    }
}

impl Env for SimEnv {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
    fn wall_clock_ms(&self) -> u64 {
        self.clock.now_ms()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(madsim::time::sleep(d))
    }
    fn spawn(&self, _name: &'static str, task: BoxFuture<'static, ()>) {
        match madsim::runtime::Handle::current().get_node(self.node) {
            Some(node) => {
                node.spawn(task);
            }
            None => unreachable!("the WAL's node {} exists for the whole run", self.node),
        }
    }
    fn fs(&self) -> Arc<dyn WalFs> {
        self.fs.clone()
    }
    fn seed(&self) -> u64 {
        self.seed
    }
}
