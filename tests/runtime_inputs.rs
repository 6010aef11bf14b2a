//! Inputs that arrive over time: no item waits for a later one, and dropping
//! an `imap` never waits on its input.
//!
//! Every test is synchronised by channels and counters. Each runs under
//! [`hang_guard`], which fails it (instead of hanging the suite) if it has
//! not finished after a minute: a deadlock, not a slow run.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use statepool::prelude::*;

/// Runs `test` on a thread of its own and fails if it does not end within a
/// minute: what the tests below guard against is a deadlock.
fn hang_guard(name: &str, test: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => runner.join().unwrap(),
        // The test panicked: its panic is the failure.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(runner.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: deadlocked"),
    }
}

#[worker_state]
#[derive(Default)]
struct Echo;

#[task]
fn echo(_: &mut Echo, x: u32) -> u32 {
    x
}

/// A producer that sends the next request only once the previous one was
/// answered (`0..n`), and the channels to answer it on.
fn lockstep(n: u32) -> (Receiver<u32>, Sender<u32>, std::thread::JoinHandle<()>) {
    let (to_pool, input) = mpsc::channel::<u32>();
    let (to_producer, replies) = mpsc::channel::<u32>();
    let producer = std::thread::spawn(move || {
        for v in 0..n {
            to_pool.send(v).unwrap();
            assert_eq!(replies.recv().unwrap(), v, "answers come in order");
        }
    });
    (input, to_producer, producer)
}

/// Pools of 1, 2 and 4 workers, with default chunking and fixed chunks.
fn pools() -> Vec<(String, EchoPool)> {
    let mut pools = Vec::new();
    for workers in [1, 2, 4] {
        for chunk in [None, Some(1), Some(100)] {
            let pool = EchoPool::new(workers);
            let pool = match chunk {
                Some(c) => pool.chunk_size(c),
                None => pool,
            };
            pools.push((format!("{workers} workers, chunk {chunk:?}"), pool));
        }
    }
    pools
}

#[test]
fn map_with_answers_a_producer_that_waits_for_each_answer() {
    hang_guard("map_with lockstep", || {
        for (name, mut pool) in pools() {
            let (input, answers, producer) = lockstep(25);
            let answers = Mutex::new(answers);
            let out = pool
                .map_with(
                    |_: &mut Echo, v: u32| {
                        answers.lock().unwrap().send(v).unwrap();
                        v
                    },
                    input,
                )
                .unwrap();
            producer.join().unwrap();
            assert_eq!(out, (0..25).collect::<Vec<_>>(), "{name}");
        }
    });
}

/// The task answers the producer, through a channel the state reaches.
mod answering {
    use super::*;

    pub(crate) static ANSWERS: Mutex<Option<Sender<u32>>> = Mutex::new(None);

    #[worker_state]
    #[derive(Default)]
    pub(crate) struct Answer;

    #[task]
    fn answer(_: &mut Answer, v: u32) -> u32 {
        ANSWERS.lock().unwrap().as_ref().unwrap().send(v).unwrap();
        v
    }
}

#[test]
fn every_call_kind_answers_a_producer_that_waits_for_each_answer() {
    use answering::{AnswerPool, ANSWERS};
    hang_guard("task lockstep", || {
        for workers in [1, 2, 4] {
            for chunk in [None, Some(1), Some(64)] {
                let name = format!("{workers} workers, chunk {chunk:?}");
                let pool = AnswerPool::new(workers).keep_alive();
                let mut pool = match chunk {
                    Some(c) => pool.chunk_size(c),
                    None => pool,
                };
                for kind in ["map", "map_unordered", "imap", "imap_unordered"] {
                    let (input, answers, producer) = lockstep(20);
                    *ANSWERS.lock().unwrap() = Some(answers);
                    let mut out: Vec<u32> = match kind {
                        "map" => pool.map(input).unwrap(),
                        "map_unordered" => pool.map_unordered(input).unwrap(),
                        "imap" => pool.imap(input).map(Result::unwrap).collect(),
                        _ => pool.imap_unordered(input).map(Result::unwrap).collect(),
                    };
                    producer.join().unwrap();
                    out.sort_unstable();
                    assert_eq!(out, (0..20).collect::<Vec<_>>(), "{kind}, {name}");
                }
                // `apply` over items that arrive one by one.
                let (to_pool, input) = mpsc::channel::<u32>();
                let (answers, replies) = mpsc::channel();
                *ANSWERS.lock().unwrap() = Some(answers);
                for v in 0..3 {
                    to_pool.send(v).unwrap();
                    assert_eq!(pool.apply(input.recv().unwrap()).unwrap(), v);
                    assert_eq!(replies.recv().unwrap(), v);
                }
            }
        }
    });
}

