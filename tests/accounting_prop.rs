//! Property: SequenceIdAccounting agrees with a brute-force reference model (every seqid kept in
//! a list, minima computed on demand) over random sequences of updates, flush starts,
//! completions and aborts, and region closes; and so does every archive decision.
#![cfg(not(any(madsim, hwal_loom)))]

use std::collections::BTreeMap;

use hwal::wal::accounting::{Accounting, RegionSeqids};
use hwal::RegionName;
use proptest::prelude::*;

const FAMILIES: [&[u8]; 3] = [b"a", b"b", b"c"];

#[derive(Clone, Debug)]
enum Op {
    Update {
        region: usize,
        families: Vec<usize>,
        in_memstore: bool,
    },
    /// Starts a flush; with `lagging`, an edit got its seqid just before the flush started but
    /// reaches the accounting only later (ASYNC_WAL consumer lag, HBASE-23157).
    Start {
        region: usize,
        families: Vec<usize>,
        lagging: bool,
    },
    /// The lagging edit of `region` (if any) reaches the accounting.
    Late {
        region: usize,
        families: Vec<usize>,
    },
    Complete {
        region: usize,
    },
    Abort {
        region: usize,
    },
    Close {
        region: usize,
    },
    Check {
        highs: Vec<(usize, u64)>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let fams = prop::collection::vec(0..3usize, 0..3);
    prop_oneof![
        4 => (0..3usize, fams.clone(), any::<bool>()).prop_map(|(region, families, in_memstore)| Op::Update { region, families, in_memstore }),
        1 => (0..3usize, fams.clone(), any::<bool>()).prop_map(|(region, families, lagging)| Op::Start { region, families, lagging }),
        1 => (0..3usize, prop::collection::vec(0..3usize, 1..3)).prop_map(|(region, families)| Op::Late { region, families }),
        1 => (0..3usize).prop_map(|region| Op::Complete { region }),
        1 => (0..3usize).prop_map(|region| Op::Abort { region }),
        1 => (0..3usize).prop_map(|region| Op::Close { region }),
        2 => prop::collection::vec((0..3usize, 0..40u64), 1..3).prop_map(|highs| Op::Check { highs }),
    ]
}

/// The reference: all unflushed / flushing seqids per (region, family), as plain lists.
#[derive(Default)]
struct Model {
    unflushed: BTreeMap<(usize, usize), Vec<u64>>,
    flushing: BTreeMap<(usize, usize), Vec<u64>>,
    next_seqid: [u64; 3],
    in_flush: [bool; 3],
    /// The flushed seqid each running flush will complete with (HBase §4.4 step 3).
    flushed: [u64; 3],
    late: [Option<u64>; 3],
}

impl Model {
    fn lowest_family(&self, r: usize, f: usize) -> Option<u64> {
        let fl = self.flushing.get(&(r, f)).and_then(|v| v.iter().min().copied());
        fl.or_else(|| self.unflushed.get(&(r, f)).and_then(|v| v.iter().min().copied()))
    }
    fn lowest_region(&self, r: usize) -> Option<u64> {
        let all = self.unflushed.iter().chain(self.flushing.iter());
        all.filter(|((rr, _), _)| *rr == r).flat_map(|(_, v)| v.iter().copied()).min()
    }
    fn lowest_unflushed_region(&self, r: usize) -> Option<u64> {
        self.unflushed.iter().filter(|((rr, _), _)| *rr == r).flat_map(|(_, v)| v.iter().copied()).min()
    }
}

fn name(r: usize) -> RegionName {
    RegionName::new(&format!("r{r}"))
}

fn fams(idx: &[usize]) -> Vec<Vec<u8>> {
    idx.iter().map(|&i| FAMILIES[i].to_vec()).collect()
}

fn apply(acc: &mut Accounting, m: &mut Model, op: &Op) {
    match op {
        Op::Update { region, families, in_memstore } => {
            // The consumer accounts in WAL order, and per-region seqid order is WAL order: a
            // lagging edit is accounted before any later edit of its region.
            apply(acc, m, &Op::Late { region: *region, families: families.clone() });
            m.next_seqid[*region] += 1;
            let s = m.next_seqid[*region];
            acc.update(&name(*region), &fams(families), s, *in_memstore);
            if *in_memstore {
                for &f in families {
                    m.unflushed.entry((*region, f)).or_default().push(s);
                }
            }
        }
        Op::Start { region, families, lagging } if !m.in_flush[*region] => {
            if *lagging && m.late[*region].is_none() {
                m.next_seqid[*region] += 1;
                m.late[*region] = Some(m.next_seqid[*region]);
            }
            let left = acc.start_cache_flush(&name(*region), &fams(families));
            m.next_seqid[*region] += 1; // the flush's own sequence id
            m.flushed[*region] = left.map_or(m.next_seqid[*region], |l| l - 1);
            for &f in families {
                if let Some(v) = m.unflushed.remove(&(*region, f)) {
                    m.flushing.insert((*region, f), v);
                }
            }
            m.in_flush[*region] = true;
            assert_eq!(left, m.lowest_unflushed_region(*region), "start_cache_flush's lowest left");
        }
        Op::Late { region, families } => {
            if let Some(s) = m.late[*region].take() {
                acc.update(&name(*region), &fams(families), s, true);
                for &f in families {
                    m.unflushed.entry((*region, f)).or_default().push(s);
                }
            }
        }
        Op::Complete { region } if m.in_flush[*region] => {
            let flushed = m.flushed[*region];
            acc.complete_cache_flush(&name(*region), flushed);
            m.flushing.retain(|(r, _), _| r != region);
            for ((r, _), v) in m.unflushed.iter_mut() {
                if r == region {
                    for s in v.iter_mut() {
                        *s = (*s).max(flushed + 1);
                    }
                }
            }
            m.in_flush[*region] = false;
        }
        Op::Abort { region } if m.in_flush[*region] => {
            acc.abort_cache_flush(&name(*region)).expect("in-order seqids never abort out of order");
            let back: Vec<_> =
                m.flushing.iter().filter(|((r, _), _)| r == region).map(|(k, v)| (*k, v.clone())).collect();
            for (k, v) in back {
                m.flushing.remove(&k);
                m.unflushed.entry(k).or_default().extend(v);
            }
            m.in_flush[*region] = false;
        }
        Op::Close { region } => {
            acc.on_region_close(&name(*region));
            m.unflushed.retain(|(r, _), _| r != region);
            m.flushing.retain(|(r, _), _| r != region);
            m.in_flush[*region] = false;
        }
        Op::Check { highs } => {
            let file: RegionSeqids = highs.iter().map(|(r, h)| (name(*r), *h)).collect();
            let expect = file.iter().all(|(r, h)| {
                let idx: usize = r.as_str()[1..].parse().unwrap();
                m.lowest_region(idx).is_none_or(|l| l > *h)
            });
            let mut blocking = Vec::new();
            assert_eq!(acc.are_all_lower(&file, &mut blocking), expect, "archive decision for {file:?}");
            let lower = acc.find_lower(&file);
            let expect_lower: BTreeMap<RegionName, Vec<Vec<u8>>> = file
                .iter()
                .filter_map(|(r, h)| {
                    let idx: usize = r.as_str()[1..].parse().unwrap();
                    let fs: Vec<Vec<u8>> = (0..3)
                        .filter(|&f| m.unflushed.get(&(idx, f)).and_then(|v| v.iter().min()).is_some_and(|l| l <= h))
                        .map(|f| FAMILIES[f].to_vec())
                        .collect();
                    (!fs.is_empty()).then(|| (r.clone(), fs))
                })
                .collect();
            assert_eq!(lower.unwrap_or_default(), expect_lower, "find_lower for {file:?}");
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every lowest seqid and every archive decision matches the reference after every step.
    #[test]
    fn accounting_matches_reference(ops in prop::collection::vec(op(), 1..60)) {
        let mut acc = Accounting::new();
        let mut m = Model::default();
        for op in &ops {
            apply(&mut acc, &mut m, op);
            for r in 0..3 {
                prop_assert_eq!(acc.lowest_seqid(&name(r)), m.lowest_region(r), "region {} after {:?}", r, op);
                for (f, family) in FAMILIES.iter().enumerate() {
                    prop_assert_eq!(acc.lowest_seqid_of_family(&name(r), family), m.lowest_family(r, f));
                }
            }
        }
    }
}
