use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn add(_state: &mut Counter, x: impl Into<u64>) -> u64 {
    x.into()
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: Vec<u64> = pool.map(vec![1u32, 2]).unwrap();
}
