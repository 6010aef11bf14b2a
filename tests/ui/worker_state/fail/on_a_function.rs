use statepool::prelude::*;

#[worker_state]
fn state() -> u64 {
    0
}

fn main() {}
