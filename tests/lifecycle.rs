//! Log lifecycle on real disk: rolling (size, period, request, slow syncs, low replication),
//! archiving, forced flushes, cleaning, durability levels and failure handling. Each test names
//! the HBase test it mirrors (spec §8.1, §8.4, §8.6, §8.7, §8.11).
#![cfg(not(any(madsim, hwal_loom)))]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{check_order, read_server};
use hwal::env::{block_on, FaultPlan, RealEnv};
use hwal::wal::accounting::FlushRequest;
use hwal::{Config, Durability, Mvcc, RegionName, RollReason, Wal, WalEdit, WalError, WalEvent, WalKey, WalListener};

#[derive(Default)]
struct Recorder(Mutex<Vec<WalEvent>>);

impl WalListener for Recorder {
    fn on_event(&self, e: &WalEvent) {
        self.0.lock().unwrap().push(e.clone());
    }
}

impl Recorder {
    fn count(&self, f: impl Fn(&WalEvent) -> bool) -> usize {
        self.0.lock().unwrap().iter().filter(|e| f(e)).count()
    }
    fn roll_requests(&self, reason: RollReason) -> usize {
        self.count(|e| matches!(e, WalEvent::RollRequested { reason: r } if *r == reason))
    }
}

struct Setup {
    dir: tempfile::TempDir,
    wal: Arc<Wal>,
    plan: Arc<FaultPlan>,
    events: Arc<Recorder>,
}

fn setup(cfg: Config) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let env = RealEnv::builder(dir.path()).faults(plan.clone()).build().unwrap();
    let events = Arc::new(Recorder::default());
    let wal = Arc::new(Wal::open_blocking(env, cfg, events.clone()).unwrap());
    Setup { dir, wal, plan, events }
}

fn r(name: &str) -> RegionName {
    RegionName::new(name)
}

/// Appends one put to `region` and syncs it; returns its seqid.
fn put(wal: &Wal, mvcc: &Mvcc, region: &str, families: &[&str]) -> u64 {
    let cells = families.iter().map(|f| hwal::Cell::put(b"row", f.as_bytes(), b"q", 1, b"v")).collect();
    let a = wal.append_blocking(mvcc, WalKey::new(r(region), "t", 0), WalEdit::new(cells)).unwrap();
    wal.sync_blocking(a.txid, Durability::SyncWal).unwrap();
    mvcc.complete(a.write_entry);
    a.seqid
}

/// The WAL side of HBase's flush protocol (§4.4): a partial flush completes just below the
/// lowest seqid left unflushed in the region, a full one at the flush's own sequence id.
fn flush(wal: &Wal, region: &str, families: &[&str], mvcc: &Mvcc) {
    let fams: Vec<Vec<u8>> = families.iter().map(|f| f.as_bytes().to_vec()).collect();
    let left = wal.start_cache_flush(&r(region), &fams);
    let flushed = left.map_or(mvcc.write_point(), |lowest| lowest - 1);
    wal.complete_cache_flush(&r(region), flushed);
}

fn regions(req: &Option<FlushRequest>) -> Vec<String> {
    req.iter().flat_map(|m| m.keys().map(|k| k.to_string())).collect()
}

