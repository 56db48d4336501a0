//! Regions, flushes and replay on real disk, mirroring HBase's `AbstractTestWALReplay`
//! (`TestWALReplay`, spec §8.10) and the replay half of `TestWALSplit`. Each test names the
//! HBase test it mirrors. A "crash" drops a region and its WAL without closing them; the split
//! that follows fences the directory and recovers the leases, as a master would.
#![cfg(not(any(madsim, hwal_loom)))]

mod common;

use std::sync::Arc;

use common::recovery::*;
use hwal::env::block_on;
use hwal::recovery::{ReplayError, SplitConfig};
use hwal::region::{layout, Region, RegionError, RegionOptions, StoredCell};
use hwal::wal::entry::{Cell, CellKind, FlushAction, MarkerKind};
use hwal::wal::listener::NoopListener;
use hwal::{Config, Durability, Entry, Mvcc, Pipeline, RegionName, Wal, WalEdit, WalKey};

const FAMILIES: &[&str] = &["a", "b", "c"];

fn wal(root: &Root, server: &str) -> Arc<Wal> {
    wal_with(root, server, Pipeline::Scheduled)
}

fn wal_with(root: &Root, server: &str, pipeline: Pipeline) -> Arc<Wal> {
    let cfg = Config { server: server.into(), pipeline, ..Config::default() };
    Arc::new(Wal::open_blocking(root.env.clone(), cfg, Arc::new(NoopListener)).unwrap())
}

fn open(root: &Root, wal: &Arc<Wal>, region: &str, options: RegionOptions) -> Result<Region, RegionError> {
    block_on(Region::open(root.env.clone(), wal.clone(), TABLE, &RegionName::new(region), options))
}

fn fixed() -> RegionOptions {
    RegionOptions::with_families(FAMILIES)
}

/// Puts `n` rows `<prefix>-<i>` into each of `families`, one mutation per cell; returns the
/// seqids acknowledged.
fn put_rows(region: &Region, families: &[&str], prefix: &str, n: usize) -> Vec<u64> {
    let mut acked = Vec::new();
    for i in 0..n {
        for f in families {
            let row = format!("{prefix}-{i:03}");
            acked
                .push(block_on(region.put(row.as_bytes(), f.as_bytes(), b"q", b"value", Durability::SyncWal)).unwrap());
        }
    }
    acked
}

fn seqids(cells: &[StoredCell]) -> Vec<u64> {
    let mut v: Vec<u64> = cells.iter().map(|c| c.seqid).collect();
    v.sort();
    v
}

/// Drops a region and its WAL without closing either (the process "dies"; its files stay as
/// they are, with everything acknowledged hflushed).
fn crash(region: Region, wal: Arc<Wal>) {
    drop(region);
    drop(wal);
}

fn split(root: &Root, server: &str) {
    root.split(server, &SplitConfig::default()).unwrap();
}

/// Mirrors `test2727`: edits written straight into two WALs of one server, split in two rounds,
/// give two recovered-edits files; opening the region replays both, and its open seqid is
/// exactly the writer's write point + 1, above every replayed seqid.
#[test]
fn two_split_rounds_replay_and_open_above_the_write_point() {
    let root = Root::new();
    let mvcc = Mvcc::new(0);
    let mut written = Vec::new();
    for _round in 0..2 {
        let w = wal(&root, "rs1");
        for f in FAMILIES {
            for i in 0..100 {
                let row = format!("row-{}", written.len());
                let key = WalKey::new(RegionName::new("r"), TABLE, i);
                let a =
                    w.append_blocking(&mvcc, key, WalEdit::put(row.as_bytes(), f.as_bytes(), b"q", i, b"v")).unwrap();
                w.sync_blocking(a.txid, Durability::SyncWal).unwrap();
                written.push(a.seqid);
                mvcc.complete(a.write_entry);
            }
        }
        w.close_blocking().unwrap();
        split(&root, "rs1");
    }
    assert_eq!(root.edits_files("r").len(), 2, "{:?}", root.edits_files("r"));
    let region = open(&root, &wal(&root, "rs2"), "r", fixed()).unwrap();
    assert_eq!(region.open_seqid(), mvcc.write_point() + 1);
    assert_eq!(seqids(&region.scan()), written);
    assert_eq!(region.open_report().replay.replayed.len(), 2);
    let next = put_rows(&region, &["a"], "new", 1)[0];
    assert!(next > mvcc.write_point() + 1, "new edits continue above the open seqid");
}

