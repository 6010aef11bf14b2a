use statepool::prelude::*;

struct Config {
    scale: u64,
}

#[worker_state(shared = Config, pool = Scalers)]
#[derive(Default)]
struct Scaler;

/// The context comes last, after the inputs; several inputs still map over
/// tuples of the inputs alone.
#[task]
fn scale(_state: &mut Scaler, x: u64, y: u64, ctx: &WorkerContext<Config>) -> (usize, u64) {
    (ctx.worker_id(), (x + y) * ctx.shared().scale)
}

#[worker_state]
#[derive(Default)]
struct Plain;

#[task]
fn who(_state: &Plain, _x: u8, ctx: &WorkerContext) -> usize {
    ctx.worker_id()
}

fn main() {
    let mut pool = Scalers::with_shared(2, Config { scale: 10 });
    let out = pool.map([(1, 2), (3, 4)]).unwrap();
    assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), [30, 70]);
    assert!(out.iter().all(|o| o.0 < 2));
    assert!(PlainPool::new(3).map([1, 2, 3]).unwrap().iter().all(|&id| id < 3));
}
