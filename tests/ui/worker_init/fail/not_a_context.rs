use statepool::prelude::*;

struct Config;

#[worker_state]
struct Model;

#[worker_init]
fn load(_config: &Config) -> Model {
    Model
}

fn main() {}
