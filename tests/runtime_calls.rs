//! Every call of the pool contract, through a hand-written state.

mod common;

use common::{doubled, vals, Cmd, LifeReport, Probe};
use statepool::{Pool, PoolError};

#[test]
fn new_starts_no_thread_and_zero_means_one_per_core() {
    type P = Probe<0>;
    let pool = Pool::<P>::new(3);
    assert_eq!(pool.n_workers(), 3);
    assert_eq!(
        P::board().inits(),
        0,
        "no worker may start before the first call"
    );
    drop(pool);
    assert_eq!(P::board().inits(), 0);
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(Pool::<P>::new(0).n_workers(), cores);
}

#[test]
fn map_returns_results_in_input_order() {
    let mut pool = Pool::<Probe<1>>::new(4);
    assert_eq!(pool.map(vals(0..1000)).unwrap(), doubled(0..1000));
    assert_eq!(pool.map(Vec::new()).unwrap(), Vec::<u64>::new());
    // An input of unknown length.
    let filtered = (0..500u64).filter(|v| v % 3 == 0).map(Cmd::Val);
    assert_eq!(
        pool.map(filtered).unwrap(),
        doubled((0..500).filter(|v| v % 3 == 0))
    );
}

#[test]
fn map_unordered_returns_a_permutation() {
    let mut pool = Pool::<Probe<2>>::new(3).keep_alive();
    let mut out = pool.map_unordered(vals(0..2000)).unwrap();
    out.sort_unstable();
    assert_eq!(out, doubled(0..2000));
}

#[test]
fn imap_yields_in_input_order_and_pulls_lazily() {
    let mut pool = Pool::<Probe<3>>::new(3).keep_alive();
    let out: Vec<u64> = pool.imap(vals(0..777)).map(Result::unwrap).collect();
    assert_eq!(out, doubled(0..777));
    // An endless input: only a bounded look-ahead is pulled.
    let endless = (0u64..).map(Cmd::Val);
    let first: Vec<u64> = pool.imap(endless).take(100).map(Result::unwrap).collect();
    assert_eq!(first, doubled(0..100));
}

#[test]
fn imap_unordered_yields_a_permutation() {
    let mut pool = Pool::<Probe<4>>::new(3);
    let mut out: Vec<u64> = pool
        .imap_unordered(vals(0..500))
        .map(Result::unwrap)
        .collect();
    out.sort_unstable();
    assert_eq!(out, doubled(0..500));
}

#[test]
fn apply_runs_one_task() {
    let mut pool = Pool::<Probe<5>>::new(2).keep_alive();
    assert_eq!(pool.apply(Cmd::Val(21)).unwrap(), 42);
    assert!(matches!(
        pool.apply(Cmd::Fail),
        Err(PoolError::Task { index: 0, .. })
    ));
    assert_eq!(pool.apply(Cmd::Val(1)).unwrap(), 2);
}

#[test]
fn map_with_uses_the_same_states_and_may_borrow() {
    type P = Probe<6>;
    let offset = 1000u64; // borrowed by the closure
    let mut pool = Pool::<P>::new(2).keep_alive();
    pool.map(vals(0..10)).unwrap();
    let out = pool
        .map_with(
            |state: &mut P, x: u64| (state.worker_id, x + offset),
            0..50u64,
        )
        .unwrap();
    assert_eq!(
        out.iter().map(|(_, x)| *x).collect::<Vec<_>>(),
        (1000..1050).collect::<Vec<_>>()
    );
    assert!(out.iter().all(|(id, _)| *id < 2));
    assert_eq!(P::board().inits(), 2, "map_with runs on the live workers");
}

#[test]
fn chunk_size_keeps_results_exact() {
    for chunk in [1, 2, 7, 64, 5000] {
        let mut pool = Pool::<Probe<7>>::new(3).chunk_size(chunk);
        assert_eq!(
            pool.map(vals(0..300)).unwrap(),
            doubled(0..300),
            "chunk_size({chunk})"
        );
        let out: Vec<u64> = pool.imap(vals(0..300)).map(Result::unwrap).collect();
        assert_eq!(out, doubled(0..300), "imap with chunk_size({chunk})");
    }
}

#[test]
fn zero_chunk_size_and_zero_lifespan_are_invalid_config() {
    type P = Probe<8>;
    let mut pool = Pool::<P>::new(2).chunk_size(0);
    assert!(
        matches!(pool.map(vals(0..3)), Err(PoolError::InvalidConfig(m)) if m.contains("chunk_size"))
    );
    let mut stream = pool.imap(vals(0..3));
    assert!(matches!(
        stream.next(),
        Some(Err(PoolError::InvalidConfig(_)))
    ));
    assert!(stream.next().is_none());
    drop(stream);
    let mut pool = pool.chunk_size(1).worker_lifespan(0);
    let err = pool.map_with(|_: &mut P, x: u8| x, [1u8]).unwrap_err();
    assert!(matches!(err, PoolError::InvalidConfig(m) if m.contains("worker_lifespan")));
    assert_eq!(
        P::board().inits(),
        0,
        "an invalid configuration starts no worker"
    );
    let mut pool = pool.worker_lifespan(5);
    assert_eq!(pool.map(vals(0..3)).unwrap(), doubled(0..3));
}

