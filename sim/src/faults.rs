//! Fault kinds, and the per-seed fault plan (swarm testing).
//!
//! A seed's plan is a list of **items**: one item per enabled *rate* fault (injected by SimDfs on
//! individual calls with some probability) followed by the scheduled *events* (a crash, a power
//! loss, ...; each fires once the cluster has started a given number of client ops). `minimize`
//! drops items; `--keep-faults` keeps a subset by index. All faults stop at the start of the
//! liveness phase (and windows heal).
//!
//! Swarm: with `--faults swarm` each kind is enabled in a seed with probability 1/2, so every
//! kind is entirely absent from some seeds (FoundationDB/TigerBeetle style); `--faults LIST`
//! enables exactly the listed kinds in every seed; `--faults none` disables all.
//! Parameters are drawn for every kind whether enabled or not (rule 3 of `rng`).

use std::fmt;

use crate::rng::{stream, Dice};

/// A kind of fault. Each variant says what is injected and what the engine must survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// An hflush/hsync takes long: a Pareto-distributed delay (tens of ms up to seconds). The
    /// engine must keep acking correctly, count slow syncs, and may roll on a very slow one.
    SlowSync,
    /// One hflush/hsync call fails, the stream stays usable (a transient pipeline error). In half
    /// of the injections the bytes did reach the replicas anyway ("ack lost"). The engine must
    /// treat the writer as broken, roll, and re-write every unacked entry before acking it.
    SyncError,
    /// One append to the stream fails (nothing is buffered); the stream stays usable. The
    /// engine must mark the writer broken and re-write the entry and all unacked ones.
    AppendError,
    /// The output stream breaks for good (a DFS pipeline failure): this and every later append,
    /// hflush, hsync on the file fail; `close` truncates the file to what was hflushed. The
    /// engine must roll to a new file and re-write what the broken one did not make durable.
    BrokenWriter,
    /// A data node goes down for a while, then returns. Files whose pipeline contains it lose
    /// a replica (`replication()` drops; low replication); if no replica of a pipeline is left,
    /// the stream breaks. Returning nodes do not rejoin existing pipelines (HDFS behaviour).
    DatanodeLoss,
    /// The DFS is out of space for a window: `create` fails, and every hflush/hsync that has
    /// new bytes to persist breaks the stream. The engine's rolls fail and must be retried
    /// until space returns; nothing may be acked that was not persisted.
    Enospc,
    /// A region server is killed (madsim `Handle::kill`): its un-hflushed bytes are lost, and
    /// optionally a random prefix of them survives (a torn tail). The master fences the
    /// server's directory and recovers its WALs; every SYNC/FSYNC ack must be in them.
    ServerKill,
    /// The whole cluster loses power: every server is killed and every byte not hsynced is
    /// lost (optionally keeping a torn prefix). Every FSYNC ack must survive.
    PowerLoss,
    /// A region server stalls (a long GC pause); the master declares it dead, fences its
    /// directory (rename to `-splitting`) and revokes its file leases, recovers its WALs, then
    /// the server wakes up as a zombie and keeps running for a while before it is killed. The
    /// zombie must not be able to ack anything the recovery did not see.
    Zombie,
    /// The wall clock (used in WAL file numbers and write times) steps backwards or forwards.
    /// File numbers must still strictly increase.
    ClockStep,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [FaultKind; 10] = [
        FaultKind::SlowSync,
        FaultKind::SyncError,
        FaultKind::AppendError,
        FaultKind::BrokenWriter,
        FaultKind::DatanodeLoss,
        FaultKind::Enospc,
        FaultKind::ServerKill,
        FaultKind::PowerLoss,
        FaultKind::Zombie,
        FaultKind::ClockStep,
    ];

    /// Stable kebab-case name (command lines, JSON, traces).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::SlowSync => "slow-sync",
            FaultKind::SyncError => "sync-error",
            FaultKind::AppendError => "append-error",
            FaultKind::BrokenWriter => "broken-writer",
            FaultKind::DatanodeLoss => "datanode-loss",
            FaultKind::Enospc => "enospc",
            FaultKind::ServerKill => "server-kill",
            FaultKind::PowerLoss => "power-loss",
            FaultKind::Zombie => "zombie",
            FaultKind::ClockStep => "clock-step",
        }
    }

    /// Parses [`FaultKind::name`].
    pub fn from_name(s: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Index in [`FaultKind::ALL`].
    pub fn index(self) -> usize {
        FaultKind::ALL.iter().position(|&k| k == self).expect("listed")
    }

    fn is_rate(self) -> bool {
        matches!(self, FaultKind::SlowSync | FaultKind::SyncError | FaultKind::AppendError | FaultKind::BrokenWriter)
    }
}

/// Which kinds a run may enable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultSelect {
    /// Each kind with probability 1/2 per seed.
    Swarm,
    /// No faults.
    None,
    /// Exactly these kinds, in every seed.
    List(Vec<FaultKind>),
}

