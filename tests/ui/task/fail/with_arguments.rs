use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task(ordered)]
fn add(_state: &mut Counter, x: u64) -> u64 {
    x
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: Vec<u64> = pool.map(0..4).unwrap();
}
