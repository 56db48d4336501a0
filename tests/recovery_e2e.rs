//! Crash recovery end to end on real disk, through the CLI: `hwal load` writes several regions
//! and is killed with SIGKILL; `hwal split` splits its WALs; `hwal replay` opens every region.
//! Every acknowledged edit (`ACK <region> <seqid>`) must be readable from its region, no cell may
//! appear that was never appended to the WAL, and seqids must continue above the replayed ones.
//! Runs for both pipelines.
#![cfg(not(any(madsim, hwal_loom)))]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Load;
use hwal::env::{block_on, Env, RealEnv};
use hwal::format::{read_log, RecoveryMode};
use hwal::region::{Region, RegionOptions};
use hwal::wal::listener::NoopListener;
use hwal::wal::naming;
use hwal::{Config, Durability, RegionName, Wal};

const REGIONS: usize = 3;

fn hwal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwal")).args(args).output().expect("run hwal")
}

/// Starts `hwal load`, kills it once it acknowledged at least `min_acks` edits (plus a little),
/// returns the ACKs read.
fn load_then_kill(root: &Path, pipeline: &str, min_acks: usize) -> Vec<(String, u64)> {
    let regions = REGIONS.to_string();
    let load = Load::start(&[
        "--dir",
        root.to_str().unwrap(),
        "--threads",
        "6",
        "--regions",
        &regions,
        "--server",
        "rs1",
        "--pipeline",
        pipeline,
        "--roll-size",
        "65536",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while load.acks_so_far() < min_acks && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(37));
    let acks = load.kill();
    assert!(acks.len() >= min_acks, "the load acknowledged only {} edits", acks.len());
    acks
}

/// (region, seqid) → row of every entry in the archived WALs of `rs1`.
fn appended(root: &Path) -> BTreeMap<(String, u64), String> {
    let mut m = BTreeMap::new();
    let dir = root.join(naming::OLD_WALS_DIR);
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let read =
            match read_log(&p.display().to_string(), &std::fs::read(&p).unwrap(), RecoveryMode::TolerateTailCorruption)
            {
                Ok(r) => r,
                Err(e) if e.is_truncation() => continue,
                Err(e) => panic!("{e}"),
            };
        for r in read.entries {
            let row = String::from_utf8(r.entry.edit.cells[0].row.clone()).unwrap();
            m.insert((r.entry.key.region.to_string(), r.entry.key.seqid), row);
        }
    }
    m
}

/// `hwal replay --json` of `region`: (seqid, row) of every cell, and the open seqid it reported.
fn replay(root: &Path, region: &str) -> (Vec<(u64, String)>, u64) {
    let out = hwal(&["replay", "--dir", root.to_str().unwrap(), "--region", region, "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hwal replay {region}: {stderr}");
    let mut cells = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["region"], region);
        assert_eq!((v["family"].as_str(), v["qualifier"].as_str()), (Some("f"), Some("q")));
        cells.push((v["seqid"].as_u64().unwrap(), v["row"].as_str().unwrap().to_string()));
    }
    let open_seqid = stderr
        .split_whitespace()
        .find_map(|w| w.strip_prefix("open_seqid="))
        .expect("replay reports its open seqid")
        .parse()
        .unwrap();
    (cells, open_seqid)
}

