use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[task]
fn add(state: Counter, x: u64) -> u64 {
    state.n + x
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: Vec<u64> = pool.map(0..4).unwrap();
}
