//! The seed's first example: every worker keeps a local sum in its state,
//! and `#[worker_exit]` hands each sum back when the worker's life ends.
//!
//! ```python
//! def task(worker_state, x):
//!     if "local_sum" not in worker_state:
//!         worker_state["local_sum"] = 0
//!     worker_state["local_sum"] += x
//!
//! with WorkerPool(n_jobs=4, use_worker_state=True) as pool:
//!     results = pool.map(task, range(100))
//! ```
//!
//! Run with `cargo run --example local_sum`.

use statepool::prelude::*;

/// The worker state: typed, instead of a dictionary filled on first use.
#[worker_state]
#[derive(Default)]
struct LocalSum {
    local_sum: u64,
    items: usize,
}

#[task]
fn task(state: &mut LocalSum, x: u64) {
    state.local_sum += x;
    state.items += 1;
}

/// What each worker life reports: which worker, how many items, what sum.
#[worker_exit]
fn collect(state: LocalSum, ctx: &WorkerContext) -> (usize, usize, u64) {
    (ctx.worker_id(), state.items, state.local_sum)
}

fn main() -> Result<(), PoolError> {
    // Without keep_alive, the call starts fresh workers and ends them: every
    // worker's exit hook runs before `map` returns.
    let mut pool = LocalSumPool::new(4);
    pool.map(0..100)?;

    let mut sums = pool.exit_results();
    sums.sort_unstable();
    for (worker_id, items, sum) in &sums {
        println!("worker {worker_id}: {items:>3} items, local sum {sum:>4}");
    }
    let total: u64 = sums.iter().map(|(_, _, sum)| sum).sum();
    println!(
        "sum of local sums = {total} (expected {})",
        (0..100).sum::<u64>()
    );
    assert_eq!(total, 4950);

    // A second call starts from fresh states again.
    pool.map(0..10)?;
    let again: u64 = pool.exit_results().iter().map(|(_, _, sum)| sum).sum();
    println!("second call, fresh states: sum of local sums = {again}");
    assert_eq!(again, 45);
    Ok(())
}
