//! A hand-written worker state that records its lifecycle, shared by the
//! runtime's integration tests. Each test picks its own `TAG` so that the
//! counters of tests running in parallel stay apart.

#![allow(dead_code, unreachable_pub)]

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};

use statepool::{BoxError, ExitValue, OwnedInput, Task, WorkerContext, WorkerExit, WorkerState};

/// Lifecycle counters and failure switches of one test.
#[derive(Default)]
pub struct Board {
    pub inits: AtomicUsize,
    pub exits: AtomicUsize,
    pub tasks: AtomicUsize,
    /// Tasks that panicked (each ends a life without exit).
    pub panics: AtomicUsize,
    pub fail_init: AtomicBool,
    pub panic_init: AtomicBool,
    pub fail_exit: AtomicBool,
    pub panic_exit: AtomicBool,
    /// Worker ids seen by init, in order.
    pub init_ids: Mutex<Vec<usize>>,
}

pub const TAGS: usize = 64;

pub static BOARDS: [Board; TAGS] = [const {
    Board {
        inits: AtomicUsize::new(0),
        exits: AtomicUsize::new(0),
        tasks: AtomicUsize::new(0),
        panics: AtomicUsize::new(0),
        fail_init: AtomicBool::new(false),
        panic_init: AtomicBool::new(false),
        fail_exit: AtomicBool::new(false),
        panic_exit: AtomicBool::new(false),
        init_ids: Mutex::new(Vec::new()),
    }
}; TAGS];

impl Board {
    pub fn inits(&self) -> usize {
        self.inits.load(SeqCst)
    }
    pub fn exits(&self) -> usize {
        self.exits.load(SeqCst)
    }
    pub fn tasks(&self) -> usize {
        self.tasks.load(SeqCst)
    }
}

/// What a task does.
#[derive(Clone)]
pub enum Cmd {
    /// Returns `2 * v`.
    Val(u64),
    /// Returns `Err`.
    Fail,
    /// Panics.
    Panic,
    /// Waits at the barrier, then returns `Err`.
    FailAfter(Arc<Barrier>),
    /// Waits at the barrier, then returns `2 * v`.
    ValAfter(u64, Arc<Barrier>),
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Val(v) => write!(f, "Val({v})"),
            Cmd::Fail => f.write_str("Fail"),
            Cmd::Panic => f.write_str("Panic"),
            Cmd::FailAfter(_) => f.write_str("FailAfter"),
            Cmd::ValAfter(v, _) => write!(f, "ValAfter({v})"),
        }
    }
}

#[derive(Debug)]
pub struct Oops;
impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("oops")
    }
}
impl std::error::Error for Oops {}

/// What the exit hook reports about a life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifeReport {
    pub worker_id: usize,
    pub tasks: usize,
    pub sum: u64,
}

/// The recording state. Holds an `Rc`, so it is not `Send`: the pool must
/// keep it on its worker's thread.
pub struct Probe<const TAG: usize> {
    pub worker_id: usize,
    pub tasks: usize,
    pub sum: Rc<Cell<u64>>,
}

impl<const TAG: usize> Probe<TAG> {
    pub fn board() -> &'static Board {
        &BOARDS[TAG]
    }
}

impl<const TAG: usize> WorkerState for Probe<TAG> {
    type Shared = ();

    fn start_life(ctx: &WorkerContext) -> Result<Self, BoxError> {
        let board = Self::board();
        if board.panic_init.load(SeqCst) {
            panic!("init panicked");
        }
        if board.fail_init.load(SeqCst) {
            return Err(Box::new(Oops));
        }
        assert!(ctx.worker_id() < ctx.n_workers());
        board.inits.fetch_add(1, SeqCst);
        board.init_ids.lock().unwrap().push(ctx.worker_id());
        Ok(Probe {
            worker_id: ctx.worker_id(),
            tasks: 0,
            sum: Rc::new(Cell::new(0)),
        })
    }

    fn end_life(self, ctx: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
        Ok(Some(ExitValue::new(<Self as WorkerExit>::exit(self, ctx)?)))
    }
}

impl<const TAG: usize> Task for Probe<TAG> {
    type Input<'a> = Cmd;
    type InputKind = OwnedInput;
    type Output = u64;

