use statepool::prelude::*;

struct Config;

#[worker_state(shared = Config)]
#[derive(Default)]
struct Model;

#[task]
fn run(_state: &mut Model, x: u64, _ctx: &WorkerContext) -> u64 {
    x
}

fn main() {}
