//! The `WalListener` of one server incarnation: records every event in the trace and runs the
//! per-event checks. It asks for detail events (`APPEND`, `FUTURE_DONE`), which the oracles need.

use std::sync::Arc;

use hwal::{WalEvent, WalListener};

use super::Category;
use crate::cluster::world::World;
use crate::trace::lock;

/// Listener of incarnation `inc`.
pub struct SimListener {
    world: Arc<World>,
    inc: usize,
    who: Arc<str>,
}

impl SimListener {
    /// A listener for incarnation `inc`, named `who` in the trace.
    pub fn new(world: Arc<World>, inc: usize, who: Arc<str>) -> Arc<Self> {
        Arc::new(Self { world, inc, who })
    }
}

impl WalListener for SimListener {
    fn on_event(&self, ev: &WalEvent) {
        self.world.rec.wal(&self.who, ev);
        let result = lock(&self.world.oracle).on_event(self.inc, ev, &self.world.dfs);
        if let Err((check, message)) = result {
            self.world.fail(Category::Correctness, check, message);
        }
    }

    fn detailed(&self) -> bool {
        true
    }
}
