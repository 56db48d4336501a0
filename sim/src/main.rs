//! `hwal-sim`: the deterministic simulator's command line (see the library docs).
//!
//! The simulator only exists when built with `--cfg madsim`; `cargo sim <subcommand>` does that
//! (a cargo alias with its own target dir). A plain build gets a binary that says so.

#[cfg(madsim)]
fn main() {
    std::process::exit(hwal_sim::cli::main());
}

#[cfg(not(madsim))]
fn main() {
    eprintln!(
        "hwal-sim was built without `--cfg madsim`, so the simulator is not compiled in.\n\
         Run it through the cargo alias instead, from the repository root:\n\
         \n    cargo sim sweep --seeds 0..2000 --jobs 2\n    cargo sim run --seed 11 --trace /tmp/seed11.trace\n\
         \n(`cargo sim` builds with --cfg madsim in release into target/madsim.)"
    );
    std::process::exit(2);
}
