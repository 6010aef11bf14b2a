use statepool::prelude::*;

use std::rc::Rc;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn get(_state: &mut Counter, x: Rc<u64>) -> u64 {
    *x
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: u64 = pool.apply(Rc::new(1)).unwrap();
}
