use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn add<T: Into<u64>>(_state: &mut Counter, x: T) -> u64 {
    x.into()
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: Vec<u64> = pool.map(vec![1u32, 2]).unwrap();
}
