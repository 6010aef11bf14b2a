//! Submitting tasks from many threads at once: a [`PoolHandle`] queues
//! single tasks on the pool's running crew (starting one where none runs),
//! and a [`TaskHandle`] waits for one's result.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::runner::CrewSlot;
use crate::sync::{lock, wait, wait_timeout};
use crate::unwind::{catch, drop_quietly};
use crate::worker::{Job, Worker};
use crate::{BoxError, PoolError, Task, WorkerContext, WorkerState};

/// A handle through which many threads submit tasks to one pool at once:
/// mpire's `apply_async`, Java's `ExecutorService::submit`.
///
/// Made by [`Pool::handle`](crate::Pool::handle); `Clone + Send + Sync`, so
/// each request thread of a server can hold one. Tasks from every handle
/// and every call of the pool share the same workers and states: one state
/// per worker, never re-entered, with the pool's `worker_lifespan`. Each
/// task is its own one-item call: a failing or panicking task fails only
/// its own [`TaskHandle`] (its index is 0), a panicking worker re-inits as
/// in a call, and the pool lives on.
///
/// # Workers and the pool's calls
/// - A submission goes to the pool's running workers, or starts them where
///   none run (after [`join`](crate::Pool::join), or before any call).
/// - Workers run submitted tasks in the order they came: between calls,
///   and inside the pool's current call between two chunks and while the
///   call waits for its input (a `map` over a channel that stays open) or
///   its consumer (an `imap` not read on), a few dozen at a time, so that
///   a flood of tasks slows a call down but never stops it. So
///   `for r in pool.imap(xs) { handle.apply(r?) }` works.
/// - On a pool with a time limit ([`task_timeout`](crate::Pool::task_timeout)
///   and the others), a worker runs tasks between calls only: a task given
///   up on inside a call would leave that call without its worker. There,
///   a task submitted while a call waits on its input or its consumer
///   waits for the call to end: never wait on a handle inside the input of
///   the pool's own call, or between the items of an `imap` you read.
/// - [`join`](crate::Pool::join), and the end of a call without
///   `keep_alive`, end the workers only after every task submitted before
///   has run. A task submitted during that end goes to fresh workers. Workers
///   a handle started stay until the pool's next call without `keep_alive`
///   ends, its `join`, or its drop.
/// - Once the pool is dropped (its tasks already submitted still run), a
///   submission fails with [`PoolError::Closed`], never hangs.
///
/// Waiting on a handle from inside one of the pool's own tasks (or a
/// callback, which runs on a worker) can wait forever where every worker
/// does the same: submit from outside the pool.
///
/// ```
/// use std::thread;
/// use pool_core::{BoxError, ExitValue, Pool, Task, WorkerContext, WorkerState};
///
/// struct Model { weight: u64 }
/// impl WorkerState for Model {
///     type Shared = ();
///     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Model { weight: 3 }) }
///     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
/// }
/// impl Task for Model {
///     type Input<'a> = u64;
///     type Output = u64;
///     type InputKind = pool_core::OwnedInput;
///     fn run(&mut self, x: u64, _: &WorkerContext) -> Result<u64, BoxError> { Ok(x * self.weight) }
/// }
///
/// let pool = Pool::<Model>::new(2).keep_alive();
/// let handle = pool.handle();
/// let answers: Vec<u64> = thread::scope(|s| {
///     let requests: Vec<_> = (0..4u64)
///         .map(|x| {
///             let handle = handle.clone();
///             s.spawn(move || handle.apply(x).unwrap())
///         })
///         .collect();
///     requests.into_iter().map(|r| r.join().unwrap()).collect()
/// });
/// assert_eq!(answers, [0, 3, 6, 9]);
/// ```
pub struct PoolHandle<S: WorkerState> {
    slot: Arc<CrewSlot<S>>,
}

