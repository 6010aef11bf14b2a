//! The error type of every pool call.

use std::any::Any;

pub use crate::unwind::PanicPayload;

/// A boxed error, as returned by fallible user hooks (`Result<_, E>` with any
/// `E: std::error::Error + Send + Sync + 'static` converts into it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a pool call failed.
///
/// The first failure stops the call: queued tasks are dropped, running ones
/// finish, and the failure is returned. Where several happened, the one
/// earliest in input order wins; failures that belong to no item (an init or
/// exit hook, a state's drop) rank before every item. A panic in the `Drop`
/// of an item the call dropped without running it is that item's failure,
/// ranked by its position like any other: it never hides an earlier one.
/// The pool stays usable afterwards.
///
/// ```
/// use pool_core::PoolError;
///
/// let err = PoolError::InvalidConfig("chunk_size must be at least 1".into());
/// assert_eq!(err.to_string(), "invalid pool configuration: chunk_size must be at least 1");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A task returned `Err`.
    #[error("task for item {index} failed on worker {worker_id}")]
    Task {
        /// Position of the item in the input.
        index: usize,
        /// The worker that ran the task.
        worker_id: usize,
        /// The error the task returned.
        #[source]
        source: BoxError,
    },
    /// User code panicked: a task, a hook, the input iterator, or the
    /// `Drop` of an item or a state; [`site`](PanicSite) says which.
    #[error("{}", PanicText { site: *.site, index: *.index, worker_id: *.worker_id, message })]
    Panic {
        /// Position of the item the panic belongs to: the item whose task
        /// panicked, whose pull from the input panicked, or which panicked
        /// as it was dropped; `None` where the panic belongs to no item.
        index: Option<usize>,
        /// The worker on which the panic happened.
        worker_id: usize,
        /// Where the panic came from.
        site: PanicSite,
        /// The panic's message, where its payload was a `&str` or a
        /// `String`; otherwise `"<non-string panic payload>"`.
        message: String,
        /// The panic's payload itself, as `catch_unwind` gave it, for a
        /// caller that resumes the panic (see [`PoolError::into_panic`]).
        payload: PanicPayload,
    },
    /// A `#[worker_init]` hook returned `Err`.
    #[error("worker {worker_id} failed to initialise its state")]
    Init {
        /// The worker whose init failed.
        worker_id: usize,
        /// The error the init hook returned.
        #[source]
        source: BoxError,
    },
    /// A `#[worker_exit]` hook returned `Err`.
    #[error("the exit hook of worker {worker_id} failed")]
    Exit {
        /// The worker whose exit failed.
        worker_id: usize,
        /// The error the exit hook returned.
        #[source]
        source: BoxError,
    },
    /// The pool was configured with a value it cannot run with, such as
    /// `chunk_size(0)` or `worker_lifespan(0)`.
    #[error("invalid pool configuration: {0}")]
    InvalidConfig(String),
    /// The operating system refused to start a worker thread.
    #[error("could not start the thread of worker {worker_id}")]
    Spawn {
        /// The worker whose thread could not start.
        worker_id: usize,
        /// The error from the operating system.
        #[source]
        source: std::io::Error,
    },
    /// The input iterator panicked: in `next()` (at the position of the item
    /// it was pulling), or in `size_hint()` or its drop (`index: None`).
    /// The items before it still count: in `imap` their results come first.
    #[error("the input panicked{}: {message}", InputSite(*.index))]
    Input {
        /// The position of the item the input was asked for.
        index: Option<usize>,
        /// The panic's message, where it was a string.
        message: String,
        /// The panic's payload itself (see [`PoolError::into_panic`]).
        payload: PanicPayload,
    },
    /// The operating system refused to start the thread that pulls the
    /// input of a streaming call (`imap`, `imap_unordered`).
    #[error("could not start the thread that pulls the input")]
    Feeder(#[source] std::io::Error),
    /// A [`PoolHandle`](crate::PoolHandle) submitted a task after its pool
    /// was dropped, or a [`TaskHandle`](crate::TaskHandle) lost its task
    /// that way. Tasks submitted before the drop still run. Also a call on
    /// a cluster pool (`statepool::cluster`) after its `join` ended the
    /// cluster.
    #[error("the pool is closed: it was dropped, or its cluster ended at `join`")]
    Closed,
    /// User code ran past its limit (`task_timeout`, `worker_init_timeout`,
    /// `worker_exit_timeout`). Its worker was abandoned: a fresh one took
    /// its place, and the stuck code's output and state are dropped on its
    /// own thread whenever it returns. A timeout stops its call at once:
    /// unlike other failures, even in `imap` no item after the timeout's
    /// is yielded, whatever its position.
    #[error("the {phase} of worker {worker_id}{} ran past its limit of {limit:?}", ItemOf(*.index))]
    Timeout {
        /// The code that ran too long: an init, a task or an exit hook.
        phase: Phase,
        /// The position of the task's item in its call (0 for a task
        /// submitted through a handle); `None` for a hook.
        index: Option<usize>,
        /// The worker that was abandoned.
        worker_id: usize,
        /// The limit that passed.
        limit: std::time::Duration,
    },
    /// (`pool-cluster`) Could not connect the processes of a cluster: a
    /// peer did not come up within the connect timeout, an address could
    /// not be bound, or the cluster's arguments are wrong.
    #[error("could not connect the cluster: {reason}")]
    Connect {
        /// What went wrong, and with which process.
        reason: String,
    },
    /// (`pool-cluster`) A process of the cluster was lost during a call:
    /// its connection broke (it died, or the network failed). The cluster
    /// can no longer run calls; every later call returns this error.
    #[error("a process of the cluster was lost: {reason}")]
    Disconnected {
        /// What the driver saw.
        reason: String,
    },
    /// (`pool-cluster`) The cluster sent nothing for `waited` during a call
    /// (its `peer_timeout`): a process stopped answering with its
    /// connection open, or a task runs longer than the limit. The cluster
    /// can no longer run calls; every later call returns this error.
    #[error("the cluster answered nothing for {waited:?} during a call")]
    Unresponsive {
        /// The limit that passed.
        waited: std::time::Duration,
    },
}

