use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[worker_exit(always)]
fn report(state: &mut Counter) -> u64 {
    state.n
}

fn main() {
    let mut pool = CounterPool::new(2);
    pool.join().unwrap();
    let _: Vec<u64> = pool.exit_results();
}
