//! Runs calls on the crew: checks the settings, starts the workers, builds
//! the call for its input, publishes it and waits, and ends the workers
//! after a call when they are not kept alive. [`Pool`](crate::Pool) holds
//! one and adds the typed calls of its contract; an [`Imap`](crate::Imap)
//! borrows it for the length of a streaming call.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::call::{Call, CallConfig, MapCall, StreamingCall};
use crate::crew::{Crew, Threads};
use crate::feed_thread::{FeedThread, Feeding};
use crate::input::{
    self, ChunkPolicy, ClaimOrder, Dealt, DealtFeed, Fed, Feedable, Input, InputVisitor, Lender,
};
use crate::insights::{Insights, Recording};
use crate::progress::{Bars, End, Progress};
use crate::sink::{Sink, Stream};
use crate::stop::StopMode;
use crate::sync::lock;
use crate::trace;
use crate::unwind::{catch, drop_quietly};
use crate::watch::Timeouts;
use crate::worker::ExitStore;
use crate::{BoxError, ExitValue, PoolError, WorkerContext, WorkerState};

/// The longest chunk `map` cuts by itself: long enough that scheduling costs
/// vanish next to nanosecond tasks, short enough to balance the tail.
const MAP_MAX_CHUNK: usize = 4096;
/// The longest chunk `imap` cuts by itself, which also bounds its look-ahead.
const STREAM_MAX_CHUNK: usize = 256;
/// Look-ahead of `imap`, in chunks per worker.
const STREAM_WINDOW_CHUNKS: usize = 4;
/// The most workers a pool starts. Each is an OS thread with its own stack
/// and deque, and sizes are kept per worker: past this, a count is a
/// mistake (rayon-core stops at 65,535 threads for the same reasons).
pub(crate) const MAX_WORKERS: usize = 1 << 16;

/// What the user set on the pool.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) n_workers: usize,
    pub(crate) keep_alive: bool,
    pub(crate) lifespan: Option<usize>,
    pub(crate) chunk_size: Option<usize>,
    /// Item `i` of a blocking call runs on worker `i % n_workers`.
    pub(crate) order_tasks: bool,
    /// The most items a streaming call pulls and does not yield yet.
    pub(crate) max_active: Option<usize>,
    pub(crate) threads: Threads,
    /// Limits on tasks and hooks.
    pub(crate) timeouts: Timeouts,
    /// Each call's progress bar, where the pool shows one.
    pub(crate) bars: Bars,
    /// Whether crews record insights.
    pub(crate) insights: bool,
}

/// A streaming call, as its `Imap` holds it.
pub(crate) type StreamRef<S, O> = Arc<dyn StreamingCall<S, O>>;

/// The turns of a feeding on the consumer's thread (see
/// [`Runner::start_stream_in_turns`]): each call pulls what the call has
/// room for, and returns whether the feeding ended.
pub(crate) type Turns<'i> = Box<dyn FnMut() -> bool + Send + 'i>;

impl Settings {
    /// Checks the settings every call needs; `stream`: for a streaming
    /// call, which `max_active` bounds.
    fn check(&self, stream: bool) -> Result<(), PoolError> {
        let Settings {
            n_workers,
            lifespan,
            chunk_size,
            max_active,
            order_tasks,
            timeouts,
            ..
        } = *self;
        timeouts.check()?;
        if order_tasks && timeouts.any() {
            return Err(PoolError::InvalidConfig(
                "order_tasks cannot be combined with a timeout: a call that may leave a stuck task behind hands its items out as workers come free, and cannot keep them to their workers".into(),
            ));
        }
        if stream && max_active == Some(0) {
            return Err(PoolError::InvalidConfig(
                "max_active must be at least 1 item, got 0".into(),
            ));
        }
        if chunk_size == Some(0) {
            return Err(PoolError::InvalidConfig(
                "chunk_size must be at least 1, got 0".into(),
            ));
        }
        if lifespan == Some(0) {
            return Err(PoolError::InvalidConfig(
                "worker_lifespan must be at least 1 task, got 0".into(),
            ));
        }
        if n_workers > MAX_WORKERS {
            return Err(PoolError::InvalidConfig(format!(
                "n_workers must be at most {MAX_WORKERS}, got {n_workers}"
            )));
        }
        Ok(())
    }
}

/// The running crew, shared by a pool and its handles: calls run on it, a
/// handle submits jobs into it, and either starts one where none runs.
/// Only the pool ends it (after a call without keep_alive, at `join`, at
/// drop), and takes it out of the slot first: a crew that ends is never
/// handed out again.
pub(crate) struct CrewSlot<S: WorkerState> {
    /// The pool's shared object, in every worker's context.
    shared: Arc<S::Shared>,
    inner: Mutex<SlotInner<S>>,
}

