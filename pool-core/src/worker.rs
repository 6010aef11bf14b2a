//! One worker's side of the lifecycle: its state, its lives, its task count.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::input::{Chunk, OneItem};
use crate::insights::{Activity, Recording, Timing};
use crate::sink::{ChunkOutputs, VecOutputs};
use crate::stop::{Stop, StopMode};
use crate::sync::lock;
use crate::trace;
use crate::unwind::{catch, drop_quietly, Caught};
use crate::watch::{OnAbandon, Ticket, Watch};
use crate::{BoxError, ExitValue, PanicSite, Phase, PoolError, WorkerContext, WorkerState};

/// Exit hook outputs, shared by the pool and its workers until
/// `Pool::exit_results` drains them.
pub(crate) type ExitStore = Arc<Mutex<Vec<ExitValue>>>;

/// A task submitted through a handle: owned, run once by one worker on
/// its state, reporting to its handle by itself.
pub(crate) type Job<S> = Box<dyn FnOnce(&mut Worker<S>) + Send>;

/// Where a worker finds queued jobs (its crew's queue).
pub(crate) trait JobQueue<S: WorkerState>: Send + Sync {
    /// Whether a job is queued (a hint, read without a lock).
    fn has_jobs(&self) -> bool;
    /// The oldest queued job.
    fn next_job(&self) -> Option<Job<S>>;
}

/// The most jobs a worker runs between two chunks of a call: a flood of
/// submissions slows a call down, never stops it.
const JOBS_BETWEEN_CHUNKS: usize = 64;

/// The thread-local half of a worker: owns the state of the current life.
/// Never leaves its thread, so `S` needs not be `Send`.
pub(crate) struct Worker<S: WorkerState> {
    ctx: WorkerContext<S::Shared>,
    state: Option<S>,
    tasks_in_life: usize,
    exits: ExitStore,
    /// Where this worker marks the user code it runs, when the pool has
    /// time limits (see `watch.rs`).
    watch: Option<Arc<Watch>>,
    /// Its crew's job queue, for jobs run between the chunks of a call.
    jobs: Option<Arc<dyn JobQueue<S>>>,
    /// Lives started on this thread, and the span of the current one.
    lives: u64,
    life_span: trace::Span,
    /// What it measures for the insights, where the pool collects them.
    timing: Option<Timing>,
}

impl<S: WorkerState> Worker<S> {
    pub(crate) fn new(
        ctx: WorkerContext<S::Shared>,
        exits: ExitStore,
        watch: Option<Arc<Watch>>,
        jobs: Option<Arc<dyn JobQueue<S>>>,
        recording: Option<Arc<Recording>>,
    ) -> Self {
        let worker_id = ctx.worker_id();
        Worker {
            ctx,
            state: None,
            tasks_in_life: 0,
            exits,
            watch,
            jobs,
            lives: 0,
            life_span: trace::none(),
            timing: recording.map(|recording| Timing::new(recording, worker_id)),
        }
    }

    /// Sets the call (its number within the crew) whose tasks this worker
    /// runs next, for the insights; `None` for a handle's job.
    #[inline]
    pub(crate) fn set_call(&mut self, call: Option<u64>) -> Option<u64> {
        self.timing
            .as_mut()
            .and_then(|timing| timing.set_call(call))
    }

    /// Notes for the insights that this worker's thread ends.
    pub(crate) fn thread_ended(&mut self) {
        if let Some(timing) = &mut self.timing {
            timing.thread_ended();
        }
    }

    /// Notes for the insights that a hook ran from `start` to now.
    #[inline]
    fn hook_ran(&mut self, activity: Activity, start: Option<Instant>) {
        if let (Some(timing), Some(start)) = (&mut self.timing, start) {
            timing.hook(activity, start);
        }
    }

    /// The clock, where the insights need it.
    #[inline]
    fn clock(&self) -> Option<Instant> {
        self.timing.as_ref().map(|_| Instant::now())
    }

