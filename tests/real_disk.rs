//! The engine on real disk with OS threads: concurrency, durability read-back, close semantics
//! and HBase's basic WAL API conformance cases (each names the HBase test it mirrors).
#![cfg(not(any(madsim, hwal_loom)))]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{check_order, read_server, within};
use hwal::core::mutant::Mutant;
use hwal::env::{FaultPlan, RealEnv};
use hwal::wal::listener::NoopListener;
use hwal::{Config, Durability, Mvcc, RegionName, Wal, WalEdit, WalError, WalKey};

fn put(i: u64) -> WalEdit {
    WalEdit::put(format!("row{i}").as_bytes(), b"f", b"q", i, b"value")
}

fn key(region: &str) -> WalKey {
    WalKey::new(RegionName::new(region), "t", 0)
}

both_pipelines! {
/// Many OS threads append and sync concurrently: every acknowledged edit reads back, per-region
/// seqids strictly increase in file order, nothing is duplicated.
fn concurrent_writers_every_ack_reads_back_in_order(p) {
    let dir = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open(dir.path(), Config { pipeline: p, ..Config::default() }).unwrap());
    let regions: Vec<Arc<Mvcc>> = (0..4).map(|_| Arc::new(Mvcc::new(0))).collect();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let (wal, mvcc, acked) = (wal.clone(), regions[t % 4].clone(), acked.clone());
            std::thread::spawn(move || {
                let region = format!("r{}", t % 4);
                for i in 0..300 {
                    let a = wal.append_blocking(&mvcc, key(&region), put(i)).unwrap();
                    let durability = if i % 3 == 0 { Durability::FsyncWal } else { Durability::SyncWal };
                    wal.sync_blocking(a.txid, durability).unwrap();
                    acked.lock().unwrap().push((region.clone(), a.seqid));
                    mvcc.complete(a.write_entry);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    wal.close_blocking().unwrap();
    let (found, tails) = read_server(dir.path(), "rs1");
    assert_eq!(found.len(), 16 * 300, "no failures were injected, so nothing is written twice");
    let present = check_order(&found);
    let txids: Vec<u64> = found.iter().map(|f| f.entry.txid).collect();
    assert!(txids.windows(2).all(|w| w[0] < w[1]), "txids strictly increase in file order");
    for a in acked.lock().unwrap().iter() {
        assert!(present.contains(a), "acknowledged {a:?} missing");
    }
    assert!(tails.iter().all(|(_, t)| matches!(t, hwal::format::TailState::Clean { .. })), "{tails:?}");
    let stats = wal.stats();
    assert!(stats.syncs < 16 * 300, "group commit: fewer syncs ({}) than writers' sync calls", stats.syncs);
}
}

/// Counts syncs issued, and those a waiting caller led (`Config::leader_sync`).
#[derive(Default)]
struct SyncCounter {
    issued: std::sync::atomic::AtomicU64,
    led: std::sync::atomic::AtomicU64,
}

impl hwal::WalListener for SyncCounter {
    fn on_event(&self, e: &hwal::WalEvent) {
        use std::sync::atomic::Ordering::Relaxed;
        if let hwal::WalEvent::SyncIssued { lead, .. } = e {
            self.issued.fetch_add(1, Relaxed);
            if *lead {
                self.led.fetch_add(1, Relaxed);
            }
        }
    }
}

/// `inline_consume` off, on with `leader_sync` off, and on with blocking callers leading: a
/// lone writer (whose publishes run the consumer on its own thread when inline consume is on),
/// then four at once (the consumer task again, or with leaders every caller consumes and the
/// one waiting syncs on its own thread), with ASYNC, SYNC and FSYNC edits: every acknowledged
/// edit reads back in order, nothing is duplicated; syncs are led exactly when configured.
#[test]
fn lone_and_concurrent_writers_with_and_without_inline_consume() {
    use hwal::LeaderSync;
    for (inline, leader) in [(false, LeaderSync::Off), (true, LeaderSync::Off), (true, LeaderSync::Blocking)] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config { inline_consume: inline, leader_sync: leader, ..Config::default() };
        let counter = Arc::new(SyncCounter::default());
        let env = RealEnv::new(dir.path()).unwrap();
        let wal = Arc::new(Wal::open_blocking(env, cfg, counter.clone()).unwrap());
        let acked = Arc::new(Mutex::new(Vec::new()));
        let write = |threads: usize, per_thread: u64| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (wal, acked) = (wal.clone(), acked.clone());
                    std::thread::spawn(move || {
                        let (region, mvcc) = (format!("w{threads}-r{t}"), Mvcc::new(0));
                        for i in 0..per_thread {
                            let a = wal.append_blocking(&mvcc, key(&region), put(i)).unwrap();
                            let durability =
                                [Durability::AsyncWal, Durability::SyncWal, Durability::FsyncWal][i as usize % 3];
                            wal.sync_blocking(a.txid, durability).unwrap();
                            if durability != Durability::AsyncWal {
                                acked.lock().unwrap().push((region.clone(), a.seqid));
                            }
                            mvcc.complete(a.write_entry);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        };
        write(1, 600);
        write(4, 300);
        wal.close_blocking().unwrap();
        let (found, _) = read_server(dir.path(), "rs1");
        let what = format!("inline={inline} leader={}", leader.name());
        assert_eq!(found.len(), 600 + 4 * 300, "{what}: every append written once");
        let present = check_order(&found);
        for a in acked.lock().unwrap().iter() {
            assert!(present.contains(a), "{what}: acknowledged {a:?} missing");
        }
        let (issued, led) = (
            counter.issued.load(std::sync::atomic::Ordering::Relaxed),
            counter.led.load(std::sync::atomic::Ordering::Relaxed),
        );
        assert!(issued > 0, "{what}: no sync issued");
        if leader == LeaderSync::Off {
            assert_eq!(led, 0, "{what}: a sync was led with leader_sync off");
        } else {
            assert!(led > 0, "{what}: no sync was led by a blocking caller ({issued} issued)");
        }
    }
}

/// A `sync_coalesce` hold whose waiters are all blocking callers has no timer: they wake up
/// after `sync_coalesce_wait` and end it themselves. Eight writers publish while a slow sync
/// is in flight, so one sync completes all eight and the next is held for seven of them; then
/// only one writer goes on. Its syncs must complete (by its own nudge), not run into
/// `sync_timeout`.
fn lone_writer_after_a_burst(mutant: Mutant) -> Result<(), WalError> {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let env = RealEnv::builder(dir.path()).faults(plan.clone()).build().unwrap();
    let cfg = Config {
        sync_timeout: Duration::from_secs(3),
        sync_coalesce_wait: Duration::from_millis(1),
        mutant,
        ..Config::default()
    };
    let wal = Arc::new(Wal::open_blocking(env, cfg, Arc::new(NoopListener)).unwrap());
    plan.set_sync_latency(Duration::from_millis(400));
    let slow = {
        let wal = wal.clone();
        std::thread::spawn(move || {
            let mvcc = Mvcc::new(0);
            let a = wal.append_blocking(&mvcc, key("slow"), put(0)).unwrap();
            let r = wal.sync_blocking(a.txid, Durability::SyncWal);
            mvcc.complete(a.write_entry);
            r
        })
    };
    std::thread::sleep(Duration::from_millis(100)); // the slow sync is in flight
    plan.set_sync_latency(Duration::ZERO);
    let burst: Vec<_> = (0..8)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                let mvcc = Mvcc::new(0);
                let a = wal.append_blocking(&mvcc, key(&format!("b{t}")), put(0)).unwrap();
                let r = wal.sync_blocking(a.txid, Durability::SyncWal);
                mvcc.complete(a.write_entry);
                r
            })
        })
        .collect();
    slow.join().unwrap()?;
    for h in burst {
        h.join().unwrap()?;
    }
    let mvcc = Mvcc::new(0);
    for i in 0..20 {
        let a = wal.append_blocking(&mvcc, key("lone"), put(i)).unwrap();
        let r = wal.sync_blocking(a.txid, Durability::SyncWal);
        mvcc.complete(a.write_entry);
        r?;
    }
    wal.close_blocking()
}

