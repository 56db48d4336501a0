//! The workload: client tasks (HBase RPC handlers) on a region server, issuing puts with ASYNC,
//! SYNC or FSYNC durability through real regions (`Region::mutate`), the occasional
//! `sync_all` and region flush, and a roller client forcing rolls.
//!
//! Protocol of one put (what the oracles rely on):
//! 1. The put's cell fingerprint and durability go into the model's `in_flight` table, then
//!    `Region::mutate` runs: its WAL append reaches the model through the listener's
//!    `before_append` (txid, region, seqid) before the entry is published, so every txid a
//!    sync can cover is already in the model.
//! 2. When `mutate` returns Ok, the memstore holds the put (`applied`); for SYNC/FSYNC the ack
//!    is checked against the DFS immediately (`Oracle::check_ack`), in the same poll in which
//!    the sync returned.
//! 3. After every op, the region's MVCC is checked (`regions::check_mvcc`).
//!
//! Every call is registered in the world's call registry while it runs (liveness oracle).

use std::sync::Arc;
use std::time::Duration;

use hwal::{Cell, Durability, Wal};

use super::regions::{self, Hosted};
use super::server::ServerCtl;
use super::world::World;
use super::FAMILY;
use crate::oracle::{fingerprint, Category};
use crate::rng::Dice;
use crate::trace::lock;

const DURABILITIES: [Durability; 3] = [Durability::AsyncWal, Durability::SyncWal, Durability::FsyncWal];

/// Draws a durability with the seed's weights.
pub fn pick_durability(world: &World, d: &mut Dice) -> Durability {
    DURABILITIES[d.weighted(&world.knobs.durability_weights)]
}

/// `len` pseudo-random bytes from one draw (xorshift64, 8 bytes per step).
fn value(d: &mut Dice, len: u64) -> Vec<u8> {
    let mut x = d.u64() | 1;
    let mut v = Vec::with_capacity(len as usize + 8);
    while (v.len() as u64) < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len as usize);
    v
}

/// One put. Returns the error text if a call failed.
pub async fn put(world: &World, ctl: &ServerCtl, region: &Hosted, dur: Durability, d: &mut Dice) -> Result<(), String> {
    let row = format!("row-{:04}", d.below(10_000));
    let (lo, hi) = world.knobs.value_bytes;
    let len = d.range(lo, hi);
    let val = value(d, len);
    let fp = fingerprint(row.as_bytes(), &val);
    let cell = Cell::put(row.as_bytes(), FAMILY, b"q", world.clock.now_ms(), &val);
    let durability = match dur {
        Durability::FsyncWal => 2,
        Durability::SyncWal | Durability::UseDefault => 1,
        _ => 0,
    };
    lock(&world.oracle).in_flight.insert(fp, durability);
    let call = world.begin_call(ctl.inc, &ctl.name, "put", 0);
    let res = region.region.mutate(vec![cell], dur).await;
    world.end_call(call);
    lock(&world.oracle).in_flight.remove(&fp);
    regions::check_mvcc(world, ctl, region);
    let seqid = res.map_err(|e| format!("put: {e}"))?;
    let txid = {
        let mut o = lock(&world.oracle);
        let Some(txid) = o.txid_of(ctl.inc, &region.label, seqid) else {
            drop(o);
            let msg = format!("{}: {} put returned seqid {seqid}, which was never appended", ctl.name, region.label);
            world.fail(Category::Correctness, "phantom-append", msg);
            return Ok(());
        };
        o.incs[ctl.inc].applied.insert(txid);
        txid
    };
    if durability > 0 {
        ack(world, ctl, txid, durability == 2);
    }
    Ok(())
}

/// One `sync_all`: on Ok, everything appended before the call is durable.
pub async fn sync_all(world: &World, ctl: &ServerCtl, wal: &Wal, hsync: bool) -> Result<(), String> {
    let upto = lock(&world.oracle).max_put(ctl.inc);
    let call = world.begin_call(ctl.inc, &ctl.name, "sync_all", upto);
    let r = wal.sync_all(hsync).await;
    world.end_call(call);
    match r {
        Ok(()) => {
            // Classic (1.x) acks are per entry: a sync_all says nothing about other callers'
            // entries (ones dropped while the WAL was damaged stay lost).
            if lock(&world.oracle).prefix_acks {
                ack(world, ctl, upto, hsync);
            }
            Ok(())
        }
        Err(e) => Err(format!("sync_all: {e}")),
    }
}

