//! Time limits on user code (`task_timeout`, `worker_init_timeout`,
//! `worker_exit_timeout`): each worker marks the code it runs in its
//! [`Watch`], and the crew's watchdog abandons a worker whose code runs past
//! its limit (see `crew.rs` for what abandoning does).
//!
//! The worker and the watchdog race on one word: the worker's
//! `RUNNING → IDLE` as its code returns, the watchdog's `RUNNING →
//! ABANDONED` once the limit passed. Exactly one wins. A worker that loses
//! knows it was left behind: it touches nothing of the call or job it ran
//! for again, drops what it holds on its own thread and ends.
//!
//! The same word carries the watchdog's sleep: before it sleeps without a
//! deadline, it marks every idle word `SLEEPY` (a compare-and-swap that
//! fails on a running one), and a worker starting a run swaps its word and
//! wakes the watchdog where the old word was marked. Both sides write the
//! word with read-modify-writes, which the word's modification order puts
//! one before the other: either the mark fails, or the start sees it. (A
//! flag of its own, stored by one side and loaded by the other, would need
//! sequentially consistent store-load ordering, which loom does not
//! model.)

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::sync::protocol::{lock, AtomicU64, Condvar, Mutex, MutexGuard};
use crate::{Phase, PoolError};

/// The limits set on a pool; none set costs nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) task: Option<Duration>,
    pub(crate) init: Option<Duration>,
    pub(crate) exit: Option<Duration>,
}

impl Timeouts {
    /// Whether any limit is set.
    pub(crate) fn any(&self) -> bool {
        self.task.or(self.init).or(self.exit).is_some()
    }

    pub(crate) fn limit(&self, phase: Phase) -> Option<Duration> {
        match phase {
            Phase::Init => self.init,
            Phase::Task => self.task,
            Phase::Exit => self.exit,
        }
    }

    /// The shortest limit set.
    fn shortest(&self) -> Option<Duration> {
        [self.task, self.init, self.exit]
            .into_iter()
            .flatten()
            .min()
    }

    /// Checks the limits: each at least a millisecond.
    pub(crate) fn check(&self) -> Result<(), PoolError> {
        for (name, limit) in [
            ("task_timeout", self.task),
            ("worker_init_timeout", self.init),
            ("worker_exit_timeout", self.exit),
        ] {
            if let Some(limit) = limit.filter(|l| *l < Duration::from_millis(1)) {
                return Err(PoolError::InvalidConfig(format!(
                    "{name} must be at least 1 ms, got {limit:?}"
                )));
            }
        }
        Ok(())
    }
}

const IDLE: u64 = 0;
const RUNNING: u64 = 1;
const ABANDONED: u64 = 2;
const STATUS: u64 = 3;
/// Set on an idle word by the watchdog as it goes to sleep.
const SLEEPY: u64 = 4;
/// The sequence number sits above the status and the mark.
const SEQUENCE_SHIFT: u32 = 3;

/// What the watchdog shares with every watch of a crew.
pub(crate) struct Alarm {
    origin: Instant,
    pub(crate) timeouts: Timeouts,
    state: Mutex<AlarmState>,
    wake: Condvar,
}

pub(crate) struct AlarmState {
    /// The crew has ended: the watchdog leaves.
    pub(crate) ended: bool,
}

impl Alarm {
    pub(crate) fn new(timeouts: Timeouts) -> Self {
        Alarm {
            origin: Instant::now(),
            timeouts,
            state: Mutex::new(AlarmState { ended: false }),
            wake: Condvar::new(),
        }
    }

    /// Nanoseconds since the alarm was made.
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The watchdog's lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, AlarmState> {
        lock(&self.state)
    }

    /// Tells the watchdog to leave.
    pub(crate) fn end(&self) {
        lock(&self.state).ended = true;
        self.wake.notify_all();
    }

    /// Wakes the watchdog from a sleep without deadline.
    fn poke(&self) {
        let _held = lock(&self.state);
        self.wake.notify_all();
    }
}