struct ItemOf(Option<usize>);

impl std::fmt::Display for ItemOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(index) => write!(f, " for item {index}"),
            None => Ok(()),
        }
    }
}

/// Which of a worker's user code a [`PoolError::Timeout`] stopped waiting
/// for.
///
/// ```
/// use std::time::Duration;
/// use pool_core::{Phase, PoolError};
///
/// let err = PoolError::Timeout {
///     phase: Phase::Task,
///     index: Some(3),
///     worker_id: 1,
///     limit: Duration::from_millis(50),
/// };
/// assert_eq!(err.to_string(), "the task of worker 1 for item 3 ran past its limit of 50ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// A `#[worker_init]` hook (`worker_init_timeout`).
    Init = 0,
    /// A task (`task_timeout`).
    Task = 1,
    /// A `#[worker_exit]` hook (`worker_exit_timeout`).
    Exit = 2,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Init => "init hook",
            Phase::Task => "task",
            Phase::Exit => "exit hook",
        })
    }
}

struct InputSite(Option<usize>);

impl std::fmt::Display for InputSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(index) => write!(f, " at item {index}"),
            None => Ok(()),
        }
    }
}

/// Where the code that panicked sits in a worker's work: which part of the
/// user's code it was, so that an error never blames a hook for the panic
/// of an item's destructor.
///
/// ```
/// use pool_core::{PanicPayload, PanicSite, PoolError};
///
/// let err = PoolError::Panic {
///     index: Some(8),
///     worker_id: 0,
///     site: PanicSite::DropItem,
///     message: "boom".into(),
///     payload: PanicPayload::new(Box::new("boom")),
/// };
/// assert_eq!(err.to_string(), "dropping item 8 panicked on worker 0: boom");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PanicSite {
    /// The task (or the closure of `map_with`) of the item at `index`,
    /// including the drop of the item it took and of everything it owned.
    Task,
    /// A `#[worker_init]` hook (or `Default`), as a worker life started.
    Init,
    /// A `#[worker_exit]` hook, as a worker life ended. A state the hook
    /// takes by value is dropped inside it, so its `Drop` counts here.
    Exit,
    /// The `Drop` of the item at `index`, which the call dropped without
    /// running it (the call had stopped, or the worker's life could not
    /// start). The worker's state is untouched and its life goes on.
    DropItem,
    /// The `Drop` of a worker's state, after its exit hook had returned
    /// (an exit hook taking `&mut State` or `&State`), or at the end of a
    /// life without exit hook. The exit hook's output was kept.
    DropState,
    /// The pool's own code: a bug in statepool, not in the user's code.
    Runtime,
}

/// The message of a [`PoolError::Panic`].
struct PanicText<'a> {
    site: PanicSite,
    index: Option<usize>,
    worker_id: usize,
    message: &'a str,
}