/// Waits (bounded) until `cond` holds; a hang fails the test.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not reached within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// HBase `AbstractTestFSWAL.testFindMemStoresEligibleForFlush` (maxlogs = 1).
#[test]
fn find_memstores_eligible_for_flush() {
    let s = setup(Config { max_logs: 1, ..Config::default() });
    let (m1, m2) = (Mvcc::new(0), Mvcc::new(0));
    put(&s.wal, &m1, "r1", &["cf"]);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap();
    assert_eq!(o.regions_to_flush, None, "one rolled file is not above max_logs");
    put(&s.wal, &m1, "r1", &["cf"]);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap();
    assert_eq!(regions(&o.regions_to_flush), vec!["r1"], "the oldest file's region must flush");
    put(&s.wal, &m2, "r2", &["cf"]);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap();
    assert_eq!(regions(&o.regions_to_flush), vec!["r1"], "still only the oldest file's region");
    flush(&s.wal, "r1", &["cf"], &m1);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap();
    assert_eq!(o.archived.len(), 3, "r1's two files and the empty file rolled away now: {o:?}");
    let left = block_on(s.wal.rolled_files());
    assert_eq!(left.len(), 1, "r2's file stays until r2 flushes: {left:?}");
    flush(&s.wal, "r2", &["cf"], &m2);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap();
    assert_eq!(o.archived.len(), 2, "r2's file and the empty one rolled away: {o:?}");
    assert!(block_on(s.wal.rolled_files()).is_empty());
    // An in-progress flush keeps the file (flushing ids block too).
    put(&s.wal, &m1, "r1", &["cf"]);
    s.wal.start_cache_flush(&r("r1"), &[b"cf".to_vec()]);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap();
    assert!(o.archived.is_empty(), "a flush in progress blocks archiving");
    s.wal.complete_cache_flush(&r("r1"), m1.write_point());
    // Per family: after flushing cf1 of a 3-family region, 2 families are returned.
    let m3 = Mvcc::new(0);
    put(&s.wal, &m3, "r3", &["cf1", "cf2", "cf3"]);
    flush(&s.wal, "r3", &["cf1"], &m3);
    s.wal.roll_writer_blocking(true).unwrap();
    put(&s.wal, &m3, "r3", &["cf1"]);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap();
    let req = o.regions_to_flush.expect("above max_logs");
    assert_eq!(req.get(&r("r3")).map(Vec::len), Some(2), "{req:?}");
    s.wal.close_blocking().unwrap();
}

/// HBase `AbstractTestLogRolling.testLogRolling`: size rolls happen under load; once every
/// region flushed, a roll archives every rolled file.
#[test]
fn size_rolls_then_flush_archives_everything() {
    let s = setup(Config { roll_size_bytes: 4 * 1024, ..Config::default() });
    let mvccs: Vec<Mvcc> = (0..3).map(|_| Mvcc::new(0)).collect();
    let start = Instant::now();
    let mut i = 0;
    while s.wal.stats().rolls < 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "size rolls: not reached within 30 s");
        put(&s.wal, &mvccs[i % 3], &format!("r{}", i % 3), &["cf"]);
        i += 1;
    }
    assert!(s.events.roll_requests(RollReason::Size) >= 1);
    for (i, m) in mvccs.iter().enumerate() {
        flush(&s.wal, &format!("r{i}"), &["cf"], m);
    }
    s.wal.roll_writer_blocking(true).unwrap();
    assert!(block_on(s.wal.rolled_files()).is_empty(), "every rolled file archived after all regions flushed");
    assert!(s.wal.stats().archived >= 3);
    s.wal.close_blocking().unwrap();
}

/// HBase `testCompactionRecordDoesntBlockRolling` (HBASE-8597): markers never hold a file.
#[test]
fn compaction_markers_do_not_block_archiving() {
    let s = setup(Config::default());
    let (m1, m2) = (Mvcc::new(0), Mvcc::new(0));
    let a =
        s.wal.append_marker_blocking(&m1, WalKey::new(r("r1"), "t", 0), WalEdit::compaction_marker(b"cf", 0)).unwrap();
    m1.complete(a.write_entry);
    put(&s.wal, &m2, "r2", &["cf"]);
    flush(&s.wal, "r2", &["cf"], &m2);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap();
    assert_eq!(o.archived.len(), 1, "the file held only a marker of r1 and flushed r2 data: {o:?}");
    s.wal.close_blocking().unwrap();
}

