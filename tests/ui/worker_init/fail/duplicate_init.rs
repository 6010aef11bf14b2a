use statepool::prelude::*;

#[worker_state]
struct Model {
    weights: Vec<f32>,
}

#[worker_init]
fn load() -> Model {
    Model { weights: vec![1.0] }
}

#[worker_init]
fn load_again(ctx: &WorkerContext) -> Model {
    Model { weights: vec![ctx.worker_id() as f32] }
}

fn main() {}
