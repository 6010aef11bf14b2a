//! Progress bars (feature `progress`): every call kind drives its bar to
//! the total, and a failure or an early drop leaves it finished where it
//! stopped. The bars draw to a hidden target; the test keeps a handle on
//! each to read it.
#![cfg(feature = "progress")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use statepool::indicatif::{ProgressBar, ProgressDrawTarget};
use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Doubler;

#[task]
fn double(_: &mut Doubler, x: u64) -> Result<u64, std::io::Error> {
    if x == 6666 {
        return Err(std::io::Error::other("the number of the beast"));
    }
    Ok(2 * x)
}

/// A pool whose bars are hidden, and the bars it made, in call order.
fn watched(workers: usize) -> (DoublerPool, Arc<Mutex<Vec<ProgressBar>>>) {
    let bars = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bars);
    let pool = DoublerPool::new(workers).progress_bar_with(move |len| {
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden());
        kept.lock().unwrap().push(bar.clone());
        bar
    });
    (pool, bars)
}

/// The last bar made: its position, length and whether it finished.
fn last(bars: &Mutex<Vec<ProgressBar>>) -> (u64, Option<u64>, bool, String) {
    let bars = bars.lock().unwrap();
    let bar = bars.last().expect("a bar");
    (
        bar.position(),
        bar.length(),
        bar.is_finished(),
        bar.message(),
    )
}

#[test]
fn every_call_kind_reaches_its_total() {
    for workers in [1, 2, 4] {
        for dealt in [false, true] {
            let (pool, bars) = watched(workers);
            let mut pool = if dealt { pool.order_tasks() } else { pool };
            let done = |n: u64| (n, Some(n), true, String::new());
            pool.map(0..1000).unwrap();
            assert_eq!(last(&bars), done(1000), "map, {workers} workers");
            pool.map_unordered((0..500).collect::<Vec<_>>()).unwrap();
            assert_eq!(last(&bars), done(500), "map_unordered");
            pool.apply(7).unwrap();
            assert_eq!(last(&bars), done(1), "apply");
            pool.map_with(|_: &mut Doubler, x: u64| x, 0..300).unwrap();
            assert_eq!(last(&bars), done(300), "map_with");
            // Unknown length: a count, no total until it ends.
            pool.map((0..400u64).filter(|x| x % 2 == 0)).unwrap();
            let (pos, _, finished, _) = last(&bars);
            assert_eq!((pos, finished), (200, true), "filtered");
            assert_eq!(pool.imap(0..700).count(), 700);
            assert_eq!(last(&bars), done(700), "imap");
            assert_eq!(pool.imap_unordered(0..600).count(), 600);
            assert_eq!(last(&bars), done(600), "imap_unordered");
            let keys: Vec<u64> = (0..250).collect();
            assert_eq!(pool.imap_borrowed(keys.iter().copied()).count(), 250);
            assert_eq!(last(&bars), done(250), "imap_borrowed");
            assert_eq!(bars.lock().unwrap().len(), 8);
        }
    }
    // A pool with a time limit runs its calls on owned items.
    let (pool, bars) = watched(2);
    let mut pool = pool.task_timeout(Duration::from_secs(60));
    pool.map(0..800).unwrap();
    assert_eq!(last(&bars), (800, Some(800), true, String::new()));
}

#[test]
fn a_failure_or_an_early_drop_finishes_the_bar_where_it_stopped() {
    let (mut pool, bars) = watched(2);
    assert!(pool.map(6000..7000).is_err());
    let (pos, len, finished, message) = last(&bars);
    assert!(pos < 1000 && finished, "{pos} {finished}");
    assert_eq!(len, Some(1000));
    assert!(message.starts_with("failed: "), "{message}");
    assert!(message.contains("beast"), "{message}");

    // A stream fails on its item 666, after yielding the 666 before it.
    let out: Vec<_> = pool.imap(6000..7000).collect();
    assert_eq!(out.len(), 667);
    let (pos, _, finished, message) = last(&bars);
    assert!((666..1000).contains(&pos) && finished, "{pos}");
    assert!(message.starts_with("failed: "), "{message}");

    // An endless stream dropped early: stopped, not failed.
    let taken = pool.imap(1000u64..).take(100).count();
    assert_eq!(taken, 100);
    let (pos, _, finished, message) = last(&bars);
    assert!(pos >= 100 && finished, "{pos}");
    assert_eq!(message, "");

    // The pool goes on, with a fresh bar.
    pool.map(0..10).unwrap();
    assert_eq!(last(&bars), (10, Some(10), true, String::new()));
}

#[test]
fn the_standard_bar_runs_every_call_kind_off_a_terminal() {
    // Tests run with standard error captured or piped: nothing is drawn,
    // and nothing breaks.
    let mut pool = DoublerPool::new(2).keep_alive().progress_bar();
    assert_eq!(pool.map(0..2000).unwrap().len(), 2000);
    assert_eq!(pool.imap(0..100).count(), 100);
    assert_eq!(pool.imap(0u64..).take(10).count(), 10);
    assert!(pool.map(6660..6670).is_err());
    pool.join().unwrap();
}
