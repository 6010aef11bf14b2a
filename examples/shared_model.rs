//! Shared objects: a model path and a configuration reach every worker's
//! `#[worker_init]` and every task through the pool, not through a global
//! (mpire's `shared_objects`, Python's `initargs`). Two pools of the same
//! state type load two different models in one program.
//!
//! ```text
//! cargo run --example shared_model                       # writes and loads two demo models
//! cargo run --example shared_model -- a.model b.model --threshold 0.25
//! ```
//!
//! A model file holds whitespace-separated weights. Without paths, the
//! example writes two demo models into the system's temporary directory
//! first. Each worker loads its pool's model once (`keep_alive`), then
//! scores rows of features that the program owns: the tasks borrow them
//! (`&[f64]`), and read the threshold and their worker id from the
//! context.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use statepool::prelude::*;

/// What every worker of one pool shares: given once to `with_shared`.
struct ModelConfig {
    path: PathBuf,
    /// Scores above it are positive.
    threshold: f64,
    /// Model loads so far, over every worker life of this pool.
    loads: AtomicUsize,
}

/// One worker's copy of the model.
#[worker_state(shared = ModelConfig)]
struct Scorer {
    weights: Vec<f64>,
}

/// Loads the pool's model: once per worker life, on that worker.
#[worker_init]
fn load(ctx: &WorkerContext<ModelConfig>) -> std::io::Result<Scorer> {
    let config = ctx.shared();
    let text = std::fs::read_to_string(&config.path)?;
    let weights = text
        .split_whitespace()
        .map(|w| w.parse().map_err(std::io::Error::other))
        .collect::<Result<Vec<f64>, _>>()?;
    config.loads.fetch_add(1, Ordering::Relaxed);
    Ok(Scorer { weights })
}

/// Scores one row, borrowed from the caller, against the threshold of the
/// pool's configuration; says which worker scored it.
#[task]
fn score(scorer: &Scorer, row: &[f64], ctx: &WorkerContext<ModelConfig>) -> (f64, bool, usize) {
    let dot: f64 = scorer.weights.iter().zip(row).map(|(w, x)| w * x).sum();
    let score = 1.0 / (1.0 + (-dot).exp());
    (score, score > ctx.shared().threshold, ctx.worker_id())
}

/// The command line: up to two model paths and `--threshold X`.
fn parse_args() -> (Vec<PathBuf>, f64) {
    let mut paths = Vec::new();
    let mut threshold = 0.5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--threshold" {
            let value = args.next().expect("--threshold takes a number");
            threshold = value.parse().expect("--threshold takes a number");
        } else {
            paths.push(PathBuf::from(arg));
        }
    }
    (paths, threshold)
}

/// Two small demo models, written where the example can read them back.
fn demo_models() -> std::io::Result<Vec<PathBuf>> {
    let dir = std::env::temp_dir().join("statepool-shared-model");
    std::fs::create_dir_all(&dir)?;
    let mut paths = Vec::new();
    for (name, weights) in [
        ("cautious", [0.2, -0.4, 0.1, 0.05]),
        ("eager", [1.5, 0.8, 0.9, 1.2]),
    ] {
        let path = dir.join(format!("{name}.model"));
        let text: Vec<String> = weights.iter().map(f64::to_string).collect();
        std::fs::write(&path, text.join(" "))?;
        paths.push(path);
    }
    Ok(paths)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut paths, threshold) = parse_args();
    if paths.is_empty() {
        paths = demo_models()?;
    }
    // Rows the program owns; the tasks borrow them.
    let rows: Vec<Vec<f64>> = (0..1_000)
        .map(|i| {
            let x = i as f64 / 1_000.0;
            vec![x, 1.0 - x, (x * 7.0).sin(), (x * 3.0).cos()]
        })
        .collect();

    let mut pools: Vec<(PathBuf, ScorerPool)> = paths
        .iter()
        .map(|path| {
            let config = ModelConfig {
                path: path.clone(),
                threshold,
                loads: AtomicUsize::new(0),
            };
            (
                path.clone(),
                ScorerPool::with_shared(4, config).keep_alive(),
            )
        })
        .collect();

    // Two rounds on each pool, interleaved: each keeps its own model.
    for round in 1..=2 {
        for (path, pool) in &mut pools {
            let scored = pool.map(rows.iter().map(Vec::as_slice))?;
            let positive = scored.iter().filter(|s| s.1).count();
            let mut workers: Vec<usize> = scored.iter().map(|s| s.2).collect();
            workers.sort_unstable();
            workers.dedup();
            let mean = scored.iter().map(|s| s.0).sum::<f64>() / scored.len() as f64;
            println!(
                "round {round}, model {}: {positive} of {} rows above {threshold} (mean score {mean:.3}), scored by workers {workers:?}",
                path.display(),
                scored.len(),
            );
        }
    }
    for (path, pool) in &mut pools {
        pool.join()?;
        let loads = pool.shared().loads.load(Ordering::Relaxed);
        println!(
            "model {}: loaded {loads} times, once per worker ({} workers, kept alive over both rounds)",
            path.display(),
            pool.n_workers(),
        );
    }
    Ok(())
}
