use statepool::prelude::*;

#[worker_state]
struct Shard {
    id: usize,
    of: usize,
}

#[worker_init]
fn open(ctx: &WorkerContext) -> Shard {
    Shard { id: ctx.worker_id(), of: ctx.n_workers() }
}

#[task]
fn whoami(shard: &Shard, _x: u8) -> (usize, usize) {
    (shard.id, shard.of)
}

fn main() {
    for (id, of) in ShardPool::new(3).map(0..30).unwrap() {
        assert!(id < 3);
        assert_eq!(of, 3);
    }
}
