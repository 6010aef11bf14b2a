use statepool::prelude::*;

struct Config;

#[worker_state(shared = Config)]
#[derive(Default)]
struct Model;

#[task]
fn run(_state: &mut Model, x: u32, _ctx: WorkerContext<Config>) -> u32 {
    x
}

fn main() {
    let _ = ModelPool::with_shared(1, Config).map(0..3u32);
}
