//! Bounded entry buffers between a split's reader and its writer tasks (HBase `EntryBuffers`
//! and the coordination half of `OutputSink`).
//!
//! Roles: one **reader** (the split task) appends entries; N **writer** tasks take chunks.
//!
//! Rules:
//! 1. The reader appends an entry to its region's buffer and adds its bytes to `total_bytes`,
//!    then waits while `total_bytes > max_bytes` and no writer has failed. One entry larger than
//!    the bound therefore passes once the writers have drained everything else.
//! 2. A writer takes the largest buffer whose region no writer is writing (ties: the first
//!    region in key order), marks the region as writing, writes the chunk, and only then
//!    subtracts its bytes and clears the mark (`done_writing`). One region is never written by
//!    two writers at once, so each region's entries reach its output in WAL order.
//! 3. The first writer error is kept; the reader gets it on its next append or while waiting,
//!    and writers stop taking chunks.
//! 4. `close(abort = false)` lets the writers drain everything and exit; `close(abort = true)`
//!    makes them exit after their current chunk. `close` returns once every writer has exited.
//! 5. Every state change notifies `changed`; every waiter listens *before* re-checking its
//!    condition (`core::event` rule 1), so no wake-up is lost.

use std::collections::{BTreeMap, BTreeSet};

use super::error::SplitError;
use crate::core::event::Event;
use crate::sync::{lock, Arc, Mutex};
use crate::wal::entry::{Entry, RegionName};

/// A region of a table: the unit of buffering and of output files.
pub(crate) type RegionKey = (Arc<str>, RegionName);

/// A region's buffered entries, taken by a writer.
pub(crate) struct Chunk {
    pub key: RegionKey,
    pub entries: Vec<Entry>,
    pub bytes: u64,
}

#[derive(Default)]
struct State {
    buffers: BTreeMap<RegionKey, (Vec<Entry>, u64)>,
    writing: BTreeSet<RegionKey>,
    total_bytes: u64,
    finished: bool,
    aborted: bool,
    error: Option<SplitError>,
    live_writers: usize,
}

impl State {
    /// Rule 2's choice.
    fn pick(&self) -> Option<RegionKey> {
        let mut best: Option<(&RegionKey, u64)> = None;
        for (k, (_, bytes)) in &self.buffers {
            if !self.writing.contains(k) && best.is_none_or(|(_, b)| *bytes > b) {
                best = Some((k, *bytes));
            }
        }
        best.map(|(k, _)| k.clone())
    }
}

/// The buffers (see the module rules).
pub(crate) struct EntryBuffers {
    state: Mutex<State>,
    changed: Event,
    max_bytes: u64,
}

impl EntryBuffers {
    /// Buffers bounded by `max_bytes`, drained by `writers` tasks (which must each call
    /// [`EntryBuffers::writer_exited`] when they stop).
    pub fn new(max_bytes: u64, writers: usize) -> Self {
        assert!(writers > 0, "a split needs at least one writer");
        let state = State { live_writers: writers, ..State::default() };
        Self { state: Mutex::new(state), changed: Event::new(), max_bytes }
    }

    /// Rule 1 (reader).
    pub async fn append(&self, key: RegionKey, entry: Entry, bytes: u64) -> Result<(), SplitError> {
        {
            let mut st = lock(&self.state);
            if let Some(e) = &st.error {
                return Err(e.clone());
            }
            assert!(!st.finished, "append after close");
            let buf = st.buffers.entry(key).or_default();
            buf.0.push(entry);
            buf.1 += bytes;
            st.total_bytes += bytes;
        }
        self.changed.notify_all();
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
        loop {
            let changed = self.changed.listen();
            {
                let st = lock(&self.state);
                if let Some(e) = &st.error {
                    return Err(e.clone());
                }
                if st.total_bytes <= self.max_bytes {
                    return Ok(());
                }
            }
            changed.await;
        }
    }

    /// Rule 2 (writer): the next chunk, or `None` when the writer should exit.
    pub async fn next_chunk(&self) -> Option<Chunk> {
        loop {
            let changed = self.changed.listen();
            {
                let mut st = lock(&self.state);
                if st.error.is_some() || st.aborted {
                    return None;
                }
                if let Some(key) = st.pick() {
                    let (entries, bytes) = st.buffers.remove(&key).expect("picked from the map");
                    st.writing.insert(key.clone());
                    return Some(Chunk { key, entries, bytes });
                }
                if st.finished && st.buffers.is_empty() {
                    return None;
                }
            }
            changed.await;
        }
    }

