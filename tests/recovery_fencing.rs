//! Fencing a zombie server on real disk (with [`LeaseFs`](hwal::env::LeaseFs) giving local files
//! HDFS-style leases). Mirrors HBase `TestWALSplit.testLogRollAfterSplitStart`,
//! `testLogCannotBeWrittenOnceParsed` and `TestWALFencing` (spec §5.1, §8.9).
#![cfg(not(any(madsim, hwal_loom)))]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::recovery::*;
use common::within;
use hwal::recovery::SplitConfig;
use hwal::wal::listener::NoopListener;
use hwal::wal::naming;
use hwal::{Config, Durability, Mvcc, RegionName, Wal, WalEdit, WalError, WalKey};

const ZOMBIE: &str = "zombie";

fn put(wal: &Wal, mvcc: &Mvcc, i: u64) -> Result<u64, WalError> {
    let key = WalKey::new(RegionName::new("z"), TABLE, i);
    let row = format!("row-{i}");
    let a = wal.append_blocking(mvcc, key, WalEdit::put(row.as_bytes(), b"f", b"q", i, b"v"))?;
    let r = wal.sync_blocking(a.txid, Durability::SyncWal);
    mvcc.complete(a.write_entry);
    r.map(|_| a.seqid)
}

/// A clear fencing error: `Fenced`, or (classic pipeline, before its roller gave up) the failed
/// write naming the recovered lease, or the edit lost with the writer that failed on it.
fn fenced(e: &WalError) -> bool {
    matches!(e, WalError::Fenced(_))
        || e.to_string().contains("fenced for log splitting")
        || e.to_string().contains("on a writer that failed")
}

both_pipelines! {
    /// A server whose WALs were split after it was declared dead keeps running: its roll fails
    /// with `Fenced` (the directory is gone), its next edit fails at once (its lease on the
    /// current file was recovered), and once its roller finds it cannot create a file the WAL
    /// closes itself and every call fails with `Fenced` — never acknowledged, never
    /// written anywhere: no directory or file appears under `WALs/`, the archived file is
    /// unchanged, and the recovered edits hold exactly the edits acknowledged before the split.
    fn zombie_after_split_gets_fenced_errors_and_leaves_no_file(pipeline) {
        let root = Root::new();
        let cfg = Config { server: ZOMBIE.into(), pipeline, sync_timeout: Duration::from_secs(60), ..Config::default() };
        let wal = Arc::new(Wal::open_blocking(root.env.clone(), cfg, Arc::new(NoopListener)).unwrap());
        let mvcc = Arc::new(Mvcc::new(0));
        let acked: Vec<u64> = (0..20).map(|i| put(&wal, &mvcc, i).unwrap()).collect();

        let report = root.split(ZOMBIE, &SplitConfig::default()).unwrap();
        assert_eq!(report.wals.len(), 1);
        let archived = root.list(naming::OLD_WALS_DIR);
        let archived_len = std::fs::metadata(root.path(&format!("oldWALs/{}", archived[0]))).unwrap().len();

        let roll = wal.roll_writer_blocking(true).unwrap_err();
        assert!(matches!(roll, WalError::Fenced(_)), "roll after the split: {roll}");
        assert!(roll.to_string().contains(&naming::server_dir(ZOMBIE)), "{roll}");

        let started = Instant::now();
        let (w, m) = (wal.clone(), mvcc.clone());
        let late = within(Duration::from_secs(30), "the zombie's edit", move || put(&w, &m, 100));
        late.expect_err("a fenced server must not acknowledge an edit");
        assert!(started.elapsed() < Duration::from_secs(5), "failed at once, not at a timeout: {:?}", started.elapsed());
        // Once the roller found it cannot create a file, the WAL closed itself: `Fenced` for good.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let again = put(&wal, &mvcc, 101).expect_err("a fenced server must not acknowledge an edit");
            if matches!(again, WalError::Fenced(_)) {
                break;
            }
            assert!(Instant::now() < deadline, "the fenced WAL never closed itself");
            std::thread::sleep(Duration::from_millis(50));
        }

        assert!(root.list(naming::WALS_DIR).is_empty(), "the zombie created {:?}", root.list(naming::WALS_DIR));
        let now_len = std::fs::metadata(root.path(&format!("oldWALs/{}", archived[0]))).unwrap().len();
        assert_eq!(now_len, archived_len, "the zombie wrote into a file that was already split");
        let recovered: Vec<u64> = root.recovered("z").iter().map(|e| e.key.seqid).collect();
        assert_eq!(recovered, acked);
        assert!(root.leases.leased_paths().is_empty(), "{:?}", root.leases.leased_paths());
    }
}

/// A split that recovers the lease while the zombie keeps writing concurrently: every edit the
/// zombie had acknowledged when the split finished is in the recovered edits, and every edit it
/// acknowledged at all was acknowledged before its lease was recovered (HBase
/// `testLogCannotBeWrittenOnceParsed`: recovered count == acked count).
#[test]
fn concurrent_zombie_writes_are_either_recovered_or_refused() {
    let root = Root::new();
    let cfg = Config { server: ZOMBIE.into(), sync_timeout: Duration::from_secs(60), ..Config::default() };
    let wal = Arc::new(Wal::open_blocking(root.env.clone(), cfg, Arc::new(NoopListener)).unwrap());
    let mvcc = Arc::new(Mvcc::new(0));
    let (w, m) = (wal.clone(), mvcc.clone());
    let writer = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for i in 0.. {
            match put(&w, &m, i) {
                Ok(s) => acked.push(s),
                Err(e) => return (acked, e),
            }
        }
        unreachable!()
    });
    std::thread::sleep(Duration::from_millis(150));
    let report = root.split(ZOMBIE, &SplitConfig::default()).unwrap();
    let (acked, err) = writer.join().unwrap();
    assert!(fenced(&err), "{err}");
    assert!(acked.len() > 10, "the zombie wrote too little to mean anything: {}", acked.len());
    let recovered: Vec<u64> = root.recovered("z").iter().map(|e| e.key.seqid).collect();
    for s in &acked {
        assert!(recovered.contains(s), "acked seqid {s} was lost (recovered up to {:?})", recovered.last());
    }
    assert!(recovered.len() <= acked.len() + 1, "at most the one in-flight edit may be extra");
    assert!(root.list(naming::WALS_DIR).is_empty());
    assert_eq!(report.wals.len(), 1);
}
