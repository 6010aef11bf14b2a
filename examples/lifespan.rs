//! Worker lifespans: with `worker_lifespan(k)`, a worker life runs at most
//! `k` tasks, then exits and a fresh life (with its own `#[worker_init]`)
//! takes its place. Useful to bound what a long-lived state accumulates
//! (memory, caches, leaks in foreign code).
//!
//! Run with `cargo run --example lifespan`.

use std::sync::atomic::{AtomicUsize, Ordering};

use statepool::prelude::*;

/// How many lives started, over all workers.
static INITS: AtomicUsize = AtomicUsize::new(0);

/// A state that grows with every task, like a cache that is never trimmed.
#[worker_state]
struct Cache {
    life: usize,
    entries: Vec<u64>,
}

#[worker_init]
fn start(_ctx: &WorkerContext) -> Cache {
    let life = INITS.fetch_add(1, Ordering::SeqCst);
    Cache {
        life,
        entries: Vec::new(),
    }
}

#[task]
fn square(cache: &mut Cache, x: u64) -> u64 {
    cache.entries.push(x * x);
    x * x
}

/// Each life reports its number, its worker and how big its cache grew.
#[worker_exit]
fn end(cache: Cache, ctx: &WorkerContext) -> (usize, usize, usize) {
    (cache.life, ctx.worker_id(), cache.entries.len())
}

fn main() -> Result<(), PoolError> {
    const LIFESPAN: usize = 25;
    let mut pool = CachePool::new(2).keep_alive().worker_lifespan(LIFESPAN);

    for call in 1..=3 {
        let squares = pool.map(0..100)?;
        assert_eq!(squares[99], 99 * 99);
        println!(
            "after call {call}: {} lives started so far",
            INITS.load(Ordering::SeqCst)
        );
    }
    pool.join()?;

    let mut lives = pool.exit_results();
    lives.sort_unstable();
    for (life, worker_id, entries) in &lives {
        println!("life {life:>2} on worker {worker_id}: cache of {entries:>2} entries");
    }
    let tasks: usize = lives.iter().map(|(_, _, entries)| entries).sum();
    println!(
        "{} lives ran {tasks} tasks; no cache grew past {LIFESPAN} entries",
        lives.len()
    );
    assert_eq!(tasks, 300);
    assert_eq!(lives.len(), INITS.load(Ordering::SeqCst));
    assert!(lives.iter().all(|(_, _, entries)| *entries <= LIFESPAN));
    Ok(())
}