/// Mirrors `testReplayEditsWrittenViaHRegion`: a region crashes without flushing, its WAL is
/// split, and the reopened region holds every acknowledged edit (replayed cells = families ×
/// rows) with an open seqid above them; a second crash after more edits doubles the rows.
#[test]
fn region_edits_survive_two_crashes() {
    let root = Root::new();
    let w1 = wal(&root, "rs1");
    let r1 = open(&root, &w1, "r", fixed()).unwrap();
    let mut acked = put_rows(&r1, FAMILIES, "one", 20);
    crash(r1, w1);
    split(&root, "rs1");
    let w2 = wal(&root, "rs2");
    let r2 = open(&root, &w2, "r", fixed()).unwrap();
    assert_eq!(r2.open_report().replay.cells_applied, 60);
    assert!(r2.open_seqid() > *acked.iter().max().unwrap());
    assert_eq!(seqids(&r2.scan()), acked);
    acked.extend(put_rows(&r2, FAMILIES, "two", 20));
    crash(r2, w2);
    split(&root, "rs2");
    let r3 = open(&root, &wal(&root, "rs3"), "r", fixed()).unwrap();
    assert_eq!(seqids(&r3.scan()), acked);
    assert_eq!(r3.scan().len(), 120);
    assert!(r3.open_seqid() > *acked.iter().max().unwrap());
}

/// Mirrors `testReplayEditsAfterPartialFlush`: after a flush, one family's store files are lost
/// (a flush that only half happened); the split keeps exactly that family's edits (the others
/// are at or below their stores' flush seqid) and the reopened region has every row again.
#[test]
fn partial_flush_is_repaired_by_replay() {
    let root = Root::new();
    let w1 = wal(&root, "rs1");
    let r1 = open(&root, &w1, "r", fixed()).unwrap();
    let acked = put_rows(&r1, FAMILIES, "row", 20);
    let flushed = block_on(r1.flush()).unwrap().unwrap();
    assert_eq!(flushed.files.len(), 3);
    crash(r1, w1);
    let b_dir = root.path(&layout::family_dir(TABLE, "r", b"b"));
    for f in std::fs::read_dir(&b_dir).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let report = root.split("rs1", &SplitConfig::default()).unwrap();
    let kept = root.recovered("r");
    assert_eq!(kept.len(), 20);
    assert!(kept.iter().all(|e| e.edit.cells.iter().all(|c| c.family == b"b")));
    assert_eq!(report.wals[0].skipped_flushed, 40);
    let r2 = open(&root, &wal(&root, "rs2"), "r", fixed()).unwrap();
    assert_eq!(seqids(&r2.scan()), acked);
}

/// Mirrors `testReplayEditsAfterAbortingFlush`: a flush whose store file cannot be created is
/// aborted (ABORT_FLUSH after START_FLUSH in the WAL, the WAL's accounting restored, the edits
/// still readable); more edits follow; after a crash every row is back.
#[test]
fn aborted_flush_loses_nothing() {
    let root = Root::new();
    let w1 = wal(&root, "rs1");
    let r1 = open(&root, &w1, "r", fixed()).unwrap();
    let mut acked = put_rows(&r1, FAMILIES, "one", 10);
    let lowest = w1.lowest_unflushed_seqid(&RegionName::new("r"));
    root.plan.fail_next_creates(1);
    let err = block_on(r1.flush()).unwrap_err();
    assert!(matches!(err, RegionError::FlushAborted { .. }), "{err}");
    assert!(err.to_string().contains("injected create failure"), "{err}");
    assert_eq!(w1.lowest_unflushed_seqid(&RegionName::new("r")), lowest, "accounting restored");
    assert_eq!(seqids(&r1.scan()), acked, "the snapshot went back to the memstore");
    acked.extend(put_rows(&r1, FAMILIES, "two", 10));
    let flush_markers: Vec<FlushAction> = common::read_server(root.dir.path(), "rs1")
        .0
        .iter()
        .filter(|f| f.entry.edit.marker_kind() == Some(MarkerKind::Flush))
        .map(|f| match f.entry.edit.cells[0].value[0] {
            0 => FlushAction::Start,
            1 => FlushAction::Commit,
            _ => FlushAction::Abort,
        })
        .collect();
    assert_eq!(flush_markers, vec![FlushAction::Start, FlushAction::Abort]);
    crash(r1, w1);
    split(&root, "rs1");
    let r2 = open(&root, &wal(&root, "rs2"), "r", fixed()).unwrap();
    assert_eq!(seqids(&r2.scan()), acked);
}

