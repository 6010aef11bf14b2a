//! The worker threads of a pool, and the hand-off that gives each call to
//! the workers it has work for (publish, wake, acknowledge, park: see
//! `PROTOCOL.md`).
//!
//! One call runs at a time. A caller publishes it, each worker that takes
//! part runs its share and acknowledges, and the caller waits for the last
//! acknowledgement. Beside calls, the crew takes jobs: single tasks that
//! handles submit from any thread ([`Crew::submit`]), queued and run by
//! whichever worker is free, each reporting to its own handle. A call borrowed from the caller's frame runs inside
//! [`Crew::run_scoped_on`], which waits before it returns or unwinds; a
//! streaming call, which outlives the caller's frame, is handed over in an
//! `Arc` ([`Crew::publish`]) that the crew keeps until [`Crew::wait`].

use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::call::Call;
use crate::insights::Recording;
use crate::sync::protocol::thread::{self, JoinHandle, Thread};
use crate::sync::protocol::{
    lock, wait, AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard,
};
use crate::sync::AbortIfPanic;
use crate::unwind::{catch, drop_quietly, Caught};
use crate::watch::{watchdog_loop, Alarm, OnAbandon, Seen, Timeouts, Watch};
use crate::worker::{ExitStore, Job, JobQueue, Worker};
use crate::{PanicSite, PoolError, WorkerContext, WorkerState};

/// The smallest stack a worker gets: the pool's own frames (a call, a
/// chunk, a caught panic's) need some tens of KiB; below, a worker would
/// overflow and abort the process before its first task.
const MIN_STACK: usize = 64 << 10;

/// How the worker threads are made: rayon's `stack_size` and
/// `thread_name`, mpire's `cpu_ids`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Threads {
    /// Each thread's stack, in bytes; `None`: std's default (2 MiB).
    pub(crate) stack_size: Option<usize>,
    /// Threads are named `<prefix>-<worker id>`; `None`: `statepool-worker`.
    pub(crate) name_prefix: Option<String>,
    /// The core of worker `i` is `cpus[i % cpus.len()]`; `None`: unpinned.
    pub(crate) cpus: Option<Vec<usize>>,
}

impl Threads {
    /// Checks what can be checked before a thread starts.
    pub(crate) fn check(&self) -> Result<(), PoolError> {
        if let Some(bytes) = self.stack_size.filter(|&bytes| bytes < MIN_STACK) {
            return Err(PoolError::InvalidConfig(format!(
                "stack_size must be at least {MIN_STACK} bytes (64 KiB), got {bytes}"
            )));
        }
        let Some(cpus) = &self.cpus else {
            return Ok(());
        };
        if cpus.is_empty() {
            return Err(PoolError::InvalidConfig(
                "pin_cpus needs at least one core id, got none".into(),
            ));
        }
        check_cpus(cpus)
    }

    fn name(&self, worker_id: usize) -> String {
        let prefix = self.name_prefix.as_deref().unwrap_or("statepool-worker");
        format!("{prefix}-{worker_id}")
    }

    fn cpu(&self, worker_id: usize) -> Option<usize> {
        self.cpus.as_ref().map(|cpus| cpus[worker_id % cpus.len()])
    }
}

/// Every id of `cpus` is a core this process may run on.
#[cfg(feature = "affinity")]
fn check_cpus(cpus: &[usize]) -> Result<(), PoolError> {
    let known: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|core| core.id)
        .collect();
    match cpus.iter().find(|id| !known.contains(id)) {
        None => Ok(()),
        Some(id) => Err(PoolError::InvalidConfig(format!(
            "pin_cpus: core {id} does not exist or is not available to this process (available: {known:?})"
        ))),
    }
}

#[cfg(not(feature = "affinity"))]
fn check_cpus(_: &[usize]) -> Result<(), PoolError> {
    Err(PoolError::InvalidConfig(
        "pin_cpus needs statepool's `affinity` feature".into(),
    ))
}

/// Pins this thread to core `id`; a refusal of the system leaves it
/// unpinned (the id was checked to exist).
#[cfg(feature = "affinity")]
fn pin_to(id: usize) {
    let _ = core_affinity::set_for_current(core_affinity::CoreId { id });
}

#[cfg(not(feature = "affinity"))]
fn pin_to(_: usize) {}

/// The call being run, as the workers see it.
struct Current<S> {
    /// The call; valid until every worker taking part has acknowledged it
    /// (see `Crew::run_scoped_on` and `Crew::publish`).
    call: NonNull<dyn Call<S>>,
    /// Keeps a published streaming call alive until `wait`.
    owned: Option<Arc<dyn Call<S> + Send>>,
    /// The thread to unpark once every worker taking part has acknowledged.
    caller: Thread,
    /// When it was published.
    published: Instant,
}

// SAFETY: `call` is only dereferenced as `&dyn Call<S>`, and `Call<S>:
// Sync`, so moving a `Current` between threads (inside the crew's lock)
// shares a `&(dyn Call<S> + Sync)`; the rest is `Send`.
unsafe impl<S> Send for Current<S> {}

/// What a worker takes from [`Current`]: the call and whom to tell.
struct Taken<S> {
    call: NonNull<dyn Call<S>>,
    caller: Thread,
    /// A count of an owned call, held by a worker while it runs it where
    /// the pool has time limits: an abandoned worker may still be inside
    /// the call after its caller let go of it.
    owned: Option<Arc<dyn Call<S> + Send>>,
    /// Which of the call's takers this worker is: `0` for the first, and
    /// so on (see [`Call::execute`]).
    seat: usize,
}

// SAFETY: `Taken` is only dereferenced as `&dyn Call<S>`, and `Call<S>:
// Sync`, so sending it to a worker is sharing a `&(dyn Call<S> + Sync)`;
// its validity is the publisher's (see `Crew::run_scoped`).
unsafe impl<S> Send for Taken<S> {}

struct Control<S: WorkerState> {
    epoch: u64,
    /// Jobs not yet taken, oldest first. Workers run them between calls,
    /// and all of them before the crew ends.
    jobs: VecDeque<Job<S>>,
    current: Option<Current<S>>,
    /// The crew is ending: workers leave their loop.
    ending: bool,
    /// Workers asleep on `wake`: a publish with none skips the wake-up call.
    sleepers: usize,
    /// Workers that have taken the current call.
    taken: usize,
    /// Workers the current call has work for: the first this many to see
    /// it take it; the others let it pass and neither run nor acknowledge
    /// it.
    participants: usize,
}

/// What the caller and the workers share.
struct Hub<S: WorkerState> {
    control: Mutex<Control<S>>,
    wake: Condvar,
    /// Mirror of `control.epoch`, read while spinning. Not padded: the
    /// publisher writes it together with `control` and `pending`, so one
    /// cache line carries all three to a spinning worker.
    epoch: AtomicU64,
    /// Workers that have not yet acknowledged the current call (the
    /// [`COUNT`] bits); the [`WAKER`] bit, set while a worker near the
    /// caller has promised to wake it when the count reaches 0; and the
    /// call's generation (the low 32 bits of its epoch, above
    /// [`GENERATION`]), so that a promise outlived by its call acts on no
    /// later one.
    pending: AtomicU64,
    /// The CPU the current call was published from (`usize::MAX` where
    /// unknown): where the caller parks, and where a wake-up costs least.
    caller_cpu: AtomicUsize,
    /// Mirror of `control.jobs.len()`, read while spinning.
    queued: AtomicUsize,
    /// Failures of exit hooks run as the crew ends, by worker.
    exit_errors: Mutex<Vec<PoolError>>,
    /// Each worker's thread, by worker id; `None` once given up.
    threads: Mutex<Vec<Option<JoinHandle<()>>>>,
    /// Worker threads the crew started (not counting replacements).
    started: AtomicUsize,
    /// Worker threads that finished: a replacement finishes for the worker
    /// it replaced.
    finished: Mutex<usize>,
    all_finished: Condvar,
    /// What starts a worker's thread, and a replacement's.
    spawner: Spawner<S>,
    /// The watchdog's, where the pool has time limits.
    alarm: Option<Arc<Alarm>>,
    /// Each worker's watch, by worker id, where the pool has time limits.
    watches: Mutex<Vec<Option<Arc<Watch>>>>,
    /// Threads left behind by the watchdog, over the pool's life (a count
    /// to report, not part of the protocol).
    abandoned: Arc<std::sync::atomic::AtomicUsize>,
    /// A replacement could not start: the crew has fewer workers than its
    /// calls expect, and is replaced as a whole before the next.
    broken: AtomicBool,
    /// Workers that can still take work: all but those whose replacement
    /// could not start.
    live: AtomicUsize,
    /// The last worker lost that way, and why.
    lost: Mutex<Option<(usize, std::io::ErrorKind)>>,
}

