use statepool::prelude::*;

#[worker_state]
struct Model {
    weights: Vec<f32>,
}

#[worker_init]
fn load(model: &mut Model, ctx: &WorkerContext, size: usize) {
    model.weights.resize(size + ctx.worker_id(), 0.0);
}

#[task]
fn score(model: &Model, x: f32) -> f32 {
    model.weights.iter().sum::<f32>() * x
}

fn main() {
    let mut pool = ModelPool::new(2);
    let _: Vec<f32> = pool.map(vec![1.0, 2.0]).unwrap();
}
