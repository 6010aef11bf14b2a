use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn double(x: u64) -> u64 {
    x * 2
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: Vec<u64> = pool.map(0..4).unwrap();
}
