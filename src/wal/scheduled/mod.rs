//! The scheduled pipeline: HBase 3.x `AbstractFSWAL` consume loop with FSHLog's sync runners.
//!
//! Roles and what each may touch:
//! 1. **Producers** (any task or thread, `wal::shared`): claim a ring slot together with the
//!    region's MVCC write number, publish an append or sync truck, and call `after_publish` —
//!    the winner of the consumerScheduled CAS submits a consume run.
//! 2. **Consumer** (one consume run at a time, serialised by the `consumer` mutex, which plays
//!    HBase's single-threaded consume executor): drains the ring into `to_write` and the
//!    sync-future set, writes entries, keeps them in `unacked` until a sync acks them, decides
//!    when to sync, and completes sync futures (`finish_sync`). Only it reads the ring.
//! 3. **Sync runners** (N tasks): take sync requests round-robin, hflush/hsync the file, and
//!    report back under the consumer mutex (`on_sync_completed` / `on_sync_failed`), where the
//!    epoch check discards reports about an older or broken writer.
//! 4. **Roller** (one roll at a time): sets waiting-roll, waits until the consumer reports
//!    ready-for-rolling (nothing unacked, or the writer broke), swaps the writer, bumps the
//!    epoch and reschedules the consumer.
//!
//! `epoch_and_state` changes only under the consumer mutex.

mod consume;
mod roll;
mod runner;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::core::epoch::EpochAndState;
use crate::core::event::Event;
use crate::core::gate::ConsumerGate;
use crate::core::ring::RingConsumer;
use crate::env::{BoxFuture, Env};
use crate::sync::{lock, Arc, AtomicBool, Mutex, Ordering};

use super::config::{Config, LeaderSync};
use super::error::WalResult;
use super::lifecycle::RolledFile;
use super::listener::WalListener;
use super::record::{AppendRecord, Fut};
use super::shared::{self, LeadSync, PipelineImpl, WalShared};
use super::writer::LogWriter;

pub(crate) use runner::SyncRequest;

/// Everything a consume run owns (HBase's consumer-thread-only fields).
pub(crate) struct ConsumerState {
    ring_consumer: RingConsumer,
    writer: Option<LogWriter>,
    to_write: VecDeque<AppendRecord>,
    unacked: VecDeque<AppendRecord>,
    unacked_bytes: u64,
    /// The consumer stopped at `max_unacked_bytes`; a sync completion resumes it.
    backpressured: bool,
    /// Acked by hflush but not yet covered by an hsync; re-written if the writer breaks, so an
    /// FSYNC request never depends on bytes only a broken writer held.
    unhsynced: VecDeque<AppendRecord>,
    unhsynced_bytes: u64,
    /// Pending sync futures by (txid, ring sequence).
    sync_futures: BTreeMap<(u64, u64), Fut>,
    highest_processed_txid: u64,
    highest_processed_txid_at_last_sync: u64,
    file_length_at_last_sync: u64,
    hsync_requested_upto: u64,
    force_next_hsync: bool,
    ready_for_rolling: bool,
    /// Entries up to this txid were re-queued from a broken writer: write them all before
    /// cutting a batch (HBASE-25905).
    rewrite_until: u64,
    runner_index: usize,
    entries_since_roll: u64,
    /// Syncs of the current epoch handed to runners and not yet reported.
    inflight_syncs: usize,
    /// A sync was due while `max_inflight_syncs` were in flight: issue it on the next report.
    sync_deferred: bool,
    /// Futures to complete once the consumer mutex is released (waking callers is slow).
    to_complete: Vec<(Fut, u64)>,
    /// `sync_coalesce`: appends still expected from callers the last sync woke before the next
    /// sync goes out; and the generation of the fallback timer that ends the hold.
    reappend_wait: u64,
    coalesce_gen: u64,
    /// The hold generation whose fallback timer is running.
    timer_gen: u64,
    /// When the current hold began (`Env::now`); a self-nudging waiter ends it after
    /// `sync_coalesce_wait`.
    hold_since: Duration,
    /// This run is a waiting caller's (`Config::leader_sync`): the first sync it starts is left
    /// in `lead` for the caller to perform once the mutex is released.
    lead_allowed: bool,
    lead: Option<LeadSync>,
}

