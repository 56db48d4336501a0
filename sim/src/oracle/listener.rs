//! The `WalListener` of one server incarnation: records every event in the trace, runs the
//! per-event checks, records every entry before it is published (`before_append`: the model
//! learns the txid and seqid of a region's own appends), and hands `RegionsToFlush` to the
//! incarnation's flusher. It asks for detail events (`APPEND`, `FUTURE_DONE`), which the
//! oracles need.

use std::sync::Arc;

use hwal::{WalEdit, WalEvent, WalKey, WalListener};

use super::Category;
use crate::cluster::regions::FlushQueue;
use crate::cluster::world::World;
use crate::trace::lock;

/// Listener of incarnation `inc`.
pub struct SimListener {
    world: Arc<World>,
    inc: usize,
    who: Arc<str>,
    flushes: Arc<FlushQueue>,
}

impl SimListener {
    /// A listener for incarnation `inc`, named `who` in the trace.
    pub fn new(world: Arc<World>, inc: usize, who: Arc<str>, flushes: Arc<FlushQueue>) -> Arc<Self> {
        Arc::new(Self { world, inc, who, flushes })
    }
}

impl WalListener for SimListener {
    fn on_event(&self, ev: &WalEvent) {
        self.world.rec.wal(&self.who, ev);
        let result = lock(&self.world.oracle).on_event(self.inc, ev, &self.world.dfs);
        if let Err((check, message)) = result {
            self.world.fail(Category::Correctness, check, message);
        }
        if let WalEvent::RegionsToFlush { regions } = ev {
            self.flushes.push(regions);
        }
    }

    fn before_append(&self, txid: u64, key: &WalKey, edit: &WalEdit) {
        let result = lock(&self.world.oracle).record_append(self.inc, txid, key, edit);
        if let Err((check, message)) = result {
            self.world.fail(Category::Correctness, check, message);
        }
    }

    fn detailed(&self) -> bool {
        true
    }
}
