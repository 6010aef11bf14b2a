use statepool::prelude::*;

#[worker_state(shared = 42, pool = Models)]
#[derive(Default)]
struct Model;

fn main() {
    let _pool = Models::with_shared(2, 42);
}
