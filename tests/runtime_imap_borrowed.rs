//! Streaming calls over an input that borrows from the caller
//! (`imap_borrowed` and its neighbours): the same results as `imap`, a
//! bounded look-ahead, failures in position, early drops, and leaks that
//! never touch the borrowed input again.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use common::{doubled, vals, Cmd, Probe};
use statepool::{Pool, PoolError};

/// Every worker count and chunking gives `imap`'s results, in order and
/// out of order, closures too; the input is pulled on the caller's thread
/// and borrows a counter and the items.
#[test]
fn borrowed_inputs_give_what_owned_ones_give() {
    type P = Probe<20>;
    let items: Vec<Cmd> = vals(0..3000);
    for workers in [1, 2, 4] {
        for chunk in [None, Some(1), Some(7)] {
            let mut pool = Pool::<P>::new(workers).keep_alive();
            if let Some(c) = chunk {
                pool = pool.chunk_size(c);
            }
            let pulled = AtomicUsize::new(0);
            let input = items.iter().cloned().inspect(|_| {
                pulled.fetch_add(1, SeqCst);
            });
            let got: Vec<u64> = pool.imap_borrowed(input).map(Result::unwrap).collect();
            assert_eq!(got, doubled(0..3000), "{workers} workers, chunk {chunk:?}");
            assert_eq!(pulled.load(SeqCst), 3000);

            let mut got: Vec<u64> = pool
                .imap_unordered_borrowed(items.iter().cloned())
                .map(Result::unwrap)
                .collect();
            got.sort_unstable();
            assert_eq!(got, doubled(0..3000));

            let numbers: Vec<u64> = (0..500).collect();
            let got: Vec<u64> = pool
                .imap_borrowed_with(|_: &mut P, x: u64| x + 1, numbers.iter().copied())
                .map(Result::unwrap)
                .collect();
            assert_eq!(got, (1..501).collect::<Vec<_>>());
            let mut got: Vec<u64> = pool
                .imap_unordered_borrowed_with(|_: &mut P, x: u64| x + 1, numbers.iter().copied())
                .map(Result::unwrap)
                .collect();
            got.sort_unstable();
            assert_eq!(got, (1..501).collect::<Vec<_>>());
        }
    }
}

/// The look-ahead stays bounded: an endless borrowed input is pulled no
/// further than the window ahead of what was consumed.
#[test]
fn an_endless_borrowed_input_is_pulled_a_window_ahead() {
    type P = Probe<21>;
    let mut pool = Pool::<P>::new(2).chunk_size(4).keep_alive();
    let pulled = AtomicUsize::new(0);
    let input = (0u64..).map(|v| {
        pulled.fetch_add(1, SeqCst);
        Cmd::Val(v)
    });
    let mut stream = pool.imap_borrowed(input);
    let window = stream.look_ahead();
    assert_eq!(window, 4 * 2 * 4);
    for i in 0..200u64 {
        assert_eq!(stream.next().unwrap().unwrap(), 2 * i);
        let ahead = pulled.load(SeqCst) - (i as usize + 1);
        // A chunk being yielded from may sit beside a full window.
        assert!(ahead <= window + 4, "{ahead} items pulled ahead at {i}");
    }
    drop(stream);
    assert_eq!(pool.map(vals(0..5)).unwrap(), doubled(0..5));
}

/// A failure is yielded at its item's position, after every result before
/// it; an input that panics is a `PoolError::Input` at its position.
#[test]
fn failures_of_borrowed_streams_are_in_position() {
    type P = Probe<22>;
    let mut pool = Pool::<P>::new(3).keep_alive();
    let mut items = vals(0..300);
    items[120] = Cmd::Fail;
    let got: Vec<_> = pool.imap_borrowed(items.iter().cloned()).collect();
    assert_eq!(got.len(), 121);
    assert!(got[..120]
        .iter()
        .enumerate()
        .all(|(i, r)| *r.as_ref().unwrap() == 2 * i as u64));
    assert!(matches!(got[120], Err(PoolError::Task { index: 120, .. })));

    let numbers: Vec<u64> = (0..100).collect();
    let input = numbers.iter().map(|&v| {
        assert!(v != 60, "the input broke at 60");
        Cmd::Val(v)
    });
    let got: Vec<_> = pool.imap_borrowed(input).collect();
    assert_eq!(got.len(), 61);
    assert!(got[..60].iter().all(Result::is_ok));
    match &got[60] {
        Err(PoolError::Input { index, message, .. }) => {
            assert_eq!(*index, Some(60));
            assert!(message.contains("the input broke at 60"), "{message}");
        }
        other => panic!("expected the input's failure, got {other:?}"),
    }
    assert_eq!(pool.map(vals(0..5)).unwrap(), doubled(0..5));
}

/// Dropped early, the call is cancelled, the input is dropped on this
/// thread and the pool goes on; with a lifespan and without keep_alive too.
#[test]
fn a_borrowed_stream_dropped_early_lets_the_pool_go_on() {
    type P = Probe<23>;
    let items: Vec<Cmd> = vals(0..10_000);
    for keep in [false, true] {
        let mut pool = Pool::<P>::new(2).worker_lifespan(5);
        if keep {
            pool = pool.keep_alive();
        }
        let pulled = AtomicUsize::new(0);
        let input = items.iter().cloned().inspect(|_| {
            pulled.fetch_add(1, SeqCst);
        });
        let first: Vec<u64> = pool
            .imap_borrowed(input)
            .take(10)
            .map(Result::unwrap)
            .collect();
        assert_eq!(first, doubled(0..10));
        assert!(pulled.load(SeqCst) < 10_000, "the whole input was pulled");
        assert_eq!(pool.map(vals(0..50)).unwrap(), doubled(0..50));
    }
}

/// A leaked stream never touches its borrowed input again: the next call
/// halts it, the input's counter stays where the leak left it, and the
/// borrowed data can be freed at once.
#[test]
fn a_leaked_borrowed_stream_never_touches_its_input_again() {
    type P = Probe<24>;
    let mut pool = Pool::<P>::new(2).keep_alive();
    let items: Vec<Cmd> = vals(0..10_000);
    let pulled = Mutex::new(0usize);
    let input = items
        .iter()
        .cloned()
        .inspect(|_| *pulled.lock().unwrap() += 1);
    let mut stream = pool.imap_borrowed(input);
    assert_eq!(stream.next().unwrap().unwrap(), 0);
    std::mem::forget(stream);
    let at_leak = *pulled.lock().unwrap();
    assert!(at_leak < 10_000);
    drop(items);
    assert_eq!(pool.map(vals(0..100)).unwrap(), doubled(0..100));
    assert_eq!(*pulled.lock().unwrap(), at_leak);
    // The pool's next streaming call is not held up by the leaked one.
    let again: Vec<u64> = pool.imap(vals(0..20)).map(Result::unwrap).collect();
    assert_eq!(again, doubled(0..20));
    pool.join().unwrap();
}
