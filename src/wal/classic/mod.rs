//! The classic pipeline: HBase 1.x FSHLog — an always-on ring handler, sync runners fed in
//! batches, and the SafePointZigZagLatch roll.
//!
//! Roles and what each may touch:
//! 1. **Producers**: as for every pipeline (`wal::shared`): claim, publish, then wake the
//!    handler through the consumer gate (the handler clears the flag and re-checks before it
//!    sleeps, so a wake-up is never lost).
//! 2. **Handler** (one task; owns [`HandlerState`]): consumes the ring in batches, calling
//!    `on_event(truck, sequence, end_of_batch)`. Appends go to the writer as they arrive; sync
//!    trucks collect into a batch handed to one runner (round-robin) at the end of a batch or
//!    when the batch holds `sync_batch_count` futures. After a failed append a sticky
//!    "damaged WAL" error makes it drop appends and fail syncs until the next safe point.
//! 3. **Sync runners** (N tasks): take a future, sync the writer (hsync when any queued
//!    request asked for it), complete every queued future the sync covers, or fail them and
//!    request a roll.
//! 4. **Roller**: claims a slot, cocks a fresh latch, publishes a sync in the slot, waits for
//!    the handler to reach the safe point (the handler, at the end of the batch holding that
//!    sync, waits until no runner has work, signals "attained" and parks), closes and swaps the
//!    writer, and always releases the handler.
//!
//! The writer is swapped only while the handler is parked and every runner is idle, so no
//! entry is ever written to a writer after it was swapped out.

mod handler;
mod roll;
mod runner;

use std::collections::VecDeque;

use crate::core::event::Event;
use crate::core::gate::ConsumerGate;
use crate::core::latch::SafePointLatch;
use crate::core::ring::RingConsumer;
use crate::env::{BoxFuture, Env};
use crate::sync::{lock, Arc, AtomicBool, AtomicU32, AtomicU64, Mutex, Ordering};

use super::config::Config;
use super::error::{WalError, WalResult};
use super::lifecycle::RolledFile;
use super::listener::WalListener;
use super::record::Fut;
use super::shared::{self, PipelineImpl, WalShared};
use super::writer::LogWriter;

/// How many lost txid ranges are remembered.
const MAX_LOST_RANGES: usize = 4096;

/// The handler's own state (HBase `RingBufferEventHandler` fields).
pub(crate) struct HandlerState {
    ring_consumer: RingConsumer,
    /// Sync futures of the batch being collected.
    batch: Vec<Fut>,
    /// The last batch handed to a runner (the safe point waits for it).
    handed: Vec<Fut>,
    /// Sticky error after a failed append (HBase `DamagedWALException`).
    exception: Option<WalError>,
    runner_index: usize,
}

/// One sync runner's queue (HBase `SyncRunner`).
pub(crate) struct RunnerQueue {
    /// Ring sequence at which the last batch was handed over: every append up to it is in the
    /// writer.
    sequence: AtomicU64,
    queue: Mutex<VecDeque<Fut>>,
    busy: AtomicBool,
    notify: tokio::sync::Notify,
}

/// The classic pipeline.
pub(crate) struct Classic {
    pub base: WalShared,
    gate: ConsumerGate,
    handler_notify: tokio::sync::Notify,
    handler: tokio::sync::Mutex<HandlerState>,
    writer: Mutex<Option<LogWriter>>,
    entries_since_roll: AtomicU64,
    highest_unsynced: AtomicU64,
    latch: Mutex<Option<Arc<SafePointLatch>>>,
    /// Txid ranges appended to a writer that was swapped out without syncing them: never
    /// durable, so syncs of them fail (1.x does not re-write).
    lost: Mutex<Vec<(u64, u64)>>,
    runners: Vec<RunnerQueue>,
    /// At most `max_inflight_syncs` runner syncs at once (`None`: unbounded, as in HBase 1.x).
    sync_permits: Option<tokio::sync::Semaphore>,
    /// Signalled whenever a runner finishes work or the handler goes idle.
    progress: Event,
    handler_idle: AtomicBool,
    stopped: AtomicBool,
    /// The current writer failed an append or a sync (cleared by the next swap).
    writer_failed: AtomicBool,
    /// Writer generation, bumped at every swap; reported as the "epoch" of classic events (1.x
    /// has no epochs: nothing is fenced by it).
    generation: AtomicU32,
}

