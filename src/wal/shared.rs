//! What both pipelines share: the ring and its producers, the durability watermarks, writer
//! creation, roll requests and the roller, sequence-id accounting, archiving and cleaning.
//!
//! A pipeline (scheduled or classic) owns a [`WalShared`] and adds its consumer and its roll
//! protocol through the [`Pipeline`] trait; the generic functions here (`append`, `sync`,
//! `roll_writer`, the roller task) run the same code on either.
//!
//! Rules:
//! 1. Producers claim a ring slot together with the region's MVCC write number, publish an
//!    append or sync truck, then call `PipelineImpl::after_publish` so the consumer runs.
//! 2. `highest_synced` / `highest_hsynced` only grow; the sync fast path reads them lock-free.
//! 3. One roll at a time (`roll_lock`); a roll request set while a roll runs is kept for the
//!    next one (the request flag is cleared before, and at the successful swap).
//! 4. A sync truck published after `close` drained the ring is refused: the publish and the
//!    close each put a SeqCst fence between their write and their read of the other's flag.

use std::future::Future;
use std::time::Duration;

use crate::core::broadcast::{Broadcast, LANES};
use crate::core::event::Event;
use crate::core::mutant::{Mutant, MutantSwitch};
use crate::core::ring::{Ring, RingConsumer};
use crate::env::{block_on, in_block_on, BoxFuture, Env, SyncDone, WalFile};
use crate::format::{FileHeader, FileKind};
use crate::sync::{fence, Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};

use super::accounting::Accounting;
use super::cleaner::LogCleaner;
use super::config::Config;
use super::entry::{WalEdit, WalKey};
use super::error::{WalError, WalResult};
use super::lifecycle::{RollOutcome, RolledFile, RollerState};
use super::listener::{Counters, RollReason, WalEvent, WalListener};
use super::mvcc::{Mvcc, WriteEntry};
use super::naming;
use super::record::{AppendRecord, Fut, Truck};
use super::writer::LogWriter;

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

/// What `append_sync` returns: the append, and how its sync ended. The MVCC write entry is the
/// caller's to complete either way (`Err` from the call itself means nothing was appended).
#[derive(Debug)]
#[must_use = "complete `appended.write_entry`, then check `synced`"]
pub struct AppendSynced {
    /// The append, as [`Appended`].
    pub appended: Appended,
    /// The sync's outcome, as `sync` would return it.
    pub synced: WalResult<()>,
}

/// State shared by producers, the pipeline's consumer and runners, and the roller.
pub(crate) struct WalShared {
    pub env: Arc<dyn Env>,
    pub cfg: Config,
    pub listener: Arc<dyn WalListener>,
    pub detailed: bool,
    pub counters: Counters,
    pub mutant: MutantSwitch,
    pub ring: Ring<Truck>,
    pub ring_space: Event,
    pub highest_synced: AtomicU64,
    pub highest_hsynced: AtomicU64,
    /// Highest txid the consumer wrote (read by runners before syncing).
    pub highest_processed: AtomicU64,
    pub closed: AtomicBool,
    pub closed_event: Event,
    /// Why the WAL closed itself after being fenced (its directory was renamed for splitting);
    /// calls refused with `Closed` report `Fenced` with this reason instead.
    pub fenced: Mutex<Option<String>>,
    pub accounting: Mutex<Accounting>,
    pub cleaner: LogCleaner,
    pub roll_lock: tokio::sync::Mutex<RollerState>,
    pub roll_requested: AtomicBool,
    pub roll_event: Event,
    last_file_number: AtomicU64,
    /// Slow syncs in the current window, and the window's start (ns of `Env::now`).
    pub slow_sync_count: AtomicU64,
    pub slow_sync_window_start_ns: AtomicU64,
    /// OS-thread callers blocked in `sync_blocking`: woken per lane, once per batch of
    /// completions (`core::broadcast`).
    pub blocking: Broadcast,
    /// Syncs issued (low bits, wrapping) and what the latest covers (high bits): picks a
    /// blocking waiter's lane.
    pub sync_marker: AtomicU64,
    /// Calls inside `append` / `sync` / `sync_all` right now (`Config::inline_consume` runs a
    /// consume on the caller's thread only when it is the only one).
    pub callers: AtomicUsize,
}

/// Counts a call in [`WalShared::callers`] while it lives.
pub(crate) struct CallerGuard<'a>(&'a AtomicUsize);

