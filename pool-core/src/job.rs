//! A call's work: the input source, the deques that spread its chunks, the
//! task to run on each item, where outputs go and how a failure stops it.

use std::alloc::Layout;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};

use crate::input::{Chunk, ChunkPolicy, Fed, Input, Lent, Pull};
use crate::unwind::{catch, drop_quietly};
use crate::worker::Worker;
use crate::{BoxError, PoolError, WorkerState};

/// What a worker runs when a call reaches it.
pub(crate) trait Job<S>: Sync {
    /// Runs this worker's share, returning when no work is left for it.
    fn execute(&self, worker: &mut Worker<S>);
    /// Records a failure and stops the job accordingly.
    fn fail(&self, err: PoolError);
}

/// Which items still run once something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// Nothing new starts (`map`, `map_unordered`, `imap_unordered`).
    All,
    /// Items before the failure still run, so that they can be yielded
    /// ahead of it (`imap`).
    After,
}

/// The first failure of a job and the position from which items are dropped.
pub(crate) struct Stop {
    /// Items at or past this position do not start. Workers read it before
    /// each block of items (about a microsecond of work, see
    /// `Sizer::block_len`): a block under way when it moves runs to its end,
    /// as a running task would.
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
    pub(crate) fn is_stopped(&self) -> bool {
        self.limit() == 0
    }

    /// Keeps `err` if it is the earliest in input order so far.
    pub(crate) fn fail(&self, err: PoolError) {
        let mut first = self.first();
        let limit = match (self.mode, err.index()) {
            (StopMode::After, Some(index)) => index,
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
        crate::unwind::drop_quietly(loser);
    }

    /// Stops without a failure (an abandoned `imap`).
    pub(crate) fn cancel(&self) {
        self.limit.store(0, Ordering::Release);
    }

    pub(crate) fn first(&self) -> MutexGuard<'_, Option<PoolError>> {
        self.first.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn take(&self) -> Option<PoolError> {
        self.first().take()
    }
}

/// The outputs of one chunk, on their way to a [`Sink`]. Workers write
/// outputs straight into the run's memory, a window at a time, so that the
/// per-item path keeps its cursor in a register.
pub(crate) trait Run<O> {
    /// Room for the next outputs, in a row: the slot of the next output and
    /// how many slots follow from it (at least one, and at least `want` unless
    /// the run has a fixed end nearer than that).
    fn window(&mut self, want: usize) -> (*mut O, usize);
    /// Takes the outputs written into the first `n` slots of the last window.
    ///
    /// # Safety
    /// Those `n` slots (no more than the window's length) were written, and
    /// nothing else happened to the run since [`Run::window`].
    unsafe fn commit(&mut self, n: usize);
    /// Outputs taken so far.
    fn pushed(&self) -> usize;
    /// Takes the output of the chunk's next item.
    #[cfg(test)]
    fn push(&mut self, output: O) {
        let (slot, _) = self.window(1);
        // SAFETY: a window holds at least one slot, written here and taken
        // right after.
        unsafe {
            slot.write(output);
            self.commit(1);
        }
    }
}

/// Where a job's outputs go.
pub(crate) trait Sink<O>: Sync {
    /// How a chunk hands in its outputs.
    type Run: Run<O>;
    /// Starts the outputs of the chunk of `len` items from position `start`.
    fn open(&self, start: usize, len: usize) -> Self::Run;
    /// Takes a chunk's outputs (fewer than its items if it stopped early).
    fn deliver(&self, run: Self::Run);
    /// Gets ready for the call, before any chunk opens. `lend` hands over
    /// the input's own buffer where it can (a vector's, when it holds `len`
    /// items of `layout`): the outputs may take the slots its items leave.
    fn prepare(&mut self, _lend: &mut dyn FnMut(Layout, usize) -> Option<Lent>) {}
    /// How many more items may be pulled while `pulled` have been.
    fn room(&self, _pulled: usize) -> usize {
        usize::MAX
    }
    /// Blocks while the look-ahead window is full and `pulled` is unchanged.
    fn wait_for_room(&self, _input_pulled: &dyn Fn() -> usize, _pulled: usize, _stop: &Stop) {}
    /// A pull cut new chunks: waiting workers may find some to steal.
    fn pulled_more(&self) {}
    /// The input turned out to hold `total` items.
    fn end(&self, _total: usize) {}
    /// The job stopped (a failure or a cancel): wake whoever waits.
    fn stopped(&self) {}
}

/// Settings a job takes from the pool at the time of the call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobConfig {
    pub(crate) n_workers: usize,
    pub(crate) lifespan: Option<usize>,
    pub(crate) chunks: ChunkPolicy,
    pub(crate) stop: StopMode,
}

