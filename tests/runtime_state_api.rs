//! The state API: shared objects (`#[worker_state(shared = T)]`,
//! `with_shared`), the `WorkerContext` in hooks and tasks, and task inputs
//! that borrow from the caller in every blocking call kind.
//!
//! No statics: each test counts through its pool's shared object or through
//! counters it owns, so the tests may run in parallel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};

use statepool::prelude::*;
use statepool::PanicSite;

/// The item whose task panics, in the pools of `Loaded`.
const PANIC: u64 = 1_000;

/// A pool's model: its path, and the lives its workers started and ended.
struct Model {
    path: String,
    inits: AtomicUsize,
    exits: AtomicUsize,
    /// Where every task waits for `meet - 1` others.
    meet: Barrier,
}

impl Model {
    fn new(path: &str, meet: usize) -> Model {
        let (inits, exits) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let (path, meet) = (path.into(), Barrier::new(meet));
        Model {
            path,
            inits,
            exits,
            meet,
        }
    }

    fn lives(&self) -> (usize, usize) {
        (self.inits.load(SeqCst), self.exits.load(SeqCst))
    }
}

/// A worker's copy of its pool's model, for one life.
#[worker_state(shared = Model, pool = Models)]
struct Loaded {
    path: String,
    /// The serial of this life among its pool's.
    life: usize,
    worker: usize,
}

#[worker_init]
fn load(ctx: &WorkerContext<Model>) -> Loaded {
    Loaded {
        path: ctx.shared().path.clone(),
        life: ctx.shared().inits.fetch_add(1, SeqCst),
        worker: ctx.worker_id(),
    }
}

/// What a task saw.
struct Seen {
    path: String,
    life: usize,
    worker: usize,
    n_workers: usize,
    shared: Arc<Model>,
}

#[task]
fn infer(state: &mut Loaded, x: u64, ctx: &WorkerContext<Model>) -> Seen {
    assert!(x != PANIC, "{} panicked", state.path);
    assert_eq!(state.worker, ctx.worker_id(), "a worker keeps its id");
    ctx.shared().meet.wait();
    Seen {
        path: state.path.clone(),
        life: state.life,
        worker: ctx.worker_id(),
        n_workers: ctx.n_workers(),
        shared: Arc::clone(ctx.shared_arc()),
    }
}

/// Takes the state by value: the pool's path, and the life's serial.
#[worker_exit]
fn unload(state: Loaded, ctx: &WorkerContext<Model>) -> (String, usize) {
    ctx.shared().exits.fetch_add(1, SeqCst);
    (ctx.shared().path.clone(), state.life)
}

/// Every output came from `model`'s pool, and no life ran more than
/// `lifespan` of them.
fn check(out: &[Seen], model: &Arc<Model>, lifespan: usize) {
    let mut per_life = HashMap::new();
    for seen in out {
        assert_eq!(seen.path, model.path);
        assert!(Arc::ptr_eq(&seen.shared, model), "{}", model.path);
        assert!(seen.life < model.inits.load(SeqCst));
        *per_life.entry(seen.life).or_insert(0) += 1;
    }
    assert!(per_life.values().all(|&n| n <= lifespan), "{per_life:?}");
}

fn panicked<T>(got: Result<T, PoolError>, index: usize, message: &str) {
    match got {
        Err(PoolError::Panic {
            index: Some(i),
            site: PanicSite::Task,
            message: m,
            ..
        }) => assert_eq!((i, m.as_str()), (index, message)),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("no panic"),
    }
}