#[test]
fn blocking_waiters_end_a_coalescing_hold_themselves() {
    let r = within(Duration::from_secs(60), "a lone writer after a burst", || lone_writer_after_a_burst(Mutant::None));
    assert!(r.is_ok(), "{r:?}");
}

/// The same with the mutant whose nudge never ends the hold: the lone writer's sync waits for
/// a timer that was never started and runs into `sync_timeout` (proves the test's power).
#[test]
fn coalescing_hold_test_catches_a_missing_nudge() {
    let r =
        within(Duration::from_secs(60), "a lone writer after a burst", || lone_writer_after_a_burst(Mutant::NoNudge));
    assert!(matches!(r, Err(WalError::SyncTimeout { .. })), "the no-nudge mutant went unnoticed: {r:?}");
}

/// A listener may call the WAL from inside an event the consumer emits while it holds its own
/// mutex. When that happens with no other call in the WAL (a batch sync of ASYNC_WAL edits
/// completing after their caller returned), the nested append is the only call and
/// `inline_consume` would run the consumer — but not on the thread that already holds it (a
/// self-deadlock): it hands the run to the consumer task instead.
#[test]
fn listener_appending_from_a_consumer_event_does_not_deadlock() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{OnceLock, Weak};

    #[derive(Default)]
    struct AppendOnFirstSync {
        wal: OnceLock<Weak<Wal>>,
        mvcc: Mvcc,
        fired: AtomicBool,
        done: AtomicBool,
    }
    impl hwal::WalListener for AppendOnFirstSync {
        fn on_event(&self, e: &hwal::WalEvent) {
            if matches!(e, hwal::WalEvent::SyncDone { .. }) && !self.fired.swap(true, Ordering::SeqCst) {
                let wal = self.wal.get().and_then(Weak::upgrade).expect("the WAL is open");
                let a = wal.append_blocking(&self.mvcc, key("marker"), put(0)).unwrap();
                self.mvcc.complete(a.write_entry);
                self.done.store(true, Ordering::SeqCst);
            }
        }
        fn detailed(&self) -> bool {
            true
        }
    }

    within(Duration::from_secs(60), "a listener appending from a consumer event", || {
        let dir = tempfile::tempdir().unwrap();
        let listener = Arc::new(AppendOnFirstSync::default());
        let env = RealEnv::new(dir.path()).unwrap();
        let cfg = Config { inline_consume: true, sync_coalesce: false, ..Config::default() };
        let wal = Arc::new(Wal::open_blocking(env, cfg, listener.clone()).unwrap());
        listener.wal.set(Arc::downgrade(&wal)).unwrap();
        let mvcc = Mvcc::new(0);
        // ASYNC_WAL, one edit above the batch size: the consumer syncs it on its own, and the
        // sync completes (SYNC_DONE, under the consumer mutex) after the caller returned.
        let big = WalEdit::put(b"row", b"f", b"q", 1, &vec![b'v'; 128 * 1024]);
        let a = wal.append_blocking(&mvcc, key("data"), big).unwrap();
        mvcc.complete(a.write_entry);
        while !listener.done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        hwal::env::block_on(wal.sync_all(true)).unwrap();
        wal.close_blocking().unwrap();
        let (found, _) = read_server(dir.path(), "rs1");
        let regions: HashSet<String> = found.iter().map(|f| f.entry.key.region.as_str().to_string()).collect();
        assert_eq!(regions, HashSet::from(["data".to_string(), "marker".to_string()]));
    });
}