impl FaultSelect {
    /// Parses `swarm`, `none` or a comma-separated list of kind names.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "swarm" => Ok(FaultSelect::Swarm),
            "none" => Ok(FaultSelect::None),
            list => list
                .split(',')
                .map(|n| {
                    FaultKind::from_name(n.trim()).ok_or_else(|| {
                        let all: Vec<_> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                        format!("unknown fault kind {n:?}; expected swarm, none or a list of: {}", all.join(","))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(FaultSelect::List),
        }
    }

    /// The stable spelling (for reproduction commands).
    pub fn spelling(&self) -> String {
        match self {
            FaultSelect::Swarm => "swarm".into(),
            FaultSelect::None => "none".into(),
            FaultSelect::List(ks) => ks.iter().map(|k| k.name()).collect::<Vec<_>>().join(","),
        }
    }
}

/// Probabilities of the rate faults, per DFS call (0 = off).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    /// Per hflush/hsync: the call is slow.
    pub slow_sync: f64,
    /// Scale (minimum) of a slow sync's Pareto delay, ms.
    pub slow_scale_ms: u64,
    /// Per hflush/hsync: the call fails once.
    pub sync_error: f64,
    /// Per append: the call fails once.
    pub append_error: f64,
    /// Per append or sync: the stream breaks for good.
    pub broken_writer: f64,
}

/// A scheduled fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Kill server slot `server`; `torn` keeps a random prefix of its unflushed bytes.
    KillServer { server: usize, torn: bool },
    /// Cluster power loss; `torn` keeps a random prefix of the unsynced bytes.
    PowerLoss { torn: bool },
    /// Stall server slot `server` for `pause_ms`, fence it, let it run as a zombie for
    /// `zombie_ms`, then kill it.
    Zombie { server: usize, pause_ms: u64, zombie_ms: u64 },
    /// Data node `dn` is down for `down_ms`.
    DatanodeDown { dn: usize, down_ms: u64 },
    /// The DFS is full for `ms`.
    Enospc { ms: u64 },
    /// The wall clock steps by `delta_ms`.
    ClockStep { delta_ms: i64 },
}

impl Action {
    /// The kind this action belongs to.
    pub fn kind(&self) -> FaultKind {
        match self {
            Action::KillServer { .. } => FaultKind::ServerKill,
            Action::PowerLoss { .. } => FaultKind::PowerLoss,
            Action::Zombie { .. } => FaultKind::Zombie,
            Action::DatanodeDown { .. } => FaultKind::DatanodeLoss,
            Action::Enospc { .. } => FaultKind::Enospc,
            Action::ClockStep { .. } => FaultKind::ClockStep,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::KillServer { server, torn } => write!(f, "server-kill rs{} torn={torn}", server + 1),
            Action::PowerLoss { torn } => write!(f, "power-loss torn={torn}"),
            Action::Zombie { server, pause_ms, zombie_ms } => {
                write!(f, "zombie rs{} pause_ms={pause_ms} zombie_ms={zombie_ms}", server + 1)
            }
            Action::DatanodeDown { dn, down_ms } => write!(f, "datanode-loss dn{dn} down_ms={down_ms}"),
            Action::Enospc { ms } => write!(f, "enospc ms={ms}"),
            Action::ClockStep { delta_ms } => write!(f, "clock-step delta_ms={delta_ms}"),
        }
    }
}

/// One item of a plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A rate fault kind, on for the whole safety phase.
    Rate(FaultKind),
    /// A scheduled event, fired once `at_op` client ops have started.
    Event { at_op: u64, action: Action },
}

/// A seed's faults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    /// All rate parameters (whether enabled or not).
    all_rates: Rates,
    /// The items, rates first, then events by `at_op`.
    pub items: Vec<Item>,
}

/// Shape of the cluster the plan targets.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// Region servers.
    pub servers: usize,
    /// Data nodes.
    pub datanodes: usize,
    /// Client ops of the safety phase.
    pub ops: u64,
}

