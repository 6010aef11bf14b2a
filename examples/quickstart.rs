//! The smallest complete program: a per-worker state, a task that updates
//! it, and an exit hook that reports it.
//!
//! Run with `cargo run --example quickstart`.

use statepool::prelude::*;

/// Each worker keeps a running sum of what it saw.
#[worker_state] // generates `CounterPool`
#[derive(Default)] // no `#[worker_init]`: workers start from `Counter::default()`
struct Counter {
    local_sum: u64,
}

/// The task: runs on a worker, with that worker's state.
#[task]
fn add(state: &mut Counter, x: u64) -> u64 {
    state.local_sum += x;
    x * 2
}

/// Runs once when a worker's life ends; the outputs are collected.
#[worker_exit]
fn report(state: &mut Counter, ctx: &WorkerContext) -> (usize, u64) {
    (ctx.worker_id(), state.local_sum)
}

fn main() -> Result<(), PoolError> {
    let mut pool = CounterPool::new(4).keep_alive();
    let doubled: Vec<u64> = pool.map(0..100)?; // results in input order
    println!("doubled[..5] = {:?}", &doubled[..5]);

    pool.join()?; // stop the workers, running `#[worker_exit]` on each
    let mut sums = pool.exit_results(); // one per finished worker life
    sums.sort_unstable();
    for (worker_id, sum) in &sums {
        println!("worker {worker_id} summed {sum}");
    }
    let total: u64 = sums.iter().map(|(_, sum)| sum).sum();
    // Workers share the items by taking chunks as they get to them: with 100
    // tasks this small, the first workers up may take them all.
    println!("total = {total} (every item counted once, by whichever worker ran it)");
    assert_eq!(total, 4950);
    Ok(())
}
