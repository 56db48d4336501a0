//! Log splitting on real disk, mirroring HBase's `TestWALSplit` (spec §8.9). Each test names
//! the HBase test it mirrors. WAL files are written byte by byte, as HBase's test writes them
//! with raw writers, so every count below is exact.
#![cfg(not(any(madsim, hwal_loom)))]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::recovery::*;
use common::within;
use hwal::env::{block_on, BoxFuture};
use hwal::format::RecoveryMode;
use hwal::recovery::{
    split_server, FlushedSeqids, LastFlushed, NoFlushedSeqids, SplitConfig, SplitError, WalDisposition,
};
use hwal::region::layout;
use hwal::wal::entry::{Cell, FlushAction};
use hwal::wal::naming;
use hwal::{Entry, RegionName, WalEdit};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

const RS: &str = "rs1";
const REGIONS: &[&str] = &["bbb", "ccc"];
const WRITERS: u64 = 10;
const ENTRIES: u64 = 10;

fn skip_errors() -> SplitConfig {
    SplitConfig { skip_errors: true, ..SplitConfig::default() }
}

fn wal_rel(n: u64) -> String {
    format!("{}/{}", naming::server_dir(RS), naming::wal_file_name(RS, n))
}

fn of_region<'a>(entries: impl IntoIterator<Item = &'a Entry>, region: &str) -> Vec<Entry> {
    entries.into_iter().filter(|e| e.key.region.as_str() == region).cloned().collect()
}

fn garbage(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| (rng.next_u32() as u8) | 1).collect()
}

/// Mirrors `testSplit`, `testSplitLogFileMultipleRegions` and `testSplitPreservesEdits`: ten
/// WALs with ten entries per region each split into exactly 100 entries per region, identical
/// to the input and in WAL order, one output per region per WAL named by its max seqid.
#[test]
fn split_preserves_every_edit_per_region() {
    let root = Root::new();
    let wals = generate_wals(&root, RS, WRITERS, REGIONS, ENTRIES);
    let report = root.split(RS, &SplitConfig::default()).unwrap();
    for r in REGIONS {
        let want = of_region(wals.iter().flatten(), r);
        assert_eq!(want.len(), (WRITERS * ENTRIES) as usize);
        assert_eq!(root.recovered(r), want, "region {r}: output differs from input");
        let names = root.edits_files(r);
        assert_eq!(names.len(), WRITERS as usize, "one output per WAL: {names:?}");
        assert!(names.contains(&layout::seqid_name(WRITERS * ENTRIES)), "{names:?}");
    }
    let per_region: Vec<u64> = report.edits_per_region().values().copied().collect();
    assert_eq!(per_region, vec![100, 100]);
    assert!(report.wals.iter().all(|w| w.damage.is_none() && w.entries_read == 2 * ENTRIES));
}

/// Mirrors `testLogsGetArchivedAfterSplit` and `testLogDirectoryShouldBeDeletedAfterSuccessfulSplit`:
/// every split WAL is in `oldWALs/`, and neither the server's directory nor its `-splitting`
/// form is left.
#[test]
fn split_archives_wals_and_removes_the_directory() {
    let root = Root::new();
    generate_wals(&root, RS, WRITERS, REGIONS, ENTRIES);
    let report = root.split(RS, &SplitConfig::default()).unwrap();
    let want: Vec<String> = (1..=WRITERS).map(|n| naming::wal_file_name(RS, n)).collect();
    let mut archived = root.list(naming::OLD_WALS_DIR);
    archived.sort_by_key(|n| naming::parse_file_number(RS, n));
    assert_eq!(archived, want);
    assert!(report.wals.iter().all(|w| matches!(w.disposition, WalDisposition::Archived { .. })));
    assert!(!root.exists(&naming::server_dir(RS)));
    assert!(!root.exists(&naming::splitting_dir(RS)));
    assert!(root.list(naming::CORRUPT_DIR).is_empty());
}

/// Mirrors `testEOFisIgnored`: a WAL cut 40 bytes short (a crash mid-write) yields the 9
/// entries before the cut; truncation is not corruption, nothing goes to `corrupt/`.
#[test]
fn truncated_wal_is_not_corrupt() {
    let root = Root::new();
    let entries: Vec<Entry> = (1..=10).map(|s| entry("bbb", s, "f")).collect();
    let p = root.write_wal(RS, 1, &entries, false);
    let b = read(&p);
    std::fs::write(&p, &b[..b.len() - 40]).unwrap();
    let report = root.split(RS, &SplitConfig::default()).unwrap();
    assert_eq!(root.recovered("bbb"), entries[..9].to_vec());
    assert!(report.wals[0].damage.as_deref().unwrap().starts_with("torn tail"));
    assert!(root.list(naming::CORRUPT_DIR).is_empty());
    assert_eq!(root.list(naming::OLD_WALS_DIR).len(), 1);
}

