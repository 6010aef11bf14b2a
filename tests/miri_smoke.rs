//! Every call once, small enough to run under Miri (`scripts/miri.sh`): two
//! workers, a handful of items, over each kind of input (a range and a
//! vector, whose positions workers claim, and an iterator of unknown length,
//! pulled under a lock), then a task failure and a panic. The other test
//! files cover the same ground with many more threads and items.

use std::sync::Arc;

use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Doubler {
    seen: u64,
}

/// Doubles `x`; 13 fails and 66 panics.
#[task]
fn double(state: &mut Doubler, x: u64) -> Result<u64, std::io::Error> {
    state.seen += 1;
    match x {
        13 => Err(std::io::Error::other("thirteen")),
        66 => panic!("sixty-six"),
        _ => Ok(2 * x),
    }
}

/// Runs every call over the items that `items` makes, on one pool.
fn every_call<I>(items: impl Fn() -> I)
where
    I: IntoIterator<Item = u64>,
    I::IntoIter: Send + 'static,
{
    let want: Vec<u64> = items().into_iter().map(|x| 2 * x).collect();
    let sorted = |mut v: Vec<u64>| {
        v.sort_unstable();
        v
    };
    let want_sorted = sorted(want.clone());
    let mut pool = DoublerPool::new(2).keep_alive();
    assert_eq!(pool.map(items()).unwrap(), want);
    assert_eq!(sorted(pool.map_unordered(items()).unwrap()), want_sorted);
    let streamed: Vec<u64> = pool.imap(items()).map(Result::unwrap).collect();
    assert_eq!(streamed, want);
    let streamed: Vec<u64> = pool.imap_unordered(items()).map(Result::unwrap).collect();
    assert_eq!(sorted(streamed), want_sorted);
    let with = |state: &mut Doubler, x: u64| {
        state.seen += 1;
        2 * x
    };
    assert_eq!(pool.map_with(with, items()).unwrap(), want);
    assert_eq!(pool.apply(4).unwrap(), 8);
    pool.join().unwrap();
}

#[test]
fn every_call_over_a_range() {
    every_call(|| 0..6u64);
}

#[test]
fn every_call_over_a_vector() {
    every_call(|| vec![5u64, 3, 8, 1, 9]);
}

#[test]
fn every_call_over_an_iterator_of_unknown_length() {
    every_call(|| (0..12u64).filter(|x| x % 3 != 1));
}

#[test]
fn a_failure_and_a_panic_end_the_call_at_their_item() {
    let mut pool = DoublerPool::new(2);
    assert!(matches!(
        pool.map(10..16u64),
        Err(PoolError::Task { index: 3, .. })
    ));
    assert!(matches!(
        pool.map(vec![1u64, 66, 2]),
        Err(PoolError::Panic { index: Some(1), .. })
    ));
    // A stream yields what comes before the failure, then the failure.
    let got: Vec<Result<u64, PoolError>> = pool.imap(11..15u64).collect();
    assert!(matches!(
        got[..],
        [Ok(22), Ok(24), Err(PoolError::Task { index: 2, .. })]
    ));
    // The pool stays usable.
    assert_eq!(pool.map(0..3u64).unwrap(), [0, 2, 4]);
}

#[worker_state]
#[derive(Default)]
struct Reader;

/// Reads a shared number; 3 fails.
#[task]
fn read(_: &Reader, x: Arc<u64>) -> Result<Arc<u64>, std::io::Error> {
    match *x {
        3 => Err(std::io::Error::other("three")),
        _ => Ok(x),
    }
}

