//! The regions a server incarnation hosts: real `hwal::Region`s (memstore, store files, the
//! flush protocol against the WAL, replay on open), and the checks around them.
//!
//! Lifecycle on one incarnation:
//! 1. **Open** every region of the slot with `Region::open` (retried every
//!    [`OPEN_RETRY_MS`] while it fails: DFS faults, WAL errors), which replays the recovered
//!    edits the master's split left. Then check it (`oracle::regions`: acked ⇒ readable,
//!    nothing phantom, seqid continuity). When the split wrote edits for it, check **replay
//!    idempotence**: close it, put the split's edits files back (as a crash between the replay
//!    flush and their deletion would leave them), open it again: it must read exactly the same
//!    cells, at a higher open seqid.
//! 2. **Serve**: clients `mutate` and flush (`workload`); a flusher task flushes the regions the
//!    WAL names in `RegionsToFlush` (above `max_logs`) during the safety phase. After a
//!    successful flush the WAL's accounting must hold nothing at or below the flushed seqid,
//!    and the flushed puts must stay readable. After every client op the region's MVCC must
//!    have `read_point <= write_point`, with a read point that never goes back.
//! 3. **Final** (faults off, no call in flight): every MVCC is quiescent (`read_point ==
//!    write_point`: every begun write completed), every live region holds what it must; then
//!    every region flushes and the WAL rolls twice, after which the WAL must have archived
//!    every rolled file (bounded file count).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hwal::env::Env;
use hwal::format::{read_log, RecoveryMode};
use hwal::wal::naming;
use hwal::{Region, RegionError, RegionName, RegionOptions, StoredCell, Wal};
use tokio::sync::Notify;

use super::server::{region_labels, ServerCtl};
use super::workload::with_classic_retries;
use super::world::World;
use super::{FAMILY, TABLE};
use crate::oracle::regions::CellId;
use crate::oracle::{fingerprint, Category};
use crate::trace::{lock, SimEvent};

/// Pause between two attempts to open a region.
pub const OPEN_RETRY_MS: u64 = 5;

/// A region hosted by an incarnation.
pub struct Hosted {
    /// Its name.
    pub label: Arc<str>,
    /// The region.
    pub region: Region,
    last_read_point: AtomicU64,
}

/// Regions the WAL asked to flush (`RegionsToFlush`), for the flusher task.
#[derive(Default)]
pub struct FlushQueue {
    labels: Mutex<VecDeque<String>>,
    ready: Notify,
}

impl FlushQueue {
    /// Queues the regions of `region:family` pairs (each once).
    pub fn push(&self, pairs: &[String]) {
        let mut q = lock(&self.labels);
        for p in pairs {
            let label = p.split(':').next().unwrap_or(p).to_string();
            if !q.contains(&label) {
                q.push_back(label);
            }
        }
        drop(q);
        self.ready.notify_one();
    }
}

fn options() -> RegionOptions {
    RegionOptions::with_families(&[FAMILY])
}

fn ids(cells: &[StoredCell]) -> BTreeSet<CellId> {
    cells.iter().map(|c| (c.seqid, fingerprint(&c.cell.row, &c.cell.value))).collect()
}

async fn open_retry(world: &World, ctl: &ServerCtl, env: &Arc<dyn Env>, wal: &Arc<Wal>, label: &Arc<str>) -> Region {
    let name = RegionName::new(label);
    loop {
        match Region::open(env.clone(), wal.clone(), TABLE, &name, options()).await {
            Ok(r) => return r,
            Err(e) => {
                world
                    .rec
                    .sim(&ctl.name, SimEvent::RegionFailed { region: label.clone(), op: "open", error: e.to_string() });
                madsim::time::sleep(Duration::from_millis(OPEN_RETRY_MS)).await;
            }
        }
    }
}

/// Opens and checks every region of `ctl`'s slot (step 1 of the module docs).
pub async fn open_all(world: &Arc<World>, ctl: &ServerCtl, env: &Arc<dyn Env>, wal: &Arc<Wal>) -> Vec<Arc<Hosted>> {
    let mut out = Vec::new();
    for label in region_labels(world, ctl.slot) {
        let label: Arc<str> = Arc::from(label);
        let region = open_verified(world, ctl, env, wal, &label).await;
        out.push(Arc::new(Hosted { label, region, last_read_point: AtomicU64::new(0) }));
    }
    out
}

