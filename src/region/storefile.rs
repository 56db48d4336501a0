//! Store files: the immutable output of a flush, one per (family, flush).
//!
//! ```text
//! storefile := "HSTF" | version:u8 = 1 | max_seqid:u64 | family_len:u16 | family
//!              | cell_count:u32 | cell* | crc32c(every byte before it):u32
//! cell      := seqid:u64 | row_len:u32 | row | qualifier_len:u32 | qualifier
//!              | timestamp:u64 | kind:u8 | value_len:u32 | value
//! ```
//! All integers little-endian. `max_seqid` is the flush's sequence id (HBase's `MAX_SEQ_ID_KEY`):
//! every edit of the family with a seqid at or below it is in this file or an older one, none
//! above it is. Replay and split skip cells of the family at or below it.
//!
//! Rules:
//! 1. A flush writes the file under the region's `.tmp/`, closes it (which makes it durable)
//!    and only then renames it into the family directory, so a family directory never holds a
//!    partial file.
//! 2. Reading checks the checksum first, then decodes with every length bounds-checked; any
//!    mismatch is a [`StoreFileError`] naming the file and the offset, never a panic.
//! 3. Cells are checked before encoding (family matches, seqid at most `max_seqid`) and again
//!    after decoding.

use std::io;

use super::error::{RegionError, StoreFileError};
use super::layout;
use super::memstore::StoredCell;
use crate::env::WalFs;
use crate::wal::entry::{Cell, CellKind};

/// The first four bytes of a store file.
pub const STORE_FILE_MAGIC: [u8; 4] = *b"HSTF";
/// The store-file format version.
pub const STORE_FILE_VERSION: u8 = 1;
/// Bytes before the family name: magic, version, max seqid, family length.
const FIXED_HEADER_LEN: usize = 4 + 1 + 8 + 2;

/// One store file, read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFile {
    /// Its path.
    pub path: String,
    /// The family it belongs to.
    pub family: Vec<u8>,
    /// The flush sequence id it was written at.
    pub max_seqid: u64,
    /// Its cells, in memstore order.
    pub cells: Vec<StoredCell>,
}

/// Encodes a store file (rule 3: asserts the cells belong to it).
pub fn encode(family: &[u8], max_seqid: u64, cells: &[StoredCell]) -> Vec<u8> {
    assert!(family.len() <= u16::MAX as usize, "family name too long");
    let mut out = Vec::with_capacity(64 + cells.iter().map(|c| c.cell.estimated_size() + 32).sum::<usize>());
    out.extend_from_slice(&STORE_FILE_MAGIC);
    out.push(STORE_FILE_VERSION);
    out.extend_from_slice(&max_seqid.to_le_bytes());
    out.extend_from_slice(&(family.len() as u16).to_le_bytes());
    out.extend_from_slice(family);
    out.extend_from_slice(&(cells.len() as u32).to_le_bytes());
    for c in cells {
        assert_eq!(c.cell.family, family, "a cell of another family in a store file");
        assert!(c.seqid <= max_seqid, "cell seqid {} above the store file's {max_seqid}", c.seqid);
        out.extend_from_slice(&c.seqid.to_le_bytes());
        put_bytes(&mut out, &c.cell.row);
        put_bytes(&mut out, &c.cell.qualifier);
        out.extend_from_slice(&c.cell.timestamp.to_le_bytes());
        out.push(c.cell.kind.code());
        put_bytes(&mut out, &c.cell.value);
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// A bounds-checked reader that reports absolute offsets.
struct Reader<'a> {
    path: &'a str,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, reason: String) -> StoreFileError {
        StoreFileError { path: self.path.to_string(), offset: self.pos as u64, reason }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], StoreFileError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(self.err(format!("{what}: needs {n} bytes, only {} left", self.buf.len() - self.pos)));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u64(&mut self, what: &str) -> Result<u64, StoreFileError> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes")))
    }
    fn u32(&mut self, what: &str) -> Result<u32, StoreFileError> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn bytes(&mut self, what: &str) -> Result<Vec<u8>, StoreFileError> {
        let n = self.u32(what)? as usize;
        Ok(self.take(n, what)?.to_vec())
    }
}

/// Decodes a store file (rule 2).
pub fn decode(path: &str, bytes: &[u8]) -> Result<StoreFile, StoreFileError> {
    let fail = |offset: usize, reason: String| StoreFileError { path: path.to_string(), offset: offset as u64, reason };
    if bytes.len() < FIXED_HEADER_LEN + 4 + 4 {
        return Err(fail(0, format!("file of {} bytes is shorter than an empty store file", bytes.len())));
    }
    if bytes[..4] != STORE_FILE_MAGIC {
        return Err(fail(0, format!("expected magic \"HSTF\", found {:02x?}", &bytes[..4])));
    }
    if bytes[4] != STORE_FILE_VERSION {
        return Err(fail(4, format!("unsupported store file version {} (expected {STORE_FILE_VERSION})", bytes[4])));
    }
    let body_len = bytes.len() - 4;
    let stored = u32::from_le_bytes(bytes[body_len..].try_into().expect("4 bytes"));
    let computed = crc32c::crc32c(&bytes[..body_len]);
    if stored != computed {
        let reason = format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}");
        return Err(fail(body_len, reason));
    }
    let mut r = Reader { path, buf: &bytes[..body_len], pos: 5 };
    let max_seqid = r.u64("max seqid")?;
    let family_len = u16::from_le_bytes(r.take(2, "family length")?.try_into().expect("2 bytes")) as usize;
    let family = r.take(family_len, "family")?.to_vec();
    let count = r.u32("cell count")?;
    let mut cells = Vec::with_capacity((count as usize).min(body_len / 30));
    for i in 0..count {
        cells.push(decode_cell(&mut r, &family, max_seqid, i)?);
    }
    if r.pos != body_len {
        return Err(r.err(format!("{} unexpected bytes after cell {count}", body_len - r.pos)));
    }
    Ok(StoreFile { path: path.to_string(), family, max_seqid, cells })
}