/// Two pools of one state type, each with a model of its own, never mix:
/// through lifespan restarts, task panics (and the re-init after them) and
/// calls with and without keep_alive, every task sees its pool's model, and
/// every life is counted by its pool's model alone.
#[test]
fn two_pools_of_one_state_keep_their_own_shared_objects() {
    let a = Arc::new(Model::new("a.bin", 1));
    let b = Arc::new(Model::new("b.bin", 1));
    // One worker kept alive, whose lives are exact; three that end with
    // each call.
    let mut pa = Models::with_shared(1, Arc::clone(&a))
        .keep_alive()
        .worker_lifespan(3);
    let mut pb = Models::with_shared(3, Arc::clone(&b)).worker_lifespan(3);

    check(&pa.map(0..50).unwrap(), &a, 3);
    // Lives of 3 tasks: 16 ended, the 17th ran 2 and goes on.
    assert_eq!((a.lives(), b.lives()), ((17, 16), (0, 0)));

    check(&pb.map(0..50).unwrap(), &b, 3);
    let (inits, exits) = b.lives();
    assert!(inits >= 17, "50 tasks in lives of 3: {inits}");
    assert_eq!(inits, exits, "every life ended with the call");
    assert_eq!(a.lives(), (17, 16));

    // Item 0 ends the 17th life, item 1 starts the 18th, which panics at
    // item 2: it ends without exit, and the 19th starts at once.
    panicked(pa.map([0, 1, PANIC, 3]), 2, "a.bin panicked");
    assert_eq!(a.lives(), (19, 17));
    assert_eq!(b.lives(), (inits, exits));

    let items = (0..30).map(|x| if x == 20 { PANIC } else { x });
    panicked(pb.map(items), 20, "b.bin panicked");
    let (inits, exits) = b.lives();
    assert_eq!(inits, exits + 1, "the panicked life alone had no exit");
    assert_eq!(a.lives(), (19, 17));

    // `pa` goes on in the life the panic started; `pb` starts fresh ones.
    let seen = pa.apply(7).unwrap();
    assert_eq!((seen.path.as_str(), seen.life), ("a.bin", 18));
    let out = pb.map_unordered(0..10).unwrap();
    check(&out, &b, 3);
    assert!(out.iter().all(|seen| seen.life >= inits));
    assert_eq!(a.lives(), (19, 17));

    pa.join().unwrap();
    assert_eq!(a.lives(), (19, 18));
    let (paths, lives): (Vec<String>, Vec<usize>) = pa.exit_results().into_iter().unzip();
    assert!(paths.iter().all(|path| path == "a.bin"));
    // Every life but the one that panicked ran its exit.
    assert_eq!(sorted(lives), (0..17).chain([18]).collect::<Vec<_>>());
    let ended = pb.exit_results();
    assert_eq!(ended.len(), b.lives().1);
    assert!(ended.iter().all(|(path, _)| path == "b.bin"));
}

/// Tasks see their worker through the context, in `map` and `imap`: an id
/// below `n_workers()`, which is the pool's size, and the very `Arc` given
/// to `with_shared`. As many tasks as workers meeting at a barrier run one
/// per worker, so every id shows up; a shared object given by value is one
/// `Arc` too.
#[test]
fn tasks_see_their_worker_and_the_pools_shared_arc() {
    // `0`: one worker per core.
    for asked in [1, 2, 4, 0] {
        let model = Arc::new(Model::new("ids", 1));
        let mut pool = Models::with_shared(asked, Arc::clone(&model)).chunk_size(1);
        let n = pool.n_workers();
        assert!(n == asked || asked == 0);
        let mapped = pool.map(0..40).unwrap();
        for seen in mapped
            .into_iter()
            .chain(pool.imap(0..20).map(Result::unwrap))
        {
            assert!(seen.worker < n && (n > 1 || seen.worker == 0));
            assert_eq!(seen.n_workers, n);
            assert!(Arc::ptr_eq(&seen.shared, &model));
        }

        let mut pool = Models::with_shared(n, Model::new("met", n)).chunk_size(1);
        let ids = pool
            .map(0..n as u64)
            .unwrap()
            .iter()
            .map(|s| s.worker)
            .collect();
        assert_eq!(sorted(ids), (0..n).collect::<Vec<_>>());
    }
    let mut pool = Models::with_shared(3, Model::new("owned.bin", 1));
    let out = pool.map(0..30).unwrap();
    assert!(out.iter().all(|s| Arc::ptr_eq(&s.shared, &out[0].shared)));
    assert!(out.iter().all(|s| s.path == "owned.bin"));
    assert_eq!(out[0].shared.lives(), (3, 3));
}

