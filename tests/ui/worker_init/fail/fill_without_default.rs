use statepool::prelude::*;

#[worker_state]
struct Model {
    weights: Vec<f32>,
}

#[worker_init]
fn load(model: &mut Model) {
    model.weights.push(1.0);
}

fn main() {}
