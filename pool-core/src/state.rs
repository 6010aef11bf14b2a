//! The traits a worker state implements. `#[worker_state]`, `#[worker_init]`,
//! `#[task]` and `#[worker_exit]` generate them; they can also be written by hand.

use std::any::Any;
use std::fmt;

use crate::{BoxError, WorkerContext};

/// A type that lives on a worker thread, one value per worker life.
///
/// `#[worker_state]` implements it, choosing `#[worker_init]` (else
/// `Default`) to start a life and `#[worker_exit]` (else nothing) to end one.
/// A state need not be `Send`: it is created, used and dropped on its worker's
/// thread.
///
/// [`Shared`](WorkerState::Shared) is the type of the pool's shared object,
/// which every hook reads through its [`WorkerContext`]; `()` for a pool
/// built with [`Pool::new`](crate::Pool::new).
///
/// Written by hand:
/// ```
/// use pool_core::{BoxError, ExitValue, OwnedInput, Pool, Task, WorkerContext, WorkerState};
///
/// #[derive(Default)]
/// struct Doubler;
///
/// impl WorkerState for Doubler {
///     type Shared = ();
///     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> {
///         Ok(Doubler)
///     }
///     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
///         Ok(None) // no exit hook
///     }
/// }
///
/// impl Task for Doubler {
///     type Input<'a> = u32;
///     type InputKind = OwnedInput;
///     type Output = u32;
///     fn run(&mut self, x: u32, _: &WorkerContext) -> Result<u32, BoxError> {
///         Ok(x * 2)
///     }
/// }
///
/// let mut pool = Pool::<Doubler>::new(2);
/// assert_eq!(pool.map(1..4).unwrap(), vec![2, 4, 6]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a worker state",
    label = "not a worker state",
    note = "add `#[worker_state]` to the definition of `{Self}`"
)]
pub trait WorkerState: Sized + 'static {
    /// The type of the pool's shared object (`#[worker_state(shared = T)]`),
    /// which hooks read with [`WorkerContext::shared`]; `()` for none.
    type Shared: Send + Sync + 'static;

    /// Starts a worker life: builds the state on the worker's thread.
    fn start_life(ctx: &WorkerContext<Self::Shared>) -> Result<Self, BoxError>;

    /// Ends a worker life, returning the exit hook's output (wrapped in an
    /// [`ExitValue`] of the type [`WorkerExit::Output`]) or `None` when the
    /// state has no exit hook.
    fn end_life(self, ctx: &WorkerContext<Self::Shared>) -> Result<Option<ExitValue>, BoxError>;

    /// Ends a worker life without taking the state, where the exit hook only
    /// borrows it: `Some` with what [`end_life`](WorkerState::end_life) would
    /// return, and the pool drops the state itself once it has kept the
    /// hook's output, so that a `Drop` of the state that panics cannot take
    /// the output with it (the panic is a
    /// [`PanicSite::DropState`](crate::PanicSite::DropState)). `None`, the
    /// default, where the hook takes the state by value: the pool calls
    /// `end_life` instead.
    ///
    /// `#[worker_state]` implements it for exit hooks taking `&mut State`
    /// or `&State`, and for states without exit hook.
    ///
    /// ```
    /// use pool_core::{BoxError, ExitValue, OwnedInput, Pool, Task, WorkerContext, WorkerState};
    ///
    /// struct Tally(u64);
    ///
    /// impl WorkerState for Tally {
    ///     type Shared = ();
    ///     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Tally(0)) }
    ///     fn end_life(mut self, ctx: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
    ///         self.end_life_in_place(ctx).expect("the exit borrows the state")
    ///     }
    ///     fn end_life_in_place(
    ///         &mut self,
    ///         _: &WorkerContext,
    ///     ) -> Option<Result<Option<ExitValue>, BoxError>> {
    ///         Some(Ok(Some(ExitValue::new(self.0))))
    ///     }
    /// }
    ///
    /// impl Drop for Tally {
    ///     fn drop(&mut self) {
    ///         assert!(self.0 < 100, "a tally of {} cannot be dropped", self.0);
    ///     }
    /// }
    /// # impl Task for Tally {
    /// #     type Input<'a> = u64;
    /// #     type InputKind = OwnedInput;
    /// #     type Output = ();
    /// #     fn run(&mut self, x: u64, _: &WorkerContext) -> Result<(), BoxError> {
    /// #         self.0 += x;
    /// #         Ok(())
    /// #     }
    /// # }
    /// # impl pool_core::WorkerExit for Tally {
    /// #     type Output = u64;
    /// #     fn exit(self, _: &WorkerContext) -> Result<u64, BoxError> { Ok(self.0) }
    /// # }
    ///
    /// let mut pool = Pool::<Tally>::new(1);
    /// let err = pool.map([60, 60]).unwrap_err();
    /// assert!(err.to_string().starts_with("dropping the state of worker 0 panicked"));
    /// assert_eq!(pool.exit_results(), [120]); // the exit's output was kept
    /// ```
    #[allow(clippy::type_complexity)]
    fn end_life_in_place(
        &mut self,
        ctx: &WorkerContext<Self::Shared>,
    ) -> Option<Result<Option<ExitValue>, BoxError>> {
        let _ = ctx;
        None
    }

    /// How a cluster ships this state's exit outputs between processes
    /// (`statepool::cluster`): `Some` where the state has an exit hook
    /// whose output is `serde::Serialize` and `serde::Deserialize`, `None`
    /// otherwise (the default). `#[worker_state]` implements it; a state
    /// written by hand whose exit outputs should reach
    /// `ClusterPool::exit_results` returns
    /// `Some(ExitSerializer::of::<Output>())` (feature `serde`).
    ///
    /// A single-machine [`Pool`](crate::Pool) never calls it.
    fn exit_serializer() -> Option<ExitSerializer> {
        None
    }
}

