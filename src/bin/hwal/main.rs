//! The `hwal` command line: benchmark, load generator, file inspection and crash recovery.
//!
//! The flags below are a contract our own checks rely on; keep them stable.

mod bench;
mod inspect;
mod load;
mod recover;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use hwal::format::RecoveryMode;
use hwal::Pipeline;

#[derive(Parser)]
#[command(name = "hwal", version, about = "HBase-style write-ahead log: bench, load, dump, verify, split, replay")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PipelineArg {
    Scheduled,
    Classic,
}

impl From<PipelineArg> for Pipeline {
    fn from(p: PipelineArg) -> Self {
        match p {
            PipelineArg::Scheduled => Pipeline::Scheduled,
            PipelineArg::Classic => Pipeline::Classic,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    /// Any damage, a torn tail included, is an error.
    Absolute,
    /// A torn tail is normal (a crash); other damage is an error.
    TolerateTail,
    /// Read up to the first damage and report it.
    TolerateAny,
}

impl From<ModeArg> for RecoveryMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Absolute => RecoveryMode::AbsoluteConsistency,
            ModeArg::TolerateTail => RecoveryMode::TolerateTailCorruption,
            ModeArg::TolerateAny => RecoveryMode::TolerateAnyCorruption,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Measure group-commit throughput and latency on this disk (WALPerformanceEvaluation).
    Bench(bench::BenchArgs),
    /// Write SYNC_WAL edits until killed or the duration ends, printing `ACK <region> <seqid>`.
    Load(load::LoadArgs),
    /// Print every entry of a WAL file or directory.
    Dump {
        /// A file, or a directory searched recursively.
        path: PathBuf,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// How damage is treated.
        #[arg(long, value_enum, default_value = "tolerate-tail")]
        mode: ModeArg,
    },
    /// Split a dead server's WALs into per-region recovered edits (fences its WAL directory).
    Split(recover::SplitArgs),
    /// Open a region (replaying its recovered edits) and print every cell it then holds.
    Replay(recover::ReplayArgs),
    /// Check every WAL file under a directory: entries, last valid offset, state.
    Verify {
        /// The directory.
        dir: PathBuf,
        /// How damage is treated.
        #[arg(long, value_enum, default_value = "tolerate-tail")]
        mode: ModeArg,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Bench(a) => bench::run(a),
        Command::Load(a) => load::run(a),
        Command::Split(a) => recover::split(a),
        Command::Replay(a) => recover::replay(a),
        Command::Dump { path, json, mode } => {
            inspect::dump(&path, json, mode.into(), &mut std::io::stdout(), &mut std::io::stderr())
        }
        Command::Verify { dir, mode } => {
            inspect::verify(&dir, mode.into(), &mut std::io::stdout(), &mut std::io::stderr())
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
