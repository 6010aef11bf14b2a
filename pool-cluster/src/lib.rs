//! statepool beyond one machine: the same `#[worker_state]`,
//! `#[worker_init]`, `#[task]` and `#[worker_exit]` code, run by the
//! workers of a [timely dataflow](https://docs.rs/timely) cluster, threads
//! in several processes on several hosts that talk over TCP.
//!
//! Reached as `statepool::cluster` with the facade's cargo feature
//! `cluster`. Every process runs the same program; [`ClusterPool::from_args`]
//! reads timely's arguments (`-w` threads per process, `-n` processes, `-p`
//! this process's index, `-h` a file of `host:port` lines, one per process),
//! connects the processes, and returns the pool on process 0, the driver.
//! On the others it serves until the driver ends, then returns `None`.
//!
//! ```no_run
//! use statepool::prelude::*;
//! use statepool::cluster::ClusterPool;
//!
//! #[worker_state]
//! #[derive(Default)]
//! struct Squarer { done: u64 }
//!
//! #[task]
//! fn square(s: &mut Squarer, x: u64) -> u64 { s.done += 1; x * x }
//!
//! #[worker_exit]
//! fn done(s: Squarer) -> u64 { s.done }
//!
//! fn main() -> Result<(), PoolError> {
//!     // host0$ prog -w 2 -n 2 -p 0 -h hosts.txt
//!     // host1$ prog -w 2 -n 2 -p 1 -h hosts.txt
//!     let Some(mut pool) = ClusterPool::<Squarer>::from_args(std::env::args())? else {
//!         return Ok(()); // a serving process: the driver ended
//!     };
//!     assert_eq!(pool.map(0..1000u64)?[999], 999 * 999);
//!     pool.join()?;
//!     assert_eq!(pool.exit_results().iter().sum::<u64>(), 1000);
//!     Ok(())
//! }
//! ```
//!
//! # Design
//!
//! - **One dataflow, built once.** Every timely worker builds the same
//!   dataflow: an input, a `unary` operator with an `Exchange` pact routing
//!   each record to the worker it names (the *task* operator, which owns
//!   the worker's statepool life: init once per life, exit at its end,
//!   `worker_lifespan` counted per worker, a re-init after a panic), and a
//!   second `unary` with an `Exchange` pact to worker 0 (the *answers*
//!   operator), followed by a probe.
//! - **Worker 0 feeds, the others serve.** The driver (the caller's thread
//!   on process 0) hands each call to worker 0 over a channel. Worker 0
//!   sends the call's records into the input at one timestamp, advances the
//!   input, and steps until the probe passes that timestamp: every answer
//!   of the call reached it. It hands answers to the driver as they come,
//!   then `Done`. The other workers close their inputs at once, and timely
//!   steps them until worker 0 closes its own at [`join`](ClusterPool::join).
//!   Between calls, worker 0 blocks on its channel and the others park: an
//!   idle cluster uses no CPU.
//! - **Routing.** A call of `n` items on `w` workers cuts its input into
//!   `w` contiguous runs of `ceil(n / w)` items, run `k` on worker `k`
//!   (global index: process × threads + thread), sent as one record, like
//!   `order_tasks` on one machine. A worker runs its run in slices of about
//!   5 ms (or one task, if longer), each sending its outputs to worker 0 as
//!   one record, then yields to timely, so that worker 0, a task worker
//!   too, goes back to the driver between slices; worker 0 hands the driver
//!   what each step brought as one message, tagged with its call (a stream
//!   forgotten with `mem::forget` cannot lend its answers to the next
//!   call). There is no work stealing across processes: a slow item holds
//!   up its run.
//! - **Order.** [`map`](ClusterPool::map) returns outputs in input order;
//!   [`map_unordered`](ClusterPool::map_unordered) in the order they reached
//!   the driver. A call runs to its end even after a failure; its error is
//!   the failure of the lowest index (an init failure first).
//! - **What crosses processes** needs `serde` (timely's `ExchangeData`),
//!   not `Clone`: items, outputs and the shared object. Exit hooks are
//!   optional; every life's end runs the state's own (its
//!   [`WorkerState::end_life`]), and an exit output crosses to
//!   [`exit_results`](ClusterPool::exit_results) through the state's
//!   [`WorkerState::exit_serializer`], which `#[worker_state]` implements
//!   where the output is `serde` (`exit_results` is offered only then). The
//!   single-machine [`Pool`](pool_core::Pool) keeps its own bounds.
//! - **Connecting** is done here, not by timely: the same handshake,
//!   without timely's retry chatter on standard output, and within
//!   [`Cluster::connect_timeout`] (an error, [`PoolError::Connect`], rather
//!   than a wait forever).
//! - **A lost peer.** A process that dies mid-call breaks timely's
//!   connections and ends worker 0: the call returns
//!   [`PoolError::Disconnected`]. One that stops answering with its
//!   connection open (a stopped process, a partitioned host) sends nothing:
//!   the call returns [`PoolError::Unresponsive`] after
//!   [`Cluster::peer_timeout`] of silence. Either way the pool is broken
//!   for good: later calls return the same error, and its drop leaves
//!   timely's threads to the process's end rather than wait for them.
//! - **Streams.** [`imap`](ClusterPool::imap) and
//!   [`imap_unordered`](ClusterPool::imap_unordered) send their items in
//!   batches of half the look-ahead ([`max_active`](ClusterPool::max_active),
//!   128 items a worker unless set), two batches in flight at once, each
//!   its own timestamp: one runs while the next travels.
//! - **Not supported yet:** handles (`apply_async` from other threads);
//!   the `_with` closure forms (closures do not cross processes);
//!   `order_tasks` (every call is dealt already); time limits on single
//!   tasks; progress bars and insights.
//!
//! Why a generic `ClusterPool<S>` rather than a `<Name>Cluster` named by
//! `#[worker_state]`: the attribute cannot see whether the facade was
//! built with the `cluster` feature (a proc macro does not know its
//! caller's dependencies' features), and a generic names the same thing
//! without a second alias per state.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::Duration;

