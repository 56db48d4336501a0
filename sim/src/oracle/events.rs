//! Per-event checks of one incarnation's engine events (see the `oracle` module docs).

use hwal::env::file_name;
use hwal::wal::naming;
use hwal::WalEvent;

use super::{Oracle, Violation};
use crate::dfs::SimDfs;

impl Oracle {
    /// Checks `ev` of incarnation `inc` and updates the model.
    pub fn on_event(&mut self, inc: usize, ev: &WalEvent, dfs: &SimDfs) -> Result<(), Violation> {
        let prefix = self.prefix_acks;
        let archive_check = self.archive_check;
        let m = &mut self.incs[inc];
        let name = m.name.clone();
        match ev {
            WalEvent::WriterOpened { file } => {
                let ino = dfs
                    .inode_of(file)
                    .ok_or_else(|| ("writer-file", format!("{name}: opened {file}, which does not exist")))?;
                let number = naming::parse_file_number(&name, file_name(file))
                    .ok_or_else(|| ("file-numbers", format!("{name}: {file} is not named {name}.<number>")))?;
                if number <= m.last_file_number {
                    return Err((
                        "file-numbers",
                        format!(
                            "{name}: file number {number} of {file} does not exceed the previous {}",
                            m.last_file_number
                        ),
                    ));
                }
                m.last_file_number = number;
                if m.epoch_file.is_empty() {
                    m.epoch_file.insert(0, ino);
                    m.cur_path = Some(file.clone());
                } else {
                    m.pending_file = Some(ino);
                }
            }
            WalEvent::Rolled { epoch, new, .. } => {
                let ino = m
                    .pending_file
                    .take()
                    .or_else(|| dfs.inode_of(new))
                    .ok_or_else(|| ("writer-file", format!("{name}: rolled to {new} without opening it")))?;
                m.epoch_file.insert(*epoch, ino);
                m.cur_epoch = *epoch;
                m.cur_path = Some(new.clone());
            }
            WalEvent::Appended { txid, region, seqid, epoch, .. } => {
                let Some(put) = m.puts.get(txid) else {
                    return Err((
                        "phantom-append",
                        format!("{name}: wrote txid {txid} ({region} seqid {seqid}), which was never appended"),
                    ));
                };
                if put.region.as_ref() != region.as_str() || put.seqid != *seqid {
                    return Err((
                        "phantom-append",
                        format!(
                            "{name}: wrote txid {txid} as {region} seqid {seqid}, but it was appended as {} seqid {}",
                            put.region, put.seqid
                        ),
                    ));
                }
                if *epoch != m.cur_epoch {
                    return Err((
                        "roll-safe-point",
                        format!(
                            "{name}: wrote txid {txid} with epoch {epoch} while the current epoch is {}",
                            m.cur_epoch
                        ),
                    ));
                }
                let ino = *m
                    .epoch_file
                    .get(epoch)
                    .ok_or_else(|| ("writer-file", format!("{name}: no file for epoch {epoch}")))?;
                let end = dfs.len_of(ino);
                m.copies.entry(*txid).or_default().push((ino, end));
                m.by_inode.entry(ino).or_default().push(*txid);
                m.max_written = m.max_written.max(*txid);
            }
            WalEvent::SyncIssued { epoch, txid, .. } if *epoch != m.cur_epoch => {
                return Err((
                    "epoch-fencing",
                    format!("{name}: sync of txid {txid} issued for epoch {epoch}, current is {}", m.cur_epoch),
                ));
            }
            WalEvent::SyncDone { epoch, txid, synced, .. } => {
                // Epoch fencing is the 3.x protocol; a 1.x (classic) runner may finish a sync it
                // was already doing when an append failed, and that sync is real.
                if prefix && (*epoch != m.cur_epoch || m.broken_epochs.contains(epoch)) {
                    return Err((
                        "epoch-fencing",
                        format!(
                            "{name}: SYNC_DONE accepted for epoch {epoch} (txid {txid}); current epoch {}, broken epochs {:?}",
                            m.cur_epoch, m.broken_epochs
                        ),
                    ));
                }
                if *synced < m.last_synced {
                    return Err((
                        "monotone-synced",
                        format!("{name}: highest synced went from {} down to {synced}", m.last_synced),
                    ));
                }
                if *txid > m.max_written {
                    return Err((
                        "sync-beyond-written",
                        format!("{name}: a sync claims txid {txid}, but only up to {} was written", m.max_written),
                    ));
                }
                m.last_synced = *synced;
            }
            WalEvent::Archived { file } => super::archive::on_archived(m, dfs, file, archive_check)?,
            WalEvent::CacheFlush { region, action, seqid } => {
                super::archive::on_cache_flush(m, dfs, region.as_str(), action, *seqid)?
            }
            WalEvent::WriterBroken { epoch, .. } => {
                m.broken_epochs.insert(*epoch);
            }
            WalEvent::FutureCompleted { txid, done } => {
                if let Some(d) = done {
                    if d < txid {
                        return Err((
                            "future-done",
                            format!("{name}: future {txid} completed with done txid {d} < {txid}"),
                        ));
                    }
                }
                if !m.futures_done.insert(*txid) {
                    return Err(("future-once", format!("{name}: the sync future of txid {txid} completed twice")));
                }
                if m.puts.contains_key(txid) && !m.sync_callers.contains(txid) {
                    return Err((
                        "future-once",
                        format!("{name}: a future for txid {txid} completed, but nobody waited for it"),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
