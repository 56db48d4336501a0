//! Record payloads: how an [`Entry`] and a [`Trailer`] become the bytes inside a frame.
//!
//! Byte 0 of every payload is the record type ([`RECORD_ENTRY`] or [`RECORD_TRAILER`]). The rest
//! is a sequence of fields, integers as varints (see [`super::varint`]), byte strings and text as
//! a varint length followed by that many bytes:
//!
//! ```text
//! entry   := 0x01 txid region:str table:str seqid write_time_ms orig_seqid
//!            n_cluster_ids (cluster_id:16 bytes big-endian)* n_cells cell*
//! cell    := row:bytes family:bytes qualifier:bytes timestamp kind:u8 value:bytes
//! trailer := 0x02 entries max_txid max_seqid
//! ```
//!
//! Decoding is defensive, because the payload may be corrupt in ways the checksum missed (or be
//! read without a checksum in tests):
//! 1. every read is bounds-checked and reports the payload position it failed at;
//! 2. a length prefix or element count is checked against the bytes that remain *before*
//!    anything is allocated, so a corrupt length can never allocate more than the payload size;
//! 3. text must be UTF-8 and a cell kind a known [`CellKind`] code;
//! 4. the payload must be consumed exactly: trailing bytes are corruption.

use std::sync::Arc;

use super::varint::{self, VarintError};
use crate::wal::entry::{Cell, CellKind, Entry, RegionName, WalEdit, WalKey};

/// Record type of an entry payload.
pub const RECORD_ENTRY: u8 = 1;
/// Record type of the trailer payload.
pub const RECORD_TRAILER: u8 = 2;

/// Bytes of a cluster id.
const CLUSTER_ID_LEN: usize = 16;
/// The fewest bytes a cell can take: five one-byte varints (three empty keys, timestamp, empty
/// value length) plus the kind byte.
const MIN_CELL_LEN: usize = 6;

/// The summary written in a cleanly closed file's trailer frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Trailer {
    /// Number of entry frames in the file.
    pub entries: u64,
    /// Highest txid of the file's entries (0 when there are none).
    pub max_txid: u64,
    /// Highest region sequence id of the file's entries (0 when there are none).
    pub max_seqid: u64,
}

/// A payload that could not be decoded: where (a position inside the payload) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Position inside the payload where decoding failed.
    pub at: usize,
    /// What was found and what was expected.
    pub reason: String,
}

impl DecodeError {
    fn new(at: usize, reason: impl Into<String>) -> Self {
        Self { at, reason: reason.into() }
    }

    fn in_cell(mut self, index: usize) -> Self {
        self.reason = format!("cell {index}: {}", self.reason);
        self
    }
}

/// A bounds-checked reader over one payload (or header body).
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        let byte = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| DecodeError::new(self.pos, format!("{what}: expected 1 byte, found end of payload")))?;
        self.pos += 1;
        Ok(byte)
    }

    /// Reads one varint.
    pub fn varint(&mut self, what: &str) -> Result<u64, DecodeError> {
        let (value, len) = varint::decode(&self.buf[self.pos..])
            .map_err(|e: VarintError| DecodeError::new(self.pos, format!("{what}: {}", e.describe())))?;
        self.pos += len;
        Ok(value)
    }

    /// Reads a varint that counts items of at least `min_item_len` bytes each, checking that
    /// that many items can fit in what remains (so the count is safe to pre-allocate).
    pub fn count(&mut self, what: &str, min_item_len: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.varint(what)?;
        let fits =
            usize::try_from(n).ok().filter(|&n| n.checked_mul(min_item_len).is_some_and(|b| b <= self.remaining()));
        fits.ok_or_else(|| {
            let reason = format!(
                "{what}: count {n} needs at least {} bytes, only {} remain",
                u128::from(n) * min_item_len as u128,
                self.remaining()
            );
            DecodeError::new(at, reason)
        })
    }

    /// Reads exactly `len` raw bytes.
    fn raw(&mut self, len: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() {
            let reason = format!("{what}: expected {len} bytes, only {} remain", self.remaining());
            return Err(DecodeError::new(self.pos, reason));
        }
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// Reads a varint length prefix and that many bytes.
    pub fn bytes(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let at = self.pos;
        let len = self.varint(what)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.raw(len, what).map_err(|e| DecodeError::new(at, e.reason))
    }

    /// Reads a length-prefixed UTF-8 string.
    pub fn text(&mut self, what: &str) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let bytes = self.bytes(what)?;
        std::str::from_utf8(bytes).map_err(|e| DecodeError::new(at, format!("{what}: expected UTF-8 text: {e}")))
    }

    /// Checks that the whole buffer was consumed.
    pub fn finish(self, what: &str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::new(self.pos, format!("{what}: {n} unexpected trailing bytes after the last field"))),
        }
    }
}

