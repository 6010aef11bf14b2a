use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
enum Phase {
    #[default]
    Cold,
    Warm(u32),
}

#[task]
fn step(phase: &mut Phase, x: u32) -> u32 {
    let seen = match phase {
        Phase::Cold => 0,
        Phase::Warm(n) => *n,
    };
    *phase = Phase::Warm(seen + 1);
    x
}

fn main() {
    assert_eq!(PhasePool::new(2).map(0..3).unwrap(), [0, 1, 2]);
}
