//! `hwal split` and `hwal replay`: crash recovery from the command line.
//!
//! Output contract (our checks rely on it):
//! - `split` prints one `wal ...` line per WAL file, one `region ...` line per region with its
//!   edit count, one `output ...` line per recovered-edits file and a `split ...` summary; exit 0.
//!   On failure it prints `hwal split: <error>` (naming file and offset for damage) to stderr and
//!   exits 2 for a damaged input, 1 for anything else.
//! - `replay` prints every visible cell of the region after opening it, one per line:
//!   `<region> <row> <family> <qualifier> <seqid>` (bytes outside printable ASCII, and spaces,
//!   as `\xNN`), or with `--json` one object per line with keys `region`, `row`, `family`,
//!   `qualifier`, `seqid`. A summary goes to stderr. Exit 0, 2 for damaged input, 1 otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use hwal::env::{block_on, Env, RealEnv};
use hwal::recovery::{split_server, SplitConfig, SplitReport, StoreFileSeqids, WalDisposition};
use hwal::region::{layout, Region, RegionError, RegionOptions};
use hwal::{Config, RegionName, Wal};
use serde::Serialize;

use super::ModeArg;

/// Flags of `hwal split`.
#[derive(Args, Debug)]
pub struct SplitArgs {
    /// Root directory (WALs under `<dir>/WALs/<server>/`).
    #[arg(long)]
    dir: PathBuf,
    /// The dead server whose WALs are split.
    #[arg(long)]
    server: String,
    /// Move unreadable WALs to `corrupt/` and go on (default: fail, finalizing nothing).
    #[arg(long)]
    skip_errors: bool,
    /// How WAL files are read.
    #[arg(long, value_enum, default_value = "tolerate-tail")]
    mode: ModeArg,
    /// Writer tasks.
    #[arg(long, default_value_t = 3)]
    writer_threads: usize,
    /// Entry buffer bound in bytes.
    #[arg(long, default_value_t = 128 * 1024 * 1024)]
    buffer_bytes: u64,
}

/// Flags of `hwal replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Root directory (regions under `<dir>/data/<table>/<region>/`).
    #[arg(long)]
    dir: PathBuf,
    /// The region to open.
    #[arg(long)]
    region: String,
    /// Its table (default: the only table that has the region).
    #[arg(long)]
    table: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// How recovered edits are read.
    #[arg(long, value_enum, default_value = "tolerate-tail")]
    mode: ModeArg,
    /// Move unreadable recovered-edits files aside instead of failing the open.
    #[arg(long)]
    skip_errors: bool,
    /// Server name of the WAL the opened region writes its markers to.
    #[arg(long, default_value = "hwal-replay")]
    server: String,
}

fn env_for(dir: &Path) -> Result<Arc<dyn Env>, String> {
    let env = RealEnv::builder(dir).preallocate(0).worker_threads(2).build();
    env.map(|e| e as Arc<dyn Env>).map_err(|e| format!("cannot use {}: {e}", dir.display()))
}

/// Runs `hwal split`; returns the exit code.
pub fn split(a: SplitArgs) -> i32 {
    let env = match env_for(&a.dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("hwal split: {e}");
            return 1;
        }
    };
    let cfg = SplitConfig {
        split_buffer_bytes: a.buffer_bytes,
        split_writer_threads: a.writer_threads,
        skip_errors: a.skip_errors,
        recovery_mode: a.mode.into(),
        ..SplitConfig::default()
    };
    let flushed = StoreFileSeqids::new(env.fs());
    match block_on(split_server(&env, &a.server, &cfg, &flushed)) {
        Ok(report) => match print_split(&report, &mut std::io::stdout().lock()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("hwal split: cannot write the report: {e}");
                1
            }
        },
        Err(e) => {
            eprintln!("hwal split: {e}");
            if e.is_corruption() {
                2
            } else {
                1
            }
        }
    }
}

fn print_split(r: &SplitReport, out: &mut dyn Write) -> std::io::Result<()> {
    for w in &r.wals {
        let to = match &w.disposition {
            WalDisposition::Archived { to } => format!("archived={to}"),
            WalDisposition::Corrupt { to } => format!("corrupt={to}"),
            WalDisposition::Missing => "missing".to_string(),
        };
        let damage = w.damage.as_ref().map(|d| format!(" damage={d:?}")).unwrap_or_default();
        writeln!(
            out,
            "wal file={} entries={} edits={} skipped_flushed={} skipped_markers={} skipped_empty={} {to}{damage}",
            w.path, w.entries_read, w.edits_kept, w.skipped_flushed, w.skipped_markers, w.skipped_empty
        )?;
    }
    for ((table, region), edits) in r.edits_per_region() {
        writeln!(out, "region table={table} region={region} edits={edits}")?;
    }
    for o in &r.outputs {
        writeln!(
            out,
            "output table={} region={} wal={} edits={} first_seqid={} max_seqid={} kept={} path={}",
            o.table, o.region, o.wal, o.edits, o.first_seqid, o.max_seqid, o.kept, o.path
        )?;
    }
    let corrupt = r.corrupt_files().len();
    let edits: u64 = r.edits_per_region().values().sum();
    writeln!(
        out,
        "split server={} files={} corrupt={corrupt} regions={} edits={edits} outputs={}",
        r.server,
        r.wals.len(),
        r.edits_per_region().len(),
        r.outputs.iter().filter(|o| o.kept).count()
    )
}

