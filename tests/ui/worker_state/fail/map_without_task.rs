use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Idle;

fn main() {
    let mut pool = IdlePool::new(2);
    let _ = pool.map(0..4);
}
