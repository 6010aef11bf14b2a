//! Timeouts (`task_timeout`, `worker_init_timeout`, `worker_exit_timeout`):
//! a stuck task or hook ends its call with `PoolError::Timeout`, its worker
//! is left behind and replaced, and the pool keeps working.
//!
//! No sleeps: stuck code blocks on a channel the test controls (released
//! at the end of the test, or never), and the test waits on channels for
//! what the stuck thread does once released.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use statepool::prelude::*;
use statepool::Phase;

/// The item whose task blocks until released.
const STUCK: u64 = 1_000;
/// The item whose task fails.
const FAILS: u64 = 999_999;

/// Long enough that no task but a stuck one reaches it, even on a loaded machine.
const LIMIT: Duration = Duration::from_millis(250);

/// What the test controls, and what the workers tell it.
struct Ctl {
    /// Stuck code waits here for a message (or for the sender to go).
    release: Mutex<Receiver<()>>,
    /// Tells the test that stuck code is waiting.
    waiting: Mutex<Sender<ThreadId>>,
    /// Each state dropped: its thread, and whether its exit ran first.
    dropped: Mutex<Sender<(ThreadId, bool)>>,
    inits: AtomicUsize,
    exits: AtomicUsize,
    block_init: AtomicBool,
    block_exit: AtomicBool,
}

impl Ctl {
    fn block(&self) {
        let _ = self.waiting.lock().unwrap().send(thread::current().id());
        let _ = self.release.lock().unwrap().recv();
    }
}

/// The test's ends of a pool's channels.
struct Test {
    release: Sender<()>,
    waiting: Receiver<ThreadId>,
    dropped: Receiver<(ThreadId, bool)>,
}

#[worker_state(shared = Ctl)]
struct Probe {
    ctl: Arc<Ctl>,
    exited: bool,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self
            .ctl
            .dropped
            .lock()
            .unwrap()
            .send((thread::current().id(), self.exited));
    }
}

