//! Split completeness (spec §10 invariant 14), checked after the master's `split_server`
//! against what the master read from the fenced directory *before* the split.
//!
//! Expected: for each WAL file `w` and region `r`, the list `X(w, r)` of `w`'s data entries of
//! `r` (markers and empty edits dropped) whose seqid is above `r`'s highest store-file seqid at
//! split time, in file order. Checks:
//! 1. **complete** — every non-empty `X(w, r)` has an output of the split;
//! 2. **exact and ordered** — every output file holds exactly `X(w, r)` of one of the outputs
//!    finalized under its name (seqid and value fingerprint, in order), and a superset of the
//!    others' (two outputs of the same region with the same max seqid collide: the one holding
//!    more is kept — re-written duplicates after a writer failure);
//! 3. **finalized** — no `.temp` output is left in the regions' `recovered.edits/`;
//! 4. **archived** — every split WAL was moved to `oldWALs/` (none is missing, none corrupt),
//!    and the `-splitting` directory is gone.

use std::collections::{BTreeMap, BTreeSet};

use hwal::format::{read_log, RecoveryMode};
use hwal::recovery::{SplitReport, WalDisposition};
use hwal::region::layout;
use hwal::wal::naming;

use super::recovery::FileRead;
use super::{fingerprint, Violation};
use crate::cluster::TABLE;
use crate::dfs::SimDfs;

/// An entry as the split oracle compares it: `(seqid, fingerprint)`.
type Item = (u64, u64);

/// `X(w, r)` for every file and region (keys: WAL file name, region).
pub fn expected(files: &[FileRead], flushed: &BTreeMap<String, u64>) -> BTreeMap<(String, String), Vec<Item>> {
    let mut x: BTreeMap<(String, String), Vec<Item>> = BTreeMap::new();
    for f in files {
        let wal = hwal::env::file_name(&f.path).to_string();
        for re in &f.entries {
            let e = &re.entry;
            if e.edit.is_meta() || e.edit.is_empty() {
                continue;
            }
            let region = e.key.region.as_str();
            if e.key.seqid <= flushed.get(region).copied().unwrap_or(0) {
                continue;
            }
            let c = &e.edit.cells[0];
            x.entry((wal.clone(), region.to_string())).or_default().push((e.key.seqid, fingerprint(&c.row, &c.value)));
        }
    }
    x
}

fn read_items(dfs: &SimDfs, path: &str) -> Result<Vec<(String, Item)>, Violation> {
    let bytes = dfs.read_now(path).map_err(|e| ("split-complete", format!("output {path}: {e}")))?;
    let log = read_log(path, &bytes, RecoveryMode::AbsoluteConsistency)
        .map_err(|e| ("split-complete", format!("output {path} does not read cleanly: {e}")))?;
    Ok(log
        .entries
        .iter()
        .map(|re| {
            let e = &re.entry;
            let fp = e.edit.cells.first().map_or(0, |c| fingerprint(&c.row, &c.value));
            (e.key.region.as_str().to_string(), (e.key.seqid, fp))
        })
        .collect())
}

