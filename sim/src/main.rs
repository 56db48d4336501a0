//! hwal-sim: the deterministic simulator (being built). Run it as `cargo sim <subcommand>`.
fn main() {
    eprintln!("hwal-sim: the simulator is not built yet");
    std::process::exit(2);
}