/// How to serialize and deserialize a state's exit output while it is an
/// [`ExitValue`]: what a cluster needs to ship exit outputs of a state it
/// knows only as a [`WorkerState`]. Built by `ExitSerializer::of`
/// (feature `serde`), returned by [`WorkerState::exit_serializer`].
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use pool_core::{ExitSerializer, ExitValue};
///
/// let ser = ExitSerializer::of::<Vec<u32>>();
/// let json = ser.serialize(&ExitValue::new(vec![1u32, 2]), serde_json::value::Serializer).unwrap();
/// assert_eq!(json, serde_json::json!([1, 2]));
/// let back = ser.deserialize(json).unwrap().downcast::<Vec<u32>>().unwrap();
/// assert_eq!(back, [1, 2]);
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct ExitSerializer {
    #[cfg(feature = "serde")]
    view: for<'a> fn(&'a ExitValue) -> Option<&'a dyn erased_serde::Serialize>,
    #[cfg(feature = "serde")]
    decode: fn(&mut dyn erased_serde::Deserializer<'_>) -> Result<ExitValue, erased_serde::Error>,
    #[cfg(feature = "serde")]
    type_name: &'static str,
    #[cfg(not(feature = "serde"))]
    _private: (),
}

impl fmt::Debug for ExitSerializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ExitSerializer");
        #[cfg(feature = "serde")]
        d.field("type", &self.type_name);
        d.finish_non_exhaustive()
    }
}

#[cfg(feature = "serde")]
impl ExitSerializer {
    /// The serializer of exit outputs of type `T`.
    pub fn of<T>() -> ExitSerializer
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    {
        ExitSerializer {
            view: |value| {
                value
                    .0
                    .downcast_ref::<T>()
                    .map(|v| v as &dyn erased_serde::Serialize)
            },
            decode: |de| erased_serde::deserialize::<T>(de).map(ExitValue::new),
            type_name: std::any::type_name::<T>(),
        }
    }

    /// Serializes `value` with `serializer`.
    ///
    /// # Errors
    /// The serializer's error, or a custom one if `value` does not hold
    /// this serializer's type.
    pub fn serialize<S: serde::Serializer>(
        &self,
        value: &ExitValue,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match (self.view)(value) {
            Some(view) => erased_serde::serialize(view, serializer),
            None => Err(serde::ser::Error::custom(format_args!(
                "the exit value is not a `{}`",
                self.type_name
            ))),
        }
    }

    /// Deserializes an exit output of this serializer's type from
    /// `deserializer`.
    ///
    /// # Errors
    /// The deserializer's error.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        &self,
        deserializer: D,
    ) -> Result<ExitValue, D::Error> {
        let mut erased = <dyn erased_serde::Deserializer>::erase(deserializer);
        (self.decode)(&mut erased).map_err(serde::de::Error::custom)
    }
}

/// How a state starts a worker life; implemented by `#[worker_init]`.
///
/// ```
/// use pool_core::{BoxError, ExitValue, WorkerContext, WorkerInit, WorkerState};
///
/// struct Model { weights: Vec<f32> }
///
/// impl WorkerState for Model {
///     type Shared = f32; // the scale every worker applies
///     fn start_life(ctx: &WorkerContext<f32>) -> Result<Self, BoxError> {
///         Self::init(ctx)
///     }
///     fn end_life(self, _: &WorkerContext<f32>) -> Result<Option<ExitValue>, BoxError> {
///         Ok(None)
///     }
/// }
///
/// impl WorkerInit for Model {
///     fn init(ctx: &WorkerContext<f32>) -> Result<Self, BoxError> {
///         Ok(Model { weights: vec![ctx.worker_id() as f32 * ctx.shared(); 4] })
///     }
/// }
///
/// let model = Model::init(&WorkerContext::with_shared(3, 4, 0.5)).unwrap();
/// assert_eq!(model.weights[0], 1.5);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `#[worker_init]` hook",
    label = "no init hook",
    note = "add a `#[worker_init]` function returning `{Self}`, or derive `Default` for `{Self}`"
)]
pub trait WorkerInit: WorkerState {
    /// Builds the state of a new worker life.
    fn init(ctx: &WorkerContext<Self::Shared>) -> Result<Self, BoxError>;
}

