use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter {
    sum: u64,
}

#[task]
fn add(state: &mut Counter, x: u64) -> u64 {
    state.sum += x;
    x * 2
}

fn main() {
    let mut pool = CounterPool::new(2);
    assert_eq!(pool.map(0..4).unwrap(), [0, 2, 4, 6]);
    // The function stays callable as written.
    let mut counter = Counter::default();
    assert_eq!(add(&mut counter, 5), 10);
    assert_eq!(counter.sum, 5);
}