impl<'a> CallerGuard<'a> {
    pub(crate) fn enter(b: &'a WalShared) -> Self {
        b.callers.fetch_add(1, Ordering::Relaxed);
        CallerGuard(&b.callers)
    }
}

impl Drop for CallerGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A sync a caller leads (`Config::leader_sync`): the consume run the caller ran started it,
/// and the caller performs it once the consumer mutex is released, then `done` reports it as
/// any completion is reported (epoch-checked, under the consumer mutex).
pub(crate) struct LeadSync {
    pub file: Arc<dyn WalFile>,
    pub hsync: bool,
    pub done: SyncDone,
}

impl LeadSync {
    /// Performs the sync: on this OS thread when the caller is a blocking one and the file can
    /// (no hand-off at all), otherwise by awaiting the file.
    pub(crate) async fn perform(self) {
        if in_block_on() {
            if let Some(r) = self.file.sync_now(self.hsync) {
                (self.done)(r);
                return;
            }
        }
        let r = if self.hsync { self.file.hsync().await } else { self.file.hflush().await };
        (self.done)(r);
    }
}

/// A pipeline's part: its consumer, its roll protocol and its shutdown.
pub(crate) trait PipelineImpl: Send + Sync + 'static {
    /// The shared part.
    fn base(&self) -> &WalShared;
    /// Rule 1: make sure the consumer will see what was just published.
    fn after_publish(&self);
    /// Rule 1 for a caller that just published a sync request and is about to wait for it: it
    /// may be handed the sync to lead (`Config::leader_sync`), which it must perform.
    fn after_publish_sync(&self) -> Option<LeadSync> {
        self.after_publish();
        None
    }
    /// A blocking caller waited `sync_coalesce_wait` for its sync: end a coalescing hold that
    /// waits on no timer (the waiters are all blocking callers, who nudge instead). May hand the
    /// caller the sync to lead; also says which hold is current (a generation), if known.
    fn nudge(&self) -> (Option<LeadSync>, Option<u64>) {
        (None, None)
    }
    /// Swaps the writer for `next` under the pipeline's safe-point protocol; returns the
    /// rolled file (if there was a current one) and the new file's path.
    fn replace_writer(self: Arc<Self>, next: LogWriter) -> BoxFuture<'static, (Option<RolledFile>, String)>;
    /// The current writer's replication and entries since the last roll.
    fn writer_health(&self) -> Option<(u32, u64)>;
    /// The current file's path.
    fn current_file(&self) -> Option<String>;
    /// Drains and stops the pipeline (after `closed` is set and the roll lock is held).
    fn shutdown(self: Arc<Self>) -> BoxFuture<'static, WalResult<()>>;
    /// Fails a sync of `txid` whose entry can never become durable (it was appended to a writer
    /// that broke before syncing it, and was not re-written). Default: nothing is ever lost.
    fn check_not_lost(&self, _txid: u64) -> WalResult<()> {
        Ok(())
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

impl WalShared {
    /// Validates `cfg`, prepares the directories and builds the shared state; returns it with
    /// the ring's consumer handle for the pipeline.
    pub async fn new(
        env: Arc<dyn Env>,
        cfg: Config,
        listener: Arc<dyn WalListener>,
    ) -> WalResult<(WalShared, RingConsumer)> {
        cfg.validate()?;
        let fs = env.fs();
        let dir = naming::server_dir(&cfg.server);
        // A server declared dead is fenced by renaming its directory to `-splitting` (or by
        // creating that marker when it had none yet): a zombie must not re-create its directory
        // and acknowledge edits nobody will ever recover.
        let fence = naming::splitting_dir(&cfg.server);
        if fs.metadata(&fence).await.map_err(|e| WalError::io("stat", &fence, e))?.is_some() {
            return Err(WalError::Fenced(format!("{fence} exists: this server's WALs are being split")));
        }
        fs.mkdirs(&dir).await.map_err(|e| WalError::io("mkdirs", &dir, e))?;
        fs.mkdirs(naming::OLD_WALS_DIR).await.map_err(|e| WalError::io("mkdirs", naming::OLD_WALS_DIR, e))?;
        let existing = fs.list(&dir).await.map_err(|e| WalError::io("list", &dir, e))?;
        let last_number = existing.iter().filter_map(|e| naming::parse_file_number(&cfg.server, &e.name)).max();
        let mutant = mutant_switch(cfg.mutant);
        let (ring, ring_consumer) = Ring::with_mutant(cfg.ring_capacity, mutant);
        let now = env.now();
        let shared = WalShared {
            detailed: listener.detailed(),
            cleaner: LogCleaner::new(env.clone(), cfg.cleaner_ttl, listener.clone()),
            listener,
            counters: Counters::default(),
            mutant,
            ring,
            ring_space: Event::new(),
            highest_synced: AtomicU64::new(0),
            highest_hsynced: AtomicU64::new(0),
            highest_processed: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            closed_event: Event::new(),
            fenced: Mutex::new(None),
            accounting: Mutex::new(Accounting::new()),
            roll_lock: tokio::sync::Mutex::new(RollerState::new(now)),
            roll_requested: AtomicBool::new(false),
            roll_event: Event::new(),
            last_file_number: AtomicU64::new(last_number.unwrap_or(0)),
            slow_sync_count: AtomicU64::new(0),
            slow_sync_window_start_ns: AtomicU64::new(now.as_nanos() as u64),
            blocking: Broadcast::with_mutant(mutant),
            sync_marker: AtomicU64::new(0),
            callers: AtomicUsize::new(0),
            env,
            cfg,
        };
        Ok((shared, ring_consumer))
    }

    pub fn emit(&self, event: WalEvent) {
        tracing::debug!(target: "hwal::wal", server = %self.cfg.server, "{event}");
        self.listener.on_event(&event);
    }

    pub fn mutant(&self, m: Mutant) -> bool {
        self.mutant.is(m)
    }

    pub fn raise(watermark: &AtomicU64, to: u64) {
        watermark.fetch_max(to, Ordering::AcqRel);
    }

    /// True when every append up to `txid` is durable at the requested level.
    pub fn is_synced(&self, txid: u64, hsync: bool) -> bool {
        let w = if hsync { &self.highest_hsynced } else { &self.highest_synced };
        w.load(Ordering::Acquire) >= txid
    }

    /// Creates the next writer (file number `max(prev + 1, now)`), with a pre-emptive hflush.
    pub async fn create_writer(&self) -> WalResult<LogWriter> {
        let now = self.env.wall_clock_ms();
        let prev = self
            .last_file_number
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| Some(naming::next_file_number(p, now)))
            .expect("the update always succeeds");
        let number = naming::next_file_number(prev, now);
        let fs = self.env.fs();
        let dir = naming::server_dir(&self.cfg.server);
        let path = format!("{dir}/{}", naming::wal_file_name(&self.cfg.server, number));
        let writer_name = format!("hwal/{}", self.cfg.pipeline.name());
        let header = FileHeader::new(FileKind::Wal, &self.cfg.server, number, self.env.wall_clock_ms(), &writer_name);
        let writer = LogWriter::create(&*fs, &path, &header).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                WalError::Fenced(format!("cannot create {path}: {dir} no longer exists ({e})"))
            } else {
                WalError::io("create", &path, e)
            }
        })?;
        // HBase only warns when the pre-emptive sync fails and lets the first real sync break
        // the writer; if nothing is written before close, that writer then fails the close. hwal
        // refuses the writer instead: the roll fails and is retried with a new file.
        if let Err(e) = writer.file().hflush().await {
            tracing::warn!(target: "hwal::wal", file = %path, error = %e, "pre-emptive sync failed; discarding the new writer");
            let _ = writer.file().close().await;
            let _ = fs.delete(&path).await;
            return Err(WalError::io("pre-emptive sync", &path, e));
        }
        self.emit(WalEvent::WriterOpened { file: path });
        Ok(writer)
    }

    /// Claims a ring slot with `claim`, waiting (asynchronously) while the ring is full.
    pub async fn claim<R>(&self, mut claim: impl FnMut() -> Option<R>) -> WalResult<R> {
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

    /// Rule 4, producer side.
    pub fn refuse_if_closed(&self) -> WalResult<()> {
        fence(Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            return Err(WalError::Closed);
        }
        Ok(())
    }

    /// Waits for `fut`, at most `sync_timeout`.
    pub async fn wait(&self, fut: &Fut) -> WalResult<()> {
        let timeout = self.cfg.sync_timeout;
        let env = &self.env;
        match super::timeout::with_timeout(fut.wait(), || env.sleep(timeout)).await {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e),
            None => Err(WalError::SyncTimeout { txid: fut.txid(), timeout }),
        }
    }

    /// Records that a sync covering appends up to `covers` was issued, for
    /// [`WalShared::expected_lane`]. A hint only: concurrent issuers may interleave.
    pub fn note_sync_issued(&self, covers: u64) {
        let covers = covers.min(u64::MAX >> MARKER_COUNT_BITS) << MARKER_COUNT_BITS;
        let _ = self.sync_marker.fetch_update(Ordering::AcqRel, Ordering::Acquire, |m| {
            Some((m.wrapping_add(1) & MARKER_COUNT_MASK) | covers)
        });
    }

    /// The broadcast lane for a blocking waiter of `txid`: that of the latest sync issued when
    /// it covers `txid`, else that of the next one. Waiters for different syncs sleep apart, so
    /// a completion does not wake callers still waiting for the sync after it.
    pub fn expected_lane(&self, txid: u64) -> u32 {
        let m = self.sync_marker.load(Ordering::Acquire);
        let (count, covers) = (m & MARKER_COUNT_MASK, m >> MARKER_COUNT_BITS);
        let next = u64::from(covers < txid);
        ((count + next) % LANES as u64) as u32
    }

    /// Asks the roller for a roll, once until the next successful swap (HBase `requestLogRoll`).
    pub fn request_roll(&self, reason: RollReason) {
        if self.roll_requested.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            self.emit(WalEvent::RollRequested { reason });
            self.roll_event.notify_all();
        }
    }

    /// Bounded wait used by close: `fut`, or `None` after `shutdown_timeout`.
    pub async fn within_shutdown_timeout<F: Future>(&self, fut: F) -> Option<F::Output> {
        let timeout = self.cfg.shutdown_timeout;
        let env = self.env.clone();
        super::timeout::with_timeout(fut, move || env.sleep(timeout)).await
    }

    async fn cleaner_task(&self) {
        loop {
            let closed = self.closed_event.listen();
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            let nap = self.env.sleep(self.cfg.cleaner_interval);
            if super::timeout::with_timeout(closed, move || nap).await.is_some() {
                return;
            }
            match self.cleaner.run_once().await {
                Ok(r) => Counters::add(&self.counters.cleaned, r.deleted.len() as u64),
                Err(e) => tracing::warn!(target: "hwal::wal", error = %e, "cleaner pass failed"),
            }
        }
    }
}