#[worker_init]
fn start(ctx: &WorkerContext<Ctl>) -> Probe {
    let ctl = ctx.shared_arc().clone();
    if ctl.block_init.swap(false, SeqCst) {
        ctl.block();
    }
    ctl.inits.fetch_add(1, SeqCst);
    Probe { ctl, exited: false }
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

#[task]
fn work(probe: &mut Probe, x: u64) -> Result<u64, Refused> {
    match x {
        STUCK => probe.ctl.block(),
        FAILS => return Err(Refused),
        _ => {}
    }
    Ok(x * 2)
}

#[worker_exit]
fn stop(probe: &mut Probe) -> u64 {
    if probe.ctl.block_exit.swap(false, SeqCst) {
        probe.ctl.block();
    }
    probe.ctl.exits.fetch_add(1, SeqCst);
    probe.exited = true;
    1
}

fn pool(n: usize) -> (ProbePool, Test) {
    let (release, release_rx) = channel();
    let (waiting_tx, waiting) = channel();
    let (dropped_tx, dropped) = channel();
    let ctl = Ctl {
        release: Mutex::new(release_rx),
        waiting: Mutex::new(waiting_tx),
        dropped: Mutex::new(dropped_tx),
        inits: AtomicUsize::new(0),
        exits: AtomicUsize::new(0),
        block_init: AtomicBool::new(false),
        block_exit: AtomicBool::new(false),
    };
    let test = Test {
        release,
        waiting,
        dropped,
    };
    (ProbePool::with_shared(n, ctl), test)
}

impl Test {
    /// Waits for the state of the stuck thread `stuck` to be dropped (the
    /// pool's other states may go first); whether its exit ran.
    fn dropped_on(&self, stuck: ThreadId) -> bool {
        loop {
            let (thread, exited) = self.dropped.recv().unwrap();
            if thread == stuck {
                return exited;
            }
        }
    }
}

fn doubled(xs: std::ops::Range<u64>) -> Vec<u64> {
    xs.map(|x| x * 2).collect()
}

#[test]
fn a_stuck_task_ends_its_call_and_its_worker_is_replaced() {
    for workers in [1, 2, 4] {
        let (pool, test) = pool(workers);
        let mut pool = pool.keep_alive().task_timeout(LIMIT);
        assert_eq!(pool.map(0..10).unwrap(), doubled(0..10));
        let items: Vec<u64> = (0..200).map(|x| if x == 50 { STUCK } else { x }).collect();
        match pool.map(items) {
            Err(PoolError::Timeout {
                phase: Phase::Task,
                index: Some(50),
                limit,
                ..
            }) => assert_eq!(limit, LIMIT),
            other => panic!("{workers} workers: {other:?}"),
        }
        let stuck = test.waiting.recv().unwrap();
        assert_eq!(pool.abandoned(), 1);
        // The pool keeps working, on a fresh worker in the stuck one's place.
        for _ in 0..20 {
            assert_eq!(pool.map(0..100).unwrap(), doubled(0..100));
        }
        assert_eq!(pool.map_unordered(0..10).unwrap().len(), 10);
        assert_eq!(pool.apply(21).unwrap(), 42);
        // Released at last, the stuck task's state is dropped on its own
        // thread, without its exit hook.
        test.release.send(()).unwrap();
        assert!(!test.dropped_on(stuck));
        pool.join().unwrap();
        let ctl = pool.shared();
        assert_eq!(ctl.inits.load(SeqCst), workers + 1);
        assert_eq!(ctl.exits.load(SeqCst), workers);
    }
}

#[test]
fn every_call_kind_of_a_task_can_time_out() {
    let (pool, test) = pool(2);
    let mut pool = pool.keep_alive().task_timeout(LIMIT);
    let timed_out = |r: Result<Vec<u64>, PoolError>| {
        matches!(
            r,
            Err(PoolError::Timeout {
                phase: Phase::Task,
                ..
            })
        )
    };
    assert!(timed_out(pool.map_unordered(vec![1, STUCK, 3])));
    assert!(matches!(
        pool.apply(STUCK),
        Err(PoolError::Timeout { index: Some(0), .. })
    ));
    // A stream yields what came before, then the timeout, then ends.
    let streamed: Vec<_> = pool
        .imap((0..40u64).chain([STUCK]).chain(std::iter::repeat(1)))
        .collect();
    assert!(matches!(
        streamed.last(),
        Some(Err(PoolError::Timeout {
            index: Some(40),
            ..
        }))
    ));
    assert!(streamed[..streamed.len() - 1].iter().all(Result::is_ok));
    let streamed: Vec<_> = pool.imap_unordered(vec![STUCK, 1]).collect();
    assert!(streamed
        .iter()
        .any(|r| matches!(r, Err(PoolError::Timeout { .. }))));
    let handle = pool.handle();
    assert!(matches!(
        handle.apply(STUCK),
        Err(PoolError::Timeout { index: Some(0), .. })
    ));
    let with: Result<Vec<u64>, _> = pool.imap_with(|_: &mut Probe, x: u64| x, [1, 2]).collect();
    assert_eq!(with.unwrap(), [1, 2]);
    assert_eq!(pool.abandoned(), 5);
    for _ in 0..5 {
        let stuck = test.waiting.recv().unwrap();
        test.release.send(()).unwrap();
        assert!(!test.dropped_on(stuck));
    }
    // Failures other than timeouts keep their rules on a timed pool.
    assert!(matches!(
        pool.map((0..20).chain([FAILS])),
        Err(PoolError::Task { index: 20, .. })
    ));
    assert_eq!(pool.map(20..30).unwrap(), doubled(20..30));
}

#[test]
fn a_stuck_init_is_a_timeout_of_its_call() {
    let (pool, test) = pool(2);
    let mut pool = pool.worker_init_timeout(LIMIT);
    pool.shared().block_init.store(true, SeqCst);
    match pool.map(0..10) {
        Err(PoolError::Timeout {
            phase: Phase::Init,
            index: None,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let stuck = test.waiting.recv().unwrap();
    assert_eq!(pool.abandoned(), 1);
    assert_eq!(pool.map(0..10).unwrap(), doubled(0..10));
    // Released, the late init's state is dropped without exit.
    test.release.send(()).unwrap();
    assert!(!test.dropped_on(stuck));
}

#[test]
fn a_stuck_exit_is_a_timeout_of_the_join() {
    let (pool, test) = pool(2);
    let mut pool = pool.keep_alive().worker_exit_timeout(LIMIT);
    assert_eq!(pool.map(0..10).unwrap(), doubled(0..10));
    pool.shared().block_exit.store(true, SeqCst);
    match pool.join() {
        Err(PoolError::Timeout {
            phase: Phase::Exit,
            index: None,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    test.waiting.recv().unwrap();
    // One exit output kept: the other's went nowhere.
    assert_eq!(pool.exit_results(), [1]);
    assert_eq!(pool.map(0..10).unwrap(), doubled(0..10));
    test.release.send(()).unwrap();
    pool.join().unwrap();
}

#[test]
fn a_stuck_exit_at_a_lifespan_end_is_a_timeout_of_its_call() {
    let (pool, test) = pool(1);
    let mut pool = pool
        .keep_alive()
        .worker_lifespan(5)
        .worker_exit_timeout(LIMIT);
    pool.shared().block_exit.store(true, SeqCst);
    assert!(matches!(
        pool.map(0..10),
        Err(PoolError::Timeout {
            phase: Phase::Exit,
            ..
        })
    ));
    test.waiting.recv().unwrap();
    assert_eq!(pool.map(0..10).unwrap(), doubled(0..10));
    test.release.send(()).unwrap();
}

#[test]
fn calls_that_cannot_be_abandoned_say_why() {
    let (pool, _test) = pool(2);
    let mut pool = pool.task_timeout(LIMIT);
    let refused = |r: Result<Vec<u64>, PoolError>, what: &str| match r {
        Err(PoolError::InvalidConfig(message)) => assert!(message.contains(what), "{message}"),
        other => panic!("{other:?}"),
    };
    refused(pool.map_with(|_: &mut Probe, x: u64| x, 0..4), "may borrow");
    refused(
        pool.map_unordered_with(|_: &mut Probe, x: u64| x, 0..4),
        "may borrow",
    );
    let (pool, _test) = self::pool(2);
    let mut pool = pool.task_timeout(LIMIT).order_tasks();
    refused(pool.map(0..4), "order_tasks");
    let (pool, _test) = self::pool(2);
    let mut pool = pool.task_timeout(Duration::from_micros(10));
    refused(pool.map(0..4), "at least 1 ms");
}

#[worker_state]
#[derive(Default)]
struct Lines;

#[task]
fn measure(_: &mut Lines, line: &str) -> usize {
    line.len()
}

#[test]
fn a_task_over_borrowed_inputs_cannot_time_out() {
    let lines = ["a".to_string(), "bb".to_string()];
    let mut pool = LinesPool::new(2).task_timeout(LIMIT);
    match pool.map(lines.iter().map(String::as_str)) {
        Err(PoolError::InvalidConfig(message)) => assert!(message.contains("borrows"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Without the timeout, it runs.
    let mut pool = LinesPool::new(2);
    assert_eq!(pool.map(lines.iter().map(String::as_str)).unwrap(), [1, 2]);
}

#[test]
fn the_pool_works_around_a_thread_stuck_for_good() {
    let (pool, test) = pool(2);
    let mut pool = pool.keep_alive().task_timeout(LIMIT);
    assert!(matches!(pool.apply(STUCK), Err(PoolError::Timeout { .. })));
    let stuck = test.waiting.recv().unwrap();
    // Never released: the thread stays stuck until the test binary exits.
    std::mem::forget(test.release);
    let handle = pool.handle();
    for round in 0..50u64 {
        assert_eq!(
            pool.map(round..round + 64).unwrap(),
            doubled(round..round + 64)
        );
        assert_eq!(handle.apply(round).unwrap(), round * 2);
    }
    assert_ne!(stuck, thread::current().id());
    assert_eq!(pool.abandoned(), 1);
    pool.join().unwrap();
}

#[test]
fn without_keep_alive_a_stuck_worker_does_not_hold_the_call_or_the_drop() {
    let (pool, test) = pool(2);
    let mut pool = pool.task_timeout(LIMIT);
    // The call ends its workers as it returns: the stuck one is not waited
    // for, its replacement ends in its place.
    assert!(matches!(
        pool.map(vec![1, STUCK, 3, 4]),
        Err(PoolError::Timeout { .. })
    ));
    let stuck = test.waiting.recv().unwrap();
    assert_eq!(pool.map(0..10).unwrap(), doubled(0..10));
    let ctl = pool.shared_arc().clone();
    // Nor does the drop wait for it.
    drop(pool);
    test.release.send(()).unwrap();
    assert!(!test.dropped_on(stuck));
    assert_eq!(ctl.inits.load(SeqCst), ctl.exits.load(SeqCst) + 1);
}

#[test]
fn a_stream_over_a_borrowed_input_can_time_out() {
    let (pool, test) = pool(2);
    let mut pool = pool.keep_alive().task_timeout(LIMIT);
    let items: Vec<u64> = vec![1, 2, STUCK, 4];
    let out: Vec<_> = pool.imap_borrowed(items.iter().copied()).collect();
    assert!(matches!(
        out.last(),
        Some(Err(PoolError::Timeout { index: Some(2), .. }))
    ));
    drop(items);
    let stuck = test.waiting.recv().unwrap();
    assert_eq!(pool.map(0..10).unwrap(), doubled(0..10));
    test.release.send(()).unwrap();
    assert!(!test.dropped_on(stuck));
}

#[test]
fn handles_time_out_alone_while_the_others_go_on() {
    let (pool, test) = pool(2);
    let mut pool = pool.keep_alive().task_timeout(LIMIT);
    let handle = pool.handle();
    let stuck = handle.apply_async(STUCK);
    let others: Vec<_> = (0..100).map(|x| handle.apply_async(x)).collect();
    assert!(matches!(
        stuck.wait(),
        Err(PoolError::Timeout { index: Some(0), .. })
    ));
    let sum: u64 = others.into_iter().map(|t| t.wait().unwrap()).sum();
    assert_eq!(sum, doubled(0..100).iter().sum::<u64>());
    let thread = test.waiting.recv().unwrap();
    // `join` runs what was submitted, and does not wait for the stuck one.
    let late: Vec<_> = (0..10).map(|x| handle.apply_async(x)).collect();
    pool.join().unwrap();
    assert!(late.iter().all(statepool::TaskHandle::is_done));
    test.release.send(()).unwrap();
    assert!(!test.dropped_on(thread));
    assert_eq!(pool.abandoned(), 1);
}

#[test]
fn a_call_waiting_for_a_worker_stuck_in_a_job_gets_its_replacement() {
    for workers in [1, 2] {
        let (pool, test) = pool(workers);
        let mut pool = pool.keep_alive().task_timeout(LIMIT);
        assert_eq!(pool.map(0..10).unwrap(), doubled(0..10));
        let handle = pool.handle();
        let stuck = handle.apply_async(STUCK);
        let thread = test.waiting.recv().unwrap();
        // Every worker is wanted by this call: the stuck one never comes,
        // its replacement does once the job timed out.
        assert_eq!(pool.map(0..1000).unwrap(), doubled(0..1000));
        assert!(matches!(stuck.wait(), Err(PoolError::Timeout { .. })));
        test.release.send(()).unwrap();
        assert!(!test.dropped_on(thread));
    }
}

#[test]
fn a_join_never_waits_for_an_exit_left_behind() {
    // The replacement of a worker given up on as the crew ends finishes at
    // once: a join that took the threads' handles too early would wait for
    // the stuck one here, forever.
    for _ in 0..50 {
        let (pool, test) = pool(1);
        let mut pool = pool
            .keep_alive()
            .worker_exit_timeout(Duration::from_millis(2));
        pool.map(0..2).unwrap();
        pool.shared().block_exit.store(true, SeqCst);
        assert!(matches!(
            pool.join(),
            Err(PoolError::Timeout {
                phase: Phase::Exit,
                ..
            })
        ));
        let stuck = test.waiting.recv().unwrap();
        test.release.send(()).unwrap();
        test.dropped_on(stuck);
    }
}

#[test]
fn a_slow_callback_holds_up_no_other_timeout() {
    let (pool, test) = pool(2);
    let pool = pool.keep_alive().task_timeout(LIMIT);
    let handle = pool.handle();
    let (inside_tx, inside) = channel();
    let (go, wait_go) = channel::<()>();
    handle.apply_callback(STUCK, move |out| {
        assert!(matches!(out, Err(PoolError::Timeout { .. })));
        inside_tx.send(()).unwrap();
        let _ = wait_go.recv();
    });
    test.waiting.recv().unwrap();
    inside.recv().unwrap();
    // While that callback runs, another stuck task still times out.
    let second = handle.apply_async(STUCK);
    assert!(matches!(second.wait(), Err(PoolError::Timeout { .. })));
    drop(go);
    test.release.send(()).unwrap();
    test.release.send(()).unwrap();
}

#[test]
fn a_limit_set_after_a_call_applies_to_its_handles_too() {
    let (pool, test) = pool(1);
    let mut pool = pool.keep_alive();
    assert_eq!(pool.map(0..4).unwrap(), doubled(0..4));
    // The workers running without a watchdog end here; fresh ones start.
    let pool = pool.task_timeout(LIMIT);
    assert!(matches!(
        pool.handle().apply(STUCK),
        Err(PoolError::Timeout { .. })
    ));
    test.waiting.recv().unwrap();
    test.release.send(()).unwrap();
}

/// Panics when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropped");
    }
}

#[test]
fn a_closure_whose_drop_panics_leaves_the_worker_alone() {
    let (pool, _test) = pool(1);
    let guard = PanicsOnDrop;
    let task = move |_: &mut Probe, x: u64| {
        let _ = &guard;
        x
    };
    assert_eq!(pool.handle().apply_async_with(task, 3).wait().unwrap(), 3);
    let with = |_: &mut Probe, x: u64| x + 1;
    assert_eq!(pool.handle().apply_async_with(with, 3).wait().unwrap(), 4);
}
