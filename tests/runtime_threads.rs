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
        (ProbePool::new(1).stack_size(16 << 10), "stack_size"),
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

/// Counts the visits of each key, per worker.
#[worker_state]
#[derive(Default)]
struct Memo {
    seen: std::collections::HashMap<u64, u32>,
}

#[task]
fn visit(memo: &mut Memo, key: u64, ctx: &WorkerContext) -> (u32, usize) {
    let count = memo.seen.entry(key).or_insert(0);
    *count += 1;
    (*count, ctx.worker_id())
}

/// With `order_tasks`, item `i` runs on worker `i % n` in every call, so it
/// finds the state it left there: the `k`th call sees every key for the
/// `k`th time, in every blocking call kind.
#[test]
fn order_tasks_brings_each_item_back_to_its_state() {
    for workers in [1, 2, 4] {
        let mut pool = MemoPool::new(workers).keep_alive().order_tasks();
        for call in 1..=3u32 {
            let out = pool.map(0..40).unwrap();
            for (i, &(count, worker)) in out.iter().enumerate() {
                assert_eq!(worker, i % workers, "{workers} workers, call {call}");
                assert_eq!(count, call, "{workers} workers, call {call}, item {i}");
            }
        }
        let mut out = pool.map_unordered(0..40).unwrap();
        out.sort_unstable();
        assert!(out.iter().all(|&(count, _)| count == 4), "{out:?}");
        // One item: worker 0, whose state has seen key 0 four times.
        assert_eq!(pool.apply(0).unwrap(), (5, 0));
        let keys: Vec<u64> = (0..40).collect();
        let out = pool
            .map_with(|memo: &mut Memo, key: &u64| memo.seen[key], &keys)
            .unwrap();
        let want: Vec<u32> = (0..40).map(|i| if i == 0 { 5 } else { 4 }).collect();
        assert_eq!(out, want, "{workers} workers");
        pool.join().unwrap();
    }
}

/// Streaming calls deal their items as they come: item `i` runs on worker
/// `i % n` in every kind of stream (an input the feed thread pulls, one that
/// borrows and is pulled in turns, ordered or not), so the `k`th stream
/// sees every key for the `k`th time; and an endless input is pulled only
/// as far as the window.
#[test]
fn order_tasks_deals_streams_as_their_items_come() {
    for workers in [1, 2, 4] {
        let mut pool = MemoPool::new(workers).keep_alive().order_tasks();
        let check = |out: &[(u32, usize)], keys: &[u64], call: u32| {
            assert_eq!(out.len(), keys.len());
            for (&(count, worker), &key) in out.iter().zip(keys) {
                assert_eq!(
                    worker,
                    key as usize % workers,
                    "{workers} workers, key {key}"
                );
                assert_eq!(count, call, "{workers} workers, call {call}, key {key}");
            }
        };
        let keys: Vec<u64> = (0..40).collect();
        let out: Vec<_> = pool.imap(0..40u64).map(Result::unwrap).collect();
        check(&out, &keys, 1);
        // An input of unknown length, pulled by the feed thread.
        let out: Vec<_> = pool
            .imap((0..40u64).filter(|_| true))
            .map(Result::unwrap)
            .collect();
        check(&out, &keys, 2);
        // Unordered: the keys come back with their outputs.
        let keyed = |memo: &mut Memo, key: u64| {
            let count = memo.seen.entry(key).or_insert(0);
            *count += 1;
            let name = std::thread::current().name().map(str::to_owned);
            let worker = name.and_then(|n| n.rsplit('-').next()?.parse().ok());
            (key, (*count, worker.expect("a worker thread")))
        };
        let mut out: Vec<_> = pool
            .imap_unordered_with(keyed, 0..40u64)
            .map(Result::unwrap)
            .collect();
        out.sort_unstable();
        let (got_keys, out): (Vec<u64>, Vec<_>) = out.into_iter().unzip();
        check(&out, &got_keys, 3);
        // An input that borrows, pulled in turns by the consumer.
        let borrowed = &keys;
        let out: Vec<_> = pool
            .imap_borrowed(borrowed.iter().copied())
            .map(Result::unwrap)
            .collect();
        check(&out, &keys, 4);
        // Endless: pulled no further than the window.
        let pulled = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = std::sync::Arc::clone(&pulled);
        let endless = (0u64..).inspect(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let mut bounded = MemoPool::new(workers).order_tasks().max_active(8);
        let first: Vec<_> = bounded
            .imap(endless)
            .take(100)
            .map(Result::unwrap)
            .collect();
        let ids: Vec<usize> = first.iter().map(|&(_, w)| w).collect();
        let want: Vec<usize> = (0..100).map(|i| i % workers).collect();
        assert_eq!(ids, want);
        let pulled = pulled.load(std::sync::atomic::Ordering::SeqCst);
        assert!(pulled <= 100 + 8 + 1, "{pulled} pulled for 100 yielded");
        pool.join().unwrap();
    }
}

/// A dealt stream fails as other streams do: an ordered one yields every
/// output before the failing item, then its error, then ends; the items
/// it did not run are dropped once each.
#[test]
fn order_tasks_streams_fail_as_other_streams_do() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    for workers in [1, 3] {
        let drops = Arc::new(AtomicUsize::new(0));
        let items: Vec<Counted> = (0..50).map(|i| Counted(i, Arc::clone(&drops))).collect();
        let mut pool = MemoPool::new(workers).order_tasks();
        let mut stream = pool.try_imap_with(fail_13_and_31, items);
        let ok: Vec<u64> = stream.by_ref().take(13).map(Result::unwrap).collect();
        assert_eq!(ok, (0..13).collect::<Vec<_>>());
        match stream.next() {
            Some(Err(PoolError::Task { index, source, .. })) => {
                assert_eq!(index, 13);
                assert_eq!(source.to_string(), "item 13");
            }
            other => panic!("expected item 13's failure, got {other:?}"),
        }
        assert!(stream.next().is_none());
        drop(stream);
        assert_eq!(drops.load(SeqCst), 50, "{workers} workers");
        // A panicking input is the stream's failure at its position.
        let input = (0..10u64).inspect(|&i| assert!(i != 6, "input broke"));
        let out: Vec<_> = pool.imap(input).collect();
        assert_eq!(out.len(), 7, "{workers} workers");
        match &out[6] {
            Err(PoolError::Input { index, message, .. }) => {
                assert_eq!(*index, Some(6));
                assert!(message.contains("input broke"), "{message}");
            }
            other => panic!("expected the input's failure, got {other:?}"),
        }
        assert_eq!(pool.imap(0..4).count(), 4);
    }
}