/// Mirrors `testCorruptWALTrailer`: a closed WAL missing the last 4 bytes (its end magic)
/// still yields all 10 entries and is not corrupt.
#[test]
fn cut_trailer_magic_keeps_every_entry() {
    let root = Root::new();
    let entries: Vec<Entry> = (1..=10).map(|s| entry("bbb", s, "f")).collect();
    let p = root.write_wal(RS, 1, &entries, true);
    let b = read(&p);
    std::fs::write(&p, &b[..b.len() - 4]).unwrap();
    root.split(RS, &SplitConfig::default()).unwrap();
    assert_eq!(root.recovered("bbb"), entries);
    assert!(root.list(naming::CORRUPT_DIR).is_empty());
}

/// Mirrors `testTralingGarbageCorruptionFileSkipErrorsPasses`: garbage after a WAL's last
/// entry, with skip-errors, loses nothing: every entry is recovered and the damaged file is
/// moved to `corrupt/`.
#[test]
fn trailing_garbage_with_skip_errors_keeps_everything() {
    let root = Root::new();
    let wals = generate_wals(&root, RS, WRITERS, REGIONS, ENTRIES);
    let p = root.path(&wal_rel(5));
    let mut b = read(&p);
    b.extend(garbage(40, 5));
    std::fs::write(&p, &b).unwrap();
    let report = root.split(RS, &skip_errors()).unwrap();
    for r in REGIONS {
        assert_eq!(root.recovered(r), of_region(wals.iter().flatten(), r));
    }
    assert_eq!(root.list(naming::CORRUPT_DIR), vec![naming::wal_file_name(RS, 5)]);
    assert_eq!(report.corrupt_files().len(), 1);
}

/// Mirrors `testFirstLineCorruptionLogFileSkipErrorsPasses` and
/// `testSplitLogFileFirstLineCorruptionLog`: a WAL whose first byte is garbage yields nothing,
/// goes to `corrupt/`, and every other WAL is split completely.
#[test]
fn first_byte_corruption_with_skip_errors_skips_that_file() {
    let root = Root::new();
    let wals = generate_wals(&root, RS, WRITERS, REGIONS, ENTRIES);
    let p = root.path(&wal_rel(5));
    let mut b = read(&p);
    b[0] ^= 0x55;
    std::fs::write(&p, &b).unwrap();
    root.split(RS, &skip_errors()).unwrap();
    for r in REGIONS {
        let want: Vec<Entry> =
            wals.iter().enumerate().filter(|(i, _)| *i != 4).flat_map(|(_, w)| of_region(w, r)).collect();
        assert_eq!(root.recovered(r), want);
        assert_eq!(want.len(), 90);
    }
    assert_eq!(root.list(naming::CORRUPT_DIR), vec![naming::wal_file_name(RS, 5)]);
}

/// Mirrors `testMiddleGarbageCorruptionSkipErrorsReadsHalfOfFile`: garbage in the middle of a
/// WAL, with skip-errors, still yields exactly the entries before the garbage.
#[test]
fn middle_garbage_with_skip_errors_reads_the_first_half() {
    let root = Root::new();
    let wals = generate_wals(&root, RS, WRITERS, REGIONS, ENTRIES);
    let offsets = frame_offsets(RS, 5, &wals[4]);
    let half = offsets.len() / 2;
    let p = root.path(&wal_rel(5));
    let mut b = read(&p);
    b[offsets[half]..offsets[half] + 30].copy_from_slice(&garbage(30, 7));
    std::fs::write(&p, &b).unwrap();
    root.split(RS, &skip_errors()).unwrap();
    for r in REGIONS {
        let mut want = Vec::new();
        for (i, w) in wals.iter().enumerate() {
            let usable = if i == 4 { &w[..half] } else { &w[..] };
            want.extend(of_region(usable, r));
        }
        assert_eq!(root.recovered(r), want);
    }
    assert_eq!(root.list(naming::CORRUPT_DIR), vec![naming::wal_file_name(RS, 5)]);
}

