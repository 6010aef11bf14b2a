//! The records that cross processes: down to the workers, up to worker 0.

use serde::{Deserialize, Serialize};

/// A record for worker `to` (a global worker index): timely's `Exchange`
/// pact routes it there.
#[derive(Serialize, Deserialize)]
pub(crate) struct Down<I> {
    pub(crate) to: u64,
    pub(crate) body: DownBody<I>,
}

/// timely's input handle asks for `Clone` records, to copy them into each
/// stream it feeds; the cluster's feeds one, so records are moved, never
/// cloned, and items need not be `Clone`. Were one cloned, the copy is
/// the record read back from its own encoding: what a remote worker gets.
impl<I: Serialize + serde::de::DeserializeOwned> Clone for Down<I> {
    fn clone(&self) -> Self {
        bincode::serialize(self)
            .and_then(|bytes| bincode::deserialize(&bytes))
            .unwrap_or_else(|err| {
                panic!("a record that cannot be read back from its encoding: {err}")
            })
    }
}

#[derive(Serialize, Deserialize)]
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
#[derive(Serialize, Deserialize)]
pub(crate) enum Up<O> {
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
    /// A life's exit output, serialised by its state's `ExitSerializer`;
    /// `None` where the state has none.
    Exit {
        worker_id: usize,
        output: Option<Vec<u8>>,
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
    /// The exit hook panicked, or serialising its output did.
    ExitPanic,
    /// Dropping the state panicked, after an exit hook that borrows it.
    DropPanic,
}