impl<S: WorkerState> PoolHandle<S> {
    pub(crate) fn new(slot: Arc<CrewSlot<S>>) -> Self {
        PoolHandle { slot }
    }

    /// Queues the job `make` builds (given the pool's lifespan) on the
    /// running crew, starting one where none runs. On failure, `reply`
    /// gets the error before the job, if built, is dropped.
    fn submit<O>(&self, reply: &Arc<Reply<O>>, make: impl FnOnce(Option<usize>) -> Job<S>) {
        let mut make = Some(make);
        let mut job: Option<Job<S>> = None;
        loop {
            let (crew, lifespan) = match self.slot.crew() {
                Ok(running) => running,
                Err(err) => {
                    reply.fulfil(Err(err));
                    drop(job);
                    return;
                }
            };
            let next = match job.take() {
                Some(job) => job,
                None => (make.take().expect("a job is built once"))(lifespan),
            };
            match crew.submit(next) {
                Ok(()) => return,
                Err(back) => match crew.lost() {
                    // No worker left, none could be started: until the
                    // pool's next call starts a fresh crew.
                    Some(err) => {
                        reply.fulfil(Err(err));
                        drop_quietly(back);
                        return;
                    }
                    // That crew is ending, out of the slot already: the
                    // next look finds a fresh one, or none and starts it.
                    None => job = Some(back),
                },
            }
        }
    }

    /// Runs `f` on `item` with a worker's state, as a submitted task (see
    /// [`PoolHandle::apply_async`]). `f` must be `'static`: it runs after
    /// this returns.
    ///
    /// ```
    /// # use pool_core::{BoxError, ExitValue, Pool, WorkerContext, WorkerState};
    /// # #[derive(Default)] struct Tally(u64);
    /// # impl WorkerState for Tally {
    /// #     type Shared = ();
    /// #     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Tally(0)) }
    /// #     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
    /// # }
    /// let pool = Pool::<Tally>::new(1).keep_alive();
    /// let handle = pool.handle();
    /// let first = handle.apply_async_with(|t: &mut Tally, x: u64| { t.0 += x; t.0 }, 5);
    /// let second = handle.apply_async_with(|t: &mut Tally, x: u64| { t.0 += x; t.0 }, 2);
    /// assert_eq!((first.wait().unwrap(), second.wait().unwrap()), (5, 7));
    /// ```
    pub fn apply_async_with<T, F, O>(&self, f: F, item: T) -> TaskHandle<O>
    where
        T: Send + 'static,
        F: Fn(&mut S, T) -> O + Send + 'static,
        O: Send + 'static,
    {
        let task = move |state: &mut S, x: T, _: &WorkerContext<S::Shared>| Ok(f(state, x));
        self.start(item, task, None)
    }

    /// Queues `item` for `task`, answering through the returned handle, or
    /// `callback` where given.
    fn start<T, F, O>(&self, item: T, task: F, callback: Option<Callback<O>>) -> TaskHandle<O>
    where
        T: Send + 'static,
        F: Fn(&mut S, T, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Send + 'static,
        O: Send + 'static,
    {
        let reply = Arc::new(Reply::new(callback));
        let promise = Promise(Some(Arc::clone(&reply)));
        let on_timeout = Arc::clone(&reply);
        self.submit(&reply, move |lifespan| {
            Box::new(move |worker: &mut Worker<S>| {
                // Where the task runs past a timeout, the watchdog answers
                // with it; the late output then goes nowhere.
                worker.arm(|| Box::new(move |err| on_timeout.fulfil_elsewhere(Err(err))));
                let out = worker.run_one(item, lifespan, &task);
                worker.disarm();
                // The user's closure: its drop must not unwind into the
                // worker's loop.
                drop_quietly(task);
                promise.fulfil(out);
            })
        });
        TaskHandle { reply }
    }
}

impl<S: Task> PoolHandle<S> {
    /// Runs the state's `#[task]` on `item` and waits for its output:
    /// [`apply_async`](PoolHandle::apply_async) then
    /// [`wait`](TaskHandle::wait). Many threads may call it at once.
    ///
    /// # Errors
    /// The task's failure ([`PoolError::Task`], [`PoolError::Panic`], at
    /// index 0), an init that failed as the task's worker started its life,
    /// [`PoolError::Closed`] once the pool is dropped, or a setting the pool
    /// cannot start workers with ([`PoolError::InvalidConfig`],
    /// [`PoolError::Spawn`]).
    pub fn apply(&self, item: S::Input<'static>) -> Result<S::Output, PoolError> {
        self.apply_async(item).wait()
    }