/// Starts the tasks every pipeline has: the roller and the cleaner.
pub(crate) fn start_common_tasks<P: PipelineImpl>(p: &Arc<P>) {
    let me = p.clone();
    p.base().env.spawn("wal-roller", Box::pin(async move { roller_task(me).await }));
    let me = p.clone();
    p.base().env.spawn("wal-cleaner", Box::pin(async move { me.base().cleaner_task().await }));
}

/// Appends an edit for the region of `mvcc` (HBase `appendData` / `appendMarker`).
pub(crate) async fn append<P: PipelineImpl>(
    p: &P,
    mvcc: &Mvcc,
    key: WalKey,
    edit: WalEdit,
    in_memstore: bool,
) -> WalResult<Appended> {
    let _caller = CallerGuard::enter(p.base());
    let appended = publish_append(p, mvcc, key, edit, in_memstore).await?;
    p.after_publish();
    Ok(appended)
}

/// Claims a slot and publishes an append, without rule 1's hook: the caller runs
/// `after_publish` itself, or publishes a sync request whose hook covers both
/// ([`publish_sync`] with `unhooked_append`).
async fn publish_append<P: PipelineImpl>(
    p: &P,
    mvcc: &Mvcc,
    mut key: WalKey,
    edit: WalEdit,
    in_memstore: bool,
) -> WalResult<Appended> {
    let b = p.base();
    let (write_entry, txid) = b.claim(|| mvcc.try_begin(|| b.ring.try_claim())).await?;
    key.seqid = write_entry.seqid();
    let seqid = key.seqid;
    if b.detailed {
        b.listener.before_append(txid, &key, &edit);
    }
    b.ring.publish(txid, Truck::Append(AppendRecord::encode(txid, key, edit, in_memstore)));
    Ok(Appended { txid, seqid, write_entry })
}

