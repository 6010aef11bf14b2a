mod counter {
    use statepool::prelude::*;

    /// The alias gets the struct's visibility.
    #[worker_state]
    #[derive(Default)]
    pub struct Counter {
        seen: u64,
    }

    #[task]
    fn count(state: &mut Counter, x: u64) -> u64 {
        state.seen += 1;
        x
    }
}

fn main() {
    let mut pool = counter::CounterPool::new(2);
    assert_eq!(pool.map(0..5).unwrap(), [0, 1, 2, 3, 4]);
}