    fn run(&mut self, cmd: Cmd, _: &WorkerContext) -> Result<u64, BoxError> {
        Self::board().tasks.fetch_add(1, SeqCst);
        self.tasks += 1;
        match cmd {
            Cmd::Val(v) => {
                self.sum.set(self.sum.get() + v);
                Ok(2 * v)
            }
            Cmd::Fail => Err(Box::new(Oops)),
            Cmd::Panic => {
                Self::board().panics.fetch_add(1, SeqCst);
                panic!("task panicked")
            }
            Cmd::FailAfter(barrier) => {
                barrier.wait();
                Err(Box::new(Oops))
            }
            Cmd::ValAfter(v, barrier) => {
                barrier.wait();
                self.sum.set(self.sum.get() + v);
                Ok(2 * v)
            }
        }
    }
}

impl<const TAG: usize> WorkerExit for Probe<TAG> {
    type Output = LifeReport;

    fn exit(self, ctx: &WorkerContext) -> Result<LifeReport, BoxError> {
        let board = Self::board();
        if board.panic_exit.load(SeqCst) {
            panic!("exit panicked");
        }
        board.exits.fetch_add(1, SeqCst);
        if board.fail_exit.load(SeqCst) {
            return Err(Box::new(Oops));
        }
        Ok(LifeReport {
            worker_id: ctx.worker_id(),
            tasks: self.tasks,
            sum: self.sum.get(),
        })
    }
}

/// `Cmd::Val` for each value.
pub fn vals(range: impl IntoIterator<Item = u64>) -> Vec<Cmd> {
    range.into_iter().map(Cmd::Val).collect()
}

/// Doubles each value: what `map` over `vals(range)` returns.
pub fn doubled(range: impl IntoIterator<Item = u64>) -> Vec<u64> {
    range.into_iter().map(|v| 2 * v).collect()
}

/// The shared object of a [`Tagged`] pool: its tag, and counters of that
/// pool's lives alone, so that two pools of one state can be told apart.
#[derive(Default)]
pub struct Tag {
    pub tag: u64,
    pub inits: AtomicUsize,
    pub exits: AtomicUsize,
    pub panics: AtomicUsize,
}

impl Tag {
    pub fn new(tag: u64) -> Self {
        Tag {
            tag,
            ..Tag::default()
        }
    }

    /// Every life of the pool ended once: by its exit hook or by a panic.
    pub fn lives_balance(&self) -> bool {
        self.inits.load(SeqCst) == self.exits.load(SeqCst) + self.panics.load(SeqCst)
    }
}

/// A state built by the attributes, with a shared object: its init copies
/// the pool's tag, and its task checks it against the context's.
#[statepool::worker_state(shared = Tag)]
pub struct Tagged {
    tag: u64,
    tasks: usize,
}

#[statepool::worker_init]
fn tagged_init(ctx: &WorkerContext<Tag>) -> Tagged {
    ctx.shared().inits.fetch_add(1, SeqCst);
    Tagged {
        tag: ctx.shared().tag,
        tasks: 0,
    }
}

/// What a tagged task returns: `2 * v`, the pool's tag, the worker's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaggedOut {
    pub value: u64,
    pub tag: u64,
    pub worker_id: usize,
}

/// Runs `cmd` as `Probe` does, reporting the tag and the worker.
#[statepool::task]
fn tagged_run(state: &mut Tagged, cmd: Cmd, ctx: &WorkerContext<Tag>) -> Result<TaggedOut, Oops> {
    assert_eq!(state.tag, ctx.shared().tag, "a state of another pool");
    state.tasks += 1;
    let value = match cmd {
        Cmd::Val(v) => 2 * v,
        Cmd::Fail => return Err(Oops),
        Cmd::Panic => {
            ctx.shared().panics.fetch_add(1, SeqCst);
            panic!("task panicked")
        }
        Cmd::FailAfter(barrier) => {
            barrier.wait();
            return Err(Oops);
        }
        Cmd::ValAfter(v, barrier) => {
            barrier.wait();
            2 * v
        }
    };
    Ok(TaggedOut {
        value,
        tag: state.tag,
        worker_id: ctx.worker_id(),
    })
}

/// Reports the life's tag and task count.
#[statepool::worker_exit]
fn tagged_exit(state: Tagged, ctx: &WorkerContext<Tag>) -> (u64, usize) {
    ctx.shared().exits.fetch_add(1, SeqCst);
    (state.tag, state.tasks)
}
