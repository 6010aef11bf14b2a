//! Stateful worker pools: each worker owns a state for the length of its life,
//! built once by `#[worker_init]`, used by every `#[task]` it runs and handed to
//! `#[worker_exit]` when the life ends.
//!
//! ```
//! use statepool::prelude::*;
//!
//! #[worker_state] // generates `CounterPool`
//! #[derive(Default)]
//! struct Counter {
//!     local_sum: u64,
//! }
//!
//! #[task]
//! fn add(state: &mut Counter, x: u64) -> u64 {
//!     state.local_sum += x;
//!     x * 2
//! }
//!
//! #[worker_exit]
//! fn report(state: &mut Counter) -> u64 {
//!     state.local_sum
//! }
//!
//! let mut pool = CounterPool::new(4).keep_alive();
//! let doubled: Vec<u64> = pool.map(0..100)?; // results in input order
//! assert_eq!(doubled[99], 198);
//! pool.join()?; // stops the workers, running `#[worker_exit]` on each
//! let sums: Vec<u64> = pool.exit_results(); // one per finished worker life
//! assert_eq!(sums.iter().sum::<u64>(), 4950);
//! # Ok::<(), PoolError>(())
//! ```
//!
//! The four attributes expand independently: they cooperate through trait
//! impls on the state type ([`WorkerState`], [`WorkerInit`], [`Task`],
//! [`WorkerExit`]), which can also be written by hand. Every signature is
//! checked at compile time, with errors on the offending token.

/// The progress bar crate that [`Pool::progress_bar_with`] takes bars of
/// (feature `progress`).
#[cfg(feature = "progress")]
pub use pool_core::indicatif;
pub use pool_core::{Activity, Insights, Segment, SlowTask, Times, WorkerInsights};

/// The same states and tasks on the workers of a timely-dataflow cluster,
/// across processes and hosts (cargo feature `cluster`, off by default):
/// see [`ClusterPool`](cluster::ClusterPool).
#[cfg(feature = "cluster")]
pub use pool_cluster as cluster;
pub use pool_core::{
    BorrowedInput, BoxError, ExitSerializer, ExitValue, Imap, InputKind, IntoShared, NoShared,
    OwnedInput, PanicPayload, PanicSite, Phase, Pool, PoolError, PoolHandle, StreamTask,
    Streamable, Task, TaskHandle, TaskItems, UnitShared, WorkerContext, WorkerExit, WorkerInit,
    WorkerState,
};

/// Makes a struct or enum a worker state and names its pool.
///
/// ```
/// use statepool::prelude::*;
///
/// #[worker_state] // `CounterPool`; `#[worker_state(pool = Name)]` picks the name
/// #[derive(Default)] // no `#[worker_init]`: workers start from `Counter::default()`
/// struct Counter {
///     seen: u64,
/// }
///
/// #[task]
/// fn count(state: &mut Counter, x: u64) -> u64 {
///     state.seen += 1;
///     x
/// }
///
/// let mut pool = CounterPool::new(2);
/// assert_eq!(pool.map(0..4)?, [0, 1, 2, 3]);
/// # Ok::<(), PoolError>(())
/// ```
///
/// A shared object reaches every hook through the context, and two pools
/// of one state can hold different ones:
///
/// ```
/// use statepool::prelude::*;
///
/// struct Greeting(String);
///
/// #[worker_state(shared = Greeting, pool = Greeters)]
/// #[derive(Default)]
/// struct Greeter;
///
/// #[task]
/// fn greet(_: &Greeter, name: &str, ctx: &WorkerContext<Greeting>) -> String {
///     format!("{}, {name}", ctx.shared().0)
/// }
///
/// let mut hello = Greeters::with_shared(2, Greeting("hello".into()));
/// let mut hi = Greeters::with_shared(2, Greeting("hi".into()));
/// assert_eq!(hello.apply("ada")?, "hello, ada");
/// assert_eq!(hi.map(["bob", "cy"])?, ["hi, bob", "hi, cy"]);
/// # Ok::<(), PoolError>(())
/// ```
///
/// # Signatures
///
pub use pool_macros::worker_state;

