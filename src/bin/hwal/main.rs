// Wired into the clap CLI separately; until then only the unit tests call it.
#[allow(dead_code)]
mod inspect;

fn main() {}
