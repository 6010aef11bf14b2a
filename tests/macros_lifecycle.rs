//! The seed's scenarios through the attributes: when init and exit run
//! (keep_alive, fresh workers per call, lifespans), what exit results add up
//! to, and which worker ids hooks see. Counters only: no sleeps, no timing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use statepool::prelude::*;

/// Counts lives of one state type; every test has its own state type.
#[derive(Debug, Default)]
struct Lives {
    inits: AtomicUsize,
    exits: AtomicUsize,
}

impl Lives {
    const fn new() -> Self {
        Lives {
            inits: AtomicUsize::new(0),
            exits: AtomicUsize::new(0),
        }
    }
    fn inits(&self) -> usize {
        self.inits.load(Ordering::SeqCst)
    }
    fn exits(&self) -> usize {
        self.exits.load(Ordering::SeqCst)
    }
}

mod keep_alive {
    use super::*;

    pub(super) static LIVES: Lives = Lives::new();
    pub(super) static IDS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

    #[worker_state]
    pub(super) struct Model {
        worker_id: usize,
        weights: Vec<u64>,
        sum: u64,
    }

    #[worker_init]
    fn load(ctx: &WorkerContext) -> Model {
        LIVES.inits.fetch_add(1, Ordering::SeqCst);
        IDS.lock().unwrap().push(ctx.worker_id());
        Model {
            worker_id: ctx.worker_id(),
            weights: (0..64).collect(),
            sum: 0,
        }
    }

    #[task]
    fn predict(model: &mut Model, x: u64) -> (usize, u64) {
        model.sum += x;
        (model.worker_id, model.weights[(x % 64) as usize] + x)
    }

    #[worker_exit]
    fn report(model: Model, ctx: &WorkerContext) -> (usize, u64) {
        LIVES.exits.fetch_add(1, Ordering::SeqCst);
        assert_eq!(model.worker_id, ctx.worker_id());
        (model.worker_id, model.sum)
    }
}

#[test]
fn keep_alive_inits_once_per_worker_across_calls() {
    use keep_alive::{ModelPool, IDS, LIVES};

    let mut pool = ModelPool::new(4).keep_alive();
    let mut total = 0;
    for call in 0..5u64 {
        let items: Vec<u64> = (call * 100..call * 100 + 100).collect();
        total += items.iter().sum::<u64>();
        let out = pool.map(items.clone()).unwrap();
        for ((worker_id, prediction), x) in out.into_iter().zip(items) {
            assert!(worker_id < 4);
            assert_eq!(prediction, x % 64 + x);
        }
        assert_eq!(LIVES.inits(), 4, "call {call}: init once per worker");
        assert_eq!(LIVES.exits(), 0, "call {call}: kept alive");
    }
    assert_eq!(pool.apply(3).unwrap().1, 6);
    total += 3;
    pool.join().unwrap();
    assert_eq!(LIVES.exits(), 4);

    let exits = pool.exit_results();
    assert_eq!(exits.len(), 4);
    assert_eq!(exits.iter().map(|(_, sum)| sum).sum::<u64>(), total);
    let mut ids: Vec<usize> = exits.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2, 3], "exit ids distinct and in range");
    let mut ids = IDS.lock().unwrap().clone();
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2, 3], "init ids distinct and in range");
}

mod per_call {
    use super::*;

    pub(super) static LIVES: Lives = Lives::new();

    #[worker_state]
    #[derive(Default)]
    pub(super) struct Sum {
        total: u64,
    }

    #[worker_init]
    fn start(_sum: &mut Sum) {
        LIVES.inits.fetch_add(1, Ordering::SeqCst);
    }

    #[task]
    fn add(sum: &mut Sum, x: u64) -> u64 {
        sum.total += x;
        x
    }

    #[worker_exit]
    fn report(sum: &mut Sum) -> u64 {
        LIVES.exits.fetch_add(1, Ordering::SeqCst);
        sum.total
    }
}

#[test]
fn without_keep_alive_every_call_inits_and_exits_its_workers() {
    use per_call::{SumPool, LIVES};

    let mut pool = SumPool::new(3);
    for call in 1..=4 {
        assert_eq!(pool.map(1..=100).unwrap().len(), 100);
        assert_eq!(LIVES.inits(), 3 * call);
        assert_eq!(LIVES.exits(), 3 * call, "the call ends its workers");
        let sums = pool.exit_results();
        assert_eq!(sums.len(), 3);
        assert_eq!(sums.iter().sum::<u64>(), 5050, "a fresh state every call");
    }
}

mod lifespan {
    use super::*;

    pub(super) static LIVES: Lives = Lives::new();

    #[worker_state]
    pub(super) struct Life {
        tasks: usize,
        sum: u64,
    }

    #[worker_init]
    fn born() -> Life {
        LIVES.inits.fetch_add(1, Ordering::SeqCst);
        Life { tasks: 0, sum: 0 }
    }

    #[task]
    fn work(life: &mut Life, x: u64) -> usize {
        life.tasks += 1;
        life.sum += x;
        life.tasks
    }

    #[worker_exit]
    fn died(life: Life) -> (usize, u64) {
        LIVES.exits.fetch_add(1, Ordering::SeqCst);
        (life.tasks, life.sum)
    }
}

#[test]
fn a_lifespan_inits_once_per_life() {
    use lifespan::{LifePool, LIVES};

    const SPAN: usize = 7;
    let mut pool = LifePool::new(3).keep_alive().worker_lifespan(SPAN);
    let mut total = 0;
    for _ in 0..3 {
        let out = pool.map(0..100u64).unwrap();
        total += (0..100u64).sum::<u64>();
        assert!(out.iter().all(|&nth| (1..=SPAN).contains(&nth)));
    }
    pool.join().unwrap();

    let lives = pool.exit_results();
    assert_eq!(LIVES.inits(), lives.len(), "one init per life");
    assert_eq!(LIVES.exits(), lives.len(), "one exit per life");
    assert!(lives.iter().all(|&(tasks, _)| tasks <= SPAN));
    assert_eq!(lives.iter().map(|&(tasks, _)| tasks).sum::<usize>(), 300);
    assert_eq!(lives.iter().map(|&(_, sum)| sum).sum::<u64>(), total);
    assert!(lives.len() >= 300usize.div_ceil(SPAN));
}

mod one_worker {
    use super::*;

    pub(super) static LIVES: Lives = Lives::new();

    #[worker_state]
    #[derive(Default)]
    pub(super) struct Seen {
        n: usize,
    }

    #[worker_init]
    fn born(_seen: &mut Seen) {
        LIVES.inits.fetch_add(1, Ordering::SeqCst);
    }

    #[task]
    fn see(seen: &mut Seen, _x: u8) -> usize {
        seen.n += 1;
        seen.n
    }

    #[worker_exit]
    fn died(seen: &mut Seen) -> usize {
        seen.n
    }
}

#[test]
fn one_worker_with_a_lifespan_restarts_on_schedule() {
    use one_worker::{SeenPool, LIVES};

    let mut pool = SeenPool::new(1).keep_alive().worker_lifespan(4);
    let out = pool.map([0; 10]).unwrap();
    assert_eq!(out, [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]);
    pool.join().unwrap();
    assert_eq!(pool.exit_results(), [4, 4, 2]);
    assert_eq!(LIVES.inits(), 3);
}
