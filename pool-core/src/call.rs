//! The unit the crew hands to every worker: one call of the pool (a `map`,
//! an `imap`, ...). A [`MapCall`] runs a task over every item of an input:
//! workers claim chunks (its own deque first, then the injector, then their
//! peers', then a fresh pull from the input), run them with their state and
//! hand the outputs to the call's sink.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crossbeam_deque::{Steal, Stealer, Worker as Deque};
use crossbeam_utils::Backoff;

use crate::input::{
    Chunk, ChunkPolicy, Dealt, DealtFeed, Feedable, Injected, Input, Publish, Pull, Room,
};
use crate::progress::Progress;
use crate::sink::{Held, Sink, Stream};
use crate::stop::{Stop, StopMode};
use crate::sync::{lock, AbortIfPanic};
use crate::unwind::{catch, drop_quietly};
use crate::worker::Worker;
use crate::{BoxError, PoolError, WorkerContext, WorkerState};

/// What a worker runs when a call reaches it: the crew hands each call to
/// every worker (see `crew.rs`).
pub(crate) trait Call<S: WorkerState>: Sync {
    /// Runs this worker's share, returning when no work is left for it.
    /// `seat` is the order in which the worker took the call, from `0`: a
    /// call with work for `k` workers gives seats `0..k` their own deque
    /// and part of the input, so that what it builds grows with `k`, not
    /// with the crew (see `Crew::takers`).
    fn execute(&self, worker: &mut Worker<S>, seat: usize);
    /// Stops the call: on `failure`, kept if it is the earliest; with none,
    /// as cancelled (a dropped `imap`). Wakes every thread waiting on it.
    fn halt(&self, failure: Option<PoolError>);
    /// Wakes the workers waiting inside the call, for a job was queued
    /// (see `Worker::run_jobs`).
    fn wake_for_jobs(&self) {}
}

/// A streaming call as its consumer (an `Imap`) sees it.
pub(crate) trait StreamingCall<S: WorkerState, O>: Call<S> + Send {
    /// The next outputs for a consumer that yielded `yielded` items (see
    /// `Stream::next_outputs`).
    fn next_outputs(&self, yielded: usize) -> Option<Result<Vec<O>, PoolError>>;
    /// The first failure, taken out.
    fn take_failure(&self) -> Option<PoolError>;
    /// The look-ahead window's length, in items.
    fn look_ahead(&self) -> usize;
}

/// Settings a call takes from the pool when it starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallConfig {
    /// The crew's workers; for a blocking call, the workers it has work
    /// for: its seats (see [`Call::execute`]).
    pub(crate) n_workers: usize,
    pub(crate) lifespan: Option<usize>,
    pub(crate) chunks: ChunkPolicy,
    pub(crate) stop: StopMode,
    /// How far the input is pulled ahead: of the consumer for a streaming
    /// call (its window), of the workers' claims for a fed input.
    pub(crate) read_ahead: usize,
}

/// Items a feeder pulls between two looks at its room.
const FEED_BATCH: usize = 1024;

/// A worker times one chunk in this many (its first in each call among
/// them) to measure the cost of an item (see `Sizer::record`): two clock
/// reads cost about 50 ns on a virtual machine, and a whole chunk of one
/// nanosecond item costs the pool about 70 ns with them timed one in four
/// (BENCHMARKS.md, group 13).
const TIMED_CHUNKS: usize = 4;

type OwnDeque<C> = Mutex<Option<Deque<C>>>;

