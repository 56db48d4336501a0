//! Reading a whole log file: header, entry frames, and how the file ends.
//!
//! The reader walks frames from the end of the header and stops at the first frame that is not a
//! complete, intact entry. What it stopped at decides the [`TailState`]:
//! 1. end of file exactly on a frame boundary → [`TailState::Open`] (the writer never closed);
//! 2. a zero frame header (12 zero bytes, or at least 4 zero bytes when fewer than 12 remain)
//!    → the start of a preallocated, zero-filled region: every byte after it must be zero
//!    ([`TailState::Open`]), else corruption at the first non-zero byte;
//! 3. a trailer frame that matches the entries read, followed by the end magic and end of file
//!    → [`TailState::Clean`];
//! 4. a frame (or trailer + end magic) cut off by the end of the file → [`TailState::Torn`];
//!    the frame header checksum guarantees the length it trusts is the length that was written,
//!    so only a truncation can produce this;
//! 5. anything else is corruption: [`FormatError::Corrupt`], or [`TailState::Corrupt`] in
//!    [`RecoveryMode::TolerateAnyCorruption`].
//!
//! Entries before the stopping point are always returned in file order; a truncated file always
//! reads as a prefix of the entries of the complete file.

use super::codec::{self, Trailer, RECORD_ENTRY, RECORD_TRAILER};
use super::error::FormatError;
use super::frame::{check_frame_header, payload_len_in_bounds, FrameHeaderCheck, END_MAGIC, FRAME_HEADER_LEN};
use super::header::{read_header, FileHeader};
use crate::wal::entry::Entry;

/// How strictly a reader treats a file that does not end cleanly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RecoveryMode {
    /// A torn tail is an error ([`FormatError::TornTail`]), as is any corruption.
    AbsoluteConsistency,
    /// A torn tail is normal (the writer crashed mid-write); corruption is an error. The default,
    /// matching HBase splitting, which treats EOF as the end of a crashed server's log.
    #[default]
    TolerateTailCorruption,
    /// Corruption ends the read like a torn tail does: the entries before it are returned with
    /// [`TailState::Corrupt`] (HBase's `skipErrors`).
    TolerateAnyCorruption,
}

/// One entry and where it sits in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadEntry {
    /// Offset of the entry's frame header.
    pub offset: u64,
    /// Bytes of the frame, header included.
    pub framed_len: u32,
    /// The decoded entry.
    pub entry: Entry,
}

/// How the readable part of a file ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailState {
    /// A trailer frame and the end magic, and nothing after: the writer closed the file.
    Clean {
        /// The trailer's summary (it matches the entries read).
        trailer: Trailer,
    },
    /// The last frame is complete and no trailer follows (or only a zero-filled region does):
    /// the writer never closed the file.
    Open,
    /// The file ends inside a frame, or inside the trailer frame or end magic.
    Torn {
        /// Start of the incomplete frame (for a torn trailer or end magic: the trailer frame).
        offset: u64,
        /// Bytes from `offset` to the end of the file.
        bytes: u64,
    },
    /// Corruption ended the read. Only in [`RecoveryMode::TolerateAnyCorruption`].
    Corrupt {
        /// Start of the corrupt frame, or the first offending byte (non-zero byte in a zero
        /// region, byte after the end magic, bad end magic).
        offset: u64,
        /// What was found and what was expected.
        reason: String,
    },
}

/// Everything read from one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRead {
    /// The file header.
    pub header: FileHeader,
    /// The intact entries, in file order.
    pub entries: Vec<ReadEntry>,
    /// How the file ended.
    pub tail: TailState,
    /// Offset just past the last good frame: where a torn or corrupt frame, or a zero region,
    /// starts; the file length for a [`TailState::Clean`] file (trailer and end magic count as
    /// one good unit); the header length for a file without intact frames.
    pub valid_len: u64,
}

