//! Stateful worker pools: each worker owns a state for the length of its life,
//! built once by `#[worker_init]`, used by every `#[task]` it runs and handed to
//! `#[worker_exit]` when the life ends.
//!
//! ```
//! use statepool::prelude::*;
//! use statepool::{BoxError, ExitValue, Task, WorkerState};
//!
//! #[derive(Default)]
//! struct Counter { local_sum: u64 }
//!
//! impl WorkerState for Counter {
//!     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Counter::default()) }
//!     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
//! }
//! impl Task for Counter {
//!     type Input = u64;
//!     type Output = u64;
//!     fn run(&mut self, x: u64) -> Result<u64, BoxError> { self.local_sum += x; Ok(x * 2) }
//! }
//!
//! let mut pool = Pool::<Counter>::new(4).keep_alive();
//! let doubled = pool.map(0..100)?;
//! assert_eq!(doubled[99], 198);
//! pool.join()?;
//! # Ok::<(), PoolError>(())
//! ```

pub use pool_core::{
    BoxError, ExitValue, Imap, Pool, PoolError, Task, WorkerContext, WorkerExit, WorkerInit,
    WorkerState,
};

/// The names most programs need: the attributes, [`Pool`], [`PoolError`] and
/// [`WorkerContext`].
pub mod prelude {
    pub use crate::{Pool, PoolError, WorkerContext};
}

#[doc(hidden)]
pub mod __private {
    pub use pool_core::__private::*;
}
