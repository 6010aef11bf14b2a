//! The closure call kinds: `map_with`, `map_unordered_with`, `apply_with`,
//! `imap_with`, `imap_unordered_with` and their fallible `try_` forms, with
//! the ordering, failure and lifespan rules of their `#[task]` counterparts.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use statepool::prelude::*;
use statepool::PanicSite;

/// Counts its lives and the items of each.
#[worker_state]
struct Tally {
    seen: u64,
}

static TALLY_INITS: AtomicUsize = AtomicUsize::new(0);

#[worker_init]
fn start() -> Tally {
    TALLY_INITS.fetch_add(1, SeqCst);
    Tally { seen: 0 }
}

#[task]
fn double(t: &mut Tally, x: u64) -> u64 {
    t.seen += 1;
    2 * x
}

/// A second function of the state, beside its `#[task]`.
fn describe(t: &mut Tally, x: u64) -> String {
    t.seen += 1;
    format!("#{x}")
}

fn pools() -> impl Iterator<Item = (String, TallyPool)> {
    [1, 2, 4].into_iter().flat_map(|n| {
        [None, Some(1), Some(7)].into_iter().map(move |chunk| {
            let pool = TallyPool::new(n).keep_alive();
            let pool = match chunk {
                Some(c) => pool.chunk_size(c),
                None => pool,
            };
            (format!("{n} workers, chunk_size {chunk:?}"), pool)
        })
    })
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn every_closure_call_keeps_its_order() {
    for (cell, mut pool) in pools() {
        let want: Vec<u64> = (0..50).map(|x| x + 1).collect();
        let plus = |_: &mut Tally, x: u64| x + 1;
        let ok = |_: &mut Tally, x: u64| Ok::<_, std::io::Error>(x + 1);
        assert_eq!(pool.map_with(plus, 0..50).unwrap(), want, "{cell}");
        assert_eq!(
            sorted(pool.map_unordered_with(plus, 0..50).unwrap()),
            want,
            "{cell}"
        );
        assert_eq!(pool.try_map_with(ok, 0..50).unwrap(), want, "{cell}");
        assert_eq!(
            sorted(pool.try_map_unordered_with(ok, 0..50).unwrap()),
            want,
            "{cell}"
        );
        let streamed: Vec<u64> = pool.imap_with(plus, 0..50).map(Result::unwrap).collect();
        assert_eq!(streamed, want, "{cell}");
        let streamed: Vec<u64> = pool.try_imap_with(ok, 0..50).map(Result::unwrap).collect();
        assert_eq!(streamed, want, "{cell}");
        let any: Vec<u64> = pool
            .imap_unordered_with(plus, 0..50)
            .map(Result::unwrap)
            .collect();
        assert_eq!(sorted(any), want, "{cell}");
        let any: Vec<u64> = pool
            .try_imap_unordered_with(ok, (0..50).filter(|_| true))
            .map(Result::unwrap)
            .collect();
        assert_eq!(sorted(any), want, "{cell}");
        assert_eq!(pool.apply_with(plus, 41).unwrap(), 42, "{cell}");
        assert_eq!(pool.try_apply_with(ok, 41).unwrap(), 42, "{cell}");
        // The `#[task]` is still there, on the same workers.
        assert_eq!(pool.map(0..3u64).unwrap(), [0, 2, 4], "{cell}");
    }
}

#[test]
fn another_function_of_the_state_runs_in_every_call_kind() {
    // One worker: every function below runs with the one state.
    let mut pool = TallyPool::new(1).keep_alive();
    let want: Vec<String> = (0..5).map(|x| format!("#{x}")).collect();
    assert_eq!(pool.map_with(describe, 0..5).unwrap(), want);
    assert_eq!(
        sorted(pool.map_unordered_with(describe, 0..5).unwrap()),
        want
    );
    assert_eq!(pool.apply_with(describe, 3).unwrap(), "#3");
    let streamed: Vec<String> = pool.imap_with(describe, 0..5).map(Result::unwrap).collect();
    assert_eq!(streamed, want);
    // Every function ran with the state: 5 + 5 + 1 + 5 items seen.
    let seen = pool.map_with(|t: &mut Tally, _: u64| t.seen, 0..2).unwrap();
    assert_eq!(seen, [16, 16]);
}

#[test]
fn blocking_closures_borrow_from_the_caller() {
    let words = ["alpha".to_owned(), "be".to_owned(), "gamma".to_owned()];
    let lookup = |_: &mut Tally, i: usize| words[i].len();
    let mut pool = TallyPool::new(2);
    assert_eq!(pool.map_with(lookup, 0..3).unwrap(), [5, 2, 5]);
    assert_eq!(
        sorted(pool.map_unordered_with(lookup, 0..3).unwrap()),
        [2, 5, 5]
    );
    assert_eq!(pool.apply_with(lookup, 1).unwrap(), 2);
    let checked = |_: &mut Tally, i: usize| words.get(i).map(String::len).ok_or("out of range");
    assert_eq!(pool.try_map_with(checked, 0..3).unwrap(), [5, 2, 5]);
    assert!(matches!(
        pool.try_apply_with(checked, 9),
        Err(PoolError::Task { index: 0, .. })
    ));
}

/// Fails at item 5 (`Err`) of `0..20`.
fn fail_at_5(_: &mut Tally, x: u64) -> Result<u64, std::io::Error> {
    if x == 5 {
        Err(std::io::Error::other("item 5"))
    } else {
        Ok(x)
    }
}

#[test]
fn an_err_of_a_try_form_is_the_items_task_failure() {
    for (cell, mut pool) in pools() {
        for err in [
            pool.try_map_with(fail_at_5, 0..20).unwrap_err(),
            pool.try_map_unordered_with(fail_at_5, 0..20).unwrap_err(),
        ] {
            match err {
                PoolError::Task { index, source, .. } => {
                    assert_eq!((index, source.to_string()), (5, "item 5".into()), "{cell}")
                }
                other => panic!("{cell}: {other:?}"),
            }
        }
        // In order: the results before the failure, then the failure, then
        // the end.
        let out: Vec<_> = pool.try_imap_with(fail_at_5, 0..20).collect();
        assert_eq!(out.len(), 6, "{cell}");
        assert!(out[..5].iter().all(Result::is_ok), "{cell}");
        assert!(
            matches!(out[5], Err(PoolError::Task { index: 5, .. })),
            "{cell}"
        );
        // Out of order: the failure is yielded when met, then the end.
        let out: Vec<_> = pool.try_imap_unordered_with(fail_at_5, 0..20).collect();
        let failures: Vec<_> = out.iter().filter(|r| r.is_err()).collect();
        assert_eq!(failures.len(), 1, "{cell}");
        assert!(out.last().unwrap().is_err(), "{cell}");
        // The pool goes on.
        assert_eq!(
            pool.try_map_with(fail_at_5, 0..5).unwrap(),
            [0, 1, 2, 3, 4],
            "{cell}"
        );
    }
}

/// Counts the lives of a pool of its own.
#[worker_state]
struct Lives;

static LIVES: AtomicUsize = AtomicUsize::new(0);

#[worker_init]
fn live() -> Lives {
    LIVES.fetch_add(1, SeqCst);
    Lives
}

#[test]
fn a_closure_panic_restarts_the_state_and_lifespans_count_closure_tasks() {
    let mut pool = LivesPool::new(1).keep_alive();
    let boom = |_: &mut Lives, x: u64| {
        assert!(x != 3, "closure boom");
        x
    };
    LIVES.store(0, SeqCst);
    match pool.map_with(boom, 0..10) {
        Err(PoolError::Panic {
            index: Some(3),
            site: PanicSite::Task,
            message,
            ..
        }) => assert_eq!(message, "closure boom"),
        other => panic!("{other:?}"),
    }
    // The first life, then a fresh one right after the panic.
    assert_eq!(LIVES.load(SeqCst), 2);
    let streamed: Vec<_> = pool.imap_with(boom, 0..10).collect();
    assert_eq!(streamed.len(), 4);
    assert!(matches!(
        streamed[3],
        Err(PoolError::Panic { index: Some(3), .. })
    ));
    pool.join().unwrap();

    // Lives of 3 tasks, whatever function the tasks run.
    let mut pool = LivesPool::new(1).worker_lifespan(3).keep_alive();
    LIVES.store(0, SeqCst);
    pool.map_with(|_: &mut Lives, x: u64| x, 0..10).unwrap();
    assert_eq!(LIVES.load(SeqCst), 4, "lives of 3, 3, 3 and 1 tasks");
    let n = pool
        .imap_unordered_with(|_: &mut Lives, x: u64| x, 0..5)
        .count();
    assert_eq!(n, 5);
    pool.apply_with(|_: &mut Lives, x: u64| x, 1).unwrap();
    // 10 + 5 + 1 = 16 tasks on one worker: lives began at tasks 0, 3, .., 15.
    assert_eq!(LIVES.load(SeqCst), 6);
}

#[test]
fn an_endless_imap_with_stops_when_dropped() {
    let mut pool = TallyPool::new(2).keep_alive();
    let offset = std::sync::Arc::new(100u64);
    let first: Vec<u64> = {
        let offset = std::sync::Arc::clone(&offset);
        // A range, so that no feed thread holds the call after the drop
        // (an iterator of no known kind is pulled by one, which lets go
        // once its pull in progress returns, on its own time).
        pool.imap_with(move |_: &mut Tally, x: u64| x + *offset, 0..u64::MAX)
            .take(4)
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(first, [100, 101, 102, 103]);
    // Leaked rather than dropped: the next call halts it first.
    std::mem::forget(pool.imap_unordered_with(|_: &mut Tally, x: u64| x, 0u64..));
    assert_eq!(pool.map(0..3u64).unwrap(), [0, 2, 4]);
    // The dropped call's closure was let go of: only this frame holds it.
    assert_eq!(std::sync::Arc::strong_count(&offset), 1);
}
