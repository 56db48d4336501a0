//! The master's side of a server failure: fence, read, split, check.
//!
//! Protocol (HBase `ServerCrashProcedure`, simplified):
//! 1. **Fence**: rename `WALs/<server>` to `WALs/<server>-splitting` (a zombie can no longer
//!    create WAL files: `create` needs the parent directory), then revoke every file lease in
//!    it (HDFS `recoverLease`: a zombie's appends and syncs on its open file now fail). When the
//!    server has no directory yet, create `WALs/<server>-splitting` as a fence marker.
//! 2. **Recover** through the [`RecoveryHook`] ([`SplitRecovery`]): read the fenced files (and
//!    the files the server's WAL archived) directly, for the WAL oracles; then run the engine's
//!    real `hwal::recovery::split_server` on the master's own `SimEnv` and check the split's
//!    completeness against what was read (`oracle::split`).
//! 3. **Check** what was read against the WAL model (`oracle::recovery::check`), and hand the
//!    puts the dead server acknowledged (and applied) to their regions' models: the incarnation
//!    that reopens them replays the recovered edits and must read them back
//!    (`cluster::regions`, `oracle::regions`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hwal::env::{BoxFuture, Env};

use crate::env::SimEnv;
use hwal::recovery::{split_server, SplitConfig, StoreFileSeqids};
use hwal::region::layout;
use hwal::wal::naming;

use super::world::World;
use super::TABLE;
use crate::oracle::recovery::{self, Need, Recovered};
use crate::oracle::{archive, regions, split, Category, Violation};
use crate::trace::{lock, SimEvent};

/// Pause between two attempts of a split that failed (transient DFS faults: ENOSPC, broken
/// output streams); HBase retries its split procedure the same way.
pub const SPLIT_RETRY_MS: u64 = 10;
/// Attempts that face every fault. A big split writes hundreds of chunks, each an append and an
/// hflush, so under the heavier rate faults almost every attempt meets one; later attempts run
/// without rate faults on the master's files (as if the procedure moved to a healthy worker),
/// while ENOSPC and data-node loss still apply.
pub const SPLIT_FAULTY_ATTEMPTS: u32 = 10;
/// Attempts before a split that keeps failing is reported (30 s of simulated time: every
/// injected fault window is shorter).
pub const SPLIT_ATTEMPTS: u32 = 3_000;

/// Turns a dead server's fenced WAL directory into recovered state.
pub trait RecoveryHook: Send + Sync {
    /// Recovers `server`'s WALs from `splitting_dir`: what its WAL files held, for the WAL
    /// oracles.
    fn recover<'a>(
        &'a self,
        world: &'a World,
        splitting_dir: &'a str,
        server: &'a str,
    ) -> BoxFuture<'a, Result<Recovered, Violation>>;
}

/// The engine's split, run by the master, with split completeness checked.
pub struct SplitRecovery {
    sim: Arc<SimEnv>,
    env: Arc<dyn Env>,
    cfg: SplitConfig,
}

impl SplitRecovery {
    /// A splitter on the master's environment `env` with the seed's split settings.
    pub fn new(sim: Arc<SimEnv>, cfg: SplitConfig) -> Self {
        let env: Arc<dyn Env> = sim.clone();
        Self { sim, env, cfg }
    }

    async fn run(&self, world: &World, dir: &str, server: &str) -> Result<Recovered, Violation> {
        let master = &world.master;
        let read = recovery::read_dir(&world.dfs, dir, server)?;
        let regions: Vec<String> = read.max_seqid.keys().cloned().collect();
        let flushed: BTreeMap<String, u64> =
            regions.iter().map(|r| (r.clone(), archive::store_max_seqid(&world.dfs, r))).collect();
        let flushed_seqids = StoreFileSeqids::new(self.env.fs());
        let mut attempt = 1;
        let report = loop {
            self.sim.set_rate_faults(attempt <= SPLIT_FAULTY_ATTEMPTS);
            let r = split_server(&self.env, server, &self.cfg, &flushed_seqids).await;
            self.sim.set_rate_faults(true);
            match r {
                Ok(r) => break r,
                Err(e) if attempt < SPLIT_ATTEMPTS && e.is_transient() => {
                    world.rec.sim(master, SimEvent::SplitFailed { attempt, error: e.to_string() });
                    attempt += 1;
                    madsim::time::sleep(Duration::from_millis(SPLIT_RETRY_MS)).await;
                }
                Err(e) => {
                    return Err(("split-complete", format!("{server}: split failed after {attempt} attempts: {e}")))
                }
            }
        };
        let max = split::check(&world.dfs, server, dir, &read.files, &flushed, &report)?;
        let (mut kept, mut skipped) = (0, 0);
        for w in &report.wals {
            kept += w.edits_kept;
            skipped += w.skipped_flushed;
        }
        world.rec.sim(
            master,
            SimEvent::Split {
                server: server.to_string(),
                wals: report.wals.len(),
                entries: read.entries,
                kept,
                skipped_flushed: skipped,
                outputs: report.outputs.len(),
                attempts: attempt,
            },
        );
        {
            let mut o = lock(&world.oracle);
            for (r, m) in &max {
                o.region(r).recovered_max = *m;
            }
        }
        // What replay idempotence puts back later: every finished edits file of the regions.
        for r in max.keys() {
            let edits = layout::recovered_edits_dir(TABLE, r);
            let files: Vec<(String, Vec<u8>)> = world
                .dfs
                .list_files(&edits)
                .into_iter()
                .filter(|n| layout::parse_recovered_edits(n).is_some())
                .filter_map(|n| {
                    let p = format!("{edits}/{n}");
                    world.dfs.read_now(&p).ok().map(|b| (p, b))
                })
                .collect();
            world.set_edits_snapshot(r, files);
        }
        // The split removed the fenced directory; the master keeps the marker as its record of a
        // dead server (HBase's DeadServer list), so a zombie that never opened its WAL cannot
        // open it now (`Wal::open` refuses while `-splitting` exists).
        if let Err(e) = world.dfs.mkdirs_now(dir) {
            return Err(("fencing", format!("cannot re-create the fence marker {dir}: {e}")));
        }
        let archived = recovery::read_archived(&world.dfs, server)?;
        Ok(read.merged(archived))
    }
}