/// One worker thread's watched code: what runs, since when. A worker that
/// replaces an abandoned one gets a fresh watch.
pub(crate) struct Watch {
    alarm: std::sync::Arc<Alarm>,
    /// `sequence << 3 | SLEEPY? | status`: a sequence number per watched
    /// run, so that the watchdog's compare-and-swap cannot mistake a later
    /// run for the one it judged; the watchdog's sleep mark; the status.
    word: AtomicU64,
    /// The watchdog's own notes, which only it reads and writes: the word
    /// it last saw running, and when it first saw it (its nanoseconds).
    /// A run is timed from its first sighting, not from a clock read by
    /// the worker: a worker's run costs a swap and a compare-and-swap, no
    /// clock, and a run is never judged early, only late by at most the
    /// watchdog's period while runs are on (see [`nap`]).
    seen_word: AtomicU64,
    first_seen: AtomicU64,
    /// The current run's phase and item: `phase | (index + 1) << 2`.
    what: AtomicU64,
    /// What to do when this worker is abandoned: fail the call or the job
    /// it works for. Set around each owned call and each job; `None`
    /// elsewhere (a call borrowed from the caller's frame, which a worker
    /// is never abandoned in).
    on_abandon: Mutex<Option<OnAbandon>>,
}

/// Fails the call or job an abandoned worker worked for.
pub(crate) type OnAbandon = Box<dyn FnOnce(PoolError) + Send>;

/// A watched run under way.
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

/// What the watchdog found in a watch.
pub(crate) enum Seen {
    Idle,
    /// Running, to be looked at again by this deadline.
    Running(u64),
    /// Past its limit: abandoned by this look, with the failure to report.
    Abandoned(PoolError),
}

impl Watch {
    pub(crate) fn new(alarm: std::sync::Arc<Alarm>) -> Self {
        Watch {
            alarm,
            word: AtomicU64::new(IDLE),
            seen_word: AtomicU64::new(IDLE),
            first_seen: AtomicU64::new(0),
            what: AtomicU64::new(0),
            on_abandon: Mutex::new(None),
        }
    }

    /// Marks the start of user code in `phase` (for the item at `index`);
    /// `None` where that phase has no limit.
    #[inline]
    pub(crate) fn start(&self, phase: Phase, index: Option<usize>) -> Option<Ticket> {
        self.alarm.timeouts.limit(phase)?;
        let sequence = (self.word.load(Ordering::Relaxed) >> SEQUENCE_SHIFT) + 1;
        let index = index.map_or(0, |i| (i as u64).saturating_add(1));
        self.what
            .store(phase as u64 | index << 2, Ordering::Relaxed);
        let ticket = sequence << SEQUENCE_SHIFT | RUNNING;
        // Release: `what` goes with it to the watchdog's acquire of this
        // word. A swap, not a store: where the watchdog
        // marked the word before it slept, this sees the mark and wakes it
        // (see the module docs).
        let old = self.word.swap(ticket, Ordering::AcqRel);
        if old & SLEEPY != 0 {
            self.alarm.poke();
        }
        Some(Ticket(ticket))
    }

