use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[worker_exit]
fn report(state: &mut Counter, ctx: &WorkerContext, scale: u64) -> u64 {
    state.n * scale + ctx.worker_id() as u64
}

fn main() {
    let mut pool = CounterPool::new(2);
    pool.join().unwrap();
    let _: Vec<u64> = pool.exit_results();
}