async fn open_verified(world: &World, ctl: &ServerCtl, env: &Arc<dyn Env>, wal: &Arc<Wal>, label: &Arc<str>) -> Region {
    let region = open_retry(world, ctl, env, wal, label).await;
    let cells = region.scan_raw();
    let report = region.open_report();
    let r = lock(&world.oracle).region(label).check_open(
        label,
        ctl.inc,
        &ctl.name,
        &ids(&cells),
        report.open_seqid,
        report.replay.max_seen_seqid,
    );
    if let Err((check, msg)) = r {
        world.fail(Category::Correctness, check, msg);
    }
    world.rec.sim(
        &ctl.name,
        SimEvent::Replay {
            region: label.clone(),
            files: report.replay.replayed.len(),
            applied: report.replay.cells_applied,
            replay_max: report.replay.max_seen_seqid,
            open_seqid: report.open_seqid,
            cells: cells.len(),
        },
    );
    let snapshot = world.take_edits_snapshot(label);
    if snapshot.is_empty() {
        return region;
    }
    // Replay idempotence.
    if let Err(e) = region.close().await {
        world.rec.sim(&ctl.name, SimEvent::RegionFailed { region: label.clone(), op: "close", error: e.to_string() });
    }
    let mut restored = 0;
    for (path, bytes) in &snapshot {
        if world.dfs.write_now(path, bytes).is_ok() {
            restored += 1;
        }
    }
    let again = open_retry(world, ctl, env, wal, label).await;
    let cells2 = again.scan_raw();
    if cells2 != cells {
        let (a, b) = (ids(&cells), ids(&cells2));
        let diff: Vec<u64> = a.symmetric_difference(&b).map(|c| c.0).take(5).collect();
        world.fail(
            Category::Correctness,
            "replay-idempotence",
            format!(
                "{}: {label} read {} cells after its first open and {} after a close, its recovered edits put back \
                 and a reopen (first differing seqids {diff:?})",
                ctl.name,
                cells.len(),
                cells2.len()
            ),
        );
    } else if again.open_seqid() <= report.open_seqid {
        world.fail(
            Category::Correctness,
            "seqid-continuity",
            format!(
                "{}: {label} reopened at seqid {} after opening at {}",
                ctl.name,
                again.open_seqid(),
                report.open_seqid
            ),
        );
    }
    world.rec.sim(
        &ctl.name,
        SimEvent::Reopen { region: label.clone(), restored, open_seqid: again.open_seqid(), cells: cells2.len() },
    );
    again
}

/// The MVCC check after an op on `h`.
pub fn check_mvcc(world: &World, ctl: &ServerCtl, h: &Hosted) {
    let mvcc = h.region.mvcc();
    let (read, write) = (mvcc.read_point(), mvcc.write_point());
    let last = h.last_read_point.fetch_max(read, Ordering::SeqCst);
    if read > write {
        world.fail(
            Category::Correctness,
            "mvcc",
            format!("{}: {} read point {read} above write point {write}", ctl.name, h.label),
        );
    } else if read < last {
        world.fail(
            Category::Correctness,
            "mvcc",
            format!("{}: {} read point went back from {last} to {read}", ctl.name, h.label),
        );
    }
    h.region.check_invariants();
}

/// One flush of `h` (`reason`: who asked). Errors are returned as text, except an accounting
/// failure (edits acquired out of order), which fails the run.
pub async fn flush(world: &World, ctl: &ServerCtl, wal: &Wal, h: &Hosted, reason: &'static str) -> Result<(), String> {
    let call = world.begin_call(ctl.inc, &ctl.name, "flush", 0);
    let r = h.region.flush().await;
    world.end_call(call);
    match r {
        Ok(None) => Ok(()),
        Ok(Some(o)) => {
            if let Some(low) = wal.lowest_unflushed_seqid(h.region.name()) {
                if low <= o.flushed_seqid {
                    let msg = format!(
                        "{}: {} flushed up to seqid {}, but the WAL still counts seqid {low} as unflushed",
                        ctl.name, h.label, o.flushed_seqid
                    );
                    world.fail(Category::Correctness, "accounting", msg);
                }
            }
            {
                let mut oracle = lock(&world.oracle);
                let o2 = &mut *oracle;
                let m = &o2.incs[ctl.inc];
                if let Some(r) = o2.regions.get_mut(&h.label) {
                    r.flushed(ctl.inc, m, o.flushed_seqid);
                }
            }
            let ev = SimEvent::Flush {
                region: h.label.clone(),
                reason,
                flush_seqid: o.flush_seqid,
                flushed_seqid: o.flushed_seqid,
                cells: o.cells,
            };
            world.rec.sim(&ctl.name, ev);
            Ok(())
        }
        Err(RegionError::OutOfOrder(e)) => {
            world.fail(Category::Correctness, "accounting", format!("{}: {} flush abort: {e}", ctl.name, h.label));
            Err(e.to_string())
        }
        Err(e) => {
            let error = e.to_string();
            world.rec.sim(&ctl.name, SimEvent::FlushFailed { region: h.label.clone(), reason, error: error.clone() });
            Err(error)
        }
    }
}

