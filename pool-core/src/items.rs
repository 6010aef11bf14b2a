//! What the calls that run the state's `#[task]` take.

use crate::{Pool, PoolError, Task, WorkerState};

/// Items that [`Pool::map`] and [`Pool::map_unordered`] run the `#[task]` of
/// `S` on: every `IntoIterator` of the task's input whose iterator is `Send`
/// (ranges, vectors, any iterator). Implemented for all such types and no
/// others, so that a state without a `#[task]`, or items that are not its
/// input, read as such in the compiler's error.
///
/// ```
/// # use pool_core::{BoxError, ExitValue, Pool, Task, TaskItems, WorkerContext, WorkerState};
/// # struct Echo;
/// # impl WorkerState for Echo {
/// #     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Echo) }
/// #     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
/// # }
/// # impl Task for Echo {
/// #     type Input = u64;
/// #     type Output = u64;
/// #     fn run(&mut self, x: u64) -> Result<u64, BoxError> { Ok(x) }
/// # }
/// fn total<I: TaskItems<Echo, Output = u64>>(pool: &mut Pool<Echo>, items: I) -> u64 {
///     pool.map(items).unwrap().into_iter().sum()
/// }
/// let mut pool = Pool::<Echo>::new(2);
/// assert_eq!(total(&mut pool, 0..4), 6);
/// assert_eq!(total(&mut pool, vec![5, 5]), 10);
/// ```
pub trait TaskItems<S: WorkerState>: Sized {
    /// The task's output.
    type Output;

    #[doc(hidden)]
    fn __map_on(self, pool: &mut Pool<S>, ordered: bool) -> Result<Vec<Self::Output>, PoolError>;
}

impl<S, I> TaskItems<S> for I
where
    S: Task,
    I: IntoIterator<Item = S::Input>,
    I::IntoIter: Send,
{
    type Output = S::Output;

    fn __map_on(self, pool: &mut Pool<S>, ordered: bool) -> Result<Vec<S::Output>, PoolError> {
        pool.map_task(self, ordered)
    }
}
