use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter {
    n: u64,
}

impl Counter {
    #[worker_exit]
    fn report(&mut self) -> u64 {
        self.n
    }
}

fn main() {
    let mut pool = CounterPool::new(2);
    pool.join().unwrap();
    let _: Vec<u64> = pool.exit_results();
}
