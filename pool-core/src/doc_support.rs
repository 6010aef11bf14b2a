//! A minimal state for the documentation's examples.

use crate::{BoxError, ExitValue, Task, WorkerContext, WorkerState};

/// A state whose task returns its input.
#[derive(Debug, Default)]
pub struct Echo;

impl WorkerState for Echo {
    fn start_life(_: &WorkerContext) -> Result<Self, BoxError> {
        Ok(Echo)
    }
    fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
        Ok(None)
    }
}

impl Task for Echo {
    type Input = u64;
    type Output = u64;
    fn run(&mut self, x: u64) -> Result<u64, BoxError> {
        Ok(x)
    }
}
