//! Panics outside the task and the hooks (an item's or an output's `Drop`, a
//! state's `Drop` after its exit hook, a panic payload's `Drop`, the input
//! iterator) reach the caller as what they are: never as a hook's panic,
//! never in place of an earlier failure, never losing an item's position or
//! an exit hook's output, never ending a life they did not touch, never
//! aborting the process. Then a matrix: every failure the contract gives to
//! a call reaches that call's caller, in every call kind.
//!
//! The states here read their switches from statics, so the tests of this
//! file run one at a time (see [`serial`]). Every wait is on a gate or a
//! count that another thread opens or reaches: no sleeps.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Condvar, Mutex, MutexGuard};

use statepool::prelude::*;
use statepool::PanicSite;

/// Runs the tests of this file one at a time: their states share statics.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A count that threads can wait for.
struct Count {
    n: Mutex<usize>,
    changed: Condvar,
}

impl Count {
    const fn new() -> Self {
        Count {
            n: Mutex::new(0),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.n.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self) {
        *self.lock() += 1;
        self.changed.notify_all();
    }

    fn reset(&self) {
        *self.lock() = 0;
    }

    /// Blocks until the count is at least `target`.
    fn wait_for(&self, target: usize) {
        let mut n = self.lock();
        while *n < target {
            n = self.changed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A latch: closed until opened once; `wait` returns once it is open.
struct Gate(Count);

impl Gate {
    const fn new() -> Self {
        Gate(Count::new())
    }

    fn open(&self) {
        self.0.add();
    }

    fn wait(&self) {
        self.0.wait_for(1);
    }

    fn close(&self) {
        self.0.reset();
    }
}

/// The calls that take a stream of items and yield several results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Map,
    MapUnordered,
    Imap,
    ImapUnordered,
}

const CALLS: [Call; 4] = [
    Call::Map,
    Call::MapUnordered,
    Call::Imap,
    Call::ImapUnordered,
];

impl Call {
    fn streams(self) -> bool {
        matches!(self, Call::Imap | Call::ImapUnordered)
    }

    fn ordered(self) -> bool {
        matches!(self, Call::Map | Call::Imap)
    }
}

/// What a call gave: the outputs it yielded (a failed blocking call yields
/// none) and its failure. A stream must end right after its failure.
fn run<S, I>(pool: &mut Pool<S>, call: Call, items: I) -> (Vec<S::Output>, Option<PoolError>)
where
    S: statepool::StreamTask,
    I: IntoIterator<Item = S::Input<'static>>,
    I::IntoIter: Send + 'static,
{
    let blocking = match call {
        Call::Map => pool.map(items),
        Call::MapUnordered => pool.map_unordered(items),
        Call::Imap | Call::ImapUnordered => {
            let mut stream = if call == Call::Imap {
                pool.imap(items)
            } else {
                pool.imap_unordered(items)
            };
            let mut outputs = Vec::new();
            while let Some(got) = stream.next() {
                match got {
                    Ok(output) => outputs.push(output),
                    Err(err) => {
                        assert!(stream.next().is_none(), "{call:?} went on after {err}");
                        return (outputs, Some(err));
                    }
                }
            }
            return (outputs, None);
        }
    };
    match blocking {
        Ok(outputs) => (outputs, None),
        Err(err) => (Vec::new(), Some(err)),
    }
}

/// Every grid cell of a test: call kind, workers, keep_alive.
fn grid(workers: &[usize]) -> impl Iterator<Item = (Call, usize, bool)> + '_ {
    CALLS.into_iter().flat_map(move |call| {
        workers
            .iter()
            .flat_map(move |&n| [false, true].map(|keep| (call, n, keep)))
    })
}

fn new_pool<S: statepool::NoShared>(workers: usize, keep_alive: bool) -> Pool<S> {
    let pool = Pool::new(workers);
    if keep_alive {
        pool.keep_alive()
    } else {
        pool
    }
}

/// Lives started and ended (with their exit hook) by the state of a test.
struct Lives {
    inits: AtomicUsize,
    exits: AtomicUsize,
}

impl Lives {
    const fn new() -> Self {
        Lives {
            inits: AtomicUsize::new(0),
            exits: AtomicUsize::new(0),
        }
    }

    fn reset(&self) {
        self.inits.store(0, SeqCst);
        self.exits.store(0, SeqCst);
    }

    fn started(&self) {
        self.inits.fetch_add(1, SeqCst);
    }

    fn ended(&self) {
        self.exits.fetch_add(1, SeqCst);
    }

    /// (inits, exits)
    fn counts(&self) -> (usize, usize) {
        (self.inits.load(SeqCst), self.exits.load(SeqCst))
    }
}

/// Checks that a stream's outputs before its failure are what it may yield:
/// in input order, the first `k` values; out of order, distinct values of
/// the input.
fn check_prefix(call: Call, outputs: &[u64], cell: &str) {
    if call.ordered() {
        let expected: Vec<u64> = (0..outputs.len() as u64).collect();
        assert_eq!(outputs, expected, "{cell}");
    } else {
        let distinct: BTreeSet<u64> = outputs.iter().copied().collect();
        assert_eq!(distinct.len(), outputs.len(), "{cell}: {outputs:?}");
    }
}

fn panic_parts(err: &PoolError) -> (Option<usize>, PanicSite, &str) {
    match err {
        PoolError::Panic {
            index,
            site,
            message,
            ..
        } => (*index, *site, message),
        other => panic!("expected a panic, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// An item dropped after a task's error (the reproduction).

mod repro {
    use super::*;

    pub(super) static LIVES: Lives = Lives::new();

    #[worker_state]
    pub(super) struct Repro;

    #[worker_init]
    fn start() -> Repro {
        LIVES.started();
        Repro
    }

    #[worker_exit]
    fn end(_: &mut Repro) {
        LIVES.ended();
    }

    pub(super) struct Item {
        pub(super) v: u64,
    }

    impl Drop for Item {
        fn drop(&mut self) {
            if self.v == 8 {
                self.v = 0;
                panic!("item 8 drop boom")
            }
        }
    }

    #[task]
    fn t(_: &mut Repro, it: Item) -> Result<u64, std::io::Error> {
        if it.v == 7 {
            return Err(std::io::Error::other("task 7 failed"));
        }
        Ok(it.v)
    }
}

#[test]
fn an_item_dropped_after_a_task_error_does_not_hide_it() {
    let _serial = serial();
    for (call, workers, keep_alive) in grid(&[1, 3]) {
        let cell = format!("{call:?}, {workers} workers, keep_alive {keep_alive}");
        repro::LIVES.reset();
        let mut pool = new_pool::<repro::Repro>(workers, keep_alive).chunk_size(100);
        let items = (0..20).map(|v| repro::Item { v });
        let (outputs, err) = run(&mut pool, call, items);
        match err {
            Some(PoolError::Task {
                index: 7, source, ..
            }) => {
                assert_eq!(source.to_string(), "task 7 failed", "{cell}")
            }
            other => panic!("{cell}: expected the task error of item 7, got {other:?}"),
        }
        if call == Call::Imap {
            // One chunk of all 20 items: items 0 to 6 ran, and come first.
            assert_eq!(outputs, (0..7).collect::<Vec<_>>(), "{cell}");
        }
        pool.join().unwrap();
        // No life was abandoned: each ended with its exit hook.
        let (inits, exits) = repro::LIVES.counts();
        assert_eq!((inits, exits), (workers, workers), "{cell}");
    }
}

// ---------------------------------------------------------------------------
// An item dropped unrun whose `Drop` panics, earliest of the call's failures.

mod alone {
    use super::*;

    pub(super) static LIVES: Lives = Lives::new();
    /// Task 0 has started: every other task waits for it, so that no chunk
    /// ends (and sizes its worker's blocks) before the first one began.
    pub(super) static ZERO_STARTED: Gate = Gate::new();
    /// Item 3 was dropped: task 0 waits for it.
    pub(super) static THREE_DROPPED: Gate = Gate::new();

    #[worker_state]
    pub(super) struct Alone;

    #[worker_init]
    fn start() -> Alone {
        LIVES.started();
        Alone
    }

    #[worker_exit]
    fn end(_: &mut Alone) {
        LIVES.ended();
    }

    pub(super) struct Item(pub(super) u64);

    impl Drop for Item {
        fn drop(&mut self) {
            match self.0 {
                1 => panic!("item 1 drop boom"),
                3 => THREE_DROPPED.open(),
                _ => {}
            }
        }
    }

    #[task]
    fn t(_: &mut Alone, it: Item) -> Result<u64, std::io::Error> {
        match it.0 {
            0 => {
                ZERO_STARTED.open();
                THREE_DROPPED.wait();
            }
            2 => {
                ZERO_STARTED.wait();
                return Err(std::io::Error::other("task 2 failed"));
            }
            _ => ZERO_STARTED.wait(),
        }
        Ok(it.0)
    }
}

/// Chunks of two: `[0, 1]` runs on one worker, `[2, 3]` on another. Task 0
/// waits until task 2 failed and its worker dropped item 3; then the first
/// worker stops before item 1 and drops it: that panic is the earliest
/// failure in input order. With one worker items run in order, so an item
/// left unrun always comes after the failure: no cell for it.
#[test]
fn an_item_dropped_unrun_is_a_failure_at_its_position_and_its_worker_lives_on() {
    let _serial = serial();
    for (call, workers, keep_alive) in grid(&[2, 3]) {
        let cell = format!("{call:?}, {workers} workers, keep_alive {keep_alive}");
        alone::LIVES.reset();
        alone::ZERO_STARTED.close();
        alone::THREE_DROPPED.close();
        let mut pool = new_pool::<alone::Alone>(workers, keep_alive).chunk_size(2);
        let (outputs, err) = run(&mut pool, call, (0..6).map(alone::Item));
        let err = err.unwrap_or_else(|| panic!("{cell}: no failure"));
        let lost_lives = match call {
            Call::Map | Call::MapUnordered => {
                let (index, site, message) = panic_parts(&err);
                assert_eq!(
                    (index, site, message),
                    (Some(1), PanicSite::DropItem, "item 1 drop boom"),
                    "{cell}"
                );
                assert!(
                    err.to_string()
                        .starts_with("dropping item 1 panicked on worker"),
                    "{cell}: {err}"
                );
                0
            }
            // `imap` still runs the items before a failure: item 1 ran, and
            // its task dropped it.
            Call::Imap => {
                let (index, site, _) = panic_parts(&err);
                assert_eq!((index, site), (Some(1), PanicSite::Task), "{cell}");
                assert_eq!(outputs, [0], "{cell}");
                1
            }
            // Yields whichever failure it meets first: task 2's, or the
            // drop of item 1 if it came first; each as what it is.
            Call::ImapUnordered => {
                match &err {
                    PoolError::Task { index: 2, .. } => {}
                    PoolError::Panic {
                        index: Some(1),
                        site: PanicSite::DropItem,
                        ..
                    } => {}
                    other => panic!("{cell}: {other:?}"),
                }
                0
            }
        };
        pool.join().unwrap();
        let (inits, exits) = alone::LIVES.counts();
        assert_eq!(
            exits + lost_lives,
            inits,
            "{cell}: a life ended without exit"
        );
    }
}

// ---------------------------------------------------------------------------
// An output the call drops whose `Drop` panics.

mod outputs {
    use super::*;

    pub(super) static LIVES: Lives = Lives::new();
    /// The position whose task fails, and the one whose output panics when
    /// the pool drops it.
    pub(super) static FAIL_AT: AtomicUsize = AtomicUsize::new(usize::MAX);
    pub(super) static ARMED_AT: AtomicUsize = AtomicUsize::new(usize::MAX);
    /// Whether the failing task waits for the armed one to start (and the
    /// armed one for the failure's worker to drop the item after it).
    pub(super) static GATED: AtomicUsize = AtomicUsize::new(0);
    pub(super) static ARMED_STARTED: Gate = Gate::new();
    pub(super) static AFTER_FAILURE_DROPPED: Gate = Gate::new();
    pub(super) static ARMED_DROPPED: AtomicUsize = AtomicUsize::new(0);

    #[worker_state]
    pub(super) struct Outs;

    #[worker_init]
    fn start() -> Outs {
        LIVES.started();
        Outs
    }

    #[worker_exit]
    fn end(_: &mut Outs) {
        LIVES.ended();
    }

    pub(super) struct Item(pub(super) usize);

    impl Drop for Item {
        fn drop(&mut self) {
            if self.0 == FAIL_AT.load(SeqCst) + 1 {
                AFTER_FAILURE_DROPPED.open();
            }
        }
    }

    #[derive(Debug)]
    pub(super) struct Out {
        pub(super) v: usize,
        pub(super) armed: bool,
    }

    impl Drop for Out {
        fn drop(&mut self) {
            if std::mem::take(&mut self.armed) {
                ARMED_DROPPED.fetch_add(1, SeqCst);
                panic!("output {} drop boom", self.v);
            }
        }
    }

    #[task]
    fn t(_: &mut Outs, it: Item) -> Result<Out, std::io::Error> {
        let v = it.0;
        let gated = GATED.load(SeqCst) == 1;
        if v == FAIL_AT.load(SeqCst) {
            if gated {
                ARMED_STARTED.wait();
            }
            return Err(std::io::Error::other(format!("task {v} failed")));
        }
        let armed = v == ARMED_AT.load(SeqCst);
        if armed && gated {
            ARMED_STARTED.open();
            AFTER_FAILURE_DROPPED.wait();
        }
        Ok(Out { v, armed })
    }
}

/// An output the call drops because a task failed: with one worker, the
/// output of item 3 before the failure of item 7 (blocking calls only: a
/// stream yields every output before its failure). With three, the output of
/// item 8, which starts before item 6 fails and ends after the failure is
/// recorded, so that no stream yields it.
#[test]
fn an_output_dropped_by_a_failed_call_does_not_hide_its_failure() {
    use outputs::*;
    let _serial = serial();
    let cells = grid(&[1, 3]).filter(|&(call, n, _)| n == 3 || !call.streams());
    for (call, workers, keep_alive) in cells {
        let cell = format!("{call:?}, {workers} workers, keep_alive {keep_alive}");
        LIVES.reset();
        ARMED_STARTED.close();
        AFTER_FAILURE_DROPPED.close();
        ARMED_DROPPED.store(0, SeqCst);
        let (fail_at, armed_at) = if workers == 1 { (7, 3) } else { (6, 8) };
        FAIL_AT.store(fail_at, SeqCst);
        ARMED_AT.store(armed_at, SeqCst);
        GATED.store(usize::from(workers > 1), SeqCst);
        let mut pool = new_pool::<Outs>(workers, keep_alive).chunk_size(2);
        let (outputs, err) = run(&mut pool, call, (0..10).map(Item));
        match err {
            Some(PoolError::Task { index, .. }) => assert_eq!(index, fail_at, "{cell}"),
            other => panic!("{cell}: expected the task error, got {other:?}"),
        }
        assert!(outputs.iter().all(|out| out.v < fail_at), "{cell}");
        assert_eq!(
            ARMED_DROPPED.load(SeqCst),
            1,
            "{cell}: the output was not dropped"
        );
        pool.join().unwrap();
        let (inits, exits) = LIVES.counts();
        assert_eq!((inits, exits), (workers, workers), "{cell}");
    }
}

// ---------------------------------------------------------------------------
// A state whose `Drop` panics after its exit hook returned.

mod keeper {
    use super::*;

    /// The worker whose state panics as it drops, if any.
    pub(super) static ARMED_WORKER: AtomicUsize = AtomicUsize::new(usize::MAX);

    #[worker_state]
    pub(super) struct Keeper {
        worker: usize,
        sum: u64,
    }

    #[worker_init]
    fn start(ctx: &WorkerContext) -> Keeper {
        Keeper {
            worker: ctx.worker_id(),
            sum: 0,
        }
    }

    #[task]
    fn add(keeper: &mut Keeper, x: u64) -> u64 {
        keeper.sum += x;
        x
    }

    #[worker_exit]
    fn report(keeper: &mut Keeper) -> (usize, u64) {
        (keeper.worker, keeper.sum)
    }

    impl Drop for Keeper {
        fn drop(&mut self) {
            if self.worker == ARMED_WORKER.load(SeqCst) {
                panic!("state of worker {} drop boom", self.worker);
            }
        }
    }

    /// No exit hook: the pool drops the state as the life ends.
    #[worker_state]
    #[derive(Default)]
    pub(super) struct Plain;

    #[task]
    fn echo(_: &mut Plain, x: u64) -> u64 {
        x
    }

    impl Drop for Plain {
        fn drop(&mut self) {
            if ARMED_WORKER.load(SeqCst) == 0 {
                panic!("plain state drop boom");
            }
        }
    }
}

fn is_state_drop_of_worker_0(err: &PoolError) -> bool {
    matches!(
        err,
        PoolError::Panic {
            index: None,
            worker_id: 0,
            site: PanicSite::DropState,
            ..
        }
    )
}

#[test]
fn a_state_drop_panic_after_its_exit_keeps_the_exit_value() {
    use keeper::*;
    let _serial = serial();
    ARMED_WORKER.store(0, SeqCst);
    for (call, workers, keep_alive) in grid(&[1, 3]) {
        let cell = format!("{call:?}, {workers} workers, keep_alive {keep_alive}");
        let mut pool = new_pool::<Keeper>(workers, keep_alive);
        let (outputs, err) = run(&mut pool, call, 0..100u64);
        let err = if keep_alive {
            assert_eq!((outputs.len(), err.is_none()), (100, true), "{cell}");
            pool.join().unwrap_err()
        } else {
            // The exits run as the call ends: a stream yields every output,
            // then the failure.
            if call.streams() {
                assert_eq!(outputs.len(), 100, "{cell}");
            }
            err.unwrap_or_else(|| panic!("{cell}: no failure"))
        };
        assert!(is_state_drop_of_worker_0(&err), "{cell}: {err:?}");
        assert_eq!(
            err.to_string(),
            "dropping the state of worker 0 panicked: state of worker 0 drop boom",
            "{cell}"
        );
        let mut lives = pool.exit_results();
        lives.sort_unstable();
        let ids: Vec<usize> = lives.iter().map(|&(id, _)| id).collect();
        assert_eq!(ids, (0..workers).collect::<Vec<_>>(), "{cell}");
        assert_eq!(
            lives.iter().map(|&(_, sum)| sum).sum::<u64>(),
            4950,
            "{cell}"
        );
    }
    // Without an exit hook, the pool drops the state itself as well.
    let mut pool = Pool::<Plain>::new(1);
    let err = pool.map(0..10u64).unwrap_err();
    assert!(is_state_drop_of_worker_0(&err), "{err:?}");
    ARMED_WORKER.store(usize::MAX, SeqCst);
}

// ---------------------------------------------------------------------------
// A panic payload whose `Drop` panics.

mod bombs {
    use super::*;

    pub(super) static DROPPED: AtomicUsize = AtomicUsize::new(0);
    pub(super) static IN_INIT: AtomicUsize = AtomicUsize::new(0);

    /// A panic payload whose drop panics with another bomb.
    pub(super) struct Bomb;

    impl Drop for Bomb {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, SeqCst);
            std::panic::panic_any(Bomb);
        }
    }

    #[worker_state]
    pub(super) struct Bombed;

    #[worker_init]
    fn start() -> Bombed {
        if IN_INIT.load(SeqCst) == 1 {
            std::panic::panic_any(Bomb);
        }
        Bombed
    }

    #[task]
    fn t(_: &mut Bombed, x: u64) -> u64 {
        if x == 5 {
            std::panic::panic_any(Bomb);
        }
        x
    }
}

#[test]
fn a_panic_payload_whose_drop_panics_does_not_abort() {
    use bombs::*;
    let _serial = serial();
    for (call, workers, keep_alive) in grid(&[1, 3]) {
        let cell = format!("{call:?}, {workers} workers, keep_alive {keep_alive}");
        DROPPED.store(0, SeqCst);
        let mut pool = new_pool::<Bombed>(workers, keep_alive);
        let (outputs, err) = run(&mut pool, call, 0..20u64);
        let err = err.unwrap_or_else(|| panic!("{cell}: no failure"));
        let (index, site, message) = panic_parts(&err);
        assert_eq!(
            (index, site, message),
            (Some(5), PanicSite::Task, "<non-string panic payload>"),
            "{cell}"
        );
        check_prefix(call, &outputs, &cell);
        // The error keeps the payload; dropping it drops the payload and
        // the bomb its drop threw, and forgets the third, without unwinding.
        assert_eq!(DROPPED.load(SeqCst), 0, "{cell}");
        drop(err);
        assert_eq!(DROPPED.load(SeqCst), 2, "{cell}");
        // The pool works on.
        let (outputs, err) = run(&mut pool, call, 6..10u64);
        assert!(err.is_none() && outputs.len() == 4, "{cell}: {err:?}");
    }
    IN_INIT.store(1, SeqCst);
    let err = Pool::<Bombed>::new(2).map(6..10u64).unwrap_err();
    IN_INIT.store(0, SeqCst);
    assert!(matches!(
        err,
        PoolError::Panic {
            index: None,
            site: PanicSite::Init,
            ..
        }
    ));
}

// ---------------------------------------------------------------------------
// The input iterator panics.

mod input {
    use super::*;

    #[worker_state]
    #[derive(Default)]
    pub(super) struct Echo;

    #[task]
    fn echo(_: &mut Echo, x: u64) -> u64 {
        x
    }

    /// Yields from its count to 20; its `size_hint` panics from 5 on.
    pub(super) struct BadHint(pub(super) u64);

    impl Iterator for BadHint {
        type Item = u64;

        fn next(&mut self) -> Option<u64> {
            (self.0 < 20).then(|| {
                self.0 += 1;
                self.0 - 1
            })
        }

        fn size_hint(&self) -> (usize, Option<usize>) {
            assert!(self.0 < 5, "size_hint boom");
            (0, None)
        }
    }
}

#[test]
fn a_panicking_input_is_an_input_failure_at_its_position() {
    use input::*;
    let _serial = serial();
    for (call, workers, keep_alive) in grid(&[1, 3]) {
        let cell = format!("{call:?}, {workers} workers, keep_alive {keep_alive}");
        let mut pool = new_pool::<Echo>(workers, keep_alive);
        let items = (0..20u64).map(|v| if v == 5 { panic!("input 5 boom") } else { v });
        let (outputs, err) = run(&mut pool, call, items);
        let err = err.unwrap_or_else(|| panic!("{cell}: no failure"));
        assert!(
            matches!(&err, PoolError::Input { index: Some(5), message, .. } if message == "input 5 boom"),
            "{cell}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the input panicked at item 5: input 5 boom",
            "{cell}"
        );
        check_prefix(call, &outputs, &cell);
        if call == Call::Imap {
            // The items pulled before the panic still run.
            assert_eq!(outputs, (0..5).collect::<Vec<_>>(), "{cell}");
        }
        // `size_hint` is asked once, before the first pull.
        let (outputs, err) = run(&mut pool, call, BadHint(5));
        let err = err.unwrap_or_else(|| panic!("{cell}: no failure"));
        assert!(
            matches!(&err, PoolError::Input { index: None, message, .. } if message == "size_hint boom"),
            "{cell}: {err:?}"
        );
        assert!(outputs.is_empty(), "{cell}");
    }
}

// ---------------------------------------------------------------------------
// The matrix: every failure the contract gives to a call (an init that
// returns `Err` or panics, a re-init after a task's panic or at a lifespan
// restart that fails, an exit at the end of a call without keep_alive that
// fails or panics) reaches that call's caller, in every call kind, whichever
// of two workers fails, keep_alive on and off, its hook failing at once
// ("fast") or only once the other worker has finished every item it can
// ("slow": after every result the call will have).

mod matrix {
    use super::*;

    /// The failure a cell arms.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Failure {
        InitErr,
        InitPanic,
        ReinitAfterPanic,
        ReinitAtLifespan,
        ExitErr,
        ExitPanic,
    }

    const FAILURES: [Failure; 6] = [
        Failure::InitErr,
        Failure::InitPanic,
        Failure::ReinitAfterPanic,
        Failure::ReinitAtLifespan,
        Failure::ExitErr,
        Failure::ExitPanic,
    ];

    impl Failure {
        fn at_exit(self) -> bool {
            matches!(self, Failure::ExitErr | Failure::ExitPanic)
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Kind {
        Map,
        MapUnordered,
        MapWith,
        Imap,
        ImapUnordered,
        Apply,
    }

    impl Kind {
        fn streams(self) -> bool {
            matches!(self, Kind::Imap | Kind::ImapUnordered)
        }
    }

    /// The worker whose hook fails: one by id, or whichever runs the item.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Who {
        Worker(usize),
        Any,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Cell {
        kind: Kind,
        failure: Failure,
        who: Who,
        keep_alive: bool,
        slow: bool,
        /// An endless input (streams only): a stream then cannot end before
        /// a failure shows, however late it comes.
        endless: bool,
    }

    /// Items of a call (`apply`: one).
    const N: usize = 8;
    const WORKERS: usize = 2;

    /// The cell being run; `None` between cells, so that nothing fails.
    static ARMED: Mutex<Option<Cell>> = Mutex::new(None);
    /// Inits of each worker in this cell.
    static INITS_OF: [AtomicUsize; WORKERS] = [const { AtomicUsize::new(0) }; WORKERS];
    /// Tasks that returned.
    static DONE: Count = Count::new();
    /// How many tasks a slow hook waits for.
    static SLOW_UNTIL: AtomicUsize = AtomicUsize::new(0);
    /// The failing worker's first task started / its re-init started: the
    /// other worker's first init waits for it, so that the failing worker
    /// is the one that runs (and holds) items.
    static FAILER_TASK_STARTED: Gate = Gate::new();
    static FAILER_REINIT_STARTED: Gate = Gate::new();
    /// The warm-up of `apply` at a lifespan restart: a barrier of two tasks.
    static ARRIVED: Count = Count::new();

    fn armed() -> Option<Cell> {
        *ARMED.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn arm(cell: Option<Cell>) {
        *ARMED.lock().unwrap_or_else(|e| e.into_inner()) = cell;
    }

    #[derive(Debug)]
    pub(super) struct Oops;

    impl std::fmt::Display for Oops {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("oops")
        }
    }

    impl std::error::Error for Oops {}

    impl Cell {
        fn fails_on(&self, worker: usize) -> bool {
            match self.who {
                Who::Worker(w) => w == worker,
                Who::Any => true,
            }
        }

        /// Blocks a slow hook until the other worker has done its part.
        fn delay(&self) {
            if self.slow {
                DONE.wait_for(SLOW_UNTIL.load(SeqCst));
            }
        }
    }

    #[worker_state(pool = MemberPool)]
    pub(super) struct Member {
        worker: usize,
        tasks: usize,
    }

    #[worker_init]
    fn start(ctx: &WorkerContext) -> Result<Member, Oops> {
        let worker = ctx.worker_id();
        let nth = INITS_OF[worker].fetch_add(1, SeqCst) + 1;
        if let Some(cell) = armed() {
            if cell.fails_on(worker) {
                if nth == 2 && cell.failure == Failure::ReinitAtLifespan {
                    FAILER_REINIT_STARTED.open();
                }
                let fails = match cell.failure {
                    Failure::InitErr | Failure::InitPanic => nth == 1,
                    Failure::ReinitAfterPanic | Failure::ReinitAtLifespan => nth == 2,
                    Failure::ExitErr | Failure::ExitPanic => false,
                };
                if fails {
                    cell.delay();
                    if cell.failure == Failure::InitPanic {
                        panic!("init of worker {worker} panicked");
                    }
                    return Err(Oops);
                }
            } else if nth == 1 {
                match cell.failure {
                    Failure::ReinitAfterPanic => FAILER_TASK_STARTED.wait(),
                    Failure::ReinitAtLifespan => FAILER_REINIT_STARTED.wait(),
                    _ => {}
                }
            }
        }
        Ok(Member { worker, tasks: 0 })
    }

    #[task]
    pub(super) fn work(member: &mut Member, x: u64) -> u64 {
        member.tasks += 1;
        if let Some(cell) = armed() {
            let first_task_of_first_life =
                INITS_OF[member.worker].load(SeqCst) == 1 && member.tasks == 1;
            if cell.failure == Failure::ReinitAfterPanic
                && cell.fails_on(member.worker)
                && first_task_of_first_life
            {
                FAILER_TASK_STARTED.open();
                panic!("task {x} panicked");
            }
        }
        DONE.add();
        2 * x
    }

    #[worker_exit]
    fn end(member: &mut Member) -> Result<usize, Oops> {
        if let Some(cell) = armed() {
            if cell.failure.at_exit() && cell.fails_on(member.worker) {
                cell.delay();
                if cell.failure == Failure::ExitPanic {
                    panic!("exit of worker {} panicked", member.worker);
                }
                return Err(Oops);
            }
        }
        Ok(member.tasks)
    }

    /// Whether `err` is the failure `cell` armed.
    fn is_expected(cell: &Cell, err: &PoolError) -> bool {
        let on = |worker: usize| worker < WORKERS && cell.fails_on(worker);
        match (cell.failure, err) {
            (
                Failure::InitErr | Failure::ReinitAfterPanic | Failure::ReinitAtLifespan,
                PoolError::Init { worker_id, source },
            ) => on(*worker_id) && source.is::<Oops>(),
            (
                Failure::InitPanic,
                PoolError::Panic {
                    index: None,
                    worker_id,
                    site: PanicSite::Init,
                    message,
                    ..
                },
            ) => on(*worker_id) && *message == format!("init of worker {worker_id} panicked"),
            (Failure::ExitErr, PoolError::Exit { worker_id, source }) => {
                on(*worker_id) && source.is::<Oops>()
            }
            (
                Failure::ExitPanic,
                PoolError::Panic {
                    index: None,
                    worker_id,
                    site: PanicSite::Exit,
                    message,
                    ..
                },
            ) => on(*worker_id) && *message == format!("exit of worker {worker_id} panicked"),
            _ => false,
        }
    }

    /// Runs `kind` over `0..n` (an endless input where `endless`): the
    /// outputs before its failure, and the failure.
    fn call(
        pool: &mut MemberPool,
        kind: Kind,
        n: usize,
        endless: bool,
    ) -> (Vec<u64>, Option<PoolError>) {
        let items = 0..n as u64;
        let blocking = match kind {
            Kind::Map => pool.map(items),
            Kind::MapUnordered => pool.map_unordered(items),
            Kind::MapWith => pool.map_with(|m: &mut Member, x: u64| work(m, x), items),
            Kind::Apply => pool.apply(0).map(|out| vec![out]),
            Kind::Imap | Kind::ImapUnordered => {
                let mut stream = match (kind, endless) {
                    (Kind::Imap, false) => pool.imap(items),
                    (Kind::Imap, true) => pool.imap(0u64..),
                    (_, false) => pool.imap_unordered(items),
                    (_, true) => pool.imap_unordered(0u64..),
                };
                let mut outputs = Vec::new();
                while let Some(got) = stream.next() {
                    match got {
                        Ok(out) => outputs.push(out),
                        Err(err) => {
                            assert!(stream.next().is_none(), "{kind:?} went on after {err}");
                            return (outputs, Some(err));
                        }
                    }
                    // A failure that never came: an endless input would not end.
                    assert!(
                        outputs.len() <= 1 << 20,
                        "{kind:?}: no failure after 2^20 items"
                    );
                }
                return (outputs, None);
            }
        };
        match blocking {
            Ok(outputs) => (outputs, None),
            Err(err) => (Vec::new(), Some(err)),
        }
    }

    /// The cells of `kind`. Exit failures only without keep_alive (with it,
    /// exits run at `join`). `apply` runs one item: its lifespan restart
    /// needs a pool kept alive, warmed up by a call in which each worker ran
    /// one task, and fails on whichever worker takes the item.
    pub(super) fn cells(kind: Kind) -> Vec<Cell> {
        let mut cells = Vec::new();
        for failure in FAILURES {
            for keep_alive in [false, true] {
                let apply_restart = kind == Kind::Apply && failure == Failure::ReinitAtLifespan;
                let applies = if failure.at_exit() {
                    !keep_alive
                } else {
                    keep_alive || !apply_restart
                };
                if !applies {
                    continue;
                }
                let whos: &[Who] = if apply_restart {
                    &[Who::Any]
                } else {
                    &[Who::Worker(0), Who::Worker(1)]
                };
                for &who in whos {
                    for slow in [false, true] {
                        // An init that fails at once, with no item held, may
                        // still come after the other worker finished a short
                        // input: streams run it over an endless input too.
                        let first_init = matches!(failure, Failure::InitErr | Failure::InitPanic);
                        let endless: &[bool] = if kind.streams() && first_init && !slow {
                            &[false, true]
                        } else {
                            &[false]
                        };
                        for &endless in endless {
                            cells.push(Cell {
                                kind,
                                failure,
                                who,
                                keep_alive,
                                slow,
                                endless,
                            });
                        }
                    }
                }
            }
        }
        cells
    }

    /// The cells that fail today: a streaming call loses a failure recorded
    /// after its consumer saw the last result of a finite input, which a
    /// worker that holds no item and fails its first init can do: always
    /// when it fails slowly, now and then when its thread starts late. The
    /// other failures come from a worker that holds an item the stream
    /// waits for, or at the call's end (exits).
    pub(super) fn lost_by_imap_today(cell: &Cell) -> bool {
        cell.kind.streams()
            && matches!(cell.failure, Failure::InitErr | Failure::InitPanic)
            && !cell.endless
    }

    pub(super) fn check(cell: Cell) {
        for inits in &INITS_OF {
            inits.store(0, SeqCst);
        }
        DONE.reset();
        ARRIVED.reset();
        FAILER_TASK_STARTED.close();
        FAILER_REINIT_STARTED.close();
        let n = if cell.kind == Kind::Apply { 1 } else { N };
        // What the other worker does before a slow hook fails: every item,
        // but the one the failing worker's panicking task took, or the one
        // it holds as its life restarts (after a first task that counts).
        let mut slow_until = match cell.failure {
            Failure::ReinitAfterPanic | Failure::ReinitAtLifespan => n - 1,
            _ => n,
        };
        let mut pool = MemberPool::new(WORKERS).chunk_size(1);
        if cell.keep_alive {
            pool = pool.keep_alive();
        }
        if cell.failure == Failure::ReinitAtLifespan {
            pool = pool.worker_lifespan(1);
            if cell.kind == Kind::Apply {
                // Each worker runs one task (each waits for the other's),
                // which ends its life.
                let warm_up = |_: &mut Member, x: u64| {
                    ARRIVED.add();
                    ARRIVED.wait_for(WORKERS);
                    x
                };
                pool.map_with(warm_up, 0..WORKERS as u64).unwrap();
                slow_until = 0;
            }
        }
        SLOW_UNTIL.store(slow_until, SeqCst);
        arm(Some(cell));
        let (outputs, err) = call(&mut pool, cell.kind, n, cell.endless);
        arm(None);
        match &err {
            Some(err) => assert!(is_expected(&cell, err), "{cell:?}: got {err:?}"),
            None => panic!("{cell:?}: no failure, {} outputs", outputs.len()),
        }
        if cell.kind.streams() {
            if cell.kind == Kind::Imap {
                let first: Vec<u64> = (0..outputs.len() as u64).map(|x| 2 * x).collect();
                assert_eq!(outputs, first, "{cell:?}");
            } else {
                let distinct: BTreeSet<u64> = outputs.iter().copied().collect();
                assert_eq!(distinct.len(), outputs.len(), "{cell:?}");
            }
        } else {
            assert!(outputs.is_empty(), "{cell:?}");
        }
        // The pool works on.
        let (outputs, err) = call(&mut pool, cell.kind, n, false);
        assert!(err.is_none(), "{cell:?}: after the failure: {err:?}");
        assert_eq!(outputs.len(), n, "{cell:?}: after the failure");
    }

    pub(super) fn run_cells(kind: Kind, lost_today: bool) {
        let _serial = serial();
        let cells = cells(kind);
        assert!(cells.len() >= 30, "{kind:?}: {} cells", cells.len());
        for cell in cells {
            if lost_by_imap_today(&cell) == lost_today {
                check(cell);
            }
        }
    }
}

#[test]
fn every_call_failure_reaches_map() {
    matrix::run_cells(matrix::Kind::Map, false);
}

#[test]
fn every_call_failure_reaches_map_unordered() {
    matrix::run_cells(matrix::Kind::MapUnordered, false);
}

#[test]
fn every_call_failure_reaches_map_with() {
    matrix::run_cells(matrix::Kind::MapWith, false);
}

#[test]
fn every_call_failure_reaches_apply() {
    matrix::run_cells(matrix::Kind::Apply, false);
}

#[test]
fn every_call_failure_reaches_imap() {
    matrix::run_cells(matrix::Kind::Imap, false);
}

#[test]
fn every_call_failure_reaches_imap_unordered() {
    matrix::run_cells(matrix::Kind::ImapUnordered, false);
}

/// A worker that holds no item and fails its first init after every item
/// was yielded: the stream yields the failure after the last result.
#[test]
fn late_init_failures_reach_imap() {
    matrix::run_cells(matrix::Kind::Imap, true);
}

#[test]
fn late_init_failures_reach_imap_unordered() {
    matrix::run_cells(matrix::Kind::ImapUnordered, true);
}

// ---------------------------------------------------------------------------
// The payload of a panic, kept for the caller.

mod payloads {
    use super::*;

    /// A payload that is no string.
    #[derive(Debug, PartialEq)]
    pub(super) struct Code(pub(super) u64);

    #[worker_state]
    #[derive(Default)]
    pub(super) struct Coded;

    #[task]
    fn t(_: &mut Coded, x: u64) -> u64 {
        if x == 7 {
            std::panic::panic_any(Code(x));
        }
        x
    }
}

#[test]
fn a_panic_payload_comes_back_whole_and_can_be_resumed() {
    use payloads::*;
    let _serial = serial();
    for (call, workers, keep_alive) in grid(&[1, 3]) {
        let cell = format!("{call:?}, {workers} workers, keep_alive {keep_alive}");
        let mut pool = new_pool::<Coded>(workers, keep_alive);
        let (_, err) = run(&mut pool, call, 0..20u64);
        let err = err.unwrap_or_else(|| panic!("{cell}: no failure"));
        let payload = err.into_panic();
        assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(7)), "{cell}");
        // Resumed, it is the same panic again.
        let resume = std::panic::AssertUnwindSafe(move || std::panic::resume_unwind(payload));
        let resumed = std::panic::catch_unwind(resume);
        let again = resumed.unwrap_err();
        assert_eq!(again.downcast_ref::<Code>(), Some(&Code(7)), "{cell}");
    }
    // A failure that is no panic has no payload.
    let err = Pool::<Coded>::new(1)
        .chunk_size(0)
        .map(0..1u64)
        .unwrap_err();
    assert!(err.try_into_panic().is_err());
}
