//! The file header: what a log file is, who wrote it, and how its entries are encoded.
//!
//! ```text
//! header := "HWAL" | version:u8 (= 1) | kind:u8 (1 = Wal, 2 = RecoveredEdits)
//!           | body_len:u32 LE | body | crc32c(every header byte before it):u32 LE
//! body   := server:str | file_number:varint | created_ms:varint | writer:str | codec:str
//! ```
//!
//! `str` is a varint length and UTF-8 bytes. The body's fields are self-delimiting, which lets
//! the reader tell a header that was *torn* (the file ends inside it: a truncation) from one
//! whose `body_len` is *corrupt* (the body's fields end somewhere else than `body_len` says).
//! The checksum covers the fixed prefix too: a flipped kind byte (1 and 2 are both valid) must
//! not turn a WAL into a recovered-edits file unnoticed.

use super::codec::{put_bytes, Cursor, DecodeError};
use super::error::FormatError;
use super::varint;

/// The first four bytes of every hwal log file.
pub const MAGIC: [u8; 4] = *b"HWAL";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// The only entry codec this version reads: the payload layout described in [`crate::format`].
pub const CODEC_NAME: &str = "hwal-v1";
/// The largest header body accepted (64 KiB); anything longer is a corrupt length.
pub const MAX_HEADER_BODY_LEN: u32 = 64 << 10;
/// Bytes of the header before the body: magic, version, kind, body length.
const FIXED_LEN: usize = 10;
/// Bytes of the body checksum after the body.
const CRC_LEN: usize = 4;

/// What a log file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FileKind {
    /// A region server's write-ahead log.
    Wal = 1,
    /// Edits of one region, written by log splitting, replayed when the region opens.
    RecoveredEdits = 2,
}

impl FileKind {
    /// The stored code.
    pub fn code(self) -> u8 {
        self as u8
    }
    /// The kind for a stored code, or `None` for an unknown code.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Wal),
            2 => Some(Self::RecoveredEdits),
            _ => None,
        }
    }
}

/// The decoded file header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// What the file holds.
    pub kind: FileKind,
    /// The server that wrote the file.
    pub server: String,
    /// The writer's file number (the WAL's roll counter).
    pub file_number: u64,
    /// Wall-clock creation time, milliseconds.
    pub created_ms: u64,
    /// The writer implementation, e.g. `"hwal/scheduled"` or `"hwal/classic"`.
    pub writer: String,
    /// The entry codec; readers accept only [`CODEC_NAME`].
    pub codec: String,
}

impl FileHeader {
    /// A header with the current codec.
    pub fn new(kind: FileKind, server: &str, file_number: u64, created_ms: u64, writer: &str) -> Self {
        Self {
            kind,
            server: server.to_string(),
            file_number,
            created_ms,
            writer: writer.to_string(),
            codec: CODEC_NAME.to_string(),
        }
    }
}

fn body_len(h: &FileHeader) -> usize {
    let s = |s: &str| varint::encoded_len(s.len() as u64) + s.len();
    s(&h.server) + varint::encoded_len(h.file_number) + varint::encoded_len(h.created_ms) + s(&h.writer) + s(&h.codec)
}

