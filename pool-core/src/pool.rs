//! `Pool<S>`: the typed pool and every call of its contract.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use crate::crew::Crew;
use crate::imap::{Cancel, Imap, Stream, StreamJob};
use crate::input::{self, Fed, Input, InputVisitor};
use crate::input::{ChunkPolicy, Claims};
use crate::job::{Job, JobConfig, MapJob, Sink, StopMode};
use crate::sink::{Slots, Unordered};
use crate::unwind::catch;
use crate::worker::ExitStore;
use crate::{BoxError, PoolError, Task, TaskItems, WorkerExit, WorkerState};

/// The longest chunk `map` cuts by itself: long enough that scheduling costs
/// vanish next to nanosecond tasks, short enough to balance the tail.
const MAP_MAX_CHUNK: usize = 4096;
/// The longest chunk `imap` cuts by itself, which also bounds its look-ahead.
const STREAM_MAX_CHUNK: usize = 256;
/// Look-ahead of `imap`, in chunks per worker.
const STREAM_WINDOW_CHUNKS: usize = 4;
/// The most workers a pool starts. Each is an OS thread with its own stack
/// and deque, and sizes are kept per worker: past this, a count is a
/// mistake (rayon-core stops at 65,535 threads for the same reasons).
const MAX_WORKERS: usize = 1 << 16;

/// A pool of workers, each owning a state `S` for the length of its life.
///
/// `#[worker_state]` names it `<State>Pool`. Workers start on the first call;
/// without [`keep_alive`](Pool::keep_alive) every call starts fresh workers
/// and ends them (running init and exit each time). Dropping the pool joins
/// its workers.
///
/// ```
/// use pool_core::{BoxError, ExitValue, Pool, Task, WorkerContext, WorkerState};
///
/// struct Squarer;
/// impl WorkerState for Squarer {
///     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Squarer) }
///     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
/// }
/// impl Task for Squarer {
///     type Input = u64;
///     type Output = u64;
///     fn run(&mut self, x: u64) -> Result<u64, BoxError> { Ok(x * x) }
/// }
///
/// let mut pool = Pool::<Squarer>::new(4).keep_alive();
/// assert_eq!(pool.map(0..5).unwrap(), [0, 1, 4, 9, 16]);
/// assert_eq!(pool.apply(7).unwrap(), 49);
/// pool.join().unwrap();
/// ```
pub struct Pool<S: WorkerState> {
    n_workers: usize,
    keep_alive: bool,
    lifespan: Option<usize>,
    chunk_size: Option<usize>,
    crew: Option<Crew<S>>,
    exits: ExitStore,
    /// The job of an `imap` whose iterator was leaked instead of dropped.
    stream: Option<Arc<dyn Cancel>>,
    /// The thread that pulls the inputs of streaming calls, once one ran.
    feeder: Option<Feeder>,
}

