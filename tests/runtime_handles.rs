//! Handles: many threads submitting to one pool at once (`PoolHandle`,
//! `TaskHandle`), and how handles meet the pool's own calls, `join`,
//! `keep_alive` and drop.
//!
//! No sleeps: tasks that must stay running block on channels the tests
//! control, and counts come from each pool's shared object.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use statepool::prelude::*;
use statepool::{PanicSite, TaskHandle};

/// What a pool's workers tell the test.
#[derive(Default)]
struct Counts {
    inits: AtomicUsize,
    exits: AtomicUsize,
    /// Set by a task found running while another ran on the same state.
    reentered: AtomicBool,
    /// Init fails while this is set.
    fail_init: AtomicBool,
}

#[worker_state(shared = Counts)]
struct Model {
    /// Tasks run by this life.
    ran: u64,
    busy: bool,
}

#[worker_init]
fn load(ctx: &WorkerContext<Counts>) -> Result<Model, std::io::Error> {
    if ctx.shared().fail_init.load(SeqCst) {
        return Err(std::io::Error::other("no device"));
    }
    ctx.shared().inits.fetch_add(1, SeqCst);
    Ok(Model {
        ran: 0,
        busy: false,
    })
}

#[derive(Debug)]
struct Refused(u64);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused {}", self.0)
    }
}

impl std::error::Error for Refused {}

/// Doubles `x`; 13 fails, 666 panics.
#[task]
fn infer(model: &mut Model, x: u64, ctx: &WorkerContext<Counts>) -> Result<u64, Refused> {
    if std::mem::replace(&mut model.busy, true) {
        ctx.shared().reentered.store(true, SeqCst);
    }
    model.ran += 1;
    model.busy = false;
    match x {
        13 => Err(Refused(x)),
        666 => panic!("item 666"),
        _ => Ok(x * 2),
    }
}

#[worker_exit]
fn unload(model: &mut Model, ctx: &WorkerContext<Counts>) -> u64 {
    ctx.shared().exits.fetch_add(1, SeqCst);
    model.ran
}

fn pool(n: usize) -> ModelPool {
    ModelPool::with_shared(n, Counts::default())
}

