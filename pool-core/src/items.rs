//! What the calls that run the state's `#[task]` take.

use crate::{BoxError, Task, WorkerContext, WorkerState};

/// Items that [`Pool::map`](crate::Pool::map) and
/// [`Pool::map_unordered`](crate::Pool::map_unordered) run the `#[task]` of
/// `S` on: every `IntoIterator` of the task's input whose iterator is `Send`
/// (ranges, vectors, any iterator), borrowing or not (the `&str` items of
/// `lines.iter().map(String::as_str)`, for a task over `&str`). Implemented
/// for all such types and no others, so that a state without a `#[task]`,
/// or items that are not its input, read as such in the compiler's error.
///
/// `map` turns the items into their iterator and runs
/// [`Task::run`](crate::Task::run) on each item (through this trait's
/// hidden items), exactly as `map_with` runs a closure.
///
/// ```
/// # include!("../doc/echo.rs");
/// # fn main() {
/// use pool_core::{Pool, TaskItems};
///
/// fn total<I: TaskItems<Echo, Output = u64>>(pool: &mut Pool<Echo>, items: I) -> u64 {
///     pool.map(items).unwrap().into_iter().sum()
/// }
/// let mut pool = Pool::<Echo>::new(2);
/// assert_eq!(total(&mut pool, 0..4), 6);
/// assert_eq!(total(&mut pool, vec![5, 5]), 10);
/// # }
/// ```
pub trait TaskItems<S: WorkerState>: Sized {
    /// The task's output.
    type Output: Send;

    /// The items' iterator.
    #[doc(hidden)]
    type __Iter: Iterator<Item: Send> + Send;

    #[doc(hidden)]
    fn __into_iter(self) -> Self::__Iter;

    /// Runs the task on one item.
    #[doc(hidden)]
    fn __run(
        state: &mut S,
        item: <Self::__Iter as Iterator>::Item,
        ctx: &WorkerContext<S::Shared>,
    ) -> Result<Self::Output, BoxError>;
}

// `'a` is the items' borrow: it names no associated type of the impl, so it
// is free to be whatever the items borrow for.
impl<'a, S, I> TaskItems<S> for I
where
    S: Task,
    I: IntoIterator<Item = S::Input<'a>>,
    I::IntoIter: Send,
{
    type Output = S::Output;
    type __Iter = I::IntoIter;

    #[inline]
    fn __into_iter(self) -> I::IntoIter {
        self.into_iter()
    }

    #[inline]
    fn __run(
        state: &mut S,
        item: S::Input<'a>,
        ctx: &WorkerContext<S::Shared>,
    ) -> Result<S::Output, BoxError> {
        state.run(item, ctx)
    }
}