#[test]
fn imap_answers_through_the_consumer_item_by_item() {
    hang_guard("imap consumer lockstep", || {
        for (name, mut pool) in pools() {
            // The consumer answers each result: the producer sends the next
            // item only once the consumer saw the previous result.
            let (input, answers, producer) = lockstep(25);
            for (i, r) in pool.imap(input).enumerate() {
                assert_eq!(r.unwrap(), i as u32, "{name}");
                answers.send(i as u32).unwrap();
            }
            producer.join().unwrap();
            let (input, answers, producer) = lockstep(25);
            let mut seen = Vec::new();
            for r in pool.imap_unordered(input) {
                let v = r.unwrap();
                seen.push(v);
                answers.send(v).unwrap();
            }
            producer.join().unwrap();
            assert_eq!(seen, (0..25).collect::<Vec<_>>(), "{name}");
        }
    });
}

#[test]
fn imap_yields_an_item_while_its_channel_stays_open() {
    hang_guard("imap with an open channel", || {
        for (name, mut pool) in pools() {
            let (tx, rx) = mpsc::channel::<u32>();
            tx.send(7).unwrap();
            let mut stream = pool.imap(rx);
            assert_eq!(stream.next().unwrap().unwrap(), 7, "{name}");
            tx.send(8).unwrap();
            assert_eq!(stream.next().unwrap().unwrap(), 8, "{name}");
            drop(tx);
            assert!(stream.next().is_none(), "{name}");
        }
    });
}

/// Counts the tasks it runs.
mod counting {
    use super::*;

    pub(crate) static RAN: AtomicUsize = AtomicUsize::new(0);

    /// Held by each test of this file that runs `Counted` tasks, so that
    /// `RAN` counts one test's tasks at a time.
    pub(crate) static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[worker_state]
    #[derive(Default)]
    pub(crate) struct Counted;

    #[task]
    fn count(_: &mut Counted, x: u64) -> u64 {
        RAN.fetch_add(1, SeqCst);
        x
    }
}

/// An item that records its drop.
struct Noted(u64, Sender<u64>);

impl Drop for Noted {
    fn drop(&mut self) {
        let _ = self.1.send(self.0);
    }
}

#[test]
fn dropping_an_imap_whose_input_blocks_returns_and_the_pool_goes_on() {
    use counting::{serial, CountedPool, RAN};
    let _serial = serial();
    hang_guard("imap drop with a blocked input", || {
        for workers in [1, 4] {
            for ordered in [true, false] {
                let (tx, rx) = mpsc::channel::<u64>();
                for i in 0..100 {
                    tx.send(i).unwrap();
                }
                let mut pool = CountedPool::new(workers).keep_alive();
                let stream = if ordered {
                    pool.imap(rx)
                } else {
                    pool.imap_unordered(rx)
                };
                for r in stream {
                    if r.unwrap() == 40 {
                        break; // the drop returns while `tx` lives
                    }
                }
                // Usable at once, the blocked pull still in progress.
                assert_eq!(pool.map(0..10u64).unwrap(), (0..10).collect::<Vec<_>>());
                let before = RAN.load(SeqCst);
                // A pull blocked on the channel returns an item now; it is
                // dropped unrun. (Where the feeder had not reached the end of
                // the channel by the drop, it stopped at the halt and let go
                // of the receiver already: the send fails, and nothing runs
                // either.)
                let _ = tx.send(1000);
                drop(tx);
                assert_eq!(pool.apply(5).unwrap(), 5);
                assert_eq!(RAN.load(SeqCst), before + 1);
            }
        }
    });
}