/// What a worker's thread is started with.
struct Spawner<S: WorkerState> {
    n: usize,
    /// Kept only where the pool has time limits, for replacements: the
    /// workers' contexts hold the others.
    shared: Option<Arc<S::Shared>>,
    exits: ExitStore,
    threads: Threads,
    /// Where the workers record the insights, where the pool collects them.
    recording: Option<Arc<Recording>>,
}

impl<S: WorkerState> Hub<S> {
    fn control(&self) -> MutexGuard<'_, Control<S>> {
        lock(&self.control)
    }

    /// Acknowledges the current call for one worker, waking the caller at
    /// the last. A worker that may promise (`may_promise`: it will linger
    /// on the caller's CPU) and is not the last, with no promise made yet,
    /// instead promises to wake the caller itself when the last
    /// acknowledges (it sets the [`WAKER`] bit, and the last leaves the
    /// wake-up to it): the call's generation where it made that promise,
    /// which it keeps with [`Hub::keep_promise`].
    fn acknowledge(&self, caller: &Thread, may_promise: bool) -> Option<u64> {
        // Release: publishes this worker's writes for the call to the
        // caller, whose acquire load of a count of 0 (see `Crew::wait`)
        // reads the end of a release sequence of read-modify-writes, and so
        // synchronises with every worker's, not only the last.
        if !may_promise {
            // The count is at least 1 (this worker's): no borrow reaches
            // the bits above it.
            let before = self.pending.fetch_sub(1, Ordering::Release);
            if before & (WAKER | COUNT) == 1 {
                caller.unpark();
            }
            return None;
        }
        let mut seen = self.pending.load(Ordering::Relaxed);
        loop {
            let left = seen & COUNT;
            let promises = left > 1 && seen & WAKER == 0;
            let next = (seen - 1) | if promises { WAKER } else { 0 };
            match self.pending.compare_exchange_weak(
                seen,
                next,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    // The last, with no promise made: the wake-up is ours.
                    if seen & (WAKER | COUNT) == 1 {
                        caller.unpark();
                    }
                    return promises.then_some(seen >> GENERATION);
                }
                Err(actual) => seen = actual,
            }
        }
    }

    /// Keeps the promise made in [`Hub::acknowledge`]: wakes the caller if
    /// every worker has acknowledged; otherwise, where this worker is
    /// `leaving` (to sleep, or to take other work), hands the wake-up back
    /// to the last to acknowledge. `true` once nothing is left to do: the
    /// caller woken, the promise handed back, or gone: the word holds a
    /// later call (the caller woke from a stale token and published anew,
    /// perhaps from another thread, which this promise must not wake in
    /// place of that call's caller).
    fn keep_promise(&self, caller: &Thread, generation: u64, leaving: bool) -> bool {
        // Relaxed: this worker reads nothing the others wrote; its
        // read-modify-write continues the release sequence that the
        // caller's acquire load reads the end of.
        let mut seen = self.pending.load(Ordering::Relaxed);
        loop {
            if seen >> GENERATION != generation || seen & WAKER == 0 {
                return true;
            }
            let all_done = seen & COUNT == 0;
            if !(all_done || leaving) {
                return false;
            }
            let next = seen & !WAKER;
            match self.pending.compare_exchange_weak(
                seen,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if all_done {
                        caller.unpark();
                    }
                    return true;
                }
                Err(actual) => seen = actual,
            }
        }
    }

    /// Whether this thread runs on the CPU the current call was published
    /// from.
    fn near_caller(&self) -> bool {
        current_cpu().is_some_and(|cpu| cpu == self.caller_cpu.load(Ordering::Relaxed))
    }

    /// Takes note that worker `worker_id` is gone for good (its
    /// replacement could not start): the current call no longer waits for
    /// more workers than are left, and with none left, the queued jobs are
    /// dropped (each answers its handle) and new ones refused.
    fn lose_worker(&self, worker_id: usize, source: std::io::Error) {
        let mut control = self.control();
        self.broken.store(true, Ordering::Relaxed);
        let live = self.live.fetch_sub(1, Ordering::Relaxed) - 1;
        *lock(&self.lost) = Some((worker_id, source.kind()));
        let mut caller = None;
        if control.current.is_some() && control.participants > live.max(control.taken) {
            let wanted = live.max(control.taken);
            let missing = control.participants - wanted;
            control.participants = wanted;
            // The count is at least `missing` (workers not yet taken).
            let before = self.pending.fetch_sub(missing as u64, Ordering::Release);
            if before & (WAKER | COUNT) == missing as u64 {
                caller = control
                    .current
                    .as_ref()
                    .map(|current| current.caller.clone());
            }
        }
        let jobs = if live == 0 {
            std::mem::take(&mut control.jobs)
        } else {
            VecDeque::new()
        };
        self.queued.store(control.jobs.len(), Ordering::Relaxed);
        drop(control);
        if let Some(caller) = caller {
            caller.unpark();
        }
        drop_quietly(jobs);
    }

    /// Counts a worker thread finished.
    fn finish_one(&self) {
        *lock(&self.finished) += 1;
        self.all_finished.notify_all();
    }
}

impl<S: WorkerState> JobQueue<S> for Hub<S> {
    #[inline]
    fn has_jobs(&self) -> bool {
        self.queued.load(Ordering::Relaxed) > 0
    }

    fn next_job(&self) -> Option<Job<S>> {
        let mut control = self.control();
        let job = control.jobs.pop_front();
        self.queued.store(control.jobs.len(), Ordering::Relaxed);
        job
    }
}

/// Starts the thread of worker `worker_id`, which takes calls newer than
/// `seen`, with a fresh watch where the pool has time limits.
fn spawn_worker<S: WorkerState>(
    hub: &Arc<Hub<S>>,
    worker_id: usize,
    seen: u64,
    shared: &Arc<S::Shared>,
) -> std::io::Result<JoinHandle<()>> {
    let spawner = &hub.spawner;
    let watch = hub
        .alarm
        .as_ref()
        .map(|alarm| Arc::new(Watch::new(Arc::clone(alarm))));
    lock(&hub.watches)[worker_id].clone_from(&watch);
    let ctx = WorkerContext::with_shared(worker_id, spawner.n, Arc::clone(shared));
    let exits = Arc::clone(&spawner.exits);
    let mut builder = thread::Builder::new().name(spawner.threads.name(worker_id));
    if let Some(bytes) = spawner.threads.stack_size {
        builder = builder.stack_size(bytes);
    }
    let cpu = spawner.threads.cpu(worker_id);
    let recording = spawner.recording.clone();
    let hub = Arc::clone(hub);
    builder.spawn(move || {
        if let Some(recording) = &recording {
            recording.thread_started(worker_id);
        }
        if let Some(id) = cpu {
            pin_to(id);
        }
        // Made on its thread: a state needs not be `Send`.
        let jobs: Arc<dyn JobQueue<S>> = Arc::clone(&hub) as Arc<dyn JobQueue<S>>;
        let worker = Worker::<S>::new(ctx, exits, watch, Some(jobs), recording);
        worker_main(worker, hub, seen)
    })
}

