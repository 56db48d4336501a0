//! WAL configuration. Every bound has a name here, its HBase default and its minimum.

use std::time::Duration;

use crate::core::mutant::Mutant;
use crate::format::RecoveryMode;

use super::error::WalError;

/// Which of HBase's two WAL designs runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Pipeline {
    /// HBase 3.x AbstractFSWAL consume loop + FSHLog sync runners, epoch-based roll.
    #[default]
    Scheduled,
    /// HBase 1.x FSHLog: always-on ring handler, SafePointZigZagLatch roll.
    Classic,
}

/// Who performs a sync that a caller's own consume run starts (`Config::leader_sync`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LeaderSync {
    /// The file's I/O thread or a sync runner, as HBase hands every sync to a runner thread.
    Off,
    /// An OS thread of the blocking API syncs on its own thread when the file can
    /// (`WalFile::sync_now`: local disk): no hand-off between the consume, the sync and the
    /// completion of every caller it covered. Async callers hand the sync off as with `Off`.
    #[default]
    Blocking,
    /// As `Blocking`, and an async caller leads too, by awaiting the file's sync in its own
    /// task. Meant for the simulator, where every caller is a task: it runs the leader's path
    /// (consume, sync and completion on a caller) under faults.
    Always,
}

impl LeaderSync {
    /// Stable name: `off`, `blocking` or `always`.
    pub fn name(self) -> &'static str {
        match self {
            LeaderSync::Off => "off",
            LeaderSync::Blocking => "blocking",
            LeaderSync::Always => "always",
        }
    }
}

impl Pipeline {
    /// Stable name: `scheduled` or `classic`.
    pub fn name(self) -> &'static str {
        match self {
            Pipeline::Scheduled => "scheduled",
            Pipeline::Classic => "classic",
        }
    }
    /// Parses [`Pipeline::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(Pipeline::Scheduled),
            "classic" => Some(Pipeline::Classic),
            _ => None,
        }
    }
}

