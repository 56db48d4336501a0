//! `hwal bench`: the JSON contract our checks and BENCHMARKS.md rely on, on a small real run,
//! and clear errors for bad flags.

use std::process::{Command, Output};

fn hwal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwal")).args(args).output().expect("run hwal")
}

fn bench_json(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    bench_json_n(dir, 50, extra)
}

/// As [`bench_json`], with `iterations` appends per thread.
fn bench_json_n(dir: &std::path::Path, iterations: u32, extra: &[&str]) -> serde_json::Value {
    let d = dir.to_str().unwrap();
    let n = iterations.to_string();
    let mut args = vec!["bench", "--dir", d, "--threads", "4", "--iterations", &n, "--value-size", "100"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--ceiling-samples", "6", "--json"]);
    let out = hwal(&args);
    assert!(out.status.success(), "hwal bench failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

#[test]
fn sync_every_reports_every_field_consistently() {
    let tmp = tempfile::tempdir().unwrap();
    let j = bench_json(&tmp.path().join("b"), &["--sync", "every"]);
    assert_eq!(j["threads"], 4);
    assert_eq!(j["appends"], 200, "threads x iterations appends: {j}");
    let syncs = j["syncs"].as_u64().unwrap();
    assert!((1..=200).contains(&syncs), "every op waits for a sync, at most one sync each: {j}");
    let aps = j["appends_per_sync"].as_f64().unwrap();
    assert!((aps - 200.0 / syncs as f64).abs() < 0.01, "{j}");
    for k in ["ops_per_sec", "mb_per_sec", "ceiling_ops_per_sec", "efficiency"] {
        assert!(j[k].as_f64().unwrap() > 0.0, "{k} not positive: {j}");
    }
    let lat = &j["latency_us"];
    let (p50, p99, p999, max) = (&lat["p50"], &lat["p99"], &lat["p999"], &lat["max"]);
    let [p50, p99, p999, max] = [p50, p99, p999, max].map(|v| v.as_u64().unwrap());
    assert!(p50 <= p99 && p99 <= p999 && p999 <= max, "{lat}");
    let eff = j["efficiency"].as_f64().unwrap();
    let expect = j["ops_per_sec"].as_f64().unwrap() / j["ceiling_ops_per_sec"].as_f64().unwrap();
    assert!((eff - expect).abs() < 1e-6 * expect.max(1.0), "efficiency = ops/s / ceiling: {j}");
    assert_eq!(j["rolls"], 0, "{j}");
}

#[test]
fn roll_size_rolls_and_both_pipelines_run() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, p) in ["scheduled", "classic"].into_iter().enumerate() {
        // ~300 KB over 4 KiB files asks for dozens of rolls; the roller works concurrently with
        // the writers and coalesces requests, so a fast run gets fewer, but never only one.
        let j = bench_json_n(&tmp.path().join(format!("b{i}")), 500, &["--pipeline", p, "--roll-size", "4096"]);
        assert_eq!(j["appends"], 2000, "{p}: {j}");
        assert!(j["rolls"].as_u64().unwrap() >= 2, "{p}: 2000 entries of ~150 B over 4 KiB files: {j}");
    }
}

#[test]
fn bad_flags_fail_with_a_message_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    let out = hwal(&["bench", "--dir", d, "--threads", "0", "--iterations", "5", "--value-size", "10"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threads"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = hwal(&["bench", "--dir", d, "--threads", "2", "--iterations", "5", "--sync", "sometimes"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sync"), "{}", String::from_utf8_lossy(&out.stderr));
}