/// Appends a varint length prefix and the bytes.
#[inline]
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    varint::put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[inline]
fn bytes_len(bytes: &[u8]) -> usize {
    varint::encoded_len(bytes.len() as u64) + bytes.len()
}

fn cell_len(c: &Cell) -> usize {
    bytes_len(&c.row)
        + bytes_len(&c.family)
        + bytes_len(&c.qualifier)
        + varint::encoded_len(c.timestamp)
        + 1
        + bytes_len(&c.value)
}

/// The exact length of [`put_entry`]'s output for `e` (record type byte included).
pub fn entry_payload_len(e: &Entry) -> usize {
    let k = &e.key;
    let cells = &e.edit.cells;
    1 + varint::encoded_len(e.txid)
        + bytes_len(k.region.as_str().as_bytes())
        + bytes_len(k.table.as_bytes())
        + varint::encoded_len(k.seqid)
        + varint::encoded_len(k.write_time_ms)
        + varint::encoded_len(k.orig_seqid)
        + varint::encoded_len(k.cluster_ids.len() as u64)
        + CLUSTER_ID_LEN * k.cluster_ids.len()
        + varint::encoded_len(cells.len() as u64)
        + cells.iter().map(cell_len).sum::<usize>()
}

/// Appends the entry payload (record type byte included) to `out`.
pub fn put_entry(e: &Entry, out: &mut Vec<u8>) {
    let k = &e.key;
    out.push(RECORD_ENTRY);
    varint::put(out, e.txid);
    put_bytes(out, k.region.as_str().as_bytes());
    put_bytes(out, k.table.as_bytes());
    varint::put(out, k.seqid);
    varint::put(out, k.write_time_ms);
    varint::put(out, k.orig_seqid);
    varint::put(out, k.cluster_ids.len() as u64);
    for id in &k.cluster_ids {
        out.extend_from_slice(&id.to_be_bytes());
    }
    varint::put(out, e.edit.cells.len() as u64);
    for c in &e.edit.cells {
        put_bytes(out, &c.row);
        put_bytes(out, &c.family);
        put_bytes(out, &c.qualifier);
        varint::put(out, c.timestamp);
        out.push(c.kind.code());
        put_bytes(out, &c.value);
    }
}

fn decode_cell(cur: &mut Cursor<'_>) -> Result<Cell, DecodeError> {
    let row = cur.bytes("row")?.to_vec();
    let family = cur.bytes("family")?.to_vec();
    let qualifier = cur.bytes("qualifier")?.to_vec();
    let timestamp = cur.varint("timestamp")?;
    let at = cur.pos;
    let code = cur.u8("kind")?;
    let kind = CellKind::from_code(code).ok_or_else(|| {
        let reason = format!("kind: unknown cell kind code {code} (expected 4, 8, 10, 12 or 14)");
        DecodeError::new(at, reason)
    })?;
    let value = cur.bytes("value")?.to_vec();
    Ok(Cell { row, family, qualifier, timestamp, kind, value })
}

