//! How a call stops: the first failure, and the position from which items
//! no longer start.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::sync::lock;
use crate::unwind::drop_quietly;
use crate::PoolError;

/// Which items still start once something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// None: nothing new starts (`map`, `map_unordered`, `imap_unordered`).
    AllItems,
    /// Items before the failed one still start, so that their outputs can
    /// be yielded ahead of the failure (`imap`).
    FromFailedItem,
}

/// The first failure of a call and the position from which items do not
/// start.
pub(crate) struct Stop {
    /// Items at or past this position do not start. Workers read it before
    /// each block of items (about a microsecond of work, see
    /// `Sizer::block_len`): a block under way when it moves runs to its end,
    /// as a running task would.
    ///
    /// Acquire/Release: a worker that reads a lowered limit also sees the
    /// failure stored in `first` before it (under its lock anyway), and the
    /// feeder that reads it stops publishing. Nothing else is ordered by it:
    /// it only ever moves down, and a stale read runs at most one more block.
    limit: AtomicUsize,
    first: Mutex<Option<PoolError>>,
    mode: StopMode,
}

/// Failures of no item rank before every item.
fn rank(err: &PoolError) -> usize {
    err.index().map_or(0, |i| i + 1)
}

impl Stop {
    pub(crate) fn new(mode: StopMode) -> Self {
        Stop {
            limit: AtomicUsize::new(usize::MAX),
            first: Mutex::new(None),
            mode,
        }
    }

    #[inline]
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn is_halted(&self) -> bool {
        self.limit() == 0
    }

    /// Halts on `failure`, kept if it is the earliest in input order so far;
    /// with none, halts everything (a dropped `imap`).
    pub(crate) fn halt(&self, failure: Option<PoolError>) {
        let Some(err) = failure else {
            self.limit.store(0, Ordering::Release);
            return;
        };
        let mut first = self.first();
        // A timeout stops everything at once: the outputs before its item
        // may be held by the abandoned worker, and never come.
        let limit = match (self.mode, err.index(), &err) {
            (_, _, PoolError::Timeout { .. }) => 0,
            (StopMode::FromFailedItem, Some(index), _) => index,
            _ => 0,
        };
        self.limit.fetch_min(limit, Ordering::AcqRel);
        let loser = if first.as_ref().is_none_or(|kept| rank(&err) < rank(kept)) {
            first.replace(err)
        } else {
            Some(err)
        };
        drop(first);
        // The failure that lost holds the user's error: its `Drop` may panic.
        drop_quietly(loser);
    }

    /// The first failure so far, locked.
    pub(crate) fn first(&self) -> MutexGuard<'_, Option<PoolError>> {
        lock(&self.first)
    }

    /// Takes the first failure out.
    pub(crate) fn take(&self) -> Option<PoolError> {
        self.first().take()
    }
}