impl<S: WorkerState> Pool<S> {
    /// A pool of `n_workers` workers; `0` means one per available core.
    /// Starts no thread. More than 65,536 make the first call fail with
    /// [`PoolError::InvalidConfig`].
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
    /// assert_eq!(Pool::<Echo>::new(3).n_workers(), 3);
    /// assert!(Pool::<Echo>::new(0).n_workers() >= 1);
    /// ```
    pub fn new(n_workers: usize) -> Self {
        let n_workers = if n_workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            n_workers
        };
        Pool {
            n_workers,
            keep_alive: false,
            lifespan: None,
            chunk_size: None,
            crew: None,
            exits: Arc::new(Mutex::new(Vec::new())),
            stream: None,
            feeder: None,
        }
    }

    /// Keeps workers and their states alive between calls, until
    /// [`join`](Pool::join) or drop.
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
    /// let mut pool = Pool::<Echo>::new(2).keep_alive();
    /// pool.map(0..10).unwrap();
    /// pool.map(0..10).unwrap(); // same workers, same states
    /// ```
    pub fn keep_alive(mut self) -> Self {
        self.keep_alive = true;
        self
    }

    /// Ends a worker life after `tasks` tasks (of any call); a fresh life,
    /// with its own init, takes its place. `0` makes the next call fail with
    /// [`PoolError::InvalidConfig`].
    ///
    /// What restarts is the state, not the thread (as mpire's
    /// `worker_lifespan` restarts a process, a statepool worker restarts its
    /// state): exit and the next init run on the same OS thread, so
    /// thread-locals outlive the life.
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
    /// let mut pool = Pool::<Echo>::new(2).worker_lifespan(0);
    /// assert!(matches!(pool.map(0..3), Err(PoolError::InvalidConfig(_))));
    /// ```
    pub fn worker_lifespan(mut self, tasks: usize) -> Self {
        self.lifespan = Some(tasks);
        self
    }

    /// Schedules items `items` at a time, instead of sizes that adapt to the
    /// input. `0` makes the next call fail with [`PoolError::InvalidConfig`].
    ///
    /// Over an input that arrives over time (a channel, a reader), a chunk
    /// holds at most `items`: a worker takes what has arrived rather than
    /// wait for the chunk to fill (like `ThreadPool.imap(chunksize=..)` in
    /// Python, items are not held back for later ones).
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
    /// let mut pool = Pool::<Echo>::new(2).chunk_size(16);
    /// assert_eq!(pool.map(0..100).unwrap().len(), 100);
    /// ```
    pub fn chunk_size(mut self, items: usize) -> Self {
        self.chunk_size = Some(items);
        self
    }

    /// The number of workers.
    pub fn n_workers(&self) -> usize {
        self.n_workers
    }

    /// Runs `f` on every item with a worker's state, like [`map`](Pool::map)
    /// with a closure instead of the state's `#[task]`. Results are in input
    /// order. `f` may borrow from the caller.
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
    /// let offset = 10;
    /// let mut pool = Pool::<Echo>::new(2);
    /// let out = pool.map_with(|_state: &mut Echo, x: u32| x + offset, 0..3).unwrap();
    /// assert_eq!(out, [10, 11, 12]);
    /// ```
    pub fn map_with<I, F, O>(&mut self, f: F, items: I) -> Result<Vec<O>, PoolError>
    where
        I: IntoIterator,
        I::IntoIter: Send,
        I::Item: Send,
        F: Fn(&mut S, I::Item) -> O + Sync,
        O: Send,
    {
        let task = |state: &mut S, item| Ok(f(state, item));
        self.run(items.into_iter(), task, Slots::new)
            .map(Slots::into_vec)
    }

    /// Stops the live workers, running each one's exit hook; the pool stays
    /// usable and starts fresh workers on its next call. Returns the first
    /// failure of an exit hook, by worker id.
    pub fn join(&mut self) -> Result<(), PoolError> {
        self.settle_stream();
        self.stop_crew()
    }

    /// Checks the settings and makes sure workers are running.
    fn begin(&mut self, stop: StopMode, max_chunk: usize) -> Result<JobConfig, PoolError> {
        if self.chunk_size == Some(0) {
            return Err(PoolError::InvalidConfig(
                "chunk_size must be at least 1, got 0".into(),
            ));
        }
        if self.lifespan == Some(0) {
            return Err(PoolError::InvalidConfig(
                "worker_lifespan must be at least 1 task, got 0".into(),
            ));
        }
        if self.n_workers > MAX_WORKERS {
            return Err(PoolError::InvalidConfig(format!(
                "n_workers must be at most {MAX_WORKERS}, got {}",
                self.n_workers
            )));
        }
        self.settle_stream();
        if self.crew.is_none() {
            self.crew = Some(Crew::spawn(self.n_workers, &self.exits)?);
        }
        let chunks = match self.chunk_size {
            Some(len) => ChunkPolicy::Fixed(len),
            None => ChunkPolicy::Adaptive { max: max_chunk },
        };
        Ok(JobConfig {
            n_workers: self.n_workers,
            lifespan: self.lifespan,
            chunks,
            stop,
        })
    }

    /// Ends a call: without keep_alive, its workers end too.
    pub(crate) fn end_call(&mut self) -> Result<(), PoolError> {
        if self.keep_alive {
            return Ok(());
        }
        self.stop_crew()
    }

    /// Stops the workers, if any; the first failure of their exit hooks.
    fn stop_crew(&mut self) -> Result<(), PoolError> {
        let errors = self.crew.take().map(Crew::shutdown).unwrap_or_default();
        errors.into_iter().next().map_or(Ok(()), Err)
    }

    /// Runs a blocking call to completion and returns its sink, made by
    /// `sink` from the input's `size_hint`.
    fn run<I, F, O, K>(
        &mut self,
        iter: I,
        task: F,
        sink: impl FnOnce((usize, Option<usize>)) -> K,
    ) -> Result<K, PoolError>
    where
        I: Iterator + Send,
        I::Item: Send,
        F: Fn(&mut S, I::Item) -> Result<O, BoxError> + Sync,
        K: Sink<O>,
    {
        let config = self.begin(StopMode::All, MAP_MAX_CHUNK)?;
        let hint = match size_hint(&iter) {
            Ok(hint) => hint,
            Err(err) => {
                // The call ends before it began; an exit failure would come second.
                let _ = self.end_call();
                return Err(err);
            }
        };
        let call = BlockingCall {
            pool: self,
            task,
            sink: sink(hint),
            config,
            hint,
            items: PhantomData,
        };
        // Nothing bounds the look-ahead: each worker takes a part of its own.
        input::visit(iter, config.chunks, config.n_workers, Claims::Spread, call)
    }

    /// Starts a streaming call; the caller (an [`Imap`]) ends it.
    pub(crate) fn start_stream<I>(
        &mut self,
        iter: I,
        ordered: bool,
    ) -> Result<Arc<dyn StreamJob<S>>, PoolError>
    where
        S: Task,
        I: Iterator<Item = S::Input> + Send + 'static,
    {
        let stop = if ordered {
            StopMode::After
        } else {
            StopMode::All
        };
        let config = self.begin(stop, STREAM_MAX_CHUNK)?;
        let window = STREAM_WINDOW_CHUNKS
            .saturating_mul(config.n_workers)
            .saturating_mul(config.chunks.max_len());
        let call = StreamCall {
            ordered,
            window,
            config,
            feeder: &mut self.feeder,
            state: PhantomData,
        };
        // The window bounds the look-ahead: positions go out in order.
        let job = input::visit(iter, config.chunks, config.n_workers, Claims::InOrder, call);
        let job = match job {
            Ok(job) => job,
            Err(err) => {
                // The call ends before it began; an exit failure would come second.
                let _ = self.end_call();
                return Err(err);
            }
        };
        let crew = self.crew.as_ref().expect("begin started the workers");
        let job_ref: &dyn Job<S> = &*job;
        // SAFETY: the job is heap-allocated and kept alive by the `Imap`
        // until it calls `end_stream` (which waits for the workers), or, if
        // the `Imap` is leaked, by `self.stream`, which the next call settles
        // the same way before dropping it.
        unsafe { crew.publish(job_ref) };
        self.stream = Some(Arc::clone(&job) as Arc<dyn Cancel>);
        Ok(job)
    }

    /// Waits for the workers of a cancelled streaming call.
    pub(crate) fn end_stream(&mut self) {
        if let Some(crew) = &self.crew {
            crew.wait();
        }
        self.stream = None;
    }

    /// Cancels and settles the job of a leaked `imap` iterator, if any.
    fn settle_stream(&mut self) {
        if let Some(job) = self.stream.take() {
            job.cancel();
            if let Some(crew) = &self.crew {
                crew.wait();
            }
        }
    }
}

