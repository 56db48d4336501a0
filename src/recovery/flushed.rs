//! Where a split learns what each region already flushed (HBase's `LastSequenceId` checker, the
//! master's `RegionStoreSequenceIds`).
//!
//! Rules:
//! 1. An entry is dropped when its seqid is at or below the region's last flushed seqid; a cell
//!    is dropped when its family's store already holds its seqid (split-time filter, spec §6.3).
//!    The filter is an optimisation — replay filters again per family — so a source may always
//!    answer [`LastFlushed::Unknown`] (keep everything), but it must never claim more than was
//!    flushed.
//! 2. The region's last flushed seqid is the minimum over its known stores: a family is only as
//!    flushed as its own store files say.
//! 3. [`LastFlushed::RegionDeleted`] drops every entry of the region and creates nothing for it
//!    (HBASE-24189). [`StoreFileSeqids`] never says it: without a table catalogue it cannot tell
//!    a deleted region from one that never flushed, so a missing region directory is `Unknown`.

use std::collections::BTreeMap;

use super::error::SplitError;
use crate::env::{BoxFuture, WalFs};
use crate::region::{layout, storefile};
use crate::sync::Arc;
use crate::wal::entry::RegionName;

/// What a region has flushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LastFlushed {
    /// Nothing known: keep every entry.
    Unknown,
    /// The region no longer exists: drop its entries (rule 3).
    RegionDeleted,
    /// Max flushed seqid per family store (families without store files map to 0).
    Stores(BTreeMap<Vec<u8>, u64>),
}

impl LastFlushed {
    /// Rule 2: entries at or below this are flushed in every family (0: none).
    pub fn region_seqid(&self) -> u64 {
        match self {
            LastFlushed::Unknown => 0,
            LastFlushed::RegionDeleted => u64::MAX,
            LastFlushed::Stores(s) => s.values().copied().min().unwrap_or(0),
        }
    }

    /// Rule 1: cells of `family` at or below this are flushed (0: none known).
    pub fn family_seqid(&self, family: &[u8]) -> u64 {
        match self {
            LastFlushed::Unknown => 0,
            LastFlushed::RegionDeleted => u64::MAX,
            LastFlushed::Stores(s) => s.get(family).copied().unwrap_or(0),
        }
    }
}

/// A source of last flushed seqids, asked once per region per split.
pub trait FlushedSeqids: Send + Sync {
    /// What `region` of `table` has flushed.
    fn last_flushed<'a>(
        &'a self,
        table: &'a str,
        region: &'a RegionName,
    ) -> BoxFuture<'a, Result<LastFlushed, SplitError>>;
}

/// Knows nothing: every entry is kept (HBase splitting without a sequence-id checker).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFlushedSeqids;

impl FlushedSeqids for NoFlushedSeqids {
    fn last_flushed<'a>(&'a self, _: &'a str, _: &'a RegionName) -> BoxFuture<'a, Result<LastFlushed, SplitError>> {
        Box::pin(async { Ok(LastFlushed::Unknown) })
    }
}

/// Reads the regions' store files under `data/` (each records its flush seqid).
pub struct StoreFileSeqids {
    fs: Arc<dyn WalFs>,
}

impl StoreFileSeqids {
    /// A source reading `fs`.
    pub fn new(fs: Arc<dyn WalFs>) -> Self {
        Self { fs }
    }

    async fn read(&self, table: &str, region: &RegionName) -> Result<LastFlushed, SplitError> {
        let dir = layout::region_dir(table, region.as_str());
        let io = |op, path: &str, e| SplitError::io(op, path, e);
        if self.fs.metadata(&dir).await.map_err(|e| io("stat", &dir, e))?.is_none() {
            return Ok(LastFlushed::Unknown);
        }
        let mut stores = BTreeMap::new();
        for e in self.fs.list(&dir).await.map_err(|e| io("list", &dir, e))? {
            if !e.is_dir || e.name == layout::RECOVERED_EDITS_DIR || e.name == layout::TMP_DIR {
                continue;
            }
            let family_dir = format!("{dir}/{}", e.name);
            let files = storefile::read_family(&*self.fs, region.as_str(), &family_dir).await.map_err(|e| match e {
                crate::region::RegionError::StoreFile(sf) => SplitError::StoreFile(sf),
                other => SplitError::FlushedSeqids { region: region.to_string(), reason: other.to_string() },
            })?;
            let max = files.iter().map(|f| f.max_seqid).max().unwrap_or(0);
            stores.insert(e.name.into_bytes(), max);
        }
        Ok(LastFlushed::Stores(stores))
    }
}

impl FlushedSeqids for StoreFileSeqids {
    fn last_flushed<'a>(
        &'a self,
        table: &'a str,
        region: &'a RegionName,
    ) -> BoxFuture<'a, Result<LastFlushed, SplitError>> {
        Box::pin(self.read(table, region))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The region is as flushed as its least flushed store; unknown families are unflushed.
    #[test]
    fn region_seqid_is_the_least_flushed_store() {
        let s = LastFlushed::Stores([(b"a".to_vec(), 10), (b"b".to_vec(), 4)].into_iter().collect());
        assert_eq!(s.region_seqid(), 4);
        assert_eq!(s.family_seqid(b"a"), 10);
        assert_eq!(s.family_seqid(b"zz"), 0);
        assert_eq!(LastFlushed::Stores(BTreeMap::new()).region_seqid(), 0);
        assert_eq!(LastFlushed::Unknown.region_seqid(), 0);
        assert_eq!(LastFlushed::RegionDeleted.region_seqid(), u64::MAX);
    }
}