impl FaultPlan {
    /// Draws the plan of `seed` (stream [`stream::FAULTS`]).
    pub fn derive(seed: u64, select: &FaultSelect, t: Target) -> FaultPlan {
        let mut d = Dice::new(seed, stream::FAULTS);
        // Parameters first, for every kind (rule 3 of `rng`).
        let all_rates = Rates {
            slow_sync: d.unit_range(0.01, 0.08),
            slow_scale_ms: d.range(5, 40),
            sync_error: d.unit_range(0.003, 0.02),
            append_error: d.unit_range(0.001, 0.006),
            broken_writer: d.unit_range(0.001, 0.006),
        };
        let mut events: Vec<(FaultKind, Vec<Action>)> = Vec::new();
        let kills = (0..d.range(1, 2))
            .map(|_| Action::KillServer { server: d.below(t.servers as u64) as usize, torn: d.chance(0.5) })
            .collect();
        events.push((FaultKind::ServerKill, kills));
        events.push((FaultKind::PowerLoss, vec![Action::PowerLoss { torn: d.chance(0.5) }]));
        let zombie = Action::Zombie {
            server: d.below(t.servers as u64) as usize,
            pause_ms: d.range(5, 200),
            zombie_ms: d.range(5, 300),
        };
        events.push((FaultKind::Zombie, vec![zombie]));
        let dns = (0..d.range(1, 3))
            .map(|_| Action::DatanodeDown { dn: d.below(t.datanodes as u64) as usize, down_ms: d.range(5, 400) })
            .collect();
        events.push((FaultKind::DatanodeLoss, dns));
        let full = (0..d.range(1, 2)).map(|_| Action::Enospc { ms: d.range(2, 150) }).collect();
        events.push((FaultKind::Enospc, full));
        let steps = (0..d.range(1, 3))
            .map(|_| {
                let mag = d.pareto(1_000.0, 0.7, 3_600_000) as i64;
                Action::ClockStep { delta_ms: if d.chance(0.6) { -mag } else { mag } }
            })
            .collect();
        events.push((FaultKind::ClockStep, steps));

        let mut enabled = [false; FaultKind::ALL.len()];
        for k in FaultKind::ALL {
            let coin = d.chance(0.5);
            enabled[k.index()] = match select {
                FaultSelect::Swarm => coin,
                FaultSelect::None => false,
                FaultSelect::List(ks) => ks.contains(&k),
            };
        }
        let mut items: Vec<Item> =
            FaultKind::ALL.into_iter().filter(|k| k.is_rate() && enabled[k.index()]).map(Item::Rate).collect();
        let mut scheduled = Vec::new();
        let (lo, hi) = (t.ops / 20, t.ops * 9 / 10);
        for (kind, actions) in events {
            for action in actions {
                let at_op = d.range(lo, hi.max(lo));
                if enabled[kind.index()] {
                    scheduled.push(Item::Event { at_op, action });
                }
            }
        }
        scheduled.sort_by_key(|i| match i {
            Item::Event { at_op, .. } => *at_op,
            Item::Rate(_) => 0,
        });
        items.extend(scheduled);
        FaultPlan { all_rates, items }
    }

    /// Keeps only the items whose index is in `keep`.
    pub fn retain(&mut self, keep: &std::collections::BTreeSet<usize>) {
        let items = std::mem::take(&mut self.items);
        self.items = items.into_iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, it)| it).collect();
    }

    /// The rates of the enabled rate kinds (others 0).
    pub fn rates(&self) -> Rates {
        let on = |k: FaultKind| self.items.contains(&Item::Rate(k));
        let r = self.all_rates;
        Rates {
            slow_sync: if on(FaultKind::SlowSync) { r.slow_sync } else { 0.0 },
            slow_scale_ms: r.slow_scale_ms,
            sync_error: if on(FaultKind::SyncError) { r.sync_error } else { 0.0 },
            append_error: if on(FaultKind::AppendError) { r.append_error } else { 0.0 },
            broken_writer: if on(FaultKind::BrokenWriter) { r.broken_writer } else { 0.0 },
        }
    }

    /// The scheduled events in firing order.
    pub fn events(&self) -> Vec<(u64, Action)> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Event { at_op, action } => Some((*at_op, action.clone())),
                Item::Rate(_) => None,
            })
            .collect()
    }

    /// The enabled kinds, comma-separated (`-` when none).
    pub fn kinds_line(&self) -> String {
        let mut ks: Vec<FaultKind> = self
            .items
            .iter()
            .map(|i| match i {
                Item::Rate(k) => *k,
                Item::Event { action, .. } => action.kind(),
            })
            .collect();
        ks.sort();
        ks.dedup();
        if ks.is_empty() {
            "-".into()
        } else {
            ks.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
        }
    }

    /// One line per item, numbered (for `minimize` and failure reports).
    pub fn describe(&self) -> Vec<String> {
        let r = self.all_rates;
        self.items
            .iter()
            .enumerate()
            .map(|(i, it)| match it {
                Item::Rate(FaultKind::SlowSync) => {
                    format!("#{i} slow-sync p={:.4} scale_ms={}", r.slow_sync, r.slow_scale_ms)
                }
                Item::Rate(FaultKind::SyncError) => format!("#{i} sync-error p={:.4}", r.sync_error),
                Item::Rate(FaultKind::AppendError) => format!("#{i} append-error p={:.4}", r.append_error),
                Item::Rate(FaultKind::BrokenWriter) => format!("#{i} broken-writer p={:.4}", r.broken_writer),
                Item::Rate(k) => format!("#{i} {}", k.name()),
                Item::Event { at_op, action } => format!("#{i} at_op={at_op} {action}"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Swarm plans differ across seeds, and each kind is off in some and on in others.
    #[test]
    fn swarm_switches_kinds_off_and_on() {
        let t = Target { servers: 3, datanodes: 4, ops: 2000 };
        let mut on = [0; 10];
        for seed in 0..200 {
            let p = FaultPlan::derive(seed, &FaultSelect::Swarm, t);
            for k in FaultKind::ALL {
                if p.kinds_line().split(',').any(|n| n == k.name()) {
                    on[k.index()] += 1;
                }
            }
        }
        assert!(on.iter().all(|&n| n > 50 && n < 150), "{on:?}");
        assert!(FaultPlan::derive(1, &FaultSelect::None, t).items.is_empty());
    }
}
