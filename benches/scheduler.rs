//! statepool side by side with rayon, `std::thread::scope` with fixed chunks
//! and sequential code, on the workloads users judge a pool by.
//!
//! `cargo bench --bench scheduler` runs the full suite;
//! `STATEPOOL_BENCH_QUICK=1 cargo bench --bench scheduler` a quick one.
//! `python3 benches/report.py` then prints the ratios (medians) that go to
//! BENCHMARKS.md.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use rayon::prelude::*;
use statepool::{
    BoxError, ExitValue, OwnedInput, Pool, PoolError, Task, WorkerContext, WorkerState,
};

fn quick() -> bool {
    std::env::var_os("STATEPOOL_BENCH_QUICK").is_some()
}

fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A few nanoseconds of integer mixing.
#[inline]
fn mix(x: u64) -> u64 {
    let mut h = x;
    for _ in 0..4 {
        h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ x;
    }
    h
}

/// `rounds` rounds of `mix`: the unit of the slower workloads.
#[inline]
fn spin(x: u64, rounds: u64) -> u64 {
    (0..rounds).fold(x, |h, r| mix(h ^ r))
}

/// Rounds of `spin` that take about a microsecond on this machine.
fn rounds_per_micro() -> u64 {
    static ROUNDS: AtomicUsize = AtomicUsize::new(0);
    let known = ROUNDS.load(Relaxed);
    if known != 0 {
        return known as u64;
    }
    let trial = 1_000_000;
    let started = Instant::now();
    black_box(spin(black_box(1), trial));
    let per_round = started.elapsed().as_secs_f64() / trial as f64;
    let rounds = ((1e-6 / per_round) as u64).max(1);
    ROUNDS.store(rounds as usize, Relaxed);
    rounds
}

/// Heavy-tailed costs: one item in a hundred is 200 times slower.
#[inline]
fn tail_cost(i: u64, unit: u64) -> u64 {
    if mix(i) % 100 == 0 {
        200 * unit
    } else {
        unit
    }
}

/// Processes `input` on `w` scoped threads, in `w` fixed contiguous chunks.
fn scope_map<T: Sync, O: Send + Default + Clone>(
    w: usize,
    input: &[T],
    f: impl Fn(&T) -> O + Sync,
) -> Vec<O> {
    let mut out = vec![O::default(); input.len()];
    let chunk = input.len().div_ceil(w).max(1);
    std::thread::scope(|s| {
        for (ins, outs) in input.chunks(chunk).zip(out.chunks_mut(chunk)) {
            let f = &f;
            s.spawn(move || {
                for (i, o) in ins.iter().zip(outs) {
                    *o = f(i);
                }
            });
        }
    });
    out
}

fn rayon_pool(w: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(w)
        .build()
        .expect("rayon pool")
}

/// Declares a state that keeps the calibrated unit of work, read once per
/// life (as rayon's closures capture it once per call), and whose task is
/// `$f(x, unit)`.
macro_rules! state {
    ($name:ident, $f:expr) => {
        struct $name {
            unit: u64,
        }
        impl WorkerState for $name {
            type Shared = ();
            fn start_life(_: &WorkerContext) -> Result<Self, BoxError> {
                Ok($name {
                    unit: rounds_per_micro(),
                })
            }
            fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
                Ok(None)
            }
        }
        impl Task for $name {
            type Input<'a> = u64;
            type InputKind = OwnedInput;
            type Output = u64;
            #[inline]
            fn run(&mut self, x: u64, _: &WorkerContext) -> Result<u64, BoxError> {
                Ok(($f)(x, self.unit))
            }
            fn into_static(x: u64) -> Option<u64> {
                Some(x)
            }
        }
    };
}

state!(Fine, |x, _| mix(x));
state!(Uniform, spin);
state!(Tailed, |x, unit| spin(x, tail_cost(x, unit)));
state!(HeavyFirst, |x, unit| spin(x, first_cost(x, unit)));

