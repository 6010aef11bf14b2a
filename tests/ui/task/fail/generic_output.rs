use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn parse<T: std::str::FromStr>(_state: &mut Counter, text: String) -> Option<T> {
    text.parse().ok()
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _: Vec<Option<u64>> = pool.map(vec![String::from("1")]).unwrap();
}
