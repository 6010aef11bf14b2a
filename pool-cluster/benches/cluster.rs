//! The cluster against statepool's thread pool on the same machine: two
//! processes of one worker each on 127.0.0.1 (`ClusterPool`) against one
//! process of two workers (`Pool`), and sequential code, in one run.
//!
//! `cargo bench -p pool-cluster --bench cluster` runs it;
//! `STATEPOOL_BENCH_QUICK=1` a quick one. The bench starts its serving
//! processes itself (copies of this binary) and ends them at its end.
//!
//! - `c1_uniform_1us`: 2,000 items of 1 µs.
//! - `c2_expensive_init`: without keep_alive, each call starts every
//!   worker's life with a 5 ms init, then 2,000 items of 1 µs.
//! - `c3_per_item`: 100,000 nanosecond items: the cost of an item's trip.
//! - `c4_per_call`: 16 nanosecond items: the cost of a call.
//! - `c5_per_byte`: 256 items of 64 KiB each, whose task reads one byte.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use serde::{Deserialize, Serialize};
use statepool::cluster::{Cluster, ClusterPool};
use statepool::prelude::*;

/// Set in a serving process: `process hostfile`.
const SERVE: &str = "STATEPOOL_CLUSTER_BENCH_SERVE";

fn quick() -> bool {
    std::env::var_os("STATEPOOL_BENCH_QUICK").is_some()
}

/// What a task does.
#[derive(Clone, Serialize, Deserialize)]
enum Job {
    /// About `rounds` rounds of integer mixing.
    Spin { x: u64, rounds: u64 },
    /// A payload, of which the task reads one byte.
    Bytes(Vec<u8>),
}

#[inline]
fn mix(x: u64) -> u64 {
    let mut h = x;
    for _ in 0..4 {
        h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ x;
    }
    h
}

fn spin(x: u64, rounds: u64) -> u64 {
    (0..rounds).fold(x, |h, r| mix(h ^ r))
}

/// Rounds of `spin` that take about a microsecond here.
fn rounds_per_micro() -> u64 {
    let trial = 1_000_000;
    let started = Instant::now();
    black_box(spin(black_box(1), trial));
    ((1e-6 / (started.elapsed().as_secs_f64() / trial as f64)) as u64).max(1)
}

/// A worker whose init spins for the shared number of microseconds.
#[worker_state(shared = u64)]
struct Bench {
    tasks: u64,
}

#[worker_init]
fn start(ctx: &WorkerContext<u64>) -> Bench {
    let until = Instant::now() + Duration::from_micros(*ctx.shared());
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    Bench { tasks: 0 }
}

#[task]
fn work(bench: &mut Bench, job: Job) -> u64 {
    bench.tasks += 1;
    match job {
        Job::Spin { x, rounds } => spin(x, rounds),
        Job::Bytes(bytes) => u64::from(bytes[bytes.len() / 2]),
    }
}

#[worker_exit]
fn end(bench: Bench) -> u64 {
    bench.tasks
}

/// A serving process of the bench's clusters.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A cluster of 2 processes of 1 worker, whose inits take `init_micros`:
/// the driver here, the other process started from this binary.
fn cluster(init_micros: u64) -> (ClusterPool<Bench>, Server) {
    let ports: Vec<TcpListener> = (0..2)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let hosts: Vec<String> = ports
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    drop(ports);
    let hostfile = std::env::temp_dir().join(format!(
        "statepool-bench-{}-{init_micros}.txt",
        std::process::id()
    ));
    std::fs::write(&hostfile, hosts.join("\n")).unwrap();
    let server = Command::new(std::env::current_exe().unwrap())
        .env(SERVE, format!("1 {}", hostfile.display()))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pool = Cluster::new(1, 0, hosts)
        .start_with_shared::<Bench>(|| init_micros)
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_file(&hostfile);
    (pool, Server(server))
}

fn spins(n: u64, rounds: u64) -> Vec<Job> {
    (0..n).map(|x| Job::Spin { x, rounds }).collect()
}

fn benches(c: &mut Criterion) {
    let micro = rounds_per_micro();
    let (cluster_pool, _server) = cluster(0);
    let mut cluster_pool = cluster_pool.keep_alive();
    let mut threads = BenchPool::with_shared(2, 0u64).keep_alive();

    let n = 2_000;
    let mut g = c.benchmark_group("c1_uniform_1us");
    g.bench_function("pool_1x2", |b| {
        b.iter(|| threads.map(spins(n, micro)).unwrap())
    });
    g.bench_function("cluster_2x1", |b| {
        b.iter(|| cluster_pool.map(spins(n, micro)).unwrap())
    });
    g.bench_function("sequential", |b| {
        b.iter(|| (0..n).map(|x| spin(x, micro)).collect::<Vec<_>>())
    });
    g.finish();

    let n = 100_000;
    let mut g = c.benchmark_group("c3_per_item");
    g.bench_function("pool_1x2", |b| b.iter(|| threads.map(spins(n, 1)).unwrap()));
    g.bench_function("cluster_2x1", |b| {
        b.iter(|| cluster_pool.map(spins(n, 1)).unwrap())
    });
    g.bench_function("sequential", |b| {
        b.iter(|| (0..n).map(|x| spin(x, 1)).collect::<Vec<_>>())
    });
    g.finish();

    let mut g = c.benchmark_group("c4_per_call");
    g.bench_function("pool_1x2", |b| {
        b.iter(|| threads.map(spins(16, 1)).unwrap())
    });
    g.bench_function("cluster_2x1", |b| {
        b.iter(|| cluster_pool.map(spins(16, 1)).unwrap())
    });
    g.finish();

    let payloads = || -> Vec<Job> {
        (0..256)
            .map(|k| Job::Bytes(vec![k as u8; 64 << 10]))
            .collect()
    };
    let mut g = c.benchmark_group("c5_per_byte");
    g.bench_function("pool_1x2", |b| {
        b.iter_batched(
            payloads,
            |jobs| threads.map(jobs).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("cluster_2x1", |b| {
        b.iter_batched(
            payloads,
            |jobs| cluster_pool.map(jobs).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
    cluster_pool.join().unwrap();
    drop(cluster_pool);

    let (cluster_pool, _init_server) = cluster(5_000);
    let mut cluster_pool = cluster_pool;
    let mut threads = BenchPool::with_shared(2, 5_000u64);
    let n = 2_000;
    let mut g = c.benchmark_group("c2_expensive_init");
    g.sample_size(10);
    g.bench_function("pool_1x2", |b| {
        b.iter(|| threads.map(spins(n, micro)).unwrap())
    });
    g.bench_function("cluster_2x1", |b| {
        b.iter(|| cluster_pool.map(spins(n, micro)).unwrap())
    });
    g.finish();
    cluster_pool.join().unwrap();
}

fn config() -> Criterion {
    let c = Criterion::default().configure_from_args();
    if quick() {
        c.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
    } else {
        c.sample_size(20).measurement_time(Duration::from_secs(3))
    }
}

criterion_group! {
    name = cluster_benches;
    config = config();
    targets = benches
}

fn main() {
    if let Ok(role) = std::env::var(SERVE) {
        let (process, hostfile) = role.split_once(' ').unwrap();
        let hosts = std::fs::read_to_string(hostfile)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        let served = Cluster::new(1, process.parse().unwrap(), hosts)
            .start_with_shared::<Bench>(|| unreachable!("the driver makes the shared object"));
        std::process::exit(if matches!(served, Ok(None)) { 0 } else { 3 });
    }
    cluster_benches();
    Criterion::default().configure_from_args().final_summary();
}
