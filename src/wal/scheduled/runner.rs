//! Sync runners (HBase 3.x FSHLog `SyncRunner`): tasks that hflush/hsync the writer's file and
//! report back to the consumer.
//!
//! Rules:
//! 1. A request already covered by the watermarks (`txid <= highest_synced`, and for hsync
//!    `txid <= highest_hsynced`) is not synced again, but is still reported as done, so what it
//!    covers is released (a waiting roll depends on it).
//! 2. Before syncing, the runner reads `highest_processed`: everything the consumer wrote up to
//!    then is in the file's buffer, so the sync covers `max(request txid, that)`.
//! 3. The result is reported with the request's epoch; the consumer ignores it if the writer
//!    was swapped or broken since (`core::epoch` rule 2).

use std::time::Duration;

use crate::core::mutant::Mutant;
use crate::env::WalFile;
use crate::sync::{Arc, Ordering};

use super::Scheduled;

/// One sync to perform.
pub(crate) struct SyncRequest {
    pub file: Arc<dyn WalFile>,
    pub txid: u64,
    pub hsync: bool,
    pub epoch: u32,
    pub issued: Duration,
}

impl Scheduled {
    pub(super) fn covered(&self, req: &SyncRequest) -> bool {
        let synced = self.base.highest_synced.load(Ordering::Acquire) >= req.txid;
        synced && (!req.hsync || self.base.highest_hsynced.load(Ordering::Acquire) >= req.txid)
    }

    pub(super) async fn runner_task(self: Arc<Self>, _index: usize, mut rx: tokio::sync::mpsc::Receiver<SyncRequest>) {
        while let Some(req) = rx.recv().await {
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            if self.covered(&req) {
                self.on_sync_completed(req.epoch, req.txid, req.hsync, Duration::ZERO, false);
                continue;
            }
            let txid = req.txid.max(self.base.highest_processed.load(Ordering::Acquire));
            if self.base.mutant(Mutant::CompleteBeforeSync) {
                // Mutant: acknowledges before the data is durable.
                self.on_sync_completed(req.epoch, txid, req.hsync, Duration::ZERO, true);
            }
            let result = if req.hsync { req.file.hsync().await } else { req.file.hflush().await };
            let elapsed = self.base.env.now().saturating_sub(req.issued);
            match result {
                Ok(_) => self.on_sync_completed(req.epoch, txid, req.hsync, elapsed, true),
                Err(e) => self.on_sync_failed(
                    req.epoch,
                    req.txid,
                    &format!("{} of {}: {e}", kind(req.hsync), req.file.path()),
                ),
            }
        }
    }
}

fn kind(hsync: bool) -> &'static str {
    if hsync {
        "hsync"
    } else {
        "hflush"
    }
}
