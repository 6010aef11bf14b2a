use std::sync::Arc;

use statepool::prelude::*;

struct Model {
    path: String,
}

#[worker_state(shared = Model)]
struct Loaded {
    name: String,
}

#[worker_init]
fn load(ctx: &WorkerContext<Model>) -> Loaded {
    Loaded { name: ctx.shared().path.clone() }
}

#[task]
fn name(state: &Loaded, _x: u8) -> String {
    state.name.clone()
}

#[worker_exit]
fn close(state: Loaded, ctx: &WorkerContext<Model>) -> bool {
    state.name == ctx.shared().path
}

fn main() {
    let mut a = LoadedPool::with_shared(2, Model { path: "a.bin".into() });
    let shared = Arc::new(Model { path: "b.bin".into() });
    let mut b = LoadedPool::with_shared(2, Arc::clone(&shared));
    assert_eq!(a.map([0, 1]).unwrap(), ["a.bin", "a.bin"]);
    assert_eq!(b.apply(0).unwrap(), "b.bin");
    assert!(b.exit_results().into_iter().all(|same| same));
}
