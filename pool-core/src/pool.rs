//! `Pool<S>`: the typed pool and every call of its contract.

use std::fmt;
use std::time::Duration;

use crate::crew::Threads;
use crate::handle::PoolHandle;
use crate::imap::Imap;
use crate::input::Lender;
use crate::runner::{Runner, Settings};
use crate::sink::{Slots, Unordered};
use crate::watch::Timeouts;
use std::sync::Arc;

use crate::{
    BoxError, IntoShared, NoShared, PoolError, StreamTask, Task, TaskItems, WorkerContext,
    WorkerExit, WorkerState,
};

/// A pool of workers, each owning a state `S` for the length of its life.
///
/// `#[worker_state]` names it `<State>Pool`. Workers start on the first call;
/// without [`keep_alive`](Pool::keep_alive) every call starts fresh workers
/// and ends them (running init and exit each time). Dropping the pool joins
/// its workers.
///
/// ```
/// use pool_core::{BoxError, ExitValue, OwnedInput, Pool, Task, WorkerContext, WorkerState};
///
/// struct Squarer;
/// impl WorkerState for Squarer {
///     type Shared = ();
///     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Squarer) }
///     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
/// }
/// impl Task for Squarer {
///     type Input<'a> = u64;
///     type InputKind = OwnedInput;
///     type Output = u64;
///     fn run(&mut self, x: u64, _: &WorkerContext) -> Result<u64, BoxError> { Ok(x * x) }
/// }
///
/// let mut pool = Pool::<Squarer>::new(4).keep_alive();
/// assert_eq!(pool.map(0..5).unwrap(), [0, 1, 4, 9, 16]);
/// assert_eq!(pool.apply(7).unwrap(), 49);
/// pool.join().unwrap();
/// ```
pub struct Pool<S: WorkerState> {
    runner: Runner<S>,
}

impl<S: WorkerState> Pool<S> {
    /// A pool of `n_workers` workers; `0` means one per available core.
    /// Starts no thread. More than 65,536 make the first call fail with
    /// [`PoolError::InvalidConfig`].
    ///
    /// For a state without a shared object; one declared with
    /// `#[worker_state(shared = T)]` has its pool built by
    /// [`with_shared`](Pool::with_shared), and `new` does not compile.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// assert_eq!(Pool::<Echo>::new(3).n_workers(), 3);
    /// assert!(Pool::<Echo>::new(0).n_workers() >= 1);
    /// # }
    /// ```
    pub fn new(n_workers: usize) -> Self
    where
        S: NoShared,
    {
        Pool::build(n_workers, Arc::new(S::__no_shared()))
    }

    /// A pool of `n_workers` workers (`0`: one per available core) whose
    /// every hook reads `shared` through its
    /// [`WorkerContext::shared`](crate::WorkerContext::shared): mpire's
    /// `shared_objects`. `shared` is the state's shared type `T`
    /// (`#[worker_state(shared = T)]`) or an `Arc<T>`; one `Arc` serves
    /// every worker and every life of this pool, never copied. Two pools of
    /// one state type with different shared values are independent.
    ///
    /// ```
    /// use pool_core::{BoxError, ExitValue, OwnedInput, Pool, Task, WorkerContext, WorkerState};
    ///
    /// /// Adds the pool's offset.
    /// struct Offset(u64);
    ///
    /// impl WorkerState for Offset {
    ///     type Shared = u64;
    ///     fn start_life(ctx: &WorkerContext<u64>) -> Result<Self, BoxError> {
    ///         Ok(Offset(*ctx.shared()))
    ///     }
    ///     fn end_life(self, _: &WorkerContext<u64>) -> Result<Option<ExitValue>, BoxError> {
    ///         Ok(None)
    ///     }
    /// }
    /// impl Task for Offset {
    ///     type Input<'a> = u64;
    ///     type InputKind = OwnedInput;
    ///     type Output = u64;
    ///     fn run(&mut self, x: u64, _: &WorkerContext<u64>) -> Result<u64, BoxError> {
    ///         Ok(x + self.0)
    ///     }
    /// }
    ///
    /// let mut tens = Pool::<Offset>::with_shared(2, 10);
    /// let mut hundreds = Pool::<Offset>::with_shared(2, std::sync::Arc::new(100));
    /// assert_eq!(tens.map(0..3).unwrap(), [10, 11, 12]);
    /// assert_eq!(hundreds.map(0..3).unwrap(), [100, 101, 102]);
    /// ```
    pub fn with_shared(n_workers: usize, shared: impl IntoShared<S::Shared>) -> Self {
        Pool::build(n_workers, shared.into_shared())
    }