/// Waits until every append up to `txid` is durable (HBase `sync(txid, forceSync)`); `hsync`
/// is the caller's resolved durability.
pub(crate) async fn sync<P: PipelineImpl>(p: &P, txid: u64, hsync: bool) -> WalResult<()> {
    let _caller = CallerGuard::enter(p.base());
    match publish_sync(p, txid, hsync, false, false).await? {
        Some(fut) => p.base().wait(&fut).await,
        None => Ok(()),
    }
}

/// [`append`] and then [`sync`] of its txid in one call (`hsync`: `None` appends only). The
/// append needs no consumer run of its own: the sync request's covers both.
pub(crate) async fn append_sync<P: PipelineImpl>(
    p: &P,
    mvcc: &Mvcc,
    key: WalKey,
    edit: WalEdit,
    hsync: Option<bool>,
) -> WalResult<AppendSynced> {
    let _caller = CallerGuard::enter(p.base());
    let appended = publish_append(p, mvcc, key, edit, true).await?;
    let Some(hsync) = hsync else {
        p.after_publish();
        return Ok(AppendSynced { appended, synced: Ok(()) });
    };
    let txid = appended.txid;
    let guard = EntryGuard { mvcc, appended: Some(appended) };
    let synced = match publish_sync(p, txid, hsync, false, true).await {
        Ok(Some(fut)) => p.base().wait(&fut).await,
        other => other.map(|_| ()),
    };
    Ok(AppendSynced { appended: guard.release(), synced })
}

