//! Lazy, streaming calls: `imap` and `imap_unordered`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::input::Input;
use crate::job::{Job, MapJob, Sink, Stop};
use crate::pool::Pool;
use crate::sink::Outputs;
use crate::{BoxError, PoolError, Task};

/// Rounds a waiting worker or consumer looks again before it sleeps.
const SPINS_BEFORE_SLEEP: u32 = 32;

/// Outputs waiting for the consumer.
enum Pending<O> {
    /// By input position: the consumer takes them in order.
    Ordered(BTreeMap<usize, Vec<O>>),
    /// In completion order.
    Unordered(VecDeque<Vec<O>>),
}

struct StreamState<O> {
    pending: Pending<O>,
    /// The input's length, once it is exhausted.
    total: Option<usize>,
    /// What the consumer sleeps for: the chunk at this position in order,
    /// any chunk (`usize::MAX`) out of order; `None` while it is awake.
    /// Deliveries wake it only for that, so a busy stream makes no syscall.
    wanted: Option<usize>,
    /// Workers asleep until the window has room.
    room_waiters: usize,
}

/// The sink of a streaming call: a bounded look-ahead window between the
/// workers and the consumer.
pub(crate) struct Stream<O> {
    state: Mutex<StreamState<O>>,
    /// The consumer waits here for outputs.
    ready: Condvar,
    /// Workers wait here for room in the window.
    room: Condvar,
    /// Items handed to the consumer so far.
    taken: AtomicUsize,
    /// Items pulled from the input but not yet taken by the consumer, at most.
    window: usize,
}

impl<O> Stream<O> {
    pub(crate) fn new(ordered: bool, window: usize) -> Self {
        let pending = if ordered {
            Pending::Ordered(BTreeMap::new())
        } else {
            Pending::Unordered(VecDeque::new())
        };
        let state = StreamState {
            pending,
            total: None,
            wanted: None,
            room_waiters: 0,
        };
        Stream {
            state: Mutex::new(state),
            ready: Condvar::new(),
            room: Condvar::new(),
            taken: AtomicUsize::new(0),
            window,
        }
    }

    fn lock(&self) -> MutexGuard<'_, StreamState<O>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the consumer and every waiting worker, after a stop.
    fn wake_all(&self) {
        let state = self.lock();
        let (consumer, workers) = (state.wanted.is_some(), state.room_waiters > 0);
        drop(state);
        if consumer {
            self.ready.notify_one();
        }
        if workers {
            self.room.notify_all();
        }
    }

    /// Free places in the window while `pulled` items have been pulled.
    fn free(&self, pulled: usize) -> usize {
        let in_flight = pulled.saturating_sub(self.taken.load(Ordering::Acquire));
        self.window.saturating_sub(in_flight)
    }

    /// Hands `len` more items to the consumer, making room in the window.
    /// Workers waiting for room wake once half the window is free, not at
    /// every chunk, so that a fast producer and a slow consumer do not trade
    /// a wake-up per chunk.
    fn take(&self, mut state: MutexGuard<'_, StreamState<O>>, len: usize, pulled: usize) {
        self.taken.fetch_add(len, Ordering::AcqRel);
        let waiters = state.room_waiters > 0 && self.free(pulled) >= self.window / 2;
        state.wanted = None;
        drop(state);
        if waiters {
            self.room.notify_all();
        }
    }
}

impl<O: Send> Sink<O> for Stream<O> {
    type Run = Outputs<O>;

    fn open(&self, start: usize, len: usize) -> Outputs<O> {
        Outputs::new(start, len)
    }

    fn deliver(&self, run: Outputs<O>) {
        let Outputs {
            start,
            items: outputs,
        } = run;
        if outputs.is_empty() {
            return;
        }
        let mut state = self.lock();
        match &mut state.pending {
            Pending::Ordered(map) => {
                map.insert(start, outputs);
            }
            Pending::Unordered(queue) => queue.push_back(outputs),
        }
        let wake = state.wanted.is_some_and(|w| w == start || w == usize::MAX);
        drop(state);
        if wake {
            self.ready.notify_one();
        }
    }