/// The live worker threads of a pool.
pub(crate) struct Crew<S: WorkerState> {
    hub: Arc<Hub<S>>,
    /// How many workers the crew has.
    n_workers: usize,
    /// The watchdog's thread, where the pool has time limits.
    watchdog: Mutex<Option<JoinHandle<()>>>,
    /// Whether the crew has ended.
    ended: AtomicBool,
    /// Whether the last call was short: where the caller spins at all (see
    /// `caller_spins`), it then yields a little too before it parks,
    /// expecting this one to be short as well; after a long call it only
    /// spins. Workers keep their own count (see [`linger`]).
    last_short: AtomicBool,
    /// Whether the caller spins a little before it parks in the published
    /// call's `wait`: only where the call has work for fewer workers than
    /// the machine has cores. Otherwise its spinning takes a core from a
    /// worker of the call: on 2 cores, a loop of 16-item calls of 1 µs
    /// items on 2 workers took 22 µs a call with the caller spinning and
    /// 18 µs with it parked at once (BENCHMARKS.md, group 5).
    caller_spins: AtomicBool,
    /// Whether a call is published and not yet waited for. Only the caller
    /// side (which holds the crew) reads and writes it.
    outstanding: AtomicBool,
    /// Whether no call was published yet: the first one starts every
    /// worker's life, whatever its work, so that an init failure is its
    /// error (the contract's "a call that starts workers waits until each
    /// has finished init").
    fresh: AtomicBool,
}

impl<S: WorkerState> Crew<S> {
    /// Starts `n` worker threads. Their states start when the first call
    /// reaches them, so that an init failure is that call's error.
    /// Every worker's context holds `shared`.
    pub(crate) fn spawn(
        n: usize,
        exits: &ExitStore,
        shared: &Arc<S::Shared>,
        threads: &Threads,
        timeouts: Timeouts,
        abandoned: &Arc<std::sync::atomic::AtomicUsize>,
        recording: Option<Arc<Recording>>,
    ) -> Result<Self, PoolError> {
        threads.check()?;
        let hub = Arc::new(Hub {
            control: Mutex::new(Control {
                epoch: 0,
                jobs: VecDeque::new(),
                current: None,
                ending: false,
                sleepers: 0,
                taken: 0,
                participants: 0,
            }),
            wake: Condvar::new(),
            epoch: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            caller_cpu: AtomicUsize::new(usize::MAX),
            queued: AtomicUsize::new(0),
            exit_errors: Mutex::new(Vec::new()),
            threads: Mutex::new((0..n).map(|_| None).collect()),
            started: AtomicUsize::new(0),
            finished: Mutex::new(0),
            all_finished: Condvar::new(),
            spawner: Spawner {
                n,
                shared: timeouts.any().then(|| Arc::clone(shared)),
                exits: Arc::clone(exits),
                threads: threads.clone(),
                recording,
            },
            alarm: timeouts.any().then(|| Arc::new(Alarm::new(timeouts))),
            watches: Mutex::new((0..n).map(|_| None).collect()),
            abandoned: Arc::clone(abandoned),
            broken: AtomicBool::new(false),
            live: AtomicUsize::new(n),
            lost: Mutex::new(None),
        });
        let crew = Crew {
            hub,
            n_workers: n,
            watchdog: Mutex::new(None),
            ended: AtomicBool::new(false),
            last_short: AtomicBool::new(true),
            caller_spins: AtomicBool::new(false),
            outstanding: AtomicBool::new(false),
            fresh: AtomicBool::new(true),
        };
        for worker_id in 0..n {
            match spawn_worker(&crew.hub, worker_id, 0, shared) {
                Ok(handle) => {
                    lock(&crew.hub.threads)[worker_id] = Some(handle);
                    crew.hub.started.fetch_add(1, Ordering::Relaxed);
                }
                Err(source) => {
                    // Dropping the partial crew ends what did start.
                    return Err(PoolError::Spawn { worker_id, source });
                }
            }
        }
        // Under loom, the models play the watchdog themselves: its clock
        // is not modelled.
        if crew.hub.alarm.is_some() && cfg!(not(loom)) {
            let hub = Arc::clone(&crew.hub);
            let watchdog = thread::Builder::new()
                .name("statepool-watchdog".into())
                .spawn(move || watchdog_main(&hub));
            match watchdog {
                Ok(handle) => *lock(&crew.watchdog) = Some(handle),
                Err(source) => {
                    return Err(PoolError::Spawn {
                        worker_id: n,
                        source,
                    })
                }
            }
        }
        Ok(crew)
    }

    /// Whether a worker the watchdog replaced could not be: the crew must
    /// be ended and started afresh.
    pub(crate) fn is_broken(&self) -> bool {
        self.hub.broken.load(Ordering::Relaxed)
    }

    /// Where the crew has no worker left (every replacement the watchdog
    /// tried failed to start), the failure of the last start.
    pub(crate) fn lost(&self) -> Option<PoolError> {
        if self.hub.live.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let (worker_id, kind) = (*lock(&self.hub.lost))?;
        Some(PoolError::Spawn {
            worker_id,
            source: std::io::Error::new(
                kind,
                "the replacement of a worker left behind by a timeout could not start",
            ),
        })
    }