/// Checks 1–4 for the split of `server` whose fenced directory was `dir` and held `files`.
/// Returns the highest data seqid written per region.
pub fn check(
    dfs: &SimDfs,
    server: &str,
    dir: &str,
    files: &[FileRead],
    flushed: &BTreeMap<String, u64>,
    report: &SplitReport,
) -> Result<BTreeMap<String, u64>, Violation> {
    let fail = |m: String| Err(("split-complete", format!("{server}: {m}")));
    let x = expected(files, flushed);
    let mut by_path: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for o in &report.outputs {
        let key = (hwal::env::file_name(&o.wal).to_string(), o.region.as_str().to_string());
        if !x.contains_key(&key) {
            return fail(format!(
                "output {} holds {} entries of {} from {}, none expected",
                o.path, o.edits, key.1, key.0
            ));
        }
        by_path.entry(&o.path).or_default().push(key);
    }
    // 1.
    for (w, r) in x.keys() {
        if !report.outputs.iter().any(|o| hwal::env::file_name(&o.wal) == w && o.region.as_str() == r) {
            return fail(format!(
                "{w} holds {} entries of {r} above its flushed seqid, but the split wrote none",
                x[&(w.clone(), r.clone())].len()
            ));
        }
    }
    // 2.
    let mut max: BTreeMap<String, u64> = BTreeMap::new();
    for (path, keys) in &by_path {
        let got = read_items(dfs, path)?;
        let region = &keys[0].1;
        if let Some((r, _)) = got.iter().find(|(r, _)| r != region) {
            return fail(format!("{path} (an output of {region}) holds an entry of {r}"));
        }
        let items: Vec<Item> = got.into_iter().map(|(_, i)| i).collect();
        if !keys.iter().any(|k| x[k] == items) {
            let want: Vec<String> = keys.iter().map(|k| format!("{} entries from {}", x[k].len(), k.0)).collect();
            return fail(format!(
                "{path} holds {} entries (seqids {:?}..{:?}), not exactly the expected {}",
                items.len(),
                items.first().map(|i| i.0),
                items.last().map(|i| i.0),
                want.join(" or ")
            ));
        }
        let set: BTreeSet<Item> = items.iter().copied().collect();
        for k in keys {
            if let Some(lost) = x[k].iter().find(|i| !set.contains(i)) {
                return fail(format!(
                    "{path} was kept over the output of {} from {}, which held seqid {} it lacks",
                    k.1, k.0, lost.0
                ));
            }
        }
        let m = max.entry(region.clone()).or_insert(0);
        *m = (*m).max(items.iter().map(|i| i.0).max().unwrap_or(0));
    }
    // 3.
    let regions: BTreeSet<&str> = x.keys().map(|(_, r)| r.as_str()).collect();
    for r in regions {
        let edits = layout::recovered_edits_dir(TABLE, r);
        if let Some(t) = dfs.list_files(&edits).into_iter().find(|n| n.ends_with(layout::TEMP_SUFFIX)) {
            return fail(format!("{edits}/{t} was left behind"));
        }
    }
    // 4.
    let read: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let split: BTreeSet<&str> = report.wals.iter().map(|w| w.path.as_str()).collect();
    if read != split {
        return fail(format!("the split took WALs {split:?}, the directory held {read:?}"));
    }
    for w in &report.wals {
        match &w.disposition {
            WalDisposition::Archived { to }
                if to.starts_with(naming::OLD_WALS_DIR) && dfs.exists(to) && !dfs.exists(&w.path) => {}
            other => return fail(format!("{} was not archived: {other:?}", w.path)),
        }
    }
    if dfs.exists(dir) {
        return fail(format!("{dir} still exists after the split ({} files)", dfs.list_files(dir).len()));
    }
    Ok(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwal::format::ReadEntry;
    use hwal::{Entry, RegionName, WalEdit, WalKey};

    fn entry(txid: u64, region: &str, seqid: u64, edit: WalEdit) -> ReadEntry {
        let mut key = WalKey::new(RegionName::new(region), "t1", 0);
        key.seqid = seqid;
        ReadEntry { offset: txid * 100, framed_len: 100, entry: Entry { txid, key, edit } }
    }

    /// X(w, r) keeps each file's data entries above the region's flushed seqid, in file order;
    /// markers and other regions' entries go elsewhere.
    #[test]
    fn expected_outputs_per_file_and_region() {
        let put = |v: &[u8]| WalEdit::put(b"row", b"f", b"q", 1, v);
        let marker = WalEdit::flush_marker(hwal::wal::entry::FlushAction::Start, 3, 1);
        let files = vec![
            FileRead {
                path: "WALs/rs1,1-splitting/rs1,1.1".into(),
                number: 1,
                entries: vec![entry(1, "a", 1, put(b"1")), entry(2, "a", 2, marker), entry(3, "b", 1, put(b"2"))],
                tail: None,
            },
            FileRead {
                path: "WALs/rs1,1-splitting/rs1,1.2".into(),
                number: 2,
                entries: vec![entry(4, "a", 3, put(b"3")), entry(5, "a", 4, put(b"4"))],
                tail: None,
            },
        ];
        let flushed: BTreeMap<String, u64> = [("a".to_string(), 3)].into();
        let x = expected(&files, &flushed);
        let fp = |v: &[u8]| fingerprint(b"row", v);
        assert_eq!(x.len(), 2, "{x:?}");
        assert_eq!(x[&("rs1,1.1".to_string(), "b".to_string())], vec![(1, fp(b"2"))]);
        assert_eq!(x[&("rs1,1.2".to_string(), "a".to_string())], vec![(4, fp(b"4"))]);
    }
}
