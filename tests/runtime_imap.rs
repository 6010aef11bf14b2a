//! Streaming calls: failures in position, bounded look-ahead, cancellation.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};

use common::{doubled, vals, Cmd, Probe};
use statepool::{Pool, PoolError};

#[test]
fn imap_yields_results_before_a_failure_then_the_failure_then_ends() {
    type P = Probe<0>;
    let mut pool = Pool::<P>::new(3).keep_alive();
    for fail_at in [0, 1, 5, 199] {
        let mut items = vals(0..200);
        items[fail_at] = Cmd::Fail;
        items[fail_at + 1..]
            .iter_mut()
            .step_by(7)
            .for_each(|c| *c = Cmd::Fail);
        let got: Vec<_> = pool.imap(items).collect();
        assert_eq!(got.len(), fail_at + 1, "failing at {fail_at}");
        for (i, r) in got[..fail_at].iter().enumerate() {
            assert_eq!(*r.as_ref().unwrap(), 2 * i as u64);
        }
        assert!(matches!(got[fail_at], Err(PoolError::Task { index, .. }) if index == fail_at));
    }
}

#[test]
fn imap_computes_earlier_items_even_when_a_later_one_fails_first() {
    type P = Probe<1>;
    let mut pool = Pool::<P>::new(2).chunk_size(1).keep_alive();
    // Item 1 fails while item 0 is still running: item 0 is still yielded.
    let barrier = Arc::new(Barrier::new(2));
    let items = vec![Cmd::ValAfter(21, barrier.clone()), Cmd::FailAfter(barrier)];
    let got: Vec<_> = pool.imap(items).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(*got[0].as_ref().unwrap(), 42);
    assert!(matches!(got[1], Err(PoolError::Task { index: 1, .. })));
}

#[test]
fn imap_unordered_yields_a_failure_then_ends() {
    type P = Probe<2>;
    let mut pool = Pool::<P>::new(2).keep_alive();
    let mut items = vals(0..100);
    items[50] = Cmd::Panic;
    let got: Vec<_> = pool.imap_unordered(items).collect();
    assert!(got.last().unwrap().is_err());
    assert!(got[..got.len() - 1].iter().all(Result::is_ok));
    assert_eq!(pool.map(vals(0..10)).unwrap(), doubled(0..10));
}

/// An endless input that records how far ahead of the consumer it was pulled.
struct Tracked {
    next: u64,
    consumed: Arc<AtomicUsize>,
    max_ahead: Arc<AtomicUsize>,
    pulled: Arc<AtomicUsize>,
    /// Item 0 waits here until the input was pulled this far.
    gate: Option<(usize, Arc<Barrier>)>,
}

impl Iterator for Tracked {
    type Item = Cmd;
    fn next(&mut self) -> Option<Cmd> {
        let v = self.next;
        self.next += 1;
        let pulled = self.pulled.fetch_add(1, SeqCst) + 1;
        let ahead = pulled - self.consumed.load(SeqCst);
        self.max_ahead.fetch_max(ahead, SeqCst);
        if let Some((at, barrier)) = &self.gate {
            if v == 0 {
                return Some(Cmd::ValAfter(0, barrier.clone()));
            }
            if pulled == *at {
                barrier.wait();
            }
        }
        Some(Cmd::Val(v))
    }
}

