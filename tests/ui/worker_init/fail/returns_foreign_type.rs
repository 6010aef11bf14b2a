use statepool::prelude::*;

#[worker_init]
fn seed() -> u32 {
    42
}

fn main() {}
