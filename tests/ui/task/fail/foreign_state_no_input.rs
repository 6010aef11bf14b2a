use statepool::prelude::*;

#[task]
fn bump(state: &mut u32) -> u32 {
    *state += 1;
    *state
}

fn main() {}
