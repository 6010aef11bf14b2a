use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter {
    n: u64,
}

impl Counter {
    #[task]
    fn add(&mut self, x: u64) -> u64 {
        self.n += x;
        x
    }
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: Vec<u64> = pool.map(0..4).unwrap();
}
