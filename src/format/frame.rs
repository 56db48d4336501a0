//! Frames: the checksummed envelope around every record after the file header.
//!
//! ```text
//! frame := payload_len:u32 LE | crc32c(payload):u32 LE | crc32c(bytes 0..8 of the frame):u32 LE
//!          | payload (payload_len bytes; byte 0 = record type)
//! ```
//!
//! The third word checksums the first two, so a corrupted length is caught *before* it is used:
//! a flipped length bit can never make a corrupt mid-file frame look like a frame that runs past
//! the end of the file (a torn tail). A frame header of [`FRAME_HEADER_LEN`] zero bytes is never a
//! valid frame (the length would be 0); the reader takes it as the start of a zero-filled,
//! preallocated tail.

use super::codec::{self, Trailer};
use crate::wal::entry::Entry;

/// Bytes of a frame header.
pub const FRAME_HEADER_LEN: usize = 12;
/// The largest payload a frame may carry (64 MiB). Lengths of 0 or above this are corruption.
pub const MAX_FRAME_LEN: u32 = 64 << 20;
/// The four bytes that follow the trailer frame and end a cleanly closed file.
pub const END_MAGIC: [u8; 4] = *b"LAWH";

/// A frame header whose own checksum matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload bytes that follow the header.
    pub payload_len: u32,
    /// Expected `crc32c` of the payload.
    pub payload_crc: u32,
}

/// What 12 bytes at a frame boundary turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameHeaderCheck {
    /// All zero: the start of a zero-filled (preallocated) region.
    Zero,
    /// A header with a matching checksum and a length within bounds.
    Valid(FrameHeader),
    /// Anything else; the reason says what was expected.
    Corrupt(String),
}

/// Whether the first 4 bytes of a frame header (its payload length) are within bounds.
pub fn payload_len_in_bounds(len: u32) -> bool {
    (1..=MAX_FRAME_LEN).contains(&len)
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Classifies the 12 bytes at a frame boundary.
pub fn check_frame_header(h: &[u8; FRAME_HEADER_LEN]) -> FrameHeaderCheck {
    if h.iter().all(|&b| b == 0) {
        return FrameHeaderCheck::Zero;
    }
    let stored = le32(&h[8..12]);
    let computed = crc32c::crc32c(&h[..8]);
    if stored != computed {
        return FrameHeaderCheck::Corrupt(format!(
            "frame header checksum mismatch: stored {stored:#010x}, computed {computed:#010x} \
             over the length and payload checksum"
        ));
    }
    let payload_len = le32(&h[0..4]);
    if !payload_len_in_bounds(payload_len) {
        return FrameHeaderCheck::Corrupt(format!(
            "frame payload length {payload_len} out of bounds (expected 1..={MAX_FRAME_LEN})"
        ));
    }
    FrameHeaderCheck::Valid(FrameHeader { payload_len, payload_crc: le32(&h[4..8]) })
}

/// Appends one frame whose payload is written by `put_payload`; returns the framed length.
///
/// # Panics
/// If the payload is empty or longer than [`MAX_FRAME_LEN`]: callers bound record sizes before
/// encoding (see [`framed_entry_len`]), so this is a programmer error.
pub fn put_frame(out: &mut Vec<u8>, put_payload: impl FnOnce(&mut Vec<u8>)) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    put_payload(out);
    let payload = &out[start + FRAME_HEADER_LEN..];
    let payload_len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    assert!(
        payload_len_in_bounds(payload_len),
        "frame payload of {} bytes is outside 1..={MAX_FRAME_LEN}",
        payload.len()
    );
    let payload_crc = crc32c::crc32c(payload);
    let header = &mut out[start..start + FRAME_HEADER_LEN];
    header[0..4].copy_from_slice(&payload_len.to_le_bytes());
    header[4..8].copy_from_slice(&payload_crc.to_le_bytes());
    let header_crc = crc32c::crc32c(&header[..8]);
    header[8..12].copy_from_slice(&header_crc.to_le_bytes());
    out.len() - start
}

/// The number of bytes [`encode_entry`] appends for `e` (frame header included). O(cells).
pub fn framed_entry_len(e: &Entry) -> usize {
    FRAME_HEADER_LEN + codec::entry_payload_len(e)
}