/// Mirrors `testDatalossWhenInputError` (HBASE-15252): a read error that is not an end of file
/// fails the open instead of silently dropping edits; the recovered edits stay, and the next
/// open replays all of them. A corrupt recovered-edits file fails the open naming file and
/// offset, unless replay skip-errors moves it aside (keeping the entries before the damage).
#[test]
fn replay_input_errors_fail_the_open_not_the_data() {
    let root = Root::new();
    let w1 = wal(&root, "rs1");
    let r1 = open(&root, &w1, "r", fixed()).unwrap();
    let acked = put_rows(&r1, &["a"], "row", 20);
    crash(r1, w1);
    split(&root, "rs1");
    let w2 = wal(&root, "rs2");
    root.plan.fail_next_reads(1);
    let err = open(&root, &w2, "r", fixed()).unwrap_err();
    let file = root.edits_files("r").into_iter().find(|n| layout::parse_recovered_edits(n).is_some()).unwrap();
    assert!(matches!(&err, RegionError::Replay { source: ReplayError::Io { .. }, .. }), "{err}");
    assert!(err.to_string().contains(&file) && err.to_string().contains("injected read failure"), "{err}");
    let region = open(&root, &w2, "r", fixed()).unwrap();
    assert_eq!(seqids(&region.scan()), acked);
    assert!(root.edits_files("r").iter().all(|n| layout::parse_recovered_edits(n).is_none()), "replayed files go");

    let root = Root::new();
    let entries: Vec<Entry> = (1..=10).map(|s| entry("r", s, "a")).collect();
    root.write_wal("rs1", 1, &entries, true);
    split(&root, "rs1");
    let name = root.edits_files("r").remove(0);
    let path = root.path(&format!("{}/{name}", layout::recovered_edits_dir(TABLE, "r")));
    let mut b = read(&path);
    let frames = hwal::format::read_log("x", &b, hwal::format::RecoveryMode::AbsoluteConsistency).unwrap();
    let at = frames.entries[4].offset as usize;
    b[at + 20] ^= 0x08;
    std::fs::write(&path, &b).unwrap();
    let w = wal(&root, "rs2");
    let err = open(&root, &w, "r", fixed()).unwrap_err();
    assert!(err.to_string().contains(&name) && err.to_string().contains(&format!("offset {at}")), "{err}");
    let opts = RegionOptions { replay_skip_errors: true, ..fixed() };
    let region = open(&root, &w, "r", opts).unwrap();
    assert_eq!(seqids(&region.scan()), (1..=4).collect::<Vec<u64>>());
    let aside = region.open_report().replay.moved_aside;
    assert_eq!(aside.len(), 1);
    assert!(root.edits_files("r").iter().any(|n| n.starts_with(&format!("{name}."))), "{:?}", root.edits_files("r"));
}

/// Mirrors `testNameConflictWhenSplit0` and `testNameConflictWhenSplit1` (HBASE-14949): two WALs
/// hold the same entry (a duplicate after a writer switch); split in either order, both outputs
/// are named `%019d(2)`, the one with more entries is kept, and the reopened region has both
/// edits with an open seqid above them.
#[test]
fn name_conflict_keeps_the_file_with_more_entries() {
    for first_the_full_one in [true, false] {
        let root = Root::new();
        let full = vec![entry("r", 1, "a"), entry("r", 2, "a")];
        let dup = vec![entry("r", 2, "a")];
        let order = if first_the_full_one { [&full, &dup] } else { [&dup, &full] };
        for (i, entries) in order.iter().enumerate() {
            root.write_wal("rs1", i as u64 + 1, entries, true);
            split(&root, "rs1");
        }
        assert_eq!(root.edits_files("r"), vec![layout::seqid_name(2)]);
        assert_eq!(root.recovered("r"), full);
        let region = open(&root, &wal(&root, "rs2"), "r", RegionOptions::default()).unwrap();
        assert_eq!(seqids(&region.scan()), vec![1, 2]);
        assert!(region.open_seqid() > 2);
    }
}