/// Runs `task` over every item of an input, spreading chunks through an
/// injector and per-worker deques, stealing when a worker runs dry.
///
/// Chunks may point into the input (a vector's items): its `Drop` empties
/// the queues before any field drops. The sink of a blocking call is
/// borrowed (`K = &Slots<O>`), so that it outlives the input by
/// construction: it may own the input's buffer (see `Slots::new`).
pub(crate) struct MapCall<In: Input, F, K> {
    injector: Injected<In::Chunk>,
    /// Each seat's own deque (see [`Call::execute`]), taken by the worker in
    /// that seat when the call reaches it: one per worker the call has work
    /// for. Made up front for a dealt input, whose seats are the worker ids;
    /// otherwise by a worker when it first takes chunks from the injector,
    /// which is the only way into its deque: a call whose input pushes no
    /// chunk there allocates no deque (a crossbeam deque allocates a buffer
    /// of 64 chunks, which cost a small call about 1 µs a worker).
    deques: Vec<OwnDeque<In::Chunk>>,
    stealers: Vec<OnceLock<Stealer<In::Chunk>>>,
    input: In,
    task: F,
    lifespan: Option<usize>,
    /// Whether a worker whose deque is empty takes chunks from its peers'
    /// and the injector (off for a dealt input: each item has its worker).
    stealing: bool,
    pub(crate) stop: Stop,
    pub(crate) sink: K,
    /// The call's progress bar, where the pool shows one.
    progress: Progress,
}

impl<In: Input, F, K> Drop for MapCall<In, F, K> {
    fn drop(&mut self) {
        // The chunks left (a halted call's) drop their items here, before
        // the input they may point into drops with the other fields.
        if let Some(injector) = self.injector.get() {
            while !injector.steal().is_empty() {}
        }
        for deque in &mut self.deques {
            if let Some(deque) = crate::sync::get_mut(deque).take() {
                while deque.pop().is_some() {}
            }
        }
    }
}

impl<In: Input, F, K> MapCall<In, F, K> {
    pub(crate) fn new(input: In, task: F, sink: K, config: CallConfig) -> Self {
        let deques = (0..config.n_workers).map(|_| Mutex::new(None)).collect();
        let stealers = (0..config.n_workers).map(|_| OnceLock::new()).collect();
        MapCall {
            input,
            injector: Injected::new(),
            deques,
            stealers,
            task,
            lifespan: config.lifespan,
            stealing: true,
            stop: Stop::new(config.stop),
            sink,
            progress: Progress::default(),
        }
    }

    /// This call, with `progress` counting the items of each chunk it
    /// finishes.
    pub(crate) fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// The next chunk for worker `me`: its own deque first, then the
    /// injector, then its peers, then a fresh pull from the input.
    fn find_chunk<O>(
        &self,
        me: usize,
        local: &mut Option<Deque<In::Chunk>>,
        jobs: &dyn Fn() -> bool,
    ) -> Found<In::Chunk>
    where
        K: Sink<O>,
    {
        let window = self.sink.window();
        // Backs off while a peer that holds the input cuts chunks: spinning
        // briefly beats sleeping, as it is about to share them.
        let busy = Backoff::new();
        loop {
            if self.stop.is_halted() {
                return Found::End;
            }
            if jobs() {
                return Found::Jobs;
            }
            // Read before the scan: once exhausted, every chunk ever cut is
            // already in a deque, so an empty scan means the end.
            let exhausted = self.input.is_exhausted(me);
            // Only a window needs the count (see `Room`).
            let pulled = window.map(|_| self.input.pulled());
            let popped = local.as_ref().and_then(Deque::pop);
            let found = match popped {
                Some(chunk) => Some(chunk),
                None if self.stealing => self.steal(me, local),
                None => None,
            };
            if let Some(chunk) = found {
                return Found::Chunk(chunk);
            }
            if exhausted {
                return Found::End;
            }
            let free = window.map(|w| move |pulled| w.free(pulled));
            let room: Room<'_> = free.as_ref().map(|f| f as &dyn Fn(usize) -> usize);
            let end = |total| self.sink.end(total);
            match self
                .input
                .pull(me, &self.injector, room, self.stop.limit(), end)
            {
                Pull::Chunk(chunk) => {
                    // Peers waiting for room may steal what this pull cut
                    // (a dealt pull cuts nothing for a peer).
                    if let (Some(window), true) = (window, self.stealing) {
                        window.wake();
                    }
                    return Found::Chunk(chunk);
                }
                Pull::Exhausted => {}
                Pull::Busy => busy.snooze(),
                Pull::NoRoom => {
                    if let (Some(window), Some(pulled)) = (window, pulled) {
                        window.wait_for_room(&|| self.input.pulled(), pulled, &self.stop, jobs);
                    }
                }
                Pull::Empty => self
                    .input
                    .wait_for_items(me, &|| self.stop.is_halted() || jobs()),
            }
        }
    }