    /// Runs `call` on every worker while `during` runs on this thread, and
    /// returns once every worker has acknowledged it; if `during` unwinds,
    /// the unwind waits for them too. `call` may borrow from the caller's
    /// frame: no worker touches it after this returns.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn run_scoped<R>(&self, call: &(dyn Call<S> + '_), during: impl FnOnce() -> R) -> R {
        self.run_scoped_on(call, self.n_workers, during)
    }

    /// [`Crew::run_scoped`] on `participants` workers only (at least one,
    /// at most all): a call with work for fewer workers than the crew has
    /// wakes no more, and waits for no more acknowledgements. Which
    /// workers take part is not chosen: the first to see the call. The
    /// crew's first call takes every worker, to start every life.
    pub(crate) fn run_scoped_on<R>(
        &self,
        call: &(dyn Call<S> + '_),
        participants: usize,
        during: impl FnOnce() -> R,
    ) -> R {
        /// Waits for the workers when dropped: on return and on unwind.
        struct WaitOnDrop<'c, S: WorkerState>(&'c Crew<S>);
        impl<S: WorkerState> Drop for WaitOnDrop<'_, S> {
            fn drop(&mut self) {
                self.0.wait();
            }
        }
        // A watchdog gives up only on workers in owned calls (and jobs): a
        // pool with time limits never borrows a call (see `run_blocking`).
        debug_assert!(
            self.hub.alarm.is_none(),
            "a borrowed call on a crew with a watchdog"
        );
        let call: NonNull<dyn Call<S> + '_> = NonNull::from(call);
        // SAFETY: only the trait object's lifetime bound changes (same
        // layout). Workers dereference the pointer until they acknowledge;
        // `waiting`, created right after the publish and dropped before this
        // function returns or unwinds past it, waits for every
        // acknowledgement, so the borrow outlives every use.
        let call: NonNull<dyn Call<S> + 'static> = unsafe { std::mem::transmute(call) };
        self.publish_raw(call, None, participants);
        let waiting = WaitOnDrop(self);
        let out = during();
        drop(waiting);
        out
    }

    /// Hands `call` to every worker, keeping it alive until [`Crew::wait`]
    /// returns: the call of an `imap`, which ends after the caller's frame.
    pub(crate) fn publish(&self, call: Arc<dyn Call<S> + Send>) {
        self.publish_on(call, self.n_workers);
    }

    /// [`Crew::publish`] on `participants` workers only (see
    /// [`Crew::run_scoped_on`]).
    pub(crate) fn publish_on(&self, call: Arc<dyn Call<S> + Send>, participants: usize) {
        let ptr = NonNull::from(&*call);
        self.publish_raw(ptr, Some(call), participants);
    }

    /// How many workers take the next call, which has work for
    /// `participants`: all of them for the crew's first call, which starts
    /// every worker's life. A call gives as many seats (see
    /// [`Call::execute`]). Only the pool's caller publishes calls, so this
    /// holds until it publishes the next.
    pub(crate) fn takers(&self, participants: usize) -> usize {
        let all = self.n_workers.max(1);
        if self.fresh.load(Ordering::Relaxed) {
            all
        } else {
            participants.clamp(1, all)
        }
    }

    /// Publishes `call`, valid until every worker has acknowledged it: kept
    /// alive by `owned`, or by the caller (see `run_scoped`).
    fn publish_raw(
        &self,
        call: NonNull<dyn Call<S>>,
        owned: Option<Arc<dyn Call<S> + Send>>,
        participants: usize,
    ) {
        let participants = self.takers(participants);
        self.fresh.store(false, Ordering::Relaxed);
        let mut control = self.hub.control();
        debug_assert!(control.current.is_none(), "a call is already running");
        self.outstanding.store(true, Ordering::Relaxed);
        // Before the epoch moves, under the lock: a worker takes the call
        // only after it saw the new epoch under this lock, and acknowledges
        // after that, so no acknowledgement counts against an old call.
        self.hub.pending.store(
            (control.epoch + 1) << GENERATION | participants as u64,
            Ordering::Relaxed,
        );
        self.hub
            .caller_cpu
            .store(current_cpu().unwrap_or(usize::MAX), Ordering::Relaxed);
        self.caller_spins
            .store(participants < cores(), Ordering::Relaxed);
        control.current = Some(Current {
            call,
            owned,
            caller: thread::current(),
            published: Instant::now(),
        });
        control.epoch += 1;
        control.taken = 0;
        control.participants = participants;
        // Relaxed: a hint for spinning workers, which then take the lock
        // (whose acquire orders everything above) before reading the call.
        self.hub.epoch.store(control.epoch, Ordering::Relaxed);
        // Under the lock a sleeper counts itself before it sleeps, so a
        // worker not counted sees the new epoch before it could sleep. One
        // sleeper is woken here; the first worker to take the call wakes the
        // others (see `next_call`), from its CPU rather than the caller's.
        let sleepers = control.sleepers;
        drop(control);
        if sleepers > 0 {
            self.hub.wake.notify_one();
        }
    }

    /// Blocks until every worker has acknowledged the published call, then
    /// lets it go. Returns at once if none is published.
    pub(crate) fn wait(&self) {
        if !self.outstanding.load(Ordering::Relaxed) {
            return;
        }
        // Acquire, pairing with each worker's release in `Ack`: whatever
        // the workers wrote for the call (the outputs in its sink, its
        // stop) is visible to the caller once it reads 0.
        let done = || self.hub.pending.load(Ordering::Acquire) & COUNT == 0;
        // Short calls end within a few microseconds: spin and yield
        // (bounded) first; after a long one, park at once.
        let yields = if self.last_short.load(Ordering::Relaxed) {
            YIELDS
        } else {
            0
        };
        if self.caller_spins.load(Ordering::Relaxed) {
            spin_until(yields, done);
        }
        while !done() {
            // The last worker to acknowledge unparks this thread after its
            // decrement; a token left by an earlier unpark only makes this
            // loop look again.
            thread::park();
        }
        let finished = self.hub.control().current.take();
        self.outstanding.store(false, Ordering::Relaxed);
        if let Some(current) = finished {
            let short = current.published.elapsed() < LONG_CALL;
            self.last_short.store(short, Ordering::Relaxed);
            // The last reference to a streaming call may drop here: its
            // outputs and items are the user's, so their drops must not
            // unwind into the caller's bookkeeping.
            crate::unwind::drop_quietly(current.owned);
        }
    }

    /// Halts the published call, if one is outstanding (the call of an
    /// `imap` that was leaked rather than dropped), and waits for it.
    pub(crate) fn halt_outstanding(&self) {
        if !self.outstanding.load(Ordering::Relaxed) {
            return;
        }
        let outstanding = self
            .hub
            .control()
            .current
            .as_ref()
            .and_then(|current| current.owned.clone());
        if let Some(call) = outstanding {
            call.halt(None);
            drop(call);
            self.wait();
        }
    }

    /// Queues `job` for the first free worker; gives it back if the crew is
    /// ending (it takes no new job then; the queued ones all run) or has no
    /// worker left (see [`Crew::lost`]).
    pub(crate) fn submit(&self, job: Job<S>) -> Result<(), Job<S>> {
        let mut control = self.hub.control();
        if control.ending || self.hub.live.load(Ordering::Relaxed) == 0 {
            return Err(job);
        }
        control.jobs.push_back(job);
        self.hub.queued.store(control.jobs.len(), Ordering::Relaxed);
        if self.hub.alarm.is_none() {
            if let Some(current) = &control.current {
                // Workers waiting inside the current call (for its input,
                // for room in its window) run queued jobs: wake them.
                // SAFETY: `current` is set, so the call is alive: it is
                // cleared, under this lock, only once every worker taking
                // part acknowledged it, before its publisher lets it go.
                unsafe { current.call.as_ref() }.wake_for_jobs();
            }
        }
        // As in `publish_raw`: a worker not counted as a sleeper looks at
        // the queue under this lock before it sleeps.
        let sleepers = control.sleepers;
        drop(control);
        if sleepers > 0 {
            self.hub.wake.notify_one();
        }
        Ok(())
    }

    /// Ends the workers once they have run every queued job, running each
    /// live state's exit hook; returns the failures in worker order. A
    /// second end returns nothing.
    pub(crate) fn end(&self) -> Vec<PoolError> {
        self.end_threads()
    }

    fn end_threads(&self) -> Vec<PoolError> {
        if self.ended.swap(true, Ordering::Relaxed) {
            return Vec::new();
        }
        self.halt_outstanding();
        self.hub.control().ending = true;
        self.hub.wake.notify_all();
        // Every worker finishes, or is left behind by the watchdog (an
        // exit past its limit) and replaced by one that finishes for it:
        // only then are the threads joined, none of them a stuck one.
        let started = self.hub.started.load(Ordering::Relaxed);
        let mut finished = lock(&self.hub.finished);
        while *finished < started {
            finished = wait(&self.hub.all_finished, finished);
        }
        drop(finished);
        // The watchdog goes before the threads are taken: one in the middle
        // of giving up on a worker has stored its replacement's handle in
        // place of the stuck one's by the time it leaves.
        if let Some(alarm) = &self.hub.alarm {
            alarm.end();
        }
        if let Some(watchdog) = lock(&self.watchdog).take() {
            // Its loop does not unwind: what it runs of the user's is caught.
            let _ = watchdog.join();
        }
        let threads = std::mem::take(&mut *lock(&self.hub.threads));
        let mut errors = Vec::new();
        for (worker_id, handle) in threads.into_iter().enumerate() {
            let Some(handle) = handle else {
                continue;
            };
            if let Err(payload) = handle.join() {
                // Unreachable: a worker's loop aborts rather than unwind.
                let caught = Caught::from_payload(payload);
                errors.push(PoolError::Panic {
                    index: None,
                    worker_id,
                    site: PanicSite::Runtime,
                    message: caught.message,
                    payload: caught.payload,
                });
            }
        }
        let mut exit_errors = std::mem::take(&mut *lock(&self.hub.exit_errors));
        exit_errors.append(&mut errors);
        exit_errors.sort_by_key(|e| e.worker_id());
        exit_errors
    }
}

