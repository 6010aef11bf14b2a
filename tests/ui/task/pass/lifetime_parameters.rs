use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

/// Lifetime parameters name the borrows of the inputs.
#[task]
fn count<'a>(_state: &mut Counter, line: &'a str, sep: &'a str) -> usize {
    line.split(sep).count()
}

fn main() {
    let lines = ["a,b".to_string(), "c".to_string()];
    let items = lines.iter().map(|l| (l.as_str(), ","));
    assert_eq!(CounterPool::new(2).map(items).unwrap(), [2, 1]);
}