impl<S: WorkerState> Pool<S> {
    /// Runs the state's `#[task]` on every item; results in input order.
    ///
    /// The first failure stops the call and is returned (the earliest in
    /// input order where several happened); the pool stays usable.
    ///
    /// Over a `Vec` whose items have the size and alignment of the outputs
    /// (`u64` to `u64`, `String` to `Vec<u8>`, ...), the result reuses the
    /// vector's buffer: each output is written where its item was.
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
    /// let mut pool = Pool::<Echo>::new(2);
    /// assert_eq!(pool.map(vec![3, 1, 2]).unwrap(), [3, 1, 2]);
    /// ```
    pub fn map<I: TaskItems<S>>(&mut self, items: I) -> Result<Vec<I::Output>, PoolError> {
        items.__map_on(self, true)
    }

    /// Like [`map`](Pool::map), with results in completion order.
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
    /// let mut pool = Pool::<Echo>::new(2);
    /// let mut out = pool.map_unordered(0..100).unwrap();
    /// out.sort();
    /// assert_eq!(out, (0..100).collect::<Vec<_>>());
    /// ```
    pub fn map_unordered<I: TaskItems<S>>(
        &mut self,
        items: I,
    ) -> Result<Vec<I::Output>, PoolError> {
        items.__map_on(self, false)
    }

