//! Failures: task errors and panics, failing hooks, and how each stops a call.

mod common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Barrier};

use common::{doubled, vals, Cmd, Oops, Probe};
use statepool::{PanicSite, Pool, PoolError};

fn with_cmd_at(n: u64, at: usize, cmd: Cmd) -> Vec<Cmd> {
    let mut items = vals(0..n);
    items[at] = cmd;
    items
}

#[test]
fn a_task_error_is_returned_with_its_index_and_worker() {
    type P = Probe<0>;
    let mut pool = Pool::<P>::new(3).keep_alive();
    match pool.map(with_cmd_at(100, 42, Cmd::Fail)) {
        Err(PoolError::Task {
            index,
            worker_id,
            source,
        }) => {
            assert_eq!(index, 42);
            assert!(worker_id < 3);
            assert!(source.downcast_ref::<Oops>().is_some());
        }
        other => panic!("expected a task error, got {other:?}"),
    }
    // The pool stays usable, and no worker lost its state over an `Err`.
    assert_eq!(pool.map(vals(0..100)).unwrap(), doubled(0..100));
    assert_eq!(P::board().inits(), 3);
}

#[test]
fn a_failure_stops_the_call_early() {
    type P = Probe<1>;
    let mut pool = Pool::<P>::new(1).chunk_size(1);
    assert!(pool.map(with_cmd_at(10_000, 0, Cmd::Fail)).is_err());
    // One worker, chunks of one: it stops before the next chunk.
    assert_eq!(P::board().tasks(), 1);
}

#[test]
fn map_returns_the_earliest_failure_in_input_order() {
    type P = Probe<2>;
    let mut pool = Pool::<P>::new(2).chunk_size(1).keep_alive();
    for _ in 0..20 {
        // Both failing tasks are running at once, so both fail; item 0 wins.
        let barrier = Arc::new(Barrier::new(2));
        let items = vec![Cmd::FailAfter(barrier.clone()), Cmd::FailAfter(barrier)];
        assert!(matches!(
            pool.map(items),
            Err(PoolError::Task { index: 0, .. })
        ));
        let barrier = Arc::new(Barrier::new(2));
        let items = vec![Cmd::FailAfter(barrier.clone()), Cmd::FailAfter(barrier)];
        assert!(matches!(
            pool.map_unordered(items),
            Err(PoolError::Task { index: 0, .. })
        ));
    }
}

