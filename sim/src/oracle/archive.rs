//! Archive and accounting oracles, on the WAL's `ARCHIVED` and `CACHE_FLUSH` events.
//!
//! - **archive-current** — the file archived is never the writer's current file.
//! - **archive-safety** — every data entry written to a file the WAL archives (per the
//!   `APPEND` events and the file's inode) is already in its region's store files (the
//!   family's highest store-file name, listed from the DFS at the event, is at or above the
//!   entry's seqid) or has another copy (a re-write after a writer failure) in a file that is
//!   not archived. Independent of the engine's accounting. (The
//!   semantic consequence — acked puts stay readable after archiving — is checked by the region
//!   oracles at the next recovery.)
//! - **cache-flush** — per region, `start` is followed by exactly one `complete` or `abort`
//!   before the next `start`; a `complete`'s flushed seqid never decreases, and a store file
//!   at or above it exists when it is reported (the WAL never forgets edits that are not in
//!   store files).

use std::collections::BTreeMap;

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
pub fn on_archived(m: &Inc, dfs: &SimDfs, file: &str, current_check: bool) -> Result<(), Violation> {
    let name = &m.name;
    if current_check && m.cur_path.as_deref().is_some_and(|p| hwal::env::file_name(p) == file) {
        return Err(("archive-current", format!("{name}: archived {file}, the writer's current file")));
    }
    let path = format!("{}/{file}", naming::OLD_WALS_DIR);
    let Some(ino) = dfs.inode_at(&path) else {
        return Err(("archive-safety", format!("{name}: reported {file} archived, but {path} does not exist")));
    };
    let mut flushed: BTreeMap<&str, u64> = BTreeMap::new();
    for txid in m.by_inode.get(&ino).map_or(&[][..], |v| &v[..]) {
        let put = &m.puts[txid];
        if put.marker {
            continue;
        }
        let region = &*put.region;
        let max = *flushed.entry(region).or_insert_with(|| store_max_seqid(dfs, region));
        if put.seqid <= max {
            continue;
        }
        let elsewhere = m.copies.get(txid).is_some_and(|cs| {
            cs.iter()
                .any(|&(i, _)| i != ino && dfs.path_of_inode(i).is_some_and(|p| !p.starts_with(naming::OLD_WALS_DIR)))
        });
        if !elsewhere {
            return Err((
                "archive-safety",
                format!(
                    "{name}: archived {file} holding {region} seqid {} (txid {txid}), but the region's store files \
                     only reach seqid {max} and no other WAL file has a copy",
                    put.seqid
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