/// Completes an append's MVCC write entry when the call that made it is dropped before handing
/// the entry to its caller (a cancelled [`append_sync`]): the region's read point must not wait
/// for it forever.
struct EntryGuard<'a> {
    mvcc: &'a Mvcc,
    appended: Option<Appended>,
}

impl EntryGuard<'_> {
    fn release(mut self) -> Appended {
        self.appended.take().expect("released once")
    }
}

impl Drop for EntryGuard<'_> {
    fn drop(&mut self) {
        if let Some(a) = self.appended.take() {
            self.mvcc.complete(a.write_entry);
        }
    }
}

/// [`append_sync`] for OS threads: waits as [`sync_blocking`] does.
pub(crate) fn append_sync_blocking<P: PipelineImpl>(
    p: &P,
    mvcc: &Mvcc,
    key: WalKey,
    edit: WalEdit,
    hsync: bool,
) -> WalResult<AppendSynced> {
    let b = p.base();
    let _caller = CallerGuard::enter(b);
    let (appended, fut) = block_on(async {
        let appended = publish_append(p, mvcc, key, edit, true).await?;
        let fut = publish_sync(p, appended.txid, hsync, true, true).await;
        Ok::<_, WalError>((appended, fut))
    })?;
    let synced = match fut {
        Ok(Some(fut)) => wait_blocking(p, &fut),
        other => other.map(|_| ()),
    };
    Ok(AppendSynced { appended, synced })
}

/// The part of [`sync`] and [`sync_blocking`] before the wait: the future to wait for, or
/// `None` when `txid` is already as durable as asked.
/// `self_nudging`: the caller will wait in [`sync_blocking`]'s loop, which nudges.
/// `unhooked_append`: this caller just published an append without rule 1's hook. The sync
/// request's hook covers it when the request gets a slot at once; otherwise (a full ring, whose
/// slots only the consumer frees, or any early return) the append's hook runs first.
async fn publish_sync<P: PipelineImpl>(
    p: &P,
    txid: u64,
    hsync: bool,
    self_nudging: bool,
    unhooked_append: bool,
) -> WalResult<Option<Fut>> {
    let b = p.base();
    let mut unhooked = unhooked_append;
    let mut hook_append = || {
        if std::mem::take(&mut unhooked) {
            p.after_publish();
        }
    };
    if let Err(e) = p.check_not_lost(txid) {
        hook_append();
        return Err(e);
    }
    if b.is_synced(txid, hsync) {
        hook_append();
        return Ok(None);
    }
    let fut = Fut::with_mutant(txid, hsync, b.mutant);
    if self_nudging {
        fut.mark_self_nudging();
    }
    let at_once = if b.closed.load(Ordering::SeqCst) { None } else { b.ring.try_claim() };
    let seq = match at_once {
        Some(seq) => seq,
        None => {
            if !b.mutant(Mutant::AppendSyncNoHook) {
                hook_append();
            }
            b.claim(|| b.ring.try_claim()).await?
        }
    };
    b.ring.publish(seq, Truck::Sync(fut.clone()));
    if let Some(lead) = p.after_publish_sync() {
        lead.perform().await;
    }
    b.refuse_if_closed()?;
    Ok(Some(fut))
}