/// Where the frame walk stopped, before the recovery mode is applied.
enum Stop {
    End { tail: TailState, valid_len: usize },
    Torn { offset: usize, bytes: usize },
    Corrupt { offset: usize, valid_len: usize, reason: String },
}

/// One step of the frame walk.
enum Step {
    Entry(ReadEntry),
    Trailer { trailer: Trailer, framed_len: usize },
    Stop(Stop),
}

fn corrupt_at(offset: usize, reason: String) -> Stop {
    Stop::Corrupt { offset, valid_len: offset, reason }
}

/// Reads a whole log file held in `bytes`; `path` names it in errors.
pub fn read_log(path: &str, bytes: &[u8], mode: RecoveryMode) -> Result<LogRead, FormatError> {
    let (header, header_len) = read_header(path, bytes)?;
    let mut entries = Vec::new();
    let stop = walk_frames(bytes, header_len, &mut entries);
    let (tail, valid_len) = match stop {
        Stop::End { tail, valid_len } => (tail, valid_len),
        Stop::Torn { offset, .. } if mode == RecoveryMode::AbsoluteConsistency => {
            return Err(FormatError::TornTail { path: path.to_string(), offset: offset as u64 });
        }
        Stop::Torn { offset, bytes } => (TailState::Torn { offset: offset as u64, bytes: bytes as u64 }, offset),
        Stop::Corrupt { offset, valid_len, reason } => {
            if mode != RecoveryMode::TolerateAnyCorruption {
                return Err(FormatError::Corrupt { path: path.to_string(), offset: offset as u64, reason });
            }
            (TailState::Corrupt { offset: offset as u64, reason }, valid_len)
        }
    };
    debug_assert!(valid_len >= header_len && valid_len <= bytes.len());
    Ok(LogRead { header, entries, tail, valid_len: valid_len as u64 })
}

fn walk_frames(bytes: &[u8], mut pos: usize, entries: &mut Vec<ReadEntry>) -> Stop {
    loop {
        match next_frame(bytes, pos) {
            Step::Entry(entry) => {
                pos += entry.framed_len as usize;
                entries.push(entry);
            }
            Step::Trailer { trailer, framed_len } => {
                return after_trailer(bytes, pos, framed_len, trailer, entries);
            }
            Step::Stop(stop) => return stop,
        }
    }
}

/// Reads the frame at `pos` (a frame boundary).
fn next_frame(bytes: &[u8], pos: usize) -> Step {
    let rest = &bytes[pos..];
    let Some(header) = rest.first_chunk::<FRAME_HEADER_LEN>() else {
        return Step::Stop(short_frame_header(rest, pos));
    };
    let h = match check_frame_header(header) {
        FrameHeaderCheck::Zero => return Step::Stop(zero_region(bytes, pos)),
        FrameHeaderCheck::Corrupt(reason) => return Step::Stop(corrupt_at(pos, reason)),
        FrameHeaderCheck::Valid(h) => h,
    };
    let framed_len = FRAME_HEADER_LEN + h.payload_len as usize;
    let Some(payload) = rest.get(FRAME_HEADER_LEN..framed_len) else {
        return Step::Stop(Stop::Torn { offset: pos, bytes: rest.len() });
    };
    let computed = crc32c::crc32c(payload);
    if computed != h.payload_crc {
        let reason = format!(
            "frame payload checksum mismatch: stored {:#010x}, computed {computed:#010x} over {} payload bytes",
            h.payload_crc, h.payload_len
        );
        return Step::Stop(corrupt_at(pos, reason));
    }
    let payload_at = pos + FRAME_HEADER_LEN;
    let undecodable = |kind: &str, e: codec::DecodeError| {
        let reason = format!("undecodable {kind} payload at file offset {}: {}", payload_at + e.at, e.reason);
        Step::Stop(corrupt_at(pos, reason))
    };
    match payload[0] {
        RECORD_ENTRY => match codec::decode_entry(payload) {
            Ok(entry) => Step::Entry(ReadEntry { offset: pos as u64, framed_len: framed_len as u32, entry }),
            Err(e) => undecodable("entry", e),
        },
        RECORD_TRAILER => match codec::decode_trailer(payload) {
            Ok(trailer) => Step::Trailer { trailer, framed_len },
            Err(e) => undecodable("trailer", e),
        },
        other => Step::Stop(corrupt_at(
            pos,
            format!("unknown record type {other} (expected {RECORD_ENTRY} = entry or {RECORD_TRAILER} = trailer)"),
        )),
    }
}

