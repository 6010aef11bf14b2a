//! Randomized stress: mixed calls over many configurations with injected
//! errors and panics. Seeded and bounded: `STATEPOOL_STRESS_ROUNDS` (default
//! 400) sets the number of rounds, `STATEPOOL_STRESS_SEED` the seed.
//!
//! A watchdog aborts the process if one round runs for more than a minute,
//! so that a hang fails instead of stalling CI; it plays no part in what the
//! test checks.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{doubled, vals, Cmd, LifeReport, Probe, Tag, TaggedOut, TaggedPool};
use statepool::{Pool, PoolError, Task, WorkerContext};

type P = Probe<0>;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// An input with failures injected at random positions.
struct Input {
    cmds: Vec<Cmd>,
    fails: BTreeSet<usize>,
    panics: BTreeSet<usize>,
}

impl Input {
    fn random(rng: &mut Rng) -> Self {
        let len = rng.below(400) as usize;
        let faulty = rng.chance(30);
        let mut input = Input {
            cmds: Vec::with_capacity(len),
            fails: BTreeSet::new(),
            panics: BTreeSet::new(),
        };
        for i in 0..len {
            let cmd = if faulty && rng.chance(2) {
                input.fails.insert(i);
                Cmd::Fail
            } else if faulty && rng.chance(1) {
                input.panics.insert(i);
                Cmd::Panic
            } else {
                Cmd::Val(i as u64)
            };
            input.cmds.push(cmd);
        }
        input
    }

    fn first_failure(&self) -> Option<usize> {
        self.fails.iter().chain(&self.panics).min().copied()
    }

    /// Checks that `err` is the failure of a failing item.
    fn check_error(&self, err: &PoolError) {
        match err {
            PoolError::Task { index, .. } => assert!(self.fails.contains(index), "{err:?}"),
            PoolError::Panic {
                index: Some(index), ..
            } => assert!(self.panics.contains(index), "{err:?}"),
            other => panic!("unexpected failure {other:?}"),
        }
    }

    fn expected(&self) -> Vec<u64> {
        (0..self.cmds.len() as u64).map(|v| 2 * v).collect()
    }
}