/// `with_shared` over an `Arc` shares the caller's (a `Model`, which holds
/// atomics and so cannot be cloned): every live worker's context holds a
/// count of it, and join and drop give every count back.
#[test]
fn with_shared_an_arc_shares_it_without_copying() {
    let model = Arc::new(Model::new("arc.bin", 1));
    let mut pool = Models::with_shared(4, Arc::clone(&model)).keep_alive();
    assert_eq!(Arc::strong_count(&model), 2, "the pool's, no worker yet");
    for _ in 0..2 {
        // The outputs' counts go with them, at the end of the statement.
        check(&pool.map(0..100).unwrap(), &model, usize::MAX);
        assert_eq!(Arc::strong_count(&model), 2 + 4, "one per worker");
    }
    pool.join().unwrap();
    assert_eq!(Arc::strong_count(&model), 2);
    assert_eq!(pool.apply(0).unwrap().path, "arc.bin");
    assert_eq!(Arc::strong_count(&model), 2 + 4);
    drop(pool);
    let model = Arc::try_unwrap(model).ok().expect("the only count left");
    assert_eq!(model.lives(), (8, 8), "two crews of four");
}

/// A word that items borrow; counts its drops.
struct Word {
    text: String,
    drops: Arc<AtomicUsize>,
}

impl Drop for Word {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Settle,
    Refuse,
    Panic,
}

/// The ids of one call's tickets dropped, and of its receipts made and
/// dropped.
#[derive(Default)]
struct Log {
    tickets: Mutex<Vec<usize>>,
    made: Mutex<Vec<usize>>,
    receipts: Mutex<Vec<usize>>,
}

impl Log {
    fn ids(ids: &Mutex<Vec<usize>>) -> Vec<usize> {
        sorted(ids.lock().unwrap().clone())
    }

    /// Tickets `0..len` logged here, which settle but for the one at `at`.
    fn tickets(self: &Arc<Self>, len: usize, at: usize, act: Act) -> Vec<Ticket> {
        let ticket = |id| Ticket {
            id,
            act: if id == at { act } else { Act::Settle },
            log: Arc::clone(self),
        };
        (0..len).map(ticket).collect()
    }

    /// Every ticket of `0..len` was dropped once, and so was every receipt
    /// made; returns how many were.
    fn check(&self, len: usize, cell: &str) -> usize {
        let all: Vec<usize> = (0..len).collect();
        assert_eq!(Log::ids(&self.tickets), all, "{cell}: tickets dropped");
        let made = Log::ids(&self.made);
        assert_eq!(Log::ids(&self.receipts), made, "{cell}: receipts dropped");
        made.len()
    }
}

/// An owned item: says what its task does, and logs its drop.
struct Ticket {
    id: usize,
    act: Act,
    log: Arc<Log>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.log.tickets.lock().unwrap().push(self.id);
    }
}

/// A settled ticket, which logs its drop. Of the layout of the items, so
/// that a vector of them lends its buffer to the outputs of `map`.
struct Receipt {
    id: usize,
    text: Box<str>,
    log: Arc<Log>,
}

const _: () = assert!(size_of::<Receipt>() == size_of::<(Ticket, &Word)>());
const _: () = assert!(align_of::<Receipt>() == align_of::<(Ticket, &Word)>());

impl Drop for Receipt {
    fn drop(&mut self) {
        self.log.receipts.lock().unwrap().push(self.id);
    }
}

/// `n` words, `"w0"` to `"w{n-1}"`, counting their drops in `drops`.
fn words(n: usize, drops: &Arc<AtomicUsize>) -> Vec<Word> {
    let word = |i| Word {
        text: format!("w{i}"),
        drops: Arc::clone(drops),
    };
    (0..n).map(word).collect()
}

fn refused(what: String) -> std::io::Error {
    std::io::Error::other(format!("{what} refused"))
}

/// The ticket's receipt for the word, or its failure.
fn settle_ticket(ticket: Ticket, word: &Word) -> std::io::Result<Receipt> {
    match ticket.act {
        Act::Settle => {
            ticket.log.made.lock().unwrap().push(ticket.id);
            let (id, log) = (ticket.id, Arc::clone(&ticket.log));
            Ok(Receipt {
                id,
                text: word.text.as_str().into(),
                log,
            })
        }
        Act::Refuse => Err(refused(format!("ticket {}", ticket.id))),
        Act::Panic => panic!("ticket {} panicked", ticket.id),
    }
}

