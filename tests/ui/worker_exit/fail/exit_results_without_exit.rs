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

fn main() {
    let mut pool = CounterPool::new(2);
    pool.map(0..4).unwrap();
    let _ = pool.exit_results();
}