    /// `map` (`ordered`) or `map_unordered`, once `S` is known to have a
    /// task (see [`TaskItems`]).
    pub(crate) fn map_task<I>(
        &mut self,
        items: I,
        ordered: bool,
    ) -> Result<Vec<S::Output>, PoolError>
    where
        S: Task,
        I: IntoIterator<Item = S::Input>,
        I::IntoIter: Send,
    {
        let items = items.into_iter();
        if ordered {
            self.run(items, S::run, Slots::new).map(Slots::into_vec)
        } else {
            self.run(items, S::run, |_| Unordered::new())
                .map(Unordered::into_vec)
        }
    }

    /// Runs one task.
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
    /// assert_eq!(Pool::<Echo>::new(1).apply(5).unwrap(), 5);
    /// ```
    pub fn apply(&mut self, item: S::Input) -> Result<S::Output, PoolError>
    where
        S: Task,
    {
        // A vector, not `iter::once`: its one position is claimed without
        // a buffer sized from `chunk_size` (see `input::visit`).
        let mut outputs = self.map(vec![item])?;
        Ok(outputs.pop().expect("one item gives one output"))
    }

    /// A lazy iterator over the results, in input order. The input is pulled
    /// as workers need it, with a bounded look-ahead, so it may be endless.
    ///
    /// An input other than a range or a vector is pulled on a thread of its
    /// own, and each item goes to the workers as soon as `next()` returns it:
    /// over a channel, a result follows its item without waiting for the
    /// next one. Dropping the iterator cancels the call without waiting for
    /// the input: a pull blocked in `next()` ends on that thread later, and
    /// what it returns is dropped without running.
    ///
    /// A failure is yielded at its item's position, after every result
    /// before it; then the iterator ends. A failure of no item (an init that
    /// failed late) is yielded where the consumer is.
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
    /// let mut pool = Pool::<Echo>::new(2);
    /// let first: Vec<u64> = pool.imap(0u64..).take(5).map(Result::unwrap).collect();
    /// assert_eq!(first, [0, 1, 2, 3, 4]);
    /// ```
    pub fn imap<I>(&mut self, items: I) -> Imap<'_, S>
    where
        S: Task,
        I: IntoIterator<Item = S::Input>,
        I::IntoIter: Send + 'static,
    {
        Imap::start(self, items.into_iter(), true)
    }

    /// Like [`imap`](Pool::imap), in completion order; a failure is yielded
    /// when it is met, then the iterator ends.
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
    /// let mut pool = Pool::<Echo>::new(2);
    /// let mut out: Vec<u64> = pool.imap_unordered(0..10).map(Result::unwrap).collect();
    /// out.sort();
    /// assert_eq!(out, (0..10).collect::<Vec<_>>());
    /// ```
    pub fn imap_unordered<I>(&mut self, items: I) -> Imap<'_, S>
    where
        S: Task,
        I: IntoIterator<Item = S::Input>,
        I::IntoIter: Send + 'static,
    {
        Imap::start(self, items.into_iter(), false)
    }
}

impl<S: WorkerState> Pool<S> {
    /// The outputs of the exit hooks that ran so far (one per finished worker
    /// life), drained. Lives end at the end of a call without keep_alive, at
    /// a lifespan restart, at [`join`](Pool::join) and at drop.
    ///
    /// # Panics
    /// If a hand-written [`WorkerState::end_life`] returned an
    /// [`ExitValue`](crate::ExitValue) of another type than
    /// [`WorkerExit::Output`].
    pub fn exit_results(&mut self) -> Vec<<S as WorkerExit>::Output>
    where
        S: WorkerExit,
    {
        let values = std::mem::take(&mut *self.exits.lock().unwrap_or_else(|e| e.into_inner()));
        values
            .into_iter()
            .map(|value| {
                value
                    .downcast::<<S as WorkerExit>::Output>()
                    .unwrap_or_else(|_| {
                        panic!(
                            "`{}::end_life` returned an ExitValue that is not `WorkerExit::Output`",
                            std::any::type_name::<S>()
                        )
                    })
            })
            .collect()
    }
}

