//! What the calls that run the state's `#[task]` take.

use crate::{BoxError, InputKind, Task, WorkerContext, WorkerState};

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
    type Output: Send + 'static;

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

    /// Whether the task's input borrows nothing.
    #[doc(hidden)]
    const __OWNED: bool;

    /// The task's input, owned (`'static`).
    #[doc(hidden)]
    type __Owned: Send + 'static;

    /// An item as owned, where the task's input borrows nothing.
    #[doc(hidden)]
    fn __owned(item: <Self::__Iter as Iterator>::Item) -> Option<Self::__Owned>;

    /// Runs the task on one owned item.
    #[doc(hidden)]
    fn __run_owned(
        state: &mut S,
        item: Self::__Owned,
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

    const __OWNED: bool = <S::InputKind as InputKind>::OWNED;

    type __Owned = S::Input<'static>;

    #[inline]
    fn __owned(item: S::Input<'a>) -> Option<S::Input<'static>> {
        S::into_static(item)
    }

    #[inline]
    fn __run_owned(
        state: &mut S,
        item: S::Input<'static>,
        ctx: &WorkerContext<S::Shared>,
    ) -> Result<S::Output, BoxError> {
        state.run(item, ctx)
    }
}