    /// Marks the end of the run `ticket`: `true` if it ended in time,
    /// `false` if the watchdog abandoned it (its outputs must then go
    /// nowhere, and the worker must end).
    #[inline]
    pub(crate) fn finish(&self, ticket: Ticket) -> bool {
        let Ticket(ticket) = ticket;
        self.word
            .compare_exchange(
                ticket,
                ticket & !STATUS,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Sets what an abandonment of this worker fails, from now until
    /// [`Watch::clear`].
    pub(crate) fn arm(&self, on_abandon: OnAbandon) {
        *lock(&self.on_abandon) = Some(on_abandon);
    }

    /// Clears what [`Watch::arm`] set; the worker's code for it is done.
    pub(crate) fn clear(&self) {
        let old = lock(&self.on_abandon).take();
        drop(old);
    }

    /// Marks the word before the watchdog sleeps: `false` (and no mark)
    /// where a run is on.
    fn mark_sleepy(&self) -> bool {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            if word & STATUS == RUNNING {
                return false;
            }
            match self.word.compare_exchange_weak(
                word,
                word | SLEEPY,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => word = now,
            }
        }
    }

    /// Clears the mark of [`Watch::mark_sleepy`], once the watchdog woke.
    fn unmark(&self) {
        self.word.fetch_and(!SLEEPY, Ordering::AcqRel);
    }

    /// Whether the watchdog abandoned this watch's worker (for good).
    #[inline]
    pub(crate) fn is_abandoned(&self) -> bool {
        self.word.load(Ordering::Acquire) & STATUS == ABANDONED
    }

    /// The limit of `phase`, if it has one.
    pub(crate) fn limit(&self, phase: Phase) -> Option<Duration> {
        self.alarm.timeouts.limit(phase)
    }

    /// The watchdog's look at `now`: abandons a run past its limit where
    /// something is armed to fail for it, or where `ending` (an exit as the
    /// crew ends, which fails the end itself). The armed action is taken
    /// out and returned with the failure, for the crew to run.
    pub(crate) fn look(
        &self,
        now: u64,
        worker_id: usize,
        ending: bool,
    ) -> (Seen, Option<OnAbandon>) {
        let word = self.word.load(Ordering::Acquire);
        if word & STATUS != RUNNING {
            return (Seen::Idle, None);
        }
        if self.seen_word.swap(word, Ordering::Relaxed) != word {
            // First sighting of this run: timed from now.
            self.first_seen.store(now, Ordering::Relaxed);
        }
        let started = self.first_seen.load(Ordering::Relaxed);
        let what = self.what.load(Ordering::Relaxed);
        let phase = match what & STATUS {
            0 => Phase::Init,
            1 => Phase::Task,
            _ => Phase::Exit,
        };
        let Some(limit) = self.alarm.timeouts.limit(phase) else {
            return (Seen::Idle, None);
        };
        let limit_ns = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        let deadline = started.saturating_add(limit_ns);
        if now < deadline {
            return (Seen::Running(deadline), None);
        }
        // Under the lock the worker clears its action with: armed now means
        // armed until its watched code returns, which it has not (else the
        // swap below fails).
        let mut armed = lock(&self.on_abandon);
        if armed.is_none() && !ending {
            // Code a worker cannot be abandoned in: looked at again later.
            return (Seen::Running(now.saturating_add(limit_ns)), None);
        }
        let abandoned = word & !(STATUS | SLEEPY) | ABANDONED;
        if self
            .word
            .compare_exchange(word, abandoned, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // It returned in time after all, or started another run.
            return (Seen::Running(now), None);
        }
        let index = (what >> 2).checked_sub(1).map(|i| i as usize);
        let err = PoolError::Timeout {
            phase,
            index,
            worker_id,
            limit,
        };
        (Seen::Abandoned(err), armed.take())
    }
}

/// How long the watchdog sleeps after a look that found runs, the
/// earliest to end by `next` (in nanoseconds of the alarm, or `None`):
/// until then, but at most its period, a 32nd of the shortest limit
/// within 1 to 5 ms. A run is first seen at most a period after it
/// started, so it is given up on at most a period (plus the watchdog's own
/// scheduling) after its limit: "within the limit plus a few
/// milliseconds". The period costs a wake-up per millisecond or so while
/// runs are on, none while nothing runs.
fn nap(alarm: &Alarm, now: u64, next: Option<u64>) -> Duration {
    let shortest = alarm.timeouts.shortest().unwrap_or(Duration::from_secs(1));
    let period = (shortest / 32).clamp(Duration::from_millis(1), Duration::from_millis(5));
    let until = next.map_or(period, |next| {
        Duration::from_nanos(next.saturating_sub(now))
    });
    until.min(period).max(Duration::from_micros(100))
}

/// The watchdog's loop: `look` looks at every watch at a given time and
/// returns the earliest deadline of what runs (`None`: nothing runs);
/// `watches` lists the watches, for the sleep without deadline. Leaves once
/// the alarm ends.
pub(crate) fn watchdog_loop<W: std::ops::Deref<Target = Watch>>(
    alarm: &Alarm,
    mut look: impl FnMut(u64) -> Option<u64>,
    watches: impl Fn() -> Vec<W>,
) {
    let mut state = alarm.lock();
    loop {
        if state.ended {
            return;
        }
        // Looks without the lock: what it runs for a worker given up on
        // (a handle's callback) must not hold up the wake-ups of
        // `Watch::start`. A run starting meanwhile is seen by the sleep
        // below, whose marks fail on it.
        drop(state);
        let now = alarm.now();
        let next = look(now);
        state = alarm.lock();
        if state.ended {
            return;
        }
        if next.is_some() {
            state = crate::sync::protocol::wait_timeout(&alarm.wake, state, nap(alarm, now, next));
            continue;
        }
        state = sleep_unless_running(alarm, state, &watches());
    }
}

/// The watchdog's sleep without deadline, after a look that found nothing
/// running: marks every watch (see the module docs), and sleeps unless one
/// is running, until a run starts or the alarm ends. Called with the
/// alarm's lock held, which the wake-up of `Watch::start` takes.
pub(crate) fn sleep_unless_running<'a, W: std::ops::Deref<Target = Watch>>(
    alarm: &'a Alarm,
    state: MutexGuard<'a, AlarmState>,
    watches: &[W],
) -> MutexGuard<'a, AlarmState> {
    let mut state = state;
    let idle = watches.iter().all(|watch| watch.mark_sleepy());
    if idle && !state.ended {
        state = crate::sync::protocol::wait(&alarm.wake, state);
    }
    for watch in watches {
        watch.unmark();
    }
    state
}