/// The table holding `region`, when exactly one does.
async fn find_table(env: &Arc<dyn Env>, region: &str) -> Result<String, String> {
    let fs = env.fs();
    let tables = fs.list(layout::DATA_DIR).await.map_err(|e| format!("cannot list {}: {e}", layout::DATA_DIR))?;
    let mut found = Vec::new();
    for t in tables.into_iter().filter(|t| t.is_dir) {
        let dir = layout::region_dir(&t.name, region);
        if fs.metadata(&dir).await.map_err(|e| format!("cannot stat {dir}: {e}"))?.is_some() {
            found.push(t.name);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!("no table under {} has region {region}", layout::DATA_DIR)),
        _ => Err(format!("region {region} exists in several tables ({}): pass --table", found.join(", "))),
    }
}

#[derive(Serialize)]
struct CellLine<'a> {
    region: &'a str,
    row: String,
    family: String,
    qualifier: String,
    seqid: u64,
}

/// Printable form of a byte string: ASCII graphic characters as is, everything else `\xNN`.
fn text(b: &[u8]) -> String {
    b.iter()
        .map(|&c| if c.is_ascii_graphic() && c != b'\\' { (c as char).to_string() } else { format!("\\x{c:02x}") })
        .collect()
}

/// Runs `hwal replay`; returns the exit code.
pub fn replay(a: ReplayArgs) -> i32 {
    match block_on(replay_inner(&a)) {
        Ok(()) => 0,
        Err((code, msg)) => {
            eprintln!("hwal replay: {msg}");
            code
        }
    }
}

async fn replay_inner(a: &ReplayArgs) -> Result<(), (i32, String)> {
    let env = env_for(&a.dir).map_err(|e| (1, e))?;
    let table = match &a.table {
        Some(t) => t.clone(),
        None => find_table(&env, &a.region).await.map_err(|e| (1, e))?,
    };
    let cfg = Config { server: a.server.clone(), ..Config::default() };
    let wal = Wal::open_with(env.clone(), cfg, Arc::new(hwal::wal::listener::NoopListener)).await;
    let wal = Arc::new(wal.map_err(|e| (1, format!("cannot open the WAL: {e}")))?);
    let options =
        RegionOptions { recovery_mode: a.mode.into(), replay_skip_errors: a.skip_errors, ..RegionOptions::default() };
    let opened = Region::open(env.clone(), wal.clone(), &table, &RegionName::new(&a.region), options).await;
    let region = match opened {
        Ok(r) => r,
        Err(e) => {
            let _ = wal.close().await;
            return Err((open_error_code(&e), e.to_string()));
        }
    };
    let rep = region.open_report();
    eprintln!(
        "opened table={table} region={} open_seqid={} replayed_files={} cells_applied={} cells_skipped={} moved_aside={}",
        a.region,
        rep.open_seqid,
        rep.replay.replayed.len(),
        rep.replay.cells_applied,
        rep.replay.cells_skipped,
        rep.replay.moved_aside.len()
    );
    let printed = print_cells(&region, &a.region, a.json);
    let closed = region.close().await;
    let wal_closed = wal.close().await;
    printed.map_err(|e| (1, format!("cannot write the cells: {e}")))?;
    closed.map_err(|e| (1, format!("closing the region failed: {e}")))?;
    wal_closed.map_err(|e| (1, format!("closing the WAL failed: {e}")))
}

fn open_error_code(e: &RegionError) -> i32 {
    match e {
        RegionError::StoreFile(_) => 2,
        RegionError::Replay { source: hwal::recovery::ReplayError::Format(_), .. } => 2,
        _ => 1,
    }
}

fn print_cells(region: &Region, name: &str, json: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for c in region.scan() {
        let line = CellLine {
            region: name,
            row: text(&c.cell.row),
            family: text(&c.cell.family),
            qualifier: text(&c.cell.qualifier),
            seqid: c.seqid,
        };
        if json {
            serde_json::to_writer(&mut out, &line).map_err(std::io::Error::other)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{} {} {} {} {}", line.region, line.row, line.family, line.qualifier, line.seqid)?;
        }
    }
    out.flush()
}
