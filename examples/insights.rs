//! Worker insights: where the time of a skewed job went.
//!
//! Four workers index 2,000 "documents" of very different sizes: most take
//! about 50 µs, every 100th about 2 ms, and document 1,999, the last,
//! about 30 ms. Each life of a worker first builds a vocabulary (its
//! `#[worker_init]`, about 5 ms) and lives 300 documents
//! (`worker_lifespan`). With `enable_insights`, the pool measures each
//! worker's start-up, init, waiting, working and exit time, its tasks and
//! lives, and its slowest tasks; this example prints the table and draws
//! the timeline (cargo feature `svg`).
//!
//! Run with `cargo run --release --example insights`, which writes
//! `insights.svg` (or the path given as the first argument). In the
//! picture: each life's init in blue, the slow documents outlined in red,
//! and the idle tail of the workers that wait for document 1,999.

use std::hint::black_box;

use statepool::prelude::*;

/// How many documents the job indexes.
const DOCUMENTS: u64 = 2_000;

/// A worker's vocabulary: word hashes, built at the start of each life.
#[worker_state]
struct Indexer {
    vocabulary: Vec<u64>,
    indexed: u64,
}

/// Stirs `rounds` rounds of a xorshift generator (about 2.3 ns each),
/// a stand-in for real work that the optimiser cannot remove.
fn churn(seed: u64, rounds: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

#[worker_init]
fn build_vocabulary(ctx: &WorkerContext) -> Indexer {
    let seed = ctx.worker_id() as u64 + 1;
    let vocabulary = (0..5_000).map(|word| churn(seed ^ word, 450)).collect();
    Indexer {
        vocabulary,
        indexed: 0,
    }
}

/// Indexes document `doc`: its cost depends on its size.
#[task]
fn index(indexer: &mut Indexer, doc: u64) -> u64 {
    let rounds = match doc {
        1_999 => 13_000_000,
        doc if doc % 100 == 37 => 870_000,
        _ => 22_000,
    };
    indexer.indexed += 1;
    let word = indexer.vocabulary[(doc % 5_000) as usize];
    churn(word ^ doc, rounds)
}

/// Each life reports how many documents it indexed.
#[worker_exit]
fn done(indexer: Indexer) -> u64 {
    indexer.indexed
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "insights.svg".into());
    let mut pool = IndexerPool::new(4)
        .keep_alive()
        .worker_lifespan(300)
        .enable_insights();
    let hashes = pool.map(0..DOCUMENTS)?;
    assert_eq!(hashes.len() as u64, DOCUMENTS);
    pool.join()?;

    let insights = pool.insights();
    print!("{insights}");
    // Every document ran once, and the slowest is the one planted.
    assert_eq!(insights.tasks(), DOCUMENTS);
    assert_eq!(insights.slowest[0].index, 1_999);
    let indexed: u64 = pool.exit_results().iter().sum();
    assert_eq!(indexed, DOCUMENTS);

    insights.write_svg(&path)?;
    println!("timeline written to {path}");
    Ok(())
}
