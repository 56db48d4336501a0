//! What a seed decides: the cluster shape, the workload mix, the engine configuration and the
//! fault plan, all drawn from the seed (stream [`stream::KNOBS`] and the fault stream), and
//! printed as one `key=value` line.

use std::collections::BTreeSet;
use std::time::Duration;

use hwal::core::mutant::Mutant;
use hwal::{Config, Pipeline};

use crate::faults::{FaultPlan, FaultSelect, Target};
use crate::rng::{stream, Dice};

/// Replicas per SimDfs file pipeline (the file system's default replication).
pub const REPLICATION: usize = 3;

/// Pipelines the simulator runs (`--pipeline both` runs each).
pub const AVAILABLE_PIPELINES: &[Pipeline] = &[Pipeline::Scheduled, Pipeline::Classic];

/// Default client ops of the safety phase, across the cluster.
pub const DEFAULT_OPS: u64 = 2_000;

/// What the command line fixes for a run (everything else comes from the seed).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// A deliberately broken engine variant (`Mutant::None`: the real engine).
    pub mutant: Mutant,
    /// Which fault kinds may be enabled.
    pub faults: FaultSelect,
    /// Keep only these plan items (minimize / reproduction of a minimized schedule).
    pub keep: Option<BTreeSet<usize>>,
    /// Client ops of the safety phase.
    pub ops: u64,
    /// Check every acknowledgement against the DFS immediately (`Oracle::check_ack`). Off, only
    /// the recovery and final oracles judge durability (used to measure their power alone).
    pub ack_check: bool,
    /// Give each client an equal share of `ops` instead of one shared budget, so the clients'
    /// op sequences do not depend on timing (`run --pipeline both --diff`).
    pub per_client_ops: bool,
    /// Check at every `ARCHIVED` event that the file is not the writer's current one. Off,
    /// only the recovery and region oracles judge an archived current file.
    pub archive_check: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            pipeline: Pipeline::Scheduled,
            mutant: Mutant::None,
            faults: FaultSelect::Swarm,
            keep: None,
            ops: DEFAULT_OPS,
            ack_check: true,
            per_client_ops: false,
            archive_check: true,
        }
    }
}

impl RunOptions {
    /// The flags that reproduce a run of `seed` with these options.
    pub fn repro_command(&self, seed: u64) -> String {
        let mut s = format!("cargo sim run --seed {seed} --pipeline {}", self.pipeline.name());
        if self.mutant != Mutant::None {
            s += &format!(" --mutant {}", self.mutant.name());
        }
        if self.faults != FaultSelect::Swarm {
            s += &format!(" --faults {}", self.faults.spelling());
        }
        if let Some(keep) = &self.keep {
            let list: Vec<String> = keep.iter().map(|i| i.to_string()).collect();
            s += &format!(" --keep-faults {}", if list.is_empty() { "none".into() } else { list.join(",") });
        }
        if self.ops != DEFAULT_OPS {
            s += &format!(" --ops {}", self.ops);
        }
        if !self.ack_check {
            s += " --no-ack-check";
        }
        if !self.archive_check {
            s += " --no-archive-check";
        }
        s
    }
}

/// Engine settings drawn per seed (the rest are `Config::default()`).
#[derive(Clone, Debug)]
pub struct EngineKnobs {
    /// `Config::ring_capacity`.
    pub ring_capacity: usize,
    /// `Config::sync_runners`.
    pub sync_runners: usize,
    /// `Config::max_inflight_syncs`.
    pub max_inflight_syncs: usize,
    /// `Config::sync_coalesce`.
    pub sync_coalesce: bool,
    /// `Config::max_unacked_bytes` (a few batches, to exercise back-pressure).
    pub max_unacked_bytes: u64,
    /// `Config::inline_consume`.
    pub inline_consume: bool,
    /// `Config::direct_sync` (off: every sync goes through the runner tasks, as in HBase).
    pub direct_sync: bool,
    /// `Config::leader_sync`: `Always` (a waiting caller task runs the consume, awaits the sync
    /// it starts and completes the others) or `Off`; `Blocking` behaves as `Off` here, where
    /// no caller is an OS thread.
    pub leader_sync: hwal::LeaderSync,
    /// `Config::batch_size_bytes`.
    pub batch_size_bytes: u64,
    /// `Config::roll_size_bytes`.
    pub roll_size_bytes: u64,
    /// `Config::default_hsync`.
    pub default_hsync: bool,
    /// `Config::roll_on_sync`, ms.
    pub roll_on_sync_ms: u64,
}

