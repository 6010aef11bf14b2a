//! The cluster across real processes on 127.0.0.1: this test binary starts
//! copies of itself as the serving processes (the `serve` entry below),
//! with ports chosen free at run time, and kills every one it started when
//! a test ends. Process 0, the driver, is the test itself.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use statepool::cluster::{Cluster, ClusterPool, ClusterState};
use statepool::prelude::*;
use statepool::{BoxError, ExitSerializer, ExitValue, OwnedInput, Task, WorkerExit, WorkerState};

/// Set in a serving process: its role, as `STATE process threads hostfile`.
const SERVE: &str = "STATEPOOL_CLUSTER_SERVE";
/// Set in a serving process of the liveness tests: where its blocking
/// task reports that it runs.
const SIGNAL: &str = "STATEPOOL_CLUSTER_SIGNAL";

/// Lives started in this process.
static LIVES: AtomicU64 = AtomicU64::new(0);

/// Counts its tasks; fails, panics or blocks on planted items.
#[worker_state]
struct Probe {
    worker: usize,
    life: u64,
    tasks: u64,
    offset: u64,
}

#[worker_init]
fn start(ctx: &WorkerContext) -> Probe {
    Probe {
        worker: ctx.worker_id(),
        life: LIVES.fetch_add(1, Ordering::SeqCst),
        tasks: 0,
        offset: 0,
    }
}

/// Doubles `x`; item 1013 fails, 1700 panics, 5000 blocks forever once it
/// told the test it runs, and items from 6000 take 60 ms each.
#[task]
fn double(probe: &mut Probe, x: u64) -> Result<u64, std::io::Error> {
    probe.tasks += 1;
    match x {
        1013 => Err(std::io::Error::other("planted failure")),
        1700 => panic!("planted panic"),
        5000 => {
            if let Ok(address) = std::env::var(SIGNAL) {
                let _ = TcpStream::connect(address).and_then(|mut s| s.write_all(b"running"));
            }
            loop {
                std::thread::park();
            }
        }
        6000.. => {
            std::thread::sleep(Duration::from_millis(60));
            Ok(2 * x)
        }
        x => Ok(2 * x + probe.offset),
    }
}

/// Each life reports its worker, its number in its process, and its tasks.
#[worker_exit]
fn report(probe: Probe) -> (usize, u64, u64) {
    (probe.worker, probe.life, probe.tasks)
}

/// Adds the pool's shared offset to each item.
#[worker_state(shared = u64)]
struct Offset {
    by: u64,
}

#[worker_init]
fn start_offset(ctx: &WorkerContext<u64>) -> Offset {
    Offset { by: *ctx.shared() }
}

#[task]
fn add(offset: &mut Offset, x: u64) -> u64 {
    x + offset.by
}

#[worker_exit]
fn end_offset(offset: Offset, ctx: &WorkerContext<u64>) -> (usize, u64) {
    (ctx.worker_id(), offset.by)
}

/// A sentence: items and outputs need `serde`, not `Clone`.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Sentence(String);

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Counted {
    words: usize,
    longest: String,
    /// Sentences its worker's life saw before this one.
    before: usize,
}

/// No `#[worker_init]` (workers start from `Default`) and no
/// `#[worker_exit]`: the code of a single-machine pool, unchanged.
#[worker_state]
#[derive(Default)]
struct Words {
    seen: usize,
}

#[task]
fn count_words(words: &mut Words, sentence: Sentence) -> Counted {
    let before = words.seen;
    words.seen += 1;
    let longest = sentence
        .0
        .split_whitespace()
        .fold("", |a, b| if b.len() > a.len() { b } else { a });
    Counted {
        words: sentence.0.split_whitespace().count(),
        longest: longest.to_string(),
        before,
    }
}

/// Exit hooks run in this process.
static LOCAL_EXITS: AtomicU64 = AtomicU64::new(0);

/// An exit whose output cannot cross processes: the hook runs on every
/// life's end, and `exit_results` is not offered.
#[worker_state]
#[derive(Default)]
struct Clock {
    tasks: u64,
}

#[task]
fn tick(clock: &mut Clock, x: u64) -> u64 {
    clock.tasks += 1;
    x + 1
}

#[worker_exit]
fn stop_clock(clock: Clock) -> std::time::Instant {
    LOCAL_EXITS.fetch_add(clock.tasks.min(1), Ordering::SeqCst);
    std::time::Instant::now()
}