    fn steal(&self, me: usize, local: &mut Option<Deque<In::Chunk>>) -> Option<In::Chunk> {
        loop {
            let mut retry = false;
            if let Some(injector) = self.injector.get() {
                let local = local.get_or_insert_with(|| {
                    let made = Deque::new_fifo();
                    // Set once: a worker runs its share of a call once.
                    let _ = self.stealers[me].set(made.stealer());
                    made
                });
                match injector.steal_batch_and_pop(local) {
                    Steal::Success(chunk) => return Some(chunk),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            let n = self.stealers.len();
            for peer in (1..n).map(|k| (me + k) % n) {
                let Some(stealer) = self.stealers[peer].get() else {
                    continue; // takes no part, or not yet
                };
                match stealer.steal() {
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

    /// Stops the call (see [`Call::halt`]).
    pub(crate) fn halt<O>(&self, failure: Option<PoolError>)
    where
        K: Sink<O>,
    {
        self.stop.halt(failure);
        self.sink.halted();
        self.input.wake();
    }
}

impl<S, In, F, K, O> Call<S> for MapCall<In, F, K>
where
    S: WorkerState,
    In: Input,
    F: Fn(&mut S, In::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Sync,
    K: Sink<O>,
{
    fn execute(&self, worker: &mut Worker<S>, seat: usize) {
        // Every worker starts its life before the call can end, so an init
        // failure is this call's error.
        if let Err(err) = worker.ensure_life() {
            if !worker.is_abandoned() {
                MapCall::halt(self, Some(err));
            }
            return;
        }
        // A dealt call keeps each item to its worker: its deques are by
        // worker id. Any other is seated in the order its workers took it.
        let me = if self.stealing { seat } else { worker.id() };
        debug_assert!(me < self.deques.len(), "seat {me} of {}", self.deques.len());
        // Only a dealt call's deques are made before it starts.
        let mut local = if self.stealing {
            None
        } else {
            lock(&self.deques[me]).take()
        };
        let report = |err| MapCall::halt(self, Some(err));
        let mut held = Held::default();
        let mut ran = 0usize;
        loop {
            let chunk = match self.find_chunk(me, &mut local, &|| worker.has_jobs()) {
                Found::Chunk(chunk) => chunk,
                Found::Jobs => {
                    worker.run_jobs();
                    continue;
                }
                Found::End => break,
            };
            let len = chunk.size_hint().0;
            let mut outputs = self.sink.open(chunk.start(), len);
            let started = (ran % TIMED_CHUNKS == 0).then(Instant::now);
            ran += 1;
            let lifespan = self.lifespan;
            let block = self.input.sizer().block_len();
            worker.run_chunk(
                chunk,
                lifespan,
                block,
                &self.stop,
                &self.task,
                &mut outputs,
                &report,
            );
            if worker.is_abandoned() {
                // Left behind by a timeout, which failed the call: these
                // outputs go nowhere. The run held is handed in, for the
                // sink (alive: an abandoned worker holds its call) to drop.
                drop_quietly(outputs);
                self.sink.release(&mut held);
                return;
            }
            if let Some(started) = started {
                self.input.sizer().record(len, started.elapsed());
            }
            self.sink.deliver_held(outputs, &mut held);
            self.progress.inc(len);
        }
        self.sink.release(&mut held);
        worker.flush_insights();
    }

    fn halt(&self, failure: Option<PoolError>) {
        MapCall::halt(self, failure);
    }

    fn wake_for_jobs(&self) {
        self.input.wake();
        if let Some(window) = self.sink.window() {
            window.wake();
        }
    }
}

/// What a worker found to do next inside a call.
enum Found<C> {
    Chunk(C),
    /// Jobs are queued: run them, then look again.
    Jobs,
    /// Nothing more for this worker.
    End,
}

impl<S, In, F, O> StreamingCall<S, O> for MapCall<In, F, Stream<O>>
where
    S: WorkerState,
    In: Input + Send,
    F: Fn(&mut S, In::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Send + Sync,
    O: Send,
{
    fn next_outputs(&self, yielded: usize) -> Option<Result<Vec<O>, PoolError>> {
        self.sink
            .next_outputs(yielded, &self.stop, || self.input.pulled())
    }

    fn take_failure(&self) -> Option<PoolError> {
        self.stop.take()
    }

    fn look_ahead(&self) -> usize {
        self.sink.window().map_or(0, |w| w.len())
    }
}

impl<T: Send, F, K> MapCall<Dealt<T>, F, K> {
    /// A call whose item `i` runs on worker `i % n_workers`, after the
    /// others of that worker with a lower position (see `input/dealt.rs`).
    pub(crate) fn dealt(input: Dealt<T>, task: F, sink: K, config: CallConfig) -> Self {
        let mut call = MapCall::new(input, task, sink, config);
        {
            let made: Vec<Deque<_>> = (0..config.n_workers).map(|_| Deque::new_fifo()).collect();
            for (stealer, deque) in call.stealers.iter().zip(&made) {
                let _ = stealer.set(deque.stealer());
            }
            call.input.deal(&made.iter().collect::<Vec<_>>());
            for (slot, deque) in call.deques.iter().zip(made) {
                *lock(slot) = Some(deque);
            }
        }
        call.stealing = false;
        call
    }
}

impl<T: Send, F, K> MapCall<DealtFeed<T>, F, K> {
    /// A streaming call whose item `i` runs on worker `i % n_workers`, as
    /// its feeder deals it (see `input/dealt.rs`).
    pub(crate) fn dealt_feed(input: DealtFeed<T>, task: F, sink: K, config: CallConfig) -> Self {
        let mut call = MapCall::new(input, task, sink, config);
        call.stealing = false;
        call
    }
}

impl<In: Feedable, F, K> MapCall<In, F, K> {
    /// One turn of a feeding done in turns by the consumer's thread (the
    /// input of a streaming call that borrows): pulls `iter` while the call
    /// has room, publishing each item, then parks the publisher and returns
    /// without waiting. Returns `true` once the feeding ended (the input
    /// ran out, panicked, or the call halted; `iter` is then dropped, a
    /// panic of its `Drop` failing the call), after which turns do nothing.
    ///
    /// Between turns no item waits for a later one: every pulled item is
    /// published. A turn leaves either the feeding ended or an item
    /// published that the consumer did not yet take (the window or the
    /// input's room is full), so the consumer's next wait has an output to
    /// wait for.
    pub(crate) fn feed_turn<I, O>(&self, iter: &mut Option<I>) -> bool
    where
        I: Iterator<Item = In::Item>,
        K: Sink<O>,
    {
        let Some(source) = iter.as_mut() else {
            return true;
        };
        let Some(mut publisher) = self.input.publisher() else {
            return true;
        };
        let window = self.sink.window();
        // `Some(ran_out)` once the feeding ends, `None` to park.
        let turn = catch(|| loop {
            let pos = publisher.pos();
            let limit = self.stop.limit();
            if pos >= limit {
                return Some(false);
            }
            let room = self.input.room(pos);
            let free = window.map_or(usize::MAX, |w| w.free(pos));
            let batch = room.min(free).min(limit - pos).min(FEED_BATCH);
            if batch == 0 {
                return None;
            }
            for _ in 0..batch {
                let Some(item) = source.next() else {
                    return Some(true);
                };
                publisher.push(item);
            }
        });
        if let Ok(None) = turn {
            publisher.park();
            return false;
        }
        drop(publisher);
        // As in `feed`: the workers wait for items until the feeding ends.
        let abort = AbortIfPanic("ending the feeding of an input");
        let total = self.input.published();
        self.input.end_feeding();
        match turn {
            Ok(ended) => {
                if ended == Some(true) {
                    self.sink.end(total);
                }
                let source = iter.take();
                if let Err(caught) = catch(move || drop(source)) {
                    self.halt(Some(PoolError::Input {
                        index: None,
                        message: caught.message,
                        payload: caught.payload,
                    }));
                }
            }
            Err(caught) => {
                // What a panicking input drops is the user's; its panic is
                // the failure to report.
                drop_quietly(iter.take());
                self.halt(Some(PoolError::Input {
                    index: Some(total),
                    message: caught.message,
                    payload: caught.payload,
                }));
            }
        }
        abort.disarm();
        true
    }

    /// Pulls `iter` on this thread, publishing each item to the workers as
    /// it comes, until the input ends, the call halts or the input panics.
    /// How far it runs ahead of the workers is bounded by the input's room
    /// and by the sink's window (the look-ahead of a stream). The item a
    /// pull returns after the call halted is dropped without running, and
    /// the feeding ends there (the input is dropped).
    /// Never unwinds: a panic of the input is the call's failure.
    pub(crate) fn feed<I, O>(&self, iter: I)
    where
        I: Iterator<Item = In::Item>,
        K: Sink<O>,
    {
        let Some(publisher) = self.input.publisher() else {
            return;
        };
        let window = self.sink.window();
        let halted = || self.stop.is_halted();
        // The publisher and the iterator move in, so that the loop keeps
        // them in registers; the iterator comes back out to be dropped apart.
        let pulled = catch(move || {
            let (mut publisher, mut iter) = (publisher, iter);
            let ended = 'pull: loop {
                let pos = publisher.pos();
                let limit = self.stop.limit();
                if pos >= limit {
                    break false;
                }
                let ahead = self.input.room(pos);
                let free = window.map_or(usize::MAX, |w| w.free(pos));
                if ahead == 0 {
                    self.input.wait_for_room(pos, &halted);
                    continue;
                }
                if let (0, Some(window)) = (free, window) {
                    window.wait_for_room(&|| pos, pos, &self.stop, &|| false);
                    continue;
                }
                for _ in 0..ahead.min(free).min(limit - pos).min(FEED_BATCH) {
                    let Some(item) = iter.next() else {
                        break 'pull true;
                    };
                    // A pull that returns after the call halted (a dropped
                    // `imap` whose input blocked) ends the feeding at once.
                    if publisher.pos() >= self.stop.limit() {
                        drop_quietly(item);
                        break 'pull false;
                    }
                    publisher.push(item);
                }
            };
            (ended, iter)
        });
        // The workers wait for items until the feeding ends: an unwind from
        // here on would leave them waiting for ever.
        let abort = AbortIfPanic("ending the feeding of an input");
        // Every item pulled was published: this is the next position.
        let total = self.input.published();
        self.input.end_feeding();
        match pulled {
            Ok((ended, iter)) => {
                if ended {
                    self.sink.end(total);
                }
                if let Err(caught) = catch(move || drop(iter)) {
                    self.halt(Some(PoolError::Input {
                        index: None,
                        message: caught.message,
                        payload: caught.payload,
                    }));
                }
            }
            Err(caught) => self.halt(Some(PoolError::Input {
                index: Some(total),
                message: caught.message,
                payload: caught.payload,
            })),
        }
        abort.disarm();
    }
}
