//! The records that cross processes: down to the workers, up to worker 0.

use serde::{Deserialize, Serialize};

/// A record for worker `to` (a global worker index): timely's `Exchange`
/// pact routes it there.
#[derive(Serialize, Deserialize, Clone)]
pub(crate) struct Down<I> {
    pub(crate) to: u64,
    pub(crate) body: DownBody<I>,
}

#[derive(Serialize, Deserialize, Clone)]
pub(crate) enum DownBody<I> {
    /// The pool's shared object (once, before any item, serialised by
    /// `bincode`) and its lifespan.
    Setup {
        shared: Option<Vec<u8>>,
        lifespan: Option<usize>,
    },
    /// A run of a call's items, the first at position `first`: one record
    /// per worker and call, not one per item.
    Items { first: usize, items: Vec<I> },
    /// Ends the worker's life, if one runs, with its exit hook.
    EndLife,
}

/// A record for worker 0, which hands it to the driver.
#[derive(Serialize, Deserialize, Clone)]
pub(crate) enum Up<O, X> {
    /// The outputs of a run, with their positions (a failed item has
    /// none: its failure comes as `Failed`).
    Outputs(Vec<(usize, O)>),
    Failed {
        /// The item, for a task's failure (and a panic in a task).
        index: Option<usize>,
        worker_id: usize,
        kind: FailKind,
        message: String,
    },
    Exit {
        output: X,
    },
}

/// What failed on a worker.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailKind {
    /// A task returned `Err`.
    Task,
    /// A task panicked: the worker's life ended without exit.
    TaskPanic,
    /// The init hook returned `Err`.
    Init,
    /// The init hook panicked.
    InitPanic,
    /// The exit hook returned `Err`.
    Exit,
    /// The exit hook panicked.
    ExitPanic,
}
