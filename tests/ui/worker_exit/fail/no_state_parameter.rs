use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[worker_exit]
fn report() -> u64 {
    0
}

fn main() {
    let mut pool = CounterPool::new(2);
    pool.join().unwrap();
    let _: Vec<u64> = pool.exit_results();
}
