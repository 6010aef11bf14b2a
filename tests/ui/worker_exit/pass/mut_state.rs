use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Sum {
    total: u64,
}

#[task]
fn add(sum: &mut Sum, x: u64) {
    sum.total += x;
}

#[worker_exit]
fn report(sum: &mut Sum) -> u64 {
    sum.total
}

fn main() {
    let mut pool = SumPool::new(2);
    pool.map(1..=10).unwrap();
    assert_eq!(pool.exit_results().iter().sum::<u64>(), 55);
}
