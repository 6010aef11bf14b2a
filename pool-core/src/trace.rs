//! What statepool tells `tracing` subscribers (feature `tracing`): a span
//! per call (`statepool.call`: its kind, items where known, workers), a span
//! per worker life (`statepool.life`: worker id, life number, from the start
//! of its init to the end of its exit), and a `WARN` event per failed call
//! (`statepool.failure`). Without the feature, [`Span`] is an empty type and
//! these functions do nothing.

use crate::PoolError;

#[cfg(feature = "tracing")]
pub(crate) use tracing::Span;

/// Nothing, without the feature.
#[cfg(not(feature = "tracing"))]
#[derive(Debug, Clone, Default)]
pub(crate) struct Span;

/// Nothing entered, without the feature.
#[cfg(not(feature = "tracing"))]
#[derive(Debug)]
pub(crate) struct Entered;

#[cfg(not(feature = "tracing"))]
impl Span {
    #[inline(always)]
    pub(crate) fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        f()
    }

    #[inline(always)]
    pub(crate) fn enter(&self) -> Entered {
        Entered
    }
}

/// No span: what a finished call leaves.
#[inline]
pub(crate) fn none() -> Span {
    #[cfg(feature = "tracing")]
    return Span::none();
    #[cfg(not(feature = "tracing"))]
    Span
}

/// The span of a call of `kind` over `items` (where known) on `workers`.
#[inline]
pub(crate) fn call(kind: &'static str, items: Option<usize>, workers: usize) -> Span {
    #[cfg(feature = "tracing")]
    return tracing::info_span!("statepool.call", kind, items = ?items, workers);
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (kind, items, workers);
        Span
    }
}

/// The span of life number `life` (from 1) of worker `worker_id`.
#[inline]
pub(crate) fn life(worker_id: usize, life: u64) -> Span {
    #[cfg(feature = "tracing")]
    return tracing::info_span!("statepool.life", worker_id, life);
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (worker_id, life);
        Span
    }
}

/// A failed call: its error, item and worker, in the current span.
#[inline]
pub(crate) fn failure(err: &PoolError) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        name: "statepool.failure",
        error = %err,
        index = ?err.index(),
        worker_id = ?err.worker_id(),
        "statepool call failed"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = err;
}