/// The task a state's workers run; implemented by `#[task]`.
///
/// See [`WorkerState`] for a hand-written example.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `#[task]`",
    label = "no task for this state",
    note = "add a `#[task]` function taking `&mut {Self}` (or `&{Self}`) and an input, or use `map_with`"
)]
pub trait Task: WorkerState {
    /// What one task takes (a tuple for several inputs). It may borrow for
    /// `'a`: a task over `&'a str` runs on `map(lines.iter().map(String::as_str))`,
    /// and blocking calls return only once every worker let go of their
    /// items. An input that borrows nothing ignores `'a` (`type Input<'a> =
    /// u64;`).
    type Input<'a>: Send;
    /// What one task returns.
    type Output: Send + 'static;
    /// [`OwnedInput`] where the input borrows nothing, so that streaming
    /// calls can run the task ([`StreamTask`]); [`BorrowedInput`] where it
    /// borrows. `#[task]` sets it.
    type InputKind: InputKind;

    /// Runs one task on this worker's state. An `Err` stops the call and is
    /// returned as [`PoolError::Task`](crate::PoolError::Task). `ctx` is the
    /// worker's context, as its hooks see it.
    fn run(
        &mut self,
        input: Self::Input<'_>,
        ctx: &WorkerContext<Self::Shared>,
    ) -> Result<Self::Output, BoxError>;

    /// `input` as an `Input<'static>`, where the task's input borrows
    /// nothing: `Some(input)`, the same value. Calls that may leave a task
    /// running after they return (a pool with a
    /// [`task_timeout`](crate::Pool::task_timeout)) run blocking calls
    /// only on such inputs. `#[task]` writes it for a task whose input
    /// borrows nothing; the default gives `None`, and a hand-written task
    /// over owned inputs writes `Some(input)`, which compiles only where
    /// the input indeed borrows nothing.
    fn into_static(input: Self::Input<'_>) -> Option<Self::Input<'static>> {
        drop(input);
        None
    }
}

/// A [`Task`] whose input borrows nothing (its
/// [`InputKind`](Task::InputKind) is [`OwnedInput`]), which streaming calls
/// ([`Pool::imap`](crate::Pool::imap),
/// [`Pool::imap_unordered`](crate::Pool::imap_unordered)) can run: their
/// items outlive the statement that starts them, so they are `'static`.
/// Implemented for every such task.
///
/// ```
/// # include!("../doc/echo.rs");
/// # fn main() {
/// use pool_core::{Pool, StreamTask};
///
/// fn first_three<S: StreamTask<Input<'static> = u64>>(pool: &mut Pool<S>) -> usize {
///     pool.imap(0u64..).take(3).count()
/// }
/// assert_eq!(first_three(&mut Pool::<Echo>::new(2)), 3);
/// # }
/// ```
pub trait StreamTask: Task {}

impl<S: Task> StreamTask for S where S::InputKind: Streamable {}

/// Whether a task's input borrows: [`OwnedInput`] or [`BorrowedInput`].
pub trait InputKind: sealed::Sealed {
    /// Whether the input borrows nothing.
    #[doc(hidden)]
    const OWNED: bool;
}

/// The [`InputKind`] of a task whose input borrows nothing (`u64`,
/// `String`, `&'static str`).
#[derive(Debug, Clone, Copy)]
pub struct OwnedInput;

/// The [`InputKind`] of a task whose input borrows (`&str`, `&Item`): it
/// runs in blocking calls only.
#[derive(Debug, Clone, Copy)]
pub struct BorrowedInput;

impl InputKind for OwnedInput {
    const OWNED: bool = true;
}
impl InputKind for BorrowedInput {
    const OWNED: bool = false;
}

/// The input kinds streaming calls accept: [`OwnedInput`]. The compiler
/// names it in the error of `imap` over a task whose input borrows.
#[diagnostic::on_unimplemented(
    message = "this `#[task]` takes a borrowed input, which a streaming call cannot run",
    label = "the items of a streaming call are `'static`",
    note = "a blocking call borrows: use `map` or `map_unordered`; or stream owned items through a closure, `imap_borrowed_with(|state, line: String| ..., text.lines().map(String::from))` (or `imap_with` for an input that borrows nothing)"
)]
pub trait Streamable: InputKind {}

