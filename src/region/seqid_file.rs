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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{block_on, Env, RealEnv};

    /// Mirrors HBase `WALSplitUtil.writeRegionSequenceIdFile`'s contract (exercised by
    /// `TestWALSplit`/`TestHRegion` seqid-file tests): only the newest file is kept, writing the
    /// same value again is a no-op, and writing a smaller one is an error naming the existing file.
    #[test]
    fn newest_only_and_never_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let env = RealEnv::builder(dir.path()).preallocate(0).build().unwrap();
        let fs = env.fs();
        let d = "data/t/r/recovered.edits";
        block_on(async {
            write_seqid_file(&*fs, "r", d, 5).await.unwrap();
            write_seqid_file(&*fs, "r", d, 9).await.unwrap();
            write_seqid_file(&*fs, "r", d, 9).await.unwrap();
            assert_eq!(read_seqid_files(&*fs, "r", d).await.unwrap(), (9, vec!["9.seqid".to_string()]));
            let e = write_seqid_file(&*fs, "r", d, 8).await.unwrap_err();
            assert!(matches!(e, RegionError::SeqidRegression { new: 8, old: 9, .. }), "{e}");
            assert!(e.to_string().contains("recovered.edits/9.seqid"), "{e}");
        });
    }
}
