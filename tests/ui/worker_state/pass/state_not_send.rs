use statepool::prelude::*;

use std::cell::RefCell;
use std::rc::Rc;

/// A state need not be `Send`: it lives and dies on its worker's thread.
#[worker_state]
#[derive(Default)]
struct Cache {
    hits: Rc<RefCell<u64>>,
}

#[task]
fn hit(cache: &mut Cache, x: u64) -> u64 {
    *cache.hits.borrow_mut() += 1;
    x
}

#[worker_exit]
fn report(cache: Cache) -> u64 {
    let hits = *cache.hits.borrow();
    hits
}

fn main() {
    let mut pool = CachePool::new(2);
    pool.map(0..10).unwrap();
    assert_eq!(pool.exit_results().iter().sum::<u64>(), 10);
}
