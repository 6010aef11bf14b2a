use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn tick() -> u64 {
    1
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: u64 = pool.apply(()).unwrap();
}