#[test]
fn imap_look_ahead_stays_bounded_while_one_item_is_slow() {
    type P = Probe<3>;
    for (workers, chunk) in [(2, None), (3, Some(4)), (4, Some(1))] {
        let mut pool = Pool::<P>::new(workers).keep_alive();
        if let Some(c) = chunk {
            pool = pool.chunk_size(c);
        }
        let consumed = Arc::new(AtomicUsize::new(0));
        let max_ahead = Arc::new(AtomicUsize::new(0));
        let pulled = Arc::new(AtomicUsize::new(0));
        // The window is filled exactly while item 0 is stuck: item 0 is let
        // go by the pull that fills it, so the look-ahead is tested at its
        // fullest without any timing.
        let barrier = Arc::new(Barrier::new(2));
        let mut input = Tracked {
            next: 0,
            consumed: consumed.clone(),
            max_ahead: max_ahead.clone(),
            pulled: pulled.clone(),
            gate: None,
        };
        let probe_window = pool.imap(std::iter::empty()).look_ahead();
        input.gate = Some((probe_window, barrier));
        let mut stream = pool.imap(input);
        assert_eq!(stream.look_ahead(), probe_window);
        for i in 0..3 * probe_window {
            let out = stream.next().unwrap().unwrap();
            assert_eq!(out, 2 * i as u64);
            consumed.fetch_add(1, SeqCst);
        }
        drop(stream);
        let max = max_ahead.load(SeqCst);
        // The window holds a few chunks per worker; outputs of one more
        // chunk may sit with the consumer.
        let chunk_len = chunk.unwrap_or(probe_window / (4 * workers));
        assert!(
            max >= probe_window,
            "the window was filled ({max} < {probe_window})"
        );
        assert!(
            max <= probe_window + chunk_len,
            "{workers} workers pulled {max} items ahead (window {probe_window})"
        );
        assert!(probe_window <= 4 * workers * chunk_len);
    }
}

#[test]
fn dropping_an_unfinished_imap_cancels_its_tasks() {
    type P = Probe<4>;
    let board = P::board();
    let mut pool = Pool::<P>::new(3).keep_alive();
    let mut stream = pool.imap((0u64..).map(Cmd::Val));
    for i in 0..10 {
        assert_eq!(stream.next().unwrap().unwrap(), 2 * i);
    }
    let bound = 10 + stream.look_ahead();
    drop(stream);
    let after_drop = board.tasks();
    assert!(
        after_drop <= bound,
        "{after_drop} tasks ran for 10 yielded items"
    );
    // The same workers run the next call; none of them runs a task of the
    // dropped stream any more.
    pool.map_with(|_: &mut P, x: u32| x, 0..1000).unwrap();
    assert_eq!(board.tasks(), after_drop);
    assert_eq!(pool.map(vals(0..10)).unwrap(), doubled(0..10));
    assert_eq!(board.tasks(), after_drop + 10);
}

#[test]
fn a_leaked_imap_is_settled_by_the_next_call() {
    type P = Probe<5>;
    let mut pool = Pool::<P>::new(2).keep_alive();
    let mut stream = pool.imap((0u64..).map(Cmd::Val));
    stream.next().unwrap().unwrap();
    std::mem::forget(stream);
    assert_eq!(pool.map(vals(0..10)).unwrap(), doubled(0..10));
    pool.join().unwrap();
    assert_eq!(P::board().exits(), 2);
}

#[test]
fn unwinding_through_a_live_imap_and_its_pool_leaves_the_process_healthy() {
    type P = Probe<6>;
    let result = std::panic::catch_unwind(|| {
        let mut pool = Pool::<P>::new(2).keep_alive();
        let mut stream = pool.imap((0u64..).map(Cmd::Val));
        stream.next().unwrap().unwrap();
        panic!("caller gave up");
    });
    assert!(result.is_err());
    assert_eq!(P::board().inits(), 2);
    assert_eq!(
        P::board().exits(),
        2,
        "the pool dropped while unwinding joined its workers"
    );
}

#[test]
fn imap_without_keep_alive_reports_exit_failures_last() {
    type P = Probe<7>;
    let board = P::board();
    board.fail_exit.store(true, SeqCst);
    let mut pool = Pool::<P>::new(2);
    let got: Vec<_> = pool.imap(vals(0..20)).collect();
    board.fail_exit.store(false, SeqCst);
    assert_eq!(got.len(), 21);
    assert!(got[..20].iter().all(Result::is_ok));
    assert!(matches!(got[20], Err(PoolError::Exit { .. })));
}

#[test]
fn a_partly_consumed_imap_can_be_followed_by_other_calls() {
    type P = Probe<8>;
    let mut pool = Pool::<P>::new(2).worker_lifespan(5).keep_alive();
    for n in 0..20 {
        let got: Vec<u64> = pool
            .imap(vals(0..100))
            .take(n)
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, doubled(0..n as u64));
        assert_eq!(pool.apply(Cmd::Val(3)).unwrap(), 6);
    }
}
