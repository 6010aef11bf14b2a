//! Worker thread settings: `stack_size`, `thread_name` and `pin_cpus`, each
//! seen from inside a task, and their invalid values.

use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Probe;

/// Recursion `n` levels deep, each frame holding 4 KiB: about 4 MiB at
/// 1000 levels, past the 2 MiB of a default thread.
fn deep(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 512]);
    if n == 0 {
        frame[1]
    } else {
        deep(n - 1) + frame[0] % 2
    }
}

/// What a task sees of its thread: its name and the cores it may run on.
#[task]
fn look(_: &Probe, depth: u64, ctx: &WorkerContext) -> (usize, Option<String>, Vec<usize>, u64) {
    let cores = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|core| core.id)
        .collect();
    let name = std::thread::current().name().map(str::to_owned);
    (ctx.worker_id(), name, cores, deep(depth))
}

#[test]
fn a_deep_recursion_runs_on_a_larger_stack() {
    let mut pool = ProbePool::new(2).stack_size(16 << 20);
    let out = pool.map([1000, 1500, 2000]).unwrap();
    assert_eq!(
        out.iter().map(|o| o.3).collect::<Vec<_>>(),
        [500, 750, 1000]
    );
}

#[test]
fn threads_are_named_after_the_prefix_and_the_worker_id() {
    for (pool, prefix) in [
        (ProbePool::new(3), "statepool-worker"),
        (ProbePool::new(3).thread_name("decoder"), "decoder"),
    ] {
        let mut pool = pool.chunk_size(1);
        for (worker_id, name, ..) in pool.map(vec![0; 30]).unwrap() {
            assert_eq!(name.as_deref(), Some(&*format!("{prefix}-{worker_id}")));
        }
    }
}

#[test]
fn pinned_workers_run_on_their_cores() {
    let available: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|core| core.id)
        .collect();
    let Some(&last) = available.last() else {
        eprintln!("skipped: this machine does not tell the cores a process may use");
        return;
    };
    // One core for all, then one core each, round-robin over the list.
    let mut pool = ProbePool::new(3).pin_cpus([last]).chunk_size(1);
    for (_, _, cores, _) in pool.map(vec![0; 12]).unwrap() {
        assert_eq!(cores, [last]);
    }
    let mut pool = ProbePool::new(4).pin_cpus(available.clone()).chunk_size(1);
    for (worker_id, _, cores, _) in pool.map(vec![0; 16]).unwrap() {
        assert_eq!(cores, [available[worker_id % available.len()]]);
    }
}

#[test]
fn invalid_thread_settings_are_config_errors() {
    let missing = usize::MAX / 2;
    let cases = [
        (ProbePool::new(1).stack_size(0), "stack_size"),
        (ProbePool::new(1).pin_cpus([]), "pin_cpus"),
        (ProbePool::new(2).pin_cpus([0, missing]), "core"),
    ];
    for (mut pool, names) in cases {
        match pool.map([0, 0]) {
            Err(PoolError::InvalidConfig(message)) => {
                assert!(message.contains(names), "{message}");
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
        // The pool is still usable once fixed.
    }
    match ProbePool::new(2).pin_cpus([missing]).apply(0) {
        Err(PoolError::InvalidConfig(message)) => {
            assert!(message.contains(&missing.to_string()), "{message}")
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
