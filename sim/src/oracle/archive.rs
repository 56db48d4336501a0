//! Archive and accounting oracles, on the WAL's `ARCHIVED` and `CACHE_FLUSH` events.
//!
//! - **archive-current** — the file archived is never the writer's current file.
//! - **archive-safety** — every data entry in a file the WAL archives is already in its
//!   region's store files (the family's highest store-file seqid is at or above the entry's
//!   seqid) or has another copy (a re-write after a writer failure) in a file that is not
//!   archived. Read from the DFS at the event, independently of the engine's accounting. (The
//!   semantic consequence — acked puts stay readable after archiving — is checked by the region
//!   oracles at the next recovery.)
//! - **cache-flush** — per region, `start` is followed by exactly one `complete` or `abort`
//!   before the next `start`; a `complete`'s flushed seqid never decreases, and a store file
//!   at or above it exists when it is reported (the WAL never forgets edits that are not in
//!   store files).

use hwal::format::{read_log, RecoveryMode};
use hwal::region::layout;
use hwal::wal::naming;

use super::{Inc, Violation};
use crate::cluster::TABLE;
use crate::dfs::SimDfs;

/// The cache-flush protocol of one region of one incarnation.
#[derive(Clone, Debug, Default)]
pub struct FlushState {
    in_progress: bool,
    last_complete: u64,
}

/// Highest store-file seqid of `region`'s family `f` (0 without store files), from the names
/// of the files in its family directory.
pub fn store_max_seqid(dfs: &SimDfs, region: &str) -> u64 {
    let dir = layout::family_dir(TABLE, region, crate::cluster::FAMILY);
    dfs.list_files(&dir).iter().filter_map(|n| layout::parse_recovered_edits(n)).max().unwrap_or(0)
}

/// `ARCHIVED file=<name>` of incarnation `m`.
pub fn on_archived(m: &Inc, dfs: &SimDfs, file: &str) -> Result<(), Violation> {
    let name = &m.name;
    if m.cur_path.as_deref().is_some_and(|p| hwal::env::file_name(p) == file) {
        return Err(("archive-current", format!("{name}: archived {file}, the writer's current file")));
    }
    let path = format!("{}/{file}", naming::OLD_WALS_DIR);
    let bytes = dfs.read_now(&path).map_err(|e| ("archive-safety", format!("{name}: archived {path}, but: {e}")))?;
    let Some(ino) = dfs.inode_at(&path) else { return Ok(()) };
    let entries = match read_log(&path, &bytes, RecoveryMode::TolerateTailCorruption) {
        Ok(l) => l.entries,
        Err(e) if e.is_truncation() => Vec::new(),
        Err(e) => return Err(("crash-prefix", format!("{name}: archived {e}"))),
    };
    let mut flushed: std::collections::BTreeMap<String, u64> = Default::default();
    for re in entries {
        let e = &re.entry;
        if e.edit.is_meta() {
            continue;
        }
        let region = e.key.region.as_str();
        let max = *flushed.entry(region.to_string()).or_insert_with(|| store_max_seqid(dfs, region));
        if e.key.seqid <= max {
            continue;
        }
        let elsewhere = m.copies.get(&e.txid).is_some_and(|cs| {
            cs.iter().any(|&(i, _)| {
                i != ino && dfs.path_of_inode(i).is_some_and(|p| !p.starts_with(naming::OLD_WALS_DIR))
            })
        });
        if !elsewhere {
            return Err((
                "archive-safety",
                format!(
                    "{name}: archived {file} holding {region} seqid {} (txid {}, offset {}), but the region's store files \
                     only reach seqid {max} and no other WAL file has a copy",
                    e.key.seqid, e.txid, re.offset
                ),
            ));
        }
    }
    Ok(())
}

/// `CACHE_FLUSH region=<r> action=<a> seqid=<s>` of incarnation `m`.
pub fn on_cache_flush(m: &mut Inc, dfs: &SimDfs, region: &str, action: &str, seqid: u64) -> Result<(), Violation> {
    let name = m.name.clone();
    let st = m.cache_flush.entry(region.to_string()).or_default();
    let bad = |what: String| Err(("cache-flush", format!("{name}: {region}: {what}")));
    match action {
        "start" if st.in_progress => return bad("a flush started while another was in progress".into()),
        "start" => st.in_progress = true,
        "complete" | "abort" if !st.in_progress => return bad(format!("{action} without a started flush")),
        "abort" => st.in_progress = false,
        "complete" => {
            st.in_progress = false;
            if seqid < st.last_complete {
                return bad(format!("flushed seqid went back from {} to {seqid}", st.last_complete));
            }
            st.last_complete = seqid;
            let max = store_max_seqid(dfs, region);
            if max < seqid {
                return bad(format!("flush completed up to seqid {seqid}, but the store files only reach {max}"));
            }
        }
        other => return bad(format!("unknown action {other}")),
    }
    Ok(())
}