/// The serving processes' entry: a test that does nothing unless this
/// binary was started as one.
#[test]
fn serve() {
    let Ok(role) = std::env::var(SERVE) else {
        return;
    };
    let parts: Vec<&str> = role.split(' ').collect();
    let cluster = Cluster::new(
        parts[2].parse().unwrap(),
        parts[1].parse().unwrap(),
        std::fs::read_to_string(parts[3])
            .unwrap()
            .lines()
            .map(String::from)
            .collect(),
    )
    .connect_timeout(Duration::from_secs(20));
    let served = match parts[0] {
        "probe" => cluster.start::<Probe>().map(|pool| pool.is_none()),
        "words" => cluster.start::<Words>().map(|pool| pool.is_none()),
        "clock" => cluster.start::<Clock>().map(|pool| pool.is_none()),
        "offset" => cluster
            .start_with_shared::<Offset>(|| unreachable!("only the driver makes the shared object"))
            .map(|pool| pool.is_none()),
        // A driver that runs one call, says so, and waits to be killed.
        "drive" => {
            let mut pool = cluster.start::<Probe>().unwrap().unwrap().keep_alive();
            pool.map(0..10).unwrap();
            let address = std::env::var(SIGNAL).unwrap();
            TcpStream::connect(address)
                .unwrap()
                .write_all(b"ran")
                .unwrap();
            loop {
                std::thread::park();
            }
        }
        other => panic!("unknown state {other}"),
    };
    // Leave at once: the harness's own output is not wanted, and a lost
    // driver is an expected end in the liveness tests.
    std::process::exit(if matches!(served, Ok(true)) { 0 } else { 3 });
}

/// The serving processes of one test, killed when it ends.
struct Peers {
    children: Vec<Child>,
    addresses: Vec<String>,
    _dir: TempDir,
}

impl Drop for Peers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static DIRS: AtomicU64 = AtomicU64::new(0);

/// Free ports for `processes` processes.
fn free_addresses(processes: usize) -> Vec<String> {
    let listeners: Vec<TcpListener> = (0..processes)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect()
}

