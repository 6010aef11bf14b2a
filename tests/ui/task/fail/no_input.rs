use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[task]
fn bump(state: &mut Counter) -> u64 {
    state.n += 1;
    state.n
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: u64 = pool.apply(()).unwrap();
}