use pool_core::{
    BoxError, ExitSerializer, ExitValue, NoShared, PanicPayload, PanicSite, PoolError, Task,
    WorkerContext, WorkerExit, WorkerState,
};
use timely::communication::WorkerGuards;
use timely::ExchangeData;

mod connect;
mod imap;
mod serve;
mod wire;

pub use imap::ClusterImap;

use serve::{Bridge, Command, DownOf, Event};
use wire::{Down, DownBody, FailKind, Up};

/// A state whose items, outputs and shared object can cross processes:
/// timely's `ExchangeData` (`serde::Serialize`, `serde::Deserialize` and
/// `Send + 'static`). Implemented for every such `#[worker_state]` with a
/// `#[task]`; its exit hook, if any, runs on every life's end, and its
/// outputs reach [`ClusterPool::exit_results`] where they are `serde` too.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot run on a cluster",
    label = "needs a `#[task]`, with serde items and outputs",
    note = "a cluster's items, outputs and shared object cross processes: they need `serde::Serialize`, `serde::Deserialize` and `Send + 'static`"
)]
pub trait ClusterState: WorkerState<Shared: ExchangeData + Sync> + Task + 'static {
    /// The task's input, owned: `Task::Input<'static>`.
    type Item: ExchangeData;
    /// The task's output: `Task::Output`.
    type Out: ExchangeData;
    /// Runs the task.
    fn run_item(
        &mut self,
        item: Self::Item,
        ctx: &WorkerContext<Self::Shared>,
    ) -> Result<Self::Out, BoxError>;
}

impl<S> ClusterState for S
where
    S: WorkerState<Shared: ExchangeData + Sync> + Task + 'static,
    S::Input<'static>: ExchangeData,
    <S as Task>::Output: ExchangeData,
{
    type Item = S::Input<'static>;
    type Out = <S as Task>::Output;

    fn run_item(
        &mut self,
        item: Self::Item,
        ctx: &WorkerContext<S::Shared>,
    ) -> Result<Self::Out, BoxError> {
        self.run(item, ctx)
    }
}

/// The encoding of exit outputs between processes (`bincode`'s).
fn exit_codec() -> impl bincode::Options + Copy {
    bincode::DefaultOptions::new()
}

/// An exit value seen through its state's [`ExitSerializer`].
struct ExitView<'a>(&'a ExitSerializer, &'a ExitValue);

impl serde::Serialize for ExitView<'_> {
    fn serialize<Z: serde::Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        self.0.serialize(self.1, serializer)
    }
}

/// `value` in bytes, with `S`'s exit serializer: `Ok(None)` if `S` has
/// none (its exit outputs cannot be read by `exit_results`).
fn encode_exit<S: WorkerState>(value: &ExitValue) -> Result<Option<Vec<u8>>, String> {
    use bincode::Options;
    match S::exit_serializer() {
        None => Ok(None),
        Some(ser) => exit_codec()
            .serialize(&ExitView(&ser, value))
            .map(Some)
            .map_err(|err| format!("the exit output could not be serialised: {err}")),
    }
}

/// An exit output sent by [`encode_exit`].
fn decode_exit<S: WorkerState>(bytes: &[u8]) -> Result<ExitValue, String> {
    let ser = S::exit_serializer()
        .ok_or_else(|| "the state has no exit serializer on the driver".to_string())?;
    let mut de = bincode::Deserializer::from_slice(bytes, exit_codec());
    ser.deserialize(&mut de)
        .map_err(|err| format!("the exit output could not be decoded: {err}"))
}

/// How to start a cluster: timely's layout (processes, threads, addresses)
/// and the two time limits. [`ClusterPool::from_args`] is
/// `Cluster::from_args(args)?.start()`.
#[derive(Debug, Clone)]
pub struct Cluster {
    threads: usize,
    process: usize,
    addresses: Vec<String>,
    connect_timeout: Duration,
    peer_timeout: Duration,
}

