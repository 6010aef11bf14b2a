use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Model {
    weights: Vec<f32>,
}

#[worker_init]
fn load() {
    println!("loading");
}

fn main() {}