impl<S: WorkerState> Drop for Crew<S> {
    fn drop(&mut self) {
        let _ = self.end_threads();
    }
}

impl<S: WorkerState> std::fmt::Debug for Crew<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crew")
            .field("workers", &self.n_workers)
            .finish_non_exhaustive()
    }
}

/// Acknowledges the current call when dropped.
struct Ack<'a, S: WorkerState> {
    hub: &'a Hub<S>,
    /// The caller, until acknowledged.
    caller: Option<Thread>,
}

impl<S: WorkerState> Ack<'_, S> {
    /// Acknowledges, as a worker that will linger where `lingers`: the
    /// caller and the call's generation, where this worker, on the
    /// caller's CPU, promised to wake it (see [`Hub::acknowledge`]).
    fn finish(&mut self, lingers: bool) -> Option<(Thread, u64)> {
        let caller = self.caller.take()?;
        let may_promise = lingers && self.hub.near_caller();
        let generation = self.hub.acknowledge(&caller, may_promise)?;
        Some((caller, generation))
    }
}

impl<S: WorkerState> Drop for Ack<'_, S> {
    fn drop(&mut self) {
        if let Some(caller) = self.caller.take() {
            let _ = self.hub.acknowledge(&caller, false);
        }
    }
}

fn worker_main<S: WorkerState>(mut worker: Worker<S>, hub: Arc<Hub<S>>, mut seen: u64) {
    // Every piece of user code runs under a catch of its own, and the call
    // runs under one more: what is left here is the crew's own code, whose
    // unwind would leave the caller waiting for an acknowledgement.
    let abort = AbortIfPanic("running a worker's loop");
    let mut short = true;
    // The caller this worker promised to wake (see `Hub::acknowledge`).
    let mut promise = None;
    while let Some(next) = next_call(&hub, &mut seen, short, promise.take()) {
        let Taken {
            call,
            caller,
            owned,
            seat,
        } = match next {
            Next::Call(taken) => taken,
            Next::Job(job) => {
                // A job runs its user code under catches of its own, and
                // reports to its handle by itself.
                worker.set_call(None);
                job(&mut worker);
                if worker.is_abandoned() {
                    break;
                }
                continue;
            }
        };
        let started = Instant::now();
        worker.set_call(Some(seen));
        if let Some(owned) = &owned {
            // Where this worker's code runs past its limit, the watchdog
            // fails the call and acknowledges it for the worker, which may
            // be inside it for long after: `owned` keeps the call alive.
            worker.arm(|| {
                let (call, caller, hub) = (Arc::clone(owned), caller.clone(), Arc::clone(&hub));
                Box::new(move |err| {
                    call.halt(Some(err));
                    let _ = hub.acknowledge(&caller, false);
                })
            });
        }
        let mut ack = Ack {
            hub: &hub,
            caller: Some(caller),
        };
        // SAFETY: the publisher keeps the call alive until every worker has
        // acknowledged it, which this one does only when `ack` drops below;
        // an abandoned worker, acknowledged for by the watchdog, holds
        // `owned` instead (only owned calls arm the watchdog).
        let call = unsafe { call.as_ref() };
        let ran = catch(|| call.execute(&mut worker, seat));
        worker.disarm();
        if worker.is_abandoned() {
            // Acknowledged for already; what the call left here is the
            // user's, dropped quietly on this thread.
            std::mem::forget(ack);
            drop_quietly(ran);
            drop_quietly(owned);
            break;
        }
        if let Err(caught) = ran {
            // Every piece of user code a call runs has a catch of its own
            // (tasks, hooks, the input, the items it drops), so only the
            // pool's own code gets here. No user code held the state when it
            // happened: the life goes on.
            call.halt(Some(PoolError::Panic {
                index: None,
                worker_id: worker.id(),
                site: PanicSite::Runtime,
                message: caught.message,
                payload: caught.payload,
            }));
        }
        // Before the acknowledgement: the caller's count is then the last.
        drop(owned);
        short = started.elapsed() < LONG_CALL;
        // Under loom, whatever the model's clock: every call's first
        // acknowledgement promises (see `current_cpu`).
        promise = ack.finish(short || cfg!(loom));
    }
    if worker.is_abandoned() {
        // Left behind: its replacement finishes for it. The state goes
        // without its exit hook, on this thread.
        worker.discard_life();
        abort.disarm();
        return;
    }
    let ended = worker.end_life();
    if !worker.is_abandoned() {
        if let Err(err) = ended {
            lock(&hub.exit_errors).push(err);
        }
        worker.thread_ended();
        hub.finish_one();
    }
    abort.disarm();
}

/// The watchdog's thread: looks at every worker's watch, abandons those
/// past their limit, and sleeps until the next deadline (or until a run
/// starts, where none runs).
fn watchdog_main<S: WorkerState>(hub: &Arc<Hub<S>>) {
    let Some(alarm) = hub.alarm.clone() else {
        return;
    };
    let look = |now| {
        let ending = hub.control().ending;
        let watches: Vec<(usize, Arc<Watch>)> = lock(&hub.watches)
            .iter()
            .enumerate()
            .filter_map(|(id, watch)| Some((id, Arc::clone(watch.as_ref()?))))
            .collect();
        let mut next: Option<u64> = None;
        for (worker_id, watch) in watches {
            match watch.look(now, worker_id, ending) {
                (Seen::Idle, _) => {}
                (Seen::Running(deadline), _) => {
                    next = Some(next.map_or(deadline, |next| next.min(deadline)));
                }
                (Seen::Abandoned(err), fail) => abandon(hub, worker_id, err, fail),
            }
        }
        next
    };
    let watches = || {
        lock(&hub.watches)
            .iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
    };
    watchdog_loop(&alarm, look, watches);
}

/// Gives up on worker `worker_id`, whose code ran past its limit: starts a
/// fresh thread in its place (first, so that nothing waits for the stuck
/// one: not the next call, not the crew's end), then fails what it worked
/// for with `err` (`fail`: its call, acknowledged for it, or its job), or,
/// with nothing armed (an exit as the crew ends), the crew's end.
fn abandon<S: WorkerState>(
    hub: &Arc<Hub<S>>,
    worker_id: usize,
    err: PoolError,
    fail: Option<OnAbandon>,
) {
    hub.abandoned.fetch_add(1, Ordering::Relaxed);
    // The fresh worker looks at the current call as any worker does: it
    // takes it where the call still wants a worker (the stuck one was busy
    // with a job, and never took it), and lets it pass otherwise. Spawned
    // and stored under the threads' lock, so that no end takes the stuck
    // thread's handle meanwhile.
    let shared = hub.spawner.shared.as_ref();
    let mut threads = lock(&hub.threads);
    let spawned = shared.map(|shared| spawn_worker(hub, worker_id, 0, shared));
    match spawned.expect("a crew with a watchdog keeps its shared object") {
        Ok(fresh) => {
            // The stuck one is detached: it ends on its own, whenever its
            // code returns.
            let stuck = threads
                .get_mut(worker_id)
                .and_then(|slot| slot.replace(fresh));
            drop(threads);
            drop(stuck);
        }
        Err(source) => {
            let stuck = threads.get_mut(worker_id).and_then(Option::take);
            drop(threads);
            drop(stuck);
            lock(&hub.watches)[worker_id] = None;
            if let Some(recording) = &hub.spawner.recording {
                recording.thread_lost(worker_id);
            }
            hub.lose_worker(worker_id, source);
            hub.finish_one();
        }
    }
    // User code may run here (a call's last count dropping its items, a
    // handle's callback): caught, so that the watchdog goes on.
    let failed = catch(move || match fail {
        Some(fail) => fail(err),
        None => lock(&hub.exit_errors).push(err),
    });
    drop_quietly(failed);
}

