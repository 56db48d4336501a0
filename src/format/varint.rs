//! Unsigned LEB128 varints, as used by every length prefix and integer field of the format.
//!
//! A `u64` is written 7 bits at a time, least significant group first; every byte but the last
//! has its high bit set. So values below 128 take one byte and `u64::MAX` takes [`MAX_LEN`] (10).
//! Decoding is strict, so that every value has exactly one encoding:
//! 1. running out of bytes before a byte without the continuation bit is [`VarintError::Truncated`];
//! 2. a value that does not fit in 64 bits (an 11th byte, or a 10th byte above 1) is
//!    [`VarintError::Overflow`];
//! 3. a multi-byte encoding whose last byte is 0 (a padded, non-minimal form) is
//!    [`VarintError::NonCanonical`].

/// The longest encoding of a `u64`.
pub const MAX_LEN: usize = 10;

/// Why a varint could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarintError {
    /// The bytes ended before the varint did.
    Truncated,
    /// The value does not fit in a `u64`.
    Overflow,
    /// A longer-than-necessary encoding (trailing zero group).
    NonCanonical,
}

impl VarintError {
    /// What went wrong, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Truncated => "varint runs past the end of the payload",
            Self::Overflow => "varint does not fit in 64 bits",
            Self::NonCanonical => "varint is not minimally encoded",
        }
    }
}

/// Appends the encoding of `v` to `out`.
#[inline]
pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The number of bytes [`put`] writes for `v`.
#[inline]
pub fn encoded_len(v: u64) -> usize {
    // Bits needed (at least 1), rounded up to groups of 7.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decodes a varint at the start of `buf`: the value and the number of bytes it took.
pub fn decode(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().take(MAX_LEN).enumerate() {
        let group = u64::from(byte & 0x7f);
        if i == MAX_LEN - 1 && byte > 1 {
            return Err(VarintError::Overflow);
        }
        value |= group << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(VarintError::NonCanonical);
            }
            return Ok((value, i + 1));
        }
    }
    if buf.len() >= MAX_LEN {
        Err(VarintError::Overflow)
    } else {
        Err(VarintError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put(&mut out, v);
        out
    }

    /// Boundary values round-trip and take the documented number of bytes.
    #[test]
    fn edge_values_round_trip_with_expected_length() {
        let cases: [(u64, usize); 10] = [
            (0, 1),
            (1, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::from(u32::MAX), 5),
            ((1 << 56) - 1, 8),
            (1 << 63, 10),
            (u64::MAX, 10),
        ];
        for (v, len) in cases {
            let bytes = enc(v);
            assert_eq!(bytes.len(), len, "length of {v}");
            assert_eq!(encoded_len(v), len, "encoded_len of {v}");
            assert_eq!(decode(&bytes), Ok((v, len)), "decode of {v}");
        }
        assert_eq!(enc(300), vec![0xac, 0x02]);
    }

    /// Decoding stops at the first complete varint and ignores what follows.
    #[test]
    fn decode_reads_only_its_own_bytes() {
        assert_eq!(decode(&[0x05, 0xff, 0xff]), Ok((5, 1)));
        assert_eq!(decode(&[0xac, 0x02, 0x80]), Ok((300, 2)));
    }

    /// Every proper prefix of an encoding (including the empty one) is a truncation.
    #[test]
    fn prefixes_are_truncated() {
        assert_eq!(decode(&[]), Err(VarintError::Truncated));
        let bytes = enc(u64::MAX);
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), Err(VarintError::Truncated), "cut {cut}");
        }
    }

    /// Values beyond 64 bits are rejected rather than wrapped.
    #[test]
    fn overflow_is_rejected() {
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(decode(&too_big), Err(VarintError::Overflow));
        assert_eq!(decode(&[0xff; 11]), Err(VarintError::Overflow));
        assert_eq!(decode(&[0x80; 10]), Err(VarintError::Overflow));
    }

    /// Padded encodings are rejected, so each value has one encoding.
    #[test]
    fn non_canonical_is_rejected() {
        assert_eq!(decode(&[0x80, 0x00]), Err(VarintError::NonCanonical));
        assert_eq!(decode(&[0x81, 0x80, 0x00]), Err(VarintError::NonCanonical));
        assert_eq!(decode(&[0x00]), Ok((0, 1)));
    }
}