/// Items a feeder pulls between two looks at its room.
const FEED_BATCH: usize = 1024;

/// Rounds a worker spins while a peer finishes a claim, before it yields.
const SPIN_ROUNDS: u32 = 64;

type OwnDeque<C> = Mutex<Option<Deque<C>>>;

/// Runs `task` over every item of an input, spreading chunks through an
/// injector and per-worker deques, stealing when a worker runs dry.
///
/// Fields drop in order: the chunks (in the injector and deques) before the
/// input they may point into.
pub(crate) struct MapJob<In: Input, F, K> {
    injector: Injector<In::Chunk>,
    /// Each worker's own deque, taken by that worker when the job reaches it.
    deques: Vec<OwnDeque<In::Chunk>>,
    stealers: Vec<Stealer<In::Chunk>>,
    input: In,
    task: F,
    lifespan: Option<usize>,
    pub(crate) stop: Stop,
    pub(crate) sink: K,
}

impl<In: Input, F, K> MapJob<In, F, K> {
    pub(crate) fn new<O>(input: In, task: F, sink: K, config: JobConfig) -> Self
    where
        K: Sink<O>,
    {
        let deques: Vec<_> = (0..config.n_workers).map(|_| Deque::new_fifo()).collect();
        let stealers = deques.iter().map(Deque::stealer).collect();
        let mut job = MapJob {
            input,
            injector: Injector::new(),
            deques: deques.into_iter().map(|d| Mutex::new(Some(d))).collect(),
            stealers,
            task,
            lifespan: config.lifespan,
            stop: Stop::new(config.stop),
            sink,
        };
        // Once both are in the job, which drops the input before the sink:
        // a buffer lent by the input is freed by the sink, after the input
        // (and its chunks) dropped the items left in it.
        let input = &mut job.input;
        job.sink.prepare(&mut |layout, len| input.lend(layout, len));
        job
    }

    /// Items pulled from the input so far.
    pub(crate) fn pulled(&self) -> usize {
        self.input.pulled()
    }

