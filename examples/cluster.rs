//! The seed's "big model" scenario across processes: each worker of a
//! timely cluster builds a model once (a prime-counting table, `π(n)` for
//! every `n` below 2 million), then answers two calls with `keep_alive`.
//! The same `#[worker_state]`, `#[worker_init]`, `#[task]` and
//! `#[worker_exit]` code as on one machine; only the pool differs.
//!
//! Run bare, it starts a cluster of 2 processes on 127.0.0.1 itself (as a
//! launcher would) and waits for both:
//!
//! ```text
//! cargo run --release --example cluster --features cluster
//! ```
//!
//! On several hosts, write a hostfile of `host:port` lines (one per
//! process, in process order) and start one process per host with
//! timely's arguments:
//!
//! ```text
//! host0$ cluster -w 2 -n 2 -p 0 -h hosts.txt   # the driver
//! host1$ cluster -w 2 -n 2 -p 1 -h hosts.txt   # serves until the driver ends
//! ```

use std::process::Command;
use std::time::Instant;

use statepool::cluster::ClusterPool;
use statepool::prelude::*;

/// The table covers `0..LIMIT`.
const LIMIT: usize = 2_000_000;

/// `prime_count[n]` is the number of primes `<= n`.
#[worker_state]
struct PrimeModel {
    prime_count: Vec<u32>,
    answered: u64,
}

/// Builds the model: the expensive step, once per worker life.
#[worker_init]
fn load_model() -> PrimeModel {
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
    let mut count = 0;
    let prime_count = composite
        .iter()
        .enumerate()
        .map(|(n, &is_composite)| {
            if n >= 2 && !is_composite {
                count += 1;
            }
            count
        })
        .collect();
    PrimeModel {
        prime_count,
        answered: 0,
    }
}

/// `π(n)`, from the worker's model.
#[task]
fn predict(model: &mut PrimeModel, n: u64) -> Result<u32, String> {
    model.answered += 1;
    model
        .prime_count
        .get(n as usize)
        .copied()
        .ok_or_else(|| format!("{n} is past the model's range"))
}

/// Each worker reports which worker it was and how many questions it
/// answered.
#[worker_exit]
fn report(model: PrimeModel, ctx: &WorkerContext) -> (usize, u64) {
    (ctx.worker_id(), model.answered)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 1 {
        return launch(&args[0]);
    }
    let started = Instant::now();
    let Some(pool) = ClusterPool::<PrimeModel>::from_args(args)? else {
        // A serving process: the driver ended, and so does this one.
        return Ok(());
    };
    let mut pool = pool.keep_alive();
    println!(
        "driver: {} workers connected in {:.1?}",
        pool.n_workers(),
        started.elapsed()
    );
    let data: Vec<u64> = (0..20_000).map(|k| k * 97 % LIMIT as u64).collect();
    let results = pool.map(data.clone())?;
    let more = pool.map((1..=10).map(|k| k * 100_000))?;
    println!("π(10^5·k) for k = 1..10: {more:?}");
    assert_eq!(more[9], 78_498, "π(10^6)");
    assert_eq!(results.len(), data.len());
    pool.join()?;
    let mut exits = pool.exit_results();
    exits.sort_unstable();
    for (worker, answered) in &exits {
        println!("worker {worker} answered {answered} questions");
    }
    assert_eq!(
        exits.iter().map(|(_, answered)| answered).sum::<u64>(),
        20_010
    );
    println!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// Starts the two processes of a cluster on 127.0.0.1, on ports the system
/// says are free, and waits for both.
fn launch(program: &str) -> Result<(), Box<dyn std::error::Error>> {
    let ports: Vec<std::net::TcpListener> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    let hosts: Vec<String> = ports
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect::<Result<_, _>>()?;
    drop(ports);
    let hostfile =
        std::env::temp_dir().join(format!("statepool-cluster-{}.txt", std::process::id()));
    std::fs::write(&hostfile, hosts.join("\n"))?;
    println!("starting 2 processes: {}", hosts.join(", "));
    let children: Vec<std::process::Child> = (0..2)
        .map(|process| {
            Command::new(program)
                .args(["-w", "1", "-n", "2", "-p", &process.to_string(), "-h"])
                .arg(&hostfile)
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut failed = false;
    for mut child in children {
        failed |= !child.wait()?.success();
    }
    std::fs::remove_file(&hostfile)?;
    if failed {
        return Err("a process of the cluster failed".into());
    }
    Ok(())
}
