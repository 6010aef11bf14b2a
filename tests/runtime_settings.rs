//! Settings at their extremes: chunk sizes and lifespans near `usize::MAX`,
//! more workers than a machine can start, and inputs whose `size_hint`
//! lies. Every call gives the right results or a `PoolError`: no overflow,
//! no hang, no allocation sized from a setting before the items exist.

use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Tripler {
    ran: u64,
}

#[task]
fn triple(state: &mut Tripler, x: u64) -> u64 {
    state.ran += 1;
    3 * x
}

/// Each life reports how many tasks it ran.
#[worker_exit]
fn report(state: Tripler) -> u64 {
    state.ran
}

/// Chunk sizes no input fills.
const HUGE_CHUNKS: [usize; 2] = [1 << 62, usize::MAX];
const WORKERS: [usize; 2] = [1, 4];

/// Runs every call over the items `items` makes, checking the results.
fn every_call<I>(pool: &mut TriplerPool, items: impl Fn() -> I, setting: &str)
where
    I: IntoIterator<Item = u64>,
    I::IntoIter: Send + 'static,
{
    // Not `collect`: std reserves what a lying `size_hint` claims.
    let mut want = Vec::new();
    for x in items() {
        want.push(3 * x);
    }
    let sorted = |mut v: Vec<u64>| {
        v.sort_unstable();
        v
    };
    let want_sorted = sorted(want.clone());
    assert_eq!(pool.map(items()).unwrap(), want, "map, {setting}");
    let out = pool.map_unordered(items()).unwrap();
    assert_eq!(sorted(out), want_sorted, "map_unordered, {setting}");
    let out: Result<Vec<u64>, PoolError> = pool.imap(items()).collect();
    assert_eq!(out.unwrap(), want, "imap, {setting}");
    let out: Result<Vec<u64>, PoolError> = pool.imap_unordered(items()).collect();
    assert_eq!(
        sorted(out.unwrap()),
        want_sorted,
        "imap_unordered, {setting}"
    );
    assert_eq!(pool.apply(7).unwrap(), 21, "apply, {setting}");
}

#[test]
fn huge_chunk_sizes_over_ranges_and_vectors() {
    for chunk in HUGE_CHUNKS {
        for workers in WORKERS {
            let setting = format!("chunk_size({chunk}), {workers} workers");
            let mut pool = TriplerPool::new(workers).chunk_size(chunk).keep_alive();
            every_call(&mut pool, || 0..10u64, &format!("a range, {setting}"));
            every_call(&mut pool, || 0..0u64, &format!("an empty range, {setting}"));
            let vector = || vec![4u64, 8, 15, 16, 23, 42];
            every_call(&mut pool, vector, &format!("a vector, {setting}"));
            // A stream yields a chunk once it has run, so one over a range
            // this long yields nothing in time; dropping it stops it all the
            // same, between two blocks of its first chunk.
            drop(pool.imap(0u64..u64::MAX));
            assert_eq!(pool.map(0..3u64).unwrap(), [0, 3, 6], "{setting}");
        }
    }
}

// Until the shared input reserves a chunk's buffer from its items rather
// than from `chunk_size` (input/shared.rs, `Vec::with_capacity(len)`, under
// rewrite), a huge chunk size over an iterator of unknown length panics
// with a capacity overflow there, or aborts where the size fits `isize`
// but not the memory.
#[test]
fn huge_chunk_sizes_over_iterators_of_unknown_length() {
    for chunk in HUGE_CHUNKS {
        for workers in WORKERS {
            let setting = format!("a filter, chunk_size({chunk}), {workers} workers");
            let mut pool = TriplerPool::new(workers).chunk_size(chunk).keep_alive();
            let odd = || (0..20u64).filter(|x| x % 2 == 1);
            every_call(&mut pool, odd, &setting);
            let liar = || Liar::new(10, (usize::MAX, None));
            every_call(&mut pool, liar, &format!("a liar, {setting}"));
        }
    }
}

#[test]
fn an_endless_lifespan_ends_lives_only_with_the_calls() {
    for workers in WORKERS {
        let mut pool = TriplerPool::new(workers).worker_lifespan(usize::MAX);
        let setting = format!("worker_lifespan(usize::MAX), {workers} workers");
        every_call(&mut pool, || 0..50u64, &format!("a range, {setting}"));
        every_call(
            &mut pool,
            || vec![1u64, 2, 3],
            &format!("a vector, {setting}"),
        );
        let odd = || (0..20u64).filter(|x| x % 2 == 1);
        every_call(&mut pool, odd, &format!("a filter, {setting}"));
        // Without keep_alive, each of the fifteen calls starts a life on
        // every worker and ends it: no life ends early, and the tasks of
        // all the calls add up.
        let lives = pool.exit_results();
        assert_eq!(lives.len(), 15 * workers, "{setting}");
        assert_eq!(
            lives.iter().sum::<u64>(),
            4 * (50 + 3 + 10) + 3,
            "{setting}"
        );
    }
}

