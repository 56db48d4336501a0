//! Real crashes: `hwal load` is killed with SIGKILL at several seeded random moments; every edit
//! it acknowledged (`ACK <region> <seqid>` on stdout) must be in its WAL files, in per-region
//! order, and every file must read as a clean prefix (a torn or open tail, never corruption).
#![cfg(not(any(madsim, hwal_loom)))]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{check_order, read_server, Load};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Starts `hwal load` for `server` under `root`, kills it after `after`, returns its ACKs.
fn load_then_kill(root: &std::path::Path, server: &str, after: Duration, extra: &[&str]) -> Vec<(String, u64)> {
    let mut args = vec!["--dir", root.to_str().unwrap(), "--threads", "6", "--regions", "3", "--server", server];
    args.extend_from_slice(extra);
    let load = Load::start(&args);
    std::thread::sleep(after);
    load.kill()
}

fn verify_acks(root: &std::path::Path, server: &str, acks: &[(String, u64)]) {
    let (found, tails) = read_server(root, server);
    let present = check_order(&found);
    let missing: Vec<_> = acks.iter().filter(|a| !present.contains(*a)).collect();
    assert!(
        missing.is_empty(),
        "{server}: {} of {} acked edits missing, e.g. {:?}",
        missing.len(),
        acks.len(),
        &missing[..missing.len().min(5)]
    );
    let acked: HashSet<_> = acks.iter().cloned().collect();
    assert_eq!(acked.len(), acks.len(), "an edit was acknowledged twice");
    for (file, tail) in tails {
        assert!(!matches!(tail, hwal::format::TailState::Corrupt { .. }), "{file}: {tail:?}");
    }
}

/// Five kills at seeded random moments, each of a fresh server: nothing acknowledged is lost.
#[test]
fn sigkill_loses_no_acknowledged_edit() {
    let root = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let mut total = 0;
    for run in 0..5 {
        let server = format!("rs{run}");
        let after = Duration::from_millis(150 + rng.next_u64() % 600);
        let acks = load_then_kill(root.path(), &server, after, &[]);
        assert!(!acks.is_empty(), "run {run}: the load acknowledged nothing in {after:?}");
        verify_acks(root.path(), &server, &acks);
        total += acks.len();
    }
    assert!(total > 100, "too little load to mean anything: {total} acks");
}

/// The same with tiny roll sizes, so kills land during rolls too.
#[test]
fn sigkill_during_rolls_loses_nothing() {
    let root = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0xc0ffee);
    for run in 0..3 {
        let server = format!("roll{run}");
        let after = Duration::from_millis(200 + rng.next_u64() % 500);
        let acks = load_then_kill(root.path(), &server, after, &["--roll-size", "4096"]);
        assert!(!acks.is_empty());
        verify_acks(root.path(), &server, &acks);
    }
}