    fn room(&self, pulled: usize) -> usize {
        self.free(pulled)
    }

    fn wait_for_room(&self, input_pulled: &dyn Fn() -> usize, pulled: usize, stop: &Stop) {
        // A fast consumer makes room within microseconds: spin a little
        // before paying for a sleep and a wake-up.
        for _ in 0..SPINS_BEFORE_SLEEP {
            if stop.is_stopped() || input_pulled() != pulled || self.free(pulled) > 0 {
                return;
            }
            std::hint::spin_loop();
        }
        let mut state = self.lock();
        while !stop.is_stopped() && input_pulled() == pulled && self.free(pulled) == 0 {
            state.room_waiters += 1;
            state = self.room.wait(state).unwrap_or_else(|e| e.into_inner());
            state.room_waiters -= 1;
        }
    }

    fn pulled_more(&self) {
        if self.lock().room_waiters > 0 {
            self.room.notify_all();
        }
    }

    fn end(&self, total: usize) {
        let mut state = self.lock();
        state.total = Some(total);
        let wake = state.wanted.is_some();
        drop(state);
        if wake {
            self.ready.notify_one();
        }
    }

    fn stopped(&self) {
        self.wake_all();
    }
}

/// Something a pool can stop: the job of an `imap` whose iterator was leaked.
pub(crate) trait Cancel: Send + Sync {
    fn cancel(&self);
}

/// The job of a streaming call, as its consumer sees it.
pub(crate) trait StreamJob<S: Task>: Job<S> + Cancel {
    fn stop(&self) -> &Stop;
    fn stream(&self) -> &Stream<S::Output>;
    fn pulled(&self) -> usize;
}

impl<In, F, O> Cancel for MapJob<In, F, Stream<O>>
where
    In: Input + Send,
    F: Send + Sync,
    O: Send,
{
    fn cancel(&self) {
        self.halt(None);
    }
}

impl<S, In, F> StreamJob<S> for MapJob<In, F, Stream<S::Output>>
where
    S: Task,
    In: Input + Send,
    F: Fn(&mut S, In::Item) -> Result<S::Output, BoxError> + Send + Sync,
{
    fn stop(&self) -> &Stop {
        &self.stop
    }

    fn stream(&self) -> &Stream<S::Output> {
        &self.sink
    }

    fn pulled(&self) -> usize {
        MapJob::pulled(self)
    }
}

/// The iterator of [`Pool::imap`] and [`Pool::imap_unordered`]: yields each
/// task's `Result` as workers finish them, pulling the input lazily.
///
/// A failure is yielded once, then the iterator ends. Dropping it early
/// cancels the rest of the call: the drop waits for the tasks already
/// running (never for the input), and once it returns no task of the call
/// starts and the pool is ready for the next call. A pull of the input
/// still blocked in `next()` ends on its own thread; what it returns is
/// dropped without running.
#[must_use = "an imap iterator does nothing unless consumed"]
pub struct Imap<'p, S: Task> {
    pool: &'p mut Pool<S>,
    job: Option<Arc<dyn StreamJob<S>>>,
    ordered: bool,
    local: std::vec::IntoIter<S::Output>,
    /// Items yielded so far; in input order, the next position.
    yielded: usize,
    /// A failure to yield after the outputs (the call could not start, or
    /// an exit hook failed as it ended).
    last: Option<PoolError>,
}

