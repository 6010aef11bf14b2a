use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Names {
    names: Vec<String>,
}

#[worker_exit]
fn report(state: &Names) -> &[String] {
    &state.names
}

fn main() {
    let mut pool = NamesPool::new(2);
    pool.join().unwrap();
    let _: Vec<Vec<String>> = pool.exit_results();
}