fn expect_record_type(cur: &mut Cursor<'_>, expected: u8) -> Result<(), DecodeError> {
    let found = cur.u8("record type")?;
    if found == expected {
        Ok(())
    } else {
        Err(DecodeError::new(0, format!("record type {found}, expected {expected}")))
    }
}

/// Decodes a whole entry payload (record type byte included).
pub fn decode_entry(payload: &[u8]) -> Result<Entry, DecodeError> {
    let mut cur = Cursor::new(payload);
    expect_record_type(&mut cur, RECORD_ENTRY)?;
    let txid = cur.varint("txid")?;
    let region = RegionName::new(cur.text("region")?);
    let table: Arc<str> = Arc::from(cur.text("table")?);
    let seqid = cur.varint("seqid")?;
    let write_time_ms = cur.varint("write_time_ms")?;
    let orig_seqid = cur.varint("orig_seqid")?;
    let n_ids = cur.count("cluster id count", CLUSTER_ID_LEN)?;
    let mut cluster_ids = Vec::with_capacity(n_ids);
    for _ in 0..n_ids {
        let raw = cur.raw(CLUSTER_ID_LEN, "cluster id")?;
        let mut id = [0u8; CLUSTER_ID_LEN];
        id.copy_from_slice(raw);
        cluster_ids.push(u128::from_be_bytes(id));
    }
    let n_cells = cur.count("cell count", MIN_CELL_LEN)?;
    let mut cells = Vec::with_capacity(n_cells);
    for i in 0..n_cells {
        cells.push(decode_cell(&mut cur).map_err(|e| e.in_cell(i))?);
    }
    cur.finish("entry")?;
    let key = WalKey { region, table, seqid, write_time_ms, cluster_ids, orig_seqid };
    Ok(Entry { txid, key, edit: WalEdit::new(cells) })
}

/// The exact length of [`put_trailer`]'s output for `t`.
pub fn trailer_payload_len(t: &Trailer) -> usize {
    1 + varint::encoded_len(t.entries) + varint::encoded_len(t.max_txid) + varint::encoded_len(t.max_seqid)
}

/// Appends the trailer payload (record type byte included) to `out`.
pub fn put_trailer(t: &Trailer, out: &mut Vec<u8>) {
    out.push(RECORD_TRAILER);
    varint::put(out, t.entries);
    varint::put(out, t.max_txid);
    varint::put(out, t.max_seqid);
}

