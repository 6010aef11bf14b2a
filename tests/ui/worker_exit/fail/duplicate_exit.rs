use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[worker_exit]
fn report(state: &mut Counter) -> u64 {
    state.n
}

#[worker_exit]
fn report_again(state: Counter) -> u64 {
    state.n
}

fn main() {}