/// Rounds of busy spinning, then of yielding, before a thread sleeps.
/// None under loom: spinning only delays the path through the lock, which
/// the models check, and would multiply their interleavings.
#[cfg(not(loom))]
const SPINS: u32 = 48;
#[cfg(not(loom))]
const YIELDS: u32 = 16;
#[cfg(loom)]
const SPINS: u32 = 0;
#[cfg(loom)]
const YIELDS: u32 = 0;

/// Spins, then yields, until `done` or the rounds run out: a few tens of
/// microseconds at most. Not `crossbeam_utils::Backoff`: its snooze yields
/// after about 127 spins and gives up after 4 yields, which sends a worker
/// to sleep between back-to-back small calls; with it, a loop of 16-item
/// calls took 1.39× as long (BENCHMARKS.md, "pool-core in layers").
fn spin_until(yields: u32, done: impl Fn() -> bool) {
    for round in 0..SPINS + yields {
        if done() {
            return;
        }
        if round < SPINS {
            crate::sync::protocol::spin_loop();
        } else {
            thread::yield_now();
        }
    }
}

/// How long a worker keeps looking for the next call after a short one
/// (spinning, then yielding its CPU to any thread that wants it) before it
/// sleeps. Back-to-back calls follow each other within about 10 µs (the
/// caller's wake-up and return); rounds of yields, as before, sent
/// workers to sleep after about 4 µs where yielding is cheap (nothing else
/// to run), and then every call paid a futex wake-up per worker: a loop of
/// 16-item calls of nanosecond items took 14.6 µs a call with rounds, and
/// about 11 µs with this (BENCHMARKS.md, group 5). An idle pool still
/// sleeps: this is spent once after each call.
#[cfg(not(loom))]
const LINGER: Duration = Duration::from_micros(100);

/// Spins, then yields until `done` or [`LINGER`] has passed. Under loom,
/// as [`spin_until`] (no clock in a model).
fn linger(done: impl Fn() -> bool) {
    #[cfg(loom)]
    spin_until(YIELDS, done);
    #[cfg(not(loom))]
    {
        spin_until(0, &done);
        let started = Instant::now();
        while !done() && started.elapsed() < LINGER {
            thread::yield_now();
        }
    }
}

/// [`Hub::pending`]'s bit 31: a worker that runs on the caller's CPU, done
/// with its part of the call, has promised to wake the caller once the
/// others are done, from that CPU. On a machine whose workers take every
/// core, the caller parks on a CPU that one of them shares; the last worker
/// to finish often runs on another, and its wake-up has to reach across:
/// on the 2-core VM of BENCHMARKS.md, 9.5 µs from the last acknowledgement
/// to the caller running, against 2 µs from the caller's own CPU. Where
/// several workers share the caller's CPU, the first to finish promises.
const WAKER: u64 = 1 << 31;

/// [`Hub::pending`]'s count of workers yet to acknowledge: the bits below
/// [`WAKER`].
const COUNT: u64 = WAKER - 1;

/// Where [`Hub::pending`]'s generation starts: the low 32 bits of the
/// call's epoch. A promise outlived by its call (see [`Hub::keep_promise`])
/// could act on a later call's word only after 2^32 more calls, while its
/// worker lingers for at most [`LINGER`].
const GENERATION: u32 = 32;

/// The CPU this thread runs on, where the system says (Linux). Under loom,
/// every thread is on the same one, so that the models check the promise to
/// wake the caller (see [`WAKER`]) on every call.
fn current_cpu() -> Option<usize> {
    #[cfg(loom)]
    return Some(0);
    #[cfg(all(target_os = "linux", not(loom), not(miri)))]
    {
        // SAFETY: `sched_getcpu` has no preconditions; it returns -1 where
        // the CPU is unknown.
        let cpu = unsafe { libc::sched_getcpu() };
        usize::try_from(cpu).ok()
    }
    #[cfg(all(not(all(target_os = "linux", not(miri))), not(loom)))]
    None
}

/// A call this long makes the wake-up of the next one (tens of
/// microseconds) negligible: after it, a worker sleeps without yielding
/// first, leaving the CPU and the memory system to the caller, which may
/// have a large result to drop.
const LONG_CALL: Duration = Duration::from_millis(2);

/// The machine's cores, as `std::thread::available_parallelism` counts
/// them (1 if unknown): a call whose workers take them all leaves none for
/// a spinning caller.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// What a worker runs next.
enum Next<S: WorkerState> {
    Call(Taken<S>),
    Job(Job<S>),
}

/// Waits for a call newer than `seen` or a queued job, the call first;
/// `None` once the crew ends and no job is left. After a short call, backs
/// off (spins, then yields) a little first, to catch back-to-back calls
/// without a sleep, meanwhile keeping its `promise` to wake the caller (see
/// [`Hub::acknowledge`]), which it hands back before it sleeps or works.
fn next_call<S: WorkerState>(
    hub: &Hub<S>,
    seen: &mut u64,
    after_short_call: bool,
    promise: Option<(Thread, u64)>,
) -> Option<Next<S>> {
    let kept = std::cell::Cell::new(promise.is_none());
    let news = || {
        if let (Some((caller, generation)), false) = (&promise, kept.get()) {
            kept.set(hub.keep_promise(caller, *generation, false));
        }
        hub.epoch.load(Ordering::Relaxed) != *seen || hub.queued.load(Ordering::Relaxed) > 0
    };
    if after_short_call {
        linger(news);
    } else {
        spin_until(0, news);
    }
    if let (Some((caller, generation)), false) = (&promise, kept.get()) {
        hub.keep_promise(caller, *generation, true);
    }
    let mut control = hub.control();
    loop {
        if control.epoch != *seen {
            if let Some(current) = &control.current {
                *seen = control.epoch;
                // A call with work for fewer workers than the crew has is
                // taken by the first to see it; the others let it pass.
                if control.taken < control.participants {
                    let taken = Taken {
                        call: current.call,
                        caller: current.caller.clone(),
                        owned: hub
                            .alarm
                            .as_ref()
                            .and(current.owned.as_ref())
                            .map(Arc::clone),
                        seat: control.taken,
                    };
                    // The first to take the call wakes as many sleepers as
                    // the call still needs, from the CPU of a running worker
                    // rather than the caller's (wake-ups all from the
                    // caller's tend to pile the sleepers onto one CPU). No
                    // sleeper counted now has taken this call, as this is
                    // its first taker; a woken one takes it if the call
                    // still needs a worker (spinning workers may have come
                    // first), else sleeps again; and a worker not counted
                    // checks the epoch under this lock before it sleeps.
                    control.taken += 1;
                    if control.taken == 1 {
                        let wanted = control.participants - 1;
                        if wanted >= control.sleepers {
                            if control.sleepers > 0 {
                                hub.wake.notify_all();
                            }
                        } else {
                            for _ in 0..wanted {
                                hub.wake.notify_one();
                            }
                        }
                    }
                    return Some(Next::Call(taken));
                }
            }
        }
        if let Some(job) = control.jobs.pop_front() {
            hub.queued.store(control.jobs.len(), Ordering::Relaxed);
            return Some(Next::Job(job));
        }
        if control.ending {
            return None;
        }
        control.sleepers += 1;
        control = wait(&hub.wake, control);
        control.sleepers -= 1;
    }
}

