use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Slot {
    id: Option<usize>,
}

#[worker_init]
fn claim(slot: &mut Slot, ctx: &WorkerContext) {
    slot.id = Some(ctx.worker_id());
}

#[task]
fn id(slot: &Slot, _x: u8) -> Option<usize> {
    slot.id
}

fn main() {
    assert!(SlotPool::new(2).map(0..8).unwrap().iter().all(|id| id.is_some_and(|id| id < 2)));
}