#[test]
fn an_item_pulled_after_the_drop_is_dropped_without_running() {
    hang_guard("late item dropped", || {
        let (dropped, drops) = mpsc::channel::<u64>();
        let (tx, rx) = mpsc::channel::<Noted>();
        let (pulled, on_pull) = mpsc::channel::<()>();
        let input = rx.into_iter().inspect(move |_| {
            let _ = pulled.send(());
        });
        let mut pool = NotedStatePool::new(2);
        {
            let mut stream = pool.imap(input);
            tx.send(Noted(1, dropped.clone())).unwrap();
            assert_eq!(stream.next().unwrap().unwrap(), 1);
            on_pull.recv().unwrap();
        }
        // The feeder is blocked on `rx`; the item it gets now is dropped.
        tx.send(Noted(2, dropped)).unwrap();
        on_pull.recv().unwrap();
        drop(tx);
        // Each item dropped once (the first after its task, the second
        // unrun), then no sender is left.
        let mut seen: Vec<u64> = drops.iter().collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
        assert_eq!(*NOTED_RAN.lock().unwrap(), [1], "only the first item ran");
    });
}

#[worker_state]
#[derive(Default)]
struct NotedState;

/// The items whose task ran.
static NOTED_RAN: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[task]
fn noted(_: &mut NotedState, item: Noted) -> u64 {
    NOTED_RAN.lock().unwrap().push(item.0);
    item.0
}

/// Worker 1's init fails, but only once the consumer has every result.
mod late_init {
    use super::*;

    pub(crate) static GATE: Mutex<Option<Receiver<()>>> = Mutex::new(None);

    #[worker_state]
    pub(crate) struct Model;

    #[worker_init]
    fn load(ctx: &WorkerContext) -> std::io::Result<Model> {
        if ctx.worker_id() == 1 {
            let gate = GATE.lock().unwrap().take().unwrap();
            gate.recv().unwrap();
            return Err(std::io::Error::other("GPU 1 unavailable"));
        }
        Ok(Model)
    }

    #[task]
    fn predict(_: &mut Model, x: u64) -> u64 {
        x
    }

    /// Arms the gate of worker 1's init; it fails once the sender sends.
    pub(crate) fn arm() -> Sender<()> {
        let (open, gate) = mpsc::channel();
        *GATE.lock().unwrap() = Some(gate);
        open
    }
}

#[test]
fn an_init_failure_after_the_last_result_reaches_every_call() {
    use late_init::{arm, ModelPool};
    hang_guard("late init failure", || {
        for ordered in [true, false] {
            for fed in [false, true] {
                let cell = format!("ordered {ordered}, fed {fed}");
                let open = arm();
                let mut pool = ModelPool::new(2);
                let mut stream = match (ordered, fed) {
                    (true, false) => pool.imap(0..100u64),
                    (false, false) => pool.imap_unordered(0..100u64),
                    (true, true) => pool.imap((0..200u64).filter(|x| x % 2 == 0)),
                    (false, true) => pool.imap_unordered((0..200u64).filter(|x| x % 2 == 0)),
                };
                // Worker 0 runs every item while worker 1 is in its init.
                let mut got: Vec<u64> = stream.by_ref().take(100).map(Result::unwrap).collect();
                open.send(()).unwrap();
                let last = stream.next();
                assert!(
                    matches!(last, Some(Err(PoolError::Init { worker_id: 1, .. }))),
                    "{cell}: {last:?}"
                );
                assert!(stream.next().is_none(), "{cell}");
                got.sort_unstable();
                let want: Vec<u64> = (0..100).map(|x| if fed { 2 * x } else { x }).collect();
                assert_eq!(got, want, "{cell}");
            }
        }
        let open = arm();
        open.send(()).unwrap();
        let err = ModelPool::new(2).map(0..100u64).unwrap_err();
        assert!(matches!(err, PoolError::Init { worker_id: 1, .. }));
    });
}