/// A state with nothing in it, for the tests and models below.
#[cfg(test)]
struct Idle;

#[cfg(test)]
impl WorkerState for Idle {
    type Shared = ();
    fn start_life(_: &WorkerContext) -> Result<Self, crate::BoxError> {
        Ok(Idle)
    }

    fn end_life(self, _: &WorkerContext) -> Result<Option<crate::ExitValue>, crate::BoxError> {
        Ok(None)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc::{channel, Receiver, Sender};

    use super::*;

    /// A call whose every worker tells `started`, then blocks until `go`
    /// says so (or the call halts), then counts itself done.
    struct Gate {
        started: Mutex<Sender<()>>,
        go: Mutex<Receiver<()>>,
        halted: AtomicBool,
        done: AtomicUsize,
    }

    impl Gate {
        fn new() -> (Gate, Receiver<()>, Sender<()>) {
            let (started_tx, started) = channel();
            let (go, go_rx) = channel();
            let gate = Gate {
                started: Mutex::new(started_tx),
                go: Mutex::new(go_rx),
                halted: AtomicBool::new(false),
                done: AtomicUsize::new(0),
            };
            (gate, started, go)
        }
    }

    impl Call<Idle> for Gate {
        fn execute(&self, _: &mut Worker<Idle>, _: usize) {
            lock(&self.started).send(()).unwrap();
            if !self.halted.load(Ordering::SeqCst) {
                let _ = lock(&self.go).recv();
            }
            self.done.fetch_add(1, Ordering::SeqCst);
        }

        fn halt(&self, _: Option<PoolError>) {
            self.halted.store(true, Ordering::SeqCst);
        }
    }

    fn crew() -> Crew<Idle> {
        Crew::spawn(
            1,
            &ExitStore::default(),
            &Arc::new(()),
            &Threads::default(),
            Timeouts::default(),
            &Arc::default(),
            None,
        )
        .unwrap()
    }

    /// The word of a call of `generation` with `count` acknowledgements to
    /// come, and the promise bit where `promised`.
    fn word(generation: u64, count: u64, promised: bool) -> u64 {
        generation << GENERATION | count | if promised { WAKER } else { 0 }
    }

    #[test]
    fn a_promise_is_made_once_and_kept_when_the_last_acknowledges() {
        let crew = crew();
        let (hub, me) = (&crew.hub, thread::current());
        hub.pending.store(word(7, 3, false), Ordering::Relaxed);
        // The first near the caller promises; a second near one does not.
        assert_eq!(hub.acknowledge(&me, true), Some(7));
        assert_eq!(hub.pending.load(Ordering::Relaxed), word(7, 2, true));
        assert_eq!(hub.acknowledge(&me, true), None);
        // Not yet all done: the promise stands.
        assert!(!hub.keep_promise(&me, 7, false));
        // The last leaves the bit for the promiser, who clears it.
        assert_eq!(hub.acknowledge(&me, false), None);
        assert_eq!(hub.pending.load(Ordering::Relaxed), word(7, 0, true));
        assert!(hub.keep_promise(&me, 7, false));
        assert_eq!(hub.pending.load(Ordering::Relaxed), word(7, 0, false));
    }

    #[test]
    fn the_last_to_acknowledge_makes_no_promise() {
        let crew = crew();
        let (hub, me) = (&crew.hub, thread::current());
        hub.pending.store(word(3, 1, false), Ordering::Relaxed);
        assert_eq!(hub.acknowledge(&me, true), None);
        assert_eq!(hub.pending.load(Ordering::Relaxed), word(3, 0, false));
    }

    #[test]
    fn a_promise_handed_back_leaves_the_wake_up_to_the_last() {
        let crew = crew();
        let (hub, me) = (&crew.hub, thread::current());
        hub.pending.store(word(5, 2, false), Ordering::Relaxed);
        assert_eq!(hub.acknowledge(&me, true), Some(5));
        assert!(hub.keep_promise(&me, 5, true));
        assert_eq!(hub.pending.load(Ordering::Relaxed), word(5, 1, false));
        // Handed back: nothing left to keep, and the word stays.
        assert!(hub.keep_promise(&me, 5, true));
        assert_eq!(hub.pending.load(Ordering::Relaxed), word(5, 1, false));
    }

    #[test]
    fn a_promise_of_an_earlier_call_leaves_a_later_call_alone() {
        let crew = crew();
        let (hub, me) = (&crew.hub, thread::current());
        // A later call, promised by another worker, all done: only that
        // worker may clear the bit and wake that call's caller.
        hub.pending.store(word(9, 0, true), Ordering::Relaxed);
        assert!(hub.keep_promise(&me, 8, false));
        assert!(hub.keep_promise(&me, 8, true));
        assert_eq!(hub.pending.load(Ordering::Relaxed), word(9, 0, true));
        // And one still running: not handed back for it either.
        hub.pending.store(word(9, 2, true), Ordering::Relaxed);
        assert!(hub.keep_promise(&me, 8, true));
        assert_eq!(hub.pending.load(Ordering::Relaxed), word(9, 2, true));
    }

    #[test]
    fn a_scoped_call_is_waited_for_even_when_the_caller_unwinds() {
        let crew = crew();
        let (gate, started, go) = Gate::new();
        // Lets the worker go once it started, from another thread: the
        // caller is unwinding by then, and must not leave before the worker
        // is done with the call it borrowed.
        let releaser = std::thread::spawn(move || {
            started.recv().unwrap();
            go.send(()).unwrap();
        });
        let unwound = catch(|| crew.run_scoped(&gate, || panic!("the caller's own failure")));
        assert_eq!(unwound.unwrap_err().message, "the caller's own failure");
        assert_eq!(gate.done.load(Ordering::SeqCst), 1);
        releaser.join().unwrap();
        assert!(crew.end().is_empty());
    }

    #[test]
    fn an_owned_call_left_outstanding_is_halted_and_waited_for() {
        let crew = crew();
        let (gate, started, go) = Gate::new();
        let gate = Arc::new(gate);
        // Published and never waited for, as the call of a leaked `imap`.
        crew.publish(Arc::clone(&gate) as Arc<dyn Call<Idle> + Send>);
        started.recv().unwrap();
        // The worker returns once its channel closes.
        drop(go);
        crew.halt_outstanding();
        assert!(gate.halted.load(Ordering::SeqCst));
        assert_eq!(gate.done.load(Ordering::SeqCst), 1);
        // The crew let go of its reference once the call was waited for.
        assert_eq!(Arc::strong_count(&gate), 1);
        // And takes the next call.
        let (next, started, go) = Gate::new();
        go.send(()).unwrap();
        crew.run_scoped(&next, || started.recv().unwrap());
        assert_eq!(next.done.load(Ordering::SeqCst), 1);
    }
}

/// Models of the crew's protocol, checked by loom over every interleaving
/// (up to its preemption bound): `scripts/loom.sh`. Each states the
/// property it checks; a lost wake-up shows as a deadlock, which loom
/// reports, and a missed or extra acknowledgement as a failed assertion.
#[cfg(all(test, loom))]
mod loom_models {
    use std::sync::atomic::Ordering::SeqCst;

    use super::*;
    use crate::watch::Seen;
    use crate::Phase;

    /// A call each of whose workers counts itself.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Call<Idle> for Count {
        fn execute(&self, _: &mut Worker<Idle>, _: usize) {
            self.0.fetch_add(1, SeqCst);
        }

        fn halt(&self, _: Option<PoolError>) {}
    }

