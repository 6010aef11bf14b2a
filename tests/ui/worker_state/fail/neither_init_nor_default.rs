use statepool::prelude::*;

#[worker_state]
struct Model {
    weights: Vec<f32>,
}

#[task]
fn predict(model: &Model, x: f32) -> f32 {
    model.weights.iter().map(|w| w * x).sum()
}

fn main() {}