#[test]
fn worker_context_ids_are_distinct_and_in_range() {
    type P = Probe<9>;
    let mut pool = Pool::<P>::new(5).keep_alive();
    let ids = pool
        .map_with(|state: &mut P, _: u32| state.worker_id, 0..1000)
        .unwrap();
    assert!(ids.iter().all(|id| *id < 5));
    let mut seen = P::board().init_ids.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
}

#[test]
fn join_runs_exits_and_exit_results_drain() {
    type P = Probe<10>;
    let mut pool = Pool::<P>::new(3).keep_alive();
    pool.map(vals(1..=100)).unwrap();
    assert_eq!(P::board().exits(), 0, "keep_alive keeps lives running");
    assert!(pool.exit_results().is_empty());
    pool.join().unwrap();
    let reports: Vec<LifeReport> = pool.exit_results();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports.iter().map(|r| r.sum).sum::<u64>(), 5050);
    assert_eq!(reports.iter().map(|r| r.tasks).sum::<usize>(), 100);
    assert!(pool.exit_results().is_empty(), "exit_results drains");
    // Usable after join: fresh workers, fresh states.
    pool.map(vals(0..10)).unwrap();
    assert_eq!(P::board().inits(), 6);
    pool.join().unwrap();
    pool.join().unwrap(); // nothing left to join
    assert_eq!(pool.exit_results().len(), 3);
}

#[test]
fn dropping_the_pool_joins_its_workers() {
    type P = Probe<11>;
    let mut pool = Pool::<P>::new(4).keep_alive();
    pool.map(vals(0..40)).unwrap();
    drop(pool);
    assert_eq!(P::board().exits(), 4);
}

#[test]
fn pool_is_send_even_though_the_state_is_not() {
    fn assert_send<T: Send>(_: &T) {}
    let mut pool = Pool::<Probe<12>>::new(2).keep_alive();
    assert_send(&pool);
    let out = std::thread::spawn(move || pool.map(vals(0..5)).unwrap())
        .join()
        .unwrap();
    assert_eq!(out, doubled(0..5));
}

#[test]
fn map_over_a_vector_writes_each_output_where_its_item_was() {
    type P = Probe<13>;
    let mut pool = Pool::<P>::new(3);
    let input: Vec<u64> = (0..10_000).collect();
    let at = input.as_ptr();
    let out = pool.map_with(|_: &mut P, x: u64| x + 1, input).unwrap();
    assert_eq!(out, (1..10_001).collect::<Vec<_>>());
    assert_eq!(out.as_ptr(), at, "the input's buffer holds the outputs");
    // Outputs of another size get a buffer of their own.
    let out = pool
        .map_with(|_: &mut P, x: u64| x as u8, vec![1u64, 2, 3])
        .unwrap();
    assert_eq!(out, [1u8, 2, 3]);
    let out = pool.map_with(|_: &mut P, x: u8| u64::from(x), vec![7u8; 5]);
    assert_eq!(out.unwrap(), [7u64; 5]);
}

/// A call with work for `k` workers runs on at most `k` of a large crew,
/// each in a seat of its own, over every kind of input: a range and a
/// vector (cut in one part per seat), an iterator of known length (fed),
/// and `apply`. The crew's first call still starts every worker's life.
#[test]
fn a_call_runs_on_no_more_workers_than_it_has_items() {
    use std::collections::HashSet;
    type P = Probe<14>;
    let mut pool = Pool::<P>::new(64).keep_alive();
    let ran_on = |out: Vec<(u64, std::thread::ThreadId)>| {
        let ids: HashSet<_> = out.iter().map(|&(_, id)| id).collect();
        let values: Vec<u64> = out.into_iter().map(|(v, _)| v).collect();
        (values, ids.len())
    };
    let task = |_: &mut P, x: u64| (x * 2, std::thread::current().id());
    let (values, workers) = ran_on(pool.map_with(task, 0..3u64).unwrap());
    assert_eq!(values, [0, 2, 4]);
    assert!(workers <= 3, "3 items ran on {workers} workers");
    assert_eq!(P::board().inits(), 64, "the first call starts every life");
    for round in 0..50u64 {
        let k = 1 + round % 7;
        let expected: Vec<u64> = (0..k).map(|x| x * 2).collect();
        for out in [
            pool.map_with(task, 0..k).unwrap(),
            pool.map_with(task, (0..k).collect::<Vec<_>>()).unwrap(),
            pool.map_with(task, (0..k).chain(std::iter::empty()))
                .unwrap(),
        ] {
            let (values, workers) = ran_on(out);
            assert_eq!(values, expected);
            assert!(workers as u64 <= k, "{k} items ran on {workers} workers");
        }
        assert_eq!(pool.apply_with(task, round).unwrap().0, round * 2);
    }
    pool.join().unwrap();
    assert_eq!(P::board().inits(), 64);
}
