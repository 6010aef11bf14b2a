use statepool::prelude::*;

#[worker_state]
struct Model {
    weights: Vec<f64>,
}

#[worker_init]
fn load() -> Model {
    Model { weights: vec![0.5; 8] }
}

#[task]
fn predict(model: &mut Model, x: f64) -> f64 {
    model.weights.iter().map(|w| w * x).sum()
}

fn main() {
    assert_eq!(ModelPool::new(2).map([1.0, 2.0]).unwrap(), [4.0, 8.0]);
    assert_eq!(load().weights.len(), 8);
}