/// HBase `TestFSHLogProvider.testWALArchiving`/`testLogCleaning`: only files whose every
/// region flushed are archived; live ones stay.
#[test]
fn only_fully_flushed_files_are_archived() {
    let s = setup(Config::default());
    let (m1, m2) = (Mvcc::new(0), Mvcc::new(0));
    put(&s.wal, &m1, "r1", &["cf"]);
    s.wal.roll_writer_blocking(true).unwrap(); // file A: r1
    put(&s.wal, &m2, "r2", &["cf"]);
    put(&s.wal, &m1, "r1", &["cf"]);
    s.wal.roll_writer_blocking(true).unwrap(); // file B: r1, r2
    put(&s.wal, &m2, "r2", &["cf"]);
    flush(&s.wal, "r1", &["cf"], &m1);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap(); // file C: r2
    assert_eq!(o.archived.len(), 1, "only file A (r1 only) goes: {o:?}");
    flush(&s.wal, "r2", &["cf"], &m2);
    let o = s.wal.roll_writer_blocking(true).unwrap().unwrap();
    assert_eq!(o.archived.len(), 3, "B, C and the empty file rolled away now go: {o:?}");
    let old: Vec<_> = std::fs::read_dir(s.dir.path().join("oldWALs")).unwrap().collect();
    assert_eq!(old.len(), 4);
    s.wal.close_blocking().unwrap();
}

/// HBase `TestLogRolling.testSlowSyncLogRolling`: no roll at normal latency; a roll after
/// enough slow syncs within the window; a roll after one very slow sync.
#[test]
fn slow_syncs_request_rolls() {
    let cfg = Config {
        slow_sync: Duration::from_millis(20),
        roll_on_sync: Duration::from_millis(500),
        slow_sync_roll_threshold: 5,
        slow_sync_roll_interval: Duration::from_millis(300),
        ..Config::default()
    };
    let s = setup(cfg);
    let m = Mvcc::new(0);
    for _ in 0..10 {
        put(&s.wal, &m, "r", &["cf"]);
    }
    assert_eq!(s.events.roll_requests(RollReason::SlowSync), 0, "normal latency: no slow-sync roll");
    s.plan.set_sync_latency(Duration::from_millis(40));
    let start = Instant::now();
    while s.events.roll_requests(RollReason::SlowSync) == 0 && start.elapsed() < Duration::from_secs(20) {
        put(&s.wal, &m, "r", &["cf"]);
    }
    assert!(s.events.roll_requests(RollReason::SlowSync) >= 1, "many slow syncs in a window request a roll");
    assert!(s.wal.stats().slow_syncs >= 5);
    s.plan.set_sync_latency(Duration::ZERO);
    eventually("the slow-sync roll", || s.wal.stats().rolls >= 1);
    let before = s.events.roll_requests(RollReason::SlowSync);
    s.plan.slow_next_syncs(1, Duration::from_millis(700));
    put(&s.wal, &m, "r", &["cf"]);
    assert!(s.events.roll_requests(RollReason::SlowSync) > before, "one very slow sync requests a roll");
    s.wal.close_blocking().unwrap();
}

/// HBase `TestLogRolling.testLogRollOnDatanodeDeath`: low replication rolls, up to the
/// consecutive limit, then the check is disabled until replication recovers.
#[test]
fn low_replication_rolls_until_the_limit() {
    let cfg = Config {
        min_tolerable_replication: 2,
        low_replication_roll_limit: 3,
        low_replication_check_interval: Duration::from_millis(10),
        roller_wake_frequency: Duration::from_millis(10),
        ..Config::default()
    };
    let s = setup(cfg);
    let m = Mvcc::new(0);
    s.plan.set_replication(Some(3));
    put(&s.wal, &m, "r", &["cf"]);
    s.plan.set_replication(Some(1));
    eventually("the check disables itself", || {
        s.events.count(|e| matches!(e, WalEvent::LowReplication { check_enabled: false, .. })) == 1
    });
    assert_eq!(s.events.roll_requests(RollReason::LowReplication), 3, "exactly the limit of consecutive rolls");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.events.roll_requests(RollReason::LowReplication), 3, "disabled: no more rolls");
    s.plan.set_replication(Some(3));
    for _ in 0..3 {
        put(&s.wal, &m, "r", &["cf"]);
    }
    std::thread::sleep(Duration::from_millis(100)); // let the roller see the recovery
    s.plan.set_replication(Some(1));
    eventually("re-enabled after recovery", || s.events.roll_requests(RollReason::LowReplication) > 3);
    s.wal.close_blocking().unwrap();
}