/// [`sync`] for OS threads: claims and publishes like `sync`, then waits on the shared
/// broadcast instead of a per-call waker and timer.
pub(crate) fn sync_blocking<P: PipelineImpl>(p: &P, txid: u64, hsync: bool) -> WalResult<()> {
    let _caller = CallerGuard::enter(p.base());
    match block_on(publish_sync(p, txid, hsync, true, false))? {
        Some(fut) => wait_blocking(p, &fut),
        None => Ok(()),
    }
}

/// A blocking caller's wait for `fut`, at most `sync_timeout`.
fn wait_blocking<P: PipelineImpl>(p: &P, fut: &Fut) -> WalResult<()> {
    let b = p.base();
    let txid = fut.txid();
    let timeout = b.cfg.sync_timeout;
    // A coalescing hold on this sync has no timer (the future is self-nudging): wake up after
    // the hold's longest wait and end it. While the same hold stays current (a slow sync is in
    // flight, no hold to end), the wake-ups back off, up to `NUDGE_BACKOFF` holds' waits.
    let base = if b.cfg.sync_coalesce { b.cfg.sync_coalesce_wait.min(timeout) } else { timeout };
    let (mut slice, mut seen_gen) = (base, None);
    #[allow(clippy::disallowed_methods)] // the API edge measures real time for OS threads
    let deadline = std::time::Instant::now() + timeout;
    loop {
        #[allow(clippy::disallowed_methods)]
        let until = deadline.min(std::time::Instant::now() + slice);
        if let Some(r) = b.blocking.wait_for(fut, b.expected_lane(fut.txid()), until) {
            return r.map(|_| ());
        }
        #[allow(clippy::disallowed_methods)]
        if std::time::Instant::now() >= deadline {
            return Err(WalError::SyncTimeout { txid, timeout });
        }
        // Under `block_on`, so a sync the nudge issues is led here, on this thread.
        let gen = block_on(async {
            let (lead, gen) = p.nudge();
            if let Some(lead) = lead {
                lead.perform().await;
            }
            gen
        });
        slice = if gen.is_some() && gen == seen_gen { (slice * 2).min(base * NUDGE_BACKOFF) } else { base };
        seen_gen = gen;
    }
}

const MARKER_COUNT_BITS: u32 = 16;
const MARKER_COUNT_MASK: u64 = (1 << MARKER_COUNT_BITS) - 1;

/// How far a blocking waiter's nudges back off while one hold stays current: at most this
/// many times `sync_coalesce_wait` between them (a new hold resets it).
const NUDGE_BACKOFF: u32 = 8;

/// Waits until everything appended before the call is durable (HBase `sync(forceSync)`).
pub(crate) async fn sync_all<P: PipelineImpl>(p: &P, hsync: bool) -> WalResult<()> {
    let b = p.base();
    let _caller = CallerGuard::enter(b);
    let seq = b.claim(|| b.ring.try_claim()).await?;
    let fut = Fut::with_mutant(seq, hsync, b.mutant);
    b.ring.publish(seq, Truck::Sync(fut.clone()));
    if let Some(lead) = p.after_publish_sync() {
        lead.perform().await;
    }
    b.refuse_if_closed()?;
    b.wait(&fut).await
}

/// Rolls the writer (HBase `rollWriter(force)`). Without `force`, a writer with no entries is
/// kept. After the swap, archives what it can and reports forced flushes.
pub(crate) async fn roll_writer<P: PipelineImpl>(p: &Arc<P>, force: bool) -> WalResult<Option<RollOutcome>> {
    let b = p.base();
    let mut rs = b.roll_lock.lock().await;
    if b.closed.load(Ordering::SeqCst) {
        return Err(WalError::Closed);
    }
    if !force && p.writer_health().is_some_and(|(_, entries)| entries == 0) {
        return Ok(None);
    }
    // Rule 3: clear the request before rolling, so one arriving during the roll is kept.
    b.roll_requested.store(false, Ordering::SeqCst);
    let next = match b.create_writer().await {
        Ok(w) => w,
        Err(e) => {
            // The roll is still needed: keep it requested and wake the roller, or a request
            // made meanwhile (a broken writer) would wait for the roller's next periodic wake.
            b.roll_requested.store(true, Ordering::SeqCst);
            b.roll_event.notify_all();
            return Err(e);
        }
    };
    let (old, new) = p.clone().replace_writer(next).await;
    rs.last_roll = b.env.now();
    b.reset_slow_sync_window();
    let old_path = old.as_ref().map(|f| f.path.clone());
    if let Some(f) = old {
        rs.rolled.insert(f.number, f);
    }
    let archived = b.clean_old_logs(&mut rs.rolled, p.current_file()).await;
    let regions_to_flush = b.find_regions_to_force_flush(&rs.rolled);
    Ok(Some(RollOutcome { old: old_path, new, archived, regions_to_flush }))
}

