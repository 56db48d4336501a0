//! The on-disk format of hwal log files (WALs and recovered-edits files), and its reader.
//!
//! HBase writes protobuf (`"PWAL"` header, delimited `WALKey` + cells, `"LAWP"` trailer) and
//! leans on EOF exceptions to find a torn tail. hwal keeps the semantics (header, entries,
//! optional trailer on clean close; a torn tail is the normal end of a crashed writer's log) but
//! uses its own framed format, where every record carries checksums so that truncation and
//! corruption can always be told apart.
//!
//! # Byte layout
//!
//! All fixed-width integers are little-endian except cluster ids; `varint` is unsigned LEB128
//! (see `varint.rs`); `str`/`bytes` are a varint length followed by that many bytes.
//!
//! ```text
//! file    := header frame* [trailer_frame "LAWH"]
//!
//! header  := "HWAL" | version:u8 = 1 | kind:u8 (1 = Wal, 2 = RecoveredEdits)
//!            | body_len:u32 | body | crc32c(all preceding header bytes):u32
//! body    := server:str | file_number:varint | created_ms:varint | writer:str | codec:str ("hwal-v1")
//!
//! frame   := payload_len:u32 | crc32c(payload):u32 | crc32c(previous 8 bytes):u32 | payload
//!            (1 <= payload_len <= 64 MiB; payload byte 0 is the record type)
//! entry   := 0x01 | txid:varint | region:str | table:str | seqid:varint | write_time_ms:varint
//!            | orig_seqid:varint | n:varint | cluster_id:16 bytes big-endian (n times)
//!            | m:varint | cell (m times)
//! cell    := row:bytes | family:bytes | qualifier:bytes | timestamp:varint | kind:u8 | value:bytes
//! trailer := 0x02 | entries:varint | max_txid:varint | max_seqid:varint
//! ```
//!
//! A writer may preallocate: a frame header of 12 zero bytes (or, within the last 12 bytes of the
//! file, at least 4 zero bytes) marks the end of written data, and everything after it must be
//! zero. A cleanly closed file ends with the end magic; nothing may follow it.
//!
//! # Reading
//!
//! [`read_log`] returns the header, the intact entries, how the file ended ([`TailState`]) and the
//! offset just past the last good frame. [`RecoveryMode`] decides what is an error: a prefix of a
//! valid file always reads as a prefix of its entries (`Open`, `Torn` or `Clean`), never as a
//! different entry; a torn tail is an error only in `AbsoluteConsistency`; corruption is an error
//! except in `TolerateAnyCorruption`. Error offsets are the start of the offending frame, except
//! where the offending byte is more precise (a non-zero byte in a zero region, a bad end magic,
//! bytes after the end magic, the file header's fields).

mod codec;
mod error;
mod frame;
mod header;
mod reader;
mod varint;

pub use codec::Trailer;
pub use error::FormatError;
pub use frame::{encode_entry, encode_trailer, framed_entry_len, END_MAGIC, FRAME_HEADER_LEN, MAX_FRAME_LEN};
pub use header::{
    encode_header, read_header, FileHeader, FileKind, CODEC_NAME, FORMAT_VERSION, MAGIC, MAX_HEADER_BODY_LEN,
};
pub use reader::{read_log, LogRead, ReadEntry, RecoveryMode, TailState};
