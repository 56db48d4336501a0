//! The log writer: one open WAL file, its header, framed entries and trailer.

use std::io;

use crate::env::{WalFile, WalFs};
use crate::format::{encode_header, encode_trailer, FileHeader, Trailer};
use crate::sync::Arc;

use super::record::AppendRecord;

/// One open WAL file.
pub(crate) struct LogWriter {
    file: Arc<dyn WalFile>,
    file_number: u64,
    entries: u64,
    max_txid: u64,
    max_seqid: u64,
}

impl LogWriter {
    /// Creates `path` and writes the header (buffered).
    pub async fn create(fs: &dyn WalFs, path: &str, header: &FileHeader) -> io::Result<Self> {
        let file = fs.create(path).await?;
        let mut buf = Vec::with_capacity(64);
        encode_header(header, &mut buf);
        file.append(&buf)?;
        Ok(Self { file, file_number: header.file_number, entries: 0, max_txid: 0, max_seqid: 0 })
    }

    /// Appends one framed entry (buffered in the file).
    pub fn append(&mut self, rec: &AppendRecord) -> io::Result<()> {
        self.file.append(&rec.frame)?;
        self.entries += 1;
        self.max_txid = self.max_txid.max(rec.txid);
        self.max_seqid = self.max_seqid.max(rec.seqid);
        Ok(())
    }

    /// Bytes written so far, header included.
    pub fn length(&self) -> u64 {
        self.file.len()
    }

    /// The file, for sync runners.
    pub fn file(&self) -> &Arc<dyn WalFile> {
        &self.file
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        self.file.path()
    }

    /// The file number.
    pub fn file_number(&self) -> u64 {
        self.file_number
    }

    /// Highest txid written.
    pub fn max_txid(&self) -> u64 {
        self.max_txid
    }

    /// Writes the trailer and closes (which makes the file durable). After a broken stream only
    /// the close is tried.
    pub async fn close(&self, broken: bool) -> io::Result<()> {
        if broken {
            return self.file.close().await;
        }
        let mut buf = Vec::with_capacity(32);
        let trailer = Trailer { entries: self.entries, max_txid: self.max_txid, max_seqid: self.max_seqid };
        encode_trailer(&trailer, &mut buf);
        self.file.append(&buf)?;
        self.file.close().await
    }
}