/// HBase 1.x `checkLogRoll`: the classic pipeline checks replication after every successful
/// sync, so a pipeline that lost a data node is rolled at the next sync even when the roller's
/// periodic check is an hour away; the scheduled pipeline (3.x) checks on the period only.
#[test]
fn classic_checks_low_replication_after_each_sync() {
    for pipeline in [hwal::Pipeline::Classic, hwal::Pipeline::Scheduled] {
        let cfg = Config {
            pipeline,
            min_tolerable_replication: 2,
            low_replication_check_interval: Duration::from_secs(3600),
            ..Config::default()
        };
        let s = setup(cfg);
        let m = Mvcc::new(0);
        s.plan.set_replication(Some(1));
        put(&s.wal, &m, "r", &["cf"]);
        if pipeline == hwal::Pipeline::Classic {
            eventually("a low-replication roll request after the sync", || {
                s.events.roll_requests(RollReason::LowReplication) >= 1
            });
        } else {
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(s.events.roll_requests(RollReason::LowReplication), 0, "3.x checks on the period only");
        }
        s.wal.close_blocking().unwrap();
    }
}

/// HBase `TestLogRollPeriod.testNoEdits`/`testWithEdits`: the WAL rolls on its period.
#[test]
fn period_rolls_with_and_without_edits() {
    let cfg = Config {
        roll_period: Duration::from_millis(50),
        roller_wake_frequency: Duration::from_millis(10),
        ..Config::default()
    };
    let s = setup(cfg);
    eventually("rolls without edits", || s.wal.stats().rolls >= 3);
    let m = Mvcc::new(0);
    let before = s.wal.stats().rolls;
    let start = Instant::now();
    while s.wal.stats().rolls < before + 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "no periodic roll with edits");
        put(&s.wal, &m, "r", &["cf"]);
    }
    s.wal.close_blocking().unwrap();
}

