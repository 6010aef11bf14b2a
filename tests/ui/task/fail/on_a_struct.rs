use statepool::prelude::*;

#[task]
struct Counter {
    n: u64,
}

fn main() {}