/// The scheduled pipeline.
pub(crate) struct Scheduled {
    /// This pipeline, for completions that outlive a call (`sync_then` callbacks).
    me: std::sync::Weak<Scheduled>,
    pub base: WalShared,
    pub gate: ConsumerGate,
    pub word: EpochAndState,
    pub stopped: AtomicBool,
    pub consumer: Mutex<ConsumerState>,
    consume_queued: AtomicBool,
    consume_notify: tokio::sync::Notify,
    pub ready_event: Event,
    runners: Mutex<Vec<tokio::sync::mpsc::Sender<SyncRequest>>>,
}

impl Scheduled {
    /// Opens the pipeline: creates the first writer, starts the consumer, sync runners, roller
    /// and cleaner.
    pub async fn open(env: Arc<dyn Env>, cfg: Config, listener: Arc<dyn WalListener>) -> WalResult<Arc<Self>> {
        let (base, ring_consumer) = WalShared::new(env, cfg, listener).await?;
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..base.cfg.sync_runners).map(|_| tokio::sync::mpsc::channel(base.cfg.sync_runner_queue)).unzip();
        let first = base.create_writer().await?;
        let mut state = ConsumerState::new(ring_consumer);
        state.file_length_at_last_sync = first.length();
        state.writer = Some(first);
        let p = Arc::new_cyclic(|me| Scheduled {
            me: me.clone(),
            gate: ConsumerGate::with_mutant(base.mutant),
            word: EpochAndState::with_mutant(base.mutant),
            stopped: AtomicBool::new(false),
            consumer: Mutex::new(state),
            consume_queued: AtomicBool::new(false),
            consume_notify: tokio::sync::Notify::new(),
            ready_event: Event::new(),
            runners: Mutex::new(senders),
            base,
        });
        let me = p.clone();
        p.base.env.spawn("wal-consumer", Box::pin(async move { me.consumer_task().await }));
        for (i, rx) in receivers.into_iter().enumerate() {
            let me = p.clone();
            p.base.env.spawn("wal-sync-runner", Box::pin(async move { me.runner_task(i, rx).await }));
        }
        shared::start_common_tasks(&p);
        Ok(p)
    }

    /// Submits a consume run ("consumeExecutor.execute(consumer)").
    pub(crate) fn schedule_consumer(&self) {
        self.consume_queued.store(true, Ordering::SeqCst);
        self.consume_notify.notify_one();
    }

    /// `after_publish` (`waits`: the caller published a sync request and will wait for it).
    /// The gate's winner runs the consume itself when `inline_consume` allows (a lone caller;
    /// with `leader_sync`, a blocking caller, or any caller with `Always`), up to
    /// `INLINE_RUNS` runs while a run asks for another; otherwise, or when the consumer mutex
    /// is busy, the consumer task runs it. Returns the sync a waiting caller leads.
    fn publish_hook(&self, waits: bool) -> Option<LeadSync> {
        let paused = || {
            let s = self.word.load();
            s.writer_broken() || s.waiting_roll()
        };
        if !self.gate.try_schedule_unless(paused) {
            return None;
        }
        let cfg = &self.base.cfg;
        let alone = self.base.callers.load(Ordering::Relaxed) <= 1;
        let blocking = crate::env::in_block_on();
        let leads = self.may_lead(blocking);
        let inline = cfg.inline_consume && (alone || leads);
        if !inline || self.stopped.load(Ordering::SeqCst) {
            self.schedule_consumer();
            return None;
        }
        for _ in 0..INLINE_RUNS {
            self.consume_queued.store(false, Ordering::SeqCst);
            match self.try_consume(leads && waits) {
                // Busy: another run or a completion holds it (or this very thread does).
                None => break,
                Some((false, lead)) => return lead,
                Some((true, Some(lead))) => {
                    // This caller is about to sync: the task takes the next run.
                    self.schedule_consumer();
                    return Some(lead);
                }
                Some((true, None)) if leads => continue,
                Some((true, None)) => break,
            }
        }
        self.schedule_consumer();
        None
    }

    /// `Config::leader_sync` lets this caller (`blocking`: an OS thread of the blocking API)
    /// run the consume and lead the syncs it waits for.
    pub(super) fn may_lead(&self, blocking: bool) -> bool {
        let cfg = &self.base.cfg;
        let on = cfg.inline_consume && cfg.direct_sync;
        on && match cfg.leader_sync {
            LeaderSync::Off => false,
            LeaderSync::Blocking => blocking,
            LeaderSync::Always => true,
        }
    }

    async fn consumer_task(self: Arc<Self>) {
        loop {
            self.consume_notify.notified().await;
            loop {
                if self.stopped.load(Ordering::SeqCst) {
                    return;
                }
                self.consume_queued.store(false, Ordering::SeqCst);
                if !self.consume() {
                    break;
                }
                crate::env::yield_now().await;
            }
        }
    }
}