/// Costs sorted slowest first: the first eighth of the items (of
/// `HEAVY_FIRST_ITEMS`) is 100 times slower than the rest.
const HEAVY_FIRST_ITEMS: u64 = 4_000;

#[inline]
fn first_cost(i: u64, unit: u64) -> u64 {
    if i < HEAVY_FIRST_ITEMS / 8 {
        100 * unit
    } else {
        unit
    }
}

/// 1. Millions of items of a few nanoseconds.
fn fine_grained(c: &mut Criterion) {
    let n: u64 = if quick() { 1 << 20 } else { 1 << 22 };
    let w = workers();
    let rayon = rayon_pool(w);
    let mut pool = Pool::<Fine>::new(w).keep_alive();
    map_group(c, "1_fine_grained", &mut pool, &rayon, n, mix);
    let input: Vec<u64> = (0..n).collect();

    // The same over an owned vector (its clone is part of every variant).
    let mut g = c.benchmark_group("1b_fine_grained_vec");
    g.bench_function("statepool", |b| b.iter(|| pool.map(input.clone()).unwrap()));
    g.bench_function("rayon", |b| {
        b.iter(|| {
            rayon.install(|| {
                input
                    .clone()
                    .into_par_iter()
                    .map_init(|| (), |_, x| mix(x))
                    .collect::<Vec<_>>()
            })
        })
    });
    g.bench_function("sequential", |b| {
        b.iter(|| input.clone().into_iter().map(mix).collect::<Vec<_>>())
    });
    g.finish();
}

/// 1c. Fine-grained items from an iterator that is neither a range nor a
/// vector (`(0..2n).filter(even)`): mapped straight from it, collected into a
/// vector first and then mapped (the collect counts), and rayon's
/// `par_bridge`.
fn filtered(c: &mut Criterion) {
    let n: u64 = if quick() { 1 << 19 } else { 1 << 20 };
    let w = workers();
    let rayon = rayon_pool(w);
    let mut pool = Pool::<Fine>::new(w).keep_alive();
    let items = move || (0..2 * n).filter(|x| x % 2 == 0);
    let mut g = c.benchmark_group("1c_filtered");
    g.bench_function("statepool", |b| b.iter(|| pool.map(items()).unwrap()));
    g.bench_function("statepool_collect_then_map", |b| {
        b.iter(|| pool.map(items().collect::<Vec<_>>()).unwrap())
    });
    g.bench_function("rayon", |b| {
        b.iter(|| {
            rayon.install(|| {
                items()
                    .par_bridge()
                    .map_init(|| (), |_, x| mix(x))
                    .collect::<Vec<_>>()
            })
        })
    });
    g.bench_function("sequential", |b| {
        b.iter(|| items().map(mix).collect::<Vec<_>>())
    });
    g.finish();
}

/// One group mapping `work` over `0..n`: statepool (`pool`, whose task is
/// `work`), rayon, scoped threads and sequential code.
fn map_group<S>(
    c: &mut Criterion,
    name: &str,
    pool: &mut Pool<S>,
    rayon: &rayon::ThreadPool,
    n: u64,
    work: impl Fn(u64) -> u64 + Sync,
) where
    S: for<'a> Task<Input<'a> = u64, Output = u64>,
{
    let w = pool.n_workers();
    let input: Vec<u64> = (0..n).collect();
    let mut g = c.benchmark_group(name);
    g.bench_function("statepool", |b| b.iter(|| pool.map(0..n).unwrap()));
    g.bench_function("rayon", |b| {
        b.iter(|| {
            rayon.install(|| {
                (0..n)
                    .into_par_iter()
                    .map_init(|| (), |_, x| work(x))
                    .collect::<Vec<_>>()
            })
        })
    });
    g.bench_function("scope", |b| b.iter(|| scope_map(w, &input, |&x| work(x))));
    g.bench_function("sequential", |b| {
        b.iter(|| (0..n).map(&work).collect::<Vec<_>>())
    });
    g.finish();
}

