use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn double(_state: &mut Counter, x: u64) -> u64 {
    x * 2
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _ = pool.map(vec!["one", "two"]);
}