#[test]
fn more_workers_than_can_start_is_an_error_not_an_abort() {
    for workers in [usize::MAX, usize::MAX / 2, 1 << 40] {
        let mut pool = TriplerPool::new(workers);
        let named = |err: PoolError| match err {
            PoolError::InvalidConfig(message) => message.contains("n_workers"),
            _ => false,
        };
        assert!(named(pool.map(0..3u64).unwrap_err()), "{workers} workers");
        assert!(named(pool.map_unordered(vec![1u64]).unwrap_err()));
        assert!(named(pool.apply(1).unwrap_err()));
        let mut stream = pool.imap(0..3u64);
        assert!(named(stream.next().unwrap().unwrap_err()));
        assert!(stream.next().is_none());
        drop(stream);
        let mut stream = pool.imap_unordered((0..3u64).filter(|_| true));
        assert!(named(stream.next().unwrap().unwrap_err()));
    }
}

/// Yields `0..len` while its `size_hint` claims `hint`.
struct Liar {
    items: std::ops::Range<u64>,
    hint: (usize, Option<usize>),
}

impl Liar {
    fn new(len: u64, hint: (usize, Option<usize>)) -> Self {
        Liar {
            items: 0..len,
            hint,
        }
    }
}

impl Iterator for Liar {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        self.items.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.hint
    }
}

#[test]
fn a_size_hint_that_lies_still_gives_every_result() {
    let lies = [
        (usize::MAX, None),
        (usize::MAX, Some(usize::MAX)),
        // Upper bounds below the real length.
        (0, Some(3)),
        (3, Some(3)),
        (0, Some(0)),
    ];
    for hint in lies {
        for workers in WORKERS {
            let setting = format!("size_hint {hint:?} for 10 items, {workers} workers");
            let mut pool = TriplerPool::new(workers).keep_alive();
            every_call(&mut pool, || Liar::new(10, hint), &setting);
            let mut pool = TriplerPool::new(workers).chunk_size(3).keep_alive();
            every_call(
                &mut pool,
                || Liar::new(10, hint),
                &format!("chunk_size(3), {setting}"),
            );
        }
    }
}

/// `max_active(k)` bounds what a stream pulled and has not yielded, over
/// an input it pulls (counted as it is pulled) and over a range (counted as
/// tasks start), for every streaming form and worker count.
#[test]
fn max_active_bounds_what_a_stream_holds() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    for workers in [1, 2, 4] {
        for bound in [1, 2, 5, 64] {
            let limit = bound.max(2);
            let mut pool = TriplerPool::new(workers).keep_alive().max_active(bound);
            // An input pulled by the pool, borrowing its counter.
            let pulled = AtomicUsize::new(0);
            let input = (0u64..).inspect(|_| {
                pulled.fetch_add(1, SeqCst);
            });
            let mut stream = pool.imap_borrowed(input);
            for yielded in 1..=300 {
                assert_eq!(stream.next().unwrap().unwrap(), 3 * (yielded as u64 - 1));
                let held = pulled.load(SeqCst) - yielded;
                assert!(
                    held <= limit,
                    "{workers} workers, max_active({bound}): {held} held"
                );
            }
            drop(stream);
            // A range: its items are made by the workers, counted as they run.
            let started = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&started);
            let task = move |_: &mut Tripler, x: u64| {
                counter.fetch_add(1, SeqCst);
                x
            };
            let mut stream = pool.imap_unordered_with(task, 0u64..1_000_000);
            for yielded in 1..=300 {
                stream.next().unwrap().unwrap();
                let held = started.load(SeqCst) - yielded;
                assert!(
                    held <= limit,
                    "{workers} workers, max_active({bound}): {held} running or held"
                );
            }
        }
    }
    let mut pool = TriplerPool::new(2).max_active(0);
    assert!(matches!(
        pool.imap(0..3).next(),
        Some(Err(PoolError::InvalidConfig(message))) if message.contains("max_active")
    ));
    // Blocking calls are not bounded by it.
    assert_eq!(pool.map(0..3).unwrap(), [0, 3, 6]);
}

/// A stream halted in the middle of a chunk of 2^62 positions drops the
/// rest of the chunk at once: the drop returns, and the pool goes on. (It
/// used to walk the positions left one by one, for ever.)
#[test]
fn a_stream_halted_inside_a_huge_chunk_drops_its_rest_at_once() {
    use std::sync::mpsc::channel;
    use std::sync::Mutex;

    for workers in WORKERS {
        let mut pool = TriplerPool::new(workers).chunk_size(1 << 62).keep_alive();
        let (started_tx, started) = channel();
        let (go, go_rx) = channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let task = move |_: &mut Tripler, x: u64| {
            if x == 0 {
                started_tx.send(()).unwrap();
                go_rx.lock().unwrap().recv().unwrap();
            }
            x
        };
        let stream = pool.imap_with(task, 0u64..u64::MAX);
        // A worker is inside the first chunk, at its first item.
        started.recv().unwrap();
        go.send(()).unwrap();
        drop(stream);
        assert_eq!(pool.map(0..3u64).unwrap(), [0, 3, 6]);
    }
}
