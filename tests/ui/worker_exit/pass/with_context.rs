use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Tally {
    n: usize,
}

#[task]
fn tick(tally: &mut Tally, _x: u8) {
    tally.n += 1;
}

#[worker_exit]
fn by_ref(tally: &mut Tally, ctx: &WorkerContext) -> (usize, usize) {
    (ctx.worker_id(), tally.n)
}

#[worker_state]
#[derive(Default)]
struct Owned;

#[task]
fn nothing(_owned: &Owned, _x: u8) {}

#[worker_exit]
fn by_value(_owned: Owned, ctx: &WorkerContext) -> usize {
    ctx.worker_id()
}

fn main() {
    let mut pool = TallyPool::new(3);
    pool.map(0..30).unwrap();
    let exits = pool.exit_results();
    let mut ids: Vec<usize> = exits.iter().map(|(id, _)| *id).collect();
    ids.sort();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(exits.iter().map(|(_, n)| n).sum::<usize>(), 30);

    let mut pool = OwnedPool::new(2);
    pool.map([0]).unwrap();
    let mut ids = pool.exit_results();
    ids.sort();
    assert_eq!(ids, [0, 1]);
}