/// The connect timeout unless set: how long a process waits for its peers.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The peer timeout unless set: the longest a call may go without any
/// answer from the cluster.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(60);

impl Cluster {
    /// Reads timely's arguments from `args` (typically
    /// `std::env::args()`; anything else in it is ignored): `-w`/`--threads`
    /// worker threads per process (default 1), `-n`/`--processes` (default
    /// 1), `-p`/`--process` this process's index (default 0), and
    /// `-h`/`--hostfile`, a file of `host:port` lines, one per process in
    /// index order (default: `localhost` ports from 2101).
    ///
    /// # Errors
    /// [`PoolError::Connect`] on an argument that does not parse, a
    /// process index out of range, or a hostfile that cannot be read or
    /// has too few lines.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Cluster, PoolError> {
        let bad = |reason: String| PoolError::Connect { reason };
        let mut threads = 1usize;
        let mut processes = 1usize;
        let mut process = 0usize;
        let mut hostfile: Option<String> = None;
        // `-w2` and `--threads=2` are `-w 2` and `--threads 2`, as getopts
        // reads them for timely.
        let mut args = args.into_iter().flat_map(|arg| {
            let split = if arg.starts_with("--") {
                arg.split_once('=')
                    .map(|(flag, value)| (flag.to_string(), value.to_string()))
            } else if arg.len() > 2 && ["-w", "-n", "-p", "-h"].iter().any(|f| arg.starts_with(f)) {
                Some((arg[..2].to_string(), arg[2..].to_string()))
            } else {
                None
            };
            match split {
                Some((flag, value)) => vec![flag, value],
                None => vec![arg],
            }
        });
        let number = |flag: &str, value: Option<String>| -> Result<usize, PoolError> {
            let value = value.ok_or_else(|| bad(format!("{flag} needs a value")))?;
            value
                .parse()
                .map_err(|_| bad(format!("{flag} takes a number, got {value:?}")))
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-w" | "--threads" | "--workers" => threads = number("-w", args.next())?,
                "-n" | "--processes" => processes = number("-n", args.next())?,
                "-p" | "--process" => process = number("-p", args.next())?,
                "-h" | "--hostfile" => {
                    hostfile = Some(args.next().ok_or_else(|| bad("-h needs a file".into()))?);
                }
                _ => {}
            }
        }
        if threads == 0 || processes == 0 {
            return Err(bad("-w and -n must be at least 1".into()));
        }
        if process >= processes {
            return Err(bad(format!(
                "process index {process} out of range for {processes} processes"
            )));
        }
        let addresses = match hostfile {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| bad(format!("reading the hostfile {path}: {e}")))?;
                let lines: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .take(processes)
                    .collect();
                if lines.len() < processes {
                    return Err(bad(format!(
                        "the hostfile {path} names {} processes, {processes} expected",
                        lines.len()
                    )));
                }
                lines
            }
            None => (0..processes)
                .map(|p| format!("localhost:{}", 2101 + p))
                .collect(),
        };
        Ok(Cluster {
            threads,
            process,
            addresses,
            connect_timeout: CONNECT_TIMEOUT,
            peer_timeout: PEER_TIMEOUT,
        })
    }

    /// A cluster of `addresses.len()` processes (each a `host:port` to
    /// listen on) with `threads` workers each, seen from process `process`.
    ///
    /// # Panics
    /// If `threads` is 0 or `process` is not an index of `addresses`.
    pub fn new(threads: usize, process: usize, addresses: Vec<String>) -> Cluster {
        assert!(threads > 0, "a process needs at least one worker thread");
        assert!(
            process < addresses.len(),
            "process {process} has no address"
        );
        Cluster {
            threads,
            process,
            addresses,
            connect_timeout: CONNECT_TIMEOUT,
            peer_timeout: PEER_TIMEOUT,
        }
    }

    /// How long a process waits for its peers to come up
    /// ([`CONNECT_TIMEOUT`] unless set) before [`PoolError::Connect`].
    pub fn connect_timeout(mut self, limit: Duration) -> Cluster {
        self.connect_timeout = limit;
        self
    }

    /// The longest a call may go without any answer from the cluster
    /// ([`PEER_TIMEOUT`] unless set) before [`PoolError::Unresponsive`].
    /// Workers answer after every 5 ms of tasks, and after each longer
    /// task, so it must exceed the longest task.
    pub fn peer_timeout(mut self, limit: Duration) -> Cluster {
        self.peer_timeout = limit;
        self
    }

    /// This process's index.
    pub fn process(&self) -> usize {
        self.process
    }

    /// Starts the cluster for a state without a shared object (see
    /// [`start_with_shared`](Cluster::start_with_shared)).
    ///
    /// # Errors
    /// As [`start_with_shared`](Cluster::start_with_shared).
    pub fn start<S: ClusterState + NoShared>(self) -> Result<Option<ClusterPool<S>>, PoolError> {
        self.start_with_shared(S::__no_shared)
    }

    /// Connects to the other processes and starts this one's workers. On
    /// process 0, returns the pool, whose workers read the shared object
    /// `shared()` (called on process 0 only; it crosses to the others). On
    /// the others, serves until the driver ends, then returns `None`.
    ///
    /// # Errors
    /// [`PoolError::Connect`] if the peers are not all up within the
    /// connect timeout; on a serving process,
    /// [`PoolError::Disconnected`] if the driver was lost.
    pub fn start_with_shared<S: ClusterState>(
        self,
        shared: impl FnOnce() -> S::Shared,
    ) -> Result<Option<ClusterPool<S>>, PoolError> {
        quiet_timely();
        let built = if self.addresses.len() == 1 {
            let hooks = timely::communication::Hooks::default();
            let builders = timely::communication::allocator::ProcessBuilder::new_typed_vector(
                self.threads,
                hooks.refill.clone(),
                hooks.spill.clone(),
            )
            .into_iter()
            .map(timely::communication::AllocatorBuilder::Process)
            .collect();
            (builders, Box::new(()) as Box<dyn std::any::Any + Send>)
        } else {
            connect::connect(
                &self.addresses,
                self.process,
                self.threads,
                self.connect_timeout,
            )?
        };
        let (commands, command_rx) = mpsc::channel::<Command<S>>();
        let (event_tx, events) = mpsc::channel::<Event<S>>();
        let bridge: Bridge<S> = Arc::new(Mutex::new(
            (self.process == 0).then_some((command_rx, event_tx)),
        ));
        let guards = timely::execute::execute_from(
            built.0,
            Box::new(QuietDrop(Some(built.1))),
            timely::WorkerConfig::default(),
            move |worker| serve::serve::<S>(worker, &bridge),
        )
        .map_err(|reason| PoolError::Connect { reason })?;
        if self.process != 0 {
            let failed = guards.join().into_iter().filter(Result::is_err).count();
            return match failed {
                0 => Ok(None),
                n => Err(PoolError::Disconnected {
                    reason: format!(
                        "{n} worker(s) of process {} ended early: the driver or a peer was lost",
                        self.process
                    ),
                }),
            };
        }
        let worker0 = match events.recv_timeout(self.connect_timeout) {
            Ok(Event::Ready(thread)) => thread,
            _ => {
                std::mem::forget(guards);
                return Err(PoolError::Connect {
                    reason: "worker 0 did not start".into(),
                });
            }
        };
        let mut pool = ClusterPool {
            commands,
            events,
            worker0,
            guards: Some(guards),
            workers: self.threads * self.addresses.len(),
            threads: self.threads,
            keep_alive: false,
            lifespan: None,
            max_active: None,
            peer_timeout: self.peer_timeout,
            calls: 0,
            exits: Vec::new(),
            unshipped: 0,
            broken: None,
            answers: std::collections::VecDeque::new(),
            wanted: std::collections::BTreeSet::new(),
            setup_sent: false,
        };
        pool.setup(Some(shared()))?;
        Ok(Some(pool))
    }
}