/// Builds each worker's state when its life starts, on the worker's thread.
///
/// ```
/// use statepool::prelude::*;
///
/// #[worker_state]
/// struct Model {
///     weights: Vec<f64>,
/// }
///
/// /// Runs once per worker life, on the worker that uses the model.
/// #[worker_init]
/// fn load() -> Model {
///     Model { weights: vec![1.0; 1024] }
/// }
///
/// #[task]
/// fn predict(model: &Model, x: f64) -> f64 {
///     model.weights.iter().map(|w| w * x).sum()
/// }
///
/// let mut pool = ModelPool::new(2).keep_alive();
/// assert_eq!(pool.map([1.0, 2.0])?, [1024.0, 2048.0]);
/// assert_eq!(pool.apply(0.5)?, 512.0); // same workers, same models
/// # Ok::<(), PoolError>(())
/// ```
///
/// A hook that can fail returns `Result<State, E>`; a hook taking
/// `&mut State` fills in `State::default()`:
///
/// ```
/// use statepool::prelude::*;
///
/// #[worker_state]
/// #[derive(Default)]
/// struct Buffer {
///     bytes: Vec<u8>,
/// }
///
/// #[worker_init]
/// fn reserve(state: &mut Buffer, ctx: &WorkerContext) -> std::io::Result<()> {
///     state.bytes.reserve(1 << (10 + ctx.worker_id()));
///     Ok(())
/// }
/// #[task]
/// fn len(state: &mut Buffer, n: usize) -> usize {
///     state.bytes.clear();
///     state.bytes.resize(n, 0);
///     state.bytes.len()
/// }
///
/// assert_eq!(BufferPool::new(2).map([3, 4])?, [3, 4]);
/// # Ok::<(), PoolError>(())
/// ```
///
/// # Signatures
///
pub use pool_macros::worker_init;

/// The state's task: what [`Pool::map`] and the other calls run.
///
/// ```
/// use statepool::prelude::*;
///
/// #[worker_state]
/// #[derive(Default)]
/// struct Parser {
///     parsed: usize,
/// }
///
/// /// Fallible: an `Err` is the call's `PoolError::Task`.
/// #[task]
/// fn parse(state: &mut Parser, text: String) -> Result<i64, std::num::ParseIntError> {
///     state.parsed += 1;
///     text.trim().parse()
/// }
///
/// let mut pool = ParserPool::new(2);
/// assert_eq!(pool.map(["1".to_string(), " 2".into()])?, [1, 2]);
/// let err = pool.map(["3".to_string(), "x".into()]).unwrap_err();
/// assert!(matches!(err, PoolError::Task { index: 1, .. }));
/// # Ok::<(), PoolError>(())
/// ```
///
/// Several inputs are mapped over tuples, and a task that only reads its
/// state takes `&State`:
///
/// ```
/// use statepool::prelude::*;
///
/// #[worker_state]
/// #[derive(Default)]
/// struct Scale;
///
/// #[task]
/// fn mul_add(_: &Scale, a: u32, b: u32) -> u32 {
///     a * b + 1
/// }
///
/// assert_eq!(ScalePool::new(2).map([(2, 3), (4, 5)])?, [7, 21]);
/// # Ok::<(), PoolError>(())
/// ```
///
/// Inputs may borrow from the caller in blocking calls, and a last
/// parameter `&WorkerContext` tells the task its worker:
///
/// ```
/// use statepool::prelude::*;
///
/// #[worker_state]
/// #[derive(Default)]
/// struct Lengths;
///
/// #[task]
/// fn len(_: &Lengths, line: &str, ctx: &WorkerContext) -> (usize, usize) {
///     (line.len(), ctx.worker_id())
/// }
///
/// let lines: Vec<String> = vec!["one".into(), "three".into()];
/// let out = LengthsPool::new(2).map(lines.iter().map(String::as_str))?;
/// assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), [3, 5]);
/// assert!(out.iter().all(|o| o.1 < 2));
/// # Ok::<(), PoolError>(())
/// ```
///
/// # Signatures
///
pub use pool_macros::task;

/// Ends each worker life; [`Pool::exit_results`] collects the outputs.
///
/// ```
/// use statepool::prelude::*;
///
/// #[worker_state]
/// #[derive(Default)]
/// struct Sum {
///     total: u64,
/// }
///
/// #[task]
/// fn add(state: &mut Sum, x: u64) {
///     state.total += x;
/// }
///
/// /// Takes the state by value (or `&mut Sum`), and may ask for the context.
/// #[worker_exit]
/// fn report(state: Sum, ctx: &WorkerContext) -> (usize, u64) {
///     (ctx.worker_id(), state.total)
/// }
///
/// let mut pool = SumPool::new(3);
/// pool.map(1..=100)?; // without keep_alive, the workers end with the call
/// let totals = pool.exit_results();
/// assert_eq!(totals.len(), 3);
/// assert_eq!(totals.iter().map(|(_, total)| total).sum::<u64>(), 5050);
/// # Ok::<(), PoolError>(())
/// ```
///
/// # Signatures
///
pub use pool_macros::worker_exit;

/// The names most programs need: the attributes, [`Pool`], [`PoolError`] and
/// [`WorkerContext`].
pub mod prelude {
    pub use crate::{task, worker_exit, worker_init, worker_state};
    pub use crate::{Pool, PoolError, WorkerContext};
}

#[doc(hidden)]
pub mod __private {
    pub use pool_core::__private::*;
}

/// The README's examples, run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
