//! The same seed twice gives a byte-identical trace, and different seeds give different ones.
#![cfg(madsim)]

use hwal_sim::knobs::RunOptions;
use hwal_sim::runner::run_seed;

/// Ten seeds, each run twice on fresh threads: identical traces; seeds differ from each other.
#[test]
fn same_seed_same_trace() {
    let opts = RunOptions::default();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..10 {
        let a = run_seed(seed, &opts, true).trace.expect("trace kept");
        let b = run_seed(seed, &opts, true).trace.expect("trace kept");
        assert_eq!(a, b, "seed {seed} traced differently twice");
        assert!(a.len() > 100, "seed {seed}: only {} events", a.len());
        seen.insert(a);
    }
    assert_eq!(seen.len(), 10, "different seeds must trace differently");
}