/// Fewer than [`FRAME_HEADER_LEN`] bytes remain at a frame boundary.
fn short_frame_header(rest: &[u8], pos: usize) -> Stop {
    if rest.is_empty() {
        return Stop::End { tail: TailState::Open, valid_len: pos };
    }
    if let Some(len_bytes) = rest.first_chunk::<4>() {
        // A written frame never starts with a zero length, so 4+ zeros are a zero region.
        if rest.iter().all(|&b| b == 0) {
            return Stop::End { tail: TailState::Open, valid_len: pos };
        }
        let len = u32::from_le_bytes(*len_bytes);
        if !payload_len_in_bounds(len) {
            let reason =
                format!("frame payload length {len} out of bounds in a {}-byte partial frame header", rest.len());
            return corrupt_at(pos, reason);
        }
    }
    Stop::Torn { offset: pos, bytes: rest.len() }
}

/// A zero frame header at `pos`: everything from there on must be zero.
fn zero_region(bytes: &[u8], pos: usize) -> Stop {
    match bytes[pos..].iter().position(|&b| b != 0) {
        None => Stop::End { tail: TailState::Open, valid_len: pos },
        Some(i) => Stop::Corrupt {
            offset: pos + i,
            valid_len: pos,
            reason: format!(
                "non-zero byte {:#04x} in the zero-filled region that starts at offset {pos} \
                 (expected only zeros after a zero frame header)",
                bytes[pos + i]
            ),
        },
    }
}

/// What the trailer must say about `entries`.
fn summarize(entries: &[ReadEntry]) -> Trailer {
    Trailer {
        entries: entries.len() as u64,
        max_txid: entries.iter().map(|e| e.entry.txid).max().unwrap_or(0),
        max_seqid: entries.iter().map(|e| e.entry.key.seqid).max().unwrap_or(0),
    }
}

