use statepool::prelude::*;

use statepool::{BoxError, Task};

/// `#[worker_state]` and hand-written trait impls mix.
#[worker_state]
#[derive(Default)]
struct Echo;

impl Task for Echo {
    type Input = u8;
    type Output = u8;
    fn run(&mut self, x: u8) -> Result<u8, BoxError> {
        Ok(x)
    }
}

fn main() {
    assert_eq!(EchoPool::new(1).map([7, 8]).unwrap(), [7, 8]);
}
