use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn len(_state: &mut Counter, text: &str) -> usize {
    text.len()
}

fn main() {}
