use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Model {
    weights: Vec<f32>,
}

#[worker_init]
fn load(model: &mut Model, size: usize) {
    model.weights.resize(size, 0.0);
}

fn main() {}