struct SlotInner<S: WorkerState> {
    crew: Option<Arc<Crew<S>>>,
    /// The pool is gone: no crew starts any more.
    closed: bool,
    /// The pool's settings, as last configured.
    settings: Settings,
    exits: ExitStore,
    /// Threads the watchdogs of its crews left behind.
    abandoned: Arc<AtomicUsize>,
    /// What the running crew records, or the last one did, where the pool
    /// collects insights.
    recording: Option<Arc<Recording>>,
}

impl<S: WorkerState> CrewSlot<S> {
    /// The running crew, started where none runs (the settings checked
    /// first), and the lifespan its workers run with.
    pub(crate) fn crew(&self) -> Result<(Arc<Crew<S>>, Option<usize>), PoolError> {
        let mut inner = lock(&self.inner);
        let lifespan = inner.settings.lifespan;
        if let Some(crew) = &inner.crew {
            return Ok((Arc::clone(crew), lifespan));
        }
        if inner.closed {
            return Err(PoolError::Closed);
        }
        inner.settings.check(false)?;
        let recording = inner
            .settings
            .insights
            .then(|| Recording::new(inner.settings.n_workers));
        let SlotInner {
            settings,
            exits,
            abandoned,
            ..
        } = &*inner;
        let crew = Arc::new(Crew::spawn(
            settings.n_workers,
            exits,
            &self.shared,
            &settings.threads,
            settings.timeouts,
            abandoned,
            recording.clone(),
        )?);
        inner.crew = Some(Arc::clone(&crew));
        if recording.is_some() {
            inner.recording = recording;
        }
        Ok((crew, lifespan))
    }

    /// Takes the running crew out, to end it; with `close`, no crew starts
    /// after.
    fn take(&self, close: bool) -> Option<Arc<Crew<S>>> {
        let mut inner = lock(&self.inner);
        inner.closed |= close;
        inner.crew.take()
    }

    fn is_running(&self) -> bool {
        lock(&self.inner).crew.is_some()
    }

    /// The insights of the running crew, or of the last one.
    pub(crate) fn insights(&self) -> Insights {
        let recording = lock(&self.inner).recording.clone();
        recording.map_or_else(Insights::default, |recording| recording.snapshot())
    }

    /// Threads left behind by a timeout so far.
    pub(crate) fn abandoned(&self) -> usize {
        lock(&self.inner).abandoned.load(Ordering::Relaxed)
    }
}

/// The machinery behind a pool's calls.
pub(crate) struct Runner<S: WorkerState> {
    pub(crate) settings: Settings,
    /// The crew of the call under way, taken from `slot` as it began.
    crew: Option<Arc<Crew<S>>>,
    slot: Arc<CrewSlot<S>>,
    exits: ExitStore,
    /// The thread that pulls the inputs of streaming calls, once one ran.
    feed_thread: Option<FeedThread>,
    /// A failure of the exits of workers ended by a change of settings,
    /// for the next call.
    deferred: Option<PoolError>,
    /// The progress bar and the span of the streaming call under way.
    stream: (Progress, trace::Span),
}

impl<S: WorkerState> Runner<S> {
    pub(crate) fn new(settings: Settings, shared: Arc<S::Shared>) -> Self {
        let exits: ExitStore = Arc::new(Mutex::new(Vec::new()));
        let slot = Arc::new(CrewSlot {
            shared,
            inner: Mutex::new(SlotInner {
                crew: None,
                closed: false,
                settings: settings.clone(),
                exits: Arc::clone(&exits),
                abandoned: Arc::default(),
                recording: None,
            }),
        });
        Runner {
            settings,
            crew: None,
            slot,
            exits,
            feed_thread: None,
            deferred: None,
            stream: (Progress::default(), trace::none()),
        }
    }

    /// Changes the settings (a builder method of the pool); crews started
    /// from now on, by a call or a handle, take them.
    pub(crate) fn configure(&mut self, change: impl FnOnce(&mut Settings)) {
        let before = (
            self.settings.timeouts,
            self.settings.threads.clone(),
            self.settings.insights,
        );
        change(&mut self.settings);
        lock(&self.slot.inner).settings = self.settings.clone();
        // Running workers keep how they were started: where that changed,
        // they end now, and calls and handles start fresh ones. A failure of
        // their exits is the next call's.
        let now = (
            self.settings.timeouts,
            self.settings.threads.clone(),
            self.settings.insights,
        );
        if before != now {
            if let Err(err) = self.end_crew() {
                self.deferred.get_or_insert(err);
            }
        }
    }

    /// The crew's slot, for a handle.
    pub(crate) fn slot(&self) -> &Arc<CrewSlot<S>> {
        &self.slot
    }

    /// The pool's shared object.
    pub(crate) fn shared(&self) -> &S::Shared {
        &self.slot.shared
    }