    /// Whether jobs wait that this worker would run between two chunks of
    /// a call (see [`Worker::run_jobs`]).
    #[inline]
    pub(crate) fn has_jobs(&self) -> bool {
        self.watch.is_none() && self.jobs.as_ref().is_some_and(|jobs| jobs.has_jobs())
    }

    /// Runs queued jobs (a few dozen at most) from inside a call, between
    /// two of its chunks or while it waits for its input or its consumer:
    /// a handle's task then never waits for the call to end. Not where
    /// the pool has time limits: a job given up on inside a call would
    /// leave the call without its acknowledgement, so there jobs wait for
    /// the worker to be between calls.
    pub(crate) fn run_jobs(&mut self) {
        if self.watch.is_some() {
            return;
        }
        let Some(jobs) = self.jobs.clone() else {
            return;
        };
        let call = self.set_call(None);
        for _ in 0..JOBS_BETWEEN_CHUNKS {
            match jobs.next_job() {
                Some(job) => job(self),
                None => break,
            }
        }
        self.set_call(call);
    }

    pub(crate) fn id(&self) -> usize {
        self.ctx.worker_id()
    }

    /// Whether the watchdog abandoned this worker: its user code ran past
    /// its limit. Such a worker touches nothing of its call or job again:
    /// its thread drops what it holds and ends.
    #[inline]
    pub(crate) fn is_abandoned(&self) -> bool {
        self.watch
            .as_ref()
            .is_some_and(|watch| watch.is_abandoned())
    }

    /// Sets what an abandonment of this worker fails (see [`Watch::arm`]),
    /// where the pool has time limits; returns whether it was set.
    pub(crate) fn arm(&self, on_abandon: impl FnOnce() -> OnAbandon) -> bool {
        match &self.watch {
            Some(watch) => {
                watch.arm(on_abandon());
                true
            }
            None => false,
        }
    }

    /// Clears what [`Worker::arm`] set.
    pub(crate) fn disarm(&self) {
        if let Some(watch) = &self.watch {
            watch.clear();
        }
    }

    /// Marks the start of user code in `phase`, where it has a limit.
    #[inline]
    fn watch_start(&self, phase: Phase, index: Option<usize>) -> Option<Ticket> {
        self.watch.as_ref()?.start(phase, index)
    }

    /// Marks the end of the watched run `ticket`: `false` if this worker
    /// was abandoned meanwhile.
    #[inline]
    fn watch_finish(&self, ticket: Option<Ticket>) -> bool {
        match (ticket, &self.watch) {
            (Some(ticket), Some(watch)) => watch.finish(ticket),
            _ => true,
        }
    }

    /// The failure an abandoned worker's own code returns: the call or job
    /// it worked for was already failed with the same, by the watchdog.
    fn abandoned(&self, phase: Phase, index: Option<usize>) -> PoolError {
        PoolError::Timeout {
            phase,
            index,
            worker_id: self.id(),
            limit: self
                .watch
                .as_ref()
                .and_then(|watch| watch.limit(phase))
                .unwrap_or_default(),
        }
    }

    /// Starts a life unless one is running.
    pub(crate) fn ensure_life(&mut self) -> Result<&mut S, PoolError> {
        if self.state.is_none() {
            self.lives += 1;
            self.life_span = trace::life(self.id(), self.lives);
            let ticket = self.watch_start(Phase::Init, None);
            let clock = self.clock();
            let started = self
                .life_span
                .in_scope(|| catch(|| S::start_life(&self.ctx)));
            if !self.watch_finish(ticket) {
                drop_quietly(started);
                return Err(self.abandoned(Phase::Init, None));
            }
            self.hook_ran(Activity::Init, clock);
            let state = match started {
                Ok(Ok(state)) => state,
                Ok(Err(source)) => {
                    self.life_span = trace::none();
                    return Err(PoolError::Init {
                        worker_id: self.id(),
                        source,
                    });
                }
                Err(caught) => {
                    self.life_span = trace::none();
                    return Err(self.panic(None, PanicSite::Init, caught));
                }
            };
            self.tasks_in_life = 0;
            self.state = Some(state);
        }
        Ok(self.state.as_mut().expect("a life was just started"))
    }