#[test]
fn a_panicking_task_reinits_only_its_worker() {
    type P = Probe<3>;
    let mut pool = Pool::<P>::new(2).keep_alive();
    pool.map(vals(0..10)).unwrap();
    assert_eq!(P::board().inits(), 2);
    match pool.map(with_cmd_at(50, 7, Cmd::Panic)) {
        Err(PoolError::Panic {
            index: Some(7),
            worker_id,
            site: PanicSite::Task,
            message,
            ..
        }) => {
            assert!(worker_id < 2);
            assert_eq!(message, "task panicked");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    // The panicking worker has its fresh state before the call returns; the
    // other keeps its own; the panicked life ends without exit.
    assert_eq!(P::board().inits(), 3);
    assert_eq!(P::board().exits(), 0);
    assert_eq!(pool.map(vals(0..100)).unwrap(), doubled(0..100));
    assert_eq!(P::board().inits(), 3);
    pool.join().unwrap();
    assert_eq!(P::board().exits(), 2);
}

#[test]
fn map_with_panics_are_errors_too() {
    type P = Probe<4>;
    let mut pool = Pool::<P>::new(2);
    let err = pool
        .map_with(
            |_: &mut P, x: u32| if x == 3 { panic!("closure {x}") } else { x },
            0..10,
        )
        .unwrap_err();
    assert!(
        matches!(err, PoolError::Panic { index: Some(3), site: PanicSite::Task, message, .. } if message == "closure 3")
    );
}

#[test]
fn an_init_failure_is_the_calls_error() {
    type P = Probe<5>;
    let board = P::board();
    let mut pool = Pool::<P>::new(3).keep_alive();
    board.fail_init.store(true, SeqCst);
    assert!(matches!(pool.map(vals(0..10)), Err(PoolError::Init { .. })));
    assert!(matches!(
        pool.apply(Cmd::Val(1)),
        Err(PoolError::Init { .. })
    ));
    let mut stream = pool.imap(vals(0..10));
    assert!(matches!(stream.next(), Some(Err(PoolError::Init { .. }))));
    assert!(stream.next().is_none());
    drop(stream);
    board.fail_init.store(false, SeqCst);
    assert_eq!(pool.map(vals(0..10)).unwrap(), doubled(0..10));
    assert_eq!(board.inits(), 3);
}

#[test]
fn an_init_panic_is_a_panic_without_index() {
    type P = Probe<6>;
    let board = P::board();
    let mut pool = Pool::<P>::new(2);
    board.panic_init.store(true, SeqCst);
    let err = pool.map(vals(0..10)).unwrap_err();
    assert!(
        matches!(err, PoolError::Panic { index: None, site: PanicSite::Init, ref message, .. } if message == "init panicked")
    );
    board.panic_init.store(false, SeqCst);
    assert_eq!(pool.map(vals(0..10)).unwrap(), doubled(0..10));
}

#[test]
fn a_reinit_that_fails_during_a_call_is_its_error() {
    type P = Probe<7>;
    let board = P::board();
    let mut pool = Pool::<P>::new(1).worker_lifespan(3).keep_alive();
    pool.map(vals(0..2)).unwrap();
    board.fail_init.store(true, SeqCst);
    // The life ends after the third task; the next one cannot start.
    assert!(matches!(
        pool.map(vals(0..5)),
        Err(PoolError::Init { worker_id: 0, .. })
    ));
    board.fail_init.store(false, SeqCst);
    assert_eq!(pool.map(vals(0..5)).unwrap(), doubled(0..5));
}

#[test]
fn exit_failures_are_the_error_of_the_call_they_ran_in() {
    type P = Probe<8>;
    let board = P::board();
    board.fail_exit.store(true, SeqCst);
    // Without keep_alive, exits run as the call ends.
    let mut pool = Pool::<P>::new(2);
    assert!(matches!(
        pool.map(vals(0..10)),
        Err(PoolError::Exit { worker_id: 0, .. })
    ));
    // At a lifespan restart.
    let mut pool = Pool::<P>::new(1).worker_lifespan(2).keep_alive();
    assert!(matches!(pool.map(vals(0..5)), Err(PoolError::Exit { .. })));
    // At join.
    board.fail_exit.store(false, SeqCst);
    let mut pool = Pool::<P>::new(2).keep_alive();
    pool.map(vals(0..10)).unwrap();
    board.fail_exit.store(true, SeqCst);
    assert!(matches!(pool.join(), Err(PoolError::Exit { .. })));
    board.fail_exit.store(false, SeqCst);
    assert_eq!(pool.map(vals(0..10)).unwrap(), doubled(0..10));
}

#[test]
fn an_exit_panic_at_join_is_reported_and_the_pool_survives() {
    type P = Probe<9>;
    let board = P::board();
    let mut pool = Pool::<P>::new(2).keep_alive();
    pool.map(vals(0..10)).unwrap();
    board.panic_exit.store(true, SeqCst);
    let err = pool.join().unwrap_err();
    assert!(
        matches!(err, PoolError::Panic { index: None, site: PanicSite::Exit, ref message, .. } if message == "exit panicked")
    );
    board.panic_exit.store(false, SeqCst);
    assert_eq!(pool.map(vals(0..10)).unwrap(), doubled(0..10));
    // Dropping a pool whose exit panics does not bring the process down.
    board.panic_exit.store(true, SeqCst);
    drop(pool);
    board.panic_exit.store(false, SeqCst);
}

#[test]
fn a_panicking_input_iterator_is_an_input_failure_at_its_position() {
    type P = Probe<10>;
    let mut pool = Pool::<P>::new(2).keep_alive();
    let input = (0..100u64).map(|v| {
        if v == 60 {
            panic!("bad input")
        } else {
            Cmd::Val(v)
        }
    });
    let err = pool.map(input).unwrap_err();
    assert!(
        matches!(err, PoolError::Input { index: Some(60), ref message, .. } if message == "bad input")
    );
    assert_eq!(err.to_string(), "the input panicked at item 60: bad input");
    let input = (0..100u64).map(|v| {
        if v == 60 {
            panic!("bad input")
        } else {
            Cmd::Val(v)
        }
    });
    let got: Vec<_> = pool.imap(input).collect();
    assert_eq!(got.len(), 61);
    assert!(got[..60].iter().all(Result::is_ok));
    assert!(matches!(
        got[60],
        Err(PoolError::Input {
            index: Some(60),
            ..
        })
    ));
    assert_eq!(pool.map(vals(0..10)).unwrap(), doubled(0..10));
}

#[test]
fn errors_print_what_happened() {
    type P = Probe<11>;
    let mut pool = Pool::<P>::new(1);
    let err = pool.map(with_cmd_at(5, 3, Cmd::Fail)).unwrap_err();
    assert_eq!(err.to_string(), "task for item 3 failed on worker 0");
    assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "oops");
    assert_eq!((err.index(), err.worker_id()), (Some(3), Some(0)));
}

#[test]
fn a_failed_map_over_a_vector_drops_every_item_and_output_once() {
    type P = Probe<12>;
    let mut pool = Pool::<P>::new(3);
    let tracker = Arc::new(());
    for fail_at in [0, 1, 2_999, 4_999] {
        let items: Vec<Arc<()>> = (0..5_000).map(|_| Arc::clone(&tracker)).collect();
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let err = pool
            .map_with(
                |_: &mut P, item: Arc<()>| {
                    assert!(seen.fetch_add(1, SeqCst) != fail_at, "at {fail_at}");
                    item
                },
                items,
            )
            .unwrap_err();
        assert!(matches!(err, PoolError::Panic { .. }));
        assert_eq!(Arc::strong_count(&tracker), 1, "failing at task {fail_at}");
    }
    // Success: every output holds its item's reference, then lets it go.
    let items: Vec<Arc<()>> = (0..5_000).map(|_| Arc::clone(&tracker)).collect();
    let out = pool
        .map_with(|_: &mut P, item: Arc<()>| item, items)
        .unwrap();
    assert_eq!(Arc::strong_count(&tracker), 5_001);
    drop(out);
    assert_eq!(Arc::strong_count(&tracker), 1);
}