/// Starts processes `1..processes` of a cluster of `threads` workers each
/// for `state`; `started`: whether each one is started at all.
fn launch(
    state: &str,
    processes: usize,
    threads: usize,
    signal: Option<&str>,
    start: bool,
) -> Peers {
    let addresses = free_addresses(processes);
    let dir = std::env::temp_dir().join(format!(
        "statepool-cluster-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let hostfile = dir.join("hosts.txt");
    std::fs::write(&hostfile, addresses.join("\n")).unwrap();
    let children = (1..processes)
        .filter(|_| start)
        .map(|process| {
            let mut command = Command::new(std::env::current_exe().unwrap());
            command
                .args(["--exact", "serve", "--nocapture", "--test-threads=1"])
                .env(
                    SERVE,
                    format!("{state} {process} {threads} {}", hostfile.display()),
                )
                .stdout(Stdio::null());
            if let Some(signal) = signal {
                command.env(SIGNAL, signal);
            }
            command.spawn().unwrap()
        })
        .collect();
    Peers {
        children,
        addresses,
        _dir: TempDir(dir),
    }
}

/// The driver of `peers`' cluster of `Probe`s.
fn probe_pool(peers: &Peers, threads: usize) -> ClusterPool<Probe> {
    driver(peers, threads).start::<Probe>().unwrap().unwrap()
}

fn driver(peers: &Peers, threads: usize) -> Cluster {
    Cluster::new(threads, 0, peers.addresses.clone())
        .connect_timeout(Duration::from_secs(20))
        .peer_timeout(Duration::from_secs(30))
}

#[test]
fn outputs_equal_the_sequential_map_on_two_and_three_processes() {
    for (processes, threads) in [(2, 1), (3, 1), (2, 2)] {
        let peers = launch("probe", processes, threads, None, true);
        let mut pool = probe_pool(&peers, threads).keep_alive();
        let workers = processes * threads;
        assert_eq!(pool.n_workers(), workers);
        let sequential: Vec<u64> = (0..1000).map(|x| 2 * x).collect();
        assert_eq!(pool.map(0..1000).unwrap(), sequential);
        let mut unordered = pool.map_unordered(0..1000).unwrap();
        unordered.sort_unstable();
        assert_eq!(unordered, sequential);
        assert_eq!(pool.apply(21).unwrap(), 42);
        assert_eq!(pool.map(Vec::new()).unwrap(), Vec::<u64>::new());
        pool.join().unwrap();
        // One life per worker, each ending at the join, on every process.
        let mut exits = pool.exit_results();
        exits.sort_unstable();
        let ids: Vec<usize> = exits.iter().map(|e| e.0).collect();
        assert_eq!(ids, (0..workers).collect::<Vec<_>>(), "{exits:?}");
        assert_eq!(exits.iter().map(|e| e.2).sum::<u64>(), 2001);
        // The serving processes ended cleanly.
        let mut peers = peers;
        for child in &mut peers.children {
            assert!(child.wait().unwrap().success());
        }
        assert!(matches!(pool.map(0..3), Err(PoolError::Closed)));
    }
}

#[test]
fn lives_follow_keep_alive_and_the_lifespan() {
    let peers = launch("probe", 2, 1, None, true);
    let mut pool = probe_pool(&peers, 1).worker_lifespan(10);
    // Without keep_alive every call ends its lives; each worker gets a run
    // of 50 items, so 5 lives of 10 tasks.
    pool.map(0..100).unwrap();
    let exits = pool.exit_results();
    assert_eq!(exits.len(), 10, "{exits:?}");
    assert!(exits.iter().all(|e| e.2 == 10), "{exits:?}");
    // Inits = lives: the serving process (a fresh one, its own count of
    // inits) started exactly the 5 lives its worker ended.
    let mut remote: Vec<u64> = exits.iter().filter(|e| e.0 == 1).map(|e| e.1).collect();
    remote.sort_unstable();
    assert_eq!(remote, [0, 1, 2, 3, 4], "{exits:?}");
    // 7 items a worker: one life each, ended by the call before its 10.
    pool.map(0..14).unwrap();
    let exits = pool.exit_results();
    assert_eq!(exits.len(), 2, "{exits:?}");
    assert!(exits.iter().all(|e| e.2 == 7), "{exits:?}");
    pool.join().unwrap();
    assert!(pool.exit_results().is_empty());
}

#[test]
fn failures_name_their_item_and_worker_locally_and_remotely() {
    let peers = launch("probe", 2, 1, None, true);
    let mut pool = probe_pool(&peers, 1).keep_alive();
    // 1000..1030: items 0..15 on worker 0 (here), 15..30 on worker 1.
    match pool.map(1000..1030) {
        Err(PoolError::Task {
            index, worker_id, ..
        }) => assert_eq!((index, worker_id), (13, 0)),
        other => panic!("{other:?}"),
    }
    match pool.map(990..1020) {
        Err(PoolError::Task {
            index, worker_id, ..
        }) => assert_eq!((index, worker_id), (23, 1)),
        other => panic!("{other:?}"),
    }
    // A panic on the remote worker ends its life without exit; the next
    // call starts a fresh one there, and the local worker keeps its own.
    match pool.map(1690..1710) {
        Err(PoolError::Panic {
            index,
            worker_id,
            message,
            ..
        }) => {
            assert_eq!((index, worker_id), (Some(10), 1));
            assert!(message.contains("planted panic"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pool.map(0..4).unwrap(), [0, 2, 4, 6]);
    // And one on the driver's own process.
    match pool.map(1700..1702) {
        Err(PoolError::Panic {
            index, worker_id, ..
        }) => assert_eq!((index, worker_id), (Some(0), 0)),
        other => panic!("{other:?}"),
    }
    pool.join().unwrap();
    let mut exits = pool.exit_results();
    exits.sort_unstable();
    // Worker 0's only life panicked: no exit, and no item came after to
    // start another. Worker 1's second life ran the 9 items after its
    // panic, then 2, then 1.
    assert_eq!(exits.len(), 1, "{exits:?}");
    assert_eq!(exits[0].0, 1);
    assert_eq!(exits[0].2, 9 + 2 + 1);
}

#[test]
fn the_shared_object_crosses_processes() {
    let peers = launch("offset", 3, 1, None, true);
    let mut pool = driver(&peers, 1)
        .start_with_shared::<Offset>(|| 1000)
        .unwrap()
        .unwrap()
        .keep_alive();
    assert_eq!(
        pool.map(0..6).unwrap(),
        [1000, 1001, 1002, 1003, 1004, 1005]
    );
    pool.join().unwrap();
    let mut exits = pool.exit_results();
    exits.sort_unstable();
    assert_eq!(exits, [(0, 1000), (1, 1000), (2, 1000)]);
}

#[test]
fn a_peer_that_never_starts_is_a_connect_error() {
    let peers = launch("probe", 2, 1, None, false);
    let started = driver(&peers, 1)
        .connect_timeout(Duration::from_millis(500))
        .start::<Probe>();
    match started {
        Err(PoolError::Connect { reason }) => assert!(reason.contains("process"), "{reason}"),
        other => panic!("{:?}", other.map(|p| p.is_some())),
    }
}

/// Starts a 2-process cluster whose item 5000 blocks on process 1, runs a
/// call with it, and applies `stop` to the serving process once the item
/// runs there; returns the call's error.
fn lose_the_peer(
    stop: impl FnOnce(&mut Child) + Send + 'static,
    peer_timeout: Duration,
) -> PoolError {
    let signal = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = signal.local_addr().unwrap().to_string();
    let mut peers = launch("probe", 2, 1, Some(&address), true);
    let mut pool = driver(&peers, 1)
        .peer_timeout(peer_timeout)
        .start::<Probe>()
        .unwrap()
        .unwrap()
        .keep_alive();
    let mut child = peers.children.pop().unwrap();
    let stopper = std::thread::spawn(move || {
        // The blocking item runs on the serving process once it connects.
        let _ = signal.accept().unwrap();
        stop(&mut child);
        child
    });
    // Items 4990..5010: 5000 is at index 10, in worker 1's run.
    let err = pool.map(4990..5010).unwrap_err();
    peers.children.push(stopper.join().unwrap());
    // The pool stays broken, and says so again.
    let again = pool.map(0..2).unwrap_err();
    assert_eq!(std::mem::discriminant(&again), std::mem::discriminant(&err));
    drop(pool);
    err
}

#[test]
fn a_killed_peer_fails_the_call() {
    let err = lose_the_peer(
        |child| {
            child.kill().unwrap();
            child.wait().unwrap();
        },
        Duration::from_secs(10),
    );
    eprintln!("a killed peer: {err}");
    assert!(
        matches!(
            err,
            PoolError::Disconnected { .. } | PoolError::Unresponsive { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn a_stopped_peer_fails_the_call_after_the_peer_timeout() {
    let err = lose_the_peer(
        |child| {
            let status = Command::new("kill")
                .args(["-STOP", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        },
        Duration::from_secs(2),
    );
    assert!(
        matches!(err, PoolError::Unresponsive { waited } if waited == Duration::from_secs(2)),
        "{err:?}"
    );
}

#[test]
fn streams_yield_in_order_within_their_look_ahead() {
    let peers = launch("probe", 2, 1, None, true);
    let mut pool = probe_pool(&peers, 1).keep_alive().max_active(40);
    let mut stream = pool.imap(0..1000u64);
    let mut outputs = Vec::new();
    while let Some(output) = stream.next() {
        assert!(stream.look_ahead() <= 40, "{}", stream.look_ahead());
        outputs.push(output.unwrap());
    }
    drop(stream);
    assert_eq!(outputs, (0..1000).map(|x| 2 * x).collect::<Vec<_>>());
    let mut unordered: Vec<u64> = pool.imap_unordered(0..500u64).map(Result::unwrap).collect();
    unordered.sort_unstable();
    assert_eq!(unordered, (0..500).map(|x| 2 * x).collect::<Vec<_>>());
    // A failure comes after every output before it, and ends the stream.
    let got: Vec<Result<u64, PoolError>> = pool.imap(1000..1100u64).collect();
    assert_eq!(got.len(), 14, "{got:?}");
    assert!(got[..13].iter().all(Result::is_ok));
    assert!(matches!(got[13], Err(PoolError::Task { index: 13, .. })));
    // A stream dropped early leaves nothing behind for the next call.
    let mut stream = pool.imap(0..10_000u64);
    assert_eq!(stream.next().unwrap().unwrap(), 0);
    drop(stream);
    assert_eq!(pool.map(0..3).unwrap(), [0, 2, 4]);
    pool.join().unwrap();
    let tasks: u64 = pool.exit_results().iter().map(|e| e.2).sum();
    // Every item sent ran: the whole streams, and the two batches of 20
    // in flight in the failed one and in the dropped one.
    assert_eq!(tasks, 1000 + 500 + 40 + 40 + 3);
}

#[test]
fn a_stream_without_keep_alive_ends_its_lives() {
    let peers = launch("probe", 2, 1, None, true);
    let mut pool = driver(&peers, 1).start::<Probe>().unwrap().unwrap();
    let outputs: Vec<u64> = pool.imap(0..300u64).map(Result::unwrap).collect();
    assert_eq!(outputs.len(), 300);
    let exits = pool.exit_results();
    assert_eq!(exits.len(), 2, "{exits:?}");
    assert_eq!(exits.iter().map(|e| e.2).sum::<u64>(), 300);
}

#[test]
fn a_cluster_of_one_process_needs_no_network() {
    let mut pool = Cluster::new(3, 0, vec!["unused:0".into()])
        .start::<Probe>()
        .unwrap()
        .unwrap()
        .keep_alive();
    assert_eq!(pool.n_workers(), 3);
    assert_eq!(
        pool.map(0..10).unwrap(),
        (0..10).map(|x| 2 * x).collect::<Vec<_>>()
    );
    pool.join().unwrap();
    assert_eq!(pool.exit_results().len(), 3);
}

#[test]
fn bad_arguments_are_connect_errors() {
    for args in [
        &["prog", "-n", "2", "-p", "2"][..],
        &["prog", "-w", "zero"],
        &["prog", "-n", "2", "-h", "/nonexistent/hosts.txt"],
        &["prog", "-w", "0"],
    ] {
        let parsed = Cluster::from_args(args.iter().map(|s| s.to_string()));
        assert!(matches!(parsed, Err(PoolError::Connect { .. })), "{args:?}");
    }
    let cluster =
        Cluster::from_args(["prog", "-w", "2", "-n", "3", "-p", "1"].map(String::from)).unwrap();
    assert_eq!(cluster.process(), 1);
    // The attached forms getopts reads for timely.
    let cluster = Cluster::from_args(["prog", "-w2", "-n3", "-p2"].map(String::from)).unwrap();
    assert_eq!(cluster.process(), 2);
    let cluster = Cluster::from_args(
        ["prog", "--threads=2", "--processes=3", "--process=1"].map(String::from),
    )
    .unwrap();
    assert_eq!(cluster.process(), 1);
}

#[test]
fn a_run_longer_than_the_peer_timeout_is_not_silence() {
    // 15 items of 60 ms a worker: each run takes 0.9 s, past the 0.5 s
    // limit, but the workers answer as their tasks end.
    let peers = launch("probe", 2, 1, None, true);
    let mut pool = driver(&peers, 1)
        .peer_timeout(Duration::from_millis(500))
        .start::<Probe>()
        .unwrap()
        .unwrap()
        .keep_alive();
    let outputs = pool.map(6000..6030).unwrap();
    assert_eq!(outputs, (6000..6030).map(|x| 2 * x).collect::<Vec<_>>());
    pool.join().unwrap();
}

#[test]
fn a_forgotten_stream_leaves_nothing_for_the_next_call() {
    let peers = launch("probe", 2, 1, None, true);
    let mut pool = probe_pool(&peers, 1).keep_alive().max_active(40);
    let mut stream = pool.imap(0..1000u64);
    assert_eq!(stream.next().unwrap().unwrap(), 0);
    std::mem::forget(stream);
    // The forgotten stream's batches are in flight, with the positions
    // this call uses too.
    assert_eq!(
        pool.map(500..540).unwrap(),
        (500..540).map(|x| 2 * x).collect::<Vec<_>>()
    );
    assert_eq!(pool.map(0..4).unwrap(), [0, 2, 4, 6]);
    pool.join().unwrap();
}

#[test]
fn join_ends_the_lives_whatever_the_settings() {
    let peers = launch("probe", 2, 1, None, true);
    let mut pool = probe_pool(&peers, 1).keep_alive();
    pool.map(0..10).unwrap();
    let mut pool = pool.worker_lifespan(0);
    assert!(matches!(pool.map(0..10), Err(PoolError::InvalidConfig(_))));
    pool.join().unwrap();
    assert_eq!(pool.exit_results().len(), 2);
}

#[test]
fn a_serving_process_that_loses_its_driver_returns_an_error() {
    // Here process 1 serves; process 0, the driver, is a child that runs a
    // call and is then killed.
    let signal = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = signal.local_addr().unwrap().to_string();
    let addresses = free_addresses(2);
    let dir = std::env::temp_dir().join(format!(
        "statepool-cluster-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let _dir = TempDir(dir.clone());
    let hostfile = dir.join("hosts.txt");
    std::fs::write(&hostfile, addresses.join("\n")).unwrap();
    let driver = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "serve", "--nocapture", "--test-threads=1"])
        .env(SERVE, format!("drive 0 1 {}", hostfile.display()))
        .env(SIGNAL, &address)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut peers = Peers {
        children: vec![driver],
        addresses: addresses.clone(),
        _dir: TempDir(std::env::temp_dir().join("statepool-cluster-unused")),
    };
    let serving = std::thread::spawn(move || {
        Cluster::new(1, 1, addresses)
            .connect_timeout(Duration::from_secs(20))
            .start::<Probe>()
            .map(|pool| pool.is_none())
    });
    // The driver ran its call through this process's worker.
    let _ = signal.accept().unwrap();
    let child = &mut peers.children[0];
    child.kill().unwrap();
    child.wait().unwrap();
    match serving.join().unwrap() {
        Err(PoolError::Disconnected { reason }) => {
            assert!(reason.contains("process 1"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

fn sentences(n: usize) -> Vec<Sentence> {
    (0..n)
        .map(|i| Sentence(format!("item {i} has {} words", "x".repeat(i % 7 + 1))))
        .collect()
}

#[test]
fn a_state_without_exit_hook_and_with_items_that_are_not_clone_runs_unchanged() {
    let peers = launch("words", 2, 1, None, true);
    let mut pool = driver(&peers, 1)
        .start::<Words>()
        .unwrap()
        .unwrap()
        .keep_alive()
        .worker_lifespan(4);
    let mut state = Words::default();
    let sequential: Vec<(usize, String)> = sentences(50)
        .into_iter()
        .map(|s| count_words(&mut state, s))
        .map(|c| (c.words, c.longest))
        .collect();
    let outputs = pool.map(sentences(50)).unwrap();
    assert_eq!(
        outputs
            .iter()
            .map(|c| (c.words, c.longest.clone()))
            .collect::<Vec<_>>(),
        sequential
    );
    // Lives of 4 tasks, without exit hooks: no worker saw more than 3
    // sentences before one.
    assert!(outputs.iter().all(|c| c.before < 4), "{outputs:?}");
    assert_eq!(pool.apply(Sentence("a b c".into())).unwrap().words, 3);
    let streamed: Vec<Counted> = pool.imap(sentences(20)).collect::<Result<_, _>>().unwrap();
    assert_eq!(streamed.len(), 20);
    assert_eq!(streamed[3].words, sequential[3].0);
    pool.join().unwrap();
    let mut peers = peers;
    for child in &mut peers.children {
        assert!(child.wait().unwrap().success());
    }
}

#[test]
fn an_exit_output_that_cannot_cross_processes_stays_where_it_was_made() {
    let peers = launch("clock", 2, 1, None, true);
    let mut pool = driver(&peers, 1).start::<Clock>().unwrap().unwrap();
    assert_eq!(pool.map(0..10).unwrap(), (1..11).collect::<Vec<_>>());
    pool.join().unwrap();
    // The driver's own worker ran its exit hook once, after its share.
    assert_eq!(LOCAL_EXITS.load(Ordering::SeqCst), 1);
    let mut peers = peers;
    for child in &mut peers.children {
        assert!(child.wait().unwrap().success());
    }
}

/// A state written by hand, without `#[worker_state]`: `SHIPS` 0 has no
/// exit serializer, 1 the right one, 2 one of another type.
struct Manual<const SHIPS: u8>(u64);

impl<const SHIPS: u8> WorkerState for Manual<SHIPS> {
    type Shared = ();
    fn start_life(_: &WorkerContext) -> Result<Self, BoxError> {
        Ok(Manual(0))
    }
    fn end_life(self, ctx: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
        self.exit(ctx).map(|sum| Some(ExitValue::new(sum)))
    }
    fn exit_serializer() -> Option<ExitSerializer> {
        match SHIPS {
            0 => None,
            1 => Some(ExitSerializer::of::<u64>()),
            _ => Some(ExitSerializer::of::<String>()),
        }
    }
}

impl<const SHIPS: u8> Task for Manual<SHIPS> {
    type Input<'a> = u64;
    type InputKind = OwnedInput;
    type Output = u64;
    fn run(&mut self, x: u64, _: &WorkerContext) -> Result<u64, BoxError> {
        self.0 += x;
        Ok(x)
    }
}

impl<const SHIPS: u8> WorkerExit for Manual<SHIPS> {
    type Output = u64;
    fn exit(self, _: &WorkerContext) -> Result<u64, BoxError> {
        Ok(self.0)
    }
}

fn one_process<S: ClusterState + statepool::NoShared>() -> ClusterPool<S> {
    Cluster::new(1, 0, vec!["unused:0".into()])
        .start::<S>()
        .unwrap()
        .unwrap()
}

#[test]
fn a_state_written_by_hand_ships_its_exits_with_its_exit_serializer() {
    let mut pool = one_process::<Manual<1>>();
    assert_eq!(pool.map(1..4).unwrap(), [1, 2, 3]);
    pool.join().unwrap();
    assert_eq!(pool.exit_results(), [6]);

    // Without one, its exits cannot be sent: `exit_results` says so, once.
    let mut pool = one_process::<Manual<0>>();
    assert_eq!(pool.map(1..4).unwrap(), [1, 2, 3]);
    pool.join().unwrap();
    let panic =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.exit_results())).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("exit_serializer"), "{message}");
    assert_eq!(pool.exit_results(), Vec::<u64>::new());

    // One of another type fails the life's end, on its worker.
    let mut pool = one_process::<Manual<2>>().keep_alive();
    assert_eq!(pool.map(1..4).unwrap(), [1, 2, 3]);
    let err = pool.join().unwrap_err();
    assert!(
        matches!(err, PoolError::Exit { worker_id: 0, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("alloc::string::String") || format!("{err:?}").contains("String"),
        "{err:?}"
    );
}

/// An exit output whose serialisation panics.
#[derive(serde::Deserialize)]
struct Fragile;

impl serde::Serialize for Fragile {
    fn serialize<Z: serde::Serializer>(&self, _: Z) -> Result<Z::Ok, Z::Error> {
        panic!("planted panic in Serialize")
    }
}

#[worker_state]
#[derive(Default)]
struct Brittle;

#[task]
fn brittle(_: &mut Brittle, x: u64) -> u64 {
    x
}

#[worker_exit]
fn end_brittle(_: Brittle) -> Fragile {
    Fragile
}

#[test]
fn a_panic_while_sending_an_exit_output_is_an_exit_panic() {
    let mut pool = one_process::<Brittle>().keep_alive();
    assert_eq!(pool.map(0..3).unwrap(), [0, 1, 2]);
    let err = pool.join().unwrap_err();
    assert!(
        matches!(
            err,
            PoolError::Panic {
                site: statepool::PanicSite::Exit,
                worker_id: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("planted panic in Serialize"),
        "{err}"
    );
}

#[test]
fn worker_state_gives_an_exit_serializer_where_the_exit_output_is_serde() {
    assert!(<Probe as WorkerState>::exit_serializer().is_some());
    assert!(<Offset as WorkerState>::exit_serializer().is_some());
    assert!(<Words as WorkerState>::exit_serializer().is_none()); // no exit hook
    assert!(<Clock as WorkerState>::exit_serializer().is_none()); // an `Instant`
}

/// A state whose drop panics past 100, with an exit hook that borrows it.
#[worker_state]
#[derive(Default)]
struct Tally {
    sum: u64,
}

#[task]
fn tally(t: &mut Tally, x: u64) -> u64 {
    t.sum += x;
    x
}

#[worker_exit]
fn tally_exit(t: &mut Tally) -> u64 {
    t.sum
}

impl Drop for Tally {
    fn drop(&mut self) {
        assert!(self.sum < 100, "a tally of {} cannot be dropped", self.sum);
    }
}

#[test]
fn an_exit_output_outlives_a_drop_that_panics_as_on_one_machine() {
    let mut pool = one_process::<Tally>().keep_alive();
    assert_eq!(pool.map([60, 60]).unwrap(), [60, 60]);
    let err = pool.join().unwrap_err();
    assert!(
        matches!(
            err,
            PoolError::Panic {
                site: statepool::PanicSite::DropState,
                worker_id: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(pool.exit_results(), [120]);
}