    /// Ends the current life, if any, running the exit hook and keeping its
    /// output for `exit_results`.
    ///
    /// Where the hook only borrows the state, the state is dropped here,
    /// after the output is kept: a panic in its `Drop` is then reported as
    /// [`PanicSite::DropState`] and the output stays. A failure of the hook
    /// itself comes first: the drop's panic does not replace it.
    pub(crate) fn end_life(&mut self) -> Result<(), PoolError> {
        if self.state.is_none() {
            return Ok(());
        }
        let span = std::mem::replace(&mut self.life_span, trace::none());
        let clock = self.clock();
        let ended = span.in_scope(|| self.end_state());
        if !self.is_abandoned() {
            self.hook_ran(Activity::Exit, clock);
        }
        ended
    }

    /// [`Worker::end_life`], within the life's span.
    fn end_state(&mut self) -> Result<(), PoolError> {
        let Some(mut state) = self.state.take() else {
            return Ok(());
        };
        let ctx = &self.ctx;
        let ticket = self.watch_start(Phase::Exit, None);
        let in_place = catch(|| state.end_life_in_place(ctx));
        if let Ok(None) = in_place {
            // The hook takes the state by value: it runs below, watched by
            // the same ticket.
        } else if !self.watch_finish(ticket) {
            // Abandoned: what the hook made, and the state, go nowhere.
            drop_quietly(in_place);
            drop_quietly(state);
            return Err(self.abandoned(Phase::Exit, None));
        }
        match in_place {
            Ok(Some(ended)) => {
                let kept = self.keep_exit(ended);
                match catch(move || drop(state)) {
                    Err(caught) if kept.is_ok() => {
                        Err(self.panic(None, PanicSite::DropState, caught))
                    }
                    _ => kept,
                }
            }
            Ok(None) => {
                let ended = catch(move || state.end_life(ctx));
                if !self.watch_finish(ticket) {
                    drop_quietly(ended);
                    return Err(self.abandoned(Phase::Exit, None));
                }
                match ended {
                    Ok(ended) => self.keep_exit(ended),
                    Err(caught) => Err(self.panic(None, PanicSite::Exit, caught)),
                }
            }
            Err(caught) => {
                // The hook panicked half-way through the state: its drop's
                // panic, if any, would only hide this one.
                drop_quietly(state);
                Err(self.panic(None, PanicSite::Exit, caught))
            }
        }
    }

