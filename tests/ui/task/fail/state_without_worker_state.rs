use statepool::prelude::*;

#[derive(Default)]
struct Counter {
    n: u64,
}

#[task]
fn add(state: &mut Counter, x: u64) -> u64 {
    state.n += x;
    x
}

fn main() {}
