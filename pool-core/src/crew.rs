//! The worker threads of a pool and the protocol that hands them jobs.
//!
//! One job runs at a time. The caller publishes it under the control lock
//! (bumping `epoch`), every worker runs its share and acknowledges; the last
//! acknowledgement unparks the caller, which spins briefly before it parks.
//! Workers wait for the next epoch on a condvar after a short bounded spin
//! (shorter after a long job), so an idle crew uses no CPU, and no wake-up is
//! lost: a worker checks the epoch under the same lock the caller bumps it
//! under before it sleeps. The caller wakes one sleeper, and the first
//! worker to take the job wakes the rest, so that wake-ups come from the CPU
//! of a running worker.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::job::Job;
use crate::unwind::{catch, into_message};
use crate::worker::{ExitStore, Worker};
use crate::{PanicSite, PoolError, WorkerContext, WorkerState};

/// A lifetime-erased pointer to the job being run.
struct JobRef<S>(NonNull<dyn Job<S>>);

// SAFETY: a `JobRef` is only dereferenced as `&dyn Job<S>`, and `Job<S>: Sync`,
// so sharing it across threads is sharing a `&(dyn Job<S> + Sync)`. Its
// validity is the publisher's promise (see `Crew::publish`).
unsafe impl<S> Send for JobRef<S> {}

impl<S> Clone for JobRef<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for JobRef<S> {}

struct Control<S> {
    epoch: u64,
    job: Option<JobRef<S>>,
    caller: Option<Thread>,
    shutdown: bool,
    /// Workers asleep on `wake`: a publish with none skips the wake-up call.
    sleepers: usize,
    /// Workers that have taken the current job.
    taken: usize,
    /// When the current job was published.
    published: Option<Instant>,
}

struct Shared<S> {
    control: Mutex<Control<S>>,
    wake: Condvar,
    /// Mirror of `control.epoch`, read while spinning.
    epoch: AtomicU64,
    /// Workers that have not yet acknowledged the current job.
    pending: AtomicUsize,
    /// Failures of exit hooks run at shutdown, by worker.
    shutdown_errors: Mutex<Vec<PoolError>>,
}

impl<S> Shared<S> {
    fn control(&self) -> MutexGuard<'_, Control<S>> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The live worker threads of a pool.
pub(crate) struct Crew<S: WorkerState> {
    shared: Arc<Shared<S>>,
    threads: Vec<JoinHandle<()>>,
    /// Whether the last job was short: the caller then spins and yields a
    /// little before it parks, expecting this one to be short too. After a
    /// long job it parks at once, leaving its CPU to a worker.
    last_short: AtomicBool,
}

impl<S: WorkerState> Crew<S> {
    /// Starts `n` worker threads. Their states start when the first job
    /// reaches them, so that an init failure is that job's error.
    pub(crate) fn spawn(n: usize, exits: &ExitStore) -> Result<Self, PoolError> {
        let shared = Arc::new(Shared {
            control: Mutex::new(Control {
                epoch: 0,
                job: None,
                caller: None,
                shutdown: false,
                sleepers: 0,
                taken: 0,
                published: None,
            }),
            wake: Condvar::new(),
            epoch: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            shutdown_errors: Mutex::new(Vec::new()),
        });
        let mut crew = Crew {
            shared,
            threads: Vec::with_capacity(n),
            last_short: AtomicBool::new(true),
        };
        for worker_id in 0..n {
            let shared = Arc::clone(&crew.shared);
            let ctx = WorkerContext::new(worker_id, n);
            let exits = Arc::clone(exits);
            let spawned = thread::Builder::new()
                .name(format!("statepool-worker-{worker_id}"))
                .spawn(move || worker_main(Worker::<S>::new(ctx, exits), &shared));
            match spawned {
                Ok(handle) => crew.threads.push(handle),
                Err(source) => {
                    // Dropping the partial crew shuts down what did start.
                    return Err(PoolError::Spawn { worker_id, source });
                }
            }
        }
        Ok(crew)
    }

    /// Hands `job` to every worker.
    ///
    /// # Safety
    /// `job` must stay valid until [`Crew::wait`] has returned: workers
    /// dereference it until they acknowledge.
    pub(crate) unsafe fn publish(&self, job: &dyn Job<S>) {
        let job: NonNull<dyn Job<S> + '_> = NonNull::from(job);
        // SAFETY: only the trait object's lifetime bound changes (same layout);
        // the caller promises the pointee outlives every use, which ends
        // before `wait` returns.
        let job: NonNull<dyn Job<S> + 'static> = unsafe { std::mem::transmute(job) };
        let mut control = self.shared.control();
        debug_assert!(control.job.is_none(), "a job is already running");
        self.shared
            .pending
            .store(self.threads.len(), Ordering::Release);
        control.job = Some(JobRef(job));
        control.caller = Some(thread::current());
        control.epoch += 1;
        control.published = Some(Instant::now());
        self.shared.epoch.store(control.epoch, Ordering::Release);
        control.taken = 0;
        // Under the lock a sleeper counts itself before it sleeps, so a
        // worker not counted sees the new epoch before it could sleep. One
        // sleeper is woken here; the first worker to take the job wakes the
        // others (see `next_job`), from its CPU rather than the caller's.
        let sleepers = control.sleepers;
        drop(control);
        if sleepers > 0 {
            self.shared.wake.notify_one();
        }
    }

