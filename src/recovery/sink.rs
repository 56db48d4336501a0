//! The output side of splitting one WAL (HBase `RecoveredEditsOutputSink` and its writer
//! threads): writer tasks drain the [`EntryBuffers`] into one recovered-edits file per region.
//!
//! Rules:
//! 1. A region's writer is created lazily by the first chunk of that region, named
//!    `<%019d first seqid of the chunk>-<wal file>-<worker>.temp` in the region's
//!    `recovered.edits/` (the directory is created if needed; a stale file of that name from a
//!    failed earlier attempt is deleted first, as HBase does).
//! 2. Between chunks a writer sits in the `writers` map; a writer task takes it out while
//!    writing a chunk (rule 2 of `buffers` guarantees nobody else wants it then) and always puts
//!    it back, so `finish` can close and account for every file that was created.
//! 3. Each chunk is appended and hflushed before the next is taken, so a writer's memory stays
//!    bounded by the chunk.
//! 4. `finish` stops the writer tasks, then closes every writer (trailer + close, which makes the
//!    file durable). A writer that wrote no edits has its file deleted. Nothing is renamed here:
//!    the outputs are handed back as [`PendingOutput`]s, finalized only once the whole split
//!    succeeded.

use std::collections::BTreeMap;
use std::io;

use super::buffers::{Chunk, EntryBuffers, RegionKey};
use super::config::SplitConfig;
use super::error::SplitError;
use crate::env::{Env, WalFile, WalFs};
use crate::format::{encode_entry, encode_header, encode_trailer, FileHeader, FileKind, Trailer};
use crate::region::layout;
use crate::sync::{lock, Arc, Mutex};
use crate::wal::entry::Entry;

/// A recovered-edits file written and closed under its temporary name.
#[derive(Clone, Debug)]
pub(crate) struct PendingOutput {
    pub key: RegionKey,
    pub wal: String,
    pub temp_path: String,
    pub first_seqid: u64,
    pub max_seqid: u64,
    pub edits: u64,
}

/// One region's output file for one WAL.
struct RegionWriter {
    file: Arc<dyn WalFile>,
    temp_path: String,
    first_seqid: u64,
    max_seqid: u64,
    max_txid: u64,
    edits: u64,
}

impl RegionWriter {
    /// Rule 1.
    async fn create(shared: &SinkShared, key: &RegionKey, first_seqid: u64) -> Result<Self, SplitError> {
        let fs = &*shared.fs;
        let dir = layout::recovered_edits_dir(&key.0, key.1.as_str());
        fs.mkdirs(&dir).await.map_err(|e| SplitError::io("mkdirs", &dir, e))?;
        let name = layout::temp_edits_name(first_seqid, &shared.wal_name, &shared.worker);
        let path = format!("{dir}/{name}");
        if fs.metadata(&path).await.map_err(|e| SplitError::io("stat", &path, e))?.is_some() {
            tracing::warn!(target: "hwal::split", file = %path, "deleting an old edits file left by a failed split");
            fs.delete(&path).await.map_err(|e| SplitError::io("delete", &path, e))?;
        }
        let file = fs.create(&path).await.map_err(|e| SplitError::io("create", &path, e))?;
        let mut buf = Vec::with_capacity(64);
        encode_header(&shared.header, &mut buf);
        if let Err(e) = file.append(&buf) {
            // Not registered anywhere yet: clean up here, or the file would outlive the split.
            let _ = file.close().await;
            if let Err(d) = fs.delete(&path).await {
                tracing::warn!(target: "hwal::split", file = %path, error = %d, "cannot delete a failed output");
            }
            return Err(SplitError::io("append", &path, e));
        }
        Ok(Self { file, temp_path: path, first_seqid, max_seqid: 0, max_txid: 0, edits: 0 })
    }

    fn append(&mut self, entries: &[Entry]) -> io::Result<()> {
        let mut buf = Vec::new();
        for e in entries {
            encode_entry(e, &mut buf);
            self.max_seqid = self.max_seqid.max(e.key.seqid);
            self.max_txid = self.max_txid.max(e.txid);
        }
        self.file.append(&buf)?;
        self.edits += entries.len() as u64;
        Ok(())
    }

