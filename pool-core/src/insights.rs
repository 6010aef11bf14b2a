//! Worker insights (mpire's `enable_insights`): where each worker's time
//! went (start-up, init, waiting, working, exit), how many tasks and lives
//! it ran, the slowest tasks, and a timeline of its activities.
//!
//! A crew started with insights on has a [`Recording`]: one [`Log`] per
//! worker, behind a lock of its own, which only that worker writes. A worker
//! keeps what it measures in its thread-local [`Timing`] and moves it into
//! its log when its share of a call ends, around hooks, and every
//! [`FLUSH_EVERY`] in between, so that a task costs one clock read and a
//! few additions, never a lock. [`Recording::snapshot`] reads the logs into the public
//! [`Insights`], at any time: live while calls run, or after the crew ended.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many of the slowest tasks the insights keep, over all workers.
pub(crate) const SLOWEST_TASKS: usize = 10;
/// How often a worker that runs tasks moves what it measured into its
/// log, between two blocks of a chunk (it also does when its share of a
/// call ends, and around hooks; a worker blocked inside a call keeps what
/// it measured since its last move until it runs again).
const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// The most timeline segments a worker's log keeps. Past it, neighbouring
/// segments merge (see [`Log::push`]): the picture loses detail, never the
/// totals.
const MAX_SEGMENTS: usize = 2048;
/// Gaps between two stretches of work shorter than this do not split them
/// on the timeline (at first: the gap grows as segments merge).
const FIRST_GAP: Duration = Duration::from_micros(20);

/// What a worker was doing in a stretch of its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Activity {
    /// From the workers' start to the moment its thread ran.
    StartUp,
    /// In the state's init (`#[worker_init]`): one per life.
    Init,
    /// Running tasks.
    Working,
    /// In the state's exit (`#[worker_exit]`, or its drop).
    Exit,
}

impl Activity {
    /// Its name in the table and the timeline's legend.
    pub fn name(self) -> &'static str {
        match self {
            Activity::StartUp => "start-up",
            Activity::Init => "init",
            Activity::Working => "working",
            Activity::Exit => "exit",
        }
    }
}

/// A stretch of one worker's timeline: from `start` to `end`, both measured
/// from the workers' start ([`Insights::total`] is the end of the picture).
/// The gaps between segments are waiting time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Segment {
    /// What the worker did.
    pub activity: Activity,
    /// When it began, from the workers' start.
    pub start: Duration,
    /// When it ended, from the workers' start.
    pub end: Duration,
}

/// One of the slowest tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SlowTask {
    /// The call it belonged to, counted from 1 since the workers started
    /// (with [`keep_alive`](crate::Pool::keep_alive), the workers see every
    /// call of the pool; without, each call starts fresh workers, so it is
    /// 1); `None` for a task submitted through a
    /// [`PoolHandle`](crate::PoolHandle).
    pub call: Option<u64>,
    /// The item's position in its call's input (0 for a handle's task).
    pub index: usize,
    /// The worker that ran it.
    pub worker_id: usize,
    /// When it began, from the workers' start.
    pub start: Duration,
    /// How long it ran.
    pub duration: Duration,
}

/// Where one kind of time went, in wall-clock durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Times {
    /// From the workers' start to the moment the worker's thread ran.
    pub start_up: Duration,
    /// In init, over all lives.
    pub init: Duration,
    /// Alive and in none of the others: looking for work, handing over
    /// outputs, parked between calls.
    pub waiting: Duration,
    /// Running tasks (each measured from the end of the one before it in
    /// the same chunk, so the pool's few nanoseconds of bookkeeping between
    /// two tasks count as working).
    pub working: Duration,
    /// In exit, over all lives.
    pub exit: Duration,
}

impl Times {
    /// The sum of the five.
    pub fn sum(&self) -> Duration {
        self.start_up + self.init + self.waiting + self.working + self.exit
    }