    fn crew(n: usize, timeouts: Timeouts) -> Crew<Idle> {
        let shared = Arc::new(());
        let threads = Threads::default();
        Crew::spawn(
            n,
            &ExitStore::default(),
            &shared,
            &threads,
            timeouts,
            &Arc::default(),
            None,
        )
        .unwrap()
    }

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(f);
    }

    /// Publish, wake, acknowledge, park: a call for both workers of a
    /// crew returns only once both ran it (every acknowledgement seen), no
    /// worker sleeps through it (no lost wake-up), and the crew ends.
    #[test]
    fn loom_a_call_reaches_every_worker_and_waits_for_every_ack() {
        model(|| {
            let crew = crew(2, Timeouts::default());
            let call = Count::default();
            crew.run_scoped_on(&call, 2, || {});
            assert_eq!(call.0.load(SeqCst), 2);
            assert!(crew.end().is_empty());
        });
    }

    /// Calls for fewer workers than the crew has: each of two calls for
    /// one worker of two runs exactly once, and a worker that let one pass
    /// acknowledges nothing of it (a stale acknowledgement would end the
    /// next call early, or make the count wrong).
    #[test]
    fn loom_a_call_for_one_worker_of_two_counts_one_ack() {
        model(|| {
            let crew = crew(2, Timeouts::default());
            // The first call takes every worker (it starts their lives).
            crew.run_scoped_on(&Count::default(), 2, || {});
            for _ in 0..2 {
                let call = Count::default();
                crew.run_scoped_on(&call, 1, || {});
                assert_eq!(call.0.load(SeqCst), 1);
            }
            crew.end();
        });
    }

    /// The submission queue: a job submitted from another thread while a
    /// call runs is run exactly once, by the time the crew's end returns;
    /// a job submitted once the crew ends is handed back, never lost.
    #[test]
    fn loom_a_submitted_job_runs_once_before_the_end() {
        model(|| {
            let crew = Arc::new(crew(1, Timeouts::default()));
            let ran = Arc::new(AtomicUsize::new(0));
            let submitter = {
                let (crew, ran) = (Arc::clone(&crew), Arc::clone(&ran));
                thread::spawn(move || {
                    let job: Job<Idle> = Box::new(move |_| {
                        ran.fetch_add(1, SeqCst);
                    });
                    crew.submit(job).is_ok()
                })
            };
            crew.run_scoped_on(&Count::default(), 1, || {});
            let submitted = submitter.join().unwrap();
            crew.end();
            assert!(submitted);
            assert_eq!(ran.load(SeqCst), 1);
            let late: Job<Idle> = Box::new(|_| unreachable!("the crew has ended"));
            assert!(crew.submit(late).is_err());
        });
    }

    /// The abandon race: a worker whose watched run returns, and the
    /// watchdog judging it past its limit. Exactly one wins; the armed
    /// failure runs once where the watchdog won and never otherwise, and
    /// the worker knows which.
    #[test]
    fn loom_a_returning_worker_and_the_watchdog_never_both_win() {
        model(|| {
            let timeouts = Timeouts {
                task: Some(Duration::from_millis(1)),
                ..Timeouts::default()
            };
            let watch = Arc::new(Watch::new(Arc::new(Alarm::new(timeouts))));
            let fired = Arc::new(AtomicUsize::new(0));
            let fails = Arc::clone(&fired);
            watch.arm(Box::new(move |_| {
                fails.fetch_add(1, SeqCst);
            }));
            let ticket = watch.start(Phase::Task, Some(0)).unwrap();
            let judge = {
                let watch = Arc::clone(&watch);
                thread::spawn(move || {
                    // A first sighting, then a look past the limit.
                    let _ = watch.look(0, 0, false);
                    match watch.look(u64::MAX, 0, false) {
                        (Seen::Abandoned(err), fail) => {
                            fail.expect("armed")(err);
                            true
                        }
                        _ => false,
                    }
                })
            };
            let in_time = watch.finish(ticket);
            watch.clear();
            let abandoned = judge.join().unwrap();
            assert_ne!(in_time, abandoned);
            assert_eq!(watch.is_abandoned(), abandoned);
            assert_eq!(fired.load(SeqCst), usize::from(abandoned));
        });
    }

    /// No lost wake-up of the watchdog: a run that starts as the watchdog
    /// goes to sleep without deadline (its last look found nothing
    /// running) either stops that sleep before it begins or wakes it: the
    /// sleep never lasts while the run is on (loom reports a deadlock).
    #[test]
    fn loom_a_run_starting_as_the_watchdog_sleeps_wakes_it() {
        model(|| {
            let timeouts = Timeouts {
                task: Some(Duration::from_millis(1)),
                ..Timeouts::default()
            };
            let alarm = Arc::new(Alarm::new(timeouts));
            let watch = Arc::new(Watch::new(Arc::clone(&alarm)));
            let watchdog = {
                let (alarm, watch) = (Arc::clone(&alarm), Arc::clone(&watch));
                thread::spawn(move || {
                    let state = alarm.lock();
                    drop(crate::watch::sleep_unless_running(&alarm, state, &[watch]));
                })
            };
            let ticket = watch.start(Phase::Task, Some(0)).unwrap();
            watchdog.join().unwrap();
            assert!(watch.finish(ticket));
        });
    }

    /// The abandon path of a call: a worker stuck in its task inside an
    /// owned call is given up on; the call fails and is acknowledged for
    /// it once (the caller's wait returns), a fresh worker takes the next
    /// call, whose acknowledgements alone end it, and the crew ends
    /// without waiting for the stuck one, which leaves without
    /// acknowledging anything once its task returns.
    #[test]
    fn loom_an_abandoned_worker_is_acknowledged_for_once_and_replaced() {
        /// An owned call whose task waits for `go`.
        struct Stuck {
            go: AtomicBool,
            halted: AtomicUsize,
            ran: AtomicUsize,
        }

        impl Call<Idle> for Stuck {
            fn execute(&self, worker: &mut Worker<Idle>, _: usize) {
                let wait = |_: &mut Idle, (): (), _: &WorkerContext| {
                    while !self.go.load(SeqCst) {
                        thread::yield_now();
                    }
                    Ok(())
                };
                let _ = worker.run_one((), None, &wait);
                self.ran.fetch_add(1, SeqCst);
            }

            fn halt(&self, failure: Option<PoolError>) {
                if let Some(PoolError::Timeout { .. }) = failure {
                    self.halted.fetch_add(1, SeqCst);
                }
            }
        }

        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(1);
        builder.check(|| {
            let timeouts = Timeouts {
                task: Some(Duration::from_millis(1)),
                ..Timeouts::default()
            };
            let crew = crew(1, timeouts);
            let call = Arc::new(Stuck {
                go: AtomicBool::new(false),
                halted: AtomicUsize::new(0),
                ran: AtomicUsize::new(0),
            });
            crew.publish(Arc::clone(&call) as Arc<dyn Call<Idle> + Send>);
            // The watchdog's part: once the task runs, past its limit.
            let hub = Arc::clone(&crew.hub);
            let judge = thread::spawn(move || loop {
                let watch = lock(&hub.watches)[0].clone().expect("a watch");
                match watch.look(u64::MAX, 0, false) {
                    (Seen::Abandoned(err), fail) => {
                        abandon(&hub, 0, err, fail);
                        return;
                    }
                    _ => thread::yield_now(),
                }
            });
            crew.wait();
            assert_eq!(call.halted.load(SeqCst), 1);
            judge.join().unwrap();
            // The stuck task may now return: its worker leaves.
            call.go.store(true, SeqCst);
            let next = Count::default();
            crew.run_scoped_on(&next, 1, || {});
            assert_eq!(next.0.load(SeqCst), 1);
            assert!(crew.end().is_empty());
            assert_eq!(crew.hub.abandoned.load(SeqCst), 1);
        });
    }
}