    /// Blocks until every worker has acknowledged the published job.
    pub(crate) fn wait(&self) {
        // Short jobs end within a few microseconds: spin (bounded) first.
        let yields = if self.last_short.load(Ordering::Relaxed) {
            YIELDS
        } else {
            0
        };
        spin_until(yields, || self.shared.pending.load(Ordering::Acquire) == 0);
        while self.shared.pending.load(Ordering::Acquire) != 0 {
            thread::park();
        }
        let mut control = self.shared.control();
        let short = control
            .published
            .take()
            .is_some_and(|at| at.elapsed() < LONG_JOB);
        self.last_short.store(short, Ordering::Relaxed);
        control.job = None;
        control.caller = None;
    }

    /// Stops the workers, running each live state's exit hook; returns the
    /// failures in worker order.
    pub(crate) fn shutdown(mut self) -> Vec<PoolError> {
        self.stop_threads()
    }

    fn stop_threads(&mut self) -> Vec<PoolError> {
        self.shared.control().shutdown = true;
        self.shared.wake.notify_all();
        let mut errors = Vec::new();
        for (worker_id, handle) in self.threads.drain(..).enumerate() {
            if let Err(payload) = handle.join() {
                // Unreachable unless the pool's own code panicked on that thread.
                errors.push(PoolError::Panic {
                    index: None,
                    worker_id,
                    site: PanicSite::Runtime,
                    message: into_message(payload),
                });
            }
        }
        let mut hook_errors = std::mem::take(
            &mut *self
                .shared
                .shutdown_errors
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        hook_errors.append(&mut errors);
        hook_errors.sort_by_key(|e| e.worker_id());
        hook_errors
    }
}

impl<S: WorkerState> Drop for Crew<S> {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            let _ = self.stop_threads();
        }
    }
}

impl<S: WorkerState> std::fmt::Debug for Crew<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crew")
            .field("workers", &self.threads.len())
            .finish_non_exhaustive()
    }
}

/// Acknowledges the current job when dropped, even while unwinding, so the
/// caller never waits forever.
struct Ack<'a, S> {
    shared: &'a Shared<S>,
    caller: Thread,
}

impl<S> Drop for Ack<'_, S> {
    fn drop(&mut self) {
        if self.shared.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.caller.unpark();
        }
    }
}

fn worker_main<S: WorkerState>(mut worker: Worker<S>, shared: &Shared<S>) {
    let mut seen = 0;
    let mut short = true;
    while let Some((job, caller)) = next_job(shared, &mut seen, short) {
        let started = Instant::now();
        let ack = Ack { shared, caller };
        // SAFETY: the publisher keeps the job alive until every worker has
        // acknowledged it, which this one does only when `ack` drops below.
        let job = unsafe { job.0.as_ref() };
        if let Err(message) = catch(|| job.execute(&mut worker)) {
            // Every piece of user code a job runs has a catch of its own
            // (tasks, hooks, the input, the items it drops), so only the
            // pool's own code gets here. No user code held the state when it
            // happened: the life goes on.
            job.fail(PoolError::Panic {
                index: None,
                worker_id: worker.id(),
                site: PanicSite::Runtime,
                message,
            });
        }
        drop(ack);
        short = started.elapsed() < LONG_JOB;
    }
    if let Err(err) = worker.end_life() {
        shared
            .shutdown_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(err);
    }
}

/// Rounds of busy spinning, then of yielding, before a thread sleeps.
const SPINS: u32 = 48;
const YIELDS: u32 = 16;

/// A job this long makes the wake-up of the next one (tens of microseconds)
/// negligible: after it, a worker sleeps without yielding first, leaving the
/// CPU and the memory system to the caller, which may have a large result to
/// drop.
const LONG_JOB: Duration = Duration::from_millis(2);

/// Spins, then yields, until `done` or the rounds run out: a few tens of
/// microseconds at most.
fn spin_until(yields: u32, done: impl Fn() -> bool) {
    for round in 0..SPINS + yields {
        if done() {
            return;
        }
        if round < SPINS {
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }
}

/// Waits for a job newer than `seen`; `None` on shutdown. After a short
/// job, spins and yields a little first, to catch back-to-back calls
/// without a sleep.
fn next_job<S>(
    shared: &Shared<S>,
    seen: &mut u64,
    after_short_job: bool,
) -> Option<(JobRef<S>, Thread)> {
    let yields = if after_short_job { YIELDS } else { 0 };
    spin_until(yields, || shared.epoch.load(Ordering::Acquire) != *seen);
    let mut control = shared.control();
    loop {
        if control.shutdown {
            return None;
        }
        if control.epoch != *seen {
            *seen = control.epoch;
            // The first to take the job wakes every sleeper, from the CPU of
            // a running worker rather than the caller's (wake-ups all from
            // the caller's tend to pile the sleepers onto one CPU). No
            // sleeper counted now has taken this job, as this is its first
            // taker; every one wakes (a counted sleeper is blocked, or about
            // to block and returns at once); and a worker not counted checks
            // the epoch under this lock before it sleeps.
            control.taken += 1;
            if control.taken == 1 && control.sleepers > 0 {
                shared.wake.notify_all();
            }
            let job = control.job.expect("a new epoch carries a job");
            let caller = control
                .caller
                .clone()
                .expect("a new epoch carries its caller");
            return Some((job, caller));
        }
        control.sleepers += 1;
        control = shared.wake.wait(control).unwrap_or_else(|e| e.into_inner());
        control.sleepers -= 1;
    }
}
