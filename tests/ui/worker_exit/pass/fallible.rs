use statepool::prelude::*;

use std::io;

#[worker_state]
#[derive(Default)]
struct Flush {
    pending: usize,
}

#[task]
fn queue(flush: &mut Flush, n: usize) {
    flush.pending += n;
}

#[worker_exit]
fn flush(flush: Flush) -> io::Result<usize> {
    if flush.pending > 100 {
        return Err(io::Error::other("too much pending"));
    }
    Ok(flush.pending)
}

#[worker_state]
#[derive(Default)]
struct Unit;

#[task]
fn nothing(_unit: &mut Unit, _x: u8) {}

/// `&State`, and no output.
#[worker_exit]
fn done(_unit: &Unit) {}

fn main() {
    let mut pool = FlushPool::new(1);
    pool.map([1, 2]).unwrap();
    assert_eq!(pool.exit_results(), [3]);
    let err = pool.map([1000]).unwrap_err();
    assert!(matches!(err, PoolError::Exit { .. }), "{err:?}");

    let mut pool = UnitPool::new(2);
    pool.map([0]).unwrap();
    assert_eq!(pool.exit_results().len(), 2);
}