/// A lifespan still restarts the state: an item then finds a fresh one.
#[test]
fn order_tasks_with_a_lifespan_starts_fresh_states() {
    let mut pool = MemoPool::new(2)
        .keep_alive()
        .order_tasks()
        .worker_lifespan(10);
    for _ in 0..3 {
        // 20 items, 10 a worker: each life ends with its call.
        let out = pool.map(0..20).unwrap();
        assert!(out.iter().all(|&(count, _)| count == 1), "{out:?}");
    }
}

/// Counts its drops.
struct Counted(u64, std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Items 13 and 31 fail with their number; the others give their value.
fn fail_13_and_31(_: &mut Memo, item: Counted) -> Result<u64, std::io::Error> {
    match item.0 {
        13 | 31 => Err(std::io::Error::other(format!("item {}", item.0))),
        v => Ok(v),
    }
}

/// Failures of a dealt call: a task's `Err` is the earliest failing item's
/// error, every item is dropped once, and an input that panics is the
/// call's `PoolError::Input` at its position.
#[test]
fn order_tasks_fails_as_other_calls_do() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    for workers in [1, 3] {
        let drops = Arc::new(AtomicUsize::new(0));
        let items: Vec<Counted> = (0..50).map(|i| Counted(i, Arc::clone(&drops))).collect();
        let mut pool = MemoPool::new(workers).order_tasks();
        match pool.try_map_with(fail_13_and_31, items) {
            Err(PoolError::Task { index, source, .. }) => {
                assert_eq!(index, 13);
                assert_eq!(source.to_string(), "item 13");
            }
            other => panic!("expected item 13's failure, got {other:?}"),
        }
        assert_eq!(drops.load(SeqCst), 50, "{workers} workers");

        let input = (0..10u64).inspect(|&i| assert!(i != 6, "input broke"));
        match pool.map(input) {
            Err(PoolError::Input { index, message, .. }) => {
                assert_eq!(index, Some(6));
                assert!(message.contains("input broke"), "{message}");
            }
            other => panic!("expected the input's failure, got {other:?}"),
        }
        assert_eq!(pool.map(0..4).unwrap().len(), 4);
    }
}
