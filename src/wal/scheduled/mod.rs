//! The scheduled pipeline: HBase 3.x `AbstractFSWAL` consume loop with FSHLog's sync runners.
//!
//! Roles and what each may touch:
//! 1. **Producers** (any task or thread): claim a ring slot together with the region's MVCC
//!    write number, publish an append or sync truck, and call `should_schedule` — the winner of
//!    the consumerScheduled CAS submits a consume run.
//! 2. **Consumer** (one consume run at a time, serialised by the `consumer` mutex, which plays
//!    HBase's single-threaded consume executor): drains the ring into `to_write` and the
//!    sync-future set, writes entries, keeps them in `unacked` until a sync acks them, decides
//!    when to sync, and completes sync futures (`finish_sync`). Only it reads the ring.
//! 3. **Sync runners** (N tasks): take sync requests round-robin, hflush/hsync the file, and
//!    report back under the consumer mutex (`on_sync_completed` / `on_sync_failed`), where the
//!    epoch check discards reports about an older or broken writer.
//! 4. **Roller** (one roll at a time, `roll_lock`): sets waiting-roll, waits until the consumer
//!    reports ready-for-rolling (nothing unacked, or the writer broke), swaps the writer, bumps
//!    the epoch and reschedules the consumer.
//!
//! `epoch_and_state` changes only under the consumer mutex; `highest_synced_txid` and
//! `highest_hsynced_txid` only grow and are read lock-free by the sync fast path.

mod consume;
mod lifecycle;
mod roll;
mod runner;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::core::epoch::EpochAndState;
use crate::core::event::Event;
use crate::core::gate::ConsumerGate;
use crate::core::mutant::{Mutant, MutantSwitch};
use crate::core::ring::{Ring, RingConsumer};
use crate::env::Env;
use crate::format::{FileHeader, FileKind};
use crate::sync::{fence, lock, Arc, AtomicBool, AtomicU64, Mutex, Ordering};

use super::accounting::Accounting;
use super::cleaner::LogCleaner;
use super::config::Config;
use super::entry::{WalEdit, WalKey};
use super::error::{WalError, WalResult};
use super::listener::{Counters, WalEvent, WalListener};
use super::mvcc::{Mvcc, WriteEntry};
use super::naming;
use super::record::{AppendRecord, Fut, Truck};
use super::writer::LogWriter;

pub use lifecycle::RolledFile;
pub use roll::RollOutcome;
pub(crate) use runner::SyncRequest;

/// Everything a consume run owns (HBase's consumer-thread-only fields).
pub(crate) struct ConsumerState {
    ring_consumer: RingConsumer,
    writer: Option<LogWriter>,
    to_write: VecDeque<AppendRecord>,
    unacked: VecDeque<AppendRecord>,
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
}

/// State shared by producers, the consumer, the runners and the roller.
pub(crate) struct Shared {
    pub env: Arc<dyn Env>,
    pub cfg: Config,
    pub listener: Arc<dyn WalListener>,
    pub detailed: bool,
    pub counters: Counters,
    pub ring: Ring<Truck>,
    pub ring_space: Event,
    pub gate: ConsumerGate,
    pub word: EpochAndState,
    pub highest_synced: AtomicU64,
    pub highest_hsynced: AtomicU64,
    /// Highest txid the consumer wrote (read by runners before syncing).
    pub highest_processed: AtomicU64,
    pub closed: AtomicBool,
    pub stopped: AtomicBool,
    pub consumer: Mutex<ConsumerState>,
    consume_queued: AtomicBool,
    consume_notify: tokio::sync::Notify,
    pub ready_event: Event,
    runners: Mutex<Vec<tokio::sync::mpsc::Sender<SyncRequest>>>,
    pub roll_lock: tokio::sync::Mutex<roll::RollerState>,
    last_file_number: AtomicU64,
    pub roll_requested: AtomicBool,
    pub roll_event: Event,
    pub closed_event: Event,
    pub mutant: MutantSwitch,
    pub accounting: Mutex<Accounting>,
    pub cleaner: LogCleaner,
    /// Slow syncs in the current window, and the window's start (ns of `Env::now`).
    pub slow_sync_count: AtomicU64,
    pub slow_sync_window_start_ns: AtomicU64,
}

/// What `append` returns.
#[derive(Debug)]
pub struct Appended {
    /// The WAL txid (pass it to `sync`).
    pub txid: u64,
    /// The region sequence id assigned to the edit.
    pub seqid: u64,
    /// The MVCC write entry: complete it once the edit is durable (or failed).
    pub write_entry: WriteEntry,
}

