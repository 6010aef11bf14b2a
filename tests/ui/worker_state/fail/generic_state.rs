use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Buffer<T> {
    items: Vec<T>,
}

fn main() {}