#[worker_state]
#[derive(Default)]
struct Ledger;

#[task]
fn settle(_: &mut Ledger, ticket: Ticket, word: &Word) -> std::io::Result<Receipt> {
    settle_ticket(ticket, word)
}

/// Runs `items` (one, for `apply*`) in the call named `kind`; results
/// in input order for the unordered calls too.
fn run<'w, I>(pool: &mut LedgerPool, kind: &str, items: I) -> Result<Vec<Receipt>, PoolError>
where
    I: IntoIterator<Item = (Ticket, &'w Word), IntoIter: Send>,
{
    let infallible = |_: &mut Ledger, (t, w): (Ticket, &Word)| settle_ticket(t, w).unwrap();
    let fallible = |_: &mut Ledger, (t, w): (Ticket, &Word)| settle_ticket(t, w);
    let mut items = items.into_iter();
    let mut one = || {
        let item = items.next().unwrap();
        assert!(items.next().is_none(), "one item");
        item
    };
    let out = match kind {
        "map" => pool.map(items),
        "map_unordered" => pool.map_unordered(items),
        "apply" => pool.apply(one()).map(|o| vec![o]),
        "map_with" => pool.map_with(infallible, items),
        "map_unordered_with" => pool.map_unordered_with(infallible, items),
        "apply_with" => pool.apply_with(infallible, one()).map(|o| vec![o]),
        "try_map_with" => pool.try_map_with(fallible, items),
        "try_map_unordered_with" => pool.try_map_unordered_with(fallible, items),
        "try_apply_with" => pool.try_apply_with(fallible, one()).map(|o| vec![o]),
        _ => unreachable!("{kind}"),
    };
    let mut out = out?;
    if kind.contains("unordered") {
        out.sort_by_key(|receipt| receipt.id);
    }
    Ok(out)
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Every blocking call kind runs over `(Ticket, &Word)` items, owned tickets
/// zipped with words borrowed from the test's `Vec`, pulled from the zip or
/// collected into a vector (whose buffer `map` lends to its outputs): for
/// 1, 2 and 4 workers and chunks of 1 and 7, whether the call succeeds, a
/// task returns `Err` at some index or one panics there, the call's outcome
/// is that item's, every ticket is dropped exactly once by the time it
/// returns, every receipt made is dropped exactly once (by the call where
/// it fails, else with the results), and no word is dropped before the test
/// drops its `Vec`.
#[test]
fn every_blocking_call_drops_each_owned_part_of_a_borrowing_item_once() {
    const N: usize = 20;
    let word_drops = Arc::new(AtomicUsize::new(0));
    let words = words(N, &word_drops);
    let kinds = [
        ["map", "map_unordered", "apply"],
        ["map_with", "map_unordered_with", "apply_with"],
        ["try_map_with", "try_map_unordered_with", "try_apply_with"],
    ];
    let acts = [Act::Settle, Act::Refuse, Act::Panic];
    let cases = kinds.into_iter().flatten().flat_map(|kind| {
        acts.into_iter()
            .flat_map(move |act| [(kind, act, false), (kind, act, true)])
    });
    let cases: Vec<_> = cases.collect();
    for (n, chunk) in [1, 2, 4].into_iter().flat_map(|n| [(n, 1), (n, 7)]) {
        let pool = LedgerPool::new(n).chunk_size(chunk);
        let mut pool = if chunk == 7 { pool.keep_alive() } else { pool };
        for &(kind, act, vec) in &cases {
            // The infallible closures have no `Err` to return.
            if act == Act::Refuse && kind.ends_with("_with") && !kind.starts_with("try") {
                continue;
            }
            let single = kind.starts_with("apply") || kind == "try_apply_with";
            let len = if single { 1 } else { N };
            let at = len * 2 / 3;
            let cell = format!("{n} workers, chunk {chunk}, {kind}, {act:?}, vec {vec}");
            let log = Arc::new(Log::default());
            let items = log.tickets(len, at, act).into_iter().zip(&words);
            // A vector's items are moved out where they lie, others pulled.
            let got = if vec {
                run(&mut pool, kind, items.collect::<Vec<_>>())
            } else {
                run(&mut pool, kind, items)
            };
            match (act, got) {
                (Act::Settle, Ok(out)) => {
                    let ids: Vec<_> = out.iter().map(|r| (r.id, &*r.text)).collect();
                    let want: Vec<_> = (0..len).map(|i| (i, &*words[i].text)).collect();
                    assert_eq!(ids, want, "{cell}");
                    assert!(Log::ids(&log.receipts).is_empty(), "{cell}");
                }
                (Act::Refuse, Err(PoolError::Task { index, source, .. })) => {
                    assert_eq!(index, at, "{cell}");
                    assert_eq!(source.to_string(), format!("ticket {at} refused"));
                }
                (Act::Panic, got) => panicked(got, at, &format!("ticket {at} panicked")),
                (_, other) => panic!("{cell}: {:?}", other.map(|out| out.len())),
            }
            let made = log.check(len, &cell);
            assert!(made < len || act == Act::Settle, "{cell}");
            assert_eq!(word_drops.load(SeqCst), 0, "{cell}");
        }
    }
    drop(words);
    assert_eq!(word_drops.load(SeqCst), N);
}

#[worker_state]
#[derive(Default)]
struct Lines;

/// A line's length; `"bad"` is refused and `"boom"` panics.
#[task]
fn count(_: &mut Lines, line: &str, ctx: &WorkerContext) -> std::io::Result<usize> {
    assert!(ctx.worker_id() < ctx.n_workers());
    match line {
        "bad" => Err(refused(line.into())),
        "boom" => panic!("boom"),
        _ => Ok(line.len()),
    }
}

/// The word's text, borrowed from the caller's words as the word is.
fn text<'w>(_: &mut Lines, word: &'w Word) -> &'w str {
    &word.text
}

