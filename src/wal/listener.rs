//! Observation of the engine: [`WalEvent`]s delivered to a [`WalListener`], and counters.
//!
//! Every state transition of the pipeline is an event with a stable `Display` (fixed field
//! order, `key=value`, no addresses, no wall clock), so the simulator's trace recorder and
//! oracles, metrics and users' own tooling all see the same vocabulary. Events are also emitted
//! as `tracing` events at debug level (target `hwal::wal`).
//!
//! Per-entry and per-future events are "detail" events, delivered only to listeners that ask
//! for them ([`WalListener::detailed`]), so the hot path pays nothing for a plain listener.

use std::fmt;

use crate::sync::{AtomicU64, Ordering};

use super::entry::{RegionName, WalEdit, WalKey};

/// Why a roll was requested (HBase `RollRequestReason`, plus the roller's own reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RollReason {
    /// An append or sync failed; the writer is broken.
    Error,
    /// The file reached the roll size.
    Size,
    /// Fewer live replicas than tolerable.
    LowReplication,
    /// Syncs were slow.
    SlowSync,
    /// The roll period elapsed.
    Period,
    /// `roll_writer` was called.
    Manual,
}

impl RollReason {
    /// Stable lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            RollReason::Error => "error",
            RollReason::Size => "size",
            RollReason::LowReplication => "low-replication",
            RollReason::SlowSync => "slow-sync",
            RollReason::Period => "period",
            RollReason::Manual => "manual",
        }
    }
}

/// One engine transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalEvent {
    /// A writer was opened on a new file.
    WriterOpened {
        /// The file.
        file: String,
    },
    /// Detail: the consumer (or classic handler) drained a batch of trucks from the ring.
    Drained {
        /// Append trucks drained.
        appends: u64,
        /// Sync trucks drained.
        syncs: u64,
    },
    /// Detail: an entry was written to the current writer.
    Appended {
        /// Its txid.
        txid: u64,
        /// Its region.
        region: RegionName,
        /// Its region sequence id.
        seqid: u64,
        /// Framed bytes written.
        bytes: u64,
        /// The writer epoch.
        epoch: u32,
    },
    /// A sync was handed to a sync runner.
    SyncIssued {
        /// Writer epoch at issue time.
        epoch: u32,
        /// Highest txid the sync covers.
        txid: u64,
        /// hsync (true) or hflush.
        hsync: bool,
        /// Runner index.
        runner: usize,
        /// The caller that ran the consume performs it (`Config::leader_sync`).
        lead: bool,
    },
    /// A sync completed and was accepted.
    SyncDone {
        /// Writer epoch.
        epoch: u32,
        /// Highest txid it covers.
        txid: u64,
        /// hsync or hflush.
        hsync: bool,
        /// Highest synced txid afterwards.
        synced: u64,
        /// Sync futures it completed.
        futures: u64,
        /// Duration in microseconds (simulated time in the simulator).
        elapsed_us: u64,
    },
    /// A sync completion was ignored (stale epoch, broken writer, or out of order).
    SyncIgnored {
        /// The epoch it carried.
        epoch: u32,
        /// The txid it covered.
        txid: u64,
        /// Why.
        reason: &'static str,
    },
    /// A sync failed.
    SyncFailed {
        /// Its epoch.
        epoch: u32,
        /// The txid it covered.
        txid: u64,
        /// The error.
        error: String,
    },
    /// Detail: a sync future completed.
    FutureCompleted {
        /// The future's txid.
        txid: u64,
        /// The done txid, or `None` for an error.
        done: Option<u64>,
    },
    /// The writer was marked broken; unacked entries are queued for re-writing.
    WriterBroken {
        /// Its epoch.
        epoch: u32,
        /// Entries queued for re-writing.
        requeued: u64,
        /// The error.
        error: String,
    },
    /// A roll was requested.
    RollRequested {
        /// Why.
        reason: RollReason,
    },
    /// The consumer reached the safe point for a roll.
    SafePoint {
        /// Epoch being rolled.
        epoch: u32,
    },
    /// The writer was swapped.
    Rolled {
        /// The previous file, if any.
        old: Option<String>,
        /// The new file.
        new: String,
        /// The new epoch.
        epoch: u32,
        /// Entries re-queued from the broken writer.
        rewritten: u64,
    },
    /// A slow sync was observed.
    SlowSync {
        /// Its duration in milliseconds.
        elapsed_ms: u64,
    },
    /// The current file's replication is below the tolerable count.
    LowReplication {
        /// Live replicas.
        replication: u32,
        /// Whether the check is (still) enabled after this observation.
        check_enabled: bool,
    },
    /// A rolled file was moved to `oldWALs/`.
    Archived {
        /// Its name.
        file: String,
    },
    /// Rolled files exceed `max_logs`: these regions must flush (region:family,...).
    RegionsToFlush {
        /// `region:family` pairs, sorted.
        regions: Vec<String>,
    },
    /// The cleaner deleted an archived file.
    Cleaned {
        /// Its name.
        file: String,
    },
    /// A region's cache flush changed state (start, complete, abort).
    CacheFlush {
        /// The region.
        region: RegionName,
        /// `start`, `complete` or `abort`.
        action: &'static str,
        /// start: lowest unflushed seqid left (0 = none); complete: the max flushed seqid.
        seqid: u64,
    },
    /// The WAL was closed.
    Closed,
}

