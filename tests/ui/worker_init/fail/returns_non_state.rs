use statepool::prelude::*;

struct Config {
    threads: usize,
}

#[worker_init]
fn load() -> Config {
    Config { threads: 1 }
}

fn main() {}
