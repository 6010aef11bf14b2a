use statepool::prelude::*;

#[worker_state(name = Workers)]
#[derive(Default)]
struct Counter {
    n: u64,
}

fn main() {}