impl fmt::Display for WalEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WalEvent::*;
        match self {
            WriterOpened { file } => write!(f, "WRITER_OPEN file={file}"),
            Drained { appends, syncs } => write!(f, "DRAIN       appends={appends} syncs={syncs}"),
            Appended { txid, region, seqid, bytes, epoch } => {
                write!(f, "APPEND      epoch={epoch} txid={txid} region={region} seqid={seqid} bytes={bytes}")
            }
            SyncIssued { epoch, txid, hsync, runner, lead } => {
                write!(f, "SYNC_ISSUE  epoch={epoch} txid={txid} kind={} runner={runner}", kind(*hsync))?;
                if *lead {
                    write!(f, " lead")?;
                }
                Ok(())
            }
            SyncDone { epoch, txid, hsync, synced, futures, elapsed_us } => write!(
                f,
                "SYNC_DONE   epoch={epoch} txid={txid} kind={} synced={synced} futures={futures} us={elapsed_us}",
                kind(*hsync)
            ),
            SyncIgnored { epoch, txid, reason } => write!(f, "SYNC_IGNORE epoch={epoch} txid={txid} reason={reason}"),
            SyncFailed { epoch, txid, error } => write!(f, "SYNC_FAIL   epoch={epoch} txid={txid} error={error:?}"),
            FutureCompleted { txid, done: Some(d) } => write!(f, "FUTURE_DONE txid={txid} done={d}"),
            FutureCompleted { txid, done: None } => write!(f, "FUTURE_DONE txid={txid} done=error"),
            WriterBroken { epoch, requeued, error } => {
                write!(f, "BROKEN      epoch={epoch} requeued={requeued} error={error:?}")
            }
            RollRequested { reason } => write!(f, "ROLL_REQ    reason={}", reason.name()),
            SafePoint { epoch } => write!(f, "SAFE_POINT  epoch={epoch}"),
            Rolled { old, new, epoch, rewritten } => write!(
                f,
                "ROLLED      epoch={epoch} old={} new={new} rewritten={rewritten}",
                old.as_deref().unwrap_or("-")
            ),
            SlowSync { elapsed_ms } => write!(f, "SLOW_SYNC   ms={elapsed_ms}"),
            LowReplication { replication, check_enabled } => {
                write!(f, "LOW_REPL    replication={replication} check={}", if *check_enabled { "on" } else { "off" })
            }
            Archived { file } => write!(f, "ARCHIVED    file={file}"),
            RegionsToFlush { regions } => write!(f, "FORCE_FLUSH regions={}", regions.join(",")),
            Cleaned { file } => write!(f, "CLEANED     file={file}"),
            CacheFlush { region, action, seqid } => {
                write!(f, "CACHE_FLUSH region={region} action={action} seqid={seqid}")
            }
            Closed => write!(f, "CLOSED"),
        }
    }
}

fn kind(hsync: bool) -> &'static str {
    if hsync {
        "hsync"
    } else {
        "hflush"
    }
}

/// Receives engine events. Default methods do nothing.
pub trait WalListener: Send + Sync {
    /// Called for every event, in order, from whichever task made the transition.
    fn on_event(&self, _event: &WalEvent) {}
    /// Detail: an entry (data or marker) is about to be published to the pipeline (HBase's
    /// `visitLogEntryBeforeWrite`, seen from the appending side). Called in the appending task
    /// once the txid and the region sequence id are assigned and before the entry is published,
    /// so a listener knows every entry before any event about it (e.g. a region's own appends,
    /// which the region API does not return). Only for [`detailed`](Self::detailed) listeners.
    fn before_append(&self, _txid: u64, _key: &WalKey, _edit: &WalEdit) {}
    /// True to receive detail events (per entry, per future).
    fn detailed(&self) -> bool {
        false
    }
}

/// A listener that ignores everything.
#[derive(Debug, Default)]
pub struct NoopListener;

impl WalListener for NoopListener {}

/// Counters every WAL keeps (cheap atomics), readable at any time with [`super::Wal::stats`].
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) appends: AtomicU64,
    pub(crate) appended_bytes: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) futures_completed: AtomicU64,
    pub(crate) rolls: AtomicU64,
    pub(crate) broken: AtomicU64,
    pub(crate) slow_syncs: AtomicU64,
    pub(crate) archived: AtomicU64,
    pub(crate) cleaned: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Entries written to writers (re-writes after a broken writer count again).
    pub appends: u64,
    /// Framed bytes written.
    pub appended_bytes: u64,
    /// Filesystem syncs completed and accepted.
    pub syncs: u64,
    /// Sync futures completed successfully.
    pub futures_completed: u64,
    /// Writer swaps.
    pub rolls: u64,
    /// Writers marked broken.
    pub broken: u64,
    /// Syncs slower than the slow-sync threshold.
    pub slow_syncs: u64,
    /// Files archived to `oldWALs/`.
    pub archived: u64,
    /// Archived files deleted by the cleaner.
    pub cleaned: u64,
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// A snapshot.
    pub fn snapshot(&self) -> WalStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WalStats {
            appends: g(&self.appends),
            appended_bytes: g(&self.appended_bytes),
            syncs: g(&self.syncs),
            futures_completed: g(&self.futures_completed),
            rolls: g(&self.rolls),
            broken: g(&self.broken),
            slow_syncs: g(&self.slow_syncs),
            archived: g(&self.archived),
            cleaned: g(&self.cleaned),
        }
    }
}