/// What keeps timely's network threads, dropped without unwinding:
/// timely's guard joins them with `expect`, and they panic by design when a
/// peer is lost. Dropped while a panic unwinds, it leaves them to the
/// process's end.
struct QuietDrop(Option<Box<dyn std::any::Any + Send>>);

impl Drop for QuietDrop {
    fn drop(&mut self) {
        let Some(inner) = self.0.take() else {
            return;
        };
        if std::thread::panicking() {
            std::mem::forget(inner);
        } else {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(inner)));
        }
    }
}

/// Keeps the panics of timely's own threads off standard error: when a
/// peer is lost, timely's network threads and workers panic by design, and
/// the driver reports it as [`PoolError::Disconnected`]. Other panics (the
/// tasks' among them) go to the hook that was set before.
fn quiet_timely() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let timely = info
                .location()
                .is_some_and(|at| at.file().contains("timely_communication"));
            if !timely {
                before(info);
            }
        }));
    });
}

/// A pool whose workers are the workers of a timely cluster: every thread
/// of every process owns one statepool worker life at a time. The driver's
/// side, on process 0; see the [crate docs](crate) for how it runs.
///
/// Its calls mirror [`Pool`](pool_core::Pool)'s: [`map`](ClusterPool::map),
/// [`map_unordered`](ClusterPool::map_unordered),
/// [`apply`](ClusterPool::apply), with [`keep_alive`](ClusterPool::keep_alive),
/// [`worker_lifespan`](ClusterPool::worker_lifespan),
/// [`join`](ClusterPool::join) and [`exit_results`](ClusterPool::exit_results).
/// Worker ids are global: worker `t` of process `p` is `p * threads + t`.
/// A failure on a remote worker comes back as the same [`PoolError`]
/// variant as on one machine, its source (or message) carried as text.
pub struct ClusterPool<S: ClusterState> {
    commands: mpsc::Sender<Command<S>>,
    events: mpsc::Receiver<Event<S>>,
    worker0: Thread,
    guards: Option<WorkerGuards<()>>,
    workers: usize,
    threads: usize,
    keep_alive: bool,
    lifespan: Option<usize>,
    /// The most items a streaming call has sent and not yet yielded.
    max_active: Option<usize>,
    peer_timeout: Duration,
    calls: u64,
    /// Exit outputs received, decoded.
    exits: Vec<ExitValue>,
    /// Exit outputs that a worker could not send: its state has no
    /// [`ExitSerializer`] (see [`ClusterPool::exit_results`]).
    unshipped: usize,
    /// Why the pool can no longer run calls.
    broken: Option<PoolError>,
    /// Answers received and not yet handled, with their calls.
    answers: std::collections::VecDeque<(u64, serve::UpOf<S>)>,
    /// Calls sent whose answers are still wanted: those of a stream that
    /// was forgotten rather than dropped are not.
    wanted: std::collections::BTreeSet<u64>,
    /// Whether the workers have the current lifespan.
    setup_sent: bool,
}

