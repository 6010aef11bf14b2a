use statepool::prelude::*;

#[derive(Default)]
struct Counter {
    n: u64,
}

#[worker_exit]
fn report(state: &mut Counter) -> u64 {
    state.n
}

fn main() {}