/// Appends `e` as one entry frame to `out` and returns the framed length.
///
/// # Panics
/// If the payload would exceed [`MAX_FRAME_LEN`] (64 MiB); check [`framed_entry_len`] first
/// when entry sizes are not already bounded.
pub fn encode_entry(e: &Entry, out: &mut Vec<u8>) -> usize {
    let expected = framed_entry_len(e);
    out.reserve(expected);
    let written = put_frame(out, |out| codec::put_entry(e, out));
    debug_assert_eq!(written, expected, "framed_entry_len disagrees with the encoder");
    written
}

/// Appends the trailer frame and the end magic to `out`: the last bytes of a cleanly closed file.
pub fn encode_trailer(t: &Trailer, out: &mut Vec<u8>) {
    out.reserve(FRAME_HEADER_LEN + codec::trailer_payload_len(t) + END_MAGIC.len());
    put_frame(out, |out| codec::put_trailer(t, out));
    out.extend_from_slice(&END_MAGIC);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::entry::{RegionName, WalEdit, WalKey};

    fn entry() -> Entry {
        let key = WalKey::new(RegionName::new("r"), "t", 5);
        Entry { txid: 1, key, edit: WalEdit::put(b"row", b"f", b"q", 1, b"v") }
    }

    fn header_of(frame: &[u8]) -> [u8; FRAME_HEADER_LEN] {
        frame[..FRAME_HEADER_LEN].try_into().unwrap()
    }

    /// An encoded frame's header validates and describes its payload exactly.
    #[test]
    fn encoded_frame_header_is_valid() {
        let mut out = vec![0xaa]; // frames append; existing bytes stay
        let len = encode_entry(&entry(), &mut out);
        assert_eq!(out[0], 0xaa);
        let frame = &out[1..];
        assert_eq!(len, frame.len());
        assert_eq!(len, framed_entry_len(&entry()));
        let FrameHeaderCheck::Valid(h) = check_frame_header(&header_of(frame)) else {
            panic!("header did not validate");
        };
        assert_eq!(h.payload_len as usize, len - FRAME_HEADER_LEN);
        assert_eq!(h.payload_crc, crc32c::crc32c(&frame[FRAME_HEADER_LEN..]));
    }

    /// A flip anywhere in the 12 header bytes is caught by the header checksum.
    #[test]
    fn any_header_byte_flip_is_caught() {
        let mut out = Vec::new();
        encode_entry(&entry(), &mut out);
        for i in 0..FRAME_HEADER_LEN {
            let mut h = header_of(&out);
            h[i] ^= 0x10;
            assert!(matches!(check_frame_header(&h), FrameHeaderCheck::Corrupt(_)), "byte {i}");
        }
    }

    /// Twelve zero bytes are a zero region, never a frame.
    #[test]
    fn zero_header_is_zero_region() {
        assert_eq!(check_frame_header(&[0; FRAME_HEADER_LEN]), FrameHeaderCheck::Zero);
    }

    /// A checksummed header with length 0 or above the limit is rejected.
    #[test]
    fn out_of_bounds_length_is_rejected() {
        for len in [0u32, MAX_FRAME_LEN + 1, u32::MAX] {
            let mut h = [0u8; FRAME_HEADER_LEN];
            h[0..4].copy_from_slice(&len.to_le_bytes());
            h[4..8].copy_from_slice(&7u32.to_le_bytes());
            let crc = crc32c::crc32c(&h[..8]);
            h[8..12].copy_from_slice(&crc.to_le_bytes());
            let FrameHeaderCheck::Corrupt(reason) = check_frame_header(&h) else {
                panic!("length {len} accepted");
            };
            assert!(reason.contains("out of bounds"), "{reason}");
        }
    }

    /// The trailer is a frame followed by the end magic.
    #[test]
    fn trailer_ends_with_end_magic() {
        let mut out = Vec::new();
        encode_trailer(&Trailer { entries: 1, max_txid: 2, max_seqid: 3 }, &mut out);
        assert_eq!(&out[out.len() - 4..], b"LAWH");
        assert!(matches!(check_frame_header(&header_of(&out)), FrameHeaderCheck::Valid(_)));
    }
}