impl<S: ClusterState> std::fmt::Debug for ClusterPool<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterPool")
            .field("workers", &self.workers)
            .field("threads_per_process", &self.threads)
            .field("keep_alive", &self.keep_alive)
            .field("lifespan", &self.lifespan)
            .finish_non_exhaustive()
    }
}

/// A failure on a worker, as text: remote errors and panics cross
/// processes as their messages.
#[derive(Debug)]
pub struct RemoteError(pub String);

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RemoteError {}

fn remote(kind: FailKind, index: Option<usize>, worker_id: usize, message: String) -> PoolError {
    let panic = |site| PoolError::Panic {
        index,
        worker_id,
        site,
        message: message.clone(),
        payload: PanicPayload::new(Box::new(message.clone())),
    };
    match kind {
        FailKind::Task => PoolError::Task {
            index: index.unwrap_or(0),
            worker_id,
            source: Box::new(RemoteError(message)),
        },
        FailKind::TaskPanic => panic(PanicSite::Task),
        FailKind::Init => PoolError::Init {
            worker_id,
            source: Box::new(RemoteError(message)),
        },
        FailKind::InitPanic => panic(PanicSite::Init),
        FailKind::Exit => PoolError::Exit {
            worker_id,
            source: Box::new(RemoteError(message)),
        },
        FailKind::ExitPanic => panic(PanicSite::Exit),
        FailKind::DropPanic => panic(PanicSite::DropState),
    }
}

/// The error of a broken pool, again, for a later call.
fn again(err: &PoolError) -> PoolError {
    match err {
        PoolError::Unresponsive { waited } => PoolError::Unresponsive { waited: *waited },
        PoolError::Closed => PoolError::Closed,
        other => PoolError::Disconnected {
            reason: match other {
                PoolError::Disconnected { reason } => reason.clone(),
                other => other.to_string(),
            },
        },
    }
}

/// An answer of the cluster to a call.
enum Answer<S: ClusterState> {
    Outputs(Vec<(usize, S::Out)>),
    Failed(PoolError),
    Done(u64),
}

/// Keeps in `first` the failure a call returns (see [`rank`]).
fn keep_first(first: &mut Option<PoolError>, err: PoolError) {
    if first.as_ref().is_none_or(|f| rank(&err) < rank(f)) {
        *first = Some(err);
    }
}

/// The failure a call returns: an init failure first, then the lowest
/// index, then exits.
fn rank(err: &PoolError) -> (u8, usize) {
    match err {
        PoolError::Init { .. } => (0, 0),
        PoolError::Panic {
            site: PanicSite::Init,
            ..
        } => (0, 0),
        PoolError::Exit { .. } => (2, 0),
        PoolError::Panic {
            site: PanicSite::Exit | PanicSite::DropState,
            ..
        } => (2, 0),
        other => (1, other.index().unwrap_or(0)),
    }
}

impl<S: ClusterState> ClusterPool<S> {
    /// Starts a cluster from timely's arguments (see [`Cluster::from_args`])
    /// for a state without a shared object: the pool on process 0, `None`
    /// on the others once the driver ended.
    ///
    /// # Errors
    /// As [`Cluster::from_args`] and [`Cluster::start_with_shared`].
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Option<Self>, PoolError>
    where
        S: NoShared,
    {
        Cluster::from_args(args)?.start()
    }

    /// Starts a cluster from timely's arguments whose workers read the
    /// shared object `shared()` (called on process 0, sent to the others):
    /// mpire's `shared_objects`, across processes.
    ///
    /// # Errors
    /// As [`Cluster::from_args`] and [`Cluster::start_with_shared`].
    pub fn from_args_with_shared(
        args: impl IntoIterator<Item = String>,
        shared: impl FnOnce() -> S::Shared,
    ) -> Result<Option<Self>, PoolError> {
        Cluster::from_args(args)?.start_with_shared(shared)
    }

    /// The number of workers, over all processes.
    pub fn n_workers(&self) -> usize {
        self.workers
    }

    /// Keeps worker lives across calls (mpire's `keep_alive`); without it,
    /// every call ends with the exit of every life it started.
    pub fn keep_alive(mut self) -> Self {
        self.keep_alive = true;
        self
    }

