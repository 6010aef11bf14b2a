use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn len(_state: &mut Counter, text: &str) -> usize {
    text.len()
}

fn main() {
    let mut pool = CounterPool::new(2);
    let _lens: Vec<_> = pool.imap(["one", "two"]).collect();
}
