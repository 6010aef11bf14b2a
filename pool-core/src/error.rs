//! The error type of every pool call.

/// A boxed error, as returned by fallible user hooks (`Result<_, E>` with any
/// `E: std::error::Error + Send + Sync + 'static` converts into it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a pool call failed.
///
/// The first failure stops the call: queued tasks are dropped, running ones
/// finish, and the failure is returned. Where several happened, the one
/// earliest in input order wins; failures that belong to no item (an init or
/// exit hook) rank before every item. The pool stays usable afterwards.
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
    /// A task, an init or an exit hook panicked (or the input iterator did, while a
    /// worker pulled from it).
    #[error("{} panicked on worker {worker_id}: {message}", PanicSite(*.index))]
    Panic {
        /// Position of the item whose task (or whose pull from the input)
        /// panicked; `None` for an init or exit hook.
        index: Option<usize>,
        /// The worker on which the panic happened.
        worker_id: usize,
        /// The panic's message, where it was a string.
        message: String,
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
    },
    /// The operating system refused to start the thread that pulls the
    /// input of a streaming call (`imap`, `imap_unordered`).
    #[error("could not start the thread that pulls the input")]
    Feeder(#[source] std::io::Error),
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

struct PanicSite(Option<usize>);

impl std::fmt::Display for PanicSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(index) => write!(f, "task for item {index}"),
            None => f.write_str("a worker hook"),
        }
    }
}

impl PoolError {
    /// The input position this failure belongs to, if it belongs to one.
    ///
    /// ```
    /// use pool_core::PoolError;
    ///
    /// let err = PoolError::Panic { index: Some(7), worker_id: 0, message: "boom".into() };
    /// assert_eq!(err.index(), Some(7));
    /// ```
    pub fn index(&self) -> Option<usize> {
        match self {
            PoolError::Task { index, .. } => Some(*index),
            PoolError::Panic { index, .. } | PoolError::Input { index, .. } => *index,
            _ => None,
        }
    }

    /// The worker on which the failure happened, if one did.
    pub fn worker_id(&self) -> Option<usize> {
        match self {
            PoolError::Task { worker_id, .. }
            | PoolError::Panic { worker_id, .. }
            | PoolError::Init { worker_id, .. }
            | PoolError::Exit { worker_id, .. }
            | PoolError::Spawn { worker_id, .. } => Some(*worker_id),
            PoolError::InvalidConfig(_) | PoolError::Input { .. } | PoolError::Feeder(_) => None,
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
        let hook = PoolError::Panic {
            index: None,
            worker_id: 2,
            message: "bad".into(),
        };
        assert_eq!(hook.to_string(), "a worker hook panicked on worker 2: bad");
        let task = PoolError::Panic {
            index: Some(3),
            worker_id: 1,
            message: "bad".into(),
        };
        assert_eq!(
            task.to_string(),
            "task for item 3 panicked on worker 1: bad"
        );
    }
}