    /// Queues `item` for the state's `#[task]` and returns at once, with a
    /// handle on its result (mpire's `apply_async`). The task runs on the
    /// first worker free to take it; submissions from one thread start in
    /// the order they were made.
    ///
    /// A submission that cannot be made (the pool is dropped, its workers
    /// cannot start) returns a handle that is already done, with the error.
    pub fn apply_async(&self, item: S::Input<'static>) -> TaskHandle<S::Output> {
        self.start(item, |state: &mut S, x, ctx| state.run(x, ctx), None)
    }

    /// Queues `item` for the state's `#[task]`, and calls `callback` with
    /// its result once it has run (mpire's `callback` and `error_callback`
    /// in one). The callback runs on the worker's thread, right after the
    /// task, so keep it short; a panic in it is caught and dropped, it does
    /// not touch the worker. Where the submission cannot be made, it runs
    /// on this thread, with the error; where the task runs past a
    /// [`task_timeout`](crate::Pool::task_timeout), on the pool's watchdog
    /// thread, with the timeout.
    ///
    /// ```
    /// # use pool_core::{BoxError, ExitValue, OwnedInput, Pool, Task, WorkerContext, WorkerState};
    /// # struct Id;
    /// # impl WorkerState for Id {
    /// #     type Shared = ();
    /// #     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Id) }
    /// #     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
    /// # }
    /// # impl Task for Id {
    /// #     type Input<'a> = u64; type Output = u64; type InputKind = OwnedInput;
    /// #     fn run(&mut self, x: u64, _: &WorkerContext) -> Result<u64, BoxError> { Ok(x) }
    /// # }
    /// use std::sync::mpsc::channel;
    ///
    /// let mut pool = Pool::<Id>::new(2);
    /// let (tx, rx) = channel();
    /// for x in 0..3 {
    ///     let tx = tx.clone();
    ///     pool.handle().apply_callback(x, move |out| tx.send(out.unwrap()).unwrap());
    /// }
    /// pool.join().unwrap(); // runs every submitted task first
    /// let mut got: Vec<u64> = rx.try_iter().collect();
    /// got.sort();
    /// assert_eq!(got, [0, 1, 2]);
    /// ```
    pub fn apply_callback(
        &self,
        item: S::Input<'static>,
        callback: impl FnOnce(Result<S::Output, PoolError>) + Send + 'static,
    ) {
        let callback: Callback<S::Output> = Box::new(callback);
        self.start(
            item,
            |state: &mut S, x, ctx| state.run(x, ctx),
            Some(callback),
        );
    }
}

impl<S: WorkerState> Clone for PoolHandle<S> {
    fn clone(&self) -> Self {
        PoolHandle {
            slot: Arc::clone(&self.slot),
        }
    }
}

impl<S: WorkerState> fmt::Debug for PoolHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolHandle")
            .field("state", &std::any::type_name::<S>())
            .finish_non_exhaustive()
    }
}

type Callback<O> = Box<dyn FnOnce(Result<O, PoolError>) + Send>;

/// Where a submitted task's result goes: a [`TaskHandle`] waits for it, or
/// a callback takes it. The first result wins; a later one is dropped.
struct Reply<O> {
    outcome: Mutex<Outcome<O>>,
    done: Condvar,
    /// Threads waiting on `done`, counted under `outcome`'s lock: a
    /// result nobody waits for wakes nobody (no system call per task).
    waiting: AtomicUsize,
}

