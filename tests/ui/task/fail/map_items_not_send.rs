use statepool::prelude::*;

use std::rc::Rc;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn double(_state: &mut Counter, x: u64) -> u64 {
    x * 2
}

fn main() {
    let shared = Rc::new(2);
    let items = (0..4u64).map(move |x| x * *shared);
    let mut pool = CounterPool::new(2);
    let _ = pool.map(items);
}