/// A `#[task]` over `&str` runs on lines borrowed from a `Vec<String>` in
/// `map`, `map_unordered` and `apply`, and so do closures over `&str` and
/// `&Word` (from `&Vec<Word>`, their outputs borrowing too) in the closure
/// forms; an `Err` or a panic midway is that line's failure, and the pool
/// goes on.
#[test]
fn tasks_and_closures_over_str_borrow_the_callers_lines() {
    let lines: Vec<String> = (0..30).map(|i| "x".repeat(i)).collect();
    let strs = || lines.iter().map(String::as_str);
    let want: Vec<usize> = (0..30).collect();
    let words = words(30, &Arc::default());
    let (mut bad, mut boom) = (lines.clone(), lines.clone());
    (bad[17], boom[17]) = ("bad".into(), "boom".into());
    let len = |_: &mut Lines, line: &str| line.len();
    for (n, chunk) in [1, 2, 4].into_iter().flat_map(|n| [(n, 1), (n, 7)]) {
        let mut pool = LinesPool::new(n).chunk_size(chunk).keep_alive();
        assert_eq!(pool.map(strs()).unwrap(), want);
        assert_eq!(sorted(pool.map_unordered(strs()).unwrap()), want);
        assert_eq!(pool.apply(&lines[3]).unwrap(), 3);
        assert_eq!(pool.map_with(len, strs()).unwrap(), want);
        assert_eq!(sorted(pool.map_unordered_with(len, strs()).unwrap()), want);
        assert_eq!(pool.apply_with(len, lines[4].as_str()).unwrap(), 4);
        let texts: Vec<&str> = pool.map_with(text, &words).unwrap();
        let same = |(t, w): (&&str, &Word)| std::ptr::eq(*t, w.text.as_str());
        assert!(texts.iter().zip(&words).all(same));

        let got = pool.map(bad.iter().map(String::as_str));
        assert!(matches!(got, Err(PoolError::Task { index: 17, .. })));
        panicked(
            pool.map_unordered(boom.iter().map(String::as_str)),
            17,
            "boom",
        );
        panicked(pool.apply("boom"), 0, "boom");
        assert_eq!(pool.map(strs()).unwrap(), want);
    }
}

/// The limits of a pool of gates: how many workers may open, and its name.
struct Limits {
    open: AtomicUsize,
    name: String,
}

#[worker_state(shared = Limits, pool = Gates)]
#[derive(Default)]
struct Gate {
    worker: usize,
}

