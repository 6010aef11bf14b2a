//! Property: whatever the configuration, every call computes what the
//! sequential code computes, and worker lives account for every task.

mod common;

use common::{vals, Cmd, LifeReport, Probe, Tag, TaggedPool};
use proptest::prelude::*;
use statepool::{Pool, Task, WorkerContext};

type P = Probe<0>;

#[derive(Debug, Clone)]
struct Config {
    workers: usize,
    chunk: Option<usize>,
    lifespan: Option<usize>,
    keep_alive: bool,
}

fn config() -> impl Strategy<Value = Config> {
    (
        1usize..=4,
        proptest::option::of(1usize..=16),
        proptest::option::of(1usize..=20),
        any::<bool>(),
    )
        .prop_map(|(workers, chunk, lifespan, keep_alive)| Config {
            workers,
            chunk,
            lifespan,
            keep_alive,
        })
}

fn pool(config: &Config) -> Pool<P> {
    configured(Pool::<P>::new(config.workers), config)
}

/// `pool` with the chunk size, lifespan and keep_alive of `config`.
fn configured<S: statepool::WorkerState>(mut pool: Pool<S>, config: &Config) -> Pool<S> {
    if let Some(c) = config.chunk {
        pool = pool.chunk_size(c);
    }
    if let Some(k) = config.lifespan {
        pool = pool.worker_lifespan(k);
    }
    if config.keep_alive {
        pool = pool.keep_alive();
    }
    pool
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn calls_match_sequential_code(config in config(), input in prop::collection::vec(0u64..1000, 0..300)) {
        let expected: Vec<u64> = input.iter().map(|v| 2 * v).collect();
        let mut pool = pool(&config);

        prop_assert_eq!(pool.map(vals(input.clone())).unwrap(), expected.clone());
        prop_assert_eq!(sorted(pool.map_unordered(vals(input.clone())).unwrap()), sorted(expected.clone()));
        let streamed: Result<Vec<u64>, _> = pool.imap(vals(input.clone())).collect();
        prop_assert_eq!(streamed.unwrap(), expected.clone());
        let streamed: Result<Vec<u64>, _> = pool.imap_unordered(vals(input.clone())).collect();
        prop_assert_eq!(sorted(streamed.unwrap()), sorted(expected.clone()));
        // The closure forms, running the state's task through `Task::run`
        // (whose context it ignores).
        let run = |state: &mut P, cmd: Cmd| state.run(cmd, &WorkerContext::new(0, 1));
        prop_assert_eq!(pool.try_map_with(run, vals(input.clone())).unwrap(), expected.clone());
        prop_assert_eq!(sorted(pool.try_map_unordered_with(run, vals(input.clone())).unwrap()), sorted(expected.clone()));
        let streamed: Result<Vec<u64>, _> = pool.try_imap_with(run, vals(input.clone())).collect();
        prop_assert_eq!(streamed.unwrap(), expected.clone());
        let streamed: Result<Vec<u64>, _> = pool.try_imap_unordered_with(run, vals(input.clone())).collect();
        prop_assert_eq!(sorted(streamed.unwrap()), sorted(expected.clone()));

        pool.join().unwrap();
        let lives: Vec<LifeReport> = pool.exit_results();
        prop_assert_eq!(lives.iter().map(|l| l.tasks).sum::<usize>(), 8 * input.len());
        prop_assert_eq!(lives.iter().map(|l| l.sum).sum::<u64>(), 8 * input.iter().sum::<u64>());
        if let Some(k) = config.lifespan {
            prop_assert!(lives.iter().all(|l| l.tasks <= k), "a life ran over its lifespan {}: {:?}", k, lives);
        }
        prop_assert!(lives.iter().all(|l| l.worker_id < config.workers));
    }

    /// A pool with a shared object computes what sequential code computes
    /// in every streaming and blocking call, its tasks see its tag and
    /// their worker's id through the context, and its lives balance.
    #[test]
    fn shared_pools_match_sequential_code(config in config(), tag in 1u64..1000, input in prop::collection::vec(0u64..1000, 0..200)) {
        let expected: Vec<u64> = input.iter().map(|v| 2 * v).collect();
        let mut pool = configured(TaggedPool::with_shared(config.workers, Tag::new(tag)), &config);
        let cmds = vals(input.clone());
        let calls = [
            pool.map(cmds.clone()).unwrap(),
            pool.imap(cmds.clone()).map(Result::unwrap).collect(),
            pool.imap_borrowed(cmds.iter().cloned()).map(Result::unwrap).collect(),
        ];
        for outs in calls {
            prop_assert!(outs.iter().all(|o| o.tag == tag && o.worker_id < config.workers));
            prop_assert_eq!(outs.iter().map(|o| o.value).collect::<Vec<_>>(), expected.clone());
        }
        let mut unordered: Vec<u64> = pool
            .imap_unordered_borrowed(cmds.iter().cloned())
            .map(|o| o.unwrap().value)
            .collect();
        unordered.sort_unstable();
        prop_assert_eq!(unordered, sorted(expected.clone()));
        pool.join().unwrap();
        let lives = pool.exit_results();
        prop_assert_eq!(lives.iter().map(|l| l.1).sum::<usize>(), 4 * input.len());
        prop_assert!(lives.iter().all(|l| l.0 == tag));
        prop_assert!(pool.shared().lives_balance());
    }
}