both_pipelines! {
/// HBase `testSyncNoAppend`: `sync()` on an empty WAL returns; so does a roll of an empty WAL
/// (`testLogRollOnNothingWritten`).
fn sync_and_roll_on_empty_wal(p) {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Config { pipeline: p, ..Config::default() }).unwrap();
    hwal::env::block_on(wal.sync_all(false)).unwrap();
    hwal::env::block_on(wal.sync_all(true)).unwrap();
    assert!(wal.roll_writer_blocking(false).unwrap().is_none(), "nothing written: no roll without force");
    let r = wal.roll_writer_blocking(true).unwrap().expect("a forced roll rolls");
    assert_ne!(r.old.as_deref(), Some(r.new.as_str()));
    wal.close_blocking().unwrap();
}
}

both_pipelines! {
/// HBase `testWriteEntryCanBeNull` and `testRollWriterForClosedWAL`: after close, append,
/// sync and roll fail with Closed, and the failed append begins no MVCC write.
fn closed_wal_refuses_everything(p) {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Config { pipeline: p, ..Config::default() }).unwrap();
    let mvcc = Mvcc::new(0);
    let a = wal.append_blocking(&mvcc, key("r"), put(1)).unwrap();
    wal.sync_blocking(a.txid, Durability::SyncWal).unwrap();
    mvcc.complete(a.write_entry);
    wal.close_blocking().unwrap();
    assert!(matches!(wal.append_blocking(&mvcc, key("r"), put(2)), Err(WalError::Closed)));
    assert_eq!(mvcc.write_point(), 1, "a refused append must not begin an MVCC write");
    assert!(matches!(wal.sync_blocking(99, Durability::SyncWal), Err(WalError::Closed)));
    assert!(matches!(wal.roll_writer_blocking(true), Err(WalError::Closed)));
    wal.close_blocking().unwrap();
}
}