    /// Keeps what an exit hook returned: its output for `exit_results`, or
    /// its failure.
    fn keep_exit(&self, ended: Result<Option<ExitValue>, BoxError>) -> Result<(), PoolError> {
        match ended {
            Ok(Some(value)) => {
                lock(&self.exits).push(value);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(source) => Err(PoolError::Exit {
                worker_id: self.id(),
                source,
            }),
        }
    }

    /// Ends the current life without its exit hook, after a panic.
    pub(crate) fn discard_life(&mut self) {
        self.life_span = trace::none();
        if let Some(state) = self.state.take() {
            drop_quietly(state);
        }
    }

    /// Runs the items of a chunk in order, giving each output to `out`.
    /// Stops before an item at or past `stop.limit()` (as read when its block
    /// starts) and at the first failure; every failure, of a task or of a
    /// hook that runs around it (a lazy init, the exit at the end of a
    /// lifespan, the re-init after a panic), goes to `report`. The items the
    /// chunk does not run are then dropped one by one (see
    /// [`Worker::discard`]).
    ///
    /// Items run in blocks of up to `block`: the stop limit is read before
    /// each block, and the outputs of a block go straight into a window of
    /// `out`, so that the per-item path is the task and a store. One
    /// `catch_unwind` covers a block, and nothing but the tasks: the chunk
    /// itself stays outside it, so that neither a panic of a task nor one of
    /// an item's `Drop` can be taken for the other.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_chunk<T, O>(
        &mut self,
        chunk: impl Chunk<Item = T>,
        lifespan: Option<usize>,
        block: usize,
        stop: &Stop,
        task: &impl Fn(&mut S, T, &WorkerContext<S::Shared>) -> Result<O, BoxError>,
        out: &mut impl ChunkOutputs<O>,
        report: &dyn Fn(PoolError),
    ) {
        if let Some(timing) = &mut self.timing {
            timing.begin_chunk();
        }
        let start = chunk.start();
        let mut items = chunk;
        let block = block.max(1);
        // The position of the next item `items` yields.
        let mut index = start;
        loop {
            let limit = stop.limit();
            if index >= limit {
                break;
            }
            let Some(first) = items.next() else {
                return;
            };
            if let Err(err) = self.ensure_life() {
                report(err);
                self.discard(std::iter::once(first).chain(&mut items), index, report);
                return;
            }
            let left_in_life =
                lifespan.map_or(usize::MAX, |k| k.saturating_sub(self.tasks_in_life).max(1));
            let state = self.state.as_mut().expect("a life is running");
            let ctx = &self.ctx;
            let want = block
                .min(left_in_life)
                .min(limit - index)
                .min(items.size_hint().0.saturating_add(1));
            let watch = self.watch.as_deref();
            // Two copies of the block's loop: one that times each task for
            // the insights, and one that does not even test whether to.
            let ran = match self.timing.as_mut() {
                None => catch(|| {
                    let block = Block {
                        state,
                        ctx,
                        watch,
                        timing: NoTiming,
                        index,
                    };
                    block.run(first, &mut items, want, task, &mut *out)
                }),
                Some(timing) => {
                    let ran = catch(|| {
                        let block = Block {
                            state,
                            ctx,
                            watch,
                            timing: &mut *timing,
                            index,
                        };
                        block.run(first, &mut items, want, task, &mut *out)
                    });
                    if !watch.is_some_and(Watch::is_abandoned) {
                        // An abandoned worker's replacement owns the log.
                        timing.end_block();
                    }
                    ran
                }
            };
            if self.is_abandoned() {
                // The watchdog gave up on a task of this block: its output
                // was dropped, and the call already failed with the
                // timeout. Nothing more of it is touched.
                drop_quietly(ran);
                drop_quietly(items);
                return;
            }
            match ran {
                Ok((done, failure)) => {
                    index += done;
                    self.tasks_in_life += done + usize::from(failure.is_some());
                    self.end_life_after(lifespan, report);
                    if self.is_abandoned() {
                        drop_quietly(failure);
                        drop_quietly(items);
                        return;
                    }
                    if let Some(source) = failure {
                        report(PoolError::Task {
                            index,
                            worker_id: self.id(),
                            source,
                        });
                        index += 1;
                        break;
                    }
                }
                Err(caught) => {
                    // The item that panicked is the first without an output.
                    let at = start + out.pushed();
                    if let Some(timing) = &mut self.timing {
                        // The panicked task counts, as a failed one does.
                        timing.task_done(at);
                    }
                    // The state may be half-updated: this life ends without
                    // exit, and a fresh one starts right away. Its failure is
                    // recorded first, so that an `imap` cannot end on the
                    // panic before it sees that the re-init failed.
                    self.discard_life();
                    if let Err(err) = self.ensure_life() {
                        report(err);
                    }
                    report(self.panic(Some(at), PanicSite::Task, caught));
                    index = at + 1;
                    break;
                }
            }
        }
        self.discard(items, index, report);
    }