impl<'p, S: Task> Imap<'p, S> {
    pub(crate) fn start<I>(pool: &'p mut Pool<S>, iter: I, ordered: bool) -> Self
    where
        I: Iterator<Item = S::Input> + Send + 'static,
    {
        let mut imap = Imap {
            pool,
            job: None,
            ordered,
            local: Vec::new().into_iter(),
            yielded: 0,
            last: None,
        };
        match imap.pool.start_stream(iter, ordered) {
            Ok(job) => imap.job = Some(job),
            Err(err) => imap.last = Some(err),
        }
        imap
    }

    /// The most items this iterator pulls from its input ahead of what it
    /// has yielded (plus the chunk it is yielding from): a small multiple of
    /// workers × chunk size. `0` once the call has ended.
    ///
    /// ```
    /// # use pool_core::{BoxError, ExitValue, Pool, PoolError, Task, WorkerContext, WorkerState};
    /// # struct Echo;
    /// # impl WorkerState for Echo {
    /// #     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Echo) }
    /// #     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
    /// # }
    /// # impl Task for Echo {
    /// #     type Input = u64;
    /// #     type Output = u64;
    /// #     fn run(&mut self, x: u64) -> Result<u64, BoxError> { Ok(x) }
    /// # }
    /// let mut pool = Pool::<Echo>::new(2).chunk_size(8);
    /// let stream = pool.imap(0u64..);
    /// assert_eq!(stream.look_ahead(), 4 * 2 * 8);
    /// ```
    pub fn look_ahead(&self) -> usize {
        self.job.as_ref().map_or(0, |job| job.stream().window)
    }

    /// Blocks until outputs, a failure or the end are there.
    fn fetch(&mut self) -> Option<Result<Vec<S::Output>, PoolError>> {
        let job = self.job.as_ref()?;
        let stream = job.stream();
        let mut state = stream.lock();
        let mut spins = 0;
        loop {
            {
                let mut first = job.stop().first();
                let due = match first.as_ref() {
                    Some(err) if self.ordered => err.index().is_none_or(|i| i <= self.yielded),
                    Some(_) => true,
                    None => false,
                };
                if due {
                    return first.take().map(Err);
                }
            }
            let chunk = match &mut state.pending {
                Pending::Ordered(map) => map.remove(&self.yielded),
                Pending::Unordered(queue) => queue.pop_front(),
            };
            if let Some(mut outputs) = chunk {
                if self.ordered {
                    // Outputs at or past a later-recorded failure are not yielded.
                    let keep = job.stop().limit().saturating_sub(self.yielded);
                    if outputs.len() > keep {
                        crate::unwind::drop_quietly(outputs.split_off(keep));
                    }
                }
                stream.take(state, outputs.len(), job.pulled());
                return Some(Ok(outputs));
            }
            if state.total == Some(self.yielded) {
                return None;
            }
            if spins < SPINS_BEFORE_SLEEP {
                // Outputs of cheap tasks arrive within microseconds: look
                // again before paying for a sleep and a wake-up.
                spins += 1;
                drop(state);
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                state = stream.lock();
                continue;
            }
            state.wanted = Some(if self.ordered {
                self.yielded
            } else {
                usize::MAX
            });
            state = stream.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            state.wanted = None;
        }
    }

    /// Ends the call: stops the workers' share and waits for them. A
    /// failure recorded after the last output was taken (an init that
    /// failed late, on a worker that ran no item) is kept for the caller,
    /// then a failure of the exit hooks as the call ends.
    fn finish(&mut self) {
        if let Some(job) = self.job.take() {
            job.cancel();
            self.pool.end_stream();
            if let Some(err) = job.stop().take() {
                self.last.get_or_insert(err);
            }
            if let Err(err) = self.pool.end_call() {
                self.last.get_or_insert(err);
            }
            // The outputs and items a stopped call drops are the user's: a
            // panic there must not replace the failure being yielded.
            crate::unwind::drop_quietly(job);
        }
    }
}

impl<S: Task> Iterator for Imap<'_, S> {
    type Item = Result<S::Output, PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(out) = self.local.next() {
                self.yielded += 1;
                return Some(Ok(out));
            }
            match self.fetch() {
                Some(Ok(outputs)) => self.local = outputs.into_iter(),
                Some(Err(err)) => {
                    self.finish();
                    self.last = None;
                    return Some(Err(err));
                }
                None => {
                    self.finish();
                    return self.last.take().map(Err);
                }
            }
        }
    }
}

impl<S: Task> Drop for Imap<'_, S> {
    fn drop(&mut self) {
        // A failure of the exit hooks has no one left to go to.
        self.finish();
    }
}

impl<S: Task> fmt::Debug for Imap<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap")
            .field("ordered", &self.ordered)
            .field("yielded", &self.yielded)
            .field("finished", &self.job.is_none())
            .finish_non_exhaustive()
    }
}
