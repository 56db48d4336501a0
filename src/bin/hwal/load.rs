//! `hwal load`: a crash-test load generator.
//!
//! Writer threads append SYNC_WAL edits (one cell each) and, after every acknowledged sync,
//! print `ACK <region> <seqid>` for the edits that sync covered, flushing stdout each time. A
//! test can SIGKILL the process at any moment: every ACK line it managed to read names an edit
//! that must be found in the WAL afterwards.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use hwal::{Config, Durability, Mvcc, RegionName, Wal, WalEdit, WalKey};

use super::PipelineArg;

/// Flags of `hwal load`.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Root directory (files go under `<dir>/WALs/<server>/`).
    #[arg(long)]
    dir: PathBuf,
    /// Writer threads.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Value bytes per edit.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Regions `r0..r{R-1}`; thread i writes region i % R.
    #[arg(long, default_value_t = 4)]
    regions: usize,
    /// Stop after this many seconds (default: run until killed).
    #[arg(long)]
    duration_s: Option<f64>,
    /// Region server name.
    #[arg(long, default_value = "rs1")]
    server: String,
    /// Which pipeline.
    #[arg(long, value_enum, default_value = "scheduled")]
    pipeline: PipelineArg,
    /// Roll the WAL whenever the current file exceeds this many bytes.
    #[arg(long)]
    roll_size: Option<u64>,
}

/// Runs the load; returns the exit code.
pub fn run(a: LoadArgs) -> i32 {
    if a.threads == 0 || a.regions == 0 {
        eprintln!("hwal load: --threads and --regions must be at least 1");
        return 2;
    }
    let mut cfg = Config { server: a.server.clone(), pipeline: a.pipeline.into(), ..Config::default() };
    if let Some(r) = a.roll_size {
        cfg.roll_size_bytes = r;
    }
    let wal = match Wal::open(&a.dir, cfg) {
        Ok(w) => Arc::new(w),
        Err(e) => {
            eprintln!("hwal load: cannot open the WAL in {}: {e}", a.dir.display());
            return 1;
        }
    };
    let regions: Vec<Arc<Mvcc>> = (0..a.regions).map(|_| Arc::new(Mvcc::new(0))).collect();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = a.duration_s.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let handles: Vec<_> = (0..a.threads)
        .map(|t| {
            let (wal, out, stop) = (wal.clone(), out.clone(), stop.clone());
            let mvcc = regions[t % a.regions].clone();
            let name = format!("r{}", t % a.regions);
            let value = vec![b'x'; a.value_size];
            std::thread::spawn(move || -> Result<(), String> {
                let region = RegionName::new(&name);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
                    let key = WalKey::new(region.clone(), "load", i);
                    let row = format!("row-{t}-{i}");
                    let edit = WalEdit::put(row.as_bytes(), b"f", b"q", i, &value);
                    let r =
                        wal.append_sync_blocking(&mvcc, key, edit, Durability::SyncWal).map_err(|e| e.to_string())?;
                    let seqid = r.appended.seqid;
                    mvcc.complete(r.appended.write_entry);
                    r.synced.map_err(|e| e.to_string())?;
                    let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
                    writeln!(o, "ACK {name} {seqid}").and_then(|_| o.flush()).map_err(|e| e.to_string())?;
                    i += 1;
                }
                Ok(())
            })
        })
        .collect();
    let mut code = 0;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("hwal load: writer failed: {e}");
                stop.store(true, Ordering::Relaxed);
                code = 1;
            }
            Err(_) => code = 1,
        }
    }
    if let Err(e) = wal.close_blocking() {
        eprintln!("hwal load: close failed: {e}");
        code = 1;
    }
    code
}