    /// Runs one task on `item` at position 0, as a call of one item would
    /// (the same lifespan, failure and panic rules): a handle's job.
    pub(crate) fn run_one<T: Send, O>(
        &mut self,
        item: T,
        lifespan: Option<usize>,
        task: &impl Fn(&mut S, T, &WorkerContext<S::Shared>) -> Result<O, BoxError>,
    ) -> Result<O, PoolError> {
        let stop = Stop::new(StopMode::AllItems);
        let mut out = VecOutputs::new(0, 1);
        let report = |err| stop.halt(Some(err));
        let chunk = OneItem::new(0, item);
        self.run_chunk(chunk, lifespan, 1, &stop, task, &mut out, &report);
        self.flush_insights();
        if self.is_abandoned() {
            // The job's handle already has the timeout.
            drop_quietly(out);
            return Err(self.abandoned(Phase::Task, Some(0)));
        }
        match (stop.take(), out.items.pop()) {
            (None, Some(output)) => Ok(output),
            (Some(err), output) => {
                drop_quietly(output);
                Err(err)
            }
            (None, None) => unreachable!("a task that ran neither gave an output nor failed"),
        }
    }

    /// Moves what this worker measured for the insights into its log: at
    /// the end of its share of a call, or of a job.
    pub(crate) fn flush_insights(&mut self) {
        if self.is_abandoned() {
            return;
        }
        if let Some(timing) = &mut self.timing {
            timing.flush();
        }
    }

    /// Drops items the call will not run, the first at position `index`,
    /// each under a catch of its own: a panic in one `Drop` is reported as
    /// that item's ([`PanicSite::DropItem`]) and the others are still
    /// dropped. The state is not involved, so the life goes on.
    fn discard<T>(
        &self,
        items: impl Iterator<Item = T>,
        mut index: usize,
        report: &dyn Fn(PoolError),
    ) {
        if !std::mem::needs_drop::<T>() {
            // No item's drop can do anything, or panic: the rest goes at
            // once with its chunk, however long (a stream over `0..u64::MAX`
            // halted in a chunk of 2^62 positions), never item by item.
            return;
        }
        let mut items = items;
        let mut reported = false;
        loop {
            let dropped = catch(|| {
                for item in &mut items {
                    drop(item);
                    index += 1;
                }
            });
            let Err(caught) = dropped else {
                return;
            };
            // The first panic is the earliest of these items; later ones
            // could not win over it.
            if !reported {
                report(self.panic(Some(index), PanicSite::DropItem, caught));
                reported = true;
            }
            index += 1;
        }
    }

    /// Ends the life if it has run `lifespan` tasks.
    #[inline]
    fn end_life_after(&mut self, lifespan: Option<usize>, report: &dyn Fn(PoolError)) {
        if lifespan.is_some_and(|k| self.tasks_in_life >= k) {
            if let Err(err) = self.end_life() {
                report(err);
            }
        }
    }

    fn panic(&self, index: Option<usize>, site: PanicSite, caught: Caught) -> PoolError {
        PoolError::Panic {
            index,
            worker_id: self.id(),
            site,
            message: caught.message,
            payload: caught.payload,
        }
    }
}

/// What a block does after each task for the insights.
trait Ticks {
    /// The task at position `index` returned.
    fn task_done(&mut self, index: usize);
}

/// No insights: nothing.
struct NoTiming;

impl Ticks for NoTiming {
    #[inline(always)]
    fn task_done(&mut self, _: usize) {}
}

impl Ticks for &mut Timing {
    #[inline(always)]
    fn task_done(&mut self, index: usize) {
        Timing::task_done(self, index);
    }
}

/// What a block of tasks runs with.
struct Block<'b, S: WorkerState, K: Ticks> {
    state: &'b mut S,
    ctx: &'b WorkerContext<S::Shared>,
    /// Where each task is marked, when tasks have a time limit.
    watch: Option<&'b Watch>,
    /// Where each task is timed, when the pool collects insights.
    timing: K,
    /// The position of the block's first item.
    index: usize,
}