impl Shared {
    /// Opens the pipeline: creates the server directory and the first writer, starts the
    /// consumer, sync runners and roller.
    pub async fn open(env: Arc<dyn Env>, cfg: Config, listener: Arc<dyn WalListener>) -> WalResult<Arc<Self>> {
        cfg.validate()?;
        let fs = env.fs();
        let dir = naming::server_dir(&cfg.server);
        fs.mkdirs(&dir).await.map_err(|e| WalError::io("mkdirs", &dir, e))?;
        fs.mkdirs(naming::OLD_WALS_DIR).await.map_err(|e| WalError::io("mkdirs", naming::OLD_WALS_DIR, e))?;
        let existing = fs.list(&dir).await.map_err(|e| WalError::io("list", &dir, e))?;
        let last_number = existing.iter().filter_map(|e| naming::parse_file_number(&cfg.server, &e.name)).max();
        let mutant = mutant_switch(cfg.mutant);
        let (ring, ring_consumer) = Ring::with_mutant(cfg.ring_capacity, mutant);
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..cfg.sync_runners).map(|_| tokio::sync::mpsc::channel(cfg.sync_runner_queue)).unzip();
        let cleaner = LogCleaner::new(env.clone(), cfg.cleaner_ttl, listener.clone());
        let shared = Arc::new(Shared {
            detailed: listener.detailed(),
            listener,
            counters: Counters::default(),
            ring,
            ring_space: Event::new(),
            gate: ConsumerGate::with_mutant(mutant),
            word: EpochAndState::with_mutant(mutant),
            highest_synced: AtomicU64::new(0),
            highest_hsynced: AtomicU64::new(0),
            highest_processed: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            consumer: Mutex::new(ConsumerState::new(ring_consumer)),
            consume_queued: AtomicBool::new(false),
            consume_notify: tokio::sync::Notify::new(),
            ready_event: Event::new(),
            runners: Mutex::new(senders),
            roll_lock: tokio::sync::Mutex::new(roll::RollerState::new(env.now())),
            last_file_number: AtomicU64::new(last_number.unwrap_or(0)),
            roll_requested: AtomicBool::new(false),
            roll_event: Event::new(),
            closed_event: Event::new(),
            mutant,
            accounting: Mutex::new(Accounting::new()),
            cleaner,
            slow_sync_count: AtomicU64::new(0),
            slow_sync_window_start_ns: AtomicU64::new(env.now().as_nanos() as u64),
            env,
            cfg,
        });
        let first = shared.create_writer().await?;
        {
            let mut st = lock(&shared.consumer);
            st.file_length_at_last_sync = first.length();
            st.writer = Some(first);
        }
        shared.start_tasks(receivers);
        Ok(shared)
    }

    fn start_tasks(self: &Arc<Self>, receivers: Vec<tokio::sync::mpsc::Receiver<SyncRequest>>) {
        let me = self.clone();
        self.env.spawn("wal-consumer", Box::pin(async move { me.consumer_task().await }));
        for (i, rx) in receivers.into_iter().enumerate() {
            let me = self.clone();
            self.env.spawn("wal-sync-runner", Box::pin(async move { me.runner_task(i, rx).await }));
        }
        let me = self.clone();
        self.env.spawn("wal-roller", Box::pin(async move { me.roller_task().await }));
        let me = self.clone();
        self.env.spawn("wal-cleaner", Box::pin(async move { me.cleaner_task().await }));
    }

    async fn cleaner_task(self: Arc<Self>) {
        loop {
            let closed = self.closed_event.listen();
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            let nap = self.env.sleep(self.cfg.cleaner_interval);
            if crate::wal::timeout::with_timeout(closed, move || nap).await.is_some() {
                return;
            }
            match self.cleaner.run_once().await {
                Ok(r) => Counters::add(&self.counters.cleaned, r.deleted.len() as u64),
                Err(e) => tracing::warn!(target: "hwal::wal", error = %e, "cleaner pass failed"),
            }
        }
    }

    /// Creates the next writer (file number `max(prev + 1, now)`), with a pre-emptive hflush.
    pub(crate) async fn create_writer(&self) -> WalResult<LogWriter> {
        let now = self.env.wall_clock_ms();
        let prev = self
            .last_file_number
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| Some(naming::next_file_number(p, now)))
            .expect("the update always succeeds");
        let number = naming::next_file_number(prev, now);
        let fs = self.env.fs();
        let dir = naming::server_dir(&self.cfg.server);
        let path = format!("{dir}/{}", naming::wal_file_name(&self.cfg.server, number));
        let header = FileHeader::new(
            FileKind::Wal,
            &self.cfg.server,
            number,
            self.env.wall_clock_ms(),
            &format!("hwal/{}", self.cfg.pipeline.name()),
        );
        let writer = LogWriter::create(&*fs, &path, &header).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                WalError::Fenced(format!("cannot create {path}: {dir} no longer exists ({e})"))
            } else {
                WalError::io("create", &path, e)
            }
        })?;
        if let Err(e) = writer.file().hflush().await {
            tracing::warn!(target: "hwal::wal", file = %path, error = %e, "pre-emptive sync failed");
        }
        self.emit(WalEvent::WriterOpened { file: path });
        Ok(writer)
    }

    pub(crate) fn emit(&self, event: WalEvent) {
        tracing::debug!(target: "hwal::wal", server = %self.cfg.server, "{event}");
        self.listener.on_event(&event);
    }

    /// HBase `shouldScheduleConsumer`: no scheduling while a roll waits or the writer is broken.
    fn should_schedule(&self) -> bool {
        let s = self.word.load();
        !s.writer_broken() && !s.waiting_roll() && self.gate.try_schedule()
    }

    /// Submits a consume run ("consumeExecutor.execute(consumer)").
    pub(crate) fn schedule_consumer(&self) {
        self.consume_queued.store(true, Ordering::SeqCst);
        self.consume_notify.notify_one();
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

    /// Claims a ring slot (waiting while the ring is full) and runs `publish` with it.
    async fn claim<R>(&self, mut claim: impl FnMut() -> Option<R>) -> WalResult<R> {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(WalError::Closed);
            }
            let space = self.ring_space.listen();
            if let Some(r) = claim() {
                return Ok(r);
            }
            space.await;
        }
    }

    /// Appends an edit for the region of `mvcc` (HBase `appendData` / `appendMarker`).
    pub async fn append(&self, mvcc: &Mvcc, mut key: WalKey, edit: WalEdit, in_memstore: bool) -> WalResult<Appended> {
        let (write_entry, txid) = self.claim(|| mvcc.try_begin(|| self.ring.try_claim())).await?;
        key.seqid = write_entry.seqid();
        let seqid = key.seqid;
        self.ring.publish(txid, Truck::Append(AppendRecord::encode(txid, key, edit, in_memstore)));
        if self.should_schedule() {
            self.schedule_consumer();
        }
        Ok(Appended { txid, seqid, write_entry })
    }

    /// True when every append up to `txid` is durable at the requested level.
    pub fn is_synced(&self, txid: u64, hsync: bool) -> bool {
        let w = if hsync { &self.highest_hsynced } else { &self.highest_synced };
        w.load(Ordering::Acquire) >= txid
    }

    /// Waits until every append up to `txid` is durable (HBase `sync(txid, forceSync)`);
    /// `hsync` is the caller's resolved durability.
    pub async fn sync(&self, txid: u64, hsync: bool) -> WalResult<()> {
        if self.is_synced(txid, hsync) {
            return Ok(());
        }
        let fut = Fut::with_mutant(txid, hsync, self.mutant);
        self.publish_sync(fut.clone()).await?;
        self.wait(&fut).await
    }

    /// Waits until everything appended before this call is durable (HBase `sync(forceSync)`).
    pub async fn sync_all(&self, hsync: bool) -> WalResult<()> {
        let seq = self.claim(|| self.ring.try_claim()).await?;
        let fut = Fut::with_mutant(seq, hsync, self.mutant);
        self.ring.publish(seq, Truck::Sync(fut.clone()));
        self.after_sync_publish()?;
        self.wait(&fut).await
    }

    async fn publish_sync(&self, fut: Fut) -> WalResult<()> {
        let seq = self.claim(|| self.ring.try_claim()).await?;
        self.ring.publish(seq, Truck::Sync(fut));
        self.after_sync_publish()
    }

    fn after_sync_publish(&self) -> WalResult<()> {
        if self.should_schedule() {
            self.schedule_consumer();
        }
        // A close that drained the ring before this publish will never see the truck: the
        // SeqCst fence pairs with the one in `close` (store-buffering pattern).
        fence(Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            return Err(WalError::Closed);
        }
        Ok(())
    }

    /// Waits for `fut`, at most `sync_timeout`.
    async fn wait(&self, fut: &Fut) -> WalResult<()> {
        let timeout = self.cfg.sync_timeout;
        let env = &self.env;
        let res = crate::wal::timeout::with_timeout(fut.wait(), || env.sleep(timeout)).await;
        match res {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e),
            None => Err(WalError::SyncTimeout { txid: fut.txid(), timeout }),
        }
    }

    /// Asks the roller for a roll, once until the next successful swap (HBase `requestLogRoll`).
    pub(crate) fn request_roll(&self, reason: super::listener::RollReason) {
        if self.roll_requested.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            self.emit(WalEvent::RollRequested { reason });
            self.roll_event.notify_all();
        }
    }

    /// The current writer's path.
    pub fn current_file(&self) -> Option<String> {
        lock(&self.consumer).writer.as_ref().map(|w| w.path().to_string())
    }

    pub(crate) fn raise(watermark: &AtomicU64, to: u64) {
        watermark.fetch_max(to, Ordering::AcqRel);
    }

    pub(crate) fn mutant(&self, m: Mutant) -> bool {
        self.mutant.is(m)
    }

    #[allow(dead_code)]
    pub(crate) fn elapsed_since(&self, start: Duration) -> Duration {
        self.env.now().saturating_sub(start)
    }
}

impl ConsumerState {
    fn new(ring_consumer: RingConsumer) -> Self {
        Self {
            ring_consumer,
            writer: None,
            to_write: VecDeque::new(),
            unacked: VecDeque::new(),
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
        }
    }
}

#[cfg(feature = "internals")]
fn mutant_switch(m: Mutant) -> MutantSwitch {
    MutantSwitch::new(m)
}

#[cfg(not(feature = "internals"))]
fn mutant_switch(_m: Mutant) -> MutantSwitch {
    MutantSwitch::OFF
}
