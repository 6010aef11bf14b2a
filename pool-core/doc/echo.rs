// A state for the examples of `pool-core`'s docs: hands back each item.
use pool_core::{BoxError, ExitValue, OwnedInput, Task, WorkerContext, WorkerState};

/// Hands back each item.
struct Echo;

impl WorkerState for Echo {
    type Shared = ();
    fn start_life(_: &WorkerContext) -> Result<Self, BoxError> {
        Ok(Echo)
    }
    fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
        Ok(None)
    }
}

impl Task for Echo {
    type Input<'a> = u64;
    type InputKind = OwnedInput;
    type Output = u64;
    fn run(&mut self, x: u64, _: &WorkerContext) -> Result<u64, BoxError> {
        Ok(x)
    }
    fn into_static(x: u64) -> Option<u64> {
        Some(x)
    }
}