    /// Each of the five, in the order of the fields, with its activity name
    /// (`"waiting"` for waiting).
    pub fn parts(&self) -> [(&'static str, Duration); 5] {
        [
            (Activity::StartUp.name(), self.start_up),
            (Activity::Init.name(), self.init),
            ("waiting", self.waiting),
            (Activity::Working.name(), self.working),
            (Activity::Exit.name(), self.exit),
        ]
    }

    fn add(&mut self, other: &Times) {
        self.start_up += other.start_up;
        self.init += other.init;
        self.waiting += other.waiting;
        self.working += other.working;
        self.exit += other.exit;
    }
}

/// What one worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WorkerInsights {
    /// The worker, `0..n_workers`.
    pub worker_id: usize,
    /// Where its time went; their sum is its share of
    /// [`Insights::total`] (less, for a worker whose thread ended early).
    pub times: Times,
    /// Tasks it ran, failed and panicked ones included.
    pub tasks: u64,
    /// Lives it started (inits run).
    pub lives: u64,
    /// Its activities, in time order. Stretches of work with gaps below a
    /// few tens of microseconds show as one, and a long run merges more
    /// (a timeline keeps a few thousand segments at most).
    pub timeline: Vec<Segment>,
}

/// Where the workers' time went (mpire's `get_insights`), from
/// [`Pool::insights`](crate::Pool::insights): per worker and in total, the
/// time in start-up, init, waiting, working and exit, the tasks and lives,
/// the [`SLOWEST`](Insights::SLOWEST) slowest tasks, and each worker's
/// timeline. Plain data: read the fields, print it (its `Display` is a
/// table like mpire's `print_insights`), serialise it (cargo feature
/// `serde`), or draw it (`to_svg`, cargo feature `svg`).
///
/// It covers the workers now running, or the last ones to run: with
/// [`keep_alive`](crate::Pool::keep_alive), every call since they started;
/// without, the last call (mpire resets its insights when it starts workers
/// too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Insights {
    /// Wall time from the workers' start to this snapshot, or to the end of
    /// the last worker's thread, once they all ended.
    pub total: Duration,
    /// Each worker, by id.
    pub workers: Vec<WorkerInsights>,
    /// The slowest tasks over all workers, slowest first, at most
    /// [`SLOWEST`](Insights::SLOWEST).
    pub slowest: Vec<SlowTask>,
}

impl Insights {
    /// How many of the slowest tasks are kept.
    pub const SLOWEST: usize = SLOWEST_TASKS;

    /// The workers' times, added up.
    pub fn totals(&self) -> Times {
        let mut totals = Times::default();
        for worker in &self.workers {
            totals.add(&worker.times);
        }
        totals
    }

    /// Tasks run, over all workers.
    pub fn tasks(&self) -> u64 {
        self.workers.iter().map(|w| w.tasks).sum()
    }

    /// Lives started, over all workers.
    pub fn lives(&self) -> u64 {
        self.workers.iter().map(|w| w.lives).sum()
    }
}

/// `d` in the unit that suits it: `812 ns`, `4.21 µs`, `35.0 ms`, `2.50 s`.
pub(crate) struct Human(pub(crate) Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        let text = if nanos < 1_000 {
            format!("{nanos} ns")
        } else if nanos < 1_000_000 {
            format!("{:.2} µs", nanos as f64 / 1e3)
        } else if nanos < 1_000_000_000 {
            format!("{:.2} ms", nanos as f64 / 1e6)
        } else {
            format!("{:.2} s", nanos as f64 / 1e9)
        };
        f.pad(&text)
    }
}

fn percent(part: Duration, whole: Duration) -> f64 {
    if whole.is_zero() {
        0.0
    } else {
        100.0 * part.as_secs_f64() / whole.as_secs_f64()
    }
}

