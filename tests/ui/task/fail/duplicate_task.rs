use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[task]
fn add(state: &mut Counter, x: u64) -> u64 {
    state.n += x;
    x
}

#[task]
fn double(_state: &mut Counter, x: u64) -> u64 {
    x * 2
}

fn main() {}