    /// Ends a worker's life after `tasks` tasks, counted per worker (mpire's
    /// `worker_lifespan`); a fresh life takes the next item. `0` makes the
    /// next call fail with [`PoolError::InvalidConfig`]. Set on a pool whose
    /// lives run (with `keep_alive`), it counts the tasks they already ran:
    /// a life already past it ends after its next task, as on one machine.
    pub fn worker_lifespan(mut self, tasks: usize) -> Self {
        self.lifespan = Some(tasks);
        self.setup_sent = false;
        self
    }

    /// Bounds the look-ahead of [`imap`](ClusterPool::imap) and
    /// [`imap_unordered`](ClusterPool::imap_unordered): at most `items`
    /// items sent to the cluster and not yet yielded (at least 2). The
    /// default is 128 items a worker. `0` makes the next streaming call
    /// fail with [`PoolError::InvalidConfig`].
    pub fn max_active(mut self, items: usize) -> Self {
        self.max_active = Some(items);
        self
    }

    fn check(&self) -> Result<(), PoolError> {
        if let Some(err) = &self.broken {
            return Err(again(err));
        }
        if self.lifespan == Some(0) {
            return Err(PoolError::InvalidConfig(
                "worker_lifespan must be at least 1 task, got 0".into(),
            ));
        }
        Ok(())
    }

    /// Sends `records` as one timestamp and waits for its answers, handing
    /// each output to `output`; returns the call's first failure.
    fn exchange(
        &mut self,
        records: Vec<DownOf<S>>,
        mut output: impl FnMut(usize, S::Out),
    ) -> Result<(), PoolError> {
        self.forget_earlier();
        let call = self.send(records)?;
        let mut failure: Option<PoolError> = None;
        loop {
            match self.receive()? {
                Answer::Outputs(outputs) => {
                    for (index, value) in outputs {
                        output(index, value);
                    }
                }
                Answer::Failed(err) => keep_first(&mut failure, err),
                Answer::Done(done) if done == call => break,
                Answer::Done(_) => {}
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Starts an operation (a call, or a stream's calls): the answers of
    /// calls sent before and never waited for (those of a stream that was
    /// forgotten rather than dropped) are not its own.
    fn forget_earlier(&mut self) {
        self.wanted.clear();
    }

    /// Hands `records` to worker 0 as the next call, without waiting for
    /// it; returns the call's number.
    fn send(&mut self, records: Vec<DownOf<S>>) -> Result<u64, PoolError> {
        self.calls += 1;
        let call = self.calls;
        self.wanted.insert(call);
        if self.commands.send(Command::Send { call, records }).is_err() {
            return Err(self.break_with(PoolError::Disconnected {
                reason: "worker 0 ended".into(),
            }));
        }
        self.worker0.unpark();
        Ok(call)
    }

    /// The next answer of the calls under way (exit outputs are kept as
    /// they come), within the peer timeout.
    fn receive(&mut self) -> Result<Answer<S>, PoolError> {
        loop {
            if let Some((call, up)) = self.answers.pop_front() {
                if !self.wanted.contains(&call) {
                    // A stream's call whose `ClusterImap` was forgotten:
                    // its answers go nowhere (its exits are still kept).
                    if let Up::Exit { worker_id, output } = up {
                        let _ = self.keep_exit(worker_id, output);
                    }
                    continue;
                }
                match up {
                    Up::Outputs(outputs) => return Ok(Answer::Outputs(outputs)),
                    Up::Exit { worker_id, output } => {
                        if let Err(err) = self.keep_exit(worker_id, output) {
                            return Ok(Answer::Failed(err));
                        }
                    }
                    Up::Failed {
                        index,
                        worker_id,
                        kind,
                        message,
                    } => return Ok(Answer::Failed(remote(kind, index, worker_id, message))),
                }
                continue;
            }
            match self.events.recv_timeout(self.peer_timeout) {
                Ok(Event::Up(call, answers)) => {
                    self.answers
                        .extend(answers.into_iter().map(|up| (call, up)));
                }
                Ok(Event::Done(call)) => {
                    if self.wanted.remove(&call) {
                        return Ok(Answer::Done(call));
                    }
                }
                Ok(Event::Ready(_)) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.break_with(PoolError::Unresponsive {
                        waited: self.peer_timeout,
                    }))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.break_with(PoolError::Disconnected {
                        reason: "worker 0 ended during a call: a connection to a peer broke".into(),
                    }))
                }
            }
        }
    }

    /// Keeps an exit output that worker `worker_id` sent (`None`: one it
    /// could not send).
    fn keep_exit(&mut self, worker_id: usize, output: Option<Vec<u8>>) -> Result<(), PoolError> {
        match output {
            None => self.unshipped += 1,
            Some(bytes) => match decode_exit::<S>(&bytes) {
                Ok(value) => self.exits.push(value),
                Err(message) => return Err(remote(FailKind::Exit, None, worker_id, message)),
            },
        }
        Ok(())
    }

    /// Marks the pool broken by `err`, and returns `err`.
    fn break_with(&mut self, err: PoolError) -> PoolError {
        self.broken = Some(again(&err));
        err
    }

    /// Sends the lifespan (and, the first time, the shared object) to every
    /// worker.
    fn setup(&mut self, shared: Option<S::Shared>) -> Result<(), PoolError> {
        // Serialised once, decoded by each worker: the shared type needs
        // not be `Clone`.
        let shared = match shared.map(|shared| bincode::serialize(&shared)) {
            None => None,
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(err)) => {
                return Err(PoolError::InvalidConfig(format!(
                    "the shared object could not be serialised: {err}"
                )))
            }
        };
        let records = (0..self.workers)
            .map(|to| Down {
                to: to as u64,
                body: DownBody::Setup {
                    shared: shared.clone(),
                    lifespan: self.lifespan,
                },
            })
            .collect();
        self.exchange(records, |_, _| {})?;
        self.setup_sent = true;
        Ok(())
    }