fn check_recovery(pipeline: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let acks = load_then_kill(root, pipeline, 600);

    let split = hwal(&["split", "--dir", root.to_str().unwrap(), "--server", "rs1"]);
    let report = String::from_utf8_lossy(&split.stdout).into_owned();
    assert!(split.status.success(), "hwal split: {}", String::from_utf8_lossy(&split.stderr));
    assert!(report.contains("split server=rs1") && report.contains("corrupt=0"), "{report}");
    assert!(!root.join(naming::server_dir("rs1")).exists() && !root.join(naming::splitting_dir("rs1")).exists());
    let dump = hwal(&["dump", root.join("data/load/r0/recovered.edits").to_str().unwrap(), "--json"]);
    assert!(dump.status.success(), "hwal dump reads recovered edits: {}", String::from_utf8_lossy(&dump.stderr));
    let r0_edits = report.lines().find(|l| l.starts_with("region table=load region=r0 ")).unwrap();
    let dumped = String::from_utf8(dump.stdout).unwrap().lines().count();
    assert!(r0_edits.ends_with(&format!(" edits={dumped}")), "{r0_edits} vs {dumped} dumped");

    let wal = appended(root);
    let mut max_replayed = BTreeMap::new();
    for r in 0..REGIONS {
        let region = format!("r{r}");
        let (cells, open_seqid) = replay(root, &region);
        let held: BTreeSet<u64> = cells.iter().map(|c| c.0).collect();
        assert_eq!(held.len(), cells.len(), "{region}: a seqid appears twice");
        for (seqid, row) in &cells {
            assert_eq!(
                wal.get(&(region.clone(), *seqid)),
                Some(row),
                "{region}: seqid {seqid} row {row} was never appended"
            );
        }
        let acked: Vec<u64> = acks.iter().filter(|a| a.0 == region).map(|a| a.1).collect();
        let lost: Vec<&u64> = acked.iter().filter(|s| !held.contains(s)).collect();
        assert!(
            lost.is_empty(),
            "{pipeline} {region}: {} of {} acked edits lost, e.g. {:?}",
            lost.len(),
            acked.len(),
            &lost[..lost.len().min(5)]
        );
        let max = held.iter().max().copied().unwrap_or(0);
        assert!(open_seqid > max, "{region}: open seqid {open_seqid} not above the replayed {max}");
        let (again, reopen_seqid) = replay(root, &region);
        assert_eq!(again, cells, "{region}: a second open (from store files) shows the same cells");
        assert!(reopen_seqid > open_seqid);
        max_replayed.insert(region, max);
    }
    // The library on the same directory: new edits continue above everything replayed.
    let env: Arc<dyn Env> = RealEnv::builder(root).preallocate(0).build().unwrap();
    let cfg = Config { server: "rs2".into(), ..Config::default() };
    let wal = Arc::new(Wal::open_blocking(env.clone(), cfg, Arc::new(NoopListener)).unwrap());
    for (name, max) in max_replayed {
        let region =
            Region::open_blocking(env.clone(), wal.clone(), "load", &RegionName::new(&name), RegionOptions::default())
                .unwrap();
        let seqid = block_on(region.put(b"after", b"f", b"q", b"v", Durability::SyncWal)).unwrap();
        assert!(seqid > max, "{name}: new seqid {seqid} not above the replayed {max}");
        block_on(region.close()).unwrap();
    }
    wal.close_blocking().unwrap();
}

both_pipelines! {
    /// SIGKILL a multi-region load, split, replay every region: nothing acknowledged is lost,
    /// nothing unappended appears, seqids continue above the replayed ones.
    fn sigkill_split_replay_recovers_every_ack(pipeline) {
        check_recovery(pipeline.name());
    }
}

/// The CLI contract of `hwal split` and `hwal replay`: a damaged WAL fails the split with exit
/// code 2 and an error naming the file and offset, other failures exit 1, `--skip-errors` splits
/// around the damage, and `replay` prints `<region> <row> <family> <qualifier> <seqid>` lines.
#[test]
fn split_and_replay_cli_contract() {
    use common::recovery::{entry, Root};
    let root = Root::new();
    let d = root.dir.path().to_str().unwrap().to_string();
    let entries: Vec<_> = (1..=5).map(|s| entry("r9", s, "f")).collect();
    let p = root.write_wal("rs1", 1, &entries, true);
    let mut b = std::fs::read(&p).unwrap();
    let clean = b.len();
    b.extend_from_slice(b"garbage after the end magic");
    std::fs::write(&p, &b).unwrap();
    let out = hwal(&["split", "--dir", &d, "--server", "rs1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("WALs/rs1-splitting/rs1.1") && err.contains(&format!("offset {clean}")), "{err}");
    let out = hwal(&["split", "--dir", &d, "--server", "nobody"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let out = hwal(&["split", "--dir", &d, "--server", "rs1", "--skip-errors"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        report.contains("corrupt=corrupt/rs1.1") && report.contains("region table=t region=r9 edits=5"),
        "{report}"
    );
    let out = hwal(&["replay", "--dir", &d, "--region", "r9"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], "r9 row-00001 f q 1");
}