/// Mirrors `testConcurrentSplitLogAndReplayRecoverEdit` (HBASE-4862): a `.temp` output that a
/// split is still writing is never replayed by an open, and is left alone.
#[test]
fn temp_outputs_are_never_replayed() {
    let root = Root::new();
    let entries: Vec<Entry> = (1..=10).map(|s| entry("r", s, "a")).collect();
    root.write_wal("rs1", 1, &entries, true);
    split(&root, "rs1");
    let in_progress: Vec<Entry> = (11..=15).map(|s| entry("r", s, "a")).collect();
    let temp = layout::temp_edits_name(11, "rs1.2", "split");
    let temp_path = root.path(&format!("{}/{temp}", layout::recovered_edits_dir(TABLE, "r")));
    std::fs::write(&temp_path, wal_bytes("rs1", 2, &in_progress, false)).unwrap();
    let region = open(&root, &wal(&root, "rs2"), "r", RegionOptions::default()).unwrap();
    assert_eq!(seqids(&region.scan()), (1..=10).collect::<Vec<u64>>());
    assert!(temp_path.exists());
    assert!(region.open_seqid() == 11, "the temp's seqids are not counted either: {}", region.open_seqid());
}

/// Mirrors `testReplayEditsWrittenIntoWAL`: puts of two families, flush markers, an edit of a
/// family the region does not have and a DeleteFamily, written straight into the WAL; after the
/// split the region shows only the valid, undeleted edits and opens at the write point + 1.
#[test]
fn replay_applies_only_valid_edits_and_deletes() {
    let root = Root::new();
    let mvcc = Mvcc::new(0);
    let w = wal(&root, "rs1");
    let append = |edit: WalEdit, marker: bool| {
        let key = WalKey::new(RegionName::new("r"), TABLE, 0);
        let a = if marker { w.append_marker_blocking(&mvcc, key, edit) } else { w.append_blocking(&mvcc, key, edit) };
        let a = a.unwrap();
        w.sync_blocking(a.txid, Durability::SyncWal).unwrap();
        mvcc.complete(a.write_entry);
        a.seqid
    };
    let mut a_seqids = Vec::new();
    for i in 0..10u64 {
        let q = format!("q{i}");
        a_seqids.push(append(WalEdit::put(b"row", b"a", q.as_bytes(), 10 + i, b"v"), false));
        append(WalEdit::put(b"row", b"b", q.as_bytes(), 10 + i, b"v"), false);
    }
    append(WalEdit::flush_marker(FlushAction::Start, 5, 0), true);
    append(WalEdit::flush_marker(FlushAction::Commit, 5, 0), true);
    append(WalEdit::put(b"row", b"unknown", b"q", 30, b"v"), false);
    let delete_family =
        Cell { kind: CellKind::DeleteFamily, value: Vec::new(), ..Cell::put(b"row", b"b", b"", 100, b"") };
    append(WalEdit::new(vec![delete_family]), false);
    w.close_blocking().unwrap();
    split(&root, "rs1");
    let region = open(&root, &wal(&root, "rs2"), "r", RegionOptions::with_families(&["a", "b"])).unwrap();
    assert_eq!(seqids(&region.scan()), a_seqids);
    assert!(region.scan().iter().all(|c| c.cell.family == b"a"));
    assert!(region.scan_raw().iter().all(|c| c.cell.family != b"unknown"));
    assert_eq!(region.open_seqid() - 1, mvcc.write_point());
}

/// Mirrors `testReplayEditsAfterRegionMovedWithMultiCF`: rows written on one server are
/// replayed on a second, one row is deleted there and flushed, the second server crashes; on a
/// third server the deleted row stays deleted and everything else is there.
#[test]
fn deleted_row_stays_deleted_after_moves_and_crashes() {
    let root = Root::new();
    let w1 = wal(&root, "rs1");
    let r1 = open(&root, &w1, "r", fixed()).unwrap();
    put_rows(&r1, FAMILIES, "row", 5);
    crash(r1, w1);
    split(&root, "rs1");
    let w2 = wal(&root, "rs2");
    let r2 = open(&root, &w2, "r", fixed()).unwrap();
    for f in FAMILIES {
        block_on(r2.delete(b"row-002", f.as_bytes(), b"q", Durability::SyncWal)).unwrap();
    }
    block_on(r2.flush()).unwrap().unwrap();
    crash(r2, w2);
    split(&root, "rs2");
    let r3 = open(&root, &wal(&root, "rs3"), "r", fixed()).unwrap();
    assert!(r3.get(b"row-002").is_empty(), "{:?}", r3.get(b"row-002"));
    assert_eq!(r3.scan().len(), 12);
    assert_eq!(r3.get(b"row-001").len(), 3);
}

