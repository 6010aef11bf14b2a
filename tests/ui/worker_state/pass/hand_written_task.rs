use statepool::prelude::*;

use statepool::{BoxError, OwnedInput, Task};

/// `#[worker_state]` and hand-written trait impls mix.
#[worker_state]
#[derive(Default)]
struct Echo;

impl Task for Echo {
    type Input<'a> = u8;
    type Output = u8;
    type InputKind = OwnedInput;
    fn run(&mut self, x: u8, _: &WorkerContext) -> Result<u8, BoxError> {
        Ok(x)
    }
}

fn main() {
    assert_eq!(EchoPool::new(1).map([7, 8]).unwrap(), [7, 8]);
    assert_eq!(EchoPool::new(1).imap([9]).next().unwrap().unwrap(), 9);
}