impl std::fmt::Display for PanicText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let PanicText {
            site,
            index,
            worker_id: w,
            message,
        } = *self;
        let item = |f: &mut std::fmt::Formatter<'_>| match index {
            Some(index) => write!(f, "item {index}"),
            None => f.write_str("an item"),
        };
        match site {
            PanicSite::Task => {
                f.write_str("task for ")?;
                item(f)?;
                write!(f, " panicked on worker {w}")?;
            }
            PanicSite::Init => write!(f, "the init hook of worker {w} panicked")?,
            PanicSite::Exit => write!(f, "the exit hook of worker {w} panicked")?,
            PanicSite::DropItem => {
                f.write_str("dropping ")?;
                item(f)?;
                write!(f, " panicked on worker {w}")?;
            }
            PanicSite::DropState => write!(f, "dropping the state of worker {w} panicked")?,
            PanicSite::Runtime => write!(f, "statepool itself panicked on worker {w} (a bug)")?,
        }
        write!(f, ": {message}")
    }
}

impl PoolError {
    /// The input position this failure belongs to, if it belongs to one.
    ///
    /// ```
    /// use pool_core::PoolError;
    ///
    /// let err = PoolError::Task { index: 7, worker_id: 0, source: "boom".into() };
    /// assert_eq!(err.index(), Some(7));
    /// ```
    pub fn index(&self) -> Option<usize> {
        match self {
            PoolError::Task { index, .. } => Some(*index),
            PoolError::Panic { index, .. }
            | PoolError::Input { index, .. }
            | PoolError::Timeout { index, .. } => *index,
            _ => None,
        }
    }

    /// The payload of the panic this failure is ([`PoolError::Panic`] or
    /// [`PoolError::Input`]), to resume it with
    /// [`std::panic::resume_unwind`]; as tokio's `JoinError::into_panic`.
    ///
    /// # Panics
    /// If the failure is not a panic, or its payload was already taken
    /// (with [`PanicPayload::take`]); [`PoolError::try_into_panic`] does not.
    ///
    /// ```
    /// use pool_core::{PanicPayload, PanicSite, PoolError};
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Code(u32);
    /// let err = PoolError::Panic {
    ///     index: Some(3),
    ///     worker_id: 0,
    ///     site: PanicSite::Task,
    ///     message: "<non-string panic payload>".into(),
    ///     payload: PanicPayload::new(Box::new(Code(7))),
    /// };
    /// let payload = err.into_panic();
    /// assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(7)));
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .unwrap_or_else(|err| panic!("`into_panic` on a failure that is no panic: {err}"))
    }

    /// The payload of the panic this failure is, or the failure itself
    /// where it is no panic (or its payload was taken).
    ///
    /// ```
    /// use pool_core::PoolError;
    ///
    /// let err = PoolError::InvalidConfig("chunk_size must be at least 1".into());
    /// assert!(err.try_into_panic().is_err());
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, PoolError> {
        match &self {
            PoolError::Panic { payload, .. } | PoolError::Input { payload, .. } => {
                payload.take().ok_or(self)
            }
            _ => Err(self),
        }
    }

    /// The worker on which the failure happened, if one did.
    pub fn worker_id(&self) -> Option<usize> {
        match self {
            PoolError::Task { worker_id, .. }
            | PoolError::Panic { worker_id, .. }
            | PoolError::Init { worker_id, .. }
            | PoolError::Exit { worker_id, .. }
            | PoolError::Spawn { worker_id, .. }
            | PoolError::Timeout { worker_id, .. } => Some(*worker_id),
            PoolError::InvalidConfig(_)
            | PoolError::Input { .. }
            | PoolError::Feeder(_)
            | PoolError::Closed
            | PoolError::Connect { .. }
            | PoolError::Disconnected { .. }
            | PoolError::Unresponsive { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_sync_static() {
        fn assert_bounds<T: Send + Sync + 'static + std::error::Error>() {}
        assert_bounds::<PoolError>();
    }

    #[test]
    fn panic_display_names_the_site() {
        let panic = |site, index| PoolError::Panic {
            index,
            worker_id: 1,
            site,
            message: "bad".into(),
            payload: PanicPayload::new(Box::new("bad")),
        };
        let shown = [
            (
                PanicSite::Task,
                Some(3),
                "task for item 3 panicked on worker 1: bad",
            ),
            (
                PanicSite::Init,
                None,
                "the init hook of worker 1 panicked: bad",
            ),
            (
                PanicSite::Exit,
                None,
                "the exit hook of worker 1 panicked: bad",
            ),
            (
                PanicSite::DropItem,
                Some(8),
                "dropping item 8 panicked on worker 1: bad",
            ),
            (
                PanicSite::DropState,
                None,
                "dropping the state of worker 1 panicked: bad",
            ),
            (
                PanicSite::Runtime,
                None,
                "statepool itself panicked on worker 1 (a bug): bad",
            ),
            (
                PanicSite::Task,
                None,
                "task for an item panicked on worker 1: bad",
            ),
        ];
        for (site, index, text) in shown {
            assert_eq!(panic(site, index).to_string(), text);
        }
    }
}