/// Appends the encoded header to `out` (normally an empty buffer: the header starts the file).
///
/// # Panics
/// If the body exceeds [`MAX_HEADER_BODY_LEN`] (names of many kilobytes are a programmer error).
pub fn encode_header(h: &FileHeader, out: &mut Vec<u8>) {
    let len = body_len(h);
    assert!(len <= MAX_HEADER_BODY_LEN as usize, "header body of {len} bytes is too long");
    out.reserve(FIXED_LEN + len + CRC_LEN);
    let header_start = out.len();
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(h.kind.code());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    let body_start = out.len();
    put_bytes(out, h.server.as_bytes());
    varint::put(out, h.file_number);
    varint::put(out, h.created_ms);
    put_bytes(out, h.writer.as_bytes());
    put_bytes(out, h.codec.as_bytes());
    debug_assert_eq!(out.len() - body_start, len);
    let crc = crc32c::crc32c(&out[header_start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

struct Body<'a> {
    server: &'a str,
    file_number: u64,
    created_ms: u64,
    writer: &'a str,
    codec: &'a str,
}

/// Parses the body fields from the start of `buf`; returns them and the bytes they took.
fn parse_body(buf: &[u8]) -> Result<(Body<'_>, usize), DecodeError> {
    let mut cur = Cursor::new(buf);
    let body = Body {
        server: cur.text("server")?,
        file_number: cur.varint("file number")?,
        created_ms: cur.varint("created_ms")?,
        writer: cur.text("writer")?,
        codec: cur.text("codec")?,
    };
    let used = buf.len() - cur.remaining();
    Ok((body, used))
}

fn bad(path: &str, reason: String) -> FormatError {
    FormatError::BadHeader { path: path.to_string(), reason }
}

fn corrupt(path: &str, offset: usize, reason: String) -> FormatError {
    FormatError::Corrupt { path: path.to_string(), offset: offset as u64, reason }
}

/// Checks magic, version and kind, as far as the bytes go.
fn check_fixed_prefix(path: &str, bytes: &[u8]) -> Result<Option<FileKind>, FormatError> {
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] != MAGIC[..n] {
        let found = String::from_utf8_lossy(&bytes[..n]);
        return Err(bad(path, format!("offset 0: expected magic \"HWAL\", found {found:?}")));
    }
    if let Some(&version) = bytes.get(4) {
        if version != FORMAT_VERSION {
            let reason = format!("offset 4: unsupported format version {version} (expected {FORMAT_VERSION})");
            return Err(bad(path, reason));
        }
    }
    match bytes.get(5) {
        None => Ok(None),
        Some(&code) => FileKind::from_code(code).map(Some).ok_or_else(|| {
            bad(path, format!("offset 5: unknown file kind {code} (expected 1 = Wal or 2 = RecoveredEdits)"))
        }),
    }
}

/// The header is cut short: a torn write, unless the body's own fields end before `body_len`
/// says (then the length is corrupt).
fn short_header(path: &str, bytes: &[u8], body_len: usize) -> FormatError {
    let truncated = FormatError::TruncatedHeader { path: path.to_string(), len: bytes.len() as u64 };
    let Some(available) = bytes.get(FIXED_LEN..) else {
        return truncated;
    };
    match parse_body(available) {
        Ok((_, used)) if used != body_len => corrupt(
            path,
            6,
            format!("header body length {body_len} disagrees with its fields, which end after {used} bytes"),
        ),
        _ => truncated,
    }
}

/// Checks the body checksum and decodes the body of a complete header.
fn decode_body(path: &str, kind: FileKind, bytes: &[u8], body_len: usize) -> Result<FileHeader, FormatError> {
    let body = &bytes[FIXED_LEN..FIXED_LEN + body_len];
    let crc_at = FIXED_LEN + body_len;
    let crc_bytes = [bytes[crc_at], bytes[crc_at + 1], bytes[crc_at + 2], bytes[crc_at + 3]];
    let stored = u32::from_le_bytes(crc_bytes);
    let computed = crc32c::crc32c(&bytes[..crc_at]);
    if stored != computed {
        let reason = format!(
            "header checksum mismatch: stored {stored:#010x} at offset {crc_at}, \
             computed {computed:#010x} over bytes 0..{crc_at}"
        );
        return Err(corrupt(path, 0, reason));
    }
    let (fields, used) =
        parse_body(body).map_err(|e| corrupt(path, FIXED_LEN + e.at, format!("header body: {}", e.reason)))?;
    if used != body_len {
        let reason = format!("header body: {} unexpected trailing bytes after the codec name", body_len - used);
        return Err(corrupt(path, FIXED_LEN + used, reason));
    }
    if fields.codec != CODEC_NAME {
        let reason = format!("unsupported codec {:?} (expected {CODEC_NAME:?})", fields.codec);
        return Err(bad(path, reason));
    }
    Ok(FileHeader {
        kind,
        server: fields.server.to_string(),
        file_number: fields.file_number,
        created_ms: fields.created_ms,
        writer: fields.writer.to_string(),
        codec: fields.codec.to_string(),
    })
}

/// Reads and validates the header at the start of `bytes`; returns it and its length in bytes
/// (where the first frame starts).
pub fn read_header(path: &str, bytes: &[u8]) -> Result<(FileHeader, usize), FormatError> {
    // All zeros: a preallocated file whose header was never written (a crash right after
    // creation). It holds no entries, exactly like a 0-byte file.
    if bytes.iter().all(|&b| b == 0) {
        return Err(FormatError::EmptyFile { path: path.to_string() });
    }
    let kind = check_fixed_prefix(path, bytes)?;
    let (Some(kind), Some(&[a, b, c, d])) = (kind, bytes.get(6..FIXED_LEN)) else {
        return Err(FormatError::TruncatedHeader { path: path.to_string(), len: bytes.len() as u64 });
    };
    let body_len = u32::from_le_bytes([a, b, c, d]);
    if body_len > MAX_HEADER_BODY_LEN {
        let reason = format!("header body length {body_len} out of bounds (expected at most {MAX_HEADER_BODY_LEN})");
        return Err(corrupt(path, 6, reason));
    }
    let body_len = body_len as usize;
    let header_len = FIXED_LEN + body_len + CRC_LEN;
    if bytes.len() < header_len {
        return Err(short_header(path, bytes, body_len));
    }
    let header = decode_body(path, kind, bytes, body_len)?;
    Ok((header, header_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FileHeader {
        FileHeader::new(FileKind::RecoveredEdits, "rs1,16020,1700000000000", 17, u64::MAX, "hwal/scheduled")
    }

    fn encoded() -> Vec<u8> {
        let mut out = Vec::new();
        encode_header(&sample(), &mut out);
        out
    }

    /// A header round-trips and its reported length is exactly its encoding.
    #[test]
    fn round_trip() {
        let mut bytes = encoded();
        let len = bytes.len();
        bytes.extend_from_slice(b"frames follow");
        assert_eq!(read_header("f", &bytes), Ok((sample(), len)));
        assert_eq!(&bytes[..4], b"HWAL");
        assert_eq!(bytes[5], 2);
    }

    /// Every strict prefix is a truncation (empty or truncated header), never another error.
    #[test]
    fn every_prefix_is_a_truncation() {
        let bytes = encoded();
        assert_eq!(read_header("f", &[]), Err(FormatError::EmptyFile { path: "f".into() }));
        for cut in 1..bytes.len() {
            let err = read_header("f", &bytes[..cut]).unwrap_err();
            assert_eq!(err, FormatError::TruncatedHeader { path: "f".into(), len: cut as u64 });
        }
    }

    /// Wrong magic, version or kind is a bad header naming the offset.
    #[test]
    fn magic_version_and_kind_are_checked() {
        let cases = [
            (0, b'P', "offset 0: expected magic"),
            (4, 2, "offset 4: unsupported format version 2"),
            (5, 9, "offset 5: unknown file kind 9"),
        ];
        for (at, value, expected) in cases {
            let mut bytes = encoded();
            bytes[at] = value;
            match read_header("f", &bytes) {
                Err(FormatError::BadHeader { path, reason }) => {
                    assert_eq!(path, "f");
                    assert!(reason.starts_with(expected), "{reason}");
                }
                other => panic!("byte {at}: {other:?}"),
            }
        }
        // Even a prefix with the wrong magic is recognised as foreign, not as truncated.
        assert!(matches!(read_header("f", b"PW"), Err(FormatError::BadHeader { .. })));
    }

    /// A flipped body byte fails the checksum, reported at the header's start (the checksum
    /// covers the whole header).
    #[test]
    fn body_corruption_is_caught() {
        let mut bytes = encoded();
        bytes[FIXED_LEN + 3] ^= 0x01;
        let err = read_header("f", &bytes).unwrap_err();
        assert!(matches!(&err, FormatError::Corrupt { offset: 0, reason, .. } if reason.contains("checksum")), "{err}");
    }

    /// The kind byte has two valid values; flipping one into the other is still caught by the
    /// checksum (found by the flipped-byte proptest when the checksum covered the body alone).
    #[test]
    fn flipped_kind_is_caught() {
        let mut bytes = encoded();
        assert_eq!(bytes[5], FileKind::RecoveredEdits.code());
        bytes[5] = FileKind::Wal.code();
        let err = read_header("f", &bytes).unwrap_err();
        assert!(matches!(&err, FormatError::Corrupt { offset: 0, reason, .. } if reason.contains("checksum")), "{err}");
    }

    /// A body length pointing past the end of the file is corruption, not a truncation, when
    /// the body's own fields are complete.
    #[test]
    fn corrupt_body_length_is_not_a_truncation() {
        let mut bytes = encoded();
        bytes[6] ^= 0x40;
        let err = read_header("f", &bytes).unwrap_err();
        assert!(matches!(err, FormatError::Corrupt { offset: 6, .. }), "{err}");
        bytes[8] = 0x10; // far beyond the bound
        let err = read_header("f", &bytes).unwrap_err();
        assert!(
            matches!(&err, FormatError::Corrupt { offset: 6, reason, .. } if reason.contains("out of bounds")),
            "{err}"
        );
    }

    /// Another codec name is refused: entries would be misread.
    #[test]
    fn unknown_codec_is_refused() {
        let mut h = sample();
        h.codec = "protobuf".into();
        let mut bytes = Vec::new();
        encode_header(&h, &mut bytes);
        let err = read_header("f", &bytes).unwrap_err();
        assert!(matches!(&err, FormatError::BadHeader { reason, .. } if reason.contains("\"protobuf\"")), "{err}");
    }
}