/// [`map_group`] over items whose item `x` takes `cost(x, unit)` rounds of
/// `spin`, for the state `S` whose task is that.
fn spin_group<S>(
    c: &mut Criterion,
    name: &str,
    n: u64,
    rayon: &rayon::ThreadPool,
    cost: impl Fn(u64, u64) -> u64 + Sync,
) where
    S: for<'a> Task<Input<'a> = u64, Output = u64> + statepool::NoShared,
{
    let unit = rounds_per_micro();
    let mut pool = Pool::<S>::new(workers()).keep_alive();
    map_group(c, name, &mut pool, rayon, n, |x| spin(x, cost(x, unit)));
}

/// Uniform tasks of about a microsecond (2), heavy-tailed costs (3), and
/// the slowest items first (3b: whoever takes the first items in one chunk
/// holds up the end, as with inputs sorted by size).
fn slow_tasks(c: &mut Criterion) {
    let n: u64 = if quick() { 4_000 } else { 20_000 };
    let rayon = rayon_pool(workers());
    spin_group::<Uniform>(c, "2_uniform_1us", n, &rayon, |_, unit| unit);
    spin_group::<Tailed>(c, "3_heavy_tailed", n, &rayon, tail_cost);
    spin_group::<HeavyFirst>(c, "3b_heavy_first", HEAVY_FIRST_ITEMS, &rayon, first_cost);
}

/// A lookup table of `TABLE_LEN` words, expensive to build.
const TABLE_LEN: usize = 2 << 20; // 16 MiB

static STATEPOOL_INITS: AtomicUsize = AtomicUsize::new(0);
static RAYON_INITS: AtomicUsize = AtomicUsize::new(0);

fn build_table() -> Vec<u64> {
    (0..TABLE_LEN as u64).map(mix).collect()
}

#[inline]
fn lookup(table: &[u64], x: u64) -> u64 {
    table[(mix(x) as usize) % table.len()]
}

struct Table(Vec<u64>);

impl WorkerState for Table {
    type Shared = ();
    fn start_life(_: &WorkerContext) -> Result<Self, BoxError> {
        STATEPOOL_INITS.fetch_add(1, Relaxed);
        Ok(Table(build_table()))
    }
    fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
        Ok(None)
    }
}

impl Task for Table {
    type Input<'a> = u64;
    type InputKind = OwnedInput;
    type Output = u64;
    fn run(&mut self, x: u64, _: &WorkerContext) -> Result<u64, BoxError> {
        Ok(lookup(&self.0, x))
    }
}

