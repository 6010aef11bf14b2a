use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Log {
    lines: Vec<String>,
}

/// Patterns in parameters and a unit output.
#[task]
fn push(Log { lines }: &mut Log, (level, text): (u8, &'static str)) {
    lines.push(format!("{level}: {text}"));
}

fn main() {
    let out: Vec<()> = LogPool::new(2).map([(1, "a"), (2, "b")]).unwrap();
    assert_eq!(out.len(), 2);
}
