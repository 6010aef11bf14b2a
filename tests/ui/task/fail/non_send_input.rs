use statepool::prelude::*;

use std::rc::Rc;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn get(_state: &mut Counter, x: Rc<u64>) -> u64 {
    *x
}

fn main() {}