/// HBase `TestLogRollingNoCluster.testContendedLogRolling`: many threads append, sync and roll
/// concurrently over a slow-ish disk; nobody fails and every acknowledged edit reads back.
#[test]
fn contended_log_rolling() {
    let s = setup(Config::default());
    s.plan.set_sync_latency(Duration::from_millis(1));
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let mvcc = Arc::new(Mvcc::new(0));
    let threads: Vec<_> = (0..40)
        .map(|t| {
            let (wal, mvcc, acked) = (s.wal.clone(), mvcc.clone(), acked.clone());
            std::thread::spawn(move || {
                for i in 0..40 {
                    let a = wal
                        .append_blocking(&mvcc, WalKey::new(r("r"), "t", 0), WalEdit::put(b"k", b"cf", b"q", i, b"v"))
                        .unwrap();
                    wal.sync_blocking(a.txid, Durability::SyncWal).unwrap();
                    acked.lock().unwrap().insert(("r".to_string(), a.seqid));
                    mvcc.complete(a.write_entry);
                    if i % 10 == 9 {
                        wal.roll_writer_blocking(t % 2 == 0).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    s.wal.close_blocking().unwrap();
    let (found, _) = read_server(s.dir.path(), "rs1");
    let present = check_order(&found);
    assert!(acked.lock().unwrap().iter().all(|a| present.contains(a)));
    assert!(s.wal.stats().rolls >= 40, "rolls happened: {:?}", s.wal.stats());
}

/// HBase `WALDurabilityTestBase.testWALDurability`: SYNC_WAL hflushes, FSYNC_WAL hsyncs;
/// with `default_hsync` the default is hsync but SYNC_WAL still hflushes.
#[test]
fn durability_levels_reach_the_writer() {
    for default_hsync in [false, true] {
        let s = setup(Config { default_hsync, ..Config::default() });
        let m = Mvcc::new(0);
        let step = |d: Durability| {
            let (syncs, hsyncs) = (s.plan.syncs(), s.plan.hsyncs());
            let a = s
                .wal
                .append_blocking(&m, WalKey::new(r("r"), "t", 0), WalEdit::put(b"k", b"f", b"q", 1, b"v"))
                .unwrap();
            s.wal.sync_blocking(a.txid, d).unwrap();
            m.complete(a.write_entry);
            (s.plan.syncs() - syncs, s.plan.hsyncs() - hsyncs)
        };
        let (n, h) = step(Durability::SyncWal);
        assert!(n >= 1 && h == 0, "SYNC_WAL hflushes (default_hsync={default_hsync}): {n} syncs, {h} hsyncs");
        let (n, h) = step(Durability::FsyncWal);
        assert!(n >= 1 && h >= 1, "FSYNC_WAL hsyncs");
        let (_, h) = step(Durability::UseDefault);
        assert_eq!(h >= 1, default_hsync, "USE_DEFAULT follows the default");
        s.wal.close_blocking().unwrap();
    }
}

/// HBase `TestFailedAppendAndSync` (3.x): a failed append breaks the writer and requests a
/// roll; the edit is re-written to the new file and the caller succeeds.
#[test]
fn failed_append_rolls_and_rewrites() {
    let s = setup(Config::default());
    let m = Mvcc::new(0);
    put(&s.wal, &m, "r", &["cf"]);
    s.plan.fail_next_appends(1);
    let seqid = put(&s.wal, &m, "r", &["cf"]);
    assert!(s.events.roll_requests(RollReason::Error) >= 1);
    assert!(s.wal.stats().rolls >= 1);
    s.wal.close_blocking().unwrap();
    let (found, _) = read_server(s.dir.path(), "rs1");
    assert!(found.iter().any(|f| f.entry.key.seqid == seqid), "the failed append was re-written");
}

/// HBase `testFailedToCreateWALIfParentRenamed` / `TestLogRollAbort.testLogRollAfterSplitStart`:
/// once the WAL directory is renamed for splitting, rolling fails clearly (fencing).
#[test]
fn roll_after_fencing_fails_clearly() {
    let s = setup(Config::default());
    let m = Mvcc::new(0);
    put(&s.wal, &m, "r", &["cf"]);
    let wals = s.dir.path().join("WALs");
    std::fs::rename(wals.join("rs1"), wals.join("rs1-splitting")).unwrap();
    match s.wal.roll_writer_blocking(true) {
        Err(WalError::Fenced(msg)) => assert!(msg.contains("WALs/rs1"), "{msg}"),
        other => panic!("expected Fenced, got {other:?}"),
    }
    assert!(!wals.join("rs1").exists(), "the fenced directory must not be re-created");
}

/// HBase `testUnflushedSeqIdTrackingWithAsyncWal` (HBASE-23181): a region close marker drops
/// the region from accounting even after ASYNC_WAL edits.
#[test]
fn region_close_clears_accounting() {
    let s = setup(Config::default());
    let m = Mvcc::new(0);
    let a = s.wal.append_blocking(&m, WalKey::new(r("r"), "t", 0), WalEdit::put(b"k", b"cf", b"q", 1, b"v")).unwrap();
    m.complete(a.write_entry);
    let close = WalEdit::region_event_marker(hwal::wal::entry::RegionEvent::Close, m.write_point(), 0);
    let c = s.wal.append_marker_blocking(&m, WalKey::new(r("r"), "t", 0), close).unwrap();
    s.wal.sync_blocking(c.txid, Durability::SyncWal).unwrap();
    m.complete(c.write_entry);
    assert_eq!(s.wal.lowest_unflushed_seqid(&r("r")), None);
    s.wal.close_blocking().unwrap();
}

/// HBase `TestLogsCleaner.testLogCleaning`: expired files go; held, young and future-dated ones
/// stay; names that are not WAL names are deleted directly.
#[test]
fn cleaner_ttl_holds_and_invalid_names() {
    let s = setup(Config { cleaner_ttl: Duration::from_secs(600), ..Config::default() });
    let old = s.dir.path().join("oldWALs");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let make = |name: &str, age_ms: i64| {
        let p = old.join(name);
        std::fs::write(&p, b"x").unwrap();
        let t = std::time::UNIX_EPOCH + Duration::from_millis((now_ms as i64 - age_ms) as u64);
        std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_modified(t).unwrap();
    };
    for i in 0..5 {
        make(&format!("rs9.{i}"), 3_600_000);
    }
    make("rs9.100", 1_000);
    make("rs9.200", -3_600_000);
    make("not-a-wal", 0);
    make("rs9.7x", 0);
    s.wal.cleaner().hold("rs9.3");
    s.wal.cleaner().hold("rs9.4");
    let report = block_on(s.wal.cleaner().run_once()).unwrap();
    let mut left: Vec<String> =
        std::fs::read_dir(&old).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, vec!["rs9.100", "rs9.200", "rs9.3", "rs9.4"], "{report:?}");
    s.wal.cleaner().release("rs9.3");
    block_on(s.wal.cleaner().run_once()).unwrap();
    assert!(!old.join("rs9.3").exists());
    s.wal.close_blocking().unwrap();
}

/// Broken writers, slow syncs and low replication at once under load: no acknowledged edit is
/// lost, rolls happen, nothing hangs.
#[test]
fn faults_under_load_lose_nothing() {
    let cfg = Config {
        min_tolerable_replication: 2,
        low_replication_check_interval: Duration::from_millis(20),
        roller_wake_frequency: Duration::from_millis(20),
        slow_sync: Duration::from_millis(5),
        roll_size_bytes: 64 * 1024,
        ..Config::default()
    };
    let s = setup(cfg);
    s.plan.set_sticky(true);
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let mvccs: Arc<Vec<Mvcc>> = Arc::new((0..4).map(|_| Mvcc::new(0)).collect());
    let chaos = {
        let plan = s.plan.clone();
        std::thread::spawn(move || {
            for i in 0..20u64 {
                std::thread::sleep(Duration::from_millis(15));
                match i % 4 {
                    0 => plan.fail_next_syncs(1),
                    1 => plan.slow_next_syncs(2, Duration::from_millis(10)),
                    2 => plan.set_replication(Some(1)),
                    _ => plan.set_replication(Some(3)),
                }
            }
            plan.fail_next_syncs(0);
        })
    };
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (wal, mvccs, acked) = (s.wal.clone(), mvccs.clone(), acked.clone());
            std::thread::spawn(move || {
                for i in 0..150u64 {
                    let region = format!("r{}", t % 4);
                    let m = &mvccs[t % 4];
                    let a = wal
                        .append_blocking(
                            m,
                            WalKey::new(r(&region), "t", 0),
                            WalEdit::put(b"k", b"cf", b"q", i, &[7; 64]),
                        )
                        .unwrap();
                    let d = if i % 2 == 0 { Durability::SyncWal } else { Durability::FsyncWal };
                    wal.sync_blocking(a.txid, d).unwrap();
                    acked.lock().unwrap().insert((region, a.seqid));
                    m.complete(a.write_entry);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    chaos.join().unwrap();
    let stats = s.wal.stats();
    // The chaos may have broken the newest writer's stream after the last sync: then close
    // cannot write the trailer and says so. Nothing acknowledged depends on it.
    match s.wal.close_blocking() {
        Ok(()) | Err(WalError::Io { .. }) => {}
        Err(e) => panic!("unexpected close error {e}"),
    }
    let (found, _) = read_server(s.dir.path(), "rs1");
    let present = check_order(&found);
    let lost: Vec<_> = acked.lock().unwrap().iter().filter(|a| !present.contains(*a)).cloned().collect();
    assert!(lost.is_empty(), "lost {lost:?}");
    assert!(stats.rolls >= 1 && stats.broken >= 1, "{stats:?}");
}