impl<S: WorkerState, K: Ticks> Block<'_, S, K> {
    /// Runs the tasks of this block: `first`, then items of `items` until
    /// `want` outputs are written into a window of `out` (or the window or
    /// the items end). Returns how many tasks succeeded, and the error of
    /// the task that failed, if one did. A task the watchdog gave up on
    /// ends the block as if it failed, its output dropped (the worker then
    /// sees itself abandoned).
    #[inline]
    fn run<T, O>(
        self,
        first: T,
        items: &mut impl Iterator<Item = T>,
        want: usize,
        task: &impl Fn(&mut S, T, &WorkerContext<S::Shared>) -> Result<O, BoxError>,
        out: &mut impl ChunkOutputs<O>,
    ) -> (usize, Option<BoxError>) {
        let Block {
            state,
            ctx,
            watch,
            mut timing,
            index,
        } = self;
        let (slots, room) = out.window(want);
        let len = want.min(room);
        // Takes the block's outputs into `out` when the block ends, by a
        // panic too.
        let mut written = CommitOnDrop {
            run: out,
            n: 0,
            _outputs: PhantomData,
        };
        let mut item = first;
        let failure = loop {
            let result = match watch {
                None => task(state, item, ctx),
                Some(watch) => {
                    let at = index + written.n;
                    let ticket = watch.start(Phase::Task, Some(at));
                    // Marks the end by a panic too.
                    let _end = ticket.map(|ticket| EndOnDrop(watch, ticket));
                    task(state, item, ctx)
                }
            };
            timing.task_done(index + written.n);
            if watch.is_some_and(Watch::is_abandoned) {
                drop_quietly(result);
                break Some(BoxError::from("abandoned"));
            }
            match result {
                // SAFETY: `written.n < len <= room`: a slot of the window,
                // written once.
                Ok(output) => unsafe { slots.add(written.n).write(output) },
                Err(source) => break Some(source),
            }
            written.n += 1;
            if written.n == len {
                break None;
            }
            match items.next() {
                Some(following) => item = following,
                None => break None,
            }
        };
        (written.n, failure)
    }
}

/// Ends a watched run when dropped: after its task returns or unwinds.
struct EndOnDrop<'w>(&'w Watch, Ticket);

impl Drop for EndOnDrop<'_> {
    fn drop(&mut self) {
        // Lost, the race tells the block through `Watch::is_abandoned`.
        let _ = self.0.finish(self.1);
    }
}

/// Outputs written into a window of a [`ChunkOutputs`], taken by the run when this
/// drops.
struct CommitOnDrop<'a, O, R: ChunkOutputs<O>> {
    run: &'a mut R,
    /// Slots of the window written so far, from its first.
    n: usize,
    _outputs: PhantomData<fn(O)>,
}

