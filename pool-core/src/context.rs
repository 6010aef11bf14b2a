//! What a worker knows about itself, and the pool's shared object.

use std::fmt;
use std::sync::Arc;

/// What a hook knows of the worker it runs on: its id, the pool's size,
/// and the pool's shared object of type `T` (`()` unless the state declares
/// `#[worker_state(shared = T)]`).
///
/// `#[worker_init]` and `#[worker_exit]` hooks may take `&WorkerContext<T>`
/// as their last parameter, and so may a `#[task]`, after its inputs. The
/// shared object is mpire's `shared_objects` (Python's `initargs`): one
/// value, behind one [`Arc`], that every worker of the pool reads, never
/// copied per worker.
///
/// ```
/// use pool_core::WorkerContext;
///
/// let ctx = WorkerContext::new(1, 4);
/// assert_eq!((ctx.worker_id(), ctx.n_workers()), (1, 4));
///
/// let ctx = WorkerContext::with_shared(0, 2, "model.bin".to_string());
/// assert_eq!(ctx.shared(), "model.bin");
/// ```
pub struct WorkerContext<T = ()> {
    worker_id: usize,
    n_workers: usize,
    shared: Arc<T>,
}

impl WorkerContext {
    /// A context for worker `worker_id` of a pool of `n_workers`, without a
    /// shared object; useful for calling hooks directly in tests.
    ///
    /// # Panics
    /// If `worker_id >= n_workers`.
    pub fn new(worker_id: usize, n_workers: usize) -> Self {
        WorkerContext::with_shared(worker_id, n_workers, ())
    }
}

impl<T> WorkerContext<T> {
    /// A context for worker `worker_id` of a pool of `n_workers` whose
    /// shared object is `shared` (a `T`, or an `Arc<T>` shared with others);
    /// useful for calling hooks directly in tests.
    ///
    /// # Panics
    /// If `worker_id >= n_workers`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use pool_core::WorkerContext;
    ///
    /// let config = Arc::new(vec![1, 2, 3]);
    /// let ctx = WorkerContext::with_shared(0, 1, Arc::clone(&config));
    /// assert!(Arc::ptr_eq(ctx.shared_arc(), &config));
    /// ```
    pub fn with_shared(worker_id: usize, n_workers: usize, shared: impl IntoShared<T>) -> Self {
        assert!(
            worker_id < n_workers,
            "worker id {worker_id} out of range 0..{n_workers}"
        );
        WorkerContext {
            worker_id,
            n_workers,
            shared: shared.into_shared(),
        }
    }

    /// This worker's id, in `0..n_workers()`. A worker keeps its id across
    /// lives (a lifespan restart or a re-init after a panic).
    pub fn worker_id(&self) -> usize {
        self.worker_id
    }

    /// The number of workers in the pool.
    pub fn n_workers(&self) -> usize {
        self.n_workers
    }

    /// The pool's shared object: the value given to
    /// [`Pool::with_shared`](crate::Pool::with_shared), the same one for
    /// every worker and every life of the pool.
    pub fn shared(&self) -> &T {
        &self.shared
    }

    /// The [`Arc`] that holds the shared object, for a state that keeps a
    /// handle to it beyond the hook (cloning it costs one atomic increment).
    pub fn shared_arc(&self) -> &Arc<T> {
        &self.shared
    }
}

impl<T> Clone for WorkerContext<T> {
    fn clone(&self) -> Self {
        WorkerContext {
            worker_id: self.worker_id,
            n_workers: self.n_workers,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for WorkerContext<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerContext")
            .field("worker_id", &self.worker_id)
            .field("n_workers", &self.n_workers)
            .field("shared", &std::any::type_name::<T>())
            .finish()
    }
}

/// What [`Pool::with_shared`](crate::Pool::with_shared) takes as the shared
/// object of type `T`: a `T`, or an `Arc<T>` already shared elsewhere (never
/// copied: every worker reads the one value).
///
/// ```
/// use std::sync::Arc;
/// use pool_core::IntoShared;
///
/// let shared: Arc<String> = "model.bin".to_string().into_shared();
/// let again: Arc<String> = Arc::clone(&shared).into_shared();
/// assert!(Arc::ptr_eq(&shared, &again));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the shared object of this pool, which is a `{T}`",
    label = "expected `{T}` or `Arc<{T}>`",
    note = "the shared type is the one named by `#[worker_state(shared = {T})]`"
)]
pub trait IntoShared<T> {
    /// The value, behind an `Arc`.
    fn into_shared(self) -> Arc<T>;
}

impl<T> IntoShared<T> for T {
    fn into_shared(self) -> Arc<T> {
        Arc::new(self)
    }
}

impl<T> IntoShared<T> for Arc<T> {
    fn into_shared(self) -> Arc<T> {
        self
    }
}
