//! Lazy, streaming calls: the iterator of `imap` and `imap_unordered`.

use std::fmt;

use crate::progress::End;
use crate::runner::{Runner, StreamRef, Turns};
use crate::{BoxError, PoolError, Task, WorkerContext, WorkerState};

/// The iterator of [`Pool::imap`](crate::Pool::imap) and
/// [`Pool::imap_unordered`](crate::Pool::imap_unordered) (and their `_with`
/// forms): yields each
/// task's `Result` as workers finish them, pulling the input lazily.
///
/// A failure is yielded once, then the iterator ends. Dropping it early
/// cancels the rest of the call: the drop waits for the tasks already
/// running (never for the input), and once it returns no task of the call
/// starts and the pool is ready for the next call. A pull of the input
/// still blocked in `next()` ends on its own thread; what it returns is
/// dropped without running.
#[must_use = "an imap iterator does nothing unless consumed"]
pub struct Imap<'p, S: WorkerState, O = <S as Task>::Output> {
    runner: &'p mut Runner<S>,
    call: Option<StreamRef<S, O>>,
    /// For an input that borrows: its feeding, in turns on this thread.
    turns: Option<Turns<'p>>,
    ordered: bool,
    local: std::vec::IntoIter<O>,
    /// Items yielded so far; in input order, the next position.
    yielded: usize,
    /// A failure to yield after the outputs (the call could not start, or
    /// an exit hook failed as it ended).
    last: Option<PoolError>,
}

impl<'p, S: WorkerState, O: Send + 'static> Imap<'p, S, O> {
    /// Starts the streaming call of `task` over `iter`.
    pub(crate) fn start<I, F>(runner: &'p mut Runner<S>, iter: I, task: F, ordered: bool) -> Self
    where
        I: Iterator + Send + 'static,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError>
            + Send
            + Sync
            + 'static,
    {
        let (call, last) = match runner.start_stream(iter, task, ordered) {
            Ok(call) => (Some(call), None),
            Err(err) => (None, Some(err)),
        };
        Imap {
            runner,
            call,
            turns: None,
            ordered,
            local: Vec::new().into_iter(),
            yielded: 0,
            last,
        }
    }
}

impl<'p, S: WorkerState, O: Send + 'static> Imap<'p, S, O> {
    /// Starts the streaming call of `task` over `iter`, an input that may
    /// borrow for `'p`, pulled in turns by this iterator's `next`.
    pub(crate) fn start_in_turns<I, F>(
        runner: &'p mut Runner<S>,
        iter: I,
        task: F,
        ordered: bool,
    ) -> Self
    where
        I: Iterator + Send + 'p,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError>
            + Send
            + Sync
            + 'static,
    {
        let (call, turns, last) = match runner.start_stream_in_turns(iter, task, ordered) {
            Ok((call, turns)) => (Some(call), Some(turns), None),
            Err(err) => (None, None, Some(err)),
        };
        Imap {
            runner,
            call,
            turns,
            ordered,
            local: Vec::new().into_iter(),
            yielded: 0,
            last,
        }
    }
}

impl<S: WorkerState, O> Imap<'_, S, O> {
    /// The most items this iterator pulls from its input ahead of what it
    /// has yielded (plus the chunk it is yielding from): a small multiple of
    /// workers × chunk size. `0` once the call has ended.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2).chunk_size(8);
    /// let stream = pool.imap(0u64..);
    /// assert_eq!(stream.look_ahead(), 4 * 2 * 8);
    /// # }
    /// ```
    pub fn look_ahead(&self) -> usize {
        self.call.as_ref().map_or(0, |call| call.look_ahead())
    }

    /// Ends the call: halts the workers' share and waits for them. A
    /// failure recorded after the last output was taken (an init that
    /// failed late, on a worker that ran no item) is kept for the caller,
    /// then a failure of the exit hooks as the call ends.
    fn end(&mut self) {
        if let Some(call) = self.call.take() {
            if let Err(err) = self.runner.end_stream(call) {
                self.last.get_or_insert(err);
            }
        }
    }
}

impl<S: WorkerState, O> Iterator for Imap<'_, S, O> {
    type Item = Result<O, PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(out) = self.local.next() {
                self.yielded += 1;
                return Some(Ok(out));
            }
            // An input that borrows is pulled here, before the wait: a turn
            // leaves an output to wait for, or ends the feeding.
            if let Some(turn) = self.turns.as_mut() {
                if turn() {
                    self.turns = None;
                }
            }
            // Without a call (it ended, or never started) only `last` is left.
            let next = self
                .call
                .as_ref()
                .and_then(|call| call.next_outputs(self.yielded));
            match next {
                Some(Ok(outputs)) => self.local = outputs.into_iter(),
                Some(Err(err)) => {
                    self.end();
                    self.runner.finish_stream(End::Failed(&err));
                    self.last = None;
                    return Some(Err(err));
                }
                None => {
                    self.end();
                    let end = self.last.as_ref().map_or(End::Done, End::Failed);
                    self.runner.finish_stream(end);
                    return self.last.take().map(Err);
                }
            }
        }
    }
}

impl<S: WorkerState, O> Drop for Imap<'_, S, O> {
    fn drop(&mut self) {
        // A failure of the exit hooks has no one left to go to.
        let open = self.call.is_some();
        self.end();
        if open {
            self.runner.finish_stream(End::Stopped);
        }
    }
}

impl<S: WorkerState, O> fmt::Debug for Imap<'_, S, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap")
            .field("ordered", &self.ordered)
            .field("yielded", &self.yielded)
            .field("ended", &self.call.is_none())
            .finish_non_exhaustive()
    }
}