fn round(rng: &mut Rng) {
    let workers = 1 + rng.below(6) as usize;
    let mut pool = Pool::<P>::new(workers);
    if rng.chance(40) {
        pool = pool.chunk_size(1 + rng.below(32) as usize);
    }
    let lifespan = rng.chance(40).then(|| 1 + rng.below(50) as usize);
    if let Some(k) = lifespan {
        pool = pool.worker_lifespan(k);
    }
    if rng.chance(60) {
        pool = pool.keep_alive();
    }
    for _ in 0..1 + rng.below(12) {
        let input = Input::random(rng);
        // Half the calls take the commands as a vector (an indexed input),
        // half as an iterator of no known kind (fed item by item).
        let fed = rng.chance(50);
        macro_rules! items {
            ($pool:ident . $call:ident $(, $f:expr)?) => {
                if fed {
                    $pool.$call($($f,)? input.cmds.clone().into_iter().filter(|_| true))
                } else {
                    $pool.$call($($f,)? input.cmds.clone())
                }
            };
        }
        // The state's task, called by the closure forms: the same outputs
        // and the same failures as the `#[task]` calls.
        let run = |state: &mut P, cmd: Cmd| state.run(cmd, &WorkerContext::new(0, 1));
        let check_map = |out: Result<Vec<u64>, PoolError>| match out {
            Ok(out) => {
                assert_eq!(input.first_failure(), None);
                assert_eq!(out, input.expected());
            }
            Err(err) => input.check_error(&err),
        };
        let check_unordered = |out: Result<Vec<u64>, PoolError>| match out {
            Ok(mut out) => {
                assert_eq!(input.first_failure(), None);
                out.sort_unstable();
                assert_eq!(out, input.expected());
            }
            Err(err) => input.check_error(&err),
        };
        // In input order, the failure is exactly the first one.
        let check_imap = |got: Vec<Result<u64, PoolError>>| {
            let ok = input.first_failure().unwrap_or(input.cmds.len());
            assert_eq!(got.len(), ok + usize::from(ok < input.cmds.len()));
            for (i, r) in got.iter().enumerate() {
                match r {
                    Ok(v) => assert_eq!(*v, 2 * i as u64),
                    Err(err) => {
                        assert_eq!(err.index(), Some(i));
                        input.check_error(err);
                    }
                }
            }
        };
        match rng.below(12) {
            0 => check_map(items!(pool.map)),
            1 => check_unordered(items!(pool.map_unordered)),
            7 => check_map(items!(pool.try_map_with, run)),
            8 => check_unordered(items!(pool.try_map_unordered_with, run)),
            9 => check_imap(items!(pool.try_imap_with, run).collect()),
            10 => {
                let got: Vec<_> = items!(pool.try_imap_unordered_with, run).collect();
                let errs = got.iter().filter(|r| r.is_err()).count();
                assert!(errs <= 1);
                match got.iter().find_map(|r| r.as_ref().err()) {
                    Some(err) => input.check_error(err),
                    None => assert_eq!(input.first_failure(), None),
                }
                if let Some(cmd) = input.cmds.first() {
                    match pool.try_apply_with(run, cmd.clone()) {
                        Ok(v) => assert_eq!(v, 0),
                        Err(err) => input.check_error(&err),
                    }
                }
            }
            2 => check_imap(items!(pool.imap).collect()),
            3 => {
                let take = rng.below(50) as usize;
                let got: Vec<_> = items!(pool.imap).take(take).collect();
                let ok = input.first_failure().unwrap_or(input.cmds.len());
                for (i, r) in got.iter().enumerate() {
                    assert_eq!(r.is_ok(), i < ok, "item {i}: {r:?}");
                }
            }
            4 => {
                let got: Vec<_> = items!(pool.imap_unordered).collect();
                let (oks, errs): (Vec<_>, Vec<_>) = got.into_iter().partition(Result::is_ok);
                assert!(errs.len() <= 1);
                if let Some(Err(err)) = errs.first() {
                    input.check_error(err);
                } else {
                    assert_eq!(input.first_failure(), None);
                    let mut oks: Vec<u64> = oks.into_iter().map(Result::unwrap).collect();
                    oks.sort_unstable();
                    assert_eq!(oks, input.expected());
                }
            }
            5 => {
                if let Some(cmd) = input.cmds.first() {
                    match pool.apply(cmd.clone()) {
                        Ok(v) => assert_eq!(v, 0),
                        Err(err) => input.check_error(&err),
                    }
                }
            }
            6 => {
                let panic_at = rng.chance(20).then(|| rng.below(100));
                let out = pool.map_with(
                    |_: &mut P, x: u64| {
                        if Some(x) == panic_at {
                            P::board().panics.fetch_add(1, SeqCst);
                            panic!("map_with panicked");
                        }
                        x + 1
                    },
                    0..100u64,
                );
                match (out, panic_at) {
                    (Ok(out), None) => assert_eq!(out, (1..101).collect::<Vec<_>>()),
                    (Err(PoolError::Panic { index, .. }), Some(at)) => {
                        assert_eq!(index, Some(at as usize))
                    }
                    (other, _) => panic!("unexpected {other:?}"),
                }
            }
            _ => pool.join().unwrap(),
        }
        if let Some(k) = lifespan {
            let lives: Vec<LifeReport> = pool.exit_results();
            assert!(lives.iter().all(|l| l.tasks <= k), "{lives:?}");
        }
    }
    pool.join().unwrap();
}

