//! Directory layout and file names (HBase §5.1–5.2).
//!
//! ```text
//! WALs/<server>/<server>.<file number>   live WAL files of one server
//! WALs/<server>-splitting/               the same directory, fenced for splitting
//! oldWALs/<server>.<file number>         archived WAL files
//! corrupt/                               unparsable WALs moved aside by a split
//! ```
//! File numbers strictly increase: each is `max(previous + 1, wall clock ms)` (HBase 3.x), so a
//! clock that steps backwards never reorders files. Files are ordered by number, not by name.

/// Top-level directory of live WAL directories.
pub const WALS_DIR: &str = "WALs";
/// Archive directory.
pub const OLD_WALS_DIR: &str = "oldWALs";
/// Where corrupt WALs go when a split skips errors.
pub const CORRUPT_DIR: &str = "corrupt";
/// Suffix of a server directory being split.
pub const SPLITTING_SUFFIX: &str = "-splitting";

/// `WALs/<server>`.
pub fn server_dir(server: &str) -> String {
    format!("{WALS_DIR}/{server}")
}

/// `WALs/<server>-splitting`.
pub fn splitting_dir(server: &str) -> String {
    format!("{WALS_DIR}/{server}{SPLITTING_SUFFIX}")
}

/// `<server>.<file number>`.
pub fn wal_file_name(server: &str, file_number: u64) -> String {
    format!("{server}.{file_number}")
}

/// The file number of `name` if it is a WAL file of `server`.
pub fn parse_file_number(server: &str, name: &str) -> Option<u64> {
    let rest = name.strip_prefix(server)?.strip_prefix('.')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// The server and file number of a WAL file name `<server>.<n>`.
pub fn parse_wal_name(name: &str) -> Option<(&str, u64)> {
    let dot = name.rfind('.')?;
    let (server, num) = (&name[..dot], &name[dot + 1..]);
    if server.is_empty() || num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((server, num.parse().ok()?))
}

/// The next file number after `previous` given the wall clock.
pub fn next_file_number(previous: u64, wall_clock_ms: u64) -> u64 {
    (previous + 1).max(wall_clock_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirrors HBase `testWALComparator` in spirit: numbers order files; other servers' and
    /// malformed names are not ours.
    #[test]
    fn names_round_trip_and_filter() {
        let n = wal_file_name("rs1", 11);
        assert_eq!(parse_file_number("rs1", &n), Some(11));
        assert_eq!(parse_file_number("rs2", &n), None);
        assert_eq!(parse_file_number("rs1", "rs1.12x"), None);
        assert_eq!(parse_file_number("rs1", "rs1."), None);
        assert_eq!(parse_wal_name("rs1.99"), Some(("rs1", 99)));
        assert_eq!(next_file_number(100, 50), 101, "a clock step back never reorders files");
        assert_eq!(next_file_number(100, 500), 500);
    }
}
