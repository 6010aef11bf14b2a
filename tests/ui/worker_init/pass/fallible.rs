use statepool::prelude::*;

use std::io;

#[worker_state]
struct Config {
    value: u32,
}

/// `-> Result<State, E>`, here through the `io::Result` alias.
#[worker_init]
fn read(ctx: &WorkerContext) -> io::Result<Config> {
    if ctx.n_workers() > 2 {
        return Err(io::Error::other("too many workers"));
    }
    Ok(Config { value: 7 })
}

#[task]
fn value(config: &Config, _x: u8) -> u32 {
    config.value
}

#[worker_state]
#[derive(Default)]
struct Buffer;

/// The `&mut State` forms may return `Result<(), E>`.
#[worker_init]
fn check(_buffer: &mut Buffer, ctx: &WorkerContext) -> Result<(), std::num::TryFromIntError> {
    u8::try_from(ctx.worker_id() * 300).map(drop)
}

#[task]
fn one(_buffer: &mut Buffer, _x: u8) -> u8 {
    1
}

#[worker_state]
#[derive(Default)]
struct Plain;

#[worker_init]
fn plain() -> Result<Plain, std::fmt::Error> {
    Ok(Plain)
}

#[task]
fn two(_plain: &mut Plain, _x: u8) -> u8 {
    2
}

fn main() {
    assert_eq!(ConfigPool::new(2).map([0, 0]).unwrap(), [7, 7]);
    let err = ConfigPool::new(3).map([0]).unwrap_err();
    assert!(matches!(err, PoolError::Init { .. }), "{err:?}");
    assert_eq!(BufferPool::new(1).map([0]).unwrap(), [1]);
    assert!(matches!(BufferPool::new(2).map([0]), Err(PoolError::Init { worker_id: 1, .. })));
    assert_eq!(PlainPool::new(1).map([0]).unwrap(), [2]);
}
