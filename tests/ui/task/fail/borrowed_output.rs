use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Names {
    names: Vec<String>,
}

#[task]
fn name(state: &Names, i: usize) -> &str {
    &state.names[i]
}

fn main() {
    let mut pool = NamesPool::new(2);
    let _: Vec<String> = pool.map(0..4).unwrap();
}