/// Two tasks that meet at a barrier: each needs the other running at once.
mod meeting {
    use super::*;
    use std::sync::Barrier;

    /// The items that meet, and their barrier.
    pub(crate) static MEETING: Mutex<Option<(u64, Arc<Barrier>)>> = Mutex::new(None);

    #[worker_state]
    #[derive(Default)]
    pub(crate) struct Meet;

    #[task]
    fn meet(_: &mut Meet, x: u64) -> u64 {
        let meeting = MEETING.lock().unwrap().clone();
        if let Some((from, barrier)) = meeting {
            if x >= from {
                barrier.wait();
            }
        }
        x
    }
}

#[test]
fn tasks_that_wait_for_each_other_run_side_by_side() {
    use meeting::{MeetPool, MEETING};
    use std::sync::Barrier;
    hang_guard("tasks meeting at a barrier", || {
        for workers in [2, 3] {
            // Chunks of one item, as tasks that wait for each other need.
            let mut pool = MeetPool::new(workers).keep_alive().chunk_size(1);
            // Many fast items, then the last two meet.
            let n = 500u64;
            let items = move || (0..n).filter(move |x| *x < n);
            for kind in ["map", "map_unordered", "imap", "imap_unordered"] {
                *MEETING.lock().unwrap() = Some((n - 2, Arc::new(Barrier::new(2))));
                let mut out: Vec<u64> = match kind {
                    "map" => pool.map(items()).unwrap(),
                    "map_unordered" => pool.map_unordered(items()).unwrap(),
                    "imap" => pool.imap(items()).map(Result::unwrap).collect(),
                    _ => pool.imap_unordered(items()).map(Result::unwrap).collect(),
                };
                out.sort_unstable();
                assert_eq!(out, (0..n).collect::<Vec<_>>(), "{kind}, {workers} workers");
            }
        }
    });
}

/// An input over a channel that reports its drop.
struct Reported {
    /// Always `Some` until the drop, which lets go of it before it reports.
    items: Option<Receiver<u64>>,
    dropped: Sender<()>,
}

impl Iterator for Reported {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        self.items.as_ref()?.recv().ok()
    }
}

impl Drop for Reported {
    fn drop(&mut self) {
        // The receiver goes first: once the drop is reported, a send to the
        // input fails.
        drop(self.items.take());
        let _ = self.dropped.send(());
    }
}

#[test]
fn the_input_of_a_dropped_imap_is_released_after_its_blocked_pull() {
    use counting::{serial, CountedPool};
    let _serial = serial();
    hang_guard("input released after the drop", || {
        for workers in [1, 2, 8] {
            let mut pool = CountedPool::new(workers).keep_alive();
            let (tx, items) = mpsc::channel::<u64>();
            let (dropped, on_drop) = mpsc::channel();
            tx.send(0).unwrap();
            let items = Some(items);
            let mut stream = pool.imap(Reported { items, dropped });
            assert_eq!(stream.next().unwrap().unwrap(), 0);
            drop(stream);
            // Another stream while that pull is blocked: it gets a feeder
            // thread of its own.
            for _ in 0..2 {
                let again: Vec<u64> = pool
                    .imap((0..10u64).filter(|_| true))
                    .map(Result::unwrap)
                    .collect();
                assert_eq!(again, (0..10).collect::<Vec<_>>(), "{workers} workers");
            }
            // The pull blocked at the drop returns this item; the feeder
            // stops there and drops the input, though `tx` stays open.
            tx.send(1).unwrap();
            on_drop.recv().unwrap();
            assert!(tx.send(2).is_err(), "{workers} workers: the input is gone");
        }
    });
}
