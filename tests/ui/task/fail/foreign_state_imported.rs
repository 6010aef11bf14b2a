use statepool::prelude::*;

use std::time::Duration;

#[task]
fn wait(state: &mut Duration, ms: u64) -> u64 {
    *state += Duration::from_millis(ms);
    ms
}

fn main() {}