impl Classic {
    /// Opens the pipeline: first writer, handler, runners, roller and cleaner.
    pub async fn open(env: Arc<dyn Env>, cfg: Config, listener: Arc<dyn WalListener>) -> WalResult<Arc<Self>> {
        let (base, ring_consumer) = WalShared::new(env, cfg, listener).await?;
        let first = base.create_writer().await?;
        let runners = (0..base.cfg.sync_runners)
            .map(|_| RunnerQueue {
                sequence: AtomicU64::new(0),
                queue: Mutex::new(VecDeque::new()),
                busy: AtomicBool::new(false),
                notify: tokio::sync::Notify::new(),
            })
            .collect();
        let state =
            HandlerState { ring_consumer, batch: Vec::new(), handed: Vec::new(), exception: None, runner_index: 0 };
        let p = Arc::new(Classic {
            gate: ConsumerGate::with_mutant(base.mutant),
            handler_notify: tokio::sync::Notify::new(),
            handler: tokio::sync::Mutex::new(state),
            writer: Mutex::new(Some(first)),
            entries_since_roll: AtomicU64::new(0),
            highest_unsynced: AtomicU64::new(0),
            latch: Mutex::new(None),
            lost: Mutex::new(Vec::new()),
            runners,
            sync_permits: match base.cfg.max_inflight_syncs {
                0 => None,
                n => Some(tokio::sync::Semaphore::new(n)),
            },
            progress: Event::new(),
            handler_idle: AtomicBool::new(true),
            stopped: AtomicBool::new(false),
            writer_failed: AtomicBool::new(false),
            generation: AtomicU32::new(0),
            base,
        });
        let me = p.clone();
        p.base.env.spawn("wal-handler", Box::pin(async move { me.handler_task().await }));
        for i in 0..p.runners.len() {
            let me = p.clone();
            p.base.env.spawn("wal-sync-runner", Box::pin(async move { me.runner_task(i).await }));
        }
        shared::start_common_tasks(&p);
        Ok(p)
    }

    /// Records `txid` as lost (extending the newest range when it continues it).
    fn mark_lost(&self, txid: u64) {
        let mut lost = lock(&self.lost);
        match lost.last_mut() {
            Some((_, hi)) if *hi < txid && self.highest_unsynced.load(Ordering::Acquire) <= *hi => *hi = txid,
            _ => lost.push((txid, txid)),
        }
        if lost.len() > MAX_LOST_RANGES {
            // Bounded memory: forget the oldest ranges (a sync of such an old txid is
            // answered by the watermark, as in HBase).
            let excess = lost.len() - MAX_LOST_RANGES;
            lost.drain(..excess);
        }
    }

    /// The current writer generation (for events).
    fn gen(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }

    /// True when `txid` lies in a lost range.
    fn is_lost(&self, txid: u64) -> bool {
        lock(&self.lost).iter().any(|&(lo, hi)| lo <= txid && txid <= hi)
    }

    /// True while some runner has queued futures or a sync in progress.
    fn runners_busy(&self) -> bool {
        self.runners.iter().any(|r| r.busy.load(Ordering::SeqCst) || !lock(&r.queue).is_empty())
    }
}

impl PipelineImpl for Classic {
    fn base(&self) -> &WalShared {
        &self.base
    }

    fn after_publish(&self) {
        if self.gate.try_schedule() {
            self.handler_notify.notify_one();
        }
    }

    fn replace_writer(self: Arc<Self>, next: LogWriter) -> BoxFuture<'static, (Option<RolledFile>, String)> {
        Box::pin(async move { self.replace_writer_impl(next).await })
    }

    fn writer_health(&self) -> Option<(u32, u64)> {
        let w = lock(&self.writer);
        w.as_ref().map(|w| (w.file().replication(), self.entries_since_roll.load(Ordering::Acquire)))
    }

    fn current_file(&self) -> Option<String> {
        lock(&self.writer).as_ref().map(|w| w.path().to_string())
    }

    fn shutdown(self: Arc<Self>) -> BoxFuture<'static, WalResult<()>> {
        Box::pin(async move { self.shutdown_impl().await })
    }

    fn check_not_lost(&self, txid: u64) -> WalResult<()> {
        if self.is_lost(txid) {
            return Err(WalError::WriterBroken(format!("txid {txid} was on a writer that failed before syncing it")));
        }
        Ok(())
    }
}
