use statepool::prelude::*;

#[worker_state(pool = "Workers")]
#[derive(Default)]
struct Counter {
    n: u64,
}

fn main() {}