/// Flushes the regions the WAL names in `RegionsToFlush`, during the safety phase.
pub async fn flusher(
    world: Arc<World>,
    ctl: Arc<ServerCtl>,
    wal: Arc<Wal>,
    regions: Arc<Vec<Arc<Hosted>>>,
    q: Arc<FlushQueue>,
) {
    loop {
        q.ready.notified().await;
        loop {
            let next = lock(&q.labels).pop_front();
            let Some(label) = next else { break };
            if !world.in_safety() {
                continue;
            }
            if let Some(h) = regions.iter().find(|h| *h.label == *label) {
                let _ = flush(&world, &ctl, &wal, h, "forced").await;
            }
        }
    }
}

/// Step 3 of the module docs. Returns false after recording a failure.
pub async fn final_checks(world: &World, ctl: &ServerCtl, wal: &Wal, regions: &[Arc<Hosted>]) -> Result<(), String> {
    for h in regions {
        let mvcc = h.region.mvcc();
        if mvcc.read_point() != mvcc.write_point() {
            let msg = format!(
                "{}: {} read point {} below write point {} with no write in flight (a write entry was never completed)",
                ctl.name,
                h.label,
                mvcc.read_point(),
                mvcc.write_point()
            );
            world.fail(Category::Correctness, "mvcc", msg);
            return Ok(());
        }
        let cells = ids(&h.region.scan_raw());
        let r = {
            let o = lock(&world.oracle);
            o.regions.get(&h.label).map_or(Ok(()), |r| r.check_live(&h.label, ctl.inc, &o.incs[ctl.inc], &cells))
        };
        if let Err((check, msg)) = r {
            world.fail(Category::Correctness, check, msg);
            return Ok(());
        }
    }
    for h in regions {
        with_classic_retries(world, || flush(world, ctl, wal, h, "final")).await?;
    }
    for _ in 0..2 {
        with_classic_retries(world, || async {
            wal.roll_writer(true).await.map(|_| ()).map_err(|e| format!("roll: {e}"))
        })
        .await?;
    }
    let rolled = wal.rolled_files().await;
    if let Some(f) = rolled.first() {
        let msg = format!(
            "{}: {} rolled files are still not archived after every region flushed and the WAL rolled twice \
             (oldest {}, regions {:?})",
            ctl.name,
            rolled.len(),
            f.path,
            f.highest.keys().map(|r| r.to_string()).collect::<Vec<_>>()
        );
        world.fail(Category::Correctness, "bounded-files", msg);
        return Ok(());
    }
    let dir = naming::server_dir(&ctl.name);
    let cur = lock(&world.oracle).incs[ctl.inc].cur_path.clone();
    let files = world.dfs.list_files(&dir);
    for name in &files {
        let path = format!("{dir}/{name}");
        if cur.as_deref() == Some(path.as_str()) {
            continue;
        }
        let held = world
            .dfs
            .read_now(&path)
            .ok()
            .and_then(|b| read_log(&path, &b, RecoveryMode::TolerateAnyCorruption).ok())
            .map_or(0, |l| l.entries.len());
        if held > 0 {
            let msg =
                format!("{}: {path} holds {held} entries, is not the current file, and was not archived", ctl.name);
            world.fail(Category::Correctness, "bounded-files", msg);
            return Ok(());
        }
    }
    let archived = world
        .dfs
        .list_files(naming::OLD_WALS_DIR)
        .iter()
        .filter(|n| naming::parse_file_number(&ctl.name, n).is_some())
        .count();
    world.rec.sim(&ctl.name, SimEvent::WalFiles { live: files.len(), archived });
    Ok(())
}
