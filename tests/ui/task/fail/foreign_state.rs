use statepool::prelude::*;

#[task]
fn add(state: &mut u32, x: u32) -> u32 {
    *state += x;
    x
}

fn main() {}
