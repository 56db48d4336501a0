//! `hwal dump` and `hwal verify`: read log files from disk and report what they hold.
//!
//! Both take a file or a directory (walked recursively, files in path order) and read every file
//! with [`RecoveryMode::TolerateAnyCorruption`], so that the entries before a corrupt frame are
//! still shown and counted. The caller's mode then decides what counts as a failure:
//! 1. corruption and files that are not hwal logs always fail (exit code [`EXIT_CORRUPT`]);
//! 2. a torn tail (or a torn header) fails only under [`RecoveryMode::AbsoluteConsistency`];
//!    otherwise it is the normal end of a crashed writer's log and is only noted;
//! 3. an empty file is noted, never a failure (it holds no entries);
//! 4. a path that cannot be read is [`EXIT_IO`], unless something failed with [`EXIT_CORRUPT`].
//!
//! This is CLI code, so it uses `std::fs` directly.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hwal::format::{read_log, FormatError, LogRead, RecoveryMode, TailState};
use serde::Serialize;

/// Exit code: every file read as the mode allows.
pub const EXIT_OK: i32 = 0;
/// Exit code: a path could not be read, or the output could not be written.
pub const EXIT_IO: i32 = 1;
/// Exit code: a file is corrupt or not an hwal log (or torn, under `AbsoluteConsistency`).
pub const EXIT_CORRUPT: i32 = 2;