impl Streamable for OwnedInput {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::OwnedInput {}
    impl Sealed for super::BorrowedInput {}
}

/// How a state ends a worker life; implemented by `#[worker_exit]`.
///
/// ```
/// use pool_core::{BoxError, WorkerContext, WorkerExit, WorkerState, ExitValue};
///
/// #[derive(Default)]
/// struct Sum(u64);
///
/// impl WorkerState for Sum {
///     type Shared = ();
///     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Sum(0)) }
///     fn end_life(self, ctx: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
///         Ok(Some(ExitValue::new(<Self as WorkerExit>::exit(self, ctx)?)))
///     }
/// }
///
/// impl WorkerExit for Sum {
///     type Output = u64;
///     fn exit(self, _: &WorkerContext) -> Result<u64, BoxError> { Ok(self.0) }
/// }
///
/// assert_eq!(Sum(5).exit(&WorkerContext::new(0, 1)).unwrap(), 5);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `#[worker_exit]` hook",
    label = "no exit hook",
    note = "add a `#[worker_exit]` function taking `&mut {Self}` or `{Self}`"
)]
pub trait WorkerExit: WorkerState {
    /// What the exit hook returns; collected by `Pool::exit_results`.
    type Output: Send + 'static;

    /// Ends a worker life.
    fn exit(self, ctx: &WorkerContext<Self::Shared>) -> Result<Self::Output, BoxError>;

    /// Ends a worker life without taking the state, where the hook only
    /// borrows it: `Some` with what [`exit`](WorkerExit::exit) would return,
    /// leaving the state to be dropped by the caller; `None`, the default,
    /// where the hook takes the state by value. `#[worker_exit]` implements
    /// it for hooks taking `&mut State` or `&State`, so that the pool keeps
    /// the hook's output even if the state's `Drop` panics afterwards (see
    /// [`WorkerState::end_life_in_place`]).
    fn exit_in_place(
        &mut self,
        ctx: &WorkerContext<Self::Shared>,
    ) -> Option<Result<Self::Output, BoxError>> {
        let _ = ctx;
        None
    }
}

/// The output of an exit hook, on its way from the worker to
/// `Pool::exit_results`.
pub struct ExitValue(Box<dyn Any + Send>);

impl ExitValue {
    /// Wraps an exit hook's output.
    pub fn new<T: Send + 'static>(value: T) -> Self {
        ExitValue(Box::new(value))
    }

    /// Unwraps the output, or gives the value back if it is of another type.
    ///
    /// ```
    /// use pool_core::ExitValue;
    ///
    /// assert_eq!(ExitValue::new(7u8).downcast::<u8>().ok(), Some(7));
    /// assert!(ExitValue::new(7u8).downcast::<u16>().is_err());
    /// ```
    pub fn downcast<T: 'static>(self) -> Result<T, ExitValue> {
        self.0.downcast::<T>().map(|v| *v).map_err(ExitValue)
    }
}

impl fmt::Debug for ExitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExitValue").finish_non_exhaustive()
    }
}

/// A state without a shared object (`type Shared = ()`), whose pool
/// [`Pool::new`](crate::Pool::new) builds. Implemented for every such state;
/// a state with `#[worker_state(shared = T)]` has its pool built by
/// [`Pool::with_shared`](crate::Pool::with_shared) instead. Generic code
/// that builds pools with `new` bounds its state with it.
///
/// ```
/// # include!("../doc/echo.rs");
/// # fn main() {
/// use pool_core::{NoShared, Pool};
///
/// fn two_workers<S: NoShared>() -> Pool<S> {
///     Pool::new(2)
/// }
/// assert_eq!(two_workers::<Echo>().n_workers(), 2);
/// # }
/// ```
pub trait NoShared: WorkerState {
    /// The shared object of a pool built by `new`: `()`.
    #[doc(hidden)]
    fn __no_shared() -> Self::Shared;
}

impl<S: WorkerState> NoShared for S
where
    S::Shared: UnitShared,
{
    fn __no_shared() -> S::Shared {
        UnitShared::unit()
    }
}

/// The shared type of a state without a shared object: `()`. The compiler
/// names it in the error of `Pool::new` on a state with one.
#[diagnostic::on_unimplemented(
    message = "this state has a shared object, of type `{Self}`: its pool is built with `with_shared(n_workers, value)`",
    label = "`new` builds the pool of a state without a shared object",
    note = "a state with `#[worker_state(shared = {Self})]` gets its `{Self}` from the pool: `with_shared(n_workers, value)` takes a `{Self}` or an `Arc<{Self}>`"
)]
pub trait UnitShared {
    /// `()`.
    #[doc(hidden)]
    fn unit() -> Self;
}

impl UnitShared for () {
    fn unit() -> Self {}
}