impl<S: WorkerState> Drop for Pool<S> {
    fn drop(&mut self) {
        // Failures of exit hooks have no caller left to go to.
        let _ = self.join();
    }
}

impl<S: WorkerState> fmt::Debug for Pool<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("state", &std::any::type_name::<S>())
            .field("n_workers", &self.n_workers)
            .field("keep_alive", &self.keep_alive)
            .field("worker_lifespan", &self.lifespan)
            .field("chunk_size", &self.chunk_size)
            .field("running", &self.crew.is_some())
            .finish_non_exhaustive()
    }
}

/// A blocking call, waiting for its input to be picked.
struct BlockingCall<'p, S: WorkerState, F, K, T> {
    pool: &'p mut Pool<S>,
    task: F,
    sink: K,
    config: JobConfig,
    /// The input's `size_hint`.
    hint: (usize, Option<usize>),
    items: PhantomData<fn(T)>,
}

impl<S: WorkerState, F, K, T> BlockingCall<'_, S, F, K, T> {
    /// Runs `job` on the workers; `feed` runs on this thread meanwhile.
    fn run_job<In, G, O>(
        pool: &mut Pool<S>,
        job: MapJob<In, G, K>,
        feed: impl FnOnce(&MapJob<In, G, K>),
    ) -> Result<K, PoolError>
    where
        In: Input,
        G: Fn(&mut S, In::Item) -> Result<O, BoxError> + Sync,
        K: Sink<O>,
    {
        let crew = pool.crew.as_ref().expect("begin started the workers");
        let job_ref: &dyn Job<S> = &job;
        // SAFETY: `job` lives in this frame until `wait` returns, and nothing
        // between the two calls can unwind out of this frame (`feed` pulls
        // the input under `catch_unwind`).
        unsafe { crew.publish(job_ref) };
        feed(&job);
        crew.wait();
        let failure = job.stop.take();
        let ended = pool.end_call();
        match failure.map_or(ended, Err) {
            Ok(()) => Ok(job.sink),
            Err(err) => {
                // What a failed call drops (its outputs, the items it did not
                // run) is the user's; a panic there must not replace `err`.
                crate::unwind::drop_quietly(job);
                Err(err)
            }
        }
    }
}

impl<'a, S, F, K, T, O> InputVisitor<'a, T> for BlockingCall<'_, S, F, K, T>
where
    S: WorkerState,
    F: Fn(&mut S, T) -> Result<O, BoxError> + Sync,
    K: Sink<O>,
{
    type Output = Result<K, PoolError>;

    fn visit<In, C>(self, input: In, cast: C) -> Result<K, PoolError>
    where
        In: Input + Send + 'a,
        In::Item: Send,
        C: Fn(In::Item) -> T + Copy + Send + Sync + 'a,
    {
        let BlockingCall {
            pool,
            task,
            sink,
            config,
            ..
        } = self;
        let task = |state: &mut S, item| task(state, cast(item));
        let job = MapJob::new(input, task, sink, config);
        Self::run_job(pool, job, |_| {})
    }

    fn visit_fed<I>(self, iter: I) -> Result<K, PoolError>
    where
        I: Iterator<Item = T> + Send + 'a,
        T: Send + 'a,
    {
        let BlockingCall {
            pool,
            task,
            sink,
            config,
            hint,
            ..
        } = self;
        // This thread pulls the input while the workers run its items.
        let ahead = read_ahead(config);
        let input = Fed::new(hint, ahead, config.chunks, config.n_workers);
        let job = MapJob::new(input, task, sink, config);
        Self::run_job(pool, job, |job| job.feed(iter))
    }
}