/// The roller task (HBase `AbstractWALRoller`): rolls on request and on period, and checks
/// replication.
async fn roller_task<P: PipelineImpl>(p: Arc<P>) {
    let b = p.base();
    loop {
        if b.closed.load(Ordering::SeqCst) {
            return;
        }
        let woken = b.roll_event.listen();
        let due = {
            let mut rs = b.roll_lock.lock().await;
            if let Some((replication, entries)) = p.writer_health() {
                b.check_low_replication(&mut rs.low_replication, replication, entries);
            }
            b.env.now().saturating_sub(rs.last_roll) >= b.cfg.roll_period
        };
        if b.roll_requested.load(Ordering::SeqCst) || due {
            match roll_writer(&p, true).await {
                Ok(_) => {}
                Err(WalError::Closed) => return,
                Err(WalError::Fenced(reason)) => {
                    // The directory was renamed for log splitting: no writer can ever be created
                    // again (HBase aborts the server). Close now, so every waiter fails with a
                    // clear `Fenced` error instead of waiting out its sync timeout.
                    tracing::error!(target: "hwal::wal", %reason, "WAL fenced; closing");
                    *crate::sync::lock(&b.fenced) = Some(reason);
                    if let Err(e) = close(&p).await {
                        tracing::warn!(target: "hwal::wal", error = %e, "closing the fenced WAL failed");
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(target: "hwal::wal", error = %e, "roll failed; retrying");
                    b.env.sleep(b.cfg.roller_wake_frequency.min(Duration::from_secs(1))).await;
                }
            }
            continue;
        }
        let nap = b.env.sleep(b.cfg.roller_wake_frequency.min(b.cfg.low_replication_check_interval));
        super::timeout::with_timeout(woken, move || nap).await;
    }
}

/// Closes the WAL (HBase `shutdown`): new calls fail with `Closed`, the pipeline drains and
/// stops, pending syncs fail with `Closed`. Idempotent.
pub(crate) async fn close<P: PipelineImpl>(p: &Arc<P>) -> WalResult<()> {
    let b = p.base();
    if b.closed.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    fence(Ordering::SeqCst);
    b.roll_event.notify_all();
    b.ring_space.notify_all();
    let guard = b.within_shutdown_timeout(b.roll_lock.lock()).await;
    let result = p.clone().shutdown().await;
    drop(guard);
    b.emit(WalEvent::Closed);
    b.closed_event.notify_all();
    result
}

/// Fails every sync future still in the ring with `Closed` (appends are dropped).
pub(crate) fn fail_ring(b: &WalShared, consumer: &mut RingConsumer) {
    while let Some((_, truck)) = b.ring.poll(consumer) {
        if let Truck::Sync(f) = truck {
            f.complete(Err(WalError::Closed));
        }
    }
    b.ring.release(consumer);
    b.ring_space.notify_all();
    b.blocking.notify_all();
}

/// Fails `futures` with `error` and wakes blocked callers.
pub(crate) fn fail_all(b: &WalShared, futures: impl IntoIterator<Item = Fut>, error: &WalError) {
    for f in futures {
        f.complete(Err(error.clone()));
    }
    b.blocking.notify_all();
}

/// Completes `futures` outside any lock, counting and reporting them.
pub(crate) fn complete_all(b: &WalShared, futures: Vec<(Fut, u64)>) {
    if futures.is_empty() {
        return;
    }
    b.blocking.complete_and_wake(&futures, |f, done| {
        Counters::add(&b.counters.futures_completed, 1);
        if b.detailed {
            b.emit(WalEvent::FutureCompleted { txid: f.txid(), done: Some(done) });
        }
    });
}