    /// The `Arc` of the pool's shared object.
    pub(crate) fn shared_arc(&self) -> &Arc<S::Shared> {
        &self.slot.shared
    }

    /// Whether workers are running.
    pub(crate) fn is_running(&self) -> bool {
        self.slot.is_running()
    }

    /// The exit hooks' outputs so far, drained.
    pub(crate) fn take_exits(&self) -> Vec<ExitValue> {
        std::mem::take(&mut *lock(&self.exits))
    }

    /// Checks the settings and makes sure workers are running, with no
    /// call outstanding. `stream`: the call is a streaming one, which
    /// `max_active` bounds.
    fn begin(
        &mut self,
        stop: StopMode,
        max_chunk: usize,
        stream: bool,
    ) -> Result<Begun<'_, S>, PoolError> {
        self.settings.check(stream)?;
        let Settings {
            n_workers,
            lifespan,
            chunk_size,
            max_active,
            ..
        } = self.settings;
        if let Some(err) = self.deferred.take() {
            return Err(err);
        }
        let (mut running, _) = self.slot.crew()?;
        if running.is_broken() {
            // A worker left behind by a timeout could not be replaced: a
            // fresh crew takes this one's place.
            drop(running);
            self.end_crew()?;
            running = self.slot.crew()?.0;
        }
        let Runner {
            crew, feed_thread, ..
        } = self;
        let crew = &**crew.insert(running);
        // The call of an `imap` that was leaked rather than dropped.
        crew.halt_outstanding();
        let mut chunks = match chunk_size {
            Some(len) => ChunkPolicy::Fixed(len),
            None => ChunkPolicy::Adaptive { max: max_chunk },
        };
        let read_ahead = match max_active.filter(|_| stream) {
            // Pulled and not yielded: at most the window, plus the chunk the
            // consumer yields from. Chunks of at most a `2 * n_workers`th
            // of the bound keep every worker busy within it.
            Some(bound) => {
                let chunk = (bound / n_workers.saturating_mul(2)).max(1);
                chunks = match chunks {
                    ChunkPolicy::Fixed(len) => ChunkPolicy::Fixed(len.min(chunk)),
                    ChunkPolicy::Adaptive { max } => ChunkPolicy::Adaptive {
                        max: max.min(chunk),
                    },
                };
                bound.saturating_sub(chunks.max_len()).max(1)
            }
            None => STREAM_WINDOW_CHUNKS
                .saturating_mul(n_workers)
                .saturating_mul(chunks.max_len()),
        };
        let config = CallConfig {
            n_workers,
            lifespan,
            chunks,
            stop,
            read_ahead,
        };
        Ok(Begun {
            crew,
            feed_thread,
            config,
        })
    }

    /// Ends a call: without keep_alive, its workers end too.
    pub(crate) fn end_call(&mut self) -> Result<(), PoolError> {
        if self.settings.keep_alive {
            return Ok(());
        }
        self.end_crew()
    }

    /// Ends the workers, if any (halting a leaked `imap`'s call first, and
    /// after every job handles submitted to them); the first failure of
    /// their exit hooks.
    pub(crate) fn end_crew(&mut self) -> Result<(), PoolError> {
        self.end_crew_and(false)
    }

    /// Ends the workers, as [`Runner::end_crew`], and lets no crew start
    /// after: a handle's submission then fails with [`PoolError::Closed`].
    pub(crate) fn close(&mut self) -> Result<(), PoolError> {
        self.end_crew_and(true)
    }

    fn end_crew_and(&mut self, close: bool) -> Result<(), PoolError> {
        self.crew = None;
        let errors = self
            .slot
            .take(close)
            .map(|crew| crew.end())
            .unwrap_or_default();
        errors.into_iter().next().map_or(Ok(()), Err)
    }

    /// Runs a blocking call to completion and returns its sink, made by
    /// `make_sink` from the input's `size_hint` (and, where it wants it,
    /// the input's own buffer).
    pub(crate) fn run_blocking<I, F, O, K>(
        &mut self,
        iter: I,
        task: F,
        make_sink: impl FnOnce((usize, Option<usize>), Lender<'_>) -> K,
    ) -> Result<K, PoolError>
    where
        I: Iterator + Send,
        I::Item: Send,
        F: Fn(&mut S, I::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Sync,
        K: Sink<O>,
    {
        if self.settings.timeouts.any() {
            return Err(PoolError::InvalidConfig(
                "a pool with a timeout runs a closure only where it is 'static: map_with, map_unordered_with and apply_with take closures that may borrow from the caller, which a task left running past its limit would still use after the call returned; use imap_with or imap_unordered_with (whose closures are 'static), or a #[task]".into(),
            ));
        }
        let order_tasks = self.settings.order_tasks;
        let bars = self.settings.bars.clone();
        let Begun { crew, config, .. } = self.begin(StopMode::AllItems, MAP_MAX_CHUNK, false)?;
        let mut progress = Progress::default();
        if order_tasks {
            let span = trace::call("map_dealt", None, config.n_workers);
            let outcome = span
                .in_scope(|| run_dealt(crew, config, iter, task, make_sink, &bars, &mut progress));
            let ended = self.end_call();
            let result = outcome.and_then(|sink| ended.map(|()| sink));
            span.in_scope(|| finish(&progress, &result));
            return result;
        }
        let span = trace::call(
            "map",
            size_hint(&iter).ok().and_then(exact),
            config.n_workers,
        );
        let _entered = span.enter();
        let outcome = size_hint(&iter).and_then(|hint| {
            // Seats for the workers the call has work for, each with a
            // deque and a part of the input of its own (see `Call::execute`).
            let config = seated(crew, hint, config);
            progress = bars.start(exact(hint));
            let call = BlockingCall {
                crew,
                task,
                make_sink,
                config,
                hint,
                progress: progress.clone(),
                items: PhantomData,
            };
            // Nothing bounds the look-ahead: each seat takes a part of its
            // own, filled again from a peer's when it runs out.
            input::visit(
                iter,
                config.chunks,
                config.n_workers,
                ClaimOrder::Spread,
                call,
            )
        });
        // The call's failure comes first; an exit failure as the workers
        // end is the call's error only if nothing else failed.
        let ended = self.end_call();
        let result = match outcome {
            Ok(sink) => ended.map(|()| sink),
            Err(err) => Err(err),
        };
        finish(&progress, &result);
        result
    }

    /// Runs a blocking call over owned `items` to completion, as
    /// [`Runner::run_blocking`] does, on a call the workers share rather
    /// than borrow: the call of a pool with a time limit, whose worker left
    /// behind may still hold it after this returns. Nothing it holds is
    /// the caller's: the items, the task, the sink are all owned (`'static`).
    pub(crate) fn run_blocking_owned<T, F, O, K>(
        &mut self,
        items: Vec<T>,
        task: F,
        make_sink: impl FnOnce((usize, Option<usize>), Lender<'_>) -> K,
    ) -> Result<K, PoolError>
    where
        T: Send + 'static,
        F: Fn(&mut S, T, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Send + Sync + 'static,
        O: Send + 'static,
        K: Sink<O> + Send + 'static,
    {
        let bars = self.settings.bars.clone();
        let Begun { crew, config, .. } = self.begin(StopMode::AllItems, MAP_MAX_CHUNK, false)?;
        let hint = (items.len(), Some(items.len()));
        let config = seated(crew, hint, config);
        let progress = bars.start(Some(items.len()));
        let span = trace::call("map_owned", Some(items.len()), config.n_workers);
        let _entered = span.enter();
        let call = OwnedBlockingCall {
            crew,
            task,
            make_sink,
            config,
            hint,
            progress: progress.clone(),
            items: PhantomData,
        };
        let outcome = input::visit(
            items.into_iter(),
            config.chunks,
            config.n_workers,
            ClaimOrder::Spread,
            call,
        );
        let ended = self.end_call();
        let result = match outcome {
            Ok(sink) => ended.map(|()| sink),
            Err(err) => Err(err),
        };
        finish(&progress, &result);
        result
    }

    /// Starts a streaming call on the workers; the caller ends it with
    /// [`Runner::end_stream`].
    pub(crate) fn start_stream<I, F, O>(
        &mut self,
        iter: I,
        task: F,
        ordered: bool,
    ) -> Result<StreamRef<S, O>, PoolError>
    where
        I: Iterator + Send + 'static,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError>
            + Send
            + Sync
            + 'static,
        O: Send + 'static,
    {
        let stop = stream_stop(ordered);
        let dealt = self.settings.order_tasks;
        let bars = self.settings.bars.clone();
        let Begun {
            crew,
            feed_thread,
            config,
        } = self.begin(stop, STREAM_MAX_CHUNK, true)?;
        let hint = size_hint(&iter);
        let len = hint.as_ref().ok().and_then(|&hint| exact(hint));
        let progress = bars.start(len);
        let span = trace::call("imap", len, config.n_workers);
        let started = if dealt {
            // Item `i` to worker `i % n_workers`, dealt by the feed thread.
            let input = DealtFeed::new(config.chunks, config.n_workers);
            let sink = Stream::new(ordered, read_ahead(config));
            let call = MapCall::dealt_feed(input, task, sink, config);
            let call = Arc::new(call.with_progress(progress.clone()));
            let feeding_call = Arc::clone(&call);
            let feeding: Feeding = Box::new(move || feeding_call.feed(iter));
            start_feeding(feed_thread, feeding).map(|()| {
                crew.publish(Arc::clone(&call) as Arc<dyn Call<S> + Send>);
                call as StreamRef<S, O>
            })
        } else {
            hint.and_then(|hint| {
                let call = StreamCall {
                    crew,
                    task,
                    ordered,
                    window: read_ahead(config),
                    config,
                    hint,
                    feed_thread,
                    progress: progress.clone(),
                    types: PhantomData,
                };
                // The window bounds the look-ahead: positions go out in order.
                input::visit(
                    iter,
                    config.chunks,
                    config.n_workers,
                    ClaimOrder::InOrder,
                    call,
                )
            })
        };
        match &started {
            Ok(_) => self.stream = (progress, span),
            Err(err) => {
                // The call ends before it began; an exit failure would come
                // second.
                let _ = self.end_call();
                span.in_scope(|| {
                    trace::failure(err);
                    progress.finish(End::Failed(err));
                });
            }
        }
        started
    }

    /// Starts a streaming call whose input `iter` may borrow for `'i`: it
    /// is pulled in turns on the consumer's thread, by the returned
    /// [`Turns`], never by a worker or the feed thread, so that the call
    /// (which the crew holds as `'static`) never refers to it. The caller
    /// ends the call with [`Runner::end_stream`].
    pub(crate) fn start_stream_in_turns<'i, I, F, O>(
        &mut self,
        iter: I,
        task: F,
        ordered: bool,
    ) -> Result<(StreamRef<S, O>, Turns<'i>), PoolError>
    where
        I: Iterator + Send + 'i,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError>
            + Send
            + Sync
            + 'static,
        O: Send + 'static,
    {
        let stop = stream_stop(ordered);
        let hint = size_hint(&iter)?;
        let dealt = self.settings.order_tasks;
        let bars = self.settings.bars.clone();
        let Begun { crew, config, .. } = self.begin(stop, STREAM_MAX_CHUNK, true)?;
        let sink = Stream::new(ordered, read_ahead(config));
        let progress = bars.start(exact(hint));
        let span = trace::call("imap_in_turns", exact(hint), config.n_workers);
        let started = if dealt {
            // Item `i` to worker `i % n_workers`, dealt in turns.
            let input = DealtFeed::new(config.chunks, config.n_workers);
            let call = MapCall::dealt_feed(input, task, sink, config);
            let call = Arc::new(call.with_progress(progress.clone()));
            publish_in_turns(crew, call, iter)
        } else {
            let input = Fed::new(hint, read_ahead(config), config.chunks, config.n_workers);
            let call = MapCall::new(input, task, sink, config);
            let call = Arc::new(call.with_progress(progress.clone()));
            publish_in_turns(crew, call, iter)
        };
        self.stream = (progress, span);
        Ok(started)
    }

    /// Ends the progress bar and the span of the last streaming call as it
    /// ended.
    pub(crate) fn finish_stream(&mut self, end: End<'_>) {
        let (progress, span) =
            std::mem::replace(&mut self.stream, (Progress::default(), trace::none()));
        span.in_scope(|| {
            if let End::Failed(err) = end {
                trace::failure(err);
            }
            progress.finish(end);
        });
    }

    /// Ends a streaming call: halts what is left of it, waits for its
    /// workers, and ends them without keep_alive. Returns its first
    /// failure (a late one: an init that failed on a worker that ran no
    /// item), then a failure of the exit hooks.
    pub(crate) fn end_stream<O>(&mut self, call: StreamRef<S, O>) -> Result<(), PoolError> {
        call.halt(None);
        if let Some(crew) = &self.crew {
            crew.wait();
        }
        let failure = call.take_failure();
        // The outputs and items a halted call drops are the user's: a panic
        // there must not replace the failure being yielded.
        drop_quietly(call);
        let ended = self.end_call();
        failure.map_or(ended, Err)
    }
}

/// Runs a blocking call whose item `i` runs on worker `i % n_workers`
/// (`order_tasks`): pulls the whole input on this thread, deals it, and
/// runs it without stealing. A panic of the input is the call's failure at
/// the position it was asked for.
fn run_dealt<S, I, F, O, K>(
    crew: &Crew<S>,
    config: CallConfig,
    mut iter: I,
    task: F,
    make_sink: impl FnOnce((usize, Option<usize>), Lender<'_>) -> K,
    bars: &Bars,
    progress: &mut Progress,
) -> Result<K, PoolError>
where
    S: WorkerState,
    I: Iterator + Send,
    I::Item: Send,
    F: Fn(&mut S, I::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Sync,
    K: Sink<O>,
{
    let mut items = Vec::with_capacity(size_hint(&iter)?.0.min(1 << 16));
    let pulled = catch(|| {
        for item in &mut iter {
            items.push(item);
        }
    });
    if let Err(caught) = pulled {
        let index = items.len();
        drop_quietly(items);
        return Err(PoolError::Input {
            index: Some(index),
            message: caught.message,
            payload: caught.payload,
        });
    }
    if let Err(caught) = catch(move || drop(iter)) {
        drop_quietly(items);
        return Err(PoolError::Input {
            index: None,
            message: caught.message,
            payload: caught.payload,
        });
    }
    let total = items.len();
    let sink = make_sink((total, Some(total)), &mut |_, _| None);
    let input = Dealt::new(items, config.chunks, config.n_workers);
    // Every worker holds its dealt items: all take part.
    *progress = bars.start(Some(total));
    let call = MapCall::dealt(input, task, &sink, config).with_progress(progress.clone());
    let ran = BlockingCall::<S, F, (), ()>::run(crew, call, config.n_workers, |_| {});
    BlockingCall::<S, F, (), ()>::sink_of(ran, sink)
}

/// A call's start: the running crew, the pool's feed thread and the
/// call's settings.
struct Begun<'r, S: WorkerState> {
    crew: &'r Crew<S>,
    feed_thread: &'r mut Option<FeedThread>,
    config: CallConfig,
}

/// A blocking call, waiting for its input to be picked.
struct BlockingCall<'c, S: WorkerState, F, M, T> {
    crew: &'c Crew<S>,
    task: F,
    make_sink: M,
    config: CallConfig,
    /// The input's `size_hint`.
    hint: (usize, Option<usize>),
    /// The call's progress bar.
    progress: Progress,
    items: PhantomData<fn(T)>,
}

impl<S: WorkerState, F, M, T> BlockingCall<'_, S, F, M, T> {
    /// Runs `call` on the workers while `feed` runs on this thread, and
    /// returns its failure, if any.
    fn run<In, G, O, K>(
        crew: &Crew<S>,
        call: MapCall<In, G, &K>,
        participants: usize,
        feed: impl FnOnce(&MapCall<In, G, &K>),
    ) -> Result<(), PoolError>
    where
        In: Input,
        G: Fn(&mut S, In::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Sync,
        K: Sink<O>,
    {
        crew.run_scoped_on(&call, participants, || feed(&call));
        match call.stop.take() {
            None => Ok(()),
            Some(err) => {
                // What a failed call drops (the items it did not run) is the
                // user's; a panic there must not replace `err`.
                drop_quietly(call);
                Err(err)
            }
        }
    }
}

impl<S: WorkerState, F, M, T> BlockingCall<'_, S, F, M, T> {
    /// The sink of a call that ran, or its failure.
    fn sink_of<K>(ran: Result<(), PoolError>, sink: K) -> Result<K, PoolError> {
        match ran {
            Ok(()) => Ok(sink),
            Err(err) => {
                // The outputs a failed call drops are the user's; a panic
                // there must not replace `err`.
                drop_quietly(sink);
                Err(err)
            }
        }
    }
}

impl<'a, S, F, M, T, O, K> InputVisitor<'a, T> for BlockingCall<'_, S, F, M, T>
where
    S: WorkerState,
    F: Fn(&mut S, T, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Sync,
    M: FnOnce((usize, Option<usize>), Lender<'_>) -> K,
    K: Sink<O>,
{
    type Output = Result<K, PoolError>;

    fn visit<In, C>(self, mut input: In, cast: C) -> Result<K, PoolError>
    where
        In: Input + Send + 'a,
        In::Item: Send,
        C: Fn(In::Item) -> T + Copy + Send + Sync + 'a,
    {
        let BlockingCall {
            crew,
            task,
            make_sink,
            config,
            hint,
            progress,
            ..
        } = self;
        // Made before the call and outliving it: the sink may own the
        // input's buffer, which it frees only after the input is gone.
        let sink = make_sink(hint, &mut |layout, len| input.lend(layout, len));
        let task =
            |state: &mut S, item, ctx: &WorkerContext<S::Shared>| task(state, cast(item), ctx);
        let call = MapCall::new(input, task, &sink, config).with_progress(progress);
        let ran = Self::run(crew, call, participants(hint, config), |_| {});
        Self::sink_of(ran, sink)
    }

    fn visit_fed<I>(self, iter: I) -> Result<K, PoolError>
    where
        I: Iterator<Item = T> + Send + 'a,
        T: Send + 'a,
    {
        let BlockingCall {
            crew,
            task,
            make_sink,
            config,
            hint,
            progress,
            ..
        } = self;
        let sink = make_sink(hint, &mut |_, _| None);
        // This thread pulls the input while the workers run its items; it
        // wakes a sleeping one when every worker taking part sleeps.
        let input = Fed::new(
            hint,
            read_ahead(config),
            config.chunks,
            participants(hint, config),
        );
        let call = MapCall::new(input, task, &sink, config).with_progress(progress);
        let ran = Self::run(crew, call, participants(hint, config), |call| {
            call.feed(iter)
        });
        Self::sink_of(ran, sink)
    }
}

/// An owned blocking call (see [`Runner::run_blocking_owned`]), waiting
/// for its input to be picked.
struct OwnedBlockingCall<'c, S: WorkerState, F, M, T> {
    crew: &'c Crew<S>,
    task: F,
    make_sink: M,
    config: CallConfig,
    hint: (usize, Option<usize>),
    /// The call's progress bar.
    progress: Progress,
    items: PhantomData<fn(T)>,
}

impl<S, F, M, T, O, K> InputVisitor<'static, T> for OwnedBlockingCall<'_, S, F, M, T>
where
    S: WorkerState,
    F: Fn(&mut S, T, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Send + Sync + 'static,
    M: FnOnce((usize, Option<usize>), Lender<'_>) -> K,
    T: Send + 'static,
    O: Send + 'static,
    K: Sink<O> + Send + 'static,
{
    type Output = Result<K, PoolError>;

    fn visit<In, C>(self, mut input: In, cast: C) -> Result<K, PoolError>
    where
        In: Input + Send + 'static,
        In::Item: Send,
        C: Fn(In::Item) -> T + Copy + Send + Sync + 'static,
    {
        let OwnedBlockingCall {
            crew,
            task,
            make_sink,
            config,
            hint,
            progress,
            ..
        } = self;
        let sink = Arc::new(make_sink(hint, &mut |layout, len| input.lend(layout, len)));
        let task =
            move |state: &mut S, item, ctx: &WorkerContext<S::Shared>| task(state, cast(item), ctx);
        let call =
            Arc::new(MapCall::new(input, task, Arc::clone(&sink), config).with_progress(progress));
        crew.publish_on(
            Arc::clone(&call) as Arc<dyn Call<S> + Send>,
            participants(hint, config),
        );
        crew.wait();
        if let Some(err) = call.stop.take() {
            // What a failed call drops is the user's. A worker left behind
            // may still hold the call (and the sink within): it drops the
            // rest whenever its task returns.
            drop_quietly(call);
            drop_quietly(sink);
            return Err(err);
        }
        // Every worker let go of the call before it acknowledged it, and
        // the crew after the wait: this is the last count. The input drops
        // first, then the sink comes out whole.
        drop(call);
        Ok(Arc::into_inner(sink).expect("an owned call that ran is the caller's alone"))
    }

    fn visit_fed<I>(self, _iter: I) -> Result<K, PoolError>
    where
        I: Iterator<Item = T> + Send + 'static,
    {
        unreachable!("an owned blocking call runs over a vector, an indexed input")
    }
}

/// A streaming call, waiting for its input to be picked.
struct StreamCall<'c, S: WorkerState, F, T, O> {
    crew: &'c Crew<S>,
    task: F,
    ordered: bool,
    window: usize,
    config: CallConfig,
    hint: (usize, Option<usize>),
    /// The pool's feed thread, kept between streaming calls.
    feed_thread: &'c mut Option<FeedThread>,
    /// The call's progress bar.
    progress: Progress,
    types: PhantomData<fn(T) -> O>,
}

impl<S, F, T, O> InputVisitor<'static, T> for StreamCall<'_, S, F, T, O>
where
    S: WorkerState,
    F: Fn(&mut S, T, &WorkerContext<S::Shared>) -> Result<O, BoxError> + Send + Sync + 'static,
    T: Send + 'static,
    O: Send + 'static,
{
    type Output = Result<StreamRef<S, O>, PoolError>;

    fn visit<In, C>(self, input: In, cast: C) -> Self::Output
    where
        In: Input + Send + 'static,
        In::Item: Send,
        C: Fn(In::Item) -> T + Copy + Send + Sync + 'static,
    {
        let f = self.task;
        let task =
            move |state: &mut S, item, ctx: &WorkerContext<S::Shared>| f(state, cast(item), ctx);
        let sink = Stream::new(self.ordered, self.window);
        let call =
            Arc::new(MapCall::new(input, task, sink, self.config).with_progress(self.progress));
        self.crew
            .publish(Arc::clone(&call) as Arc<dyn Call<S> + Send>);
        Ok(call)
    }

    fn visit_fed<I>(self, iter: I) -> Self::Output
    where
        I: Iterator<Item = T> + Send + 'static,
    {
        let config = self.config;
        let input = Fed::new(
            self.hint,
            read_ahead(config),
            config.chunks,
            config.n_workers,
        );
        let sink = Stream::new(self.ordered, self.window);
        let call =
            Arc::new(MapCall::new(input, self.task, sink, config).with_progress(self.progress));
        // A thread of its own pulls the input, so that neither the consumer
        // nor a worker ever waits on it: dropping the `Imap` returns at once
        // while a pull is blocked, and the pull's item is dropped when it
        // comes.
        let feeding_call = Arc::clone(&call);
        let feeding: Feeding = Box::new(move || feeding_call.feed(iter));
        start_feeding(self.feed_thread, feeding)?;
        self.crew
            .publish(Arc::clone(&call) as Arc<dyn Call<S> + Send>);
        Ok(call)
    }
}

/// Publishes a streaming `call` fed in turns from `iter` on the consumer's
/// thread (see [`Runner::start_stream_in_turns`]).
fn publish_in_turns<'i, S, In, F, O, I>(
    crew: &Crew<S>,
    call: Arc<MapCall<In, F, Stream<O>>>,
    iter: I,
) -> (StreamRef<S, O>, Turns<'i>)
where
    S: WorkerState,
    In: Feedable + Send + 'static,
    In::Item: Send + 'static,
    F: Fn(&mut S, In::Item, &WorkerContext<S::Shared>) -> Result<O, BoxError>
        + Send
        + Sync
        + 'static,
    O: Send + 'static,
    I: Iterator<Item = In::Item> + Send + 'i,
{
    crew.publish(Arc::clone(&call) as Arc<dyn Call<S> + Send>);
    let fed = Arc::clone(&call);

    // Why no worker can touch `iter` once its borrow ends, even where
    // the `Imap` is leaked: `iter` moves into this closure only, which
    // the `Imap` owns and calls on its own thread. The crew and the
    // workers hold `call`, an `Arc<dyn Call<S> + Send>` whose type is
    // `'static` (the compiler checks it: it could not hold `iter`), and
    // reach the input only through the items already published, which
    // are `'static` too. A leaked `Imap` leaks `iter` with it, never
    // called again; a dropped one drops it on the consumer's thread.
    let mut iter = Some(iter);
    let turns: Turns<'i> = Box::new(move || fed.feed_turn(&mut iter));
    (call, turns)
}

/// Hands `feeding` to the pool's feed thread, or to a fresh one where there
/// is none yet, or where the last one is still blocked in a pull of a
/// dropped `imap` (that one ends once its pull returns).
fn start_feeding(thread: &mut Option<FeedThread>, feeding: Feeding) -> Result<(), PoolError> {
    let feeding = match thread.as_ref().filter(|t| t.is_idle()) {
        Some(idle) => match idle.run(feeding) {
            Ok(()) => return Ok(()),
            Err(feeding) => feeding,
        },
        None => feeding,
    };
    let fresh = FeedThread::spawn().map_err(PoolError::Feeder)?;
    // A fresh thread holds its receiver until its sender drops: it takes
    // the feeding.
    fresh
        .run(feeding)
        .map_err(|_| PoolError::Feeder(std::io::Error::other("the feed thread ended")))?;
    *thread = Some(fresh);
    Ok(())
}

/// How a streaming call stops: in input order, from the failed item on
/// (the items before it are still yielded); out of order, at once.
fn stream_stop(ordered: bool) -> StopMode {
    if ordered {
        StopMode::FromFailedItem
    } else {
        StopMode::AllItems
    }
}

/// The workers a blocking call has work for: one per item where the
/// input's length is known (`apply`: one), else all of them. The others are
/// not woken and do not acknowledge it.
fn participants(hint: (usize, Option<usize>), config: CallConfig) -> usize {
    match hint {
        (lo, Some(hi)) if lo == hi => lo.clamp(1, config.n_workers),
        _ => config.n_workers,
    }
}

/// Ends a blocking call's bar, and tells its failure, as it returns
/// `result`.
fn finish<T>(progress: &Progress, result: &Result<T, PoolError>) {
    if let Err(err) = result {
        trace::failure(err);
    }
    progress.finish(End::of(result));
}

/// The length of an input of `hint`, where it is exact.
fn exact(hint: (usize, Option<usize>)) -> Option<usize> {
    match hint {
        (lo, Some(hi)) if lo == hi => Some(lo),
        _ => None,
    }
}

/// `config` for a blocking call over an input of `hint` on `crew`: as many
/// seats (`n_workers` of the call: deques, input parts) as workers take it
/// (see [`participants`] and [`Crew::takers`]).
fn seated<S: WorkerState>(
    crew: &Crew<S>,
    hint: (usize, Option<usize>),
    config: CallConfig,
) -> CallConfig {
    CallConfig {
        n_workers: crew.takers(participants(hint, config)),
        ..config
    }
}

/// How far a streaming call runs ahead of its consumer (its window), and a
/// feeder ahead of the workers' claims, in items.
fn read_ahead(config: CallConfig) -> usize {
    config.read_ahead
}

/// The input's `size_hint`, or the failure of a `size_hint` that panicked.
fn size_hint(items: &impl Iterator) -> Result<(usize, Option<usize>), PoolError> {
    catch(|| items.size_hint()).map_err(|caught| PoolError::Input {
        index: None,
        message: caught.message,
        payload: caught.payload,
    })
}