/// Everything a seed decides.
#[derive(Clone, Debug)]
pub struct Knobs {
    /// The run seed.
    pub seed: u64,
    /// Options from the command line.
    pub opts: RunOptions,
    /// Region servers (madsim nodes).
    pub servers: usize,
    /// Regions per server.
    pub regions: usize,
    /// Client tasks per server.
    pub clients: usize,
    /// Data nodes of the DFS.
    pub datanodes: usize,
    /// Weights of ASYNC / SYNC / FSYNC puts.
    pub durability_weights: [u32; 3],
    /// Value sizes, bytes (inclusive range).
    pub value_bytes: (u64, u64),
    /// Chance that a client thinks (sleeps 1 ms) between ops.
    pub think: f64,
    /// Chance that an op is a `sync_all` instead of a put.
    pub sync_all: f64,
    /// Forced roll every this many ms (`None`: no forced rolls).
    pub roll_every_ms: Option<u64>,
    /// Largest normal sync latency in whole ms ticks (0: syncs only yield).
    pub sync_ms_max: u64,
    /// Engine settings.
    pub engine: EngineKnobs,
    /// Ops of each server's liveness workload.
    pub liveness_ops: u64,
    /// Chance that a client op is a region flush.
    pub flush: f64,
    /// `Config::max_logs`: rolled files above which the WAL asks regions to flush.
    pub max_logs: usize,
    /// `SplitConfig::split_buffer_bytes` of the master's splits.
    pub split_buffer_bytes: u64,
    /// `SplitConfig::split_writer_threads` of the master's splits.
    pub split_writers: usize,
    /// The fault plan.
    pub plan: FaultPlan,
}

impl Knobs {
    /// Draws the knobs of `seed`.
    pub fn derive(seed: u64, opts: &RunOptions) -> Knobs {
        let mut d = Dice::new(seed, stream::KNOBS);
        let servers = d.range(3, 4) as usize;
        let regions = d.range(1, 4) as usize;
        let clients = d.range(2, 10) as usize;
        let datanodes = d.range(3, 5) as usize;
        let durability_weights = [d.range(0, 4) as u32, d.range(1, 6) as u32, d.range(0, 4) as u32];
        let lo = d.range(8, 64);
        let value_bytes = (lo, lo + d.range(0, 400));
        let think = *d.pick(&[0.0, 0.1, 0.5]);
        let sync_all = *d.pick(&[0.0, 0.01, 0.05]);
        let roll = d.range(10, 300);
        let roll_every_ms = d.chance(0.6).then_some(roll);
        let sync_ms_max = d.range(0, 3);
        let engine = EngineKnobs {
            ring_capacity: *d.pick(&[8, 64, 1024, 16384]),
            sync_runners: d.range(1, 5) as usize,
            max_inflight_syncs: *d.pick(&[0, 1, 1, 2]),
            batch_size_bytes: *d.pick(&[512, 4096, 64 * 1024]),
            roll_size_bytes: *d.pick(&[4 * 1024, 32 * 1024, 256 * 1024, 128 * 1024 * 1024]),
            default_hsync: d.chance(0.1),
            roll_on_sync_ms: *d.pick(&[200, 1_000, 10_000]),
            sync_coalesce: d.chance(0.6),
            max_unacked_bytes: 0,
            inline_consume: false,
            direct_sync: true,
            leader_sync: hwal::LeaderSync::Off,
        };
        let mut engine = engine;
        engine.max_unacked_bytes = engine.batch_size_bytes * *d.pick(&[1, 4, 1024]);
        let liveness_ops = 8;
        let flush = *d.pick(&[0.0, 0.005, 0.01, 0.02]);
        let max_logs = *d.pick(&[2, 4, 8, 32]);
        let split_buffer_bytes = *d.pick(&[1024, 16 * 1024, 128 * 1024 * 1024]);
        let split_writers = d.range(1, 3) as usize;
        engine.inline_consume = d.chance(0.7);
        engine.direct_sync = d.chance(0.7);
        engine.leader_sync = if d.chance(0.6) { hwal::LeaderSync::Always } else { hwal::LeaderSync::Off };
        let mut plan = FaultPlan::derive(seed, &opts.faults, Target { servers, datanodes, ops: opts.ops });
        if let Some(keep) = &opts.keep {
            plan.retain(keep);
        }
        Knobs {
            seed,
            opts: opts.clone(),
            servers,
            regions,
            clients,
            datanodes,
            durability_weights,
            value_bytes,
            think,
            sync_all,
            roll_every_ms,
            sync_ms_max,
            engine,
            liveness_ops,
            flush,
            max_logs,
            split_buffer_bytes,
            split_writers,
            plan,
        }
    }

