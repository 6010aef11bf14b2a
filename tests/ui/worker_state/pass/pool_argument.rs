use statepool::prelude::*;

#[worker_state(pool = Workers)]
#[derive(Default)]
struct Counter;

#[task]
fn double(_state: &mut Counter, x: u64) -> u64 {
    x * 2
}

fn main() {
    let mut pool: Workers = Workers::new(2);
    let _: &statepool::Pool<Counter> = &pool;
    assert_eq!(pool.map([1, 2]).unwrap(), [2, 4]);
}