    /// Rules 2 and 3 (writer): a chunk is written, or failed.
    pub fn done_writing(&self, key: &RegionKey, bytes: u64, result: Result<(), SplitError>) {
        {
            let mut st = lock(&self.state);
            assert!(st.writing.remove(key), "done_writing for a region nobody was writing");
            assert!(st.total_bytes >= bytes, "buffer accounting went negative");
            st.total_bytes -= bytes;
            if let Err(e) = result {
                st.error.get_or_insert(e);
            }
        }
        self.changed.notify_all();
    }

    /// A writer task stopped.
    pub fn writer_exited(&self) {
        {
            let mut st = lock(&self.state);
            assert!(st.live_writers > 0, "more writers exited than started");
            st.live_writers -= 1;
        }
        self.changed.notify_all();
    }

    /// Rule 4 (reader): stops the writers and waits for them; returns the first writer error.
    pub async fn close(&self, abort: bool) -> Option<SplitError> {
        {
            let mut st = lock(&self.state);
            st.finished = true;
            st.aborted |= abort;
        }
        self.changed.notify_all();
        loop {
            let changed = self.changed.listen();
            {
                let st = lock(&self.state);
                if st.live_writers == 0 {
                    assert!(st.writing.is_empty(), "a writer exited while writing");
                    assert!(abort || st.error.is_some() || st.buffers.is_empty(), "buffers left undrained");
                    return st.error.clone();
                }
            }
            changed.await;
        }
    }

    /// Makes the writers exit after their current chunk without waiting for them (the sink was
    /// dropped: a cancelled split). Idempotent.
    pub fn abort_now(&self) {
        {
            let mut st = lock(&self.state);
            st.finished = true;
            st.aborted = true;
        }
        self.changed.notify_all();
    }

    /// Checks the accounting: every buffered byte is counted in `total_bytes` (which also counts
    /// chunks being written), and no more writers are live than started.
    pub fn check_invariants(&self) {
        let st = lock(&self.state);
        let buffered: u64 = st.buffers.values().map(|(_, b)| *b).sum();
        assert!(st.total_bytes >= buffered, "total {} below the {buffered} bytes buffered", st.total_bytes);
        assert!(st.buffers.values().all(|(e, _)| !e.is_empty()), "an empty region buffer");
        assert!(!st.aborted || st.finished, "aborted without finishing");
    }

    /// Bytes buffered or being written (for tests of the bound).
    #[cfg(test)]
    pub fn total_bytes(&self) -> u64 {
        lock(&self.state).total_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::block_on;
    use crate::wal::entry::{WalEdit, WalKey};

    fn entry(region: &str, seqid: u64) -> (RegionKey, Entry) {
        let mut key = WalKey::new(RegionName::new(region), "t", 0);
        key.seqid = seqid;
        let e = Entry { txid: seqid, key, edit: WalEdit::put(b"r", b"f", b"q", 1, b"v") };
        ((Arc::from("t"), RegionName::new(region)), e)
    }

    /// Mirrors HBase `EntryBuffers.getChunkToWrite` and the error path of `testIOEOnOutputThread`:
    /// the largest free buffer is chosen, a region being written is never handed out twice, and
    /// a writer error reaches the reader.
    #[test]
    fn chunks_are_exclusive_per_region_and_errors_surface() {
        let b = EntryBuffers::new(1 << 20, 1);
        block_on(async {
            for (region, seqid, bytes) in [("a", 1, 10), ("b", 2, 30), ("a", 3, 10)] {
                let (k, e) = entry(region, seqid);
                b.append(k, e, bytes).await.unwrap();
            }
            let c = b.next_chunk().await.unwrap();
            assert_eq!((c.key.1.as_str(), c.bytes), ("b", 30));
            let a = b.next_chunk().await.unwrap();
            assert_eq!(a.entries.iter().map(|e| e.key.seqid).collect::<Vec<_>>(), vec![1, 3]);
            let (k, e) = entry("a", 4);
            b.append(k.clone(), e, 5).await.unwrap();
            assert!(lock(&b.state).pick().is_none(), "region a is being written");
            b.done_writing(&a.key, a.bytes, Err(SplitError::Config("Injected".into())));
            let (k2, e2) = entry("c", 5);
            assert!(b.append(k2, e2, 1).await.unwrap_err().to_string().contains("Injected"));
            b.done_writing(&c.key, c.bytes, Ok(()));
            assert!(b.next_chunk().await.is_none(), "writers stop after an error");
            b.writer_exited();
            assert!(b.close(false).await.unwrap().to_string().contains("Injected"));
            assert_eq!(b.total_bytes(), 5, "only the unwritten entry remains counted");
        });
    }
}
