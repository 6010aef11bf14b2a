use statepool::prelude::*;

struct Config;

#[worker_state(shared = Config)]
struct Model;

#[worker_init]
fn load(_ctx: WorkerContext<Config>) -> Model {
    Model
}

fn main() {}