/// The trailer frame at `pos` was intact: check it, the end magic and the end of file.
fn after_trailer(bytes: &[u8], pos: usize, framed_len: usize, trailer: Trailer, entries: &[ReadEntry]) -> Stop {
    let expected = summarize(entries);
    if trailer != expected {
        let reason = format!("trailer {trailer:?} does not match the entries read: expected {expected:?}");
        return corrupt_at(pos, reason);
    }
    let magic_at = pos + framed_len;
    let rest = &bytes[magic_at..];
    let n = rest.len().min(END_MAGIC.len());
    if rest[..n] != END_MAGIC[..n] {
        let reason = format!("expected end magic \"LAWH\" after the trailer frame, found {:02x?}", &rest[..n]);
        return Stop::Corrupt { offset: magic_at, valid_len: pos, reason };
    }
    if n < END_MAGIC.len() {
        return Stop::Torn { offset: pos, bytes: bytes.len() - pos };
    }
    let end = magic_at + END_MAGIC.len();
    if end < bytes.len() {
        let reason = format!("{} bytes after the end magic (expected end of file)", bytes.len() - end);
        return Stop::Corrupt { offset: end, valid_len: end, reason };
    }
    Stop::End { tail: TailState::Clean { trailer }, valid_len: end }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::frame::put_frame;
    use crate::format::{encode_entry, encode_header, encode_trailer, FileKind};
    use crate::wal::entry::{RegionName, WalEdit, WalKey};

    const ANY: RecoveryMode = RecoveryMode::TolerateAnyCorruption;
    const TAIL: RecoveryMode = RecoveryMode::TolerateTailCorruption;
    const ABS: RecoveryMode = RecoveryMode::AbsoluteConsistency;

    fn entry(txid: u64) -> Entry {
        let mut key = WalKey::new(RegionName::new("region"), "table", 1000 + txid);
        key.seqid = 10 * txid;
        Entry { txid, key, edit: WalEdit::put(b"row", b"f", b"q", txid, &vec![b'v'; txid as usize]) }
    }

    /// A file image plus the offsets of its frames.
    struct File {
        bytes: Vec<u8>,
        header_len: usize,
        frame_starts: Vec<usize>,
        trailer_at: Option<usize>,
    }

    fn file(n: u64, closed: bool) -> File {
        let mut bytes = Vec::new();
        encode_header(&FileHeader::new(FileKind::Wal, "rs1", 3, 5, "hwal/test"), &mut bytes);
        let header_len = bytes.len();
        let mut frame_starts = Vec::new();
        for txid in 1..=n {
            frame_starts.push(bytes.len());
            encode_entry(&entry(txid), &mut bytes);
        }
        let trailer_at = closed.then(|| {
            let at = bytes.len();
            let trailer = Trailer { entries: n, max_txid: n, max_seqid: 10 * n };
            encode_trailer(&trailer, &mut bytes);
            at
        });
        File { bytes, header_len, frame_starts, trailer_at }
    }

    fn txids(read: &LogRead) -> Vec<u64> {
        read.entries.iter().map(|e| e.entry.txid).collect()
    }

    fn corrupt_offset(result: Result<LogRead, FormatError>) -> (u64, String) {
        match result {
            Err(FormatError::Corrupt { path, offset, reason }) => {
                assert_eq!(path, "wal.1");
                (offset, reason)
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    /// A closed file reads back every entry with its offset and length, and a clean tail.
    #[test]
    fn clean_file_reads_everything() {
        let f = file(3, true);
        let read = read_log("wal.1", &f.bytes, ABS).unwrap();
        assert_eq!(read.header.server, "rs1");
        assert_eq!(txids(&read), [1, 2, 3]);
        assert_eq!(read.entries[1].entry, entry(2));
        for (e, &start) in read.entries.iter().zip(&f.frame_starts) {
            assert_eq!(e.offset, start as u64);
        }
        assert_eq!(read.entries[2].offset + u64::from(read.entries[2].framed_len), f.trailer_at.unwrap() as u64);
        assert_eq!(read.tail, TailState::Clean { trailer: Trailer { entries: 3, max_txid: 3, max_seqid: 30 } });
        assert_eq!(read.valid_len, f.bytes.len() as u64);
    }

    /// A file without trailer ending on a frame boundary is open, even with no frames at all.
    #[test]
    fn unclosed_file_is_open() {
        let f = file(2, false);
        let read = read_log("wal.1", &f.bytes, ABS).unwrap();
        assert_eq!((txids(&read), read.tail, read.valid_len), (vec![1, 2], TailState::Open, f.bytes.len() as u64));
        let read = read_log("wal.1", &f.bytes[..f.header_len], ABS).unwrap();
        assert_eq!((read.entries.len(), read.tail, read.valid_len), (0, TailState::Open, f.header_len as u64));
    }

    /// A cut inside a frame is a torn tail at that frame (an error only in AbsoluteConsistency).
    #[test]
    fn cut_inside_a_frame_is_torn() {
        let f = file(3, false);
        let start = f.frame_starts[2];
        for cut in [start + 1, start + 5, start + FRAME_HEADER_LEN, f.bytes.len() - 1] {
            let read = read_log("wal.1", &f.bytes[..cut], TAIL).unwrap();
            assert_eq!(txids(&read), [1, 2]);
            let torn = TailState::Torn { offset: start as u64, bytes: (cut - start) as u64 };
            assert_eq!(read.tail, torn, "cut {cut}");
            assert_eq!(read.valid_len, start as u64);
            let err = read_log("wal.1", &f.bytes[..cut], ABS).unwrap_err();
            assert_eq!(err, FormatError::TornTail { path: "wal.1".into(), offset: start as u64 });
            assert!(err.is_truncation());
        }
    }

    /// A cut inside the trailer frame or the end magic is a torn tail with every entry intact.
    #[test]
    fn cut_trailer_or_end_magic_is_torn() {
        let f = file(2, true);
        let at = f.trailer_at.unwrap();
        for cut in [at + 1, at + FRAME_HEADER_LEN + 1, f.bytes.len() - 4, f.bytes.len() - 1] {
            let read = read_log("wal.1", &f.bytes[..cut], TAIL).unwrap();
            assert_eq!(txids(&read), [1, 2], "cut {cut}");
            assert_eq!(read.tail, TailState::Torn { offset: at as u64, bytes: (cut - at) as u64 });
            assert_eq!(read.valid_len, at as u64);
        }
    }

    /// A flipped payload byte mid-file is corruption at that frame; TolerateAny keeps the prefix.
    #[test]
    fn payload_corruption_mid_file() {
        let mut f = file(3, true);
        let at = f.frame_starts[1];
        f.bytes[at + FRAME_HEADER_LEN + 2] ^= 0x04;
        let (offset, reason) = corrupt_offset(read_log("wal.1", &f.bytes, TAIL));
        assert_eq!(offset, at as u64);
        assert!(reason.contains("payload checksum"), "{reason}");
        corrupt_offset(read_log("wal.1", &f.bytes, ABS));
        let read = read_log("wal.1", &f.bytes, ANY).unwrap();
        assert_eq!(txids(&read), [1]);
        assert!(matches!(read.tail, TailState::Corrupt { offset, .. } if offset == at as u64));
        assert_eq!(read.valid_len, at as u64);
    }

    /// A corrupted length in the last frame is corruption, not a torn tail: the header checksum.
    #[test]
    fn corrupt_length_is_not_torn() {
        let mut f = file(2, false);
        let at = f.frame_starts[1];
        f.bytes[at + 1] ^= 0x01; // the length now points past the end of the file
        let (offset, reason) = corrupt_offset(read_log("wal.1", &f.bytes, TAIL));
        assert_eq!(offset, at as u64);
        assert!(reason.contains("frame header checksum"), "{reason}");
    }

    /// Zeros after the last frame are a preallocated region: the file reads as open.
    #[test]
    fn zero_padding_is_open() {
        let f = file(2, false);
        for pad in [4, 11, 12, 13, 4096] {
            let mut bytes = f.bytes.clone();
            bytes.resize(bytes.len() + pad, 0);
            let read = read_log("wal.1", &bytes, ABS).unwrap();
            assert_eq!((txids(&read), &read.tail), (vec![1, 2], &TailState::Open), "pad {pad}");
            assert_eq!(read.valid_len, f.bytes.len() as u64);
        }
        // Fewer than 4 zeros could be the start of a frame length: a torn tail.
        let mut bytes = f.bytes.clone();
        bytes.extend_from_slice(&[0, 0]);
        let read = read_log("wal.1", &bytes, TAIL).unwrap();
        assert_eq!(read.tail, TailState::Torn { offset: f.bytes.len() as u64, bytes: 2 });
    }

    /// A non-zero byte inside a zero region is corruption at exactly that byte.
    #[test]
    fn non_zero_byte_in_zero_region() {
        let f = file(1, false);
        let mut bytes = f.bytes.clone();
        bytes.resize(bytes.len() + 100, 0);
        let bad = f.bytes.len() + 40;
        bytes[bad] = 7;
        let (offset, reason) = corrupt_offset(read_log("wal.1", &bytes, TAIL));
        assert_eq!(offset, bad as u64);
        assert!(reason.contains("zero-filled region"), "{reason}");
        let read = read_log("wal.1", &bytes, ANY).unwrap();
        assert_eq!((txids(&read), read.valid_len), (vec![1], f.bytes.len() as u64));
    }

    /// Bytes after the end magic are corruption at the first of them, even zeros.
    #[test]
    fn trailing_garbage_after_end_magic() {
        let f = file(2, true);
        for extra in [&[0u8][..], b"junk"] {
            let mut bytes = f.bytes.clone();
            bytes.extend_from_slice(extra);
            let (offset, reason) = corrupt_offset(read_log("wal.1", &bytes, TAIL));
            assert_eq!(offset, f.bytes.len() as u64);
            assert!(reason.contains("after the end magic"), "{reason}");
            let read = read_log("wal.1", &bytes, ANY).unwrap();
            assert_eq!((txids(&read), read.valid_len), (vec![1, 2], f.bytes.len() as u64));
        }
    }

    /// A wrong end magic is corruption at the magic, and a wrong trailer summary at the trailer.
    #[test]
    fn bad_end_magic_and_bad_trailer() {
        let f = file(2, true);
        let mut bytes = f.bytes.clone();
        let last = bytes.len() - 1;
        bytes[last] = b'X';
        assert_eq!(corrupt_offset(read_log("wal.1", &bytes, TAIL)).0, last as u64 - 3);

        let mut bytes = f.bytes[..f.trailer_at.unwrap()].to_vec();
        encode_trailer(&Trailer { entries: 3, max_txid: 2, max_seqid: 20 }, &mut bytes);
        let (offset, reason) = corrupt_offset(read_log("wal.1", &bytes, TAIL));
        assert_eq!(offset, f.trailer_at.unwrap() as u64);
        assert!(reason.contains("does not match"), "{reason}");
    }

    /// Checksummed frames with an unknown record type or an undecodable payload are corruption.
    #[test]
    fn intact_frames_with_bad_contents() {
        let f = file(1, false);
        let cases: [(&[u8], &str); 3] = [
            (&[9, 1, 2], "unknown record type 9"),
            (&[RECORD_ENTRY, 1, 200], "undecodable entry payload at file offset"),
            (&[RECORD_TRAILER, 1, 1, 1, 0], "trailing bytes"),
        ];
        for (payload, expected) in cases {
            let mut bytes = f.bytes.clone();
            put_frame(&mut bytes, |out| out.extend_from_slice(payload));
            let (offset, reason) = corrupt_offset(read_log("wal.1", &bytes, TAIL));
            assert_eq!(offset, f.bytes.len() as u64);
            assert!(reason.contains(expected), "{reason}");
        }
    }

    /// A partial frame header whose length is impossible is corruption, not a torn tail.
    #[test]
    fn partial_header_with_impossible_length() {
        let f = file(1, false);
        let mut bytes = f.bytes.clone();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.push(1);
        assert_eq!(corrupt_offset(read_log("wal.1", &bytes, TAIL)).0, f.bytes.len() as u64);
    }

    /// Header-level problems surface as header errors in every mode.
    #[test]
    fn header_errors_in_every_mode() {
        let f = file(1, true);
        for mode in [ABS, TAIL, ANY] {
            assert_eq!(read_log("wal.1", &[], mode), Err(FormatError::EmptyFile { path: "wal.1".into() }));
            let err = read_log("wal.1", &f.bytes[..f.header_len - 1], mode).unwrap_err();
            assert_eq!(err, FormatError::TruncatedHeader { path: "wal.1".into(), len: f.header_len as u64 - 1 });
            assert!(matches!(read_log("wal.1", b"PWAL\0\0\0\0", mode), Err(FormatError::BadHeader { .. })));
        }
    }
}