/// WAL settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Region server name; files live in `WALs/<server>/<server>.<file number>`.
    /// Default: `rs1`. Must be non-empty, without `/` or `.`.
    pub server: String,
    /// Which pipeline runs. Default: [`Pipeline::Scheduled`].
    pub pipeline: Pipeline,
    /// Ring slots (`hbase.regionserver.wal.disruptor.event.count`).
    /// Default: 16384. Minimum: 2; a power of two.
    pub ring_capacity: usize,
    /// Sync runner tasks (`hbase.regionserver.hlog.syncer.count`). Default: 5. Minimum: 1.
    pub sync_runners: usize,
    /// Queued sync requests per runner (HBase: 3 × sync batch count). Default: 600. Minimum: 1.
    pub sync_runner_queue: usize,
    /// Syncs in flight at once; 0 = unbounded (HBase: a sync goes to a runner whenever one is
    /// due, so up to `sync_runners` overlap). On a local disk overlapping fdatasyncs of one file
    /// serialise, and one at a time lets each sync cover more writers. With `direct_sync` and 0,
    /// the bound is `sync_runners`, as if runners still carried the syncs. Default: 1.
    pub max_inflight_syncs: usize,
    /// Let the consumer start a sync itself, completed on the file's own I/O thread, when the
    /// filesystem supports it (`WalFile::sync_then`: local disk does), instead of handing it to
    /// a sync-runner task: two thread hand-offs fewer per group commit. `false` always uses the
    /// runner tasks, as HBase does. Default: true.
    pub direct_sync: bool,
    /// Scheduled pipeline: the caller whose publish schedules the consumer runs the consume
    /// itself instead of waking the consumer task — when it is the only call in the WAL, or
    /// when `leader_sync` lets it lead (any publish of a blocking-API caller; with
    /// [`LeaderSync::Always`], of any caller). One thread hand-off fewer per group commit
    /// (measured: 1 writer, FSYNC per op, ~1.7x ops/s). HBase submits every run to its consume
    /// executor: `false` reproduces that (and turns `leader_sync` off). Default: true.
    pub inline_consume: bool,
    /// Scheduled pipeline, with `inline_consume` and `direct_sync`: a caller waiting for a sync
    /// leads its group commit. Every blocking-API caller that wins the consumer gate runs the
    /// consume itself (writing what every caller published), and when it is waiting for a
    /// sync, it performs the sync that run starts on its own thread and completes everyone
    /// the sync covered: the consumer task and the file's I/O thread stay out of the cycle.
    /// Appends never lead (an append returns without waiting for a sync). A leader blocked in
    /// a sync that never returns is not released by `sync_timeout` (the other callers are).
    /// HBase hands every sync to a runner thread: [`LeaderSync::Off`] reproduces that.
    /// Default: [`LeaderSync::Blocking`].
    pub leader_sync: LeaderSync,
    /// After a sync completes, hold the next one until seven eighths of the callers it woke are
    /// back with their next sync request (at most `sync_coalesce_wait`), so one sync covers
    /// them too. HBase issues the next sync at once: `false` reproduces that. Default: true.
    pub sync_coalesce: bool,
    /// Longest hold of `sync_coalesce`. Default: 1 ms. Minimum: 1 µs.
    pub sync_coalesce_wait: Duration,
    /// Bytes written to the writer but not yet acknowledged by a sync above which the consumer
    /// stops writing until a sync completes; back-pressure then reaches producers through the
    /// ring. Default: 16 MiB. Minimum: `batch_size_bytes`.
    pub max_unacked_bytes: u64,
    /// Bytes written since the last sync that force a sync (`hbase.wal.batch.size`).
    /// Default: 64 KiB. Minimum: 1.
    pub batch_size_bytes: u64,
    /// Sync futures per classic-handler batch (`hbase.regionserver.wal.sync.batch.count`).
    /// Default: 200. Minimum: 1.
    pub sync_batch_count: usize,
    /// Sync with hsync unless a request says otherwise (`hbase.wal.hsync`). Default: false.
    pub default_hsync: bool,
    /// Longest a caller waits for its sync (`hbase.regionserver.wal.sync.timeout`).
    /// Default: 5 min. Minimum: 1 ms.
    pub sync_timeout: Duration,
    /// Roll when the current file exceeds this (`logroll.multiplier` × WAL block size: 0.5 ×
    /// 2 × 128 MiB). Default: 128 MiB. Minimum: 1 KiB.
    pub roll_size_bytes: u64,
    /// Roll at least this often (`hbase.regionserver.logroll.period`). Default: 1 h.
    /// Minimum: 1 ms.
    pub roll_period: Duration,
    /// Rolled files above which the oldest file's regions must flush
    /// (`hbase.regionserver.maxlogs`). Default: 32. Minimum: 1.
    pub max_logs: usize,
    /// How often the roller wakes to check periods and replication
    /// (`hbase.server.thread.wakefrequency`). Default: 10 s. Minimum: 1 ms.
    pub roller_wake_frequency: Duration,
    /// A sync slower than this is logged and counted (`hbase.regionserver.wal.slowsync.ms`).
    /// Default: 100 ms.
    pub slow_sync: Duration,
    /// A single sync slower than this requests a roll (`hbase.regionserver.wal.roll.on.sync.ms`).
    /// Default: 10 s. Must be at least `slow_sync`.
    pub roll_on_sync: Duration,
    /// Slow syncs within `slow_sync_roll_interval` that request a roll. Default: 100. Minimum: 1.
    pub slow_sync_roll_threshold: u32,
    /// Window of the slow-sync count. Default: 60 s. Minimum: 1 ms.
    pub slow_sync_roll_interval: Duration,
    /// How often the roller checks replication. Default: 30 s. Minimum: 1 ms.
    pub low_replication_check_interval: Duration,
    /// Replication below which a roll is requested; 0 = never (local disk reports 0).
    /// Default: 0 (the filesystem's default is used by callers that know it).
    pub min_tolerable_replication: u32,
    /// Consecutive low-replication rolls before the check is disabled until replication
    /// recovers (`hbase.regionserver.hlog.lowreplication.rolllimit`). Default: 5. Minimum: 1.
    pub low_replication_roll_limit: u32,
    /// Archived files older than this are deleted by the cleaner (`hbase.master.logcleaner.ttl`).
    /// Default: 10 min.
    pub cleaner_ttl: Duration,
    /// How often the cleaner runs (`hbase.master.cleaner.interval`). Default: 10 min.
    /// Minimum: 1 ms.
    pub cleaner_interval: Duration,
    /// How readers treat damaged files. Default: [`RecoveryMode::TolerateTailCorruption`].
    pub recovery_mode: RecoveryMode,
    /// Longest `close` waits for the pipeline to drain (`hbase.wal.shutdown.wait.timeout.ms`).
    /// Default: 15 s. Minimum: 1 ms.
    pub shutdown_timeout: Duration,
    /// A deliberately broken variant (simulator and models only). Default: none.
    pub mutant: Mutant,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: "rs1".to_string(),
            pipeline: Pipeline::Scheduled,
            ring_capacity: crate::core::ring::DEFAULT_RING_CAPACITY,
            sync_runners: 5,
            sync_runner_queue: 600,
            max_inflight_syncs: 1,
            direct_sync: true,
            inline_consume: true,
            leader_sync: LeaderSync::Blocking,
            sync_coalesce: true,
            sync_coalesce_wait: Duration::from_millis(1),
            batch_size_bytes: 64 * 1024,
            max_unacked_bytes: 16 * 1024 * 1024,
            sync_batch_count: 200,
            default_hsync: false,
            sync_timeout: Duration::from_secs(300),
            roll_size_bytes: 128 * 1024 * 1024,
            roll_period: Duration::from_secs(3600),
            max_logs: 32,
            roller_wake_frequency: Duration::from_secs(10),
            slow_sync: Duration::from_millis(100),
            roll_on_sync: Duration::from_secs(10),
            slow_sync_roll_threshold: 100,
            slow_sync_roll_interval: Duration::from_secs(60),
            low_replication_check_interval: Duration::from_secs(30),
            min_tolerable_replication: 0,
            low_replication_roll_limit: 5,
            cleaner_ttl: Duration::from_secs(600),
            cleaner_interval: Duration::from_secs(600),
            recovery_mode: RecoveryMode::TolerateTailCorruption,
            shutdown_timeout: Duration::from_secs(15),
            mutant: Mutant::None,
        }
    }
}