fn ack(world: &World, ctl: &ServerCtl, txid: u64, hsync: bool) {
    if txid == 0 || !world.knobs.opts.ack_check {
        let mut oracle = lock(&world.oracle);
        let m = &mut oracle.incs[ctl.inc];
        m.acked_sync = m.acked_sync.max(txid);
        if hsync {
            m.acked_fsync = m.acked_fsync.max(txid);
        }
        return;
    }
    let r = lock(&world.oracle).check_ack(ctl.inc, txid, hsync, &world.dfs);
    if let Err((check, msg)) = r {
        world.fail(Category::Correctness, check, msg);
    }
}

/// A safety-phase client: ops until the budget is used up.
pub async fn client(
    world: Arc<World>,
    ctl: Arc<ServerCtl>,
    wal: Arc<Wal>,
    regions: Arc<Vec<Arc<Hosted>>>,
    mut d: Dice,
) {
    // With `per_client_ops`, each client does an equal share of the budget: its op sequence
    // (its own dice) is then the same whatever the timing, e.g. on both pipelines.
    let k = &world.knobs;
    let quota = k.opts.per_client_ops.then(|| k.opts.ops / (k.servers * k.clients).max(1) as u64);
    let mut done = 0u64;
    while quota.is_none_or(|q| done < q) && world.take_ticket() {
        done += 1;
        let pick = d.u64();
        let region = &regions[(pick % regions.len() as u64) as usize];
        if d.chance(world.knobs.sync_all) {
            let hsync = d.chance(0.5);
            let _ = sync_all(&world, &ctl, &wal, hsync).await;
        } else if d.chance(world.knobs.flush) {
            let _ = regions::flush(&world, &ctl, &wal, region, "client").await;
        } else {
            let dur = pick_durability(&world, &mut d);
            let _ = put(&world, &ctl, region, dur, &mut d).await;
        }
        world.op_done();
        if d.chance(world.knobs.think) {
            madsim::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Forces a roll every `every_ms` until the safety budget is used up.
pub async fn roller(world: Arc<World>, ctl: Arc<ServerCtl>, wal: Arc<Wal>, every_ms: u64) {
    loop {
        madsim::time::sleep(Duration::from_millis(every_ms)).await;
        if !world.in_safety() {
            return;
        }
        let call = world.begin_call(ctl.inc, &ctl.name, "roll", 0);
        let _ = wal.roll_writer(true).await;
        world.end_call(call);
    }
}

/// Retries of a failed liveness-phase call on the classic pipeline, `CLASSIC_RETRY_MS` apart:
/// together they outlast the roller's 1 s pause after a failed roll and the longest injected
/// sync delay (5 s) a roll may still be waiting on when the faults stop.
pub const CLASSIC_RETRIES: u32 = 100;
/// Pause between two classic retries.
pub const CLASSIC_RETRY_MS: u64 = 100;

fn classic_retries(world: &World) -> u32 {
    if world.knobs.opts.pipeline == hwal::Pipeline::Classic {
        CLASSIC_RETRIES
    } else {
        0
    }
}

/// Runs `op` once, or — on the classic pipeline, whose 1.x semantics fail calls that meet a
/// writer broken before the faults stopped until its roll completes — up to `CLASSIC_RETRIES`
/// more times.
pub async fn with_classic_retries<F, Fut>(world: &World, mut op: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let retries = classic_retries(world);
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(()) => return Ok(()),
            Err(_) if attempt < retries => {
                attempt += 1;
                madsim::time::sleep(std::time::Duration::from_millis(CLASSIC_RETRY_MS)).await;
            }
            Err(e) if attempt > 0 => return Err(format!("{e} (after {attempt} retries)")),
            Err(e) => return Err(e),
        }
    }
}

/// A liveness-phase client: `ops` SYNC/FSYNC puts, every one of which must succeed.
pub async fn liveness_client(
    world: Arc<World>,
    ctl: Arc<ServerCtl>,
    regions: Arc<Vec<Arc<Hosted>>>,
    ops: u64,
    mut d: Dice,
) -> Result<u64, String> {
    for _ in 0..ops {
        let region = &regions[d.below(regions.len() as u64) as usize];
        let dur = if d.chance(0.5) { Durability::SyncWal } else { Durability::FsyncWal };
        let mut attempt = 0;
        loop {
            match put(&world, &ctl, region, dur, &mut d).await {
                Ok(()) => break,
                Err(_) if attempt < classic_retries(&world) => {
                    attempt += 1;
                    madsim::time::sleep(std::time::Duration::from_millis(CLASSIC_RETRY_MS)).await;
                }
                Err(e) => return Err(format!("{e} (after {attempt} retries)")),
            }
        }
    }
    Ok(ops)
}