    fn build(n_workers: usize, shared: Arc<S::Shared>) -> Self {
        let n_workers = if n_workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            n_workers
        };
        Pool {
            runner: Runner::new(
                Settings {
                    n_workers,
                    keep_alive: false,
                    lifespan: None,
                    chunk_size: None,
                    order_tasks: false,
                    max_active: None,
                    threads: Threads::default(),
                    timeouts: Timeouts::default(),
                    bars: Default::default(),
                    insights: false,
                },
                shared,
            ),
        }
    }

    /// Keeps workers and their states alive between calls, until
    /// [`join`](Pool::join) or drop.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(2).keep_alive();
    /// pool.map(0..10).unwrap();
    /// pool.map(0..10).unwrap(); // same workers, same states
    /// # }
    /// ```
    pub fn keep_alive(mut self) -> Self {
        self.runner.configure(|settings| settings.keep_alive = true);
        self
    }

    /// Ends a worker life after `tasks` tasks (of any call); a fresh life,
    /// with its own init, takes its place. `0` makes the next call fail with
    /// [`PoolError::InvalidConfig`]. Set on a pool whose lives run (with
    /// `keep_alive`), it counts the tasks they already ran: a life already
    /// past it ends after its next task.
    ///
    /// What restarts is the state, not the thread (as mpire's
    /// `worker_lifespan` restarts a process, a statepool worker restarts its
    /// state): exit and the next init run on the same OS thread, so
    /// thread-locals outlive the life.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(2).worker_lifespan(0);
    /// assert!(matches!(pool.map(0..3), Err(PoolError::InvalidConfig(_))));
    /// # }
    /// ```
    pub fn worker_lifespan(mut self, tasks: usize) -> Self {
        self.runner
            .configure(|settings| settings.lifespan = Some(tasks));
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
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(2).chunk_size(16);
    /// assert_eq!(pool.map(0..100).unwrap().len(), 100);
    /// # }
    /// ```
    pub fn chunk_size(mut self, items: usize) -> Self {
        self.runner
            .configure(|settings| settings.chunk_size = Some(items));
        self
    }

    /// Runs item `i` of every call on worker `i % n_workers` (mpire's
    /// `order_tasks`), in input order on each worker: the state a worker
    /// built for an item is the one that sees that item in the next call.
    /// Each item runs as a chunk of its own and the call does not steal, so
    /// an uneven item holds up its worker's share: it trades balance for
    /// affinity (see BENCHMARKS.md). A lifespan restart or a re-init after a
    /// panic gives the worker a fresh state, as always.
    ///
    /// A blocking call (`map`, `map_unordered`, `apply` and their `_with`
    /// forms) pulls its whole input before it starts. A streaming call
    /// (the `imap` family) deals each item to its worker's queue as the
    /// input yields it, as far ahead of the consumer as its window
    /// ([`max_active`](Pool::max_active)) allows; a worker whose next item
    /// has not come waits for it, even while its peers have items queued.
    /// A pool with a time limit refuses it ([`PoolError::InvalidConfig`]).
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(3).order_tasks();
    /// let who = |_: &mut Echo, _: u64| std::thread::current().name().map(str::to_owned);
    /// let first = pool.map_with(who, 0..9).unwrap();
    /// assert_eq!(first[4].as_deref(), Some("statepool-worker-1")); // 4 % 3
    /// assert_eq!(pool.map_with(who, 0..9).unwrap(), first);
    /// // A stream deals its items the same way, as they come.
    /// let streamed: Vec<_> = pool.imap_with(who, 0..9).map(Result::unwrap).collect();
    /// assert_eq!(streamed, first);
    /// # }
    /// ```
    pub fn order_tasks(mut self) -> Self {
        self.runner
            .configure(|settings| settings.order_tasks = true);
        self
    }

    /// Shows a progress bar for each call (mpire's `progress_bar=True`),
    /// drawn by [`indicatif`] on standard error: items done of the total,
    /// the rate in items per second and the time left, where the input's
    /// length is known; a count and a rate where it is not (an endless
    /// `imap`). Every call kind has one, `apply` included.
    ///
    /// - Workers add each chunk's items as they finish it (not each item),
    ///   so a bar costs an atomic add a chunk.
    /// - A call that succeeds fills its bar and finishes it; one that fails
    ///   leaves it where it stopped with the message `failed: <error>`; an
    ///   `Imap` dropped before its end leaves it where it stopped.
    /// - Bars of calls that run at once (nested pools, several pools) are
    ///   drawn one per line; a finished bar stays on its line.
    /// - Nothing is drawn when standard error is not a terminal
    ///   (indicatif's rule), so logs and pipes stay clean.
    ///
    /// Needs the cargo feature `progress` (on by default). For another
    /// style or target, see [`progress_bar_with`](Pool::progress_bar_with).
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2).progress_bar();
    /// assert_eq!(pool.map(0..1000).unwrap().len(), 1000);
    /// # }
    /// ```
    #[cfg(feature = "progress")]
    pub fn progress_bar(mut self) -> Self {
        let bars = crate::progress::Bars::new(crate::progress::BarMaker::standard());
        self.runner.configure(|settings| settings.bars = bars);
        self
    }

    /// Shows a progress bar of the caller's own for each call (mpire's
    /// `progress_bar_options`): `make` receives the call's length in items,
    /// where known, and returns the bar to drive, with any style and draw
    /// target. statepool moves it as [`progress_bar`](Pool::progress_bar)
    /// says (`inc` per chunk, then `finish`, or `abandon` on a failure or
    /// an early drop). `make` runs on the caller's thread as each call
    /// starts. Needs the cargo feature `progress`.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    ///
    /// let mut pool = Pool::<Echo>::new(2).progress_bar_with(|len| {
    ///     let style = ProgressStyle::with_template("{pos}/{len} {per_sec}").unwrap();
    ///     let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr_with_hz(4));
    ///     bar.with_style(style)
    /// });
    /// assert_eq!(pool.map(0..100).unwrap().len(), 100);
    /// # }
    /// ```
    #[cfg(feature = "progress")]
    pub fn progress_bar_with(
        mut self,
        make: impl Fn(Option<u64>) -> indicatif::ProgressBar + Send + Sync + 'static,
    ) -> Self {
        let bars = crate::progress::Bars::new(crate::progress::BarMaker::custom(make));
        self.runner.configure(|settings| settings.bars = bars);
        self
    }

    /// Collects worker insights (mpire's `enable_insights`), read with
    /// [`insights`](Pool::insights): per worker, the time in start-up,
    /// init, waiting, working and exit, the tasks and lives, its timeline,
    /// and the [`Insights::SLOWEST`](crate::Insights::SLOWEST) slowest tasks
    /// of the pool with their call, item index and worker.
    ///
    /// - Each task costs one clock read and a compare (about 35 ns on a
    ///   2-core VM: 3% on 1 µs tasks, most of a nanosecond task's time);
    ///   a worker takes one uncontended lock when its share of a call ends
    ///   and every 10 ms. Off (the default), nothing is measured.
    /// - Workers already running end (their exits run), and the next call
    ///   starts fresh ones that record, as a change of
    ///   [`stack_size`](Pool::stack_size) does.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2).keep_alive().enable_insights();
    /// pool.map(0..1000).unwrap();
    /// pool.map(0..500).unwrap();
    /// let insights = pool.insights();
    /// assert_eq!(insights.tasks(), 1500);
    /// assert_eq!(insights.lives(), 2);
    /// assert_eq!(insights.slowest.len(), 10);
    /// println!("{insights}");
    /// # }
    /// ```
    pub fn enable_insights(mut self) -> Self {
        self.runner.configure(|settings| settings.insights = true);
        self
    }

    /// What the workers did (see [`Insights`](crate::Insights)): those
    /// running now, or the last ones to run; with
    /// [`keep_alive`](Pool::keep_alive), every call since they started,
    /// without it, the last call. A snapshot: it can be taken while a
    /// streaming call runs. Empty (no worker) where
    /// [`enable_insights`](Pool::enable_insights) was not called or no call
    /// started workers yet.
    pub fn insights(&self) -> crate::Insights {
        self.runner.slot().insights()
    }

    /// Bounds the look-ahead of streaming calls ([`imap`](Pool::imap) and
    /// its neighbours): at most `items` items pulled from the input and not
    /// yet yielded (running, queued, or done and waiting to be yielded;
    /// `max(items, 2)` for `items` below 2), for tasks whose outputs are
    /// large or whose items hold resources. The default window is four
    /// chunks a worker. Chunks are cut small enough that every worker has
    /// work within the bound. `0` makes the next streaming call fail with
    /// [`PoolError::InvalidConfig`]; blocking calls are not bounded by it.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2).max_active(8);
    /// let mut stream = pool.imap(0u64..);
    /// assert!(stream.look_ahead() <= 8);
    /// assert_eq!(stream.next().unwrap().unwrap(), 0);
    /// # }
    /// ```
    pub fn max_active(mut self, items: usize) -> Self {
        self.runner
            .configure(|settings| settings.max_active = Some(items));
        self
    }

    /// Gives each worker thread a stack of `bytes` bytes, instead of std's
    /// default of 2 MiB (rayon's `stack_size`): for tasks that recurse
    /// deeply or keep large arrays on the stack. Below 64 KiB, which the
    /// pool's own frames need, the next call fails with
    /// [`PoolError::InvalidConfig`] rather than overflow. Takes effect when
    /// workers start (the first call, or the first after
    /// [`join`](Pool::join)).
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// fn depth(n: u64) -> u64 {
    ///     let frame = std::hint::black_box([n; 64]); // 512 bytes a level
    ///     if n == 0 { frame[0] } else { 1 + depth(n - 1) }
    /// }
    /// let mut pool = Pool::<Echo>::new(1).stack_size(64 << 20);
    /// assert_eq!(pool.apply_with(|_, n| depth(n), 20_000).unwrap(), 20_000);
    /// # }
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.runner
            .configure(|settings| settings.threads.stack_size = Some(bytes));
        self
    }

    /// Names the worker threads `<prefix>-<worker id>` (rayon's
    /// `thread_name`), as profilers, debuggers and panic messages show
    /// them; the default is `statepool-worker-<id>`.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(1).thread_name("decoder");
    /// let name = pool.apply_with(|_, ()| std::thread::current().name().map(str::to_owned), ());
    /// assert_eq!(name.unwrap().as_deref(), Some("decoder-0"));
    /// # }
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.runner
            .configure(|settings| settings.threads.name_prefix = Some(prefix.into()));
        self
    }

    /// Pins the workers to CPU cores (mpire's `cpu_ids`): worker `i` runs
    /// on core `cpus[i % cpus.len()]`, so one id a worker pins each to its
    /// own core and a shorter list is shared round-robin. Core ids are the
    /// `core_affinity` crate's (on Linux, the CPU numbers of `taskset`). An
    /// empty list, or an id that does not exist or is not available to the
    /// process, makes the next call fail with
    /// [`PoolError::InvalidConfig`] naming it. Needs the `affinity`
    /// feature (on by default).
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(2).pin_cpus([0]); // both workers on core 0
    /// assert_eq!(pool.map(0..4).unwrap(), [0, 1, 2, 3]);
    /// let mut pool = Pool::<Echo>::new(2).pin_cpus([1 << 20]);
    /// assert!(matches!(pool.map(0..4), Err(PoolError::InvalidConfig(_))));
    /// # }
    /// ```
    pub fn pin_cpus(mut self, cpus: impl IntoIterator<Item = usize>) -> Self {
        self.runner
            .configure(|settings| settings.threads.cpus = Some(cpus.into_iter().collect()));
        self
    }

    /// Limits each task to `limit` (mpire's `task_timeout`). A task that
    /// runs longer ends its call within the limit plus a few milliseconds,
    /// with [`PoolError::Timeout`] (phase [`Phase::Task`](crate::Phase),
    /// the item's index, the worker): its worker is abandoned, as a thread
    /// cannot be killed. A fresh worker (fresh thread, fresh init) takes its
    /// place, the pool stays usable, and when the stuck task returns at
    /// last, its output and its state are dropped on its own thread, without
    /// the exit hook. [`abandoned`](Pool::abandoned) counts such threads.
    ///
    /// # Which calls can time out
    /// Only calls whose every piece a stuck task can still reach is owned,
    /// so that nothing it touches is freed under it when its call returns:
    /// - `map`, `map_unordered` and `apply` of the `#[task]`, over inputs
    ///   that borrow nothing (`u64`, `String`; the iterator itself may
    ///   borrow). The input is then pulled on the caller's thread, whole,
    ///   into a vector the call owns, before the workers start on it (so
    ///   an endless input does not end), and the call shares its outputs
    ///   with the workers instead of lending them.
    /// - `imap`, `imap_unordered`, their `_borrowed` and `_with` forms
    ///   (their closures are `'static`), and every task of a [`PoolHandle`].
    ///
    /// The others end with [`PoolError::InvalidConfig`] naming the reason:
    /// a `#[task]` whose input borrows (`&str`), and `map_with`,
    /// `map_unordered_with`, `apply_with` (and their `try_` forms), whose
    /// closures may borrow from the caller. So does `order_tasks` with a
    /// timeout, and a limit under 1 ms.
    ///
    /// A limit costs nothing when not set. When set, each task costs a swap
    /// and a compare-and-swap on its worker's own word (no clock read: the
    /// pool's watchdog thread times each run from when it first sees it,
    /// looking every 1 to 5 ms while code runs, a 32nd of the shortest
    /// limit, and sleeping without deadline while none runs). So a run is
    /// never given up on early, and late by at most that period plus the
    /// watchdog's own scheduling.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// use std::sync::mpsc::channel;
    /// use std::time::Duration;
    /// use pool_core::{Phase, Pool, PoolError};
    ///
    /// let mut pool = Pool::<Echo>::new(1).keep_alive().task_timeout(Duration::from_millis(50));
    /// // A task waiting on a reply that never comes.
    /// let (never, reply) = channel::<()>();
    /// let stuck = pool.handle().apply_async_with(move |_: &mut Echo, ()| reply.recv().is_ok(), ());
    /// match stuck.wait() {
    ///     Err(PoolError::Timeout { phase: Phase::Task, index: Some(0), .. }) => {}
    ///     other => panic!("{other:?}"),
    /// }
    /// assert_eq!(pool.abandoned(), 1);
    /// // A fresh worker took its place.
    /// assert_eq!(pool.map(0..4).unwrap(), [0, 1, 2, 3]);
    /// drop(never); // the stuck task returns at last; its thread ends
    /// # }
    /// ```
    pub fn task_timeout(mut self, limit: Duration) -> Self {
        self.runner
            .configure(|settings| settings.timeouts.task = Some(limit));
        self
    }

    /// Limits each `#[worker_init]` to `limit` (mpire's
    /// `worker_init_timeout`): an init that runs longer ends its call with
    /// [`PoolError::Timeout`] (phase [`Phase::Init`](crate::Phase)), its
    /// worker abandoned and replaced as with
    /// [`task_timeout`](Pool::task_timeout), whose rules on which calls can
    /// time out apply.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// use std::time::Duration;
    /// use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2).worker_init_timeout(Duration::from_secs(30));
    /// assert_eq!(pool.map(0..3).unwrap(), [0, 1, 2]);
    /// # }
    /// ```
    pub fn worker_init_timeout(mut self, limit: Duration) -> Self {
        self.runner
            .configure(|settings| settings.timeouts.init = Some(limit));
        self
    }

    /// Limits each `#[worker_exit]` to `limit` (mpire's
    /// `worker_exit_timeout`): an exit that runs longer is given up on, its
    /// output dropped when it returns, and [`PoolError::Timeout`] (phase
    /// [`Phase::Exit`](crate::Phase)) is the error of the call, `join` or
    /// lifespan restart during which it ran. As with
    /// [`task_timeout`](Pool::task_timeout), whose rules on which calls can
    /// time out apply.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// use std::time::Duration;
    /// use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2).keep_alive().worker_exit_timeout(Duration::from_secs(30));
    /// pool.map(0..3).unwrap();
    /// pool.join().unwrap();
    /// # }
    /// ```
    pub fn worker_exit_timeout(mut self, limit: Duration) -> Self {
        self.runner
            .configure(|settings| settings.timeouts.exit = Some(limit));
        self
    }

    /// How many worker threads a timeout left behind so far, over the
    /// pool's life: each was running code past its limit, and ends on its
    /// own once that code returns.
    pub fn abandoned(&self) -> usize {
        self.runner.slot().abandoned()
    }

    /// The number of workers.
    pub fn n_workers(&self) -> usize {
        self.runner.settings.n_workers
    }

    /// The pool's shared object, as its workers read it through
    /// [`WorkerContext::shared`](crate::WorkerContext::shared): `&()` for a
    /// pool built with [`new`](Pool::new). Useful to read what the workers
    /// recorded in it (counters, a log) between calls.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let pool = Pool::<Echo>::new(2);
    /// assert_eq!(pool.shared(), &());
    /// # }
    /// ```
    pub fn shared(&self) -> &S::Shared {
        self.runner.shared()
    }

    /// The [`Arc`] that holds the shared object: clone it to use the object
    /// in a closure given to the pool's own calls (`map_with`), which
    /// borrow the pool mutably.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// # use std::sync::Arc;
    /// let mut pool = Pool::<Echo>::new(2);
    /// let shared = Arc::clone(pool.shared_arc());
    /// let out = pool.map_with(move |_, x: u32| (x, *shared), 0..2).unwrap();
    /// assert_eq!(out, [(0, ()), (1, ())]);
    /// # }
    /// ```
    pub fn shared_arc(&self) -> &Arc<S::Shared> {
        self.runner.shared_arc()
    }

    /// Runs `f` on every item with a worker's state, like [`map`](Pool::map)
    /// with a closure instead of the state's `#[task]`. Results are in input
    /// order. `f` may borrow from the caller.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let offset = 10;
    /// let mut pool = Pool::<Echo>::new(2);
    /// let out = pool.map_with(|_state: &mut Echo, x: u32| x + offset, 0..3).unwrap();
    /// assert_eq!(out, [10, 11, 12]);
    /// # }
    /// ```
    pub fn map_with<I, F, O>(&mut self, f: F, items: I) -> Result<Vec<O>, PoolError>
    where
        I: IntoIterator,
        I::IntoIter: Send,
        I::Item: Send,
        F: Fn(&mut S, I::Item) -> O + Sync,
        O: Send,
    {
        let task = |state: &mut S, item, _: &WorkerContext<S::Shared>| Ok(f(state, item));
        self.runner
            .run_blocking(items.into_iter(), task, Slots::new)
            .map(Slots::into_vec)
    }

    /// Like [`map_with`](Pool::map_with), with results in completion order
    /// (as [`map_unordered`](Pool::map_unordered)).
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2);
    /// let mut out = pool.map_unordered_with(|_: &mut Echo, x: u32| 2 * x, 0..4).unwrap();
    /// out.sort();
    /// assert_eq!(out, [0, 2, 4, 6]);
    /// # }
    /// ```
    pub fn map_unordered_with<I, F, O>(&mut self, f: F, items: I) -> Result<Vec<O>, PoolError>
    where
        I: IntoIterator,
        I::IntoIter: Send,
        I::Item: Send,
        F: Fn(&mut S, I::Item) -> O + Sync,
        O: Send,
    {
        let task = |state: &mut S, item, _: &WorkerContext<S::Shared>| Ok(f(state, item));
        self.run_unordered(items.into_iter(), task)
    }

    /// Runs `f` on one item with a worker's state (mpire's `apply` with any
    /// function): [`apply`](Pool::apply) with a closure or another function
    /// of the state instead of its `#[task]`. `f` may borrow from the caller.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(1);
    /// assert_eq!(pool.apply_with(|_: &mut Echo, s: &str| s.len(), "four").unwrap(), 4);
    /// # }
    /// ```
    pub fn apply_with<T, F, O>(&mut self, f: F, item: T) -> Result<O, PoolError>
    where
        T: Send,
        F: Fn(&mut S, T) -> O + Sync,
        O: Send,
    {
        let task = |state: &mut S, item, _: &WorkerContext<S::Shared>| Ok(f(state, item));
        self.run_one(item, task)
    }

    /// A lazy iterator of `f`'s results in input order:
    /// [`imap`](Pool::imap) with a closure or another function of the state
    /// instead of its `#[task]`. The call outlives this frame (its iterator
    /// can be leaked), so `f` and the items are `'static`: move what `f`
    /// needs into it (an `Arc` to share it).
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2);
    /// let words = pool.imap_with(|_: &mut Echo, n: usize| "ab".repeat(n), 0..3);
    /// let words: Vec<String> = words.map(Result::unwrap).collect();
    /// assert_eq!(words, ["", "ab", "abab"]);
    /// # }
    /// ```
    pub fn imap_with<I, F, O>(&mut self, f: F, items: I) -> Imap<'_, S, O>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item) -> O + Send + Sync + 'static,
        O: Send + 'static,
    {
        let task = move |state: &mut S, item, _: &WorkerContext<S::Shared>| Ok(f(state, item));
        Imap::start(&mut self.runner, items.into_iter(), task, true)
    }

    /// Like [`imap_with`](Pool::imap_with), in completion order.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2);
    /// let mut out: Vec<u64> = pool
    ///     .imap_unordered_with(|_: &mut Echo, x: u64| x + 1, vec![1, 2, 3])
    ///     .map(Result::unwrap)
    ///     .collect();
    /// out.sort();
    /// assert_eq!(out, [2, 3, 4]);
    /// # }
    /// ```
    pub fn imap_unordered_with<I, F, O>(&mut self, f: F, items: I) -> Imap<'_, S, O>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item) -> O + Send + Sync + 'static,
        O: Send + 'static,
    {
        let task = move |state: &mut S, item, _: &WorkerContext<S::Shared>| Ok(f(state, item));
        Imap::start(&mut self.runner, items.into_iter(), task, false)
    }

    /// [`imap_with`](Pool::imap_with) over an input that borrows from the
    /// caller, pulled on this thread inside `next` (see
    /// [`imap_borrowed`](Pool::imap_borrowed)); `f` and the items stay
    /// `'static`.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let lines = vec!["a b".to_string(), "c".to_string()];
    /// let mut pool = Pool::<Echo>::new(2);
    /// let words: Vec<usize> = pool
    ///     .imap_borrowed_with(|_: &mut Echo, line: String| line.split(' ').count(), lines.iter().cloned())
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(words, [2, 1]);
    /// # }
    /// ```
    pub fn imap_borrowed_with<'p, I, F, O>(&'p mut self, f: F, items: I) -> Imap<'p, S, O>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'p,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item) -> O + Send + Sync + 'static,
        O: Send + 'static,
    {
        let task = move |state: &mut S, item, _: &WorkerContext<S::Shared>| Ok(f(state, item));
        Imap::start_in_turns(&mut self.runner, items.into_iter(), task, true)
    }

    /// [`imap_borrowed_with`](Pool::imap_borrowed_with) in completion order.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let sizes = vec![2usize, 4];
    /// let mut pool = Pool::<Echo>::new(2);
    /// let total: usize = pool
    ///     .imap_unordered_borrowed_with(|_: &mut Echo, n: usize| n * 10, sizes.iter().copied())
    ///     .map(Result::unwrap)
    ///     .sum();
    /// assert_eq!(total, 60);
    /// # }
    /// ```
    pub fn imap_unordered_borrowed_with<'p, I, F, O>(&'p mut self, f: F, items: I) -> Imap<'p, S, O>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'p,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item) -> O + Send + Sync + 'static,
        O: Send + 'static,
    {
        let task = move |state: &mut S, item, _: &WorkerContext<S::Shared>| Ok(f(state, item));
        Imap::start_in_turns(&mut self.runner, items.into_iter(), task, false)
    }

    /// [`map_with`](Pool::map_with) for a fallible `f`: an `Err` fails the
    /// call as a `#[task]`'s does, with [`PoolError::Task`] at the item's
    /// index (the earliest in input order where several failed), and the
    /// results are the `Ok` values. The `try_` forms follow rayon's
    /// `try_for_each` and `Iterator::try_fold`: one method a call kind
    /// keeps closures' argument types inferred, where a wrapper type around
    /// the closure would not.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let parse = |_: &mut Echo, s: &str| s.parse::<u32>();
    /// let mut pool = Pool::<Echo>::new(2);
    /// assert_eq!(pool.try_map_with(parse, ["1", "2"]).unwrap(), [1, 2]);
    /// let err = pool.try_map_with(parse, ["1", "x", "3"]).unwrap_err();
    /// assert!(matches!(err, PoolError::Task { index: 1, .. }));
    /// # }
    /// ```
    pub fn try_map_with<I, F, O, E>(&mut self, f: F, items: I) -> Result<Vec<O>, PoolError>
    where
        I: IntoIterator,
        I::IntoIter: Send,
        I::Item: Send,
        F: Fn(&mut S, I::Item) -> Result<O, E> + Sync,
        E: Into<BoxError>,
        O: Send,
    {
        let task =
            |state: &mut S, item, _: &WorkerContext<S::Shared>| f(state, item).map_err(Into::into);
        self.runner
            .run_blocking(items.into_iter(), task, Slots::new)
            .map(Slots::into_vec)
    }

    /// [`map_unordered_with`](Pool::map_unordered_with) for a fallible `f`
    /// (see [`try_map_with`](Pool::try_map_with)).
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2);
    /// let out = pool.try_map_unordered_with(|_: &mut Echo, s: &str| s.parse::<u8>(), ["7"]);
    /// assert_eq!(out.unwrap(), [7]);
    /// # }
    /// ```
    pub fn try_map_unordered_with<I, F, O, E>(
        &mut self,
        f: F,
        items: I,
    ) -> Result<Vec<O>, PoolError>
    where
        I: IntoIterator,
        I::IntoIter: Send,
        I::Item: Send,
        F: Fn(&mut S, I::Item) -> Result<O, E> + Sync,
        E: Into<BoxError>,
        O: Send,
    {
        let task =
            |state: &mut S, item, _: &WorkerContext<S::Shared>| f(state, item).map_err(Into::into);
        self.run_unordered(items.into_iter(), task)
    }

    /// [`apply_with`](Pool::apply_with) for a fallible `f` (see
    /// [`try_map_with`](Pool::try_map_with)).
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(1);
    /// let err = pool.try_apply_with(|_: &mut Echo, s: &str| s.parse::<u8>(), "300");
    /// assert!(matches!(err, Err(PoolError::Task { index: 0, .. })));
    /// # }
    /// ```
    pub fn try_apply_with<T, F, O, E>(&mut self, f: F, item: T) -> Result<O, PoolError>
    where
        T: Send,
        F: Fn(&mut S, T) -> Result<O, E> + Sync,
        E: Into<BoxError>,
        O: Send,
    {
        let task =
            |state: &mut S, item, _: &WorkerContext<S::Shared>| f(state, item).map_err(Into::into);
        self.run_one(item, task)
    }

    /// [`imap_with`](Pool::imap_with) for a fallible `f`: an `Err` is
    /// yielded at its item's position as a [`PoolError::Task`], after every
    /// result before it; then the iterator ends.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(2);
    /// let parse = |_: &mut Echo, s: &'static str| s.parse::<u32>();
    /// let out: Vec<_> = pool.try_imap_with(parse, ["1", "x", "3"]).collect();
    /// assert_eq!(out[0].as_ref().unwrap(), &1);
    /// assert!(matches!(out[1], Err(PoolError::Task { index: 1, .. })));
    /// assert_eq!(out.len(), 2);
    /// # }
    /// ```
    pub fn try_imap_with<I, F, O, E>(&mut self, f: F, items: I) -> Imap<'_, S, O>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item) -> Result<O, E> + Send + Sync + 'static,
        E: Into<BoxError>,
        O: Send + 'static,
    {
        let task = move |state: &mut S, item, _: &WorkerContext<S::Shared>| {
            f(state, item).map_err(Into::into)
        };
        Imap::start(&mut self.runner, items.into_iter(), task, true)
    }

    /// [`imap_unordered_with`](Pool::imap_unordered_with) for a fallible
    /// `f`: an `Err` is yielded when it is met, then the iterator ends.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let mut pool = Pool::<Echo>::new(2);
    /// let parse = |_: &mut Echo, s: &'static str| s.parse::<u32>();
    /// let ok: Vec<u32> = pool.try_imap_unordered_with(parse, ["4"]).map(Result::unwrap).collect();
    /// assert_eq!(ok, [4]);
    /// # }
    /// ```
    pub fn try_imap_unordered_with<I, F, O, E>(&mut self, f: F, items: I) -> Imap<'_, S, O>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item) -> Result<O, E> + Send + Sync + 'static,
        E: Into<BoxError>,
        O: Send + 'static,
    {
        let task = move |state: &mut S, item, _: &WorkerContext<S::Shared>| {
            f(state, item).map_err(Into::into)
        };
        Imap::start(&mut self.runner, items.into_iter(), task, false)
    }

    /// Runs a blocking call of `task`, results in completion order.
    fn run_unordered<I, F, O>(&mut self, items: I, task: F) -> Result<Vec<O>, PoolError>
    where
        I: Iterator + Send,
        I::Item: Send,
        F: Fn(&mut S, I::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Sync,
        O: Send,
    {
        let unordered = |_, _: Lender<'_>| Unordered::new();
        self.runner
            .run_blocking(items, task, unordered)
            .map(Unordered::into_vec)
    }

    /// Runs `task` on one item.
    fn run_one<T, F, O>(&mut self, item: T, task: F) -> Result<O, PoolError>
    where
        T: Send,
        F: Fn(&mut S, T, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Sync,
        O: Send,
    {
        // A vector, not `iter::once`: its one position is claimed without
        // a buffer sized from `chunk_size` (see `input::visit`).
        let outputs = self
            .runner
            .run_blocking(vec![item].into_iter(), task, Slots::new)
            .map(Slots::into_vec)?;
        Ok(outputs
            .into_iter()
            .next()
            .expect("a call of one item that succeeded gives one output"))
    }

    /// Stops the live workers, running each one's exit hook; the pool stays
    /// usable and starts fresh workers on its next call. Tasks submitted
    /// through a [`PoolHandle`] before the join all run first. Returns the
    /// first failure of an exit hook, by worker id.
    pub fn join(&mut self) -> Result<(), PoolError> {
        self.runner.end_crew()
    }

    /// A handle through which many threads submit tasks to this pool's
    /// workers at once, while the pool keeps its own calls (see
    /// [`PoolHandle`] for how the two share the workers). Handles are cheap
    /// to clone; every one of a pool reaches the same workers.
    ///
    /// ```
    /// # use pool_core::{BoxError, ExitValue, Pool, WorkerContext, WorkerState};
    /// # struct Idle;
    /// # impl WorkerState for Idle {
    /// #     type Shared = ();
    /// #     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Idle) }
    /// #     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
    /// # }
    /// use pool_core::PoolError;
    ///
    /// let pool = Pool::<Idle>::new(2);
    /// let handle = pool.handle();
    /// let task = handle.apply_async_with(|_: &mut Idle, x: u8| x * 2, 21);
    /// assert_eq!(task.wait().unwrap(), 42);
    /// drop(pool);
    /// let late = handle.apply_async_with(|_: &mut Idle, x: u8| x, 1);
    /// assert!(matches!(late.wait(), Err(PoolError::Closed)));
    /// ```
    pub fn handle(&self) -> PoolHandle<S> {
        PoolHandle::new(std::sync::Arc::clone(self.runner.slot()))
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
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(2);
    /// assert_eq!(pool.map(vec![3, 1, 2]).unwrap(), [3, 1, 2]);
    /// # }
    /// ```
    pub fn map<I: TaskItems<S>>(&mut self, items: I) -> Result<Vec<I::Output>, PoolError> {
        if self.runner.settings.timeouts.any() {
            return self.map_owned(items, true);
        }
        self.runner
            .run_blocking(items.__into_iter(), I::__run, Slots::new)
            .map(Slots::into_vec)
    }

    /// Like [`map`](Pool::map), with results in completion order.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(2);
    /// let mut out = pool.map_unordered(0..100).unwrap();
    /// out.sort();
    /// assert_eq!(out, (0..100).collect::<Vec<_>>());
    /// # }
    /// ```
    pub fn map_unordered<I: TaskItems<S>>(
        &mut self,
        items: I,
    ) -> Result<Vec<I::Output>, PoolError> {
        if self.runner.settings.timeouts.any() {
            return self.map_owned(items, false);
        }
        self.run_unordered(items.__into_iter(), I::__run)
    }

    /// Runs the `#[task]` over `items` on a call that owns all it shares
    /// with the workers, so that a worker left running past a timeout
    /// reaches nothing the caller frees: the items are pulled on this
    /// thread into a vector the call owns (see [`Pool::task_timeout`]).
    fn map_owned<I: TaskItems<S>>(
        &mut self,
        items: I,
        ordered: bool,
    ) -> Result<Vec<I::Output>, PoolError> {
        if !I::__OWNED {
            return Err(PoolError::InvalidConfig(format!(
                "a pool with a timeout cannot run the task of `{}`, whose input borrows: a task left running past its limit would still read the caller's data after the call returned; take owned inputs (String for &str), or drop the timeout",
                std::any::type_name::<S>()
            )));
        }
        let mut iter = items.__into_iter();
        let mut owned = Vec::with_capacity(iter.size_hint().0.min(1 << 16));
        let mut refused = false;
        let pulled = crate::unwind::catch(|| {
            for item in &mut iter {
                match I::__owned(item) {
                    Some(item) => owned.push(item),
                    None => {
                        refused = true;
                        return;
                    }
                }
            }
        });
        if let Err(caught) = pulled {
            let index = owned.len();
            crate::unwind::drop_quietly(owned);
            crate::unwind::drop_quietly(iter);
            return Err(PoolError::Input {
                index: Some(index),
                message: caught.message,
                payload: caught.payload,
            });
        }
        if let Err(caught) = crate::unwind::catch(move || drop(iter)) {
            crate::unwind::drop_quietly(owned);
            return Err(PoolError::Input {
                index: None,
                message: caught.message,
                payload: caught.payload,
            });
        }
        if refused {
            return Err(PoolError::InvalidConfig(format!(
                "a pool with a timeout runs the task of `{}` only where `Task::into_static` gives its input as owned; this hand-written task does not",
                std::any::type_name::<S>()
            )));
        }
        // A pointer, whose type names only `'static` types, unlike `I`'s.
        let task: fn(&mut S, I::__Owned, &WorkerContext<S::Shared>) -> _ = I::__run_owned;
        if ordered {
            self.runner
                .run_blocking_owned(owned, task, Slots::new)
                .map(Slots::into_vec)
        } else {
            let unordered = |_, _: Lender<'_>| Unordered::new();
            self.runner
                .run_blocking_owned(owned, task, unordered)
                .map(Unordered::into_vec)
        }
    }

    /// Runs one task. Without [`keep_alive`](Pool::keep_alive), every call
    /// starts and ends every worker (init and exit each time): a loop of
    /// `apply`, as a server's, wants `keep_alive`.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// assert_eq!(Pool::<Echo>::new(1).apply(5).unwrap(), 5);
    /// # }
    /// ```
    pub fn apply(&mut self, item: S::Input<'_>) -> Result<S::Output, PoolError>
    where
        S: Task,
    {
        if self.runner.settings.timeouts.any() {
            let outputs = self.map_owned(std::iter::once(item), true)?;
            return Ok(outputs
                .into_iter()
                .next()
                .expect("a call of one item that succeeded gives one output"));
        }
        self.run_one(item, S::run)
    }

    /// A lazy iterator over the results, in input order. The input is pulled
    /// as workers need it, with a bounded look-ahead, so it may be endless.
    /// It is owned (`'static`): an input that borrows from the caller
    /// (`lines.iter().cloned()`) goes to
    /// [`imap_borrowed`](Pool::imap_borrowed) instead.
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
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(2);
    /// let first: Vec<u64> = pool.imap(0u64..).take(5).map(Result::unwrap).collect();
    /// assert_eq!(first, [0, 1, 2, 3, 4]);
    /// # }
    /// ```
    pub fn imap<I>(&mut self, items: I) -> Imap<'_, S>
    where
        S: StreamTask,
        I: IntoIterator<Item = S::Input<'static>>,
        I::IntoIter: Send + 'static,
    {
        Imap::start(&mut self.runner, items.into_iter(), S::run, true)
    }

    /// [`imap`](Pool::imap) over an input that borrows from the caller
    /// (`lines.iter().cloned()`): results in input order, pulled lazily with
    /// the same bounded look-ahead. The items themselves are `'static`
    /// (they outlive the statement: the iterator can be leaked).
    ///
    /// The input is pulled on this thread, inside the iterator's `next`, as
    /// far as the look-ahead allows, never by a worker, so the borrow is
    /// sound even where the iterator is leaked with `mem::forget`: the
    /// leaked input is never touched again. An input that blocks blocks
    /// `next` while it does; give such an input by value to
    /// [`imap`](Pool::imap), which pulls it on a thread of its own and
    /// never waits for it on drop. Dropping the iterator cancels the call
    /// as `imap`'s does, and drops the input on this thread.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let numbers: Vec<u64> = (0..10).collect();
    /// let mut pool = Pool::<Echo>::new(2);
    /// let echoed: Vec<u64> = pool.imap_borrowed(numbers.iter().copied()).map(Result::unwrap).collect();
    /// assert_eq!(echoed, numbers);
    /// // Leaked, the iterator never touches `numbers` again.
    /// std::mem::forget(pool.imap_borrowed(numbers.iter().copied()));
    /// drop(numbers);
    /// assert_eq!(pool.map(0..3).unwrap(), [0, 1, 2]);
    /// # }
    /// ```
    pub fn imap_borrowed<'p, I>(&'p mut self, items: I) -> Imap<'p, S>
    where
        S: StreamTask,
        I: IntoIterator<Item = S::Input<'static>>,
        I::IntoIter: Send + 'p,
    {
        Imap::start_in_turns(&mut self.runner, items.into_iter(), S::run, true)
    }

    /// [`imap_borrowed`](Pool::imap_borrowed) in completion order (as
    /// [`imap_unordered`](Pool::imap_unordered)).
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::Pool;
    /// let numbers = vec![3u64, 1, 2];
    /// let mut pool = Pool::<Echo>::new(2);
    /// let mut out: Vec<u64> = pool
    ///     .imap_unordered_borrowed(numbers.iter().copied())
    ///     .map(Result::unwrap)
    ///     .collect();
    /// out.sort();
    /// assert_eq!(out, [1, 2, 3]);
    /// # }
    /// ```
    pub fn imap_unordered_borrowed<'p, I>(&'p mut self, items: I) -> Imap<'p, S>
    where
        S: StreamTask,
        I: IntoIterator<Item = S::Input<'static>>,
        I::IntoIter: Send + 'p,
    {
        Imap::start_in_turns(&mut self.runner, items.into_iter(), S::run, false)
    }

    /// Like [`imap`](Pool::imap), in completion order; a failure is yielded
    /// when it is met, then the iterator ends.
    ///
    /// ```
    /// # include!("../doc/echo.rs");
    /// # fn main() {
    /// # use pool_core::{Pool, PoolError};
    /// let mut pool = Pool::<Echo>::new(2);
    /// let mut out: Vec<u64> = pool.imap_unordered(0..10).map(Result::unwrap).collect();
    /// out.sort();
    /// assert_eq!(out, (0..10).collect::<Vec<_>>());
    /// # }
    /// ```
    pub fn imap_unordered<I>(&mut self, items: I) -> Imap<'_, S>
    where
        S: StreamTask,
        I: IntoIterator<Item = S::Input<'static>>,
        I::IntoIter: Send + 'static,
    {
        Imap::start(&mut self.runner, items.into_iter(), S::run, false)
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
        self.runner
            .take_exits()
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
        // Failures of exit hooks have no caller left to go to. Handles
        // still held submit nothing after this: they get `Closed`.
        let _ = self.runner.close();
    }
}

impl<S: WorkerState> fmt::Debug for Pool<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.runner.settings;
        f.debug_struct("Pool")
            .field("state", &std::any::type_name::<S>())
            .field("n_workers", &settings.n_workers)
            .field("keep_alive", &settings.keep_alive)
            .field("worker_lifespan", &settings.lifespan)
            .field("chunk_size", &settings.chunk_size)
            .field("order_tasks", &settings.order_tasks)
            .field("max_active", &settings.max_active)
            .field("stack_size", &settings.threads.stack_size)
            .field("thread_name", &settings.threads.name_prefix)
            .field("pin_cpus", &settings.threads.cpus)
            .field("running", &self.runner.is_running())
            .finish_non_exhaustive()
    }
}