/// Runs `round(r)` for `r` in `0..rounds`, aborting the process if one
/// round takes over a minute (a hang).
fn with_watchdog(rounds: u64, mut round: impl FnMut(u64)) {
    let (tick, ticks) = mpsc::channel::<()>();
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            while !done.load(SeqCst) {
                if let Err(mpsc::RecvTimeoutError::Timeout) =
                    ticks.recv_timeout(Duration::from_secs(60))
                {
                    eprintln!("stress: a round ran for over a minute: the pool hangs");
                    std::process::abort();
                }
            }
        })
    };
    for r in 0..rounds {
        round(r);
        tick.send(()).unwrap();
    }
    done.store(true, SeqCst);
    drop(tick);
    watchdog.join().unwrap();
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn mixed_calls_with_injected_failures() {
    let rounds = env_or("STATEPOOL_STRESS_ROUNDS", 400);
    let seed = env_or("STATEPOOL_STRESS_SEED", 0x5EED_CAFE);
    with_watchdog(rounds, |r| {
        let mut rng = Rng(seed ^ (r + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        round(&mut rng);
    });

    // Every life ended exactly once: by its exit hook or by a panic.
    let board = P::board();
    assert_eq!(board.inits(), board.exits() + board.panics.load(SeqCst));
}

/// Many more workers than cores, some asleep at each call (the caller
/// busies itself between calls for a random while): every call must reach
/// every worker, though the caller wakes one and the first worker to take
/// the call wakes the others.
#[test]
fn every_worker_of_a_large_crew_wakes_for_every_call() {
    type Q = Probe<1>;
    let rounds = env_or("STATEPOOL_STRESS_ROUNDS", 400);
    let seed = env_or("STATEPOOL_STRESS_SEED", 0x5EED_CAFE);
    let mut pool = Pool::<Q>::new(16).keep_alive();
    let mut rng = Rng(seed);
    with_watchdog(rounds, |_| {
        let n = rng.below(100);
        assert_eq!(pool.map(vals(0..n)).unwrap(), doubled(0..n));
        // Busy, not asleep: long enough, at times, for the workers to sleep.
        let busy = rng.below(20_000);
        std::hint::black_box((0..busy).fold(0u64, |h, x| h.rotate_left(5) ^ x));
    });
    pool.join().unwrap();
    // Every worker started once, at the first call, and lived on.
    assert_eq!(Q::board().inits(), 16);
}

/// One pool handed from thread to thread after each call, on 2 and 4
/// workers: every call wakes its own caller. A worker that finished early
/// on the caller's CPU may promise to wake the caller; a promise that
/// outlived its call must not wake the caller of the first call in place of
/// the next call's, on another thread (the watchdog turns such a lost
/// wake-up into a failure).
#[test]
fn a_pool_handed_between_threads_wakes_each_call_s_own_caller() {
    type H = Probe<2>;
    let rounds = env_or("STATEPOOL_STRESS_ROUNDS", 400);
    let seed = env_or("STATEPOOL_STRESS_SEED", 0x5EED_CAFE);
    for workers in [2, 4] {
        let (to_a, from_b) = mpsc::channel::<Pool<H>>();
        let (to_b, from_a) = mpsc::channel::<Pool<H>>();
        let peer = std::thread::spawn(move || {
            let mut rng = Rng(seed ^ 0xB);
            while let Ok(mut pool) = from_a.recv() {
                let n = rng.below(40);
                assert_eq!(pool.map(vals(0..n)).unwrap(), doubled(0..n));
                if to_a.send(pool).is_err() {
                    break;
                }
            }
        });
        let mut rng = Rng(seed ^ workers);
        let mut pool = Some(Pool::<H>::new(workers as usize).keep_alive());
        with_watchdog(rounds, |_| {
            let mut here = pool.take().expect("the pool came back");
            let n = rng.below(40);
            assert_eq!(here.map(vals(0..n)).unwrap(), doubled(0..n));
            to_b.send(here).unwrap();
            pool = Some(from_b.recv().unwrap());
        });
        drop(to_b);
        peer.join().unwrap();
        pool.expect("the pool came back").join().unwrap();
    }
}

/// Two pools of one state with different shared objects, under random
/// calls with injected failures: every output carries its own pool's tag
/// (a state never serves the other pool, through lifespans, panics and
/// re-inits), every worker id is in range, failures are those of failing
/// items, and each pool's lives balance on its own counters.
#[test]
fn shared_pools_stay_apart_under_injected_failures() {
    let rounds = env_or("STATEPOOL_STRESS_ROUNDS", 400) / 2;
    let seed = env_or("STATEPOOL_STRESS_SEED", 0x5EED_CAFE);
    with_watchdog(rounds, |r| {
        let mut rng = Rng(seed ^ (r + 7).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let pools: Vec<(u64, usize, TaggedPool)> = (1..=2u64)
            .map(|tag| {
                let workers = 1 + rng.below(4) as usize;
                let mut pool = TaggedPool::with_shared(workers, Tag::new(tag));
                if rng.chance(40) {
                    pool = pool.chunk_size(1 + rng.below(16) as usize);
                }
                if rng.chance(40) {
                    pool = pool.worker_lifespan(1 + rng.below(30) as usize);
                }
                if rng.chance(60) {
                    pool = pool.keep_alive();
                }
                (tag, workers, pool)
            })
            .collect();
        let mut pools = pools;
        for _ in 0..1 + rng.below(10) {
            let input = Input::random(&mut rng);
            let which = rng.below(2) as usize;
            let (tag, workers, pool) = &mut pools[which];
            let (tag, workers) = (*tag, *workers);
            let check = |out: &TaggedOut| {
                assert_eq!(out.tag, tag, "an output of the other pool");
                assert!(out.worker_id < workers, "{out:?}");
            };
            let values = |outs: Vec<TaggedOut>| -> Vec<u64> {
                outs.iter().for_each(check);
                outs.into_iter().map(|o| o.value).collect()
            };
            match rng.below(5) {
                0 => match pool.map(input.cmds.clone()) {
                    Ok(out) => assert_eq!(values(out), input.expected()),
                    Err(err) => input.check_error(&err),
                },
                1 => match pool.map_unordered(input.cmds.clone().into_iter().filter(|_| true)) {
                    Ok(out) => {
                        let mut out = values(out);
                        out.sort_unstable();
                        assert_eq!(out, input.expected());
                    }
                    Err(err) => input.check_error(&err),
                },
                2 | 3 => {
                    let got: Vec<_> = if rng.chance(50) {
                        pool.imap(input.cmds.clone()).collect()
                    } else {
                        pool.imap_borrowed(input.cmds.iter().cloned()).collect()
                    };
                    let ok = input.first_failure().unwrap_or(input.cmds.len());
                    assert_eq!(got.len(), ok + usize::from(ok < input.cmds.len()));
                    for (i, r) in got.iter().enumerate() {
                        match r {
                            Ok(out) => {
                                check(out);
                                assert_eq!(out.value, 2 * i as u64);
                            }
                            Err(err) => input.check_error(err),
                        }
                    }
                }
                _ => {
                    if let Some(cmd) = input.cmds.first() {
                        match pool.apply(cmd.clone()) {
                            Ok(out) => {
                                check(&out);
                                assert_eq!(out.value, 0);
                            }
                            Err(err) => input.check_error(&err),
                        }
                    }
                }
            }
            for (life_tag, _) in pool.exit_results() {
                assert_eq!(life_tag, tag);
            }
        }
        for (tag, _, mut pool) in pools {
            pool.join().unwrap();
            assert!(pool.exit_results().iter().all(|life| life.0 == tag));
            assert!(
                pool.shared().lives_balance(),
                "pool {tag}'s lives do not balance"
            );
        }
    });
}

/// What a stuck task waits on, and how many stuck so far.
struct Stuck {
    release: std::sync::Mutex<mpsc::Receiver<()>>,
    stuck: std::sync::atomic::AtomicUsize,
}

#[statepool::worker_state(shared = Stuck)]
#[derive(Default)]
struct Served {
    ran: u64,
}

/// `u64::MAX` blocks until released; odd multiples of 1000 fail; 777
/// panics; the rest are doubled.
#[statepool::task]
fn serve(s: &mut Served, x: u64, ctx: &WorkerContext<Stuck>) -> Result<u64, std::io::Error> {
    s.ran += 1;
    match x {
        u64::MAX => {
            ctx.shared().stuck.fetch_add(1, SeqCst);
            let _ = ctx.shared().release.lock().unwrap().recv();
            Ok(0)
        }
        777 => panic!("777"),
        x if x % 2000 == 1000 => Err(std::io::Error::other("refused")),
        x => Ok(2 * x),
    }
}

/// Checks one result of `serve` on `x`: its output, or the failure it
/// must be (a stuck item's timeout, a failing item's error, a panic).
fn check_served(x: u64, out: Result<u64, PoolError>) {
    match (x, out) {
        (u64::MAX, Err(PoolError::Timeout { .. })) => {}
        (777, Err(PoolError::Panic { .. })) => {}
        (x, Err(PoolError::Task { .. })) if x % 2000 == 1000 => {}
        (x, Ok(out)) if x != u64::MAX && x != 777 && x % 2000 != 1000 => assert_eq!(out, 2 * x),
        (x, other) => panic!("item {x}: {other:?}"),
    }
}

/// Keeps the planted panic of item 777 out of the panic hook: the default
/// hook prints, and with `RUST_BACKTRACE` set resolves, a backtrace inside
/// the task, which on a loaded machine can take longer than the time
/// limit, turning the expected panic into a timeout. Other panics go to
/// the hook as before.
fn quiet_777() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"777") {
                hook(info);
            }
        }));
    });
}

