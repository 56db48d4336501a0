//! hwal-sim: the deterministic simulator of hwal (madsim).
//!
//! A run is one seed. Everything in it is derived from that seed: the knobs (cluster shape,
//! workload mix, engine configuration), the fault schedule (swarm testing: each fault kind is
//! switched off entirely in some seeds), and one ChaCha8 stream per actor (`rng::Dice`), while
//! madsim's seeded scheduler orders the tasks. The same seed twice gives a byte-identical trace.
//!
//! Layout:
//! - [`knobs`] and [`faults`]: what a seed decides, printed as one `key=value` line.
//! - [`env`] (`SimEnv`) and [`dfs`] (`SimDfs`, a madsim plugin): the engine's environment.
//! - [`cluster`]: region servers (madsim nodes, one `Wal` each), the workload, the master
//!   (fencing, recovery hook) and the supervisor that runs the safety then the liveness phase.
//! - [`oracle`]: the checks, through a `WalListener` per server and at every recovery.
//! - [`trace`]: one line per event.
//! - [`runner`]: one seed on a fresh OS thread; [`cli`]: `sweep`, `run`, `determinism`,
//!   `minimize`, `diff`.
//!
//! Everything that touches madsim is compiled only with `--cfg madsim` (`cargo sim ...`); the
//! seed-derivation modules (`rng`, `faults`, `knobs`) and the trace diff also build (and are unit
//! tested) without it.

#![forbid(unsafe_code)]

#[cfg(madsim)]
pub mod cli;
#[cfg(madsim)]
pub mod cluster;
#[cfg(madsim)]
pub mod dfs;
#[cfg(madsim)]
pub mod env;
pub mod faults;
pub mod knobs;
#[cfg(madsim)]
pub mod oracle;
pub mod rng;
#[cfg(madsim)]
pub mod runner;
#[cfg(madsim)]
pub mod trace;
pub mod tracediff;