/// Damages WAL `n` at its start, middle or end.
fn damage(root: &Root, n: u64, entries: &[Entry], at: &str) {
    let p = root.path(&wal_rel(n));
    let mut b = read(&p);
    match at {
        "start" => b[1] ^= 0xff,
        "middle" => {
            let o = frame_offsets(RS, n, entries)[entries.len() / 2];
            b[o + 5] ^= 0xff;
        }
        _ => b.extend(garbage(20, n)),
    }
    std::fs::write(&p, &b).unwrap();
}

/// Mirrors `testCorruptedFileGetsArchivedIfSkipErrors`: WALs damaged at their start, middle and
/// end all end up in `corrupt/` with skip-errors; the rest in `oldWALs/`.
#[test]
fn damaged_wals_are_moved_to_corrupt_with_skip_errors() {
    let root = Root::new();
    let wals = generate_wals(&root, RS, WRITERS, REGIONS, ENTRIES);
    for (n, at) in [(2, "start"), (5, "middle"), (9, "end")] {
        damage(&root, n, &wals[n as usize - 1], at);
    }
    root.split(RS, &skip_errors()).unwrap();
    let corrupt: Vec<String> = [2, 5, 9].iter().map(|n| naming::wal_file_name(RS, *n)).collect();
    assert_eq!(root.list(naming::CORRUPT_DIR), corrupt);
    assert_eq!(root.list(naming::OLD_WALS_DIR).len(), (WRITERS - 3) as usize);
}

/// Mirrors `testTrailingGarbageCorruptionLogFileSkipErrorsFalseThrows` and
/// `testCorruptedLogFilesSkipErrorsFalseDoesNotTouchLogs`: without skip-errors a damaged WAL
/// fails the split with an error naming the file and offset; nothing is finalized, no `.temp`
/// is left, and every WAL is still in the (fenced) WAL directory. Running the split again with
/// skip-errors resumes from that directory.
#[test]
fn corruption_without_skip_errors_fails_and_touches_nothing() {
    let root = Root::new();
    let wals = generate_wals(&root, RS, WRITERS, REGIONS, ENTRIES);
    let p = root.path(&wal_rel(5));
    let clean_len = read(&p).len();
    damage(&root, 5, &wals[4], "end");
    let err = root.split(RS, &SplitConfig::default()).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("{}/{}", naming::splitting_dir(RS), naming::wal_file_name(RS, 5))), "{msg}");
    assert!(msg.contains(&format!("offset {clean_len}")), "{msg}");
    assert_eq!(root.list(&naming::splitting_dir(RS)).len(), WRITERS as usize, "every WAL stays");
    assert!(root.list(naming::OLD_WALS_DIR).is_empty() && root.list(naming::CORRUPT_DIR).is_empty());
    for r in REGIONS {
        assert!(root.edits_files(r).is_empty(), "{r}: {:?}", root.edits_files(r));
    }
    let again = root.split(RS, &skip_errors()).unwrap();
    assert_eq!(again.wals.len(), WRITERS as usize);
    assert_eq!(root.recovered("bbb"), of_region(wals.iter().flatten(), "bbb"));
}

/// Mirrors `testEmptyLogFiles` and `testEmptyOpenLogFiles`: zero-length WALs (closed or still
/// open), a preallocated all-zero WAL and a WAL with only its header are skipped as empty, not
/// corrupt; every entry of the other WALs is recovered.
#[test]
fn empty_wals_are_skipped_not_corrupt() {
    let root = Root::new();
    let wals = generate_wals(&root, RS, 3, REGIONS, ENTRIES);
    std::fs::write(root.path(&wal_rel(4)), b"").unwrap();
    std::fs::write(root.path(&wal_rel(5)), vec![0u8; 4096]).unwrap();
    root.write_wal(RS, 6, &[], false);
    std::fs::write(root.path(&wal_rel(7)), b"").unwrap();
    let report = root.split(RS, &SplitConfig::default()).unwrap();
    for r in REGIONS {
        assert_eq!(root.recovered(r), of_region(wals.iter().flatten(), r));
    }
    assert_eq!(root.list(naming::OLD_WALS_DIR).len(), 7);
    assert!(root.list(naming::CORRUPT_DIR).is_empty());
    assert_eq!(report.wals.iter().filter(|w| w.entries_read == 0).count(), 4);
}