    async fn close(&self) -> io::Result<()> {
        let mut buf = Vec::with_capacity(32);
        let trailer = Trailer { entries: self.edits, max_txid: self.max_txid, max_seqid: self.max_seqid };
        encode_trailer(&trailer, &mut buf);
        self.file.append(&buf)?;
        self.file.close().await
    }
}

/// What the writer tasks share.
struct SinkShared {
    fs: Arc<dyn WalFs>,
    buffers: EntryBuffers,
    writers: Mutex<BTreeMap<RegionKey, RegionWriter>>,
    wal_name: String,
    worker: String,
    header: FileHeader,
}

impl SinkShared {
    /// Rules 2 and 3: writes one chunk.
    async fn write_chunk(&self, chunk: &Chunk) -> Result<(), SplitError> {
        let existing = lock(&self.writers).remove(&chunk.key);
        let mut w = match existing {
            Some(w) => w,
            None => RegionWriter::create(self, &chunk.key, chunk.entries[0].key.seqid).await?,
        };
        let appended = w.append(&chunk.entries);
        let result = match appended {
            Ok(()) => w.file.hflush().await.map(|_| ()),
            Err(e) => Err(e),
        };
        let path = w.temp_path.clone();
        lock(&self.writers).insert(chunk.key.clone(), w);
        result.map_err(|e| SplitError::io("write recovered edits", &path, e))
    }
}

async fn writer_task(shared: Arc<SinkShared>) {
    while let Some(chunk) = shared.buffers.next_chunk().await {
        assert!(!chunk.entries.is_empty(), "an empty chunk");
        let result = shared.write_chunk(&chunk).await;
        shared.buffers.done_writing(&chunk.key, chunk.bytes, result);
    }
    shared.buffers.writer_exited();
}

/// The sink of one WAL's split. Dropped without [`OutputSink::finish`] (the split's future was
/// cancelled), it makes its writer tasks exit; their `.temp` files stay, never replayed.
pub(crate) struct OutputSink {
    shared: Arc<SinkShared>,
}

impl Drop for OutputSink {
    fn drop(&mut self) {
        self.shared.buffers.abort_now();
    }
}

impl OutputSink {
    /// Starts `cfg.split_writer_threads` writer tasks for the WAL file `wal_name` of `server`.
    pub fn start(env: &Arc<dyn Env>, cfg: &SplitConfig, server: &str, wal_name: &str, file_number: u64) -> Self {
        let header = FileHeader::new(FileKind::RecoveredEdits, server, file_number, env.wall_clock_ms(), "hwal/split");
        let shared = Arc::new(SinkShared {
            fs: env.fs(),
            buffers: EntryBuffers::new(cfg.split_buffer_bytes, cfg.split_writer_threads),
            writers: Mutex::new(BTreeMap::new()),
            wal_name: wal_name.to_string(),
            worker: cfg.worker_name.clone(),
            header,
        });
        for _ in 0..cfg.split_writer_threads {
            let s = shared.clone();
            env.spawn("split-writer", Box::pin(writer_task(s)));
        }
        Self { shared }
    }

    /// Hands an entry to the writers; waits while the buffers are full (back-pressure).
    pub async fn append(&self, key: RegionKey, entry: Entry, bytes: u64) -> Result<(), SplitError> {
        self.shared.buffers.append(key, entry, bytes).await
    }

    /// Rule 4: the outputs (every file still on disk, for finalizing or discarding) and the
    /// first error, if any.
    pub async fn finish(self, abort: bool) -> (Vec<PendingOutput>, Option<SplitError>) {
        self.shared.buffers.check_invariants();
        let mut error = self.shared.buffers.close(abort).await;
        let writers = std::mem::take(&mut *lock(&self.shared.writers));
        let fs = &*self.shared.fs;
        let mut outputs = Vec::new();
        for (key, w) in writers {
            let closed = w.close().await;
            if let Err(e) = closed {
                error.get_or_insert(SplitError::io("close", &w.temp_path, e));
            } else if w.edits == 0 {
                if let Err(e) = fs.delete(&w.temp_path).await {
                    error.get_or_insert(SplitError::io("delete", &w.temp_path, e));
                }
                continue;
            }
            outputs.push(PendingOutput {
                key,
                wal: self.shared.wal_name.clone(),
                temp_path: w.temp_path,
                first_seqid: w.first_seqid,
                max_seqid: w.max_seqid,
                edits: w.edits,
            });
        }
        (outputs, error)
    }
}
