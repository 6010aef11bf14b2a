use statepool::prelude::*;

use std::rc::Rc;

#[worker_state]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[worker_exit]
fn report(state: &mut Counter) -> Rc<u64> {
    Rc::new(state.n)
}

fn main() {
    let mut pool = CounterPool::new(2);
    pool.join().unwrap();
    let _: Vec<Rc<u64>> = pool.exit_results();
}