/// Mirrors `testSplitLogFileEmpty`: splitting only an empty WAL creates no table directory and
/// archives the file.
#[test]
fn empty_wal_creates_no_region_directory() {
    let root = Root::new();
    std::fs::create_dir_all(root.path(&naming::server_dir(RS))).unwrap();
    std::fs::write(root.path(&wal_rel(1)), b"").unwrap();
    root.split(RS, &SplitConfig::default()).unwrap();
    assert!(!root.exists(layout::DATA_DIR));
    assert_eq!(root.list(naming::OLD_WALS_DIR), vec![naming::wal_file_name(RS, 1)]);
}

/// Mirrors `testSplitLeavesCompactionEventsEdits`: 10 edits, 10 region-event markers and one
/// compaction marker (21 entries) split into the 10 edits plus the compaction marker (11).
#[test]
fn split_keeps_compaction_markers() {
    let root = Root::new();
    let mut entries = Vec::new();
    for i in 0..10 {
        entries.push(entry("bbb", 2 * i + 1, "f"));
        entries.push(region_event("bbb", 2 * i + 2));
    }
    entries.push(marker("bbb", 21, WalEdit::compaction_marker(b"f", 0)));
    root.write_wal(RS, 1, &entries, true);
    root.split(RS, &SplitConfig::default()).unwrap();
    let got = root.recovered("bbb");
    assert_eq!(got.len(), 11);
    assert_eq!(got.last().unwrap(), entries.last().unwrap());
}

/// Mirrors `testSplitRemovesRegionEventsEdits` (10 edits + 100 region-event markers → the 10
/// edits) and `testSplitRemovesReplicationMarkerEdits` (flush and replication markers alone →
/// no output at all).
#[test]
fn split_drops_region_event_flush_and_replication_markers() {
    let root = Root::new();
    let mut entries = Vec::new();
    let mut seqid = 0;
    for i in 0..110 {
        seqid += 1;
        entries.push(if i % 11 == 0 { entry("bbb", seqid, "f") } else { region_event("bbb", seqid) });
    }
    for i in 0..5 {
        entries.push(marker("ccc", i + 1, WalEdit::flush_marker(FlushAction::Commit, i, 0)));
        entries.push(marker("ccc", i + 10, WalEdit::replication_marker(0)));
    }
    root.write_wal(RS, 1, &entries, true);
    let report = root.split(RS, &SplitConfig::default()).unwrap();
    assert_eq!(root.recovered("bbb"), of_region(entries.iter().filter(|e| !e.edit.is_meta()), "bbb"));
    assert_eq!(root.recovered("bbb").len(), 10);
    assert!(!root.exists(&layout::region_dir(TABLE, "ccc")), "markers alone create no output");
    assert_eq!(report.wals[0].skipped_markers, 110);
}

/// Mirrors `testEmptyWALEdit` (HBASE-27644): an entry without cells does not stop the split
/// (11 entries → 10 recovered).
#[test]
fn empty_edit_does_not_stop_the_split() {
    let root = Root::new();
    let mut entries: Vec<Entry> = (1..=10).map(|s| entry("bbb", s, "f")).collect();
    let mut empty = entry("bbb", 11, "f");
    empty.edit = WalEdit::default();
    entries.insert(5, empty);
    for (i, e) in entries.iter_mut().enumerate() {
        e.key.seqid = i as u64 + 1;
    }
    root.write_wal(RS, 1, &entries, true);
    let report = root.split(RS, &SplitConfig::default()).unwrap();
    assert_eq!(root.recovered("bbb").len(), 10);
    assert_eq!(report.wals[0].skipped_empty, 1);
}

/// Mirrors `testThreading` / `testThreadingSlowWriterSmallBuffer`: a 1 KiB buffer, three writer
/// tasks and slow output syncs (back-pressure on every few entries) still split eight
/// interleaved regions completely, each in its original order, without hanging.
#[test]
fn small_buffer_and_slow_writers_keep_order_without_hanging() {
    let root = Root::new();
    let regions: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
    let refs: Vec<&str> = regions.iter().map(String::as_str).collect();
    let wals = generate_wals(&root, RS, 2, &refs, 60);
    root.plan.set_sync_latency(Duration::from_millis(2));
    let cfg = SplitConfig { split_buffer_bytes: 1024, split_writer_threads: 3, ..SplitConfig::default() };
    let env = root.env.clone();
    let report = within(Duration::from_secs(60), "split with a tiny buffer", move || {
        block_on(split_server(&env, RS, &cfg, &NoFlushedSeqids))
    })
    .unwrap();
    for r in &refs {
        let got = root.recovered(r);
        assert_eq!(got, of_region(wals.iter().flatten(), r), "region {r}");
        assert_eq!(got.len(), 120);
    }
    assert!(root.plan.syncs() > 16, "the writers synced chunk by chunk: {}", root.plan.syncs());
    assert_eq!(report.outputs.len(), 16);
}