    /// The engine configuration of server incarnation `server`.
    pub fn config(&self, server: &str) -> Config {
        let e = &self.engine;
        Config {
            server: server.to_string(),
            pipeline: self.opts.pipeline,
            ring_capacity: e.ring_capacity,
            sync_runners: e.sync_runners,
            max_inflight_syncs: e.max_inflight_syncs,
            sync_coalesce: e.sync_coalesce,
            inline_consume: e.inline_consume,
            direct_sync: e.direct_sync,
            leader_sync: e.leader_sync,
            max_unacked_bytes: e.max_unacked_bytes,
            batch_size_bytes: e.batch_size_bytes,
            roll_size_bytes: e.roll_size_bytes,
            default_hsync: e.default_hsync,
            slow_sync: Duration::from_millis(100).min(Duration::from_millis(e.roll_on_sync_ms)),
            roll_on_sync: Duration::from_millis(e.roll_on_sync_ms),
            roller_wake_frequency: Duration::from_millis(500),
            sync_timeout: Duration::from_secs(120),
            // HBase's default tolerable replication is the file system's default replication
            // (3 here), so losing any data node of a pipeline asks for a roll. A safety phase
            // lasts a few simulated milliseconds, so the roller checks every millisecond (the
            // classic pipeline also checks after every sync, as 1.x does).
            min_tolerable_replication: REPLICATION as u32,
            low_replication_check_interval: Duration::from_millis(1),
            shutdown_timeout: Duration::from_secs(15),
            max_logs: self.max_logs,
            // Archived files stay in `oldWALs/` for the whole run: the oracles read them.
            cleaner_ttl: Duration::from_secs(86_400),
            cleaner_interval: Duration::from_secs(86_400),
            mutant: self.opts.mutant,
            ..Config::default()
        }
    }

    /// The master's split settings.
    pub fn split_config(&self) -> hwal::SplitConfig {
        hwal::SplitConfig {
            split_buffer_bytes: self.split_buffer_bytes,
            split_writer_threads: self.split_writers,
            worker_name: "master".to_string(),
            ..hwal::SplitConfig::default()
        }
    }

    /// The knobs as one `key=value` line.
    pub fn line(&self) -> String {
        let e = &self.engine;
        let w = self.durability_weights;
        format!(
            "seed={} pipeline={} mutant={} servers={} regions={} clients={} datanodes={} ops={} \
             durability=async:{},sync:{},fsync:{} value_bytes={}..{} think={} sync_all={} roll_every_ms={} \
             sync_ms_max={} ring={} runners={} max_inflight={} batch_bytes={} roll_bytes={} default_hsync={} \
             roll_on_sync_ms={} coalesce={} max_unacked={} inline={} direct_sync={} leader={} flush={} max_logs={} split_buffer={} split_writers={} faults={}",
            self.seed,
            self.opts.pipeline.name(),
            self.opts.mutant.name(),
            self.servers,
            self.regions,
            self.clients,
            self.datanodes,
            self.opts.ops,
            w[0],
            w[1],
            w[2],
            self.value_bytes.0,
            self.value_bytes.1,
            self.think,
            self.sync_all,
            self.roll_every_ms.map_or("off".into(), |m| m.to_string()),
            self.sync_ms_max,
            e.ring_capacity,
            e.sync_runners,
            e.max_inflight_syncs,
            e.batch_size_bytes,
            e.roll_size_bytes,
            e.default_hsync,
            e.roll_on_sync_ms,
            e.sync_coalesce,
            e.max_unacked_bytes,
            e.inline_consume,
            e.direct_sync,
            e.leader_sync.name(),
            self.flush,
            self.max_logs,
            self.split_buffer_bytes,
            self.split_writers,
            self.plan.kinds_line(),
        )
    }
}