/// Fills in `Gate::default()`, refusing the workers at or past the limit
/// in the shared object.
#[worker_init]
fn open(gate: &mut Gate, ctx: &WorkerContext<Limits>) -> std::io::Result<()> {
    let (limits, worker) = (ctx.shared(), ctx.worker_id());
    if worker >= limits.open.load(SeqCst) {
        let refusal = format!("{} is closed to worker {worker}", limits.name);
        return Err(std::io::Error::other(refusal));
    }
    gate.worker = worker;
    Ok(())
}

#[task]
fn pass(_: &mut Gate, x: u32) -> u32 {
    x
}

#[worker_exit]
fn close(gate: &mut Gate, ctx: &WorkerContext<Limits>) -> String {
    format!("{}#{}", ctx.shared().name, gate.worker)
}

/// Init and exit hooks read the pool's shared object: an init that fails
/// on it is the call's `PoolError::Init` for the worker it refused (and
/// the call drops each of its items once), the same pool succeeds once the
/// shared object lets every worker open, and the exit results carry what
/// the exits derived from it.
#[test]
fn init_and_exit_hooks_read_the_shared_object() {
    let limits = Arc::new(Limits {
        open: AtomicUsize::new(2),
        name: "gate".into(),
    });
    let mut pool = Gates::with_shared(3, Arc::clone(&limits));
    match pool.map(0..10) {
        Err(PoolError::Init { worker_id, source }) => {
            assert_eq!(worker_id, 2);
            assert_eq!(source.to_string(), "gate is closed to worker 2");
        }
        other => panic!("{other:?}"),
    }
    // The two workers that opened ended with the call.
    assert_eq!(sorted(pool.exit_results()), ["gate#0", "gate#1"]);

    // Such a call drops each of its items once, borrowing or not, and each
    // output of the items that ran.
    let words = words(40, &Arc::default());
    let settle = |_: &mut Gate, (t, w): (Ticket, &Word)| settle_ticket(t, w);
    for vec in [false, true] {
        let log = Arc::new(Log::default());
        let items = log.tickets(40, 0, Act::Settle).into_iter().zip(&words);
        let got = if vec {
            pool.try_map_with(settle, items.collect::<Vec<_>>())
        } else {
            pool.try_map_with(settle, items)
        };
        assert!(matches!(got, Err(PoolError::Init { worker_id: 2, .. })));
        log.check(40, &format!("init failure, vec {vec}"));
        assert_eq!(sorted(pool.exit_results()), ["gate#0", "gate#1"]);
    }
    limits.open.store(3, SeqCst);
    assert_eq!(pool.map(0..10).unwrap(), (0..10).collect::<Vec<_>>());
    assert_eq!(sorted(pool.exit_results()), ["gate#0", "gate#1", "gate#2"]);
}

#[worker_state]
#[derive(Default)]
struct Reader {
    read: usize,
}

/// Reads a word the caller owns, through a shared reference.
#[task]
fn read_word(state: &mut Reader, word: &Word) -> usize {
    state.read += 1;
    word.text.len()
}

/// `pool.map(&words)`: the items are `&Word`, borrowed from the caller's
/// vector, in `map`, `map_unordered` and `apply`; no word is dropped by the
/// pool, and the vector is usable again after each call.
#[test]
fn a_task_over_references_maps_over_a_borrowed_vector() {
    let drops = Arc::new(AtomicUsize::new(0));
    let words: Vec<Word> = (0..50)
        .map(|i| Word {
            text: "w".repeat(i),
            drops: Arc::clone(&drops),
        })
        .collect();
    for workers in [1, 3] {
        let mut pool = ReaderPool::new(workers).chunk_size(4);
        assert_eq!(pool.map(&words).unwrap(), (0..50).collect::<Vec<_>>());
        let mut lens = pool.map_unordered(words.iter()).unwrap();
        lens.sort_unstable();
        assert_eq!(lens, (0..50).collect::<Vec<_>>());
        assert_eq!(pool.apply(&words[7]).unwrap(), 7);
    }
    assert_eq!(drops.load(SeqCst), 0, "the pool dropped a borrowed word");
    drop(words);
    assert_eq!(drops.load(SeqCst), 50);
}