    /// Runs `items` as one call, handing each output to `output`.
    fn run(
        &mut self,
        items: Vec<S::Item>,
        output: impl FnMut(usize, S::Out),
    ) -> Result<(), PoolError> {
        self.begin()?;
        let records = self.records(0, items);
        let ran = self.exchange(records, output);
        if self.keep_alive || self.broken.is_some() {
            return ran;
        }
        let ended = self.end_lives();
        ran.and(ended)
    }

    /// Checks that a call can run, and sends the settings where they
    /// changed.
    fn begin(&mut self) -> Result<(), PoolError> {
        self.check()?;
        if !self.setup_sent {
            self.setup(None)?;
        }
        Ok(())
    }

    /// The records of `items`, the first at position `first`: `w`
    /// contiguous runs, run `k` for worker `k`.
    fn records(&self, first: usize, items: Vec<S::Item>) -> Vec<DownOf<S>> {
        let per = items.len().div_ceil(self.workers).max(1);
        let mut records = Vec::with_capacity(self.workers);
        let mut items = items.into_iter();
        let mut start = first;
        for to in 0..self.workers {
            let run: Vec<S::Item> = items.by_ref().take(per).collect();
            if run.is_empty() {
                break;
            }
            let len = run.len();
            records.push(Down {
                to: to as u64,
                body: DownBody::Items {
                    first: start,
                    items: run,
                },
            });
            start += len;
        }
        records
    }

    /// Ends every worker's life, gathering the exit outputs.
    fn end_lives(&mut self) -> Result<(), PoolError> {
        let records = (0..self.workers)
            .map(|to| Down {
                to: to as u64,
                body: DownBody::EndLife,
            })
            .collect();
        self.exchange(records, |_, _| {})
    }

    /// Runs the task on every item, on the workers of every process, and
    /// returns the outputs in input order.
    ///
    /// # Errors
    /// The first failure (see the [crate docs](crate)): a task's `Err` as
    /// [`PoolError::Task`], a panic as [`PoolError::Panic`], an init's as
    /// [`PoolError::Init`], with the global worker id; or a lost cluster
    /// ([`PoolError::Disconnected`], [`PoolError::Unresponsive`]).
    pub fn map(
        &mut self,
        items: impl IntoIterator<Item = S::Item>,
    ) -> Result<Vec<S::Out>, PoolError> {
        let items: Vec<S::Item> = items.into_iter().collect();
        let n = items.len();
        let mut slots: Vec<Option<S::Out>> = (0..n).map(|_| None).collect();
        self.run(items, |index, output| {
            if let Some(slot) = slots.get_mut(index) {
                *slot = Some(output);
            }
        })?;
        slots
            .into_iter()
            .enumerate()
            .map(|(index, slot)| {
                slot.ok_or_else(|| PoolError::Disconnected {
                    reason: format!("the output of item {index} never arrived"),
                })
            })
            .collect()
    }

    /// Like [`map`](ClusterPool::map), with the outputs in the order they
    /// reached the driver.
    ///
    /// # Errors
    /// As [`map`](ClusterPool::map).
    pub fn map_unordered(
        &mut self,
        items: impl IntoIterator<Item = S::Item>,
    ) -> Result<Vec<S::Out>, PoolError> {
        let mut outputs = Vec::new();
        self.run(items.into_iter().collect(), |_, output| {
            outputs.push(output)
        })?;
        Ok(outputs)
    }

    /// Runs the task on each item of `items` as the caller pulls outputs,
    /// in input order (mpire's `imap`): the items go out in batches, two
    /// at a time, so that at most [`max_active`](ClusterPool::max_active)
    /// items are sent and not yet yielded, whatever the input's length.
    /// Items are pulled on the caller's thread, a batch at a time.
    ///
    /// A failure comes after the outputs of the items before it, and ends
    /// the stream. Dropping the stream early waits for the batches under
    /// way (their outputs are dropped); without `keep_alive`, the lives
    /// end when the stream does.
    pub fn imap<I>(&mut self, items: I) -> ClusterImap<'_, S, I::IntoIter>
    where
        I: IntoIterator<Item = S::Item>,
    {
        ClusterImap::new(self, items.into_iter(), true)
    }