/// Decodes a whole trailer payload (record type byte included).
pub fn decode_trailer(payload: &[u8]) -> Result<Trailer, DecodeError> {
    let mut cur = Cursor::new(payload);
    expect_record_type(&mut cur, RECORD_TRAILER)?;
    let entries = cur.varint("trailer entry count")?;
    let max_txid = cur.varint("trailer max txid")?;
    let max_seqid = cur.varint("trailer max seqid")?;
    cur.finish("trailer")?;
    Ok(Trailer { entries, max_txid, max_seqid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_entry() -> Entry {
        let mut key = WalKey::new(RegionName::new("region-ä"), "t1", 1_700_000_000_000);
        key.seqid = 42;
        key.orig_seqid = 7;
        key.cluster_ids = vec![1, u128::MAX];
        let mut edit = WalEdit::put(b"row", b"cf", b"q", u64::MAX, b"");
        edit.cells.push(Cell {
            row: b"row".to_vec(),
            family: b"cf".to_vec(),
            qualifier: Vec::new(),
            timestamp: 0,
            kind: CellKind::DeleteFamily,
            value: vec![0xff; 300],
        });
        Entry { txid: 9, key, edit }
    }

    fn encode(e: &Entry) -> Vec<u8> {
        let mut out = Vec::new();
        put_entry(e, &mut out);
        out
    }

    /// An entry with every field populated decodes to itself, and the length function is exact.
    #[test]
    fn entry_round_trip_and_exact_length() {
        let e = sample_entry();
        let bytes = encode(&e);
        assert_eq!(bytes.len(), entry_payload_len(&e));
        assert_eq!(decode_entry(&bytes), Ok(e));
    }

    /// An entry with no cells and no cluster ids (a seqid-only edit) round-trips.
    #[test]
    fn empty_entry_round_trip() {
        let e = Entry { txid: 0, key: WalKey::new("".into(), "", 0), edit: WalEdit::default() };
        let bytes = encode(&e);
        assert_eq!(bytes.len(), entry_payload_len(&e));
        assert_eq!(decode_entry(&bytes), Ok(e));
    }

    /// Every proper prefix of a payload fails to decode (no prefix is a different valid entry).
    #[test]
    fn every_prefix_fails() {
        let bytes = encode(&sample_entry());
        for cut in 0..bytes.len() {
            assert!(decode_entry(&bytes[..cut]).is_err(), "prefix of {cut} bytes decoded");
        }
    }

    /// Trailing bytes after the last cell are corruption, reported at their position.
    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&sample_entry());
        let len = bytes.len();
        bytes.push(0);
        let err = decode_entry(&bytes).unwrap_err();
        assert_eq!(err.at, len);
        assert!(err.reason.contains("trailing"), "{}", err.reason);
    }

    /// An unknown cell kind code is rejected, naming the cell and the code.
    #[test]
    fn unknown_cell_kind_is_rejected() {
        let e = Entry { txid: 1, key: WalKey::new("r".into(), "t", 0), edit: WalEdit::put(b"a", b"b", b"c", 5, b"v") };
        let mut bytes = encode(&e);
        // The kind byte sits just before the value's length prefix and the 1-byte value.
        let kind_at = bytes.len() - 3;
        assert_eq!(bytes[kind_at], CellKind::Put.code());
        bytes[kind_at] = 5;
        let err = decode_entry(&bytes).unwrap_err();
        assert_eq!(err.at, kind_at);
        assert!(err.reason.contains("cell 0") && err.reason.contains("code 5"), "{}", err.reason);
    }

    /// A huge length prefix or count fails cleanly instead of allocating.
    #[test]
    fn huge_lengths_and_counts_fail_without_allocating() {
        let mut bytes = vec![RECORD_ENTRY, 1];
        varint::put(&mut bytes, u64::MAX); // region length
        let err = decode_entry(&bytes).unwrap_err();
        assert_eq!(err.at, 2);
        assert!(err.reason.starts_with("region:"), "{}", err.reason);

        let mut bytes = vec![RECORD_ENTRY, 1, 0, 0, 0, 0, 0];
        varint::put(&mut bytes, u64::MAX); // cluster id count
        let err = decode_entry(&bytes).unwrap_err();
        assert_eq!(err.at, 7);
        assert!(err.reason.contains("cluster id count"), "{}", err.reason);

        let mut bytes = vec![RECORD_ENTRY, 1, 0, 0, 0, 0, 0, 0];
        varint::put(&mut bytes, 1 << 40); // cell count
        assert!(decode_entry(&bytes).unwrap_err().reason.contains("cell count"));
    }

    /// Region names must be UTF-8.
    #[test]
    fn invalid_utf8_is_rejected() {
        let bytes = vec![RECORD_ENTRY, 1, 1, 0xff, 0, 0, 0, 0, 0, 0];
        let err = decode_entry(&bytes).unwrap_err();
        assert_eq!(err.at, 2);
        assert!(err.reason.contains("UTF-8"), "{}", err.reason);
    }

    /// The trailer round-trips, and an entry payload is not mistaken for a trailer.
    #[test]
    fn trailer_round_trip_and_type_check() {
        let t = Trailer { entries: 3, max_txid: u64::MAX, max_seqid: 128 };
        let mut bytes = Vec::new();
        put_trailer(&t, &mut bytes);
        assert_eq!(bytes.len(), trailer_payload_len(&t));
        assert_eq!(decode_trailer(&bytes), Ok(t));
        assert!(decode_trailer(&encode(&sample_entry())).is_err());
        assert!(decode_entry(&bytes).is_err());
    }
}
