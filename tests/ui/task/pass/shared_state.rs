use statepool::prelude::*;

#[worker_state]
struct Table {
    squares: Vec<u64>,
}

#[worker_init]
fn build() -> Table {
    Table { squares: (0..100).map(|x| x * x).collect() }
}

#[task]
fn lookup(table: &Table, x: usize) -> u64 {
    table.squares[x]
}

fn main() {
    assert_eq!(TablePool::new(2).map([3, 9]).unwrap(), [9, 81]);
}