#[test]
fn every_item_and_output_is_dropped_once() {
    // Miri runs this file with `-Zmiri-ignore-leaks` (crossbeam-epoch's
    // global collector outlives the test), so leaks are counted here.
    let shared = Arc::new(0u64);
    let items = |n: u64| -> Vec<Arc<u64>> {
        (0..n)
            .map(|x| if x == 3 { Arc::new(3) } else { shared.clone() })
            .collect()
    };
    let mut pool = ReaderPool::new(2);
    let out = pool.map(items(3)).unwrap();
    assert_eq!(Arc::strong_count(&shared), 1 + 3);
    drop(out);
    let out = pool.map_unordered(items(3).into_iter().filter(|_| true));
    assert_eq!(out.unwrap().len(), 3);
    assert!(pool.map(items(6)).is_err());
    assert!(pool.imap(items(6)).any(|r| r.is_err()));
    assert_eq!(Arc::strong_count(&shared), 1);
}

#[worker_state]
#[derive(Default)]
struct Counter;

/// Counts the bytes of a borrowed line.
#[task]
fn count(_: &mut Counter, line: &str, ctx: &WorkerContext) -> (usize, usize) {
    (line.len(), ctx.worker_id())
}

#[test]
fn borrowed_items_and_a_leaked_borrowed_stream() {
    let lines: Vec<String> = vec!["ab".into(), "c".into(), "def".into()];
    let mut pool = CounterPool::new(2).keep_alive();
    let lens = pool.map(lines.iter().map(String::as_str)).unwrap();
    assert_eq!(lens.iter().map(|l| l.0).collect::<Vec<_>>(), [2, 1, 3]);
    assert!(lens.iter().all(|l| l.1 < 2));
    // A stream over a borrowing input, leaked, then its input freed: no
    // thread may read it again (Miri would report the use after free).
    let owned: Vec<u64> = (0..40).collect();
    let mut doubled = DoublerPool::new(2).keep_alive();
    let mut stream = doubled.imap_borrowed(owned.iter().copied());
    assert_eq!(stream.next().unwrap().unwrap(), 0);
    std::mem::forget(stream);
    drop(owned);
    assert_eq!(doubled.map(0..3u64).unwrap(), [0, 2, 4]);
}

#[test]
fn handles_from_two_threads() {
    let mut pool = DoublerPool::new(2).keep_alive();
    let handle = pool.handle();
    let sum: u64 = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2u64)
            .map(|t| {
                let handle = handle.clone();
                s.spawn(move || {
                    let tasks: Vec<_> = (0..3).map(|x| handle.apply_async(t * 3 + x)).collect();
                    tasks.into_iter().map(|t| t.wait().unwrap()).sum::<u64>()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    assert_eq!(sum, 2 * (0..6).sum::<u64>());
    let late = handle.apply_async(1);
    pool.join().unwrap();
    assert_eq!(late.wait().unwrap(), 2);
    drop(pool);
    assert!(matches!(handle.apply(1), Err(PoolError::Closed)));
}

#[worker_state(shared = std::sync::Mutex<std::sync::mpsc::Receiver<()>>)]
#[derive(Default)]
struct Waiter;

/// 0 waits for the test's message; the rest come back.
#[task]
fn wait_for(
    _: &mut Waiter,
    x: Vec<u64>,
    ctx: &WorkerContext<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>,
) -> Vec<u64> {
    if x.is_empty() {
        let _ = ctx.shared().lock().unwrap().recv();
    }
    x
}

#[test]
fn a_worker_left_behind_by_a_timeout_touches_nothing_of_its_call() {
    let (release, wait) = std::sync::mpsc::channel();
    let mut pool = WaiterPool::with_shared(1, std::sync::Mutex::new(wait))
        .keep_alive()
        .task_timeout(std::time::Duration::from_millis(200));
    // Owned items, on the heap: Miri reports any touch after their call
    // dropped them.
    let items = vec![vec![1], vec![], vec![2]];
    assert!(matches!(pool.map(items), Err(PoolError::Timeout { .. })));
    assert_eq!(pool.map(vec![vec![3]]).unwrap(), [vec![3]]);
    release.send(()).unwrap();
    pool.join().unwrap();
    assert_eq!(pool.abandoned(), 1);
}