/// A streaming call, waiting for its input to be picked.
struct StreamCall<'p, S> {
    ordered: bool,
    window: usize,
    config: JobConfig,
    /// The pool's feeder thread, kept between streaming calls.
    feeder: &'p mut Option<Feeder>,
    state: PhantomData<fn() -> S>,
}

impl<S: Task> InputVisitor<'static, S::Input> for StreamCall<'_, S> {
    type Output = Result<Arc<dyn StreamJob<S>>, PoolError>;

    fn visit<In, C>(self, input: In, cast: C) -> Self::Output
    where
        In: Input + Send + 'static,
        In::Item: Send,
        C: Fn(In::Item) -> S::Input + Copy + Send + Sync + 'static,
    {
        let task = move |state: &mut S, item| state.run(cast(item));
        let sink = Stream::new(self.ordered, self.window);
        Ok(Arc::new(MapJob::new(input, task, sink, self.config)))
    }

    fn visit_fed<I>(self, iter: I) -> Self::Output
    where
        I: Iterator<Item = S::Input> + Send + 'static,
    {
        let hint = size_hint(&iter)?;
        let input = Fed::new(
            hint,
            read_ahead(self.config),
            self.config.chunks,
            self.config.n_workers,
        );
        let sink = Stream::new(self.ordered, self.window);
        let job = Arc::new(MapJob::new(input, S::run, sink, self.config));
        // A thread of its own pulls the input, so that neither the consumer
        // nor a worker ever waits on it: dropping the `Imap` returns at once
        // while a pull is blocked, and the pull's item is dropped when it
        // comes.
        let feeding = Arc::clone(&job);
        let feed: FeedJob = Box::new(move || feeding.feed(iter));
        let feed = match self.feeder.as_ref().filter(|f| f.is_idle()) {
            Some(idle) => match idle.run(feed) {
                Ok(()) => return Ok(job),
                Err(feed) => feed,
            },
            None => feed,
        };
        // None yet, or the last one still blocked in a pull of a dropped
        // `imap`: a fresh thread, and the old one (if any) ends once its
        // pull returns.
        let fresh = Feeder::spawn().map_err(PoolError::Feeder)?;
        // A fresh thread holds its receiver until its sender drops: it
        // takes the job.
        fresh
            .run(feed)
            .map_err(|_| PoolError::Feeder(std::io::Error::other("the feeder thread ended")))?;
        *self.feeder = Some(fresh);
        Ok(job)
    }
}

/// The work a feeder thread does for one streaming call.
type FeedJob = Box<dyn FnOnce() + Send>;

/// A thread that pulls the inputs of streaming calls, one call at a time,
/// kept by the pool between calls (a thread a call would cost tens of
/// microseconds). It ends when the pool drops it and its call is done.
struct Feeder {
    jobs: std::sync::mpsc::Sender<FeedJob>,
    /// Whether its last job is done.
    idle: Arc<std::sync::atomic::AtomicBool>,
}

impl Feeder {
    fn spawn() -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<FeedJob>();
        let idle = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let done = Arc::clone(&idle);
        std::thread::Builder::new()
            .name("statepool-feeder".into())
            .spawn(move || {
                for feed in queue {
                    // `feed` never unwinds (see `MapJob::feed`).
                    feed();
                    done.store(true, std::sync::atomic::Ordering::Release);
                }
            })?;
        Ok(Feeder { jobs, idle })
    }

    fn is_idle(&self) -> bool {
        self.idle.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Hands `feed` to the thread; back if the thread is gone.
    fn run(&self, feed: FeedJob) -> Result<(), FeedJob> {
        self.idle.store(false, std::sync::atomic::Ordering::Release);
        self.jobs.send(feed).map_err(|e| e.0)
    }
}

/// How far a feeder runs ahead of the workers' claims, in items.
fn read_ahead(config: JobConfig) -> usize {
    STREAM_WINDOW_CHUNKS
        .saturating_mul(config.n_workers)
        .saturating_mul(config.chunks.max_len())
}

/// The input's `size_hint`, or the failure of a `size_hint` that panicked.
fn size_hint(items: &impl Iterator) -> Result<(usize, Option<usize>), PoolError> {
    catch(|| items.size_hint()).map_err(|message| PoolError::Input {
        index: None,
        message,
    })
}
