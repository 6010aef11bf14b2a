//! Worker insights (`enable_insights`, `insights`): the counts are exact in
//! every call kind, the times add up and contain what the tasks measured
//! themselves, the slowest tasks are found, and the timeline and its
//! picture have a row per worker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use statepool::prelude::*;
use statepool::{Activity, Insights};

/// Each task's own measure of its time, in nanoseconds, by item.
static MEASURED: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
/// Lives started, over the tests of this file that count them.
static INITS: AtomicU64 = AtomicU64::new(0);

#[worker_state]
struct Timed {
    tasks: u64,
}

#[worker_init]
fn start() -> Timed {
    INITS.fetch_add(1, Ordering::SeqCst);
    Timed { tasks: 0 }
}

/// Every task measures itself; items `41` past a multiple of `BASE` run
/// longest.
#[task]
fn work(state: &mut Timed, x: u64) -> u64 {
    let began = Instant::now();
    state.tasks += 1;
    let mut h = x | 1;
    let rounds = if x >= BASE && x % BASE == 41 {
        4_000_000
    } else {
        2_000
    };
    for _ in 0..rounds {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
    }
    let took = began.elapsed().as_nanos() as u64;
    if (BASE..2 * BASE).contains(&x) {
        MEASURED.lock().unwrap().push((x, took));
    }
    std::hint::black_box(h)
}

#[worker_exit]
fn stop(state: Timed) -> u64 {
    state.tasks
}

/// The items of the test that reads `MEASURED` start here (the other tests
/// run items below it, meanwhile).
const BASE: u64 = 1_000_000;
/// The planted slow item, at position 41 of its call: its task runs two
/// thousand times as long.
const SLOW: u64 = BASE + 41;

/// Checks what holds of every snapshot: a row per worker, times that add
/// up to each worker's share of the wall time, ordered timelines within
/// it, and the slowest tasks slowest first.
fn check_shape(insights: &Insights, workers: usize) {
    assert_eq!(insights.workers.len(), workers, "{insights}");
    for (id, w) in insights.workers.iter().enumerate() {
        assert_eq!(w.worker_id, id);
        assert!(w.times.sum() <= insights.total, "{insights}");
        assert!(
            w.times.init + w.times.working + w.times.exit + w.times.start_up <= w.times.sum(),
            "{insights}"
        );
        let mut at = Duration::ZERO;
        for segment in &w.timeline {
            assert!(segment.start >= at, "{:?}", w.timeline);
            assert!(segment.end >= segment.start, "{:?}", w.timeline);
            assert!(segment.end <= insights.total, "{:?}", w.timeline);
            at = segment.end;
        }
        assert_eq!(w.timeline[0].activity, Activity::StartUp);
        let inits = w
            .timeline
            .iter()
            .filter(|s| s.activity == Activity::Init)
            .count() as u64;
        assert_eq!(inits, w.lives, "worker {id}: {:?}", w.timeline);
    }
    assert!(insights.slowest.len() <= Insights::SLOWEST);
    assert!(insights
        .slowest
        .windows(2)
        .all(|w| w[0].duration >= w[1].duration));
}

#[test]
fn insights_add_up_and_find_the_slowest_task() {
    let mut pool = TimedPool::new(3)
        .keep_alive()
        .worker_lifespan(7)
        .chunk_size(1)
        .enable_insights();
    pool.map(BASE..BASE + 60).unwrap();
    pool.join().unwrap();
    let insights = pool.insights();
    check_shape(&insights, 3);

    // Counts are exact: every task, every life.
    assert_eq!(insights.tasks(), 60, "{insights}");
    let exits = pool.exit_results();
    assert_eq!(insights.lives(), exits.len() as u64, "{insights}");
    assert_eq!(exits.iter().sum::<u64>(), 60);
    for w in &insights.workers {
        // A life ends after 7 tasks; the first call starts every life.
        assert_eq!(w.lives, w.tasks.div_ceil(7).max(1), "{insights}");
    }

    // Each task's recorded time contains the time it measured itself, and
    // the whole stays within the workers' time alive.
    let measured: Vec<(u64, u64)> = MEASURED
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|(x, _)| *x >= BASE)
        .collect();
    assert_eq!(measured.len(), 60);
    let own: Duration = measured
        .iter()
        .map(|(_, ns)| Duration::from_nanos(*ns))
        .sum();
    let totals = insights.totals();
    assert!(totals.working >= own, "{:?} < {own:?}", totals.working);
    for w in &insights.workers {
        // Each worker's tasks lie within its time alive, without overlap.
        let alive = w.times.sum() - w.times.start_up;
        assert!(
            w.times.init + w.times.working + w.times.exit <= alive,
            "{insights}"
        );
    }

    // The planted item is the slowest, in a stretch of work of its worker.
    let slowest = &insights.slowest;
    assert_eq!(slowest.len(), 10);
    assert_eq!(slowest[0].index, 41, "{insights}");
    assert_eq!(slowest[0].call, Some(1));
    let own_slow = measured.iter().find(|(x, _)| *x == SLOW).unwrap().1;
    assert!(slowest[0].duration >= Duration::from_nanos(own_slow));
    let w = &insights.workers[slowest[0].worker_id];
    assert!(
        w.timeline.iter().any(|s| s.activity == Activity::Working
            && s.start <= slowest[0].start
            && slowest[0].start + slowest[0].duration <= s.end),
        "the slowest task lies in a stretch of work of its worker: {:?} {:?}",
        slowest[0],
        w.timeline
    );

    // After the join the snapshot no longer moves.
    assert_eq!(pool.insights(), insights);
    let table = insights.to_string();
    assert!(table.contains("slowest tasks:"), "{table}");
    assert!(table.contains("item 41 of call 1"), "{table}");
    assert_eq!(table.lines().count(), 1 + 1 + 3 + 2 + 1 + 10, "{table}");
}

