use statepool::prelude::*;

#[worker_state]
struct Model {
    weights: Vec<f32>,
}

#[worker_init]
fn load() -> &'static Model {
    unimplemented!()
}

fn main() {}