/// Handles on several threads and the pool's own calls at once, on pools
/// with a timeout, some tasks stuck past it, others failing or panicking:
/// every result is its item's, every stuck task is a timeout that leaves
/// the pool working, and no call hangs (the watchdog of this file aborts).
#[test]
fn handles_and_timeouts_under_concurrent_callers() {
    concurrent_callers(true);
}

/// The same without a time limit and without stuck items: handle tasks
/// then also run inside the pool's calls, between their chunks.
#[test]
fn handles_inside_calls_under_concurrent_callers() {
    concurrent_callers(false);
}

fn concurrent_callers(timed: bool) {
    quiet_777();
    let rounds = env_or("STATEPOOL_STRESS_ROUNDS", 400) / 20;
    let seed = env_or("STATEPOOL_STRESS_SEED", 0x5EED_CAFE);
    let (release, release_rx) = mpsc::channel();
    let shared = Arc::new(Stuck {
        release: std::sync::Mutex::new(release_rx),
        stuck: Default::default(),
    });
    let mut abandoned = 0;
    with_watchdog(rounds, |r| {
        let mut rng = Rng(seed ^ (r + 11).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let workers = 1 + rng.below(4) as usize;
        let mut pool = ServedPool::with_shared(workers, Arc::clone(&shared));
        if timed {
            pool = pool.task_timeout(Duration::from_millis(300));
        }
        if rng.chance(50) {
            pool = pool.keep_alive();
        }
        if rng.chance(30) {
            pool = pool.worker_lifespan(1 + rng.below(20) as usize);
        }
        // At most one stuck item a round, on a handle or in a call.
        let stuck_at = (timed && rng.chance(25)).then(|| rng.below(3));
        let item = |rng: &mut Rng| match rng.below(100) {
            0 => 777,
            1..=3 => 1000 + 2000 * rng.below(5),
            _ => rng.below(100_000) * 2 + 1,
        };
        let plans: Vec<Vec<u64>> = (0..3)
            .map(|t| {
                let mut xs: Vec<u64> = (0..50).map(|_| item(&mut rng)).collect();
                if stuck_at == Some(t) {
                    xs[rng.below(50) as usize] = u64::MAX;
                }
                xs
            })
            .collect();
        let calls: Vec<Vec<u64>> = (0..5)
            .map(|_| (0..rng.below(200)).map(|_| item(&mut rng)).collect())
            .collect();
        let handle = pool.handle();
        std::thread::scope(|s| {
            for xs in &plans {
                let handle = handle.clone();
                s.spawn(move || {
                    let tasks: Vec<_> = xs.iter().map(|&x| handle.apply_async(x)).collect();
                    for (&x, task) in xs.iter().zip(tasks) {
                        check_served(x, task.wait());
                    }
                });
            }
            for xs in &calls {
                match pool.map(xs.clone()) {
                    Ok(out) => {
                        for (&x, out) in xs.iter().zip(out) {
                            check_served(x, Ok(out));
                        }
                    }
                    Err(err) => {
                        let at = err.index().expect("a failure of an item");
                        check_served(xs[at], Err(err));
                    }
                }
            }
        });
        if stuck_at.is_some() {
            abandoned += 1;
            assert_eq!(pool.abandoned(), 1);
            release.send(()).unwrap();
        }
        pool.join().unwrap();
    });
    assert_eq!(shared.stuck.load(SeqCst), abandoned);
}