impl RecoveryHook for SplitRecovery {
    fn recover<'a>(
        &'a self,
        world: &'a World,
        splitting_dir: &'a str,
        server: &'a str,
    ) -> BoxFuture<'a, Result<Recovered, Violation>> {
        Box::pin(self.run(world, splitting_dir, server))
    }
}

/// Fences, recovers and checks incarnation `inc` (named `server`). Returns the recovered
/// summary, or `None` after recording a failure.
pub async fn fence_and_recover(
    world: &World,
    hook: &dyn RecoveryHook,
    inc: usize,
    server: &str,
    need: Need,
) -> Option<Recovered> {
    let who = lock(&world.oracle).incs[inc].name.clone();
    let dir = naming::server_dir(server);
    let split = naming::splitting_dir(server);
    let fenced = if world.dfs.is_dir(&dir) {
        world.dfs.rename_now(&dir, &split)
    } else {
        // Nothing to rename (the server never opened its WAL): leave the fence marker anyway,
        // so a WAL that opens later can see it was declared dead.
        world.dfs.mkdirs_now(&split)
    };
    if let Err(e) = fenced {
        world.fail(Category::Correctness, "fencing", format!("cannot fence {dir} as {split}: {e}"));
        return None;
    }
    let leases = world.dfs.revoke_leases(&split);
    world.rec.sim(&who, SimEvent::Fence { dir: split.clone(), leases });
    let rec = match hook.recover(world, &split, server).await {
        Ok(r) => r,
        Err((check, msg)) => {
            world.fail(Category::Correctness, check, msg);
            return None;
        }
    };
    let mut oracle = lock(&world.oracle);
    let prefix = oracle.prefix_acks;
    if let Err((check, msg)) = recovery::check(&oracle.incs[inc], &rec, need, prefix) {
        drop(oracle);
        world.fail(Category::Correctness, check, msg);
        return None;
    }
    let o = &mut *oracle;
    regions::oblige(&mut o.regions, &o.incs[inc], prefix, need == Need::PowerLoss);
    let m = &mut o.incs[inc];
    let max_txid = rec.present.iter().next_back().copied().unwrap_or(0);
    let ev = SimEvent::Recovered {
        files: rec.files.len(),
        entries: rec.entries,
        max_txid,
        acked_sync: m.acked_sync,
        acked_fsync: m.acked_fsync,
    };
    m.fenced = Some(rec.present.clone());
    drop(oracle);
    world.rec.sim(&who, ev);
    Some(rec)
}

/// Reads and checks a live incarnation's directory (and what its WAL archived) after its
/// clean close.
pub fn check_closed(world: &World, inc: usize, server: &str) -> bool {
    let who = lock(&world.oracle).incs[inc].name.clone();
    let dir = naming::server_dir(server);
    let rec = match recovery::read_dir(&world.dfs, &dir, server)
        .and_then(|live| Ok(live.merged(recovery::read_archived(&world.dfs, server)?)))
    {
        Ok(r) => r,
        Err((check, msg)) => {
            world.fail(Category::Correctness, check, msg);
            return false;
        }
    };
    let oracle = lock(&world.oracle);
    if let Err((check, msg)) = recovery::check(&oracle.incs[inc], &rec, Need::CleanClose, oracle.prefix_acks) {
        drop(oracle);
        world.fail(Category::Correctness, check, msg);
        return false;
    }
    drop(oracle);
    world.rec.sim(&who, SimEvent::Verified { files: rec.files.len(), entries: rec.entries });
    true
}
