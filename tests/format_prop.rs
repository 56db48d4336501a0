//! Property tests of the on-disk format: round trip, truncation, bit flips, zero padding.
//!
//! Files are kept small (at most a few hundred bytes) so that every prefix length of every
//! generated file can be read.

use hwal::format::{
    encode_entry, encode_header, encode_trailer, read_log, FileHeader, FileKind, FormatError, LogRead, RecoveryMode,
    TailState, Trailer, CODEC_NAME,
};
use hwal::wal::entry::{Cell, CellKind, Entry, RegionName, WalEdit, WalKey};
use proptest::prelude::*;
use std::sync::Arc;

const MODES: [RecoveryMode; 3] =
    [RecoveryMode::AbsoluteConsistency, RecoveryMode::TolerateTailCorruption, RecoveryMode::TolerateAnyCorruption];

fn cell() -> impl Strategy<Value = Cell> {
    let kind = prop::sample::select(vec![
        CellKind::Put,
        CellKind::Delete,
        CellKind::DeleteFamilyVersion,
        CellKind::DeleteColumn,
        CellKind::DeleteFamily,
    ]);
    let bytes = |max: usize| prop::collection::vec(any::<u8>(), 0..max);
    (bytes(6), bytes(4), bytes(6), any::<u64>(), kind, bytes(24)).prop_map(
        |(row, family, qualifier, timestamp, kind, value)| Cell { row, family, qualifier, timestamp, kind, value },
    )
}

fn entry() -> impl Strategy<Value = Entry> {
    let region = prop::sample::select(vec!["", "r1", "1588230740", "région-é", "a,b,c"]);
    let key =
        (region, "[a-z]{0,6}", any::<u64>(), any::<u64>(), any::<u64>(), prop::collection::vec(any::<u128>(), 0..3));
    (any::<u64>(), key, prop::collection::vec(cell(), 0..4)).prop_map(
        |(txid, (region, table, seqid, write_time_ms, orig_seqid, cluster_ids), cells)| Entry {
            txid,
            key: WalKey {
                region: RegionName::new(region),
                table: Arc::from(table.as_str()),
                seqid,
                write_time_ms,
                cluster_ids,
                orig_seqid,
            },
            edit: WalEdit::new(cells),
        },
    )
}

/// A generated file: its bytes and where each of its parts ends.
#[derive(Debug)]
struct File {
    bytes: Vec<u8>,
    header_len: usize,
    /// End offset of each entry frame.
    frame_ends: Vec<usize>,
    entries: Vec<Entry>,
    closed: bool,
}

fn header() -> impl Strategy<Value = FileHeader> {
    let kind = prop::sample::select(vec![FileKind::Wal, FileKind::RecoveredEdits]);
    (kind, "[a-z0-9,.]{0,20}", any::<u64>(), any::<u64>(), "hwal/(scheduled|classic)").prop_map(
        |(kind, server, file_number, created_ms, writer)| {
            FileHeader::new(kind, &server, file_number, created_ms, &writer)
        },
    )
}

fn build(header: &FileHeader, entries: Vec<Entry>, closed: bool) -> File {
    let mut bytes = Vec::new();
    encode_header(header, &mut bytes);
    let header_len = bytes.len();
    let mut frame_ends = Vec::new();
    for e in &entries {
        let len = encode_entry(e, &mut bytes);
        assert_eq!(len, hwal::format::framed_entry_len(e));
        frame_ends.push(bytes.len());
    }
    if closed {
        let trailer = Trailer {
            entries: entries.len() as u64,
            max_txid: entries.iter().map(|e| e.txid).max().unwrap_or(0),
            max_seqid: entries.iter().map(|e| e.key.seqid).max().unwrap_or(0),
        };
        encode_trailer(&trailer, &mut bytes);
    }
    File { bytes, header_len, frame_ends, entries, closed }
}

fn file(max_entries: usize) -> impl Strategy<Value = File> {
    (header(), prop::collection::vec(entry(), 0..=max_entries), any::<bool>())
        .prop_map(|(h, entries, closed)| build(&h, entries, closed))
}

fn decoded(read: &LogRead) -> Vec<&Entry> {
    read.entries.iter().map(|e| &e.entry).collect()
}

