use statepool::prelude::*;

use std::sync::atomic::{AtomicUsize, Ordering};

static INITS: AtomicUsize = AtomicUsize::new(0);

/// With both `Default` and `#[worker_init]`, the hook wins.
#[worker_state]
#[derive(Default)]
struct Counter {
    from_init: bool,
}

#[worker_init]
fn start() -> Counter {
    INITS.fetch_add(1, Ordering::Relaxed);
    Counter { from_init: true }
}

#[task]
fn check(counter: &Counter, _x: u8) -> bool {
    counter.from_init
}

fn main() {
    let mut pool = CounterPool::new(2);
    assert!(pool.map(0..10).unwrap().into_iter().all(|b| b));
    assert_eq!(INITS.load(Ordering::Relaxed), 2);
}