#[test]
fn many_threads_share_the_workers_and_their_states() {
    for workers in [1, 2, 4] {
        let pool = pool(workers).keep_alive();
        let handle = pool.handle();
        let sums: Vec<u64> = thread::scope(|s| {
            let threads: Vec<_> = (0..8u64)
                .map(|t| {
                    let handle = handle.clone();
                    s.spawn(move || {
                        let xs = (0..200).map(|i| t * 1000 + i).filter(|x| *x != 13);
                        let tasks: Vec<TaskHandle<u64>> =
                            xs.clone().map(|x| handle.apply_async(x)).collect();
                        let outs: Vec<u64> = tasks.into_iter().map(|t| t.wait().unwrap()).collect();
                        assert_eq!(outs, xs.map(|x| x * 2).collect::<Vec<_>>());
                        outs.iter().sum::<u64>() + handle.apply(t).unwrap()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(sums.len(), 8);
        let counts = pool.shared();
        // One model per worker at most, not one per thread or per task.
        assert!(counts.inits.load(SeqCst) <= workers, "{workers} workers");
        assert!(!counts.reentered.load(SeqCst));
    }
}

#[test]
fn a_failing_task_fails_only_its_own_handle() {
    // One worker: its tasks run in the order they were submitted.
    let mut pool = pool(1).keep_alive();
    let handle = pool.handle();
    let tasks: Vec<_> = [1, 13, 2, 666, 3].map(|x| handle.apply_async(x)).into();
    let outs: Vec<_> = tasks.into_iter().map(TaskHandle::wait).collect();
    assert_eq!(outs[0].as_ref().unwrap(), &2);
    assert!(matches!(outs[1], Err(PoolError::Task { index: 0, .. })));
    match &outs[3] {
        Err(PoolError::Panic {
            index: Some(0),
            site: PanicSite::Task,
            message,
            ..
        }) => assert_eq!(message, "item 666"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (outs[2].as_ref().unwrap(), outs[4].as_ref().unwrap()),
        (&4, &6)
    );
    // The panicked life was replaced at once; the pool lives on.
    assert_eq!(pool.map(0..4u64).unwrap(), [0, 2, 4, 6]);
    assert_eq!(pool.shared().inits.load(SeqCst), 2);
    pool.join().unwrap();
    // The panicked life (items 1, 13, 2, 666) ended without exit; the
    // fresh one ran item 3 and the map.
    assert_eq!(pool.exit_results(), [5]);
}

#[test]
fn join_runs_every_task_submitted_before_it() {
    let mut pool = pool(2).keep_alive();
    let handle = pool.handle();
    let tasks: Vec<_> = (0..500u64).map(|x| handle.apply_async(x + 20)).collect();
    pool.join().unwrap();
    assert!(tasks.iter().all(TaskHandle::is_done));
    let ran: u64 = pool.exit_results().iter().sum();
    assert_eq!(ran, 500);
    // The pool and the handle still work: fresh workers start.
    assert_eq!(handle.apply(4).unwrap(), 8);
    let sum: u64 = tasks.into_iter().map(|t| t.wait().unwrap()).sum();
    assert_eq!(sum, (20..520).map(|x| x * 2).sum::<u64>());
}

#[test]
fn a_handle_after_its_pool_is_dropped_gets_closed() {
    let pool = pool(2);
    let handle = pool.handle();
    let before = handle.apply_async(5);
    drop(pool);
    // Submitted before the drop: it ran.
    assert_eq!(before.wait().unwrap(), 10);
    assert!(matches!(handle.apply(1), Err(PoolError::Closed)));
    let (tx, rx) = channel();
    handle.apply_callback(1, move |out| tx.send(out).unwrap());
    assert!(matches!(rx.recv().unwrap(), Err(PoolError::Closed)));
}

#[test]
fn handles_and_blocking_calls_run_side_by_side() {
    for keep_alive in [true, false] {
        let mut pool = pool(2);
        if keep_alive {
            pool = pool.keep_alive();
        }
        let handle = pool.handle();
        let stop = AtomicBool::new(false);
        let served = thread::scope(|s| {
            let server = s.spawn(|| {
                let mut served = 0u64;
                while !stop.load(SeqCst) {
                    let x = 1000 + served;
                    assert_eq!(handle.apply(x).unwrap(), 2 * x);
                    served += 1;
                }
                served
            });
            for round in 0..50u64 {
                let xs = 20 + round * 10..30 + round * 10;
                let out = pool.map(xs.clone()).unwrap();
                assert_eq!(out, xs.map(|x| x * 2).collect::<Vec<_>>());
            }
            stop.store(true, SeqCst);
            server.join().unwrap()
        });
        pool.join().unwrap();
        let counts = pool.shared();
        assert!(!counts.reentered.load(SeqCst));
        // Every life that started ended with its exit.
        assert_eq!(counts.inits.load(SeqCst), counts.exits.load(SeqCst));
        let ran: u64 = pool.exit_results().iter().sum();
        assert_eq!(ran, 500 + served, "keep_alive {keep_alive}");
    }
}

#[test]
fn a_lifespan_counts_the_tasks_of_handles() {
    let mut pool = pool(1).keep_alive().worker_lifespan(3);
    let handle = pool.handle();
    for x in 0..9 {
        handle.apply(x).unwrap();
    }
    pool.join().unwrap();
    assert_eq!(pool.exit_results(), [3, 3, 3]);
    assert_eq!(pool.shared().inits.load(SeqCst), 3);
}

#[test]
fn an_init_that_fails_is_the_error_of_the_task_that_started_it() {
    let pool = pool(1);
    pool.shared().fail_init.store(true, SeqCst);
    let handle = pool.handle();
    assert!(matches!(
        handle.apply(1),
        Err(PoolError::Init { worker_id: 0, .. })
    ));
    pool.shared().fail_init.store(false, SeqCst);
    assert_eq!(handle.apply(2).unwrap(), 4);
}

#[test]
fn bad_settings_reach_the_handle() {
    let pool = pool(2).worker_lifespan(0);
    assert!(matches!(
        pool.handle().apply(1),
        Err(PoolError::InvalidConfig(_))
    ));
}

/// A state whose task blocks until the test says so.
#[worker_state(shared = Mutex<Receiver<()>>)]
#[derive(Default)]
struct Gate;

#[task]
fn pass(_: &mut Gate, x: u32, ctx: &WorkerContext<Mutex<Receiver<()>>>) -> u32 {
    ctx.shared().lock().unwrap().recv().unwrap();
    x
}

fn gate() -> (GatePool, Sender<()>) {
    let (go, wait) = channel();
    (GatePool::with_shared(1, Mutex::new(wait)), go)
}

#[test]
fn a_task_handle_can_be_polled_and_waited_for_with_a_limit() {
    let (pool, go) = gate();
    let task = pool.handle().apply_async(7);
    assert!(!task.is_done());
    assert!(task.try_get().is_none());
    assert!(task.wait_timeout(Duration::from_millis(1)).is_none());
    go.send(()).unwrap();
    assert_eq!(
        task.wait_timeout(Duration::from_secs(3600))
            .unwrap()
            .unwrap(),
        7
    );
    assert!(task.is_done());
    assert!(task.try_get().is_none());
    // Taken already: `wait` says so instead of waiting forever.
    assert!(matches!(task.wait(), Err(PoolError::InvalidConfig(_))));
}

#[test]
fn a_panicking_callback_leaves_the_worker_alone() {
    let (pool, go) = gate();
    let handle = pool.handle();
    let (tx, rx) = channel();
    handle.apply_callback(1, |_| panic!("callback"));
    handle.apply_callback(2, move |out| tx.send(out.unwrap()).unwrap());
    go.send(()).unwrap();
    go.send(()).unwrap();
    assert_eq!(rx.recv().unwrap(), 2);
    go.send(()).unwrap();
    assert_eq!(handle.apply(3).unwrap(), 3);
}

#[test]
fn handles_are_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<statepool::PoolHandle<Model>>();
    fn send<T: Send + Sync>() {}
    send::<TaskHandle<u64>>();
    let _ = Arc::new(0);
}

#[test]
fn a_handle_task_runs_while_a_call_waits_on_its_input() {
    for workers in [1, 2] {
        let mut pool = pool(workers).keep_alive();
        let handle = pool.handle();
        let (tx, rx) = channel::<u64>();
        thread::scope(|s| {
            // A call over a channel that stays open: its workers wait for
            // items, and run the handle's tasks meanwhile.
            let mapper = s.spawn(|| pool.map(rx).unwrap());
            tx.send(1).unwrap();
            for x in 0..20 {
                assert_eq!(handle.apply(x + 100).unwrap(), 2 * (x + 100));
            }
            tx.send(2).unwrap();
            drop(tx);
            assert_eq!(mapper.join().unwrap(), [2, 4]);
        });
        assert!(!pool.shared().reentered.load(SeqCst));
    }
}

#[test]
fn a_handle_task_runs_between_the_items_of_a_stream() {
    for (workers, max_active) in [(1, None), (2, None), (1, Some(2)), (2, Some(2))] {
        let mut pool = pool(workers).keep_alive();
        if let Some(items) = max_active {
            pool = pool.max_active(items);
        }
        let handle = pool.handle();
        // The stream's workers wait for its consumer, which waits for the
        // handle: they run its task meanwhile.
        let mut sum = 0;
        for out in pool.imap(20..220u64) {
            sum += handle.apply(out.unwrap()).unwrap();
        }
        let want: u64 = (20..220u64).map(|x| 4 * x).sum();
        assert_eq!(sum, want, "{workers} {max_active:?}");
        assert!(!pool.shared().reentered.load(SeqCst));
    }
}