/// 4. An expensive per-worker init with light tasks, on fresh workers per call.
fn expensive_init(c: &mut Criterion) {
    let n: u64 = if quick() { 50_000 } else { 200_000 };
    let w = workers();
    let rayon = rayon_pool(w);
    let mut g = c.benchmark_group("4_expensive_init");
    g.sample_size(10);
    let mut calls = 0;
    g.bench_function("statepool", |b| {
        b.iter(|| {
            calls += 1;
            Pool::<Table>::new(w).map(0..n).unwrap()
        })
    });
    let statepool_calls = calls;
    calls = 0;
    g.bench_function("rayon", |b| {
        b.iter(|| {
            calls += 1;
            rayon.install(|| {
                (0..n)
                    .into_par_iter()
                    .map_init(
                        || {
                            RAYON_INITS.fetch_add(1, Relaxed);
                            build_table()
                        },
                        |t, x| lookup(t, x),
                    )
                    .collect::<Vec<_>>()
            })
        })
    });
    let rayon_calls = calls;
    g.bench_function("scope", |b| {
        b.iter(|| {
            let input: Vec<u64> = (0..n).collect();
            let chunk = input.len().div_ceil(w);
            std::thread::scope(|s| {
                let handles: Vec<_> = input
                    .chunks(chunk)
                    .map(|ins| {
                        s.spawn(move || {
                            let t = build_table();
                            ins.iter().map(|&x| lookup(&t, x)).collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            })
        })
    });
    g.bench_function("sequential", |b| {
        b.iter(|| {
            let t = build_table();
            (0..n).map(|x| lookup(&t, x)).collect::<Vec<_>>()
        })
    });
    g.finish();
    println!(
        "4_expensive_init: inits per call: statepool {:.1}, rayon {:.1} ({} workers)",
        STATEPOOL_INITS.load(Relaxed) as f64 / statepool_calls.max(1) as f64,
        RAYON_INITS.load(Relaxed) as f64 / rayon_calls.max(1) as f64,
        w
    );
}

/// Group 5, many small calls (16 items) on a warm pool: of nanosecond items
/// (`5_small_calls`) and of 1 µs items (`5_small_calls_1us`). rayon two
/// ways: `rayon_in_install`, the whole loop of calls inside one `install`
/// (the caller is one of rayon's workers, and runs part of each call
/// itself), and `rayon_per_call`, each call entering the pool from outside
/// with its own `install`, as statepool's caller does.
fn small_calls(c: &mut Criterion) {
    let w = workers();
    let rayon = rayon_pool(w);
    let unit = rounds_per_micro();
    for (name, cost) in [
        ("5_small_calls", (|_, _| 0) as fn(u64, u64) -> u64),
        ("5_small_calls_1us", |_, unit| unit),
    ] {
        let work = move |x: u64| spin(mix(x), cost(x, unit));
        let mut pool = Pool::<Fine>::new(w).keep_alive();
        let mut g = c.benchmark_group(name);
        g.bench_function("statepool", |b| {
            b.iter(|| pool.map_with(|_, x| work(x), 0..16u64).unwrap())
        });
        let rayon_call = || {
            (0..16u64)
                .into_par_iter()
                .map_init(|| (), |_, x| work(x))
                .collect::<Vec<_>>()
        };
        g.bench_function("rayon_in_install", |b| rayon.install(|| b.iter(rayon_call)));
        g.bench_function("rayon_per_call", |b| b.iter(|| rayon.install(rayon_call)));
        let input: Vec<u64> = (0..16).collect();
        g.bench_function("scope", |b| b.iter(|| scope_map(w, &input, |&x| work(x))));
        g.bench_function("sequential", |b| {
            b.iter(|| (0..16u64).map(work).collect::<Vec<_>>())
        });
        g.finish();
    }
}

/// 6. `imap` streaming trivial tasks: the overhead per item.
fn streaming(c: &mut Criterion) {
    let n: u64 = if quick() { 1 << 18 } else { 1 << 20 };
    let w = workers();
    let mut pool = Pool::<Fine>::new(w).keep_alive();
    let mut g = c.benchmark_group("6_imap_stream");
    g.bench_function(BenchmarkId::new("statepool_imap", n), |b| {
        b.iter(|| {
            pool.imap(0..n)
                .map(Result::unwrap)
                .fold(0u64, u64::wrapping_add)
        })
    });
    g.bench_function(BenchmarkId::new("statepool_imap_unordered", n), |b| {
        b.iter(|| {
            pool.imap_unordered(0..n)
                .map(Result::unwrap)
                .fold(0u64, u64::wrapping_add)
        })
    });
    g.bench_function(BenchmarkId::new("sequential", n), |b| {
        b.iter(|| (0..n).map(mix).fold(0u64, u64::wrapping_add))
    });
    g.finish();
}

fn config() -> Criterion {
    let c = Criterion::default().configure_from_args();
    if quick() {
        c.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
    } else {
        c.sample_size(30).measurement_time(Duration::from_secs(4))
    }
}

/// Group 7, what `order_tasks` costs: item `i` on worker `i % n`, one item
/// a chunk, no stealing; over uniform 1 µs items and heavy-tailed ones,
/// against the same pool without it, in `map` and in `imap`.
fn order_tasks(c: &mut Criterion) {
    let n: u64 = if quick() { 4_000 } else { 20_000 };
    let unit = rounds_per_micro();
    for (name, cost) in [
        (
            "7_order_tasks_uniform_1us",
            (|_, unit| unit) as fn(u64, u64) -> u64,
        ),
        ("7_order_tasks_heavy_tailed", tail_cost),
    ] {
        let mut g = c.benchmark_group(name);
        let work = move |x: u64| spin(x, cost(x, unit));
        let mut stealing = Pool::<Uniform>::new(workers()).keep_alive();
        g.bench_function("statepool", |b| {
            b.iter(|| stealing.map_with(|_, x| work(x), 0..n).unwrap())
        });
        let mut dealt = Pool::<Uniform>::new(workers()).keep_alive().order_tasks();
        g.bench_function("statepool_order_tasks", |b| {
            b.iter(|| dealt.map_with(|_, x| work(x), 0..n).unwrap())
        });
        // Streams: dealt by the feed thread as the input yields.
        g.bench_function("statepool_imap", |b| {
            b.iter(|| stealing.imap_with(move |_, x| work(x), 0..n).count())
        });
        g.bench_function("statepool_imap_order_tasks", |b| {
            b.iter(|| dealt.imap_with(move |_, x| work(x), 0..n).count())
        });
        g.bench_function("sequential", |b| {
            b.iter(|| (0..n).map(work).collect::<Vec<_>>())
        });
        g.finish();
    }
}

/// Group 8: one `apply` on a warm pool, against the number of workers. A
/// call with work for one worker wakes one and waits for one.
fn apply_cost(c: &mut Criterion) {
    let mut g = c.benchmark_group("8_apply_cost");
    for workers in [1, 4, 16, 64, 256] {
        let mut pool = Pool::<Fine>::new(workers).keep_alive();
        pool.map(0..workers as u64).unwrap(); // every worker started
        g.bench_with_input(BenchmarkId::new("statepool", workers), &workers, |b, _| {
            b.iter(|| pool.apply(black_box(7)).unwrap())
        });
    }
    g.finish();
}

/// Group 13: what a chunk costs the pool, with `chunk_size(1)` (every
/// item its own chunk) and `chunk_size(4)` over nanosecond items, on 1
/// worker and on the bench's workers: what the workers share per chunk
/// shows as the gap between the two. rayon split down to single items
/// (`with_max_len(1)`) and sequential code alongside.
fn chunk_cost(c: &mut Criterion) {
    let n: u64 = if quick() { 1 << 16 } else { 1 << 18 };
    let w = workers();
    let mut g = c.benchmark_group("13_chunk_cost");
    g.throughput(Throughput::Elements(n));
    for workers in [1, w] {
        for len in [1, 4] {
            let mut pool = Pool::<Fine>::new(workers).keep_alive().chunk_size(len);
            let id = format!("statepool_chunk_{len}");
            g.bench_with_input(BenchmarkId::new(id, workers), &workers, |b, _| {
                b.iter(|| pool.map(0..n).unwrap())
            });
        }
        let rayon = rayon_pool(workers);
        g.bench_with_input(
            BenchmarkId::new("rayon_len_1", workers),
            &workers,
            |b, _| {
                b.iter(|| {
                    rayon.install(|| {
                        (0..n as usize)
                            .into_par_iter()
                            .with_max_len(1)
                            .map_init(|| (), |_, x| mix(x as u64))
                            .collect::<Vec<_>>()
                    })
                })
            },
        );
    }
    g.bench_function("sequential", |b| {
        b.iter(|| (0..n).map(mix).collect::<Vec<_>>())
    });
    g.finish();
}

/// Group 11: what a progress bar costs (`progress_bar()`, drawn on
/// standard error where it is a terminal), on nanosecond items and on
/// uniform 1 µs ones, against the same pool without it.
fn progress_overhead(c: &mut Criterion) {
    let n: u64 = if quick() { 1 << 18 } else { 1 << 22 };
    let mut g = c.benchmark_group("11_progress_fine_grained");
    let mut plain = Pool::<Fine>::new(workers()).keep_alive();
    let mut shown = Pool::<Fine>::new(workers()).keep_alive().progress_bar();
    g.bench_function("statepool", |b| b.iter(|| plain.map(0..n).unwrap()));
    g.bench_function("statepool_progress", |b| {
        b.iter(|| shown.map(0..n).unwrap())
    });
    g.finish();
    let n: u64 = if quick() { 4_000 } else { 20_000 };
    let mut g = c.benchmark_group("11_progress_uniform_1us");
    let mut plain = Pool::<Uniform>::new(workers()).keep_alive();
    let mut shown = Pool::<Uniform>::new(workers()).keep_alive().progress_bar();
    g.bench_function("statepool", |b| b.iter(|| plain.map(0..n).unwrap()));
    g.bench_function("statepool_progress", |b| {
        b.iter(|| shown.map(0..n).unwrap())
    });
    g.finish();
}

/// Group 12: what insights cost when enabled (a clock read and a compare
/// per task, a lock per chunk), on fine-grained and uniform 1 µs items,
/// against the same pool without them.
fn insights_overhead(c: &mut Criterion) {
    let n: u64 = if quick() { 1 << 18 } else { 1 << 22 };
    let mut g = c.benchmark_group("12_insights_fine_grained");
    let mut plain = Pool::<Fine>::new(workers()).keep_alive();
    let mut seen = Pool::<Fine>::new(workers()).keep_alive().enable_insights();
    g.bench_function("statepool", |b| b.iter(|| plain.map(0..n).unwrap()));
    g.bench_function("statepool_insights", |b| b.iter(|| seen.map(0..n).unwrap()));
    g.finish();
    let n: u64 = if quick() { 4_000 } else { 20_000 };
    let mut g = c.benchmark_group("12_insights_uniform_1us");
    let mut plain = Pool::<Uniform>::new(workers()).keep_alive();
    let mut seen = Pool::<Uniform>::new(workers())
        .keep_alive()
        .enable_insights();
    g.bench_function("statepool", |b| b.iter(|| plain.map(0..n).unwrap()));
    g.bench_function("statepool_insights", |b| b.iter(|| seen.map(0..n).unwrap()));
    g.finish();
}

/// Group 10: what a `task_timeout` costs when set (a clock read per task,
/// calls that own their items, a watchdog thread), on uniform 1 µs items
/// and on nanosecond ones, against the same pool without it; and 10b, how
/// long after its limit a call with a stuck task returns.
fn task_timeout(c: &mut Criterion) {
    let limit = Duration::from_secs(10);
    let n = if quick() { 4_000 } else { 20_000 };
    let mut g = c.benchmark_group("10_task_timeout_uniform_1us");
    let mut plain = Pool::<Uniform>::new(workers()).keep_alive();
    let mut timed = Pool::<Uniform>::new(workers())
        .keep_alive()
        .task_timeout(limit);
    g.bench_function("statepool", |b| b.iter(|| plain.map(0..n).unwrap()));
    g.bench_function("statepool_timeout", |b| b.iter(|| timed.map(0..n).unwrap()));
    g.finish();
    let n = if quick() { 1 << 18 } else { 1 << 20 };
    let mut g = c.benchmark_group("10_task_timeout_fine_grained");
    let mut plain = Pool::<Fine>::new(workers()).keep_alive();
    let mut timed = Pool::<Fine>::new(workers())
        .keep_alive()
        .task_timeout(limit);
    g.bench_function("statepool", |b| b.iter(|| plain.map(0..n).unwrap()));
    g.bench_function("statepool_timeout", |b| b.iter(|| timed.map(0..n).unwrap()));
    g.finish();
    // 10b: the time from a stuck task's limit to its call's return.
    let limit = Duration::from_millis(20);
    let mut g = c.benchmark_group("10b_timeout_overshoot");
    g.sample_size(10);
    g.bench_function("statepool", |b| {
        b.iter_custom(|iters| {
            let mut overshoot = Duration::ZERO;
            for _ in 0..iters {
                let mut pool = Pool::<Stuck>::with_shared(2, StuckGate::default())
                    .keep_alive()
                    .task_timeout(limit);
                pool.map(0..4u64).unwrap();
                let started = Instant::now();
                let failed = pool.apply(u64::MAX);
                overshoot += started.elapsed().saturating_sub(limit);
                assert!(matches!(failed, Err(PoolError::Timeout { .. })));
                pool.shared().release();
            }
            overshoot
        })
    });
    g.finish();
}

/// What a task of `Stuck` on `u64::MAX` waits for.
#[derive(Default)]
struct StuckGate {
    released: std::sync::Mutex<bool>,
    changed: std::sync::Condvar,
}

impl StuckGate {
    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.changed.notify_all();
    }
}

/// Hands back each item; `u64::MAX` waits until its pool's gate opens.
struct Stuck;

impl WorkerState for Stuck {
    type Shared = StuckGate;
    fn start_life(_: &WorkerContext<StuckGate>) -> Result<Self, BoxError> {
        Ok(Stuck)
    }
    fn end_life(self, _: &WorkerContext<StuckGate>) -> Result<Option<ExitValue>, BoxError> {
        Ok(None)
    }
}

impl Task for Stuck {
    type Input<'a> = u64;
    type InputKind = OwnedInput;
    type Output = u64;
    fn run(&mut self, x: u64, ctx: &WorkerContext<StuckGate>) -> Result<u64, BoxError> {
        if x == u64::MAX {
            let gate = ctx.shared();
            let mut released = gate.released.lock().unwrap();
            while !*released {
                released = gate.changed.wait(released).unwrap();
            }
        }
        Ok(x)
    }
    fn into_static(x: u64) -> Option<u64> {
        Some(x)
    }
}

/// Threads submitting at once in group 9, and the workers they share.
const SUBMITTERS: u64 = 8;
const SUBMIT_WORKERS: usize = 2;

static RAYON_WORKER_INITS: AtomicUsize = AtomicUsize::new(0);

/// A rayon worker's state for group 9: made on first use on each worker
/// thread (`thread_local!`), as a statepool worker's `start_life`.
struct RayonUnit {
    unit: u64,
}

impl RayonUnit {
    fn new() -> Self {
        RAYON_WORKER_INITS.fetch_add(1, Relaxed);
        RayonUnit {
            unit: rounds_per_micro(),
        }
    }
}

thread_local! {
    static RAYON_UNIT: RayonUnit = RayonUnit::new();
}

/// Runs `submit` on each of `SUBMITTERS` scoped threads at once, thread
/// `t` over the items `t * n..(t + 1) * n`, and returns each thread's
/// outputs. Every variant pays the same thread starts: a fraction of a
/// millisecond.
fn submitters(n: u64, submit: impl Fn(Range<u64>) -> Vec<u64> + Sync) -> Vec<Vec<u64>> {
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..SUBMITTERS)
            .map(|t| {
                let submit = &submit;
                s.spawn(move || submit(t * n..(t + 1) * n))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// Group 9: 8 threads submit single ~1 µs tasks at once to one pool of 2
/// workers, and each wants its own results back, in order (a server's
/// request threads). Variants:
/// - `statepool_handle_apply_async`: clones of one `PoolHandle`; each
///   thread submits all its items with `apply_async`, then waits for every
///   handle. Not a bounded window: this is the most the queue can take, as
///   rayon's `spawn` below, with no window size to tune;
/// - `statepool_handle_apply`: the same handles, a blocking `apply` per
///   item (a request thread that waits for each answer);
/// - `statepool_mutex_pool_apply`: the workaround before handles,
///   `pool.apply` through a shared `Mutex<Pool>`;
/// - `rayon`: `spawn` per item on a rayon pool of 2 threads, whose state is
///   a `thread_local!` made once per rayon worker; results come back
///   through a channel per submitting thread;
/// - `sequential`: one thread runs every item in turn.
fn concurrent_submit(c: &mut Criterion) {
    let n: u64 = if quick() { 1_000 } else { 10_000 };
    let unit = rounds_per_micro();
    let work = move |x: u64| spin(x, unit);

    let pool = Pool::<Uniform>::new(SUBMIT_WORKERS).keep_alive();
    let handle = pool.handle();
    let async_handles = |items: Range<u64>| {
        let tasks: Vec<_> = items.map(|x| handle.apply_async(x)).collect();
        tasks.into_iter().map(|t| t.wait().unwrap()).collect()
    };
    let blocking_handles = |items: Range<u64>| items.map(|x| handle.apply(x).unwrap()).collect();
    let locked = std::sync::Mutex::new(Pool::<Uniform>::new(SUBMIT_WORKERS).keep_alive());
    let mutex_pool = |items: Range<u64>| {
        items
            .map(|x| locked.lock().unwrap().apply(x).unwrap())
            .collect()
    };
    let rayon = rayon_pool(SUBMIT_WORKERS);
    let rayon_spawn = |items: Range<u64>| {
        let start = items.start;
        let mut out = vec![0; items.clone().count()];
        let (tx, rx) = std::sync::mpsc::channel();
        for x in items {
            let tx = tx.clone();
            rayon.spawn(move || {
                let y = RAYON_UNIT.with(|state| spin(x, state.unit));
                tx.send((x, y)).unwrap();
            });
        }
        drop(tx);
        for (x, y) in rx {
            out[(x - start) as usize] = y;
        }
        out
    };

    // Every variant gives the same outputs (checked on a few items, as this
    // runs even when the group is filtered out); this also starts every
    // worker.
    let few = 100;
    let expected: Vec<Vec<u64>> = (0..SUBMITTERS)
        .map(|t| (t * few..(t + 1) * few).map(work).collect())
        .collect();
    assert_eq!(submitters(few, async_handles), expected);
    assert_eq!(submitters(few, blocking_handles), expected);
    assert_eq!(submitters(few, mutex_pool), expected);
    assert_eq!(submitters(few, rayon_spawn), expected);

    let mut g = c.benchmark_group("9_concurrent_submit");
    // A run of the `Mutex<Pool>` variant takes most of a second: few
    // samples, each of one run.
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("statepool_handle_apply_async", |b| {
        b.iter(|| submitters(n, async_handles))
    });
    g.bench_function("statepool_handle_apply", |b| {
        b.iter(|| submitters(n, blocking_handles))
    });
    g.bench_function("statepool_mutex_pool_apply", |b| {
        b.iter(|| submitters(n, mutex_pool))
    });
    g.bench_function("rayon", |b| b.iter(|| submitters(n, rayon_spawn)));
    g.bench_function("sequential", |b| {
        b.iter(|| {
            (0..SUBMITTERS)
                .map(|t| (t * n..(t + 1) * n).map(work).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        })
    });
    g.finish();
    println!(
        "9_concurrent_submit: rayon worker states made: {} ({SUBMIT_WORKERS} threads)",
        RAYON_WORKER_INITS.load(Relaxed)
    );
}

criterion_group! {
    name = benches;
    config = config();
    targets = fine_grained, filtered, slow_tasks, expensive_init, small_calls, streaming, order_tasks, apply_cost, concurrent_submit, task_timeout, progress_overhead, insights_overhead, chunk_cost
}
criterion_main!(benches);
