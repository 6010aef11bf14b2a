//! The seed's "big model" example: a model that is expensive to build and
//! takes a lot of memory is loaded once per worker by `#[worker_init]`, on
//! the worker that uses it, and kept across calls with `keep_alive`.
//!
//! ```python
//! def load_big_model(worker_state):
//!     with open('./a_really_big_model.p3', 'rb') as f:
//!         worker_state['model'] = pickle.load(f)
//!
//! def model_predict(worker_state, x):
//!     return worker_state['model'].predict(x)
//!
//! with WorkerPool(n_jobs=4, use_worker_state=True, keep_alive=True) as pool:
//!     results = pool.map(model_predict, data, worker_init=load_big_model)
//!     more_results = pool.map(model_predict, more_data)
//! ```
//!
//! The "model" here is computed, not downloaded: a prime-counting table
//! `π(n)` for every `n` below 4 million (16 MB per worker), built with a
//! sieve of Eratosthenes. Predictions are exact lookups, compared with the
//! `n / ln n` estimate.
//!
//! Run with `cargo run --release --example big_model`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use statepool::prelude::*;

/// The table covers `0..LIMIT`.
const LIMIT: usize = 4_000_000;

/// How many times a model was built, over all workers and pools.
static LOADS: AtomicUsize = AtomicUsize::new(0);

/// `prime_count[n]` is the number of primes `<= n`.
#[worker_state]
struct PrimeModel {
    prime_count: Vec<u32>,
}

/// Builds the model: the expensive step that should run once per worker.
#[worker_init]
fn load_big_model(ctx: &WorkerContext) -> PrimeModel {
    let started = Instant::now();
    let mut composite = vec![false; LIMIT];
    let mut p = 2;
    while p * p < LIMIT {
        if !composite[p] {
            for multiple in (p * p..LIMIT).step_by(p) {
                composite[multiple] = true;
            }
        }
        p += 1;
    }
    let mut prime_count = Vec::with_capacity(LIMIT);
    let mut count = 0;
    for (n, &is_composite) in composite.iter().enumerate() {
        if n >= 2 && !is_composite {
            count += 1;
        }
        prime_count.push(count);
    }
    LOADS.fetch_add(1, Ordering::SeqCst);
    println!(
        "  worker {} loaded the model ({} MB) in {:.1?}",
        ctx.worker_id(),
        prime_count.len() * std::mem::size_of::<u32>() / 1_000_000,
        started.elapsed()
    );
    PrimeModel { prime_count }
}

/// What the model says about `n`: the exact `π(n)` and the error of the
/// `n / ln n` estimate, in percent.
#[derive(Debug)]
struct Prediction {
    n: usize,
    primes: u32,
    estimate_error_pct: f64,
}

/// Predicts with the worker's model; fails for inputs the table does not
/// cover.
#[task]
fn model_predict(model: &PrimeModel, n: usize) -> Result<Prediction, OutOfRange> {
    let primes = *model.prime_count.get(n).ok_or(OutOfRange(n))?;
    let estimate = n as f64 / (n as f64).ln();
    Ok(Prediction {
        n,
        primes,
        estimate_error_pct: 100.0 * (f64::from(primes) - estimate) / f64::from(primes),
    })
}

/// An input beyond the model's table.
#[derive(Debug)]
struct OutOfRange(usize);

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is beyond the model's table (0..{LIMIT})", self.0)
    }
}

impl std::error::Error for OutOfRange {}

fn main() -> Result<(), PoolError> {
    println!("keep_alive: the model is loaded once per worker, for every call");
    let mut pool = PrimeModelPool::new(4).keep_alive();
    let data = [10, 100, 1_000, 10_000];
    let more_data = [100_000, 1_000_000, 3_999_999];
    for prediction in pool.map(data)?.iter().chain(&pool.map(more_data)?) {
        println!(
            "  pi({:>9}) = {:>6}   (n / ln n is off by {:>5.2}%)",
            prediction.n, prediction.primes, prediction.estimate_error_pct
        );
    }
    assert_eq!(pool.apply(1_000_000)?.primes, 78_498);
    match pool.apply(LIMIT) {
        Err(PoolError::Task { source, .. }) => println!("  out of range: {source}"),
        other => panic!("expected a task error, got {other:?}"),
    }
    let loads = LOADS.load(Ordering::SeqCst);
    println!("4 calls, {loads} loads");
    assert_eq!(loads, 4);
    pool.join()?;

    println!("without keep_alive: every call loads the model again");
    let mut pool = PrimeModelPool::new(2);
    pool.map(data)?;
    pool.map(more_data)?;
    let loads = LOADS.load(Ordering::SeqCst) - loads;
    println!("2 calls, {loads} loads");
    assert_eq!(loads, 4);
    Ok(())
}