#[test]
fn every_call_kind_counts_its_tasks() {
    for dealt in [false, true] {
        for workers in [1, 2, 4] {
            let pool = TimedPool::new(workers).keep_alive().enable_insights();
            let mut pool = if dealt { pool.order_tasks() } else { pool };
            pool.map(0..100).unwrap();
            pool.map_unordered((0..50).collect::<Vec<_>>()).unwrap();
            pool.apply(3).unwrap();
            let streamed: Vec<u64> = pool.imap(0..30).map(Result::unwrap).collect();
            assert_eq!(streamed.len(), 30);
            let ordered: Vec<u64> = pool.imap_unordered(0..20).map(Result::unwrap).collect();
            assert_eq!(ordered.len(), 20);
            let handle = pool.handle();
            handle.apply(5).unwrap();
            let insights = pool.insights();
            check_shape(&insights, workers);
            assert_eq!(insights.tasks(), 100 + 50 + 1 + 30 + 20 + 1, "{insights}");
            // One life each, started by the first call.
            assert_eq!(insights.lives(), workers as u64);
            let calls: Vec<Option<u64>> = insights.slowest.iter().map(|t| t.call).collect();
            assert!(
                calls.iter().all(|c| c.is_none_or(|c| (1..=5).contains(&c))),
                "{calls:?}"
            );
        }
    }
}

#[test]
fn a_handles_task_has_no_call() {
    let pool = TimedPool::new(1).keep_alive().enable_insights();
    let handle = pool.handle();
    handle.apply(SLOW + BASE).unwrap();
    for x in 0..5 {
        handle.apply(x).unwrap();
    }
    let insights = pool.insights();
    assert_eq!(insights.tasks(), 6);
    assert_eq!(insights.slowest[0].call, None);
    assert_eq!(insights.slowest[0].index, 0);
    assert!(insights.to_string().contains("a handle's task"));
}

#[test]
fn without_keep_alive_the_insights_are_the_last_calls() {
    let mut pool = TimedPool::new(2).enable_insights();
    assert_eq!(pool.insights(), Insights::default(), "no call yet");
    pool.map(0..10).unwrap();
    pool.map(0..25).unwrap();
    let insights = pool.insights();
    check_shape(&insights, 2);
    assert_eq!(insights.tasks(), 25);
    assert_eq!(insights.lives(), 2);
    // Its workers ended with the call: their exits are in.
    assert!(insights
        .workers
        .iter()
        .all(|w| w.timeline.last().unwrap().activity == Activity::Exit));
}

#[test]
fn a_pool_without_insights_has_none() {
    let mut pool = TimedPool::new(2).keep_alive();
    pool.map(0..10).unwrap();
    assert_eq!(pool.insights(), Insights::default());
    assert!(pool.insights().workers.is_empty());
}

#[test]
fn enabling_insights_restarts_running_workers() {
    let before = INITS.load(Ordering::SeqCst);
    let pool = TimedPool::new(2).keep_alive();
    let mut pool = {
        let mut pool = pool;
        pool.map(0..10).unwrap();
        pool.enable_insights()
    };
    pool.map(0..10).unwrap();
    let insights = pool.insights();
    assert_eq!(insights.tasks(), 10);
    assert_eq!(insights.lives(), 2);
    // Two lives before, two after; other tests may start lives meanwhile.
    assert!(INITS.load(Ordering::SeqCst) - before >= 4);
}

#[test]
fn a_snapshot_can_be_taken_while_a_stream_runs() {
    let mut pool = TimedPool::new(2).keep_alive().enable_insights();
    let mut stream = pool.imap(0..1_000);
    for _ in 0..100 {
        stream.next().unwrap().unwrap();
    }
    drop(stream);
    let insights = pool.insights();
    check_shape(&insights, 2);
    assert!(insights.tasks() >= 100 && insights.tasks() <= 1_000);
}

#[cfg(feature = "svg")]
#[test]
fn the_picture_has_a_row_per_worker() {
    for workers in [1, 3, 8] {
        let mut pool = TimedPool::new(workers).keep_alive().enable_insights();
        pool.map(0..200).unwrap();
        let svg = pool.insights().to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("the SVG parses");
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .filter(|t| t.starts_with("worker "))
            .collect();
        let want: Vec<String> = (0..workers).map(|id| format!("worker {id}")).collect();
        let mut got: Vec<&str> = labels.clone();
        got.sort_unstable();
        let mut want_sorted: Vec<&str> = want.iter().map(String::as_str).collect();
        want_sorted.sort_unstable();
        assert_eq!(got, want_sorted, "{labels:?}");
        // One waiting background per row.
        let rows = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#DEE2E6"))
            .count();
        assert_eq!(
            rows,
            workers + 1,
            "a row per worker, and the legend's swatch"
        );
        let dir = std::env::temp_dir().join(format!("statepool-insights-{workers}.svg"));
        pool.insights().write_svg(&dir).unwrap();
        assert!(std::fs::read_to_string(&dir).unwrap().starts_with("<svg"));
        std::fs::remove_file(&dir).unwrap();
    }
}

#[cfg(feature = "serde")]
#[test]
fn insights_round_trip_through_serde() {
    let mut pool = TimedPool::new(2).keep_alive().enable_insights();
    pool.map(0..50).unwrap();
    pool.join().unwrap();
    let insights = pool.insights();
    let json = serde_json::to_string(&insights).unwrap();
    let back: Insights = serde_json::from_str(&json).unwrap();
    assert_eq!(back, insights);
    assert!(json.contains("\"slowest\""));
}