enum Outcome<O> {
    Pending(Option<Callback<O>>),
    Ready(Result<O, PoolError>),
    Taken,
}

impl<O> Reply<O> {
    fn new(callback: Option<Callback<O>>) -> Self {
        Reply {
            outcome: Mutex::new(Outcome::Pending(callback)),
            done: Condvar::new(),
            waiting: AtomicUsize::new(0),
        }
    }

    fn fulfil(&self, result: Result<O, PoolError>) {
        let mut outcome = lock(&self.outcome);
        let Outcome::Pending(callback) = &mut *outcome else {
            drop(outcome);
            // A late result (its task had already failed otherwise): it is
            // the user's, dropped quietly.
            drop_quietly(result);
            return;
        };
        match callback.take() {
            Some(callback) => {
                *outcome = Outcome::Taken;
                drop(outcome);
                // User code, on the worker's thread: its panic must not
                // reach the worker's loop.
                let _ = catch(move || callback(result));
            }
            None => {
                *outcome = Outcome::Ready(result);
                let waiting = self.waiting.load(Ordering::Relaxed) > 0;
                drop(outcome);
                if waiting {
                    self.done.notify_all();
                }
            }
        }
    }
}

impl<O> Reply<O> {
    /// Waits on `done` (at most `limit`), counted as waiting.
    fn wait<'a>(
        &self,
        outcome: MutexGuard<'a, Outcome<O>>,
        limit: Option<Duration>,
    ) -> MutexGuard<'a, Outcome<O>> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let outcome = match limit {
            None => wait(&self.done, outcome),
            Some(limit) => wait_timeout(&self.done, outcome, limit),
        };
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        outcome
    }
}

impl<O: Send + 'static> Reply<O> {
    /// [`Reply::fulfil`], from the watchdog: a callback runs on a thread
    /// of its own, so that a slow one holds up no other timeout.
    fn fulfil_elsewhere(self: Arc<Self>, result: Result<O, PoolError>) {
        let has_callback = matches!(&*lock(&self.outcome), Outcome::Pending(Some(_)));
        if !has_callback {
            self.fulfil(result);
            return;
        }
        // A copy of the timeout, for where no thread starts.
        let again = match &result {
            Err(PoolError::Timeout {
                phase,
                index,
                worker_id,
                limit,
            }) => Some(PoolError::Timeout {
                phase: *phase,
                index: *index,
                worker_id: *worker_id,
                limit: *limit,
            }),
            _ => None,
        };
        let reply = Arc::clone(&self);
        let spawned = std::thread::Builder::new()
            .name("statepool-callback".into())
            .spawn(move || reply.fulfil(result));
        if spawned.is_err() {
            // No thread: the callback runs here after all.
            if let Some(err) = again {
                self.fulfil(Err(err));
            }
        }
    }
}

/// The sending side of a [`Reply`], moved into its job: a job dropped
/// without running (its pool's crew gone) answers [`PoolError::Closed`].
struct Promise<O>(Option<Arc<Reply<O>>>);

impl<O> Promise<O> {
    fn fulfil(mut self, result: Result<O, PoolError>) {
        if let Some(reply) = self.0.take() {
            reply.fulfil(result);
        }
    }
}

impl<O> Drop for Promise<O> {
    fn drop(&mut self) {
        if let Some(reply) = self.0.take() {
            reply.fulfil(Err(PoolError::Closed));
        }
    }
}