/// The flush protocol of spec §4.4: START_FLUSH then COMMIT_FLUSH carry the flush seqid, the
/// store files are named by it, the WAL's accounting forgets the flushed edits, and a partial
/// flush leaves the region's flushed seqid just below the oldest unflushed edit of the others.
#[test]
fn flush_writes_markers_store_files_and_completes_accounting() {
    let root = Root::new();
    let w = wal(&root, "rs1");
    let region = open(&root, &w, "r", fixed()).unwrap();
    let name = RegionName::new("r");
    put_rows(&region, &["a", "b"], "row", 5);
    assert!(w.lowest_unflushed_seqid(&name).is_some());
    let out = block_on(region.flush()).unwrap().unwrap();
    assert_eq!(out.flushed_seqid, out.flush_seqid);
    assert_eq!(w.lowest_unflushed_seqid(&name), None);
    assert_eq!(region.max_flushed_seqid(), out.flush_seqid);
    for f in ["a", "b"] {
        assert_eq!(root.list(&layout::family_dir(TABLE, "r", f.as_bytes())), vec![layout::seqid_name(out.flush_seqid)]);
    }
    let (found, _) = common::read_server(root.dir.path(), "rs1");
    let flushes: Vec<(u8, u64)> = found
        .iter()
        .filter(|f| f.entry.edit.marker_kind() == Some(MarkerKind::Flush))
        .map(|f| {
            let v = &f.entry.edit.cells[0].value;
            (v[0], u64::from_be_bytes(v[1..9].try_into().unwrap()))
        })
        .collect();
    assert_eq!(flushes, vec![(0, out.flush_seqid), (1, out.flush_seqid)]);
    let b_first = put_rows(&region, &["b"], "more", 1)[0];
    put_rows(&region, &["a"], "more", 2);
    let partial = block_on(region.flush_families(&[b"a".to_vec()])).unwrap().unwrap();
    assert_eq!(partial.flushed_seqid, b_first - 1);
    assert_eq!(w.lowest_unflushed_seqid(&name), Some(b_first));
    assert!(block_on(region.flush_families(&[b"a".to_vec()])).unwrap().is_none(), "nothing left in a");
    region.check_invariants();
}

/// A mutation whose WAL sync fails is refused, never applied, and its MVCC entry is completed
/// anyway, so the region's read point does not stall and later mutations are visible.
#[test]
fn failed_sync_is_not_applied_and_does_not_stall_the_read_point() {
    let root = Root::new();
    let w = wal_with(&root, "rs1", Pipeline::Classic);
    let region = open(&root, &w, "r", fixed()).unwrap();
    put_rows(&region, &["a"], "ok", 2);
    root.plan.fail_next_syncs(1);
    let err = block_on(region.put(b"bad", b"a", b"q", b"v", Durability::SyncWal)).unwrap_err();
    assert!(matches!(err, RegionError::Wal { .. }), "{err}");
    assert_eq!(region.mvcc().read_point(), region.mvcc().write_point(), "read point stalled");
    assert!(region.get(b"bad").is_empty());
    let later = put_rows(&region, &["a"], "later", 1)[0];
    assert_eq!(region.get(b"later-000")[0].seqid, later);
    let bad = block_on(region.put(b"x", b"nope", b"q", b"v", Durability::SyncWal)).unwrap_err();
    assert!(matches!(bad, RegionError::BadMutation { .. }), "{bad}");
}

/// Close flushes, writes a synced REGION_CLOSE marker (the WAL forgets the region) and a
/// `.seqid` file at the read point; reopening on the same WAL continues above it without any
/// recovered edits, and the only `.seqid` file left is the newest.
#[test]
fn close_and_reopen_continue_seqids() {
    let root = Root::new();
    let w = wal(&root, "rs1");
    let region = open(&root, &w, "r", RegionOptions::default()).unwrap();
    let acked = put_rows(&region, &["a", "b"], "row", 3);
    block_on(region.close()).unwrap();
    let read_point = region.mvcc().read_point();
    assert!(block_on(region.put(b"r", b"a", b"q", b"v", Durability::SyncWal)).is_err());
    assert_eq!(root.edits_files("r"), vec![layout::seqid_file_name(read_point)]);
    assert_eq!(w.lowest_unflushed_seqid(&RegionName::new("r")), None);
    let again = open(&root, &w, "r", RegionOptions::default()).unwrap();
    assert_eq!(again.open_seqid(), read_point + 1);
    assert_eq!(seqids(&again.scan()), acked);
    assert_eq!(root.edits_files("r"), vec![layout::seqid_file_name(read_point)]);
    let next = put_rows(&again, &["a"], "next", 1)[0];
    assert!(next > read_point + 1);
}