impl Config {
    /// Rejects impossible or contradictory settings with an error naming the field.
    pub fn validate(&self) -> Result<(), WalError> {
        let bad = |field: &str, why: String| Err(WalError::Config(format!("{field}: {why}")));
        if self.server.is_empty() || self.server.contains(['/', '.']) {
            return bad("server", format!("{:?} must be non-empty and contain no '/' or '.'", self.server));
        }
        if self.ring_capacity < 2 || !self.ring_capacity.is_power_of_two() {
            return bad("ring_capacity", format!("{} must be a power of two >= 2", self.ring_capacity));
        }
        for (field, v) in [
            ("sync_runners", self.sync_runners),
            ("sync_runner_queue", self.sync_runner_queue),
            ("sync_batch_count", self.sync_batch_count),
            ("max_logs", self.max_logs),
        ] {
            if v == 0 {
                return bad(field, "must be at least 1".into());
            }
        }
        if self.batch_size_bytes == 0 {
            return bad("batch_size_bytes", "must be at least 1".into());
        }
        if self.max_unacked_bytes < self.batch_size_bytes {
            return bad(
                "max_unacked_bytes",
                format!("{} must be at least batch_size_bytes ({})", self.max_unacked_bytes, self.batch_size_bytes),
            );
        }
        if self.roll_size_bytes < 1024 {
            return bad("roll_size_bytes", format!("{} is below the minimum of 1024", self.roll_size_bytes));
        }
        for (field, d) in [
            ("sync_timeout", self.sync_timeout),
            ("roll_period", self.roll_period),
            ("roller_wake_frequency", self.roller_wake_frequency),
            ("slow_sync_roll_interval", self.slow_sync_roll_interval),
            ("low_replication_check_interval", self.low_replication_check_interval),
            ("shutdown_timeout", self.shutdown_timeout),
            ("cleaner_interval", self.cleaner_interval),
        ] {
            if d < Duration::from_millis(1) {
                return bad(field, format!("{d:?} is below the minimum of 1 ms"));
            }
        }
        if self.sync_coalesce_wait < Duration::from_micros(1) {
            return bad("sync_coalesce_wait", format!("{:?} is below the minimum of 1 µs", self.sync_coalesce_wait));
        }
        if self.roll_on_sync < self.slow_sync {
            return bad(
                "roll_on_sync",
                format!("{:?} must be at least slow_sync ({:?})", self.roll_on_sync, self.slow_sync),
            );
        }
        if self.slow_sync_roll_threshold == 0 || self.low_replication_roll_limit == 0 {
            return bad("slow_sync_roll_threshold/low_replication_roll_limit", "must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defaults are valid; impossible values are refused with the field named.
    #[test]
    fn validate_names_the_bad_field() {
        Config::default().validate().unwrap();
        let c = Config { ring_capacity: 1000, ..Config::default() };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("ring_capacity"), "{e}");
        let c = Config { server: "a/b".into(), ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("server"));
        let c = Config { roll_on_sync: Duration::from_millis(1), ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("roll_on_sync"));
    }
}
