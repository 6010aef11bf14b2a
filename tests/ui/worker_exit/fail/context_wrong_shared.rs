use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Model;

#[worker_exit]
fn close(_state: Model, _ctx: &WorkerContext<u32>) {}

fn main() {}
