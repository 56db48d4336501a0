//! The master's side of a server failure: fence, recover, check.
//!
//! Protocol (HBase `ServerCrashProcedure`, simplified):
//! 1. **Fence**: rename `WALs/<server>` to `WALs/<server>-splitting` (a zombie can no longer
//!    create WAL files: `create` needs the parent directory), then revoke every file lease in
//!    it (HDFS `recoverLease`: a zombie's appends and syncs on its open file now fail). When the
//!    server has no directory yet, create `WALs/<server>-splitting` as a fence marker.
//! 2. **Recover**: the [`RecoveryHook`] turns the fenced directory into what the regions reopen
//!    from. Today that is [`ReadOnlyRecovery`]: read the files directly (no split/replay yet).
//!    **Split + replay plug in here**: implement `RecoveryHook` with the engine's splitter
//!    (recovered.edits per region) and replay into the reopened regions, and have it return the
//!    same [`Recovered`] summary so the oracles keep working; then add split completeness and
//!    replay idempotence checks next to `recovery::check`.
//! 3. **Check** what was recovered against the model (`oracle::recovery::check`).

use hwal::env::BoxFuture;
use hwal::wal::naming;

use super::world::World;
use crate::dfs::SimDfs;
use crate::oracle::recovery::{self, Need, Recovered};
use crate::oracle::{Category, Violation};
use crate::trace::{lock, SimEvent};

/// Turns a dead server's fenced WAL directory into recovered state.
pub trait RecoveryHook: Send + Sync {
    /// Recovers `server`'s WALs from `splitting_dir`.
    fn recover<'a>(
        &'a self,
        dfs: &'a SimDfs,
        splitting_dir: &'a str,
        server: &'a str,
    ) -> BoxFuture<'a, Result<Recovered, Violation>>;
}

/// Today's recovery: read the WAL files directly, in file-number order.
pub struct ReadOnlyRecovery;

impl RecoveryHook for ReadOnlyRecovery {
    fn recover<'a>(
        &'a self,
        dfs: &'a SimDfs,
        splitting_dir: &'a str,
        server: &'a str,
    ) -> BoxFuture<'a, Result<Recovered, Violation>> {
        Box::pin(async move { recovery::read_dir(dfs, splitting_dir, server) })
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
    let rec = match hook.recover(&world.dfs, &split, server).await {
        Ok(r) => r,
        Err((check, msg)) => {
            world.fail(Category::Correctness, check, msg);
            return None;
        }
    };
    let mut oracle = lock(&world.oracle);
    let prefix = oracle.prefix_acks;
    let m = &mut oracle.incs[inc];
    if let Err((check, msg)) = recovery::check(m, &rec, need, prefix) {
        drop(oracle);
        world.fail(Category::Correctness, check, msg);
        return None;
    }
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

/// Reads and checks a live incarnation's directory after its clean close.
pub fn check_closed(world: &World, inc: usize, server: &str) -> bool {
    let who = lock(&world.oracle).incs[inc].name.clone();
    let dir = naming::server_dir(server);
    let rec = match recovery::read_dir(&world.dfs, &dir, server) {
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
