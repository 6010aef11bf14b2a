use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn check(_state: &mut Counter, x: u64) -> Result<u64, ()> {
    if x > 0 { Ok(x) } else { Err(()) }
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: Vec<u64> = pool.map(0..4).unwrap();
}
