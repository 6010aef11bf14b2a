//! Runtime of statepool: a typed pool of
//! workers, each owning a state for the length of its life, on a
//! work-stealing scheduler built on `crossbeam-deque`.
//!
//! Most users reach this crate through the `statepool` facade and its
//! attributes, which implement [`WorkerState`], [`WorkerInit`], [`Task`] and
//! [`WorkerExit`]; they can also be implemented by hand.
//!
//! ```
//! use pool_core::{BoxError, ExitValue, Pool, Task, WorkerContext, WorkerState};
//!
//! /// Counts what each worker saw.
//! #[derive(Default)]
//! struct Tally(u64);
//!
//! impl WorkerState for Tally {
//!     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Tally(0)) }
//!     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
//!         Ok(Some(ExitValue::new(self.0)))
//!     }
//! }
//! impl Task for Tally {
//!     type Input = u64;
//!     type Output = u64;
//!     fn run(&mut self, x: u64) -> Result<u64, BoxError> { self.0 += x; Ok(x) }
//! }
//! # impl pool_core::WorkerExit for Tally {
//! #     type Output = u64;
//! #     fn exit(self, _: &WorkerContext) -> Result<u64, BoxError> { Ok(self.0) }
//! # }
//!
//! let mut pool = Pool::<Tally>::new(4);
//! pool.map(0..100)?;
//! let tallies: Vec<u64> = pool.exit_results();
//! assert_eq!(tallies.iter().sum::<u64>(), 4950);
//! # Ok::<(), pool_core::PoolError>(())
//! ```

mod context;
mod crew;
mod error;
mod imap;
mod input;
mod items;
mod job;
mod pool;
mod sink;
mod state;
mod unwind;
mod worker;

#[doc(hidden)]
pub mod __private;

pub use context::WorkerContext;
pub use error::{BoxError, PanicSite, PoolError};
pub use imap::Imap;
pub use items::TaskItems;
pub use pool::Pool;
pub use state::{ExitValue, Task, WorkerExit, WorkerInit, WorkerState};