fn decode_cell(r: &mut Reader<'_>, family: &[u8], max_seqid: u64, i: u32) -> Result<StoredCell, StoreFileError> {
    let at = r.pos;
    let seqid = r.u64("cell seqid")?;
    let row = r.bytes("cell row")?;
    let qualifier = r.bytes("cell qualifier")?;
    let timestamp = r.u64("cell timestamp")?;
    let code = r.take(1, "cell kind")?[0];
    let kind = CellKind::from_code(code).ok_or_else(|| r.err(format!("cell {i}: unknown cell kind {code}")))?;
    let value = r.bytes("cell value")?;
    if seqid > max_seqid {
        let reason = format!("cell {i}: seqid {seqid} above the file's max seqid {max_seqid}");
        return Err(StoreFileError { path: r.path.to_string(), offset: at as u64, reason });
    }
    let cell = Cell { row, family: family.to_vec(), qualifier, timestamp, kind, value };
    Ok(StoredCell { cell, seqid })
}

/// Rule 1: writes the store file of `family` at `max_seqid` and moves it into place.
pub async fn write(
    fs: &dyn WalFs,
    table: &str,
    region: &str,
    family: &[u8],
    max_seqid: u64,
    cells: Vec<StoredCell>,
) -> Result<StoreFile, RegionError> {
    let io_err = |op: &'static str, path: &str, e: io::Error| RegionError::io(region, op, path, e);
    let bytes = encode(family, max_seqid, &cells);
    let tmp_dir = layout::tmp_dir(table, region);
    fs.mkdirs(&tmp_dir).await.map_err(|e| io_err("mkdirs", &tmp_dir, e))?;
    let name = layout::seqid_name(max_seqid);
    let tmp = format!("{tmp_dir}/{}.{name}", String::from_utf8_lossy(family));
    if fs.metadata(&tmp).await.map_err(|e| io_err("stat", &tmp, e))?.is_some() {
        fs.delete(&tmp).await.map_err(|e| io_err("delete", &tmp, e))?;
    }
    let file = fs.create(&tmp).await.map_err(|e| io_err("create", &tmp, e))?;
    file.append(&bytes).map_err(|e| io_err("append", &tmp, e))?;
    file.close().await.map_err(|e| io_err("close", &tmp, e))?;
    let dir = layout::family_dir(table, region, family);
    fs.mkdirs(&dir).await.map_err(|e| io_err("mkdirs", &dir, e))?;
    let path = format!("{dir}/{name}");
    fs.rename(&tmp, &path).await.map_err(|e| io_err("rename", &tmp, e))?;
    Ok(StoreFile { path, family: family.to_vec(), max_seqid, cells })
}

/// Reads every store file of the family directory `dir`, oldest first. Names that are not
/// 19-digit seqids are ignored with a warning.
pub async fn read_family(fs: &dyn WalFs, region: &str, dir: &str) -> Result<Vec<StoreFile>, RegionError> {
    let entries = fs.list(dir).await.map_err(|e| RegionError::io(region, "list", dir, e))?;
    let mut files = Vec::new();
    for e in entries {
        if e.is_dir || layout::parse_recovered_edits(&e.name).is_none() {
            tracing::warn!(target: "hwal::region", dir, name = %e.name, "ignoring a non-store file");
            continue;
        }
        let path = format!("{dir}/{}", e.name);
        let bytes = fs.read(&path).await.map_err(|e| RegionError::io(region, "read", &path, e))?;
        files.push(decode(&path, &bytes)?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(row: &str, seqid: u64) -> StoredCell {
        StoredCell { cell: Cell::put(row.as_bytes(), b"f", b"q", 7, b"value"), seqid }
    }

    /// A store file round-trips its family, max seqid and cells.
    #[test]
    fn round_trip() {
        let cells = vec![cell("a", 3), cell("b", 5)];
        let bytes = encode(b"f", 9, &cells);
        let f = decode("sf", &bytes).unwrap();
        assert_eq!((f.family.as_slice(), f.max_seqid, f.cells), (&b"f"[..], 9, cells));
    }

    /// Every single-byte flip and every truncation is reported as an error naming the file,
    /// never decoded into different cells and never a panic.
    #[test]
    fn damage_is_always_detected() {
        let bytes = encode(b"f", 9, &[cell("a", 3), cell("b", 5)]);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            let e = decode("sf", &b).unwrap_err();
            assert!(e.to_string().starts_with("sf: "), "{e}");
        }
        for len in 0..bytes.len() {
            assert!(decode("sf", &bytes[..len]).is_err(), "truncated to {len} bytes decoded");
        }
    }
}