/// Mirrors `testIOEOnOutputThread` and `testSplitWillFailIfWritingToRegionFails`: an output
/// writer whose append (and, in a second run, whose sync) fails makes the split fail with that
/// error instead of hanging; nothing is finalized and the WALs stay put.
#[test]
fn output_writer_failure_surfaces_without_hanging() {
    for fail in ["append", "hflush"] {
        let root = Root::new();
        generate_wals(&root, RS, 3, REGIONS, ENTRIES);
        if fail == "append" {
            root.plan.fail_next_appends(1);
        } else {
            root.plan.fail_next_syncs(1);
        }
        let env = root.env.clone();
        let cfg = SplitConfig { split_buffer_bytes: 1024, ..SplitConfig::default() };
        let err = within(Duration::from_secs(30), "split with a failing writer", move || {
            block_on(split_server(&env, RS, &cfg, &NoFlushedSeqids))
        })
        .unwrap_err();
        assert!(err.to_string().contains(&format!("injected {fail} failure")), "{err}");
        assert!(!err.is_corruption());
        assert_eq!(root.list(&naming::splitting_dir(RS)).len(), 3);
        for r in REGIONS {
            assert!(root.edits_files(r).is_empty(), "{fail}: {:?}", root.edits_files(r));
        }
    }
}

/// A flushed-seqid source that says what a test wants.
struct Fixed(BTreeMap<String, LastFlushed>);

impl FlushedSeqids for Fixed {
    fn last_flushed<'a>(&'a self, _: &'a str, r: &'a RegionName) -> BoxFuture<'a, Result<LastFlushed, SplitError>> {
        let v = self.0.get(r.as_str()).cloned().unwrap_or(LastFlushed::Unknown);
        Box::pin(async move { Ok(v) })
    }
}

/// Mirrors `testSplitDeletedRegion` / `testSplitLogFileDeletedRegionDir`: edits of a region the
/// flushed-seqid source reports deleted are dropped and its directory is not created.
#[test]
fn deleted_region_is_skipped_and_not_recreated() {
    let root = Root::new();
    let wals = generate_wals(&root, RS, 2, REGIONS, ENTRIES);
    let source = Fixed([("ccc".to_string(), LastFlushed::RegionDeleted)].into_iter().collect());
    let report = root.split_with(RS, &SplitConfig::default(), &source).unwrap();
    assert_eq!(root.recovered("bbb"), of_region(wals.iter().flatten(), "bbb"));
    assert!(!root.exists(&layout::region_dir(TABLE, "ccc")));
    assert_eq!(report.wals.iter().map(|w| w.skipped_flushed).sum::<u64>(), 2 * ENTRIES);
}

/// The split-time filter (spec §6.3, HBase `filterCellByStore`): entries at or below the
/// region's least flushed store are dropped, and cells of a family whose store already holds
/// the entry's seqid; an entry left without cells is dropped too.
#[test]
fn flushed_entries_and_cells_are_filtered() {
    let root = Root::new();
    let mut entries = Vec::new();
    for s in 1..=60 {
        let mut e = entry("bbb", s, "f");
        e.edit.cells.push(Cell::put(b"row", b"g", b"q", s, b"v"));
        if s % 2 == 0 {
            e.edit.cells.remove(1); // only family f
        }
        entries.push(e);
    }
    root.write_wal(RS, 1, &entries, true);
    let stores = [(b"f".to_vec(), 40), (b"g".to_vec(), 20)].into_iter().collect();
    let source = Fixed([("bbb".to_string(), LastFlushed::Stores(stores))].into_iter().collect());
    root.split_with(RS, &SplitConfig::default(), &source).unwrap();
    let got = root.recovered("bbb");
    let mut want = Vec::new();
    for mut e in entries.into_iter().filter(|e| e.key.seqid > 20) {
        let s = e.key.seqid;
        e.edit.cells.retain(|c| if c.family == b"f" { s > 40 } else { s > 20 });
        if !e.edit.cells.is_empty() {
            want.push(e);
        }
    }
    assert_eq!(got, want);
    assert_eq!(got.first().unwrap().key.seqid, 21);
}

