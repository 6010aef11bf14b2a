use statepool::prelude::*;

struct Config;

#[worker_state(shared = Config)]
#[derive(Default)]
struct Model;

fn main() {
    let _pool = ModelPool::with_shared(2, "config.toml");
}