/// A table like mpire's `print_insights`: a row per worker, the totals and
/// their shares, then the slowest tasks.
impl fmt::Display for Insights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "statepool insights: {} workers, {} wall time, {} tasks, {} lives",
            self.workers.len(),
            Human(self.total),
            self.tasks(),
            self.lives()
        )?;
        writeln!(
            f,
            "{:>6} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "worker", "lives", "tasks", "start-up", "init", "waiting", "working", "exit"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, lives, tasks, t: &Times| {
            writeln!(
                f,
                "{:>6} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
                name,
                lives,
                tasks,
                Human(t.start_up),
                Human(t.init),
                Human(t.waiting),
                Human(t.working),
                Human(t.exit)
            )
        };
        for w in &self.workers {
            row(f, &w.worker_id.to_string(), w.lives, w.tasks, &w.times)?;
        }
        let totals = self.totals();
        row(f, "total", self.lives(), self.tasks(), &totals)?;
        let sum = totals.sum();
        let shares: Vec<String> = totals
            .parts()
            .iter()
            .map(|(_, d)| format!("{:.1}%", percent(*d, sum)))
            .collect();
        writeln!(
            f,
            "{:>6} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "share", "", "", shares[0], shares[1], shares[2], shares[3], shares[4]
        )?;
        if !self.slowest.is_empty() {
            writeln!(f, "slowest tasks:")?;
            for (rank, task) in self.slowest.iter().enumerate() {
                let call = match task.call {
                    Some(call) => format!("item {} of call {}", task.index, call),
                    None => "a handle's task".to_string(),
                };
                writeln!(
                    f,
                    "{:>4}. {} on worker {}: {} (started at {})",
                    rank + 1,
                    call,
                    task.worker_id,
                    Human(task.duration),
                    Human(task.start)
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(feature = "svg")]
mod svg {
    use std::time::Duration;

    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    use super::{Activity, Human, Insights};

    /// The colour of each activity, and of waiting (a row's background).
    const START_UP: RGBColor = RGBColor(251, 188, 4);
    const INIT: RGBColor = RGBColor(66, 133, 244);
    const WORKING: RGBColor = RGBColor(52, 168, 83);
    const EXIT: RGBColor = RGBColor(171, 71, 188);
    /// A row's background: the worker is alive and waiting.
    pub(super) const WAITING: RGBColor = RGBColor(222, 226, 230);
    /// The marks of the slowest tasks.
    const SLOW: RGBColor = RGBColor(234, 67, 53);

    fn colour(activity: Activity) -> RGBColor {
        match activity {
            Activity::StartUp => START_UP,
            Activity::Init => INIT,
            Activity::Working => WORKING,
            Activity::Exit => EXIT,
        }
    }

    impl Insights {
        /// The workers' timeline as an SVG picture: a row per worker over
        /// wall time, its start-up, each life's init and exit, its stretches
        /// of work, and waiting as the row's pale background; the slowest
        /// tasks are outlined in red and numbered as in the table of its
        /// `Display`. Drawn by the `plotters` crate; needs the cargo feature
        /// `svg`.
        ///
        /// ```
        /// # include!("../doc/echo.rs");
        /// # fn main() {
        /// # use pool_core::Pool;
        /// let mut pool = Pool::<Echo>::new(2).enable_insights();
        /// pool.map(0..1000).unwrap();
        /// let svg = pool.insights().to_svg();
        /// assert!(svg.starts_with("<svg"));
        /// # }
        /// ```
        pub fn to_svg(&self) -> String {
            let mut out = String::new();
            let rows = self.workers.len().max(1);
            let height = 110 + 26 * rows as u32;
            {
                let root = SVGBackend::with_string(&mut out, (1000, height)).into_drawing_area();
                // Drawing into a string fails only where plotters has a bug:
                // the picture then ends where it failed.
                let _ = self.draw(&root, rows);
                let _ = root.present();
            }
            out
        }

        /// Writes [`to_svg`](Insights::to_svg) to the file at `path`,
        /// replacing it. Needs the cargo feature `svg`.
        ///
        /// # Errors
        /// Those of [`std::fs::write`].
        pub fn write_svg(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
            std::fs::write(path, self.to_svg())
        }

        fn draw(
            &self,
            root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
            rows: usize,
        ) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
            root.fill(&WHITE)?;
            let (plot, legend) = root.split_horizontally(860);
            Self::draw_legend(&legend)?;
            // Milliseconds below ten seconds, seconds above.
            let (unit, scale) = if self.total < Duration::from_secs(10) {
                ("ms", 1e3)
            } else {
                ("s", 1.0)
            };
            let at = |d: Duration| d.as_secs_f64() * scale;
            let end = at(self.total).max(at(Duration::from_micros(1)));
            let caption = format!(
                "statepool insights: {} workers, {} tasks, {} wall time",
                self.workers.len(),
                self.tasks(),
                Human(self.total)
            );
            // Worker 0 on top. A segmented range `0..k` has `k + 1` rows.
            let top = i32::try_from(rows).unwrap_or(i32::MAX) - 1;
            let mut chart = ChartBuilder::on(&plot)
                .caption(caption, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(80)
                .build_cartesian_2d(0.0..end, (0..top).into_segmented())?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .x_desc(format!("wall time ({unit})"))
                .y_label_formatter(&|_| String::new())
                .draw()?;
            // A label per row, drawn here: plotters labels no row of a
            // one-row chart.
            let label = ("sans-serif", 13)
                .into_font()
                .into_text_style(root)
                .pos(Pos::new(HPos::Right, VPos::Center));
            for id in 0..rows {
                let row = top - i32::try_from(id).unwrap_or(i32::MAX);
                let (x, y) = chart.backend_coord(&(0.0, SegmentValue::CenterOf(row)));
                root.draw(&Text::new(format!("worker {id}"), (x - 8, y), &label))?;
            }
            let row = |id: usize| top - i32::try_from(id).unwrap_or(i32::MAX);
            let span = |id: usize, from: f64, to: f64, style: ShapeStyle| {
                let mut bar = Rectangle::new(
                    [
                        (from, SegmentValue::Exact(row(id))),
                        (to, SegmentValue::Exact(row(id) + 1)),
                    ],
                    style,
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            };
            // Each worker's row: waiting, as the background, from its start
            // to its end.
            chart.draw_series(self.workers.iter().map(|w| {
                // Its start-up, then its time alive.
                let ended = w.times.sum();
                span(
                    w.worker_id,
                    at(w.times.start_up),
                    at(ended),
                    WAITING.filled(),
                )
            }))?;
            for activity in [
                Activity::StartUp,
                Activity::Init,
                Activity::Working,
                Activity::Exit,
            ] {
                let fill = colour(activity);
                chart.draw_series(self.workers.iter().flat_map(|w| {
                    w.timeline
                        .iter()
                        .filter(move |s| s.activity == activity)
                        .map(move |s| {
                            // At least half a pixel wide, so that a short
                            // exit still shows, within the picture.
                            let least = end / 1800.0;
                            let from = at(s.start).min(end - least);
                            let to = at(s.end).max(from + least);
                            span(w.worker_id, from, to, fill.filled())
                        })
                }))?;
            }
            chart.draw_series(self.slowest.iter().map(|t| {
                let to = at(t.start + t.duration).max(at(t.start) + end / 900.0);
                span(t.worker_id, at(t.start), to, SLOW.stroke_width(2))
            }))?;
            // Each mark's rank, at its top left corner.
            chart.draw_series(self.slowest.iter().enumerate().map(|(rank, t)| {
                Text::new(
                    format!("{}", rank + 1),
                    (at(t.start), SegmentValue::Exact(row(t.worker_id) + 1)),
                    ("sans-serif", 11).into_font().color(&BLACK),
                )
            }))?;
            Ok(())
        }

        /// The key: a swatch and a name per colour.
        fn draw_legend(
            area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
        ) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
            let keys = [
                (Activity::StartUp.name(), colour(Activity::StartUp).filled()),
                (Activity::Init.name(), colour(Activity::Init).filled()),
                (Activity::Working.name(), colour(Activity::Working).filled()),
                (Activity::Exit.name(), colour(Activity::Exit).filled()),
                ("waiting", WAITING.filled()),
                ("slowest tasks", SLOW.stroke_width(2)),
            ];
            for (k, (name, style)) in keys.into_iter().enumerate() {
                let y = 44 + 22 * i32::try_from(k).unwrap_or(0);
                area.draw(&Rectangle::new([(4, y), (20, y + 12)], style))?;
                area.draw(&Text::new(name, (26, y), ("sans-serif", 13).into_font()))?;
            }
            Ok(())
        }
    }
}

/// What a crew records, shared by its workers and the pool.
#[derive(Debug)]
pub(crate) struct Recording {
    started: Instant,
    logs: Vec<Mutex<Log>>,
}

/// One worker's record.
#[derive(Debug)]
struct Log {
    /// When its (first) thread ran.
    thread_started: Option<Instant>,
    /// When its thread ended.
    thread_ended: Option<Instant>,
    init: Duration,
    working: Duration,
    exit: Duration,
    tasks: u64,
    lives: u64,
    /// Its slowest tasks, slowest first.
    slowest: Vec<SlowTask>,
    segments: Vec<Segment>,
    /// Gaps up to this do not split two segments of one activity.
    gap: Duration,
}

fn relock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recording {
    /// A recording for `n` workers, starting now.
    pub(crate) fn new(n: usize) -> Arc<Self> {
        Arc::new(Recording {
            started: Instant::now(),
            logs: (0..n)
                .map(|_| {
                    Mutex::new(Log {
                        thread_started: None,
                        thread_ended: None,
                        init: Duration::ZERO,
                        working: Duration::ZERO,
                        exit: Duration::ZERO,
                        tasks: 0,
                        lives: 0,
                        slowest: Vec::new(),
                        segments: Vec::new(),
                        gap: FIRST_GAP,
                    })
                })
                .collect(),
        })
    }

    fn since(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.started)
    }

    /// The insights as of now.
    pub(crate) fn snapshot(&self) -> Insights {
        let logs: Vec<_> = self.logs.iter().map(relock).collect();
        // After the locks: nothing the logs hold ends after it.
        let now = Instant::now();
        let all_ended = logs
            .iter()
            .all(|log| log.thread_started.is_none() || log.thread_ended.is_some());
        let end = if all_ended {
            logs.iter()
                .filter_map(|log| log.thread_ended)
                .max()
                .unwrap_or(now)
        } else {
            now
        };
        let mut slowest = Vec::new();
        let workers = logs
            .iter()
            .enumerate()
            .map(|(worker_id, log)| {
                slowest.extend_from_slice(&log.slowest);
                let mut times = Times {
                    init: log.init,
                    working: log.working,
                    exit: log.exit,
                    ..Times::default()
                };
                let mut timeline = Vec::with_capacity(log.segments.len() + 1);
                if let Some(ran) = log.thread_started {
                    times.start_up = self.since(ran);
                    timeline.push(Segment {
                        activity: Activity::StartUp,
                        start: Duration::ZERO,
                        end: times.start_up,
                    });
                    let alive = log
                        .thread_ended
                        .unwrap_or(end)
                        .saturating_duration_since(ran);
                    times.waiting = alive.saturating_sub(log.init + log.working + log.exit);
                }
                timeline.extend_from_slice(&log.segments);
                WorkerInsights {
                    worker_id,
                    times,
                    tasks: log.tasks,
                    lives: log.lives,
                    timeline,
                }
            })
            .collect();
        slowest.sort_by_key(|task: &SlowTask| std::cmp::Reverse(task.duration));
        slowest.truncate(SLOWEST_TASKS);
        Insights {
            total: self.since(end),
            workers,
            slowest,
        }
    }

    /// Notes that worker `worker_id`'s thread ended without the
    /// replacement that was to finish for it (it could not start).
    pub(crate) fn thread_lost(&self, worker_id: usize) {
        relock(&self.logs[worker_id])
            .thread_ended
            .get_or_insert_with(Instant::now);
    }

    /// Notes that worker `worker_id`'s thread runs (a replacement's start
    /// keeps the first one's).
    pub(crate) fn thread_started(&self, worker_id: usize) {
        let mut log = relock(&self.logs[worker_id]);
        log.thread_started.get_or_insert_with(Instant::now);
        log.thread_ended = None;
    }
}

impl Log {
    /// Adds a segment to the timeline, merged with the one before where
    /// both are of one activity and the gap is short; past
    /// [`MAX_SEGMENTS`], merges neighbours until half as many are left.
    fn push(&mut self, segment: Segment) {
        if let Some(last) = self.segments.last_mut() {
            if last.activity == segment.activity && segment.start <= last.end + self.gap {
                last.end = last.end.max(segment.end);
                return;
            }
        }
        self.segments.push(segment);
        if self.segments.len() > MAX_SEGMENTS {
            self.coarsen();
        }
    }

    /// Merges neighbouring segments, with a longer gap each round, until at
    /// most half of [`MAX_SEGMENTS`] are left: first those of one activity,
    /// then any two, the merged one taking the activity of the longer.
    fn coarsen(&mut self) {
        let mut any_activity = false;
        while self.segments.len() > MAX_SEGMENTS / 2 {
            self.gap = (self.gap * 2).max(Duration::from_nanos(1));
            let gap = self.gap;
            let mut merged: Vec<Segment> = Vec::with_capacity(self.segments.len());
            for segment in self.segments.drain(..) {
                match merged.last_mut() {
                    Some(last)
                        if segment.start <= last.end + gap
                            && (any_activity || last.activity == segment.activity) =>
                    {
                        if segment.end - segment.start > last.end - last.start {
                            last.activity = segment.activity;
                        }
                        last.end = last.end.max(segment.end);
                    }
                    _ => merged.push(segment),
                }
            }
            self.segments = merged;
            any_activity = true;
        }
    }
}

/// What one worker measures, on its thread, between two moves into its log.
#[derive(Debug)]
pub(crate) struct Timing {
    recording: Arc<Recording>,
    worker_id: usize,
    /// The last clock read: the start of the next task.
    last: Instant,
    /// The start of the stretch of work not yet in the log.
    open: Instant,
    /// When it last moved what it measured into its log.
    flushed: Instant,
    tasks: u64,
    working: Duration,
    /// Its slowest tasks, slowest first (at most [`SLOWEST_TASKS`]), and
    /// whether they changed since the last move.
    slowest: Vec<SlowTask>,
    slowest_changed: bool,
    /// The duration a task must pass to be among the slowest.
    threshold: Duration,
    /// The call it works for (see [`SlowTask::call`]).
    call: Option<u64>,
}

impl Timing {
    pub(crate) fn new(recording: Arc<Recording>, worker_id: usize) -> Self {
        let now = Instant::now();
        // A replacement thread (after a timeout) goes on from the slowest
        // tasks of the one it replaces.
        let slowest = relock(&recording.logs[worker_id]).slowest.clone();
        let threshold = match slowest.get(SLOWEST_TASKS - 1) {
            Some(task) => task.duration,
            None => Duration::ZERO,
        };
        Timing {
            recording,
            worker_id,
            last: now,
            open: now,
            flushed: now,
            tasks: 0,
            working: Duration::ZERO,
            slowest,
            slowest_changed: false,
            threshold,
            call: None,
        }
    }

    /// Sets the call the next tasks belong to; returns the one before.
    pub(crate) fn set_call(&mut self, call: Option<u64>) -> Option<u64> {
        std::mem::replace(&mut self.call, call)
    }

    /// A chunk of tasks starts now. Its blocks follow each other without
    /// a clock read of their own: what the pool does between two blocks
    /// (a few nanoseconds) counts as the next task's.
    #[inline]
    pub(crate) fn begin_chunk(&mut self) {
        let now = Instant::now();
        if self.tasks > 0 && now.saturating_duration_since(self.last) > FIRST_GAP {
            // The worker waited since its last task (for its input, for
            // room in the output window, in jobs): the stretch of work
            // before ends there, not here.
            self.flush();
        }
        self.last = now;
        if self.tasks == 0 {
            self.open = now;
        }
    }

    /// The task at position `index` just returned (or failed).
    #[inline]
    pub(crate) fn task_done(&mut self, index: usize) {
        let now = Instant::now();
        let took = now.saturating_duration_since(self.last);
        self.tasks += 1;
        self.working += took;
        if took >= self.threshold {
            self.note_slow(index, self.last, took);
        }
        self.last = now;
    }

    #[cold]
    fn note_slow(&mut self, index: usize, start: Instant, duration: Duration) {
        let task = SlowTask {
            call: self.call,
            index,
            worker_id: self.worker_id,
            start: self.recording.since(start),
            duration,
        };
        let at = self.slowest.partition_point(|t| t.duration >= duration);
        self.slowest.insert(at, task);
        self.slowest.truncate(SLOWEST_TASKS);
        if self.slowest.len() == SLOWEST_TASKS {
            self.threshold = self.slowest[SLOWEST_TASKS - 1].duration;
        }
        self.slowest_changed = true;
    }

    /// A block ended: moves what it measured into the log if it kept it
    /// long enough.
    #[inline]
    pub(crate) fn end_block(&mut self) {
        if self.last.saturating_duration_since(self.flushed) >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Moves what it measured into the log.
    pub(crate) fn flush(&mut self) {
        self.flushed = self.last;
        if self.tasks == 0 {
            return;
        }
        let segment = Segment {
            activity: Activity::Working,
            start: self.recording.since(self.open),
            end: self.recording.since(self.last),
        };
        self.open = self.last;
        let mut log = relock(&self.recording.logs[self.worker_id]);
        log.tasks += std::mem::take(&mut self.tasks);
        log.working += std::mem::take(&mut self.working);
        if std::mem::take(&mut self.slowest_changed) {
            log.slowest.clone_from(&self.slowest);
        }
        log.push(segment);
    }

    /// A hook (init or exit) ran from `start` to now; `life`: it started a
    /// life.
    pub(crate) fn hook(&mut self, activity: Activity, start: Instant) {
        self.flush();
        let end = Instant::now();
        let took = end.saturating_duration_since(start);
        let segment = Segment {
            activity,
            start: self.recording.since(start),
            end: self.recording.since(end),
        };
        let mut log = relock(&self.recording.logs[self.worker_id]);
        match activity {
            Activity::Init => {
                log.init += took;
                log.lives += 1;
            }
            Activity::Exit => log.exit += took,
            Activity::StartUp | Activity::Working => {}
        }
        log.push(segment);
        drop(log);
        // The tasks after it, in the same chunk, start here.
        self.last = end;
        self.open = end;
    }

    /// The worker's thread ends.
    pub(crate) fn thread_ended(&mut self) {
        self.flush();
        relock(&self.recording.logs[self.worker_id]).thread_ended = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(start_us: u64, end_us: u64) -> Segment {
        Segment {
            activity: Activity::Working,
            start: Duration::from_micros(start_us),
            end: Duration::from_micros(end_us),
        }
    }

    #[test]
    fn close_stretches_of_work_merge_and_far_ones_do_not() {
        let recording = Recording::new(1);
        let mut log = relock(&recording.logs[0]);
        log.push(work(0, 10));
        log.push(work(15, 30));
        log.push(work(100, 120));
        assert_eq!(log.segments, [work(0, 30), work(100, 120)]);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "20,000 pushes are slow under Miri, and this module has no unsafe code"
    )]
    fn a_long_timeline_is_coarsened_and_keeps_its_ends() {
        let recording = Recording::new(1);
        let mut log = relock(&recording.logs[0]);
        for k in 0..10 * MAX_SEGMENTS as u64 {
            let activity = if k % 2 == 0 {
                Activity::Init
            } else {
                Activity::Working
            };
            log.push(Segment {
                activity,
                start: Duration::from_micros(100 * k),
                end: Duration::from_micros(100 * k + 50),
            });
        }
        assert!(log.segments.len() <= MAX_SEGMENTS, "{}", log.segments.len());
        assert_eq!(log.segments[0].start, Duration::ZERO);
        let last = 10 * MAX_SEGMENTS as u64 - 1;
        assert_eq!(
            log.segments.last().unwrap().end,
            Duration::from_micros(100 * last + 50)
        );
        assert!(log.segments.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn the_slowest_are_kept_slowest_first() {
        let recording = Recording::new(1);
        let mut timing = Timing::new(Arc::clone(&recording), 0);
        let start = Instant::now();
        for (index, micros) in [5u64, 50, 1, 70, 3, 9, 11, 2, 40, 8, 13, 6, 90, 4]
            .iter()
            .enumerate()
        {
            timing.note_slow_if(index, start, Duration::from_micros(*micros));
        }
        let kept: Vec<u64> = timing
            .slowest
            .iter()
            .map(|t| t.duration.as_micros() as u64)
            .collect();
        assert_eq!(kept, [90, 70, 50, 40, 13, 11, 9, 8, 6, 5]);
    }

    impl Timing {
        fn note_slow_if(&mut self, index: usize, start: Instant, took: Duration) {
            if took > self.threshold {
                self.note_slow(index, start, took);
            }
        }
    }
}
