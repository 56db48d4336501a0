//! The log cleaner (HBase `LogCleaner` with `TimeToLiveLogCleaner`): deletes archived WAL files
//! from `oldWALs/` once they are older than a TTL, unless something still holds them.
//!
//! Rules:
//! 1. Age counts from the file's modification time, which the archiver stamps at archive time.
//!    A file from the future (clock skew: negative age) is kept.
//! 2. A held file (e.g. replication still reading it, `LogCleaner::hold`) is kept whatever its
//!    age; every delegate must agree before a file goes.
//! 3. Names that are not WAL names (`<server>.<number>`) are deleted directly, as HBase does.

use std::collections::BTreeSet;
use std::io;
use std::time::Duration;

use crate::env::{join, Env};
use crate::sync::{lock, Arc, Mutex};

use super::listener::{WalEvent, WalListener};
use super::naming::{parse_wal_name, OLD_WALS_DIR};

/// What one cleaner pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanerReport {
    /// Deleted files (TTL expired, or not a WAL name).
    pub deleted: Vec<String>,
    /// Expired files kept because they are held.
    pub held: Vec<String>,
    /// Files younger than the TTL (or from the future).
    pub young: Vec<String>,
}

/// Deletes expired archived WAL files.
pub struct LogCleaner {
    env: Arc<dyn Env>,
    ttl: Duration,
    holds: Mutex<BTreeSet<String>>,
    listener: Arc<dyn WalListener>,
}

impl LogCleaner {
    /// A cleaner of `oldWALs/` with the given TTL.
    pub fn new(env: Arc<dyn Env>, ttl: Duration, listener: Arc<dyn WalListener>) -> Self {
        Self { env, ttl, holds: Mutex::new(BTreeSet::new()), listener }
    }

    /// Rule 2: keeps `name` until released.
    pub fn hold(&self, name: &str) {
        lock(&self.holds).insert(name.to_string());
    }

    /// Releases a hold.
    pub fn release(&self, name: &str) {
        lock(&self.holds).remove(name);
    }

    /// One pass over `oldWALs/`.
    pub async fn run_once(&self) -> io::Result<CleanerReport> {
        let fs = self.env.fs();
        let mut report = CleanerReport::default();
        if fs.metadata(OLD_WALS_DIR).await?.is_none() {
            return Ok(report);
        }
        let now = self.env.wall_clock_ms();
        let ttl = self.ttl.as_millis() as u64;
        for entry in fs.list(OLD_WALS_DIR).await? {
            if entry.is_dir {
                continue;
            }
            let path = join(OLD_WALS_DIR, &entry.name);
            let deletable = if parse_wal_name(&entry.name).is_none() {
                true // rule 3
            } else {
                let Some(meta) = fs.metadata(&path).await? else { continue };
                let expired = now >= meta.modified_ms && now - meta.modified_ms > ttl;
                if !expired {
                    report.young.push(entry.name);
                    continue;
                }
                if lock(&self.holds).contains(&entry.name) {
                    report.held.push(entry.name);
                    continue;
                }
                true
            };
            if deletable {
                fs.delete(&path).await?;
                self.listener.on_event(&WalEvent::Cleaned { file: entry.name.clone() });
                report.deleted.push(entry.name);
            }
        }
        Ok(report)
    }
}
