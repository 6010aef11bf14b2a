//! A model server: one model per worker, many request threads, one pool.
//!
//! A server answers requests with a model that is slow to load and keeps
//! mutable scratch space, so two requests must never use one copy at once.
//! Requests come from many threads (one per connection, say), more threads
//! than the machine has cores and far more than it has memory for models.
//!
//! The pool has two workers. Each loads its own copy of the model once, in
//! `#[worker_init]`, and keeps it between requests (`keep_alive`); a worker
//! runs one request at a time, so its model needs no lock. Every request
//! thread holds a clone of one [`PoolHandle`](statepool::PoolHandle):
//! `handle.apply(request)` queues the request for whichever worker is free
//! and waits for its answer. The pool itself is not shared: no
//! `Arc<Mutex<Pool>>`, whose lock would let one request in at a time.
//!
//! Eight threads send their requests at once; the program prints each
//! thread's latencies, counts the model loads through the pool's shared
//! object (two: one per worker, not one per thread or per request), and
//! sums the requests each worker served as its `#[worker_exit]` reports.
//!
//! Run with `cargo run --example model_server`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use statepool::prelude::*;

const WORKERS: usize = 2;
const REQUEST_THREADS: usize = 8;
const REQUESTS_PER_THREAD: usize = 200;

/// What loading the model costs: it stands in for reading its weights from
/// disk.
const LOAD_TIME: Duration = Duration::from_millis(150);

/// Slots in the model's hashed vocabulary.
const VOCABULARY: usize = 1 << 12;

/// Words the model knows, with their weights; every other word weighs 0.
const LEXICON: [(&str, f32); 7] = [
    ("great", 2.0),
    ("love", 1.5),
    ("fast", 1.0),
    ("fine", 0.5),
    ("slow", -1.0),
    ("broken", -1.5),
    ("awful", -2.0),
];

/// What every worker of the pool shares: counters the hooks update.
#[derive(Default)]
struct ServerStats {
    loads: AtomicUsize,
    unloads: AtomicUsize,
}

/// One worker's copy of the model.
#[worker_state(shared = ServerStats)]
struct SentimentModel {
    /// A weight per vocabulary slot.
    weights: Vec<f32>,
    /// Scratch space reused by every request: why the model is per worker.
    word_scores: Vec<f32>,
    /// Requests this copy answered.
    served: usize,
}

/// Loads the model: the expensive step, once per worker.
#[worker_init]
fn load(ctx: &WorkerContext<ServerStats>) -> SentimentModel {
    thread::sleep(LOAD_TIME);
    let mut weights = vec![0.0; VOCABULARY];
    for (word, weight) in LEXICON {
        weights[slot(word)] = weight;
    }
    let loads = ctx.shared().loads.fetch_add(1, Ordering::SeqCst) + 1;
    println!("worker {} loaded the model (load {loads})", ctx.worker_id());
    SentimentModel {
        weights,
        word_scores: Vec::new(),
        served: 0,
    }
}

/// A word's slot in the vocabulary (FNV-1a).
fn slot(word: &str) -> usize {
    let hash = word.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % VOCABULARY as u64) as usize
}

/// The answer to one request.
#[derive(Debug)]
struct Answer {
    score: f32,
    /// The worker whose model answered.
    worker: usize,
}

/// Answers one request with the worker's model.
#[task]
fn classify(model: &mut SentimentModel, text: String, ctx: &WorkerContext<ServerStats>) -> Answer {
    model.word_scores.clear();
    for word in text.split_whitespace() {
        let word = word
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        model.word_scores.push(model.weights[slot(&word)]);
    }
    model.served += 1;
    Answer {
        score: model.word_scores.iter().sum(),
        worker: ctx.worker_id(),
    }
}

/// Unloads the model at the end of the worker's life; reports how many
/// requests it answered.
#[worker_exit]
fn unload(model: &mut SentimentModel, ctx: &WorkerContext<ServerStats>) -> usize {
    ctx.shared().unloads.fetch_add(1, Ordering::SeqCst);
    model.served
}

const REVIEWS: [&str; 4] = [
    "Great service, I love it!",
    "Slow and broken, awful.",
    "Fine, a bit slow.",
    "Fast!",
];

/// What one request thread saw.
struct ThreadReport {
    /// The first request's latency: it may wait for a model to load.
    first: Duration,
    /// The latencies of the other requests.
    rest: Vec<Duration>,
    /// Which workers answered it.
    workers: [bool; WORKERS],
}

fn main() -> Result<(), PoolError> {
    let mut pool = SentimentModelPool::with_shared(WORKERS, ServerStats::default()).keep_alive();
    // One handle, cloned into every request thread: `Clone + Send + Sync`.
    let handle = pool.handle();

    let started = Instant::now();
    let request_threads: Vec<_> = (0..REQUEST_THREADS)
        .map(|t| {
            let handle = handle.clone();
            thread::spawn(move || -> Result<ThreadReport, PoolError> {
                let mut latencies = Vec::with_capacity(REQUESTS_PER_THREAD);
                let mut workers = [false; WORKERS];
                for i in 0..REQUESTS_PER_THREAD {
                    let review = REVIEWS[(t + i) % REVIEWS.len()];
                    let sent = Instant::now();
                    let answer = handle.apply(review.to_string())?; // waits for the answer
                    latencies.push(sent.elapsed());
                    workers[answer.worker] = true;
                    if i == 0 {
                        println!("thread {t}: {review:?} scores {:+}", answer.score);
                    }
                }
                let first = latencies.remove(0);
                Ok(ThreadReport {
                    first,
                    rest: latencies,
                    workers,
                })
            })
        })
        .collect();
    let reports: Vec<ThreadReport> = request_threads
        .into_iter()
        .map(|t| t.join().expect("a request thread panicked"))
        .collect::<Result<_, _>>()?;
    let elapsed = started.elapsed();

    println!();
    println!("thread  first     mean    max       answered by workers");
    for (t, report) in reports.iter().enumerate() {
        let mean = report.rest.iter().sum::<Duration>() / report.rest.len() as u32;
        let max = report.rest.iter().max().copied().unwrap_or_default();
        let workers: Vec<usize> = (0..WORKERS).filter(|&w| report.workers[w]).collect();
        println!(
            "{t:>6}  {:>5} ms  {:>4} µs  {:>5} µs  {workers:?}",
            report.first.as_millis(),
            mean.as_micros(),
            max.as_micros(),
        );
    }
    let requests = REQUEST_THREADS * REQUESTS_PER_THREAD;
    println!(
        "{requests} requests from {REQUEST_THREADS} threads in {:.0?}; the first ones waited for a model to load",
        elapsed
    );

    // Stop the workers: each unloads its model and reports what it served.
    pool.join()?;
    let served: Vec<usize> = pool.exit_results();
    let stats = pool.shared();
    let (loads, unloads) = (
        stats.loads.load(Ordering::SeqCst),
        stats.unloads.load(Ordering::SeqCst),
    );
    println!("models loaded: {loads}, unloaded: {unloads}; requests served per worker: {served:?}");
    assert_eq!(
        loads, WORKERS,
        "one model per worker, not per thread or request"
    );
    assert_eq!(unloads, WORKERS);
    assert_eq!(served.iter().sum::<usize>(), requests);
    Ok(())
}