impl<O, R: ChunkOutputs<O>> Drop for CommitOnDrop<'_, O, R> {
    fn drop(&mut self) {
        // SAFETY: the loop that counts `n` writes the window's slots in
        // order, counting each once written, and touches the run only
        // through this guard.
        unsafe { self.run.commit(self.n) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the tasks of each life; its exit hands the count over.
    struct Life {
        ran: usize,
    }

    impl WorkerState for Life {
        type Shared = ();
        fn start_life(_: &WorkerContext) -> Result<Self, BoxError> {
            Ok(Life { ran: 0 })
        }

        fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
            Ok(Some(ExitValue::new(self.ran)))
        }
    }

    /// A chunk of any items, at positions from `start`.
    struct Items<I> {
        start: usize,
        items: I,
    }

    impl<I: Iterator> Iterator for Items<I> {
        type Item = I::Item;

        fn next(&mut self) -> Option<I::Item> {
            self.items.next()
        }

        fn size_hint(&self) -> (usize, Option<usize>) {
            self.items.size_hint()
        }
    }

    impl<I: Iterator + Send> Chunk for Items<I> {
        fn start(&self) -> usize {
            self.start
        }
    }

    struct Ran {
        outputs: Vec<String>,
        failures: Vec<PoolError>,
        lives: Vec<usize>,
    }

    /// Runs items `0..len`, at positions from `start`, in blocks of `block`.
    fn run(
        start: usize,
        len: usize,
        block: usize,
        lifespan: Option<usize>,
        stop: &Stop,
        task: impl Fn(&mut Life, usize) -> Result<String, BoxError>,
    ) -> Ran {
        run_items(start, 0..len, block, lifespan, stop, task)
    }

    /// Runs `items` at positions from `start`, in blocks of `block`.
    fn run_items<I: Iterator + Send>(
        start: usize,
        items: I,
        block: usize,
        lifespan: Option<usize>,
        stop: &Stop,
        task: impl Fn(&mut Life, I::Item) -> Result<String, BoxError>,
    ) -> Ran {
        let exits = ExitStore::default();
        let mut worker =
            Worker::<Life>::new(WorkerContext::new(0, 1), exits.clone(), None, None, None);
        let mut out = VecOutputs::new(start, items.size_hint().0);
        let failures = Mutex::new(Vec::new());
        let report = |err| failures.lock().unwrap().push(err);
        let items = Items { start, items };
        let task = |life: &mut Life, x, _: &WorkerContext| {
            life.ran += 1;
            task(life, x)
        };
        worker.run_chunk(items, lifespan, block, stop, &task, &mut out, &report);
        worker.end_life().unwrap();
        let lives: Vec<ExitValue> = exits.lock().unwrap().drain(..).collect();
        Ran {
            outputs: out.items,
            failures: failures.into_inner().unwrap(),
            lives: lives
                .into_iter()
                .map(|v| v.downcast().ok().unwrap())
                .collect(),
        }
    }

    fn show(x: usize) -> Result<String, BoxError> {
        Ok(x.to_string())
    }

    #[test]
    fn blocks_keep_the_outputs_in_order_and_lives_to_their_span() {
        let all = Stop::new(StopMode::AllItems);
        for block in [1, 3, 4, 64] {
            let ran = run(0, 10, block, None, &all, |_, x| show(x));
            assert_eq!(
                ran.outputs,
                (0..10).map(|x| x.to_string()).collect::<Vec<_>>()
            );
            assert_eq!(ran.lives, [10]);
            let ran = run(0, 10, block, Some(3), &all, |_, x| show(x));
            assert_eq!(ran.outputs.len(), 10);
            assert_eq!(ran.lives, [3, 3, 3, 1], "block {block}");
            assert!(ran.failures.is_empty());
        }
    }

    #[test]
    fn a_failure_inside_a_block_has_its_position() {
        let all = Stop::new(StopMode::AllItems);
        let ran = run(100, 20, 8, None, &all, |_, x| {
            if x == 13 {
                Err("no".into())
            } else {
                show(x)
            }
        });
        assert_eq!(ran.outputs.len(), 13);
        assert!(matches!(
            ran.failures[..],
            [PoolError::Task { index: 113, .. }]
        ));
        // The failing task counts in its life.
        assert_eq!(ran.lives, [14]);
    }

    #[test]
    fn a_panic_inside_a_block_keeps_the_outputs_before_it() {
        let all = Stop::new(StopMode::AllItems);
        let ran = run(100, 20, 8, None, &all, |_, x| {
            assert!(x != 13, "boom");
            show(x)
        });
        assert_eq!(
            ran.outputs,
            (0..13).map(|x| x.to_string()).collect::<Vec<_>>()
        );
        assert!(matches!(
            ran.failures[..],
            [PoolError::Panic {
                index: Some(113),
                ..
            }]
        ));
        // The panicked life ends without exit; a fresh one starts at once.
        assert_eq!(ran.lives, [0]);
    }

    #[test]
    fn a_block_stops_at_a_limit_set_before_it() {
        // `imap` keeps the items before a failure: the limit is its position.
        let after = Stop::new(StopMode::FromFailedItem);
        after.halt(Some(PoolError::Task {
            index: 6,
            worker_id: 1,
            source: "earlier".into(),
        }));
        let ran = run(0, 20, 64, None, &after, |_, x| show(x));
        assert_eq!(ran.outputs.len(), 6);
    }

    #[test]
    fn the_stop_limit_is_read_before_each_block() {
        for (block, ran_before_stop) in [(1, 3), (4, 4), (16, 10)] {
            let stop = Stop::new(StopMode::AllItems);
            let ran = run(0, 10, block, None, &stop, |_, x| {
                if x == 2 {
                    stop.halt(None);
                }
                show(x)
            });
            assert_eq!(ran.outputs.len(), ran_before_stop, "block {block}");
        }
    }

    /// An item whose `Drop` panics when it is armed.
    struct Armed {
        at: usize,
        armed: bool,
    }

    impl Drop for Armed {
        fn drop(&mut self) {
            if std::mem::take(&mut self.armed) {
                panic!("item {} dropped", self.at);
            }
        }
    }

    fn armed(len: usize, armed: &[usize]) -> std::vec::IntoIter<Armed> {
        let items = (0..len).map(|at| Armed {
            at,
            armed: armed.contains(&at),
        });
        items.collect::<Vec<_>>().into_iter()
    }

    fn took(item: Armed) -> Result<String, BoxError> {
        let at = item.at;
        std::mem::forget(item);
        Ok(at.to_string())
    }

    #[test]
    fn an_item_dropped_after_a_task_error_does_not_hide_it() {
        let all = Stop::new(StopMode::AllItems);
        let ran = run_items(10, armed(20, &[8, 9]), 4, None, &all, |_, item| {
            if item.at == 7 {
                std::mem::forget(item);
                return Err("task 7 failed".into());
            }
            took(item)
        });
        assert_eq!(ran.outputs.len(), 7);
        // Both failures are reported, each at its own position; only the
        // first panic of the discarded items is.
        match &ran.failures[..] {
            [PoolError::Task { index: 17, .. }, PoolError::Panic {
                index: Some(18),
                site: PanicSite::DropItem,
                message,
                ..
            }] => assert_eq!(message, "item 8 dropped"),
            other => panic!("{other:?}"),
        }
        // The life was not touched: its exit ran, after all eight tasks.
        assert_eq!(ran.lives, [8]);
    }

    #[test]
    fn items_left_by_a_stop_are_dropped_each_at_its_position() {
        let stop = Stop::new(StopMode::AllItems);
        let ran = run_items(0, armed(10, &[6]), 1, None, &stop, |_, item| {
            if item.at == 3 {
                stop.halt(None);
            }
            took(item)
        });
        assert_eq!(ran.outputs.len(), 4);
        assert!(matches!(
            ran.failures[..],
            [PoolError::Panic {
                index: Some(6),
                site: PanicSite::DropItem,
                ..
            }]
        ));
        assert_eq!(ran.lives, [4]);
    }

    #[test]
    fn a_task_panic_is_at_its_item_and_the_rest_are_dropped_after_it() {
        let all = Stop::new(StopMode::AllItems);
        let ran = run_items(0, armed(10, &[5]), 8, None, &all, |_, item| {
            assert!(item.at != 3, "task 3 panicked");
            took(item)
        });
        assert!(matches!(
            &ran.failures[..],
            [
                PoolError::Panic {
                    index: Some(3),
                    site: PanicSite::Task,
                    ..
                },
                PoolError::Panic {
                    index: Some(5),
                    site: PanicSite::DropItem,
                    ..
                }
            ]
        ));
        // The panicked life ended without exit; the fresh one ran nothing.
        assert_eq!(ran.lives, [0]);
    }
}