    /// The next chunk for worker `me`: its own deque first, then the
    /// injector, then its peers, then a fresh pull from the input.
    fn find_chunk<O>(&self, me: usize, local: &Deque<In::Chunk>) -> Option<In::Chunk>
    where
        K: Sink<O>,
    {
        // Rounds spent waiting for a peer that holds the input: spinning
        // briefly beats sleeping on its lock, as it is about to share chunks.
        let mut busy = 0u32;
        loop {
            if self.stop.is_stopped() {
                return None;
            }
            // Read before the scan: once exhausted, every chunk ever cut is
            // already in a deque, so an empty scan means the end.
            let exhausted = self.input.is_exhausted();
            let pulled = self.input.pulled();
            if let Some(chunk) = local.pop().or_else(|| self.steal(me, local)) {
                return Some(chunk);
            }
            if exhausted {
                return None;
            }
            let room = |pulled| self.sink.room(pulled);
            let end = |total| self.sink.end(total);
            match self
                .input
                .pull(me, &self.injector, room, self.stop.limit(), end)
            {
                Pull::Chunk(chunk) => {
                    self.sink.pulled_more();
                    return Some(chunk);
                }
                Pull::Exhausted => {}
                Pull::Busy => {
                    busy += 1;
                    if busy < SPIN_ROUNDS {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                Pull::NoRoom => {
                    self.sink
                        .wait_for_room(&|| self.input.pulled(), pulled, &self.stop)
                }
                Pull::Empty => self.input.wait_for_items(&|| self.stop.is_stopped()),
            }
        }
    }

    fn steal(&self, me: usize, local: &Deque<In::Chunk>) -> Option<In::Chunk> {
        loop {
            let mut retry = false;
            match self.injector.steal_batch_and_pop(local) {
                Steal::Success(chunk) => return Some(chunk),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let n = self.stealers.len();
            for peer in (1..n).map(|k| (me + k) % n) {
                match self.stealers[peer].steal() {
                    Steal::Success(chunk) => return Some(chunk),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }
}

impl<S, In, F, K, O> Job<S> for MapJob<In, F, K>
where
    S: WorkerState,
    In: Input,
    F: Fn(&mut S, In::Item) -> Result<O, BoxError> + Sync,
    K: Sink<O>,
{
    fn execute(&self, worker: &mut Worker<S>) {
        // Every worker starts its life before the call can end, so an init
        // failure is this call's error.
        if let Err(err) = worker.ensure_life() {
            self.fail(err);
            return;
        }
        let me = worker.id();
        let Some(local) = self.deques[me]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let report = |err| self.fail(err);
        while let Some(chunk) = self.find_chunk(me, &local) {
            let len = chunk.size_hint().0;
            let mut run = self.sink.open(chunk.start(), len);
            let (lifespan, started) = (self.lifespan, Instant::now());
            let block = self.input.sizer().block_len();
            worker.run_chunk(
                chunk, lifespan, block, &self.stop, &self.task, &mut run, &report,
            );
            self.input.sizer().record(len, started.elapsed());
            self.sink.deliver(run);
        }
    }

    fn fail(&self, err: PoolError) {
        self.halt(Some(err));
    }
}

impl<In: Input, F, K> MapJob<In, F, K> {
    /// Stops the job, on `failure` or (with none) as cancelled, and wakes
    /// every thread waiting on it.
    pub(crate) fn halt<O>(&self, failure: Option<PoolError>)
    where
        K: Sink<O>,
    {
        match failure {
            Some(err) => self.stop.fail(err),
            None => self.stop.cancel(),
        }
        self.sink.stopped();
        self.input.wake();
    }
}

impl<T: Send, F, K> MapJob<Fed<T>, F, K> {
    /// Pulls `iter` on this thread, publishing each item to the workers as
    /// it comes, until the input ends, the job stops or the input panics.
    /// How far it runs ahead of the workers is bounded by the input's room
    /// and by the sink's (the look-ahead window of a stream). The item a
    /// pull returns after the job stopped is dropped without running, and
    /// the feeding ends there (the input is dropped).
    /// Never unwinds: a panic of the input is the job's failure.
    pub(crate) fn feed<I, O>(&self, iter: I)
    where
        I: Iterator<Item = T>,
        K: Sink<O>,
    {
        let Some(feeder) = self.input.feeder() else {
            return;
        };
        let stopped = || self.stop.is_stopped();
        // The feeder and the iterator move in, so that the loop keeps them
        // in registers; the iterator comes back out to be dropped apart.
        let pulled = catch(move || {
            let (mut feeder, mut iter) = (feeder, iter);
            let ended = 'pull: loop {
                let pos = feeder.pos();
                let limit = self.stop.limit();
                if pos >= limit {
                    break false;
                }
                let (ahead, window) = (self.input.room(pos), self.sink.room(pos));
                if ahead == 0 {
                    self.input.wait_for_room(pos, &stopped);
                    continue;
                }
                if window == 0 {
                    self.sink.wait_for_room(&|| pos, pos, &self.stop);
                    continue;
                }
                for _ in 0..ahead.min(window).min(limit - pos).min(FEED_BATCH) {
                    let Some(item) = iter.next() else {
                        break 'pull true;
                    };
                    // A pull that returns after the job stopped (a dropped
                    // `imap` whose input blocked) ends the feeding at once.
                    if feeder.pos() >= self.stop.limit() {
                        drop_quietly(item);
                        break 'pull false;
                    }
                    feeder.push(item);
                }
            };
            (ended, iter)
        });
        // Every item pulled was published: this is the next position.
        let total = self.input.published();
        self.input.finish();
        match pulled {
            Ok((ended, iter)) => {
                if ended {
                    self.sink.end(total);
                }
                if let Err(message) = catch(move || drop(iter)) {
                    self.halt(Some(PoolError::Input {
                        index: None,
                        message,
                    }));
                }
            }
            Err(message) => self.halt(Some(PoolError::Input {
                index: Some(total),
                message,
            })),
        }
    }
}