/// Collects the files under `path` (or `path` itself), sorted.
fn files_under(path: &Path) -> io::Result<Vec<PathBuf>> {
    fn walk(path: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
        if fs::metadata(path)?.is_dir() {
            for entry in fs::read_dir(path)? {
                walk(&entry?.path(), files)?;
            }
        } else {
            files.push(path.to_path_buf());
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(path, &mut files)?;
    files.sort();
    Ok(files)
}

/// Reads one file, keeping whatever precedes corruption.
fn read_file(path: &Path) -> io::Result<Result<LogRead, FormatError>> {
    let bytes = fs::read(path)?;
    Ok(read_log(&path.display().to_string(), &bytes, RecoveryMode::TolerateAnyCorruption))
}

/// The exit code a torn tail or torn header earns under `mode`.
fn torn_code(mode: RecoveryMode) -> i32 {
    if mode == RecoveryMode::AbsoluteConsistency {
        EXIT_CORRUPT
    } else {
        EXIT_OK
    }
}

/// Folds a file's exit code into the run's: corruption beats I/O trouble beats success.
fn worst(a: i32, b: i32) -> i32 {
    a.max(b)
}

#[derive(Serialize)]
struct DumpLine<'a> {
    file: &'a str,
    offset: u64,
    region: &'a str,
    seqid: u64,
    txid: u64,
    cells: usize,
}

/// Prints every entry of every file under `path`, one line each (`json`: one JSON object per
/// line); problems go to `err`. Returns the exit code (see the module docs).
pub fn dump(path: &Path, json: bool, mode: RecoveryMode, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let files = match files_under(path) {
        Ok(files) => files,
        Err(e) => return report_io(err, path, &e),
    };
    let mut code = EXIT_OK;
    for file in &files {
        let result = match read_file(file) {
            Ok(result) => result,
            Err(e) => {
                code = worst(code, report_io(err, file, &e));
                continue;
            }
        };
        match dump_file(&file.display().to_string(), result, json, mode, out, err) {
            Ok(c) => code = worst(code, c),
            Err(_) => return EXIT_IO, // the output is gone; nothing more can be reported
        }
    }
    code
}

fn report_io(err: &mut dyn Write, path: &Path, e: &io::Error) -> i32 {
    let _ = writeln!(err, "cannot read {}: {e}", path.display());
    EXIT_IO
}

fn dump_file(
    name: &str,
    result: Result<LogRead, FormatError>,
    json: bool,
    mode: RecoveryMode,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let read = match result {
        Ok(read) => read,
        Err(e) => return report_header_error(&e, mode, err),
    };
    for e in &read.entries {
        let line = DumpLine {
            file: name,
            offset: e.offset,
            region: e.entry.key.region.as_str(),
            seqid: e.entry.key.seqid,
            txid: e.entry.txid,
            cells: e.entry.edit.cells.len(),
        };
        if json {
            serde_json::to_writer(&mut *out, &line).map_err(io::Error::other)?;
            writeln!(out)?;
        } else {
            let DumpLine { file, offset, region, seqid, txid, cells } = line;
            writeln!(out, "file={file} offset={offset} region={region} seqid={seqid} txid={txid} cells={cells}")?;
        }
    }
    match read.tail {
        TailState::Clean { .. } | TailState::Open => Ok(EXIT_OK),
        TailState::Torn { offset, bytes } => {
            writeln!(err, "torn tail in {name} at offset {offset} ({bytes} bytes)")?;
            Ok(torn_code(mode))
        }
        TailState::Corrupt { offset, reason } => {
            writeln!(err, "{name}: corrupt at offset {offset}: {reason}")?;
            Ok(EXIT_CORRUPT)
        }
    }
}

/// A file whose header could not be read: note or fail, per the module rules.
fn report_header_error(e: &FormatError, mode: RecoveryMode, err: &mut dyn Write) -> io::Result<i32> {
    match e {
        FormatError::EmptyFile { path } => {
            writeln!(err, "empty file {path}: no entries")?;
            Ok(EXIT_OK)
        }
        FormatError::TruncatedHeader { .. } | FormatError::TornTail { .. } => {
            writeln!(err, "{e}")?;
            Ok(torn_code(mode))
        }
        FormatError::BadHeader { .. } | FormatError::Corrupt { .. } => {
            writeln!(err, "{e}")?;
            Ok(EXIT_CORRUPT)
        }
    }
}

/// Per-state file counts for the summary line.
#[derive(Default)]
struct Tally {
    files: u64,
    entries: u64,
    clean: u64,
    open: u64,
    torn: u64,
    corrupt: u64,
    empty: u64,
    bad_header: u64,
    unreadable: u64,
}

/// Checks every file under `dir` and prints one line per file, then a summary line:
///
/// ```text
/// file=<path> entries=<n> valid_len=<n> state=<clean|open|torn-tail|corrupt|empty|bad-header>
///     [ offset=<n> bytes=<k>]        (torn-tail)
///     [ offset=<n> reason=<text>]    (corrupt; bad-header has only reason=)
/// summary files=<n> entries=<n> clean=<n> open=<n> torn-tail=<n> corrupt=<n> empty=<n> bad-header=<n> unreadable=<n>
/// ```
///
/// Returns [`EXIT_OK`] when no file is corrupt (see the module docs for the other codes).
pub fn verify(dir: &Path, mode: RecoveryMode, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let files = match files_under(dir) {
        Ok(files) => files,
        Err(e) => return report_io(err, dir, &e),
    };
    let mut tally = Tally::default();
    let mut code = EXIT_OK;
    for file in &files {
        tally.files += 1;
        let result = match read_file(file) {
            Ok(result) => result,
            Err(e) => {
                tally.unreadable += 1;
                code = worst(code, report_io(err, file, &e));
                continue;
            }
        };
        let (line, c) = verify_line(&file.display().to_string(), &result, mode, &mut tally);
        code = worst(code, c);
        if writeln!(out, "{line}").is_err() {
            return EXIT_IO;
        }
    }
    let t = &tally;
    let summary = format!(
        "summary files={} entries={} clean={} open={} torn-tail={} corrupt={} empty={} bad-header={} unreadable={}",
        t.files, t.entries, t.clean, t.open, t.torn, t.corrupt, t.empty, t.bad_header, t.unreadable
    );
    if writeln!(out, "{summary}").is_err() {
        return EXIT_IO;
    }
    code
}

/// One file's verify line and exit code; counts it in `tally`.
fn verify_line(
    name: &str,
    result: &Result<LogRead, FormatError>,
    mode: RecoveryMode,
    tally: &mut Tally,
) -> (String, i32) {
    let read = match result {
        Ok(read) => read,
        Err(e) => return verify_header_error(name, e, mode, tally),
    };
    let n = read.entries.len();
    tally.entries += n as u64;
    let prefix = format!("file={name} entries={n} valid_len={}", read.valid_len);
    match &read.tail {
        TailState::Clean { .. } => {
            tally.clean += 1;
            (format!("{prefix} state=clean"), EXIT_OK)
        }
        TailState::Open => {
            tally.open += 1;
            (format!("{prefix} state=open"), EXIT_OK)
        }
        TailState::Torn { offset, bytes } => {
            tally.torn += 1;
            (format!("{prefix} state=torn-tail offset={offset} bytes={bytes}"), torn_code(mode))
        }
        TailState::Corrupt { offset, reason } => {
            tally.corrupt += 1;
            (format!("{prefix} state=corrupt offset={offset} reason={reason}"), EXIT_CORRUPT)
        }
    }
}

fn verify_header_error(name: &str, e: &FormatError, mode: RecoveryMode, tally: &mut Tally) -> (String, i32) {
    let prefix = format!("file={name} entries=0 valid_len=0");
    match e {
        FormatError::EmptyFile { .. } => {
            tally.empty += 1;
            (format!("{prefix} state=empty"), EXIT_OK)
        }
        FormatError::TruncatedHeader { len, .. } => {
            tally.torn += 1;
            (format!("{prefix} state=torn-tail offset=0 bytes={len}"), torn_code(mode))
        }
        FormatError::TornTail { offset, .. } => {
            tally.torn += 1;
            (format!("{prefix} state=torn-tail offset={offset}"), torn_code(mode))
        }
        FormatError::Corrupt { offset, reason, .. } => {
            tally.corrupt += 1;
            (format!("{prefix} state=corrupt offset={offset} reason={reason}"), EXIT_CORRUPT)
        }
        FormatError::BadHeader { reason, .. } => {
            tally.bad_header += 1;
            (format!("{prefix} state=bad-header reason={reason}"), EXIT_CORRUPT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwal::format::{encode_entry, encode_header, encode_trailer, FileHeader, FileKind, Trailer};
    use hwal::wal::entry::{Entry, RegionName, WalEdit, WalKey};

    const TAIL: RecoveryMode = RecoveryMode::TolerateTailCorruption;
    const ABS: RecoveryMode = RecoveryMode::AbsoluteConsistency;

    fn entry(txid: u64) -> Entry {
        let mut key = WalKey::new(RegionName::new("r1"), "t", 0);
        key.seqid = txid + 100;
        Entry { txid, key, edit: WalEdit::put(b"row", b"f", b"q", 1, b"v") }
    }

    /// A log with entries 1..=n; `closed` adds the trailer. Returns the bytes and frame starts.
    fn log(n: u64, closed: bool) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        encode_header(&FileHeader::new(FileKind::Wal, "rs1", 1, 0, "hwal/test"), &mut bytes);
        let mut starts = Vec::new();
        for txid in 1..=n {
            starts.push(bytes.len());
            encode_entry(&entry(txid), &mut bytes);
        }
        if closed {
            encode_trailer(&Trailer { entries: n, max_txid: n, max_seqid: n + 100 }, &mut bytes);
        }
        (bytes, starts)
    }

    fn run_dump(path: &Path, json: bool, mode: RecoveryMode) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = dump(path, json, mode, &mut out, &mut err);
        (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    fn run_verify(path: &Path, mode: RecoveryMode) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = verify(path, mode, &mut out, &mut err);
        (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    /// Dump walks a directory tree in path order and prints one line per entry.
    #[test]
    fn dump_walks_directories_in_order() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let (b, starts) = log(2, true);
        fs::write(dir.path().join("sub/wal.2"), &b).unwrap();
        fs::write(dir.path().join("wal.1"), log(1, false).0).unwrap();
        let (code, out, err) = run_dump(dir.path(), false, TAIL);
        assert_eq!((code, err.as_str()), (EXIT_OK, ""));
        let d = dir.path().display();
        let expected = format!(
            "file={d}/sub/wal.2 offset={} region=r1 seqid=101 txid=1 cells=1\n\
             file={d}/sub/wal.2 offset={} region=r1 seqid=102 txid=2 cells=1\n\
             file={d}/wal.1 offset={} region=r1 seqid=101 txid=1 cells=1\n",
            starts[0], starts[1], starts[0]
        );
        assert_eq!(out, expected);
    }

    /// The JSON form is one object per line with the documented keys.
    #[test]
    fn dump_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wal.1");
        let (b, starts) = log(2, false);
        fs::write(&file, &b).unwrap();
        let (code, out, _) = run_dump(&file, true, TAIL);
        assert_eq!(code, EXIT_OK);
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        let want = serde_json::json!({
            "file": file.display().to_string(), "offset": starts[1], "region": "r1",
            "seqid": 102, "txid": 2, "cells": 1
        });
        assert_eq!(lines[1], want);
    }

    /// A torn tail is noted and tolerated, except under AbsoluteConsistency.
    #[test]
    fn dump_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wal.1");
        let (b, starts) = log(3, false);
        fs::write(&file, &b[..b.len() - 2]).unwrap();
        let (code, out, err) = run_dump(&file, false, TAIL);
        assert_eq!(code, EXIT_OK);
        assert_eq!(out.lines().count(), 2);
        let torn = b.len() - 2 - starts[2];
        assert_eq!(err, format!("torn tail in {} at offset {} ({torn} bytes)\n", file.display(), starts[2]));
        assert_eq!(run_dump(&file, false, ABS).0, EXIT_CORRUPT);
    }

    /// Corruption fails the dump after printing the entries before it, naming file and offset.
    #[test]
    fn dump_corruption_mid_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wal.1");
        let (mut b, starts) = log(3, true);
        b[starts[1] + 14] ^= 0xff;
        fs::write(&file, &b).unwrap();
        let (code, out, err) = run_dump(&file, false, TAIL);
        assert_eq!(code, EXIT_CORRUPT);
        assert_eq!(out.lines().count(), 1);
        let expected = format!("{}: corrupt at offset {}: frame payload checksum mismatch", file.display(), starts[1]);
        assert!(err.starts_with(&expected), "{err}");
    }

    /// A foreign file fails the dump; an empty file is only noted.
    #[test]
    fn dump_foreign_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a-empty"), b"").unwrap();
        let (code, _, err) = run_dump(dir.path(), false, ABS);
        assert_eq!(code, EXIT_OK);
        assert_eq!(err, format!("empty file {}/a-empty: no entries\n", dir.path().display()));
        fs::write(dir.path().join("b-foreign"), b"PWAL0000").unwrap();
        let (code, _, err) = run_dump(dir.path(), false, TAIL);
        assert_eq!(code, EXIT_CORRUPT);
        assert!(err.contains("b-foreign: not a readable hwal log: offset 0: expected magic"), "{err}");
    }

    /// Dump reads recovered-edits files (split outputs) like WALs: every entry, one line each.
    #[test]
    fn dump_reads_recovered_edits() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("0000000000000000102");
        let mut bytes = Vec::new();
        encode_header(&FileHeader::new(FileKind::RecoveredEdits, "rs1", 7, 0, "hwal/split"), &mut bytes);
        encode_entry(&entry(1), &mut bytes);
        encode_entry(&entry(2), &mut bytes);
        encode_trailer(&Trailer { entries: 2, max_txid: 2, max_seqid: 102 }, &mut bytes);
        fs::write(&file, &bytes).unwrap();
        let (code, out, err) = run_dump(&file, false, ABS);
        assert_eq!((code, err.as_str()), (EXIT_OK, ""));
        assert_eq!(out.lines().count(), 2);
        assert!(out.lines().nth(1).unwrap().contains("region=r1 seqid=102"), "{out}");
    }

    /// A path that does not exist is an I/O failure, reported on the error stream.
    #[test]
    fn missing_path_is_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let (code, _, err) = run_dump(&missing, false, TAIL);
        assert_eq!(code, EXIT_IO);
        assert!(err.starts_with("cannot read"), "{err}");
        assert_eq!(run_verify(&missing, TAIL).0, EXIT_IO);
    }

    /// Verify prints one line per file in every state, a summary, and fails only on corruption.
    #[test]
    fn verify_reports_every_state() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        let (clean, _) = log(2, true);
        let (open, starts) = log(3, false);
        fs::write(p("1-clean"), &clean).unwrap();
        fs::write(p("2-open"), &open).unwrap();
        fs::write(p("3-torn"), &open[..open.len() - 1]).unwrap();
        fs::write(p("4-empty"), b"").unwrap();
        let (code, out, _) = run_verify(dir.path(), TAIL);
        assert_eq!(code, EXIT_OK);
        let d = dir.path().display();
        let torn_bytes = open.len() - 1 - starts[2];
        let expected = format!(
            "file={d}/1-clean entries=2 valid_len={} state=clean\n\
             file={d}/2-open entries=3 valid_len={} state=open\n\
             file={d}/3-torn entries=2 valid_len={} state=torn-tail offset={} bytes={torn_bytes}\n\
             file={d}/4-empty entries=0 valid_len=0 state=empty\n\
             summary files=4 entries=7 clean=1 open=1 torn-tail=1 corrupt=0 empty=1 bad-header=0 unreadable=0\n",
            clean.len(),
            open.len(),
            starts[2],
            starts[2]
        );
        assert_eq!(out, expected);
        assert_eq!(run_verify(dir.path(), ABS).0, EXIT_CORRUPT);

        let mut corrupt = open.clone();
        corrupt[starts[2] + 3] ^= 1;
        fs::write(p("5-corrupt"), &corrupt).unwrap();
        let (code, out, _) = run_verify(dir.path(), TAIL);
        assert_eq!(code, EXIT_CORRUPT);
        let line = out.lines().nth(4).unwrap();
        let want = format!(
            "file={d}/5-corrupt entries=2 valid_len={0} state=corrupt offset={0} reason=frame header",
            starts[2]
        );
        assert!(line.starts_with(&want), "{line}");
        assert!(out.ends_with("corrupt=1 empty=1 bad-header=0 unreadable=0\n"), "{out}");
    }
}