    /// Like [`imap`](ClusterPool::imap), with the outputs in the order they
    /// reach the driver.
    pub fn imap_unordered<I>(&mut self, items: I) -> ClusterImap<'_, S, I::IntoIter>
    where
        I: IntoIterator<Item = S::Item>,
    {
        ClusterImap::new(self, items.into_iter(), false)
    }

    /// Runs the task on one item, on worker 0.
    ///
    /// # Errors
    /// As [`map`](ClusterPool::map).
    pub fn apply(&mut self, item: S::Item) -> Result<S::Out, PoolError> {
        let mut out = None;
        self.run(vec![item], |_, output| out = Some(output))?;
        out.ok_or_else(|| PoolError::Disconnected {
            reason: "the output of the item never arrived".into(),
        })
    }

    /// Ends every worker's life (their exits run, on every process) and
    /// the cluster: the serving processes return from their `from_args`.
    /// Later calls return [`PoolError::Closed`].
    ///
    /// # Errors
    /// A failed exit hook ([`PoolError::Exit`], or [`PoolError::Panic`] at
    /// [`PanicSite::Exit`]), or a lost cluster.
    pub fn join(&mut self) -> Result<(), PoolError> {
        if self.guards.is_none() {
            return Ok(());
        }
        // Not `check`: a lifespan of 0 fails calls, not the lives' end.
        if let Some(err) = &self.broken {
            return Err(again(err));
        }
        let ended = self.end_lives();
        self.stop();
        ended
    }

    /// Stops the workers and waits for this process's threads, unless the
    /// cluster is broken (they may never end then).
    fn stop(&mut self) {
        let Some(guards) = self.guards.take() else {
            return;
        };
        let _ = self.commands.send(Command::Stop);
        self.worker0.unpark();
        if self.broken.is_some() {
            std::mem::forget(guards);
            return;
        }
        self.broken = Some(PoolError::Closed);
        // Joined on a thread of its own, for at most the peer timeout: a
        // peer stopped after the last call would hold timely's threads
        // forever. A worker that panicked is reported to `join`, not
        // raised (the network threads' guard drops quietly, see
        // `QuietDrop`).
        let (done, joined) = mpsc::channel();
        let joiner = std::thread::Builder::new()
            .name("statepool-cluster-join".into())
            .spawn(move || {
                let _ = guards.join();
                let _ = done.send(());
            });
        if let Ok(joiner) = joiner {
            if joined.recv_timeout(self.peer_timeout).is_ok() {
                let _ = joiner.join();
            }
        }
    }

    /// The exit hooks' outputs gathered so far from every process (one per
    /// finished life), drained. Offered where the exit output is `serde`:
    /// it crosses processes.
    ///
    /// ```compile_fail
    /// use statepool::cluster::ClusterPool;
    /// use statepool::prelude::*;
    ///
    /// #[worker_state]
    /// #[derive(Default)]
    /// struct Timer;
    ///
    /// #[task]
    /// fn pass(_: &mut Timer, x: u64) -> u64 { x }
    ///
    /// #[worker_exit] // runs on every life's end, on every process
    /// fn stop(_: Timer) -> std::time::Instant { std::time::Instant::now() }
    ///
    /// fn ended(pool: &mut ClusterPool<Timer>) {
    ///     pool.exit_results(); // an `Instant` does not cross processes
    /// }
    /// ```
    ///
    /// # Panics
    /// If a state written by hand, not by `#[worker_state]`, left
    /// [`WorkerState::exit_serializer`] as `None`: its workers could not
    /// send their outputs (the outputs gathered are dropped, and the next
    /// call starts afresh). A serializer of another type than the one its
    /// `end_life` returns fails that life's end on its worker instead,
    /// as [`PoolError::Exit`].
    pub fn exit_results(&mut self) -> Vec<<S as WorkerExit>::Output>
    where
        S: WorkerExit,
        <S as WorkerExit>::Output: serde::Serialize + serde::de::DeserializeOwned,
    {
        let exits = std::mem::take(&mut self.exits);
        let unshipped = std::mem::take(&mut self.unshipped);
        assert!(
            unshipped == 0,
            "{unshipped} exit outputs could not be sent: `WorkerState::exit_serializer` of `{}` returns `None` \
             (`#[worker_state]` implements it; a state written by hand returns \
             `Some(ExitSerializer::of::<Output>())`)",
            std::any::type_name::<S>()
        );
        exits
            .into_iter()
            .map(|value| {
                value.downcast().unwrap_or_else(|_| {
                    panic!(
                        "`WorkerState::exit_serializer` of `{}` decodes another type than its exit output",
                        std::any::type_name::<S>()
                    )
                })
            })
            .collect()
    }
}

impl<S: ClusterState> Drop for ClusterPool<S> {
    fn drop(&mut self) {
        if self.guards.is_some() && self.broken.is_none() {
            let _ = self.join();
        }
        self.stop();
    }
}