/// The result of a task submitted through a [`PoolHandle`], to come.
///
/// Its result is taken once: by [`wait`](TaskHandle::wait), or by a
/// [`try_get`](TaskHandle::try_get) or
/// [`wait_timeout`](TaskHandle::wait_timeout) that returns it. Dropping the
/// handle does not cancel the task; its output is then dropped.
///
/// ```
/// # use pool_core::{BoxError, ExitValue, Pool, WorkerContext, WorkerState};
/// # struct Idle;
/// # impl WorkerState for Idle {
/// #     type Shared = ();
/// #     fn start_life(_: &WorkerContext) -> Result<Self, BoxError> { Ok(Idle) }
/// #     fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> { Ok(None) }
/// # }
/// use std::time::Duration;
///
/// let pool = Pool::<Idle>::new(1);
/// let task = pool.handle().apply_async_with(|_: &mut Idle, x: u32| x + 1, 41);
/// let out = task.wait_timeout(Duration::from_secs(10)).expect("done within 10 s");
/// assert_eq!(out.unwrap(), 42);
/// assert!(task.is_done());
/// assert!(task.try_get().is_none()); // taken already
/// ```
pub struct TaskHandle<O> {
    reply: Arc<Reply<O>>,
}

impl<O> TaskHandle<O> {
    /// Blocks until the task has run, and returns its output.
    ///
    /// # Errors
    /// The task's failure (see [`PoolHandle::apply`]);
    /// [`PoolError::InvalidConfig`] where the result was already taken by
    /// [`try_get`](TaskHandle::try_get) or
    /// [`wait_timeout`](TaskHandle::wait_timeout).
    pub fn wait(self) -> Result<O, PoolError> {
        let mut outcome = lock(&self.reply.outcome);
        loop {
            match std::mem::replace(&mut *outcome, Outcome::Taken) {
                Outcome::Ready(result) => return result,
                Outcome::Taken => {
                    return Err(PoolError::InvalidConfig(
                        "this task's result was already taken by try_get or wait_timeout".into(),
                    ))
                }
                pending @ Outcome::Pending(_) => {
                    *outcome = pending;
                    outcome = self.reply.wait(outcome, None);
                }
            }
        }
    }

    /// Waits at most `limit` for the task: its result, taken out, or `None`
    /// where it has not run within `limit` (or its result was taken
    /// already). The task itself goes on either way.
    pub fn wait_timeout(&self, limit: Duration) -> Option<Result<O, PoolError>> {
        let deadline = Instant::now().checked_add(limit);
        let mut outcome = lock(&self.reply.outcome);
        loop {
            match std::mem::replace(&mut *outcome, Outcome::Taken) {
                Outcome::Ready(result) => return Some(result),
                Outcome::Taken => return None,
                pending @ Outcome::Pending(_) => {
                    *outcome = pending;
                    let left = match deadline {
                        Some(deadline) => deadline.checked_duration_since(Instant::now())?,
                        None => Duration::from_secs(u32::MAX.into()),
                    };
                    outcome = self.reply.wait(outcome, Some(left));
                }
            }
        }
    }

    /// The result, taken out, if the task has run; `None` if it has not (or
    /// its result was taken already). Never blocks on the task.
    pub fn try_get(&self) -> Option<Result<O, PoolError>> {
        let mut outcome = lock(&self.reply.outcome);
        match std::mem::replace(&mut *outcome, Outcome::Taken) {
            Outcome::Ready(result) => Some(result),
            Outcome::Taken => None,
            pending @ Outcome::Pending(_) => {
                *outcome = pending;
                None
            }
        }
    }

    /// Whether the task has run (its result may have been taken since).
    pub fn is_done(&self) -> bool {
        !matches!(*lock(&self.reply.outcome), Outcome::Pending(_))
    }
}

impl<O> fmt::Debug for TaskHandle<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("done", &self.is_done())
            .finish()
    }
}

impl<O> Drop for Reply<O> {
    fn drop(&mut self) {
        // An output nobody took is the user's: its drop must not unwind into
        // the worker or the thread that dropped the last handle.
        if let Outcome::Ready(result) =
            std::mem::replace(crate::sync::get_mut(&mut self.outcome), Outcome::Taken)
        {
            drop_quietly(result);
        }
    }
}
