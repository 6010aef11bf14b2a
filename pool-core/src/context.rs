//! What a worker knows about itself.

/// Identity of the worker a hook runs on, passed to `#[worker_init]` and
/// `#[worker_exit]` hooks that ask for it.
///
/// ```
/// use pool_core::WorkerContext;
///
/// let ctx = WorkerContext::new(1, 4);
/// assert_eq!((ctx.worker_id(), ctx.n_workers()), (1, 4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkerContext {
    worker_id: usize,
    n_workers: usize,
}

impl WorkerContext {
    /// A context for worker `worker_id` of a pool of `n_workers`; useful for
    /// calling hooks directly in tests.
    ///
    /// # Panics
    /// If `worker_id >= n_workers`.
    pub fn new(worker_id: usize, n_workers: usize) -> Self {
        assert!(
            worker_id < n_workers,
            "worker id {worker_id} out of range 0..{n_workers}"
        );
        WorkerContext {
            worker_id,
            n_workers,
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
}