both_pipelines! {
/// Close racing with writers: every call returns (success or Closed) and no waiter hangs.
fn close_during_load_never_hangs(p) {
    within(Duration::from_secs(60), "close during load", move || {
        let dir = tempfile::tempdir().unwrap();
        let wal = Arc::new(Wal::open(dir.path(), Config { pipeline: p, ..Config::default() }).unwrap());
        let mvcc = Arc::new(Mvcc::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (wal, mvcc) = (wal.clone(), mvcc.clone());
                std::thread::spawn(move || loop {
                    match wal.append_blocking(&mvcc, key("r"), put(0)) {
                        Ok(a) => {
                            let r = wal.sync_blocking(a.txid, Durability::SyncWal);
                            mvcc.complete(a.write_entry);
                            match r {
                                Ok(()) => {}
                                Err(WalError::Closed) => return,
                                Err(e) => panic!("unexpected {e}"),
                            }
                        }
                        Err(WalError::Closed) => return,
                        Err(e) => panic!("unexpected {e}"),
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        wal.close_blocking().unwrap();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(mvcc.read_point(), mvcc.write_point(), "every begun write was completed");
    });
}
}

both_pipelines! {
/// HBase `TestWALSyncTimeoutException`: a sync that never completes ends in SyncTimeout after
/// `sync_timeout`, not a hang.
fn stuck_sync_times_out(p) {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let env = RealEnv::builder(dir.path()).faults(plan.clone()).build().unwrap();
    let cfg = Config { pipeline: p, sync_timeout: Duration::from_millis(300), ..Config::default() };
    let wal = Wal::open_blocking(env, cfg, Arc::new(NoopListener)).unwrap();
    plan.set_sync_latency(Duration::from_secs(3600));
    let mvcc = Mvcc::new(0);
    let a = wal.append_blocking(&mvcc, key("r"), put(1)).unwrap();
    let r = within(Duration::from_secs(30), "stuck sync", {
        let wal = Arc::new(wal);
        move || {
            let r = wal.sync_blocking(a.txid, Durability::SyncWal);
            (r, wal)
        }
    });
    assert!(matches!(r.0, Err(WalError::SyncTimeout { .. })), "{:?}", r.0);
    mvcc.complete(a.write_entry);
}
}

/// HBase `TestAsyncFSWAL.testBrokenWriter` (3.x semantics): syncs fail and break the writer
/// many times under load; the engine rolls and re-writes unacked entries, so no writer sees an
/// error and no acknowledged edit is lost.
#[test]
fn broken_writers_are_rolled_and_nothing_acked_is_lost() {
    let lost = broken_writer_load(Mutant::None);
    assert!(lost.is_empty(), "acknowledged edits lost after a writer failure: {lost:?}");
}

/// The same load with the engine mutant that drops unacked entries instead of re-writing
/// them: the test above must notice (proves its power).
#[test]
fn broken_writer_test_catches_dropped_rewrites() {
    let lost = broken_writer_load(Mutant::NoRewriteAfterBroken);
    assert!(!lost.is_empty(), "the mutant lost nothing: the broken-writer test cannot fail");
}

/// Runs 8 writers while syncs fail (sticky) ten times; returns acknowledged edits not found.
fn broken_writer_load(mutant: Mutant) -> Vec<(String, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    plan.set_sticky(true);
    let env = RealEnv::builder(dir.path()).faults(plan.clone()).build().unwrap();
    let cfg = Config { mutant, ..Config::default() };
    let wal = Arc::new(Wal::open_blocking(env, cfg, Arc::new(NoopListener)).unwrap());
    let mvcc = Arc::new(Mvcc::new(0));
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let injector = {
        let plan = plan.clone();
        std::thread::spawn(move || {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(20));
                plan.fail_next_syncs(1);
            }
        })
    };
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (wal, mvcc, acked) = (wal.clone(), mvcc.clone(), acked.clone());
            std::thread::spawn(move || {
                for i in 0..200 {
                    let a = wal.append_blocking(&mvcc, key("r"), put(i)).unwrap();
                    wal.sync_blocking(a.txid, Durability::SyncWal).expect("3.x: callers never see the IO error");
                    acked.lock().unwrap().insert(("r".to_string(), a.seqid));
                    mvcc.complete(a.write_entry);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    injector.join().unwrap();
    plan.fail_next_syncs(0);
    let stats = wal.stats();
    wal.close_blocking().unwrap();
    assert!(plan.injected() > 0, "faults were injected");
    assert!(stats.broken > 0 && stats.rolls >= stats.broken, "broken writers were rolled: {stats:?}");
    let (found, _) = read_server(dir.path(), "rs1");
    let present = check_order(&found);
    let mut lost: Vec<_> = acked.lock().unwrap().iter().filter(|a| !present.contains(*a)).cloned().collect();
    lost.sort();
    lost
}

both_pipelines! {
/// The txid returned by append orders appends across regions; region seqids are per region.
fn txids_are_global_seqids_per_region(p) {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Config { pipeline: p, ..Config::default() }).unwrap();
    let (m1, m2) = (Mvcc::new(0), Mvcc::new(100));
    let a = wal.append_blocking(&m1, key("a"), put(1)).unwrap();
    let b = wal.append_blocking(&m2, key("b"), put(2)).unwrap();
    let c = wal.append_blocking(&m1, key("a"), put(3)).unwrap();
    assert!(a.txid < b.txid && b.txid < c.txid);
    assert_eq!((a.seqid, b.seqid, c.seqid), (1, 101, 2));
    wal.sync_blocking(c.txid, Durability::SyncWal).unwrap();
    for (m, w) in [(&m1, a.write_entry), (&m2, b.write_entry), (&m1, c.write_entry)] {
        m.complete(w);
    }
    wal.close_blocking().unwrap();
}
}

/// A local file pre-written in small chunks, so many chunks are added ahead of need (on the
/// file's I/O thread) while flushes and syncs run on the calling thread and on the I/O
/// thread: every synced prefix reads back exactly, past it there are only zeros, the zero tail
/// exists (the region really was pre-written), and a clean close leaves exactly the data.
/// With 256 KiB chunks, each extension ahead adds a 64 KiB step, while flushes that find the
/// region ready do not wait for one in progress.
#[test]
fn preallocated_file_reads_back_exactly_while_chunks_are_added_ahead() {
    for chunk in [64 * 1024, 256 * 1024] {
        preallocated_file_reads_back_exactly(chunk);
    }
}

fn preallocated_file_reads_back_exactly(chunk: u64) {
    use hwal::env::{block_on, Env};
    let dir = tempfile::tempdir().unwrap();
    let env = RealEnv::builder(dir.path()).preallocate(chunk).build().unwrap();
    let fs = env.fs();
    let file = block_on(fs.create("wal.bin")).unwrap();
    let path = dir.path().join("wal.bin");
    let mut data = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut saw_zero_tail = false;
    for i in 0..600u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Now and then a burst larger than the region left ahead: that flush extends on
        // demand, maybe while an extension ahead is in progress.
        let len = if i % 50 == 49 { 3 * chunk as usize / 2 } else { 1 + (seed % 9000) as usize };
        let buf: Vec<u8> = (0..len).map(|k| (seed as usize + k) as u8 | 1).collect();
        file.append(&buf).unwrap();
        data.extend_from_slice(&buf);
        let synced = match i % 3 {
            0 => block_on(file.hsync()).unwrap(),
            1 => file.sync_now(true).expect("a local file syncs in place").unwrap(),
            _ => continue,
        };
        assert_eq!(synced, data.len() as u64, "sync {i} reports the appended length");
        let disk = std::fs::read(&path).unwrap();
        assert!(disk.len() >= data.len(), "sync {i}: file shorter than the synced data");
        assert!(disk[..data.len()] == data[..], "sync {i}: synced bytes differ on disk");
        assert!(disk[data.len()..].iter().all(|&b| b == 0), "sync {i}: non-zero bytes past the data");
        saw_zero_tail |= disk.len() > data.len();
    }
    assert!(data.len() as u64 > 8 * chunk, "the run must cross many chunks: {}", data.len());
    assert!(saw_zero_tail, "no pre-written region was ever seen past the data");
    block_on(file.close()).unwrap();
    let disk = std::fs::read(&path).unwrap();
    assert_eq!(disk.len(), data.len(), "a clean close truncates the zero tail");
    assert!(disk == data, "closed file differs from what was appended");
}

/// `append_sync_blocking` (one call, one consumer run for the append and its sync) from 12
/// threads, mixed with separate `append` + `sync` callers, on a ring of 2 slots: the sync
/// request often finds no slot free at once, and then the append's own hook must run first, or
/// the caller waits for a consumer nobody scheduled. Returns the acknowledged edits, or `None`
/// when the load did not finish within `limit` (then the WAL is closed, which ends the waits).
fn append_sync_tiny_ring(
    p: hwal::Pipeline,
    mutant: Mutant,
    limit: Duration,
) -> Option<(Vec<(String, u64)>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config { pipeline: p, ring_capacity: 2, mutant, ..Config::default() };
    let wal = Arc::new(Wal::open(dir.path(), cfg).unwrap());
    let acked = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let threads: Vec<_> = (0..12)
        .map(|t| {
            let (wal, acked, done_tx) = (wal.clone(), acked.clone(), done_tx.clone());
            std::thread::spawn(move || {
                let (region, mvcc) = (format!("r{t}"), Mvcc::new(0));
                for i in 0..150 {
                    let durability = if i % 4 == 0 { Durability::FsyncWal } else { Durability::SyncWal };
                    let seqid = if t % 3 == 0 {
                        let Ok(a) = wal.append_blocking(&mvcc, key(&region), put(i)) else { break };
                        let r = wal.sync_blocking(a.txid, durability);
                        mvcc.complete(a.write_entry);
                        if r.is_err() {
                            break;
                        }
                        a.seqid
                    } else {
                        let Ok(r) = wal.append_sync_blocking(&mvcc, key(&region), put(i), durability) else { break };
                        mvcc.complete(r.appended.write_entry);
                        if r.synced.is_err() {
                            break;
                        }
                        r.appended.seqid
                    };
                    acked.lock().unwrap().push((region.clone(), seqid));
                }
                let _ = done_tx.send(());
            })
        })
        .collect();
    #[allow(clippy::disallowed_methods)]
    let deadline = std::time::Instant::now() + limit;
    #[allow(clippy::disallowed_methods)]
    let finished = (0..threads.len())
        .all(|_| done_rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())).is_ok());
    let _ = wal.close_blocking();
    for t in threads {
        t.join().unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    finished.then_some((acked, dir))
}

both_pipelines! {
/// `append_sync_tiny_ring`: nothing hangs, every acknowledged edit reads back, in order.
fn append_sync_on_a_tiny_ring_acks_durable_edits(p) {
    let (acked, dir) = append_sync_tiny_ring(p, Mutant::None, Duration::from_secs(120)).expect("the load hung");
    assert_eq!(acked.len(), 12 * 150);
    let (found, _) = read_server(dir.path(), "rs1");
    assert_eq!(found.len(), 12 * 150);
    let present = check_order(&found);
    for a in &acked {
        assert!(present.contains(a), "acknowledged {a:?} missing");
    }
}
}

both_pipelines! {
/// The same load with the mutant that leaves the append unhooked when the sync request must
/// wait for a slot: callers wait for a consumer nobody scheduled (proves the test's power; the
/// load takes well under a second here).
fn append_sync_tiny_ring_test_catches_a_missing_hook(p) {
    let r = append_sync_tiny_ring(p, Mutant::AppendSyncNoHook, Duration::from_secs(5));
    assert!(r.is_none(), "the append-sync-no-hook mutant went unnoticed");
}
}

both_pipelines! {
/// `append_sync_blocking`'s outcomes: an edit it acknowledges is durable at once (the file
/// already holds it before close); `AsyncWal` returns without waiting; a closed WAL refuses the
/// call and begins no MVCC write.
fn append_sync_acks_durable_edits_and_refuses_after_close(p) {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Config { pipeline: p, ..Config::default() }).unwrap();
    let mvcc = Mvcc::new(0);
    let r = wal.append_sync_blocking(&mvcc, key("r"), put(1), Durability::FsyncWal).unwrap();
    mvcc.complete(r.appended.write_entry);
    r.synced.unwrap();
    let (found, _) = read_server(dir.path(), "rs1");
    assert_eq!(found.len(), 1, "acknowledged, so already in the file");
    let r = wal.append_sync_blocking(&mvcc, key("r"), put(2), Durability::AsyncWal).unwrap();
    mvcc.complete(r.appended.write_entry);
    r.synced.unwrap();
    wal.close_blocking().unwrap();
    let refused = wal.append_sync_blocking(&mvcc, key("r"), put(3), Durability::SyncWal);
    assert!(matches!(refused, Err(WalError::Closed)), "{refused:?}");
    assert_eq!(mvcc.write_point(), 2, "a refused call must not begin an MVCC write");
    assert_eq!(mvcc.read_point(), 2);
    let (found, _) = read_server(dir.path(), "rs1");
    assert_eq!(found.len(), 2);
}
}

both_pipelines! {
/// A sync that never completes: `append_sync_blocking` ends in `SyncTimeout` after
/// `sync_timeout`, reported in `synced` together with the append, whose MVCC entry the caller
/// then completes (the region's read point does not stall).
fn append_sync_times_out_and_returns_the_append(p) {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let env = RealEnv::builder(dir.path()).faults(plan.clone()).build().unwrap();
    let cfg = Config { pipeline: p, sync_timeout: Duration::from_millis(300), ..Config::default() };
    let wal = Arc::new(Wal::open_blocking(env, cfg, Arc::new(NoopListener)).unwrap());
    plan.set_sync_latency(Duration::from_secs(3600));
    let mvcc = Arc::new(Mvcc::new(0));
    let r = within(Duration::from_secs(30), "append_sync with a stuck sync", {
        let (wal, mvcc) = (wal.clone(), mvcc.clone());
        move || wal.append_sync_blocking(&mvcc, key("r"), put(1), Durability::SyncWal).unwrap()
    });
    assert!(matches!(r.synced, Err(WalError::SyncTimeout { .. })), "{:?}", r.synced);
    assert_eq!(r.appended.seqid, 1);
    mvcc.complete(r.appended.write_entry);
    assert_eq!(mvcc.read_point(), 1);
}
}

both_pipelines! {
/// Rule 4 for `append_sync`: a caller that drops the future while its sync is stuck (a cancelled
/// request) does not leave the region's MVCC read point waiting for the entry forever: the
/// dropped call completes it.
fn dropped_append_sync_completes_its_mvcc_entry(p) {
    use std::future::Future;
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let env = RealEnv::builder(dir.path()).faults(plan.clone()).build().unwrap();
    let cfg = Config { pipeline: p, sync_timeout: Duration::from_secs(600), ..Config::default() };
    let wal = Wal::open_blocking(env, cfg, Arc::new(NoopListener)).unwrap();
    plan.set_sync_latency(Duration::from_secs(3600));
    let mvcc = Mvcc::new(0);
    let mut call = Box::pin(wal.append_sync(&mvcc, key("r"), put(1), Durability::SyncWal));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..20 {
        assert!(call.as_mut().poll(&mut cx).is_pending(), "the sync is stuck, so the call cannot finish");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(mvcc.write_point(), 1, "the append began its MVCC write");
    assert_eq!(mvcc.read_point(), 0, "and it is not complete while the call waits");
    drop(call);
    assert_eq!(mvcc.read_point(), 1, "the dropped call completed the entry");
}
}
