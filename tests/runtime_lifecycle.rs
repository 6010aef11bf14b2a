//! Worker lives: init once per life before its first task, exit once when it
//! ends, with and without keep_alive and worker_lifespan.

mod common;

use common::{doubled, vals, Cmd, LifeReport, Probe};
use statepool::Pool;

#[test]
fn keep_alive_inits_each_worker_once_across_calls() {
    type P = Probe<0>;
    let mut pool = Pool::<P>::new(3).keep_alive();
    for _ in 0..5 {
        assert_eq!(pool.map(vals(0..200)).unwrap(), doubled(0..200));
    }
    let _: Vec<_> = pool.imap(vals(0..50)).collect();
    pool.apply(Cmd::Val(1)).unwrap();
    assert_eq!(P::board().inits(), 3);
    assert_eq!(P::board().exits(), 0);
    pool.join().unwrap();
    assert_eq!(P::board().exits(), 3);
    let reports: Vec<LifeReport> = pool.exit_results();
    assert_eq!(
        reports.iter().map(|r| r.tasks).sum::<usize>(),
        5 * 200 + 50 + 1
    );
}

#[test]
fn without_keep_alive_every_call_starts_and_ends_its_workers() {
    type P = Probe<1>;
    let mut pool = Pool::<P>::new(2);
    for call in 1..=4 {
        pool.map(vals(0..100)).unwrap();
        assert_eq!(P::board().inits(), 2 * call);
        assert_eq!(
            P::board().exits(),
            2 * call,
            "exits run at the end of each call"
        );
    }
    let out: Vec<u64> = pool.imap(vals(0..10)).map(Result::unwrap).collect();
    assert_eq!(out, doubled(0..10));
    assert_eq!(
        P::board().exits(),
        10,
        "imap ends its workers when exhausted"
    );
    let reports: Vec<LifeReport> = pool.exit_results();
    assert_eq!(reports.len(), 10);
    assert_eq!(reports.iter().map(|r| r.sum).sum::<u64>(), 4 * 4950 + 45);
}

#[test]
fn every_started_worker_inits_even_with_less_work_than_workers() {
    type P = Probe<2>;
    let mut pool = Pool::<P>::new(4);
    pool.map(vals(0..1)).unwrap();
    assert_eq!(P::board().inits(), 4);
    pool.map(Vec::new()).unwrap();
    assert_eq!(P::board().inits(), 8);
    assert_eq!(P::board().exits(), 8);
}

#[test]
fn lifespan_restarts_a_life_after_k_tasks() {
    type P = Probe<3>;
    let mut pool = Pool::<P>::new(1).worker_lifespan(10).keep_alive();
    pool.map(vals(0..35)).unwrap();
    // 35 tasks on one worker: lives of 10, 10, 10 ended; the fourth ran 5.
    assert_eq!(P::board().inits(), 4);
    assert_eq!(P::board().exits(), 3);
    pool.join().unwrap();
    let tasks: Vec<usize> = pool.exit_results().iter().map(|r| r.tasks).collect();
    assert_eq!(tasks, [10, 10, 10, 5]);
}

#[test]
fn lifespan_counts_tasks_of_every_call() {
    type P = Probe<4>;
    let mut pool = Pool::<P>::new(1).worker_lifespan(4).keep_alive();
    pool.map(vals(0..2)).unwrap(); // 2
    pool.apply(Cmd::Val(0)).unwrap(); // 3
    pool.map_with(|_: &mut P, x: u8| x, [1u8, 2]).unwrap(); // 5: a life ends at 4
    let _: Vec<_> = pool.imap(vals(0..3)).collect(); // 8: the second life ends
    pool.join().unwrap();
    let tasks: Vec<usize> = pool.exit_results().iter().map(|r| r.tasks).collect();
    // map_with's closure bypasses the state's task counter: it counts 3 + 2 +
    // 3 tasks of the `#[task]`, in lives of 4 tasks of any kind.
    assert_eq!(tasks, [3, 3]);
    assert_eq!(P::board().inits(), 2);
}

#[test]
fn lifespan_bounds_every_life_on_many_workers() {
    type P = Probe<5>;
    let mut pool = Pool::<P>::new(4).worker_lifespan(7).chunk_size(3);
    pool.map(vals(0..1000)).unwrap();
    let reports: Vec<LifeReport> = pool.exit_results();
    assert!(reports.iter().all(|r| r.tasks <= 7));
    assert_eq!(reports.iter().map(|r| r.tasks).sum::<usize>(), 1000);
    assert_eq!(reports.iter().map(|r| r.sum).sum::<u64>(), 499_500);
    assert_eq!(P::board().inits(), P::board().exits());
}

#[test]
fn a_life_that_ends_exactly_at_a_call_boundary_restarts_lazily() {
    type P = Probe<6>;
    let mut pool = Pool::<P>::new(1).worker_lifespan(5).keep_alive();
    pool.map(vals(0..5)).unwrap();
    assert_eq!((P::board().inits(), P::board().exits()), (1, 1));
    // The next call starts a fresh life before its first task.
    pool.map(vals(0..1)).unwrap();
    assert_eq!(P::board().inits(), 2);
    pool.join().unwrap();
    assert_eq!(P::board().exits(), 2);
}
