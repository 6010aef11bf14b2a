//! Runtime of statepool: a typed pool of
//! workers, each owning a state for the length of its life, on a
//! work-stealing scheduler built on `crossbeam-deque`.
//!
//! Most users reach this crate through the `statepool` facade and its
//! attributes, which implement [`WorkerState`], [`WorkerInit`], [`Task`] and
//! [`WorkerExit`]; they can also be implemented by hand.
//!
//! ```
//! use pool_core::{BoxError, ExitValue, OwnedInput, Pool, Task, WorkerContext, WorkerState};
//!
//! /// Counts what each worker saw.
//! #[derive(Default)]
//! struct Tally(u64);
//!
//! impl WorkerState for Tally {
//!     type Shared = ();
//!     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Tally(0)) }
//!     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
//!         Ok(Some(ExitValue::new(self.0)))
//!     }
//! }
//! impl Task for Tally {
//!     type Input<'a> = u64;
//!     type InputKind = OwnedInput;
//!     type Output = u64;
//!     fn run(&mut self, x: u64, _: &WorkerContext) -> Result<u64, BoxError> {
//!         self.0 += x;
//!         Ok(x)
//!     }
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

// The modules in layers: each uses only those above it.
//
//   sync, unwind               locks, abort guards, caught panics
//   error, context, state      what users see of a worker and a failure
//   input/                     cutting an input into chunks
//   stop                       how a call stops
//   sink/                      where outputs go (slots, unordered, stream)
//   worker                     one worker's lives and its run of a chunk
//   call                       the unit broadcast to every worker (MapCall)
//   crew                       the threads, and the hand-off of each call
//   feed_thread                the thread that pulls a streamed input
//   runner                     begins, runs and ends calls on the crew
//   items, imap, pool          the typed calls of the contract
//
// `scripts/module-graph.sh` prints the graph and fails on a cycle (CI runs
// it). See PROTOCOL.md beside this file for the handshakes between threads, the
// memory ordering of each, and the glossary of the names used here.

mod sync;
mod unwind;

mod context;
mod error;
mod state;

mod input;
mod insights;

mod progress;
mod stop;
mod trace;

mod sink;

mod watch;
mod worker;

mod call;

mod crew;

mod feed_thread;

mod runner;

mod handle;

mod imap;
mod items;
mod pool;

#[doc(hidden)]
pub mod __private;

/// The progress bar crate that [`Pool::progress_bar_with`] takes bars of
/// (feature `progress`).
#[cfg(feature = "progress")]
pub use indicatif;

pub use context::{IntoShared, WorkerContext};
pub use error::{BoxError, PanicPayload, PanicSite, Phase, PoolError};
pub use handle::{PoolHandle, TaskHandle};
pub use imap::Imap;
pub use insights::{Activity, Insights, Segment, SlowTask, Times, WorkerInsights};
pub use items::TaskItems;
pub use pool::Pool;
pub use state::{
    BorrowedInput, ExitSerializer, ExitValue, InputKind, NoShared, OwnedInput, StreamTask,
    Streamable, Task, UnitShared, WorkerExit, WorkerInit, WorkerState,
};
