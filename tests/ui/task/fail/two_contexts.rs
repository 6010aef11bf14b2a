use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Model;

#[task]
fn run(_state: &mut Model, x: u64, _a: &WorkerContext, _b: &WorkerContext) -> u64 {
    x
}

fn main() {
    let _ = ModelPool::new(1).map([1u64]);
}
