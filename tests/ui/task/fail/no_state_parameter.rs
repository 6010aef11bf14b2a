use statepool::prelude::*;

#[task]
fn tick() -> u64 {
    1
}

fn main() {}
