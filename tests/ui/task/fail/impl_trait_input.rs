use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn add(_state: &mut Counter, x: impl Into<u64>) -> u64 {
    x.into()
}

fn main() {}
