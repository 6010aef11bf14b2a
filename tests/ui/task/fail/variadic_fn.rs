use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
unsafe extern "C" fn add(_state: &mut Counter, x: u64, _: ...) -> u64 {
    x
}

fn main() {}