impl PipelineImpl for Scheduled {
    fn base(&self) -> &WalShared {
        &self.base
    }

    /// HBase `shouldScheduleConsumer`: no scheduling while a roll waits or the writer is broken.
    /// The pause is read *after* the gate's fence (gate rule 5): read before it, a producer can
    /// see "paused" while the roller, resuming the consumer, misses the producer's item — a
    /// lost wake-up found by the `gate_roll` loom model.
    fn after_publish(&self) {
        let lead = self.publish_hook(false);
        debug_assert!(lead.is_none(), "an append never leads a sync");
    }

    fn after_publish_sync(&self) -> Option<LeadSync> {
        self.publish_hook(true)
    }

    fn nudge(&self) -> (Option<LeadSync>, Option<u64>) {
        self.nudge_hold()
    }

    fn replace_writer(self: Arc<Self>, next: LogWriter) -> BoxFuture<'static, (Option<RolledFile>, String)> {
        Box::pin(async move { self.replace_writer_impl(next).await })
    }

    fn writer_health(&self) -> Option<(u32, u64)> {
        let st = lock(&self.consumer);
        st.writer.as_ref().map(|w| (w.file().replication(), st.entries_since_roll))
    }

    fn current_file(&self) -> Option<String> {
        lock(&self.consumer).writer.as_ref().map(|w| w.path().to_string())
    }

    fn shutdown(self: Arc<Self>) -> BoxFuture<'static, WalResult<()>> {
        Box::pin(async move { self.shutdown_impl().await })
    }
}

/// Consume runs a caller runs back to back before handing further runs to the consumer task.
const INLINE_RUNS: usize = 4;

impl ConsumerState {
    fn new(ring_consumer: RingConsumer) -> Self {
        Self {
            ring_consumer,
            writer: None,
            to_write: VecDeque::new(),
            unacked: VecDeque::new(),
            unacked_bytes: 0,
            backpressured: false,
            unhsynced: VecDeque::new(),
            unhsynced_bytes: 0,
            sync_futures: BTreeMap::new(),
            highest_processed_txid: 0,
            highest_processed_txid_at_last_sync: 0,
            file_length_at_last_sync: 0,
            hsync_requested_upto: 0,
            force_next_hsync: false,
            ready_for_rolling: false,
            rewrite_until: 0,
            runner_index: 0,
            entries_since_roll: 0,
            inflight_syncs: 0,
            sync_deferred: false,
            to_complete: Vec::new(),
            reappend_wait: 0,
            coalesce_gen: 0,
            timer_gen: 0,
            hold_since: Duration::ZERO,
            lead_allowed: false,
            lead: None,
        }
    }
}