/// Recovery modes on the split's reader: under `AbsoluteConsistency` a torn tail fails the split
/// (naming file and offset) or, with skip-errors, sends the WAL to `corrupt/` keeping the entries
/// before the tear; under `TolerateAnyCorruption` mid-file corruption ends the file like a tear,
/// the WAL is archived normally and the damage is reported.
#[test]
fn recovery_modes_decide_what_damage_means() {
    let entries: Vec<Entry> = (1..=10).map(|s| entry("bbb", s, "f")).collect();
    let torn = |root: &Root| {
        let p = root.write_wal(RS, 1, &entries, false);
        let b = read(&p);
        std::fs::write(&p, &b[..b.len() - 5]).unwrap();
    };
    let absolute = SplitConfig { recovery_mode: RecoveryMode::AbsoluteConsistency, ..SplitConfig::default() };
    let root = Root::new();
    torn(&root);
    let err = root.split(RS, &absolute).unwrap_err();
    assert!(err.is_corruption() && err.to_string().contains("torn tail at offset"), "{err}");
    let again = root.split(RS, &SplitConfig { skip_errors: true, ..absolute }).unwrap();
    assert_eq!(root.recovered("bbb"), entries[..9].to_vec());
    assert_eq!(again.corrupt_files().len(), 1);

    let root = Root::new();
    let p = root.write_wal(RS, 1, &entries, true);
    let mut b = read(&p);
    b[frame_offsets(RS, 1, &entries)[6] + 20] ^= 0x10;
    std::fs::write(&p, &b).unwrap();
    let any = SplitConfig { recovery_mode: RecoveryMode::TolerateAnyCorruption, ..SplitConfig::default() };
    let report = root.split(RS, &any).unwrap();
    assert_eq!(root.recovered("bbb"), entries[..6].to_vec());
    assert!(report.wals[0].damage.as_deref().unwrap().contains("corrupt at offset"));
    assert_eq!(root.list(naming::OLD_WALS_DIR).len(), 1);
}

/// The split refuses what it cannot do with clear errors: no WAL directory, an invalid
/// configuration, and an entry whose region name would escape the data directory.
#[test]
fn split_refuses_with_clear_errors() {
    let root = Root::new();
    let e = root.split("nobody", &SplitConfig::default()).unwrap_err();
    assert!(e.to_string().contains("WALs/nobody"), "{e}");
    let bad = SplitConfig { split_writer_threads: 0, ..SplitConfig::default() };
    assert!(root.split(RS, &bad).unwrap_err().to_string().contains("split_writer_threads"));
    let mut evil = entry("bbb", 1, "f");
    evil.key.region = RegionName::new("../../etc");
    root.write_wal(RS, 1, &[entry("bbb", 1, "f"), evil], true);
    let e = root.split(RS, &SplitConfig::default()).unwrap_err();
    assert!(e.is_corruption() && e.to_string().contains("offset"), "{e}");
}

/// Mirrors `testTwoWorkerSplittingSameWAL`: two splitters (different worker names, so different
/// temporary outputs) split the same server's WALs at once; both succeed (or the late one finds
/// nothing left to split), and every region ends up with exactly one output per WAL holding
/// exactly that WAL's entries, with no `.temp` left behind.
#[test]
fn two_splitters_of_the_same_wals_agree() {
    for round in 0..3 {
        let root = Root::new();
        let wals = generate_wals(&root, RS, WRITERS, REGIONS, ENTRIES);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let workers: Vec<_> = ["w1", "w2"]
            .into_iter()
            .map(|w| {
                let (env, barrier) = (root.env.clone(), barrier.clone());
                let cfg = SplitConfig { worker_name: w.into(), ..SplitConfig::default() };
                std::thread::spawn(move || {
                    barrier.wait();
                    block_on(split_server(&env, RS, &cfg, &NoFlushedSeqids))
                })
            })
            .collect();
        let results: Vec<_> = workers.into_iter().map(|h| h.join().unwrap()).collect();
        for r in &results {
            assert!(r.is_ok() || matches!(r, Err(SplitError::NoWalDir { .. })), "round {round}: {r:?}");
        }
        assert!(results.iter().any(Result::is_ok));
        for r in REGIONS {
            assert_eq!(root.edits_files(r).len(), WRITERS as usize, "round {round}: {:?}", root.edits_files(r));
            assert_eq!(root.recovered(r), of_region(wals.iter().flatten(), r), "round {round}");
        }
        assert_eq!(root.list(naming::OLD_WALS_DIR).len(), WRITERS as usize);
        assert!(root.list(naming::WALS_DIR).is_empty());
    }
}