/// The entries read must be the first entries of the file, in order.
fn assert_prefix(read: &LogRead, f: &File) {
    let got = decoded(read);
    assert!(got.len() <= f.entries.len(), "more entries than written");
    for (i, (got, want)) in got.iter().zip(&f.entries).enumerate() {
        assert_eq!(*got, want, "entry {i} differs");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Writing random entries (with or without trailer) and reading them back gives the same
    /// header, the same entries at the right offsets, and a Clean or Open tail.
    #[test]
    fn round_trip(f in file(8)) {
        let read = read_log("p", &f.bytes, RecoveryMode::AbsoluteConsistency).unwrap();
        prop_assert_eq!(&read.header.codec, CODEC_NAME);
        prop_assert_eq!(decoded(&read), f.entries.iter().collect::<Vec<_>>());
        let mut start = f.header_len as u64;
        for (e, &end) in read.entries.iter().zip(&f.frame_ends) {
            prop_assert_eq!(e.offset, start);
            prop_assert_eq!(e.offset + u64::from(e.framed_len), end as u64);
            start = end as u64;
        }
        prop_assert_eq!(read.valid_len, f.bytes.len() as u64);
        prop_assert_eq!(matches!(read.tail, TailState::Clean { .. }), f.closed);
        prop_assert_eq!(matches!(read.tail, TailState::Open), !f.closed);
    }
}

/// What every prefix of `f` must read as, checked for all prefix lengths.
fn check_every_truncation(f: &File) {
    let mut boundaries = vec![f.header_len];
    boundaries.extend(&f.frame_ends);
    for cut in 0..=f.bytes.len() {
        let bytes = &f.bytes[..cut];
        if cut < f.header_len {
            for mode in MODES {
                let err = read_log("p", bytes, mode).unwrap_err();
                assert!(err.is_truncation(), "cut {cut}: {err}");
            }
            continue;
        }
        let whole = boundaries.iter().filter(|&&b| b <= cut).count() - 1;
        let last_boundary = boundaries[whole];
        let read =
            read_log("p", bytes, RecoveryMode::TolerateTailCorruption).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(decoded(&read), f.entries[..whole].iter().collect::<Vec<_>>(), "cut {cut}");
        let clean = cut == f.bytes.len() && f.closed;
        let valid_len = if clean { cut } else { last_boundary };
        assert_eq!(read.valid_len as usize, valid_len, "cut {cut}");
        let expected_tail = if clean {
            None // Clean; the trailer is checked by the round trip test
        } else if cut == last_boundary {
            Some(TailState::Open)
        } else {
            Some(TailState::Torn { offset: last_boundary as u64, bytes: (cut - last_boundary) as u64 })
        };
        match &expected_tail {
            None => assert!(matches!(read.tail, TailState::Clean { .. }), "cut {cut}"),
            Some(t) => assert_eq!(&read.tail, t, "cut {cut}"),
        }
        let any = read_log("p", bytes, RecoveryMode::TolerateAnyCorruption).unwrap();
        assert_eq!(any, read, "cut {cut}");
        let strict = read_log("p", bytes, RecoveryMode::AbsoluteConsistency);
        let torn = matches!(expected_tail, Some(TailState::Torn { .. }));
        match strict {
            Err(FormatError::TornTail { offset, .. }) => {
                assert!(torn, "cut {cut}: torn error on a frame boundary");
                assert_eq!(offset as usize, last_boundary);
            }
            Err(e) => panic!("cut {cut}: {e}"),
            Ok(r) => assert!(!torn && r == read, "cut {cut}: mid-frame cut accepted"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Every prefix of a valid file reads as a prefix of its entries: never an error in
    /// TolerateTailCorruption (once the header is complete), and an error in AbsoluteConsistency
    /// exactly when the cut falls inside a frame, the trailer or the end magic.
    #[test]
    fn every_truncation_reads_as_a_prefix(f in file(5)) {
        check_every_truncation(&f);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A single flipped byte anywhere is detected: every mode reports corruption (an error that
    /// is not a truncation, or a Corrupt tail in TolerateAnyCorruption), never a Clean or Open
    /// file, and whatever entries come back are a prefix of the original ones.
    #[test]
    fn any_single_flipped_byte_is_detected(f in file(4), pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let mut bytes = f.bytes.clone();
        let at = pos.index(bytes.len());
        bytes[at] ^= xor;
        for mode in MODES {
            match read_log("p", &bytes, mode) {
                Err(e) => prop_assert!(!e.is_truncation(), "flip at {} read as truncation: {}", at, e),
                Ok(read) => {
                    prop_assert_eq!(mode, RecoveryMode::TolerateAnyCorruption, "flip at {} accepted", at);
                    prop_assert!(matches!(read.tail, TailState::Corrupt { .. }), "flip at {}: {:?}", at, read.tail);
                    assert_prefix(&read, &f);
                }
            }
        }
    }

    /// Zeros after the last frame (a preallocated tail) read as Open with every entry; fewer
    /// than 4 zeros cannot be told from the start of a frame length and read as Torn.
    #[test]
    fn zero_padded_file_is_open(mut f in file(4).prop_filter("no trailer", |f| !f.closed), pad in 0usize..300) {
        let written = f.bytes.len();
        f.bytes.resize(written + pad, 0);
        for mode in [RecoveryMode::TolerateTailCorruption, RecoveryMode::TolerateAnyCorruption] {
            let read = read_log("p", &f.bytes, mode).unwrap();
            prop_assert_eq!(decoded(&read), f.entries.iter().collect::<Vec<_>>());
            prop_assert_eq!(read.valid_len, written as u64);
            if (1..4).contains(&pad) {
                prop_assert_eq!(read.tail, TailState::Torn { offset: written as u64, bytes: pad as u64 });
            } else {
                prop_assert_eq!(read.tail, TailState::Open);
            }
        }
    }
}
