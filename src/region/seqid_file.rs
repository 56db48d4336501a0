//! Sequence-id marker files: `recovered.edits/<n>.seqid`, empty files whose name is the region's
//! max sequence id at its last open or close (HBase `WALSplitUtil.writeRegionSequenceIdFile`).
//!
//! Rules:
//! 1. Only the newest is kept: writing `n` deletes every other `.seqid` file.
//! 2. Writing an `n` below the highest existing one is an error ([`RegionError::SeqidRegression`]);
//!    writing the same `n` again creates nothing (and still removes older ones).
//! 3. A region opens above the highest `.seqid` file, so seqids never repeat even for a region
//!    whose edits were all flushed and whose store files say less (e.g. after a close that only
//!    wrote markers).

use super::error::RegionError;
use super::layout;
use crate::env::WalFs;

/// The highest `.seqid` file in `dir` (0 when none) and the names of all of them.
pub(crate) async fn read_seqid_files(
    fs: &dyn WalFs,
    region: &str,
    dir: &str,
) -> Result<(u64, Vec<String>), RegionError> {
    if fs.metadata(dir).await.map_err(|e| RegionError::io(region, "stat", dir, e))?.is_none() {
        return Ok((0, Vec::new()));
    }
    let entries = fs.list(dir).await.map_err(|e| RegionError::io(region, "list", dir, e))?;
    let mut max = 0;
    let mut names = Vec::new();
    for e in entries {
        if let Some(n) = layout::parse_seqid_file(&e.name) {
            max = max.max(n);
            names.push(e.name);
        }
    }
    Ok((max, names))
}

/// Writes `<new>.seqid` into `dir` (rules 1 and 2).
pub(crate) async fn write_seqid_file(fs: &dyn WalFs, region: &str, dir: &str, new: u64) -> Result<(), RegionError> {
    let (old, names) = read_seqid_files(fs, region, dir).await?;
    if old > new {
        let path = format!("{dir}/{}", layout::seqid_file_name(old));
        return Err(RegionError::SeqidRegression { path, new, old });
    }
    fs.mkdirs(dir).await.map_err(|e| RegionError::io(region, "mkdirs", dir, e))?;
    let name = layout::seqid_file_name(new);
    if new != old || !names.contains(&name) {
        let path = format!("{dir}/{name}");
        let file = fs.create(&path).await.map_err(|e| RegionError::io(region, "create", &path, e))?;
        file.close().await.map_err(|e| RegionError::io(region, "close", &path, e))?;
    }
    for other in names.iter().filter(|n| **n != name) {
        let path = format!("{dir}/{other}");
        fs.delete(&path).await.map_err(|e| RegionError::io(region, "delete", &path, e))?;
    }
    Ok(())
}
