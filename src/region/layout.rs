//! Where a region's files live, and the names of recovered-edits and sequence-id files
//! (HBase §5.1, §5.3).
//!
//! ```text
//! data/<table>/<region>/                         the region directory
//! data/<table>/<region>/<family>/<%019d seqid>   immutable store files (see `storefile`)
//! data/<table>/<region>/.tmp/                    store files being written by a flush
//! data/<table>/<region>/recovered.edits/
//!     <%019d first seqid>-<wal file>-<worker>.temp   a split output being written (never replayed)
//!     <%019d max seqid>                              a finished split output (replayed on open)
//!     <n>.seqid                                      the region's max seqid at its last open/close
//!     <name>.<ms>                                    a file replay moved aside after an error
//! ```
//!
//! Rules:
//! 1. Table, region and family names become path segments, so they must be non-empty, not `.`
//!    or `..`, and contain no `/` ([`check_segment`]); a family may not be named like the
//!    reserved directories.
//! 2. Replay considers exactly the names made of ASCII digits ([`parse_recovered_edits`]):
//!    `.temp`, `.seqid` and moved-aside files never match.
//! 3. Zero padding to 19 digits makes name order equal seqid order.

/// Top-level directory of region data.
pub const DATA_DIR: &str = "data";
/// Per-region directory of split outputs.
pub const RECOVERED_EDITS_DIR: &str = "recovered.edits";
/// Per-region directory of store files being written.
pub const TMP_DIR: &str = ".tmp";
/// Suffix of split outputs still being written.
pub const TEMP_SUFFIX: &str = ".temp";
/// Suffix of sequence-id marker files.
pub const SEQID_SUFFIX: &str = ".seqid";

/// Rule 1: `name` can be used as one path segment; `what` names it in the error.
pub fn check_segment(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(format!("{what} name {name:?} cannot be a path segment (empty, '.', '..' or contains '/')"));
    }
    Ok(())
}

/// Rule 1 for families: also not one of the region directory's reserved names.
pub fn check_family(family: &[u8]) -> Result<(), String> {
    let name = std::str::from_utf8(family).map_err(|_| format!("family {family:?} is not UTF-8"))?;
    check_segment("family", name)?;
    if name == RECOVERED_EDITS_DIR || name == TMP_DIR {
        return Err(format!("family name {name:?} is reserved"));
    }
    Ok(())
}

/// `data/<table>`.
pub fn table_dir(table: &str) -> String {
    format!("{DATA_DIR}/{table}")
}

/// `data/<table>/<region>`.
pub fn region_dir(table: &str, region: &str) -> String {
    format!("{DATA_DIR}/{table}/{region}")
}

/// `data/<table>/<region>/<family>` (the family must pass [`check_family`]).
pub fn family_dir(table: &str, region: &str, family: &[u8]) -> String {
    format!("{}/{}", region_dir(table, region), String::from_utf8_lossy(family))
}

/// `data/<table>/<region>/.tmp`.
pub fn tmp_dir(table: &str, region: &str) -> String {
    format!("{}/{TMP_DIR}", region_dir(table, region))
}

/// `data/<table>/<region>/recovered.edits`.
pub fn recovered_edits_dir(table: &str, region: &str) -> String {
    format!("{}/{RECOVERED_EDITS_DIR}", region_dir(table, region))
}

/// A seqid as 19 zero-padded digits (rule 3).
pub fn seqid_name(seqid: u64) -> String {
    format!("{seqid:019}")
}

/// The name of a split output being written.
pub fn temp_edits_name(first_seqid: u64, wal_file: &str, worker: &str) -> String {
    format!("{}-{wal_file}-{worker}{TEMP_SUFFIX}", seqid_name(first_seqid))
}

/// Rule 2: the max seqid a finished recovered-edits file name stands for.
pub fn parse_recovered_edits(name: &str) -> Option<u64> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// `<n>.seqid`.
pub fn seqid_file_name(seqid: u64) -> String {
    format!("{seqid}{SEQID_SUFFIX}")
}

/// The seqid of a sequence-id file name.
pub fn parse_seqid_file(name: &str) -> Option<u64> {
    let n = name.strip_suffix(SEQID_SUFFIX)?;
    parse_recovered_edits(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirrors the naming half of HBase `TestWALSplit.testRecoveredEditsPathForMeta`: outputs
    /// live in `<region dir>/recovered.edits`, finished names are 19 digits, temp, seqid and
    /// moved-aside names are never replayable.
    #[test]
    fn names_round_trip_and_only_finished_files_replay() {
        assert_eq!(recovered_edits_dir("t", "r"), "data/t/r/recovered.edits");
        assert_eq!(seqid_name(16310), "0000000000000016310");
        assert_eq!(parse_recovered_edits("0000000000000016310"), Some(16310));
        assert_eq!(parse_recovered_edits(&temp_edits_name(5, "rs1.7", "w")), None);
        assert_eq!(parse_recovered_edits(&seqid_file_name(9)), None);
        assert_eq!(parse_recovered_edits("0000000000000000009.1700000000000"), None);
        assert_eq!(parse_seqid_file("42.seqid"), Some(42));
        assert_eq!(parse_seqid_file("42"), None);
        assert!(seqid_name(9) < seqid_name(10), "zero padding keeps name order = seqid order");
    }

    /// Names that would escape or confuse the directory layout are refused.
    #[test]
    fn unsafe_segments_are_refused() {
        for bad in ["", ".", "..", "a/b"] {
            assert!(check_segment("table", bad).is_err(), "{bad:?}");
        }
        assert!(check_family(b"recovered.edits").is_err());
        assert!(check_family(b".tmp").is_err());
        assert!(check_family(b"f").is_ok());
    }
}
