//! What every timely worker runs: one statepool worker life at a time, fed
//! by the `Down` records routed to it, answering with `Up` records that go
//! to worker 0. Worker 0 also bridges the dataflow and the driver.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

use pool_core::{BoxError, WorkerContext};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::Probe;
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

use crate::wire::{Down, DownBody, FailKind, Up};
use crate::ClusterState;

/// The longest a worker runs tasks before it hands what it has to timely
/// (its answers go out, and worker 0 goes back to the driver's channel):
/// the driver hears from the cluster at least this often while tasks are
/// shorter than it.
const SLICE: Duration = Duration::from_millis(5);
/// Items that take less than this between two clock reads make the next
/// stride twice as long.
const STRIDE_GROW: Duration = Duration::from_micros(50);
/// The most items between two clock reads.
const MAX_STRIDE: usize = 1024;

/// Answers that reached worker 0, each with its timestamp.
type Answers<S> = Vec<(u64, UpOf<S>)>;

/// Records down, as the driver hands them to worker 0.
pub(crate) type DownOf<S> = Down<<S as ClusterState>::Item>;
/// Records up, as worker 0 hands them to the driver.
pub(crate) type UpOf<S> = Up<<S as ClusterState>::Out>;

/// What the driver asks of worker 0.
pub(crate) enum Command<S: ClusterState> {
    /// Sends `records` at the next timestamp; answers `Done(call)` once
    /// every answer to them reached worker 0.
    Send { call: u64, records: Vec<DownOf<S>> },
    /// Closes the input: every worker ends.
    Stop,
}

/// What worker 0 tells the driver.
pub(crate) enum Event<S: ClusterState> {
    /// Worker 0's thread, to wake it after a command.
    Ready(Thread),
    /// Answers to call `.0`, as many as one step brought.
    Up(u64, Vec<UpOf<S>>),
    Done(u64),
}

/// The driver's ends of worker 0's channels, taken by worker 0.
pub(crate) type Bridge<S> = Arc<Mutex<Option<(Receiver<Command<S>>, Sender<Event<S>>)>>>;

/// A worker's statepool side: the state of its current life.
struct Life<S: ClusterState> {
    worker_id: usize,
    peers: usize,
    ctx: Option<WorkerContext<S::Shared>>,
    state: Option<S>,
    lifespan: Option<usize>,
    tasks_in_life: usize,
}

fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not a string".to_string()
    }
}

impl<S: ClusterState> Life<S> {
    fn failed(&self, index: Option<usize>, kind: FailKind, message: String) -> UpOf<S> {
        Up::Failed {
            index,
            worker_id: self.worker_id,
            kind,
            message,
        }
    }

    /// Takes the pool's settings: its shared object (serialised), the
    /// first time, and its lifespan.
    fn setup(
        &mut self,
        shared: Option<Vec<u8>>,
        lifespan: Option<usize>,
        out: &mut impl FnMut(UpOf<S>),
    ) {
        if let Some(bytes) = shared {
            match bincode::deserialize::<S::Shared>(&bytes) {
                Ok(shared) => {
                    self.ctx = Some(WorkerContext::with_shared(
                        self.worker_id,
                        self.peers,
                        shared,
                    ));
                }
                Err(err) => out(self.failed(
                    None,
                    FailKind::Init,
                    format!("the shared object could not be decoded: {err}"),
                )),
            }
        }
        self.lifespan = lifespan;
    }

    /// Starts a life unless one runs; `false` (after reporting) if the
    /// init failed.
    fn ensure(&mut self, out: &mut impl FnMut(UpOf<S>)) -> bool {
        if self.state.is_some() {
            return true;
        }
        let Some(ctx) = &self.ctx else {
            out(self.failed(None, FailKind::Init, "no setup reached this worker".into()));
            return false;
        };
        match catch_unwind(AssertUnwindSafe(|| S::start_life(ctx))) {
            Ok(Ok(state)) => {
                self.state = Some(state);
                self.tasks_in_life = 0;
                true
            }
            Ok(Err(err)) => {
                out(self.failed(None, FailKind::Init, err.to_string()));
                false
            }
            Err(payload) => {
                out(self.failed(None, FailKind::InitPanic, message(payload)));
                false
            }
        }
    }

    /// Runs the items of a run, the first at position `first`, until the
    /// run ends or the slice that began at `started` has lasted
    /// [`SLICE`]: hands their outputs to `out` as one record, and returns
    /// what is left of the run.
    fn run_slice(
        &mut self,
        first: usize,
        items: Vec<S::Item>,
        started: Instant,
        out: &mut impl FnMut(UpOf<S>),
    ) -> Option<DownBody<S::Item>> {
        let mut outputs = Vec::with_capacity(items.len());
        let mut items = items.into_iter();
        let mut at = first;
        // The clock is read every `stride` items: rarely for fast items,
        // after each slow one.
        let (mut stride, mut since, mut checked) = (1usize, 0usize, started);
        let mut left = None;
        while let Some(item) = items.next() {
            if let Some(output) = self.run(at, item, out) {
                outputs.push((at, output));
            }
            at += 1;
            since += 1;
            if since < stride {
                continue;
            }
            since = 0;
            let now = Instant::now();
            stride = if now.duration_since(checked) < STRIDE_GROW {
                (stride * 2).min(MAX_STRIDE)
            } else {
                (stride / 2).max(1)
            };
            checked = now;
            if now.duration_since(started) >= SLICE && items.len() > 0 {
                left = Some(DownBody::Items {
                    first: at,
                    items: items.collect(),
                });
                break;
            }
        }
        if !outputs.is_empty() {
            out(Up::Outputs(outputs));
        }
        left
    }

    /// Runs the task on `item`: its output, or `None` after reporting its
    /// failure.
    fn run(
        &mut self,
        index: usize,
        item: S::Item,
        out: &mut impl FnMut(UpOf<S>),
    ) -> Option<S::Out> {
        if !self.ensure(out) {
            return None;
        }
        let (Some(state), Some(ctx)) = (self.state.as_mut(), self.ctx.as_ref()) else {
            return None;
        };
        let ran: std::thread::Result<Result<S::Out, BoxError>> =
            catch_unwind(AssertUnwindSafe(|| state.run_item(item, ctx)));
        self.tasks_in_life += 1;
        let output = match ran {
            Ok(Ok(output)) => Some(output),
            Ok(Err(err)) => {
                out(self.failed(Some(index), FailKind::Task, err.to_string()));
                None
            }
            Err(payload) => {
                // The state may be half-updated: the life ends without its
                // exit, and the next item starts a fresh one.
                if let Some(state) = self.state.take() {
                    let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
                }
                out(self.failed(Some(index), FailKind::TaskPanic, message(payload)));
                return None;
            }
        };
        if self.lifespan.is_some_and(|k| self.tasks_in_life >= k) {
            self.end(out);
        }
        output
    }

    /// Ends the life, if one runs: its exit hook, and its output sent.
    /// Where the hook borrows the state, as on one machine, its output is
    /// kept even if dropping the state panics afterwards.
    fn end(&mut self, out: &mut impl FnMut(UpOf<S>)) {
        let (Some(mut state), Some(ctx)) = (self.state.take(), self.ctx.as_ref()) else {
            return;
        };
        let in_place = catch_unwind(AssertUnwindSafe(|| state.end_life_in_place(ctx)));
        let ended = match in_place {
            Ok(Some(ended)) => {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(state))) {
                    out(self.failed(None, FailKind::DropPanic, message(payload)));
                }
                Ok(ended)
            }
            Ok(None) => catch_unwind(AssertUnwindSafe(move || state.end_life(ctx))),
            Err(payload) => {
                let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
                Err(payload)
            }
        };
        let sent = ended.and_then(|ended| {
            catch_unwind(AssertUnwindSafe(|| {
                ended.map(|value| value.map(|value| crate::encode_exit::<S>(&value)))
            }))
        });
        match sent {
            Ok(Ok(Some(Ok(output)))) => out(Up::Exit {
                worker_id: self.worker_id,
                output,
            }),
            Ok(Ok(Some(Err(message)))) => out(self.failed(None, FailKind::Exit, message)),
            Ok(Ok(None)) => {}
            Ok(Err(err)) => out(self.failed(None, FailKind::Exit, err.to_string())),
            Err(payload) => out(self.failed(None, FailKind::ExitPanic, message(payload))),
        }
    }
}

/// Builds the dataflow on `worker` and, on worker 0, bridges it to the
/// driver until it stops. Other workers return at once: timely then steps
/// them until worker 0 closes the input.
pub(crate) fn serve<S: ClusterState>(worker: &mut Worker, bridge: &Bridge<S>) {
    let index = worker.index();
    let peers = worker.peers();
    let mut input: InputHandle<u64, CapacityContainerBuilder<Vec<DownOf<S>>>> = InputHandle::new();
    let probe = ProbeHandle::new();
    // Answers that reached worker 0, with the timestamp of their call.
    let collected: Rc<RefCell<Answers<S>>> = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&collected);
    worker.dataflow::<u64, _, _>(|scope| {
        let mut life = Life::<S> {
            worker_id: index,
            peers,
            ctx: None,
            state: None,
            lifespan: None,
            tasks_in_life: 0,
        };
        let activations = scope;
        input
            .to_stream(scope)
            .unary(
                Exchange::new(|down: &DownOf<S>| down.to),
                "statepool tasks",
                move |_, info| {
                    let activator = activations.activator_for(info.address);
                    // Records taken in and not yet done, in order, each with
                    // the capability of its timestamp.
                    let mut pending: VecDeque<(Capability<u64>, DownBody<S::Item>)> =
                        VecDeque::new();
                    move |input, output| {
                        let port = output.output_index();
                        input.for_each(|cap, data| {
                            let Some(cap) = cap.retain_least(port) else {
                                return;
                            };
                            for down in data.drain(..) {
                                pending.push_back((cap.clone(), down.body));
                            }
                        });
                        // A slice of work, then back to timely: the answers
                        // so far go out, and worker 0 goes back to its loop.
                        let started = Instant::now();
                        while let Some((cap, body)) = pending.pop_front() {
                            let mut session = output.session(&cap);
                            let mut give = |up| session.give(up);
                            let left = match body {
                                DownBody::Items { first, items } => {
                                    life.run_slice(first, items, started, &mut give)
                                }
                                DownBody::Setup { shared, lifespan } => {
                                    life.setup(shared, lifespan, &mut give);
                                    None
                                }
                                DownBody::EndLife => {
                                    life.end(&mut give);
                                    None
                                }
                            };
                            drop(session);
                            if let Some(left) = left {
                                pending.push_front((cap, left));
                                activator.activate();
                                break;
                            }
                        }
                    }
                },
            )
            .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                Exchange::new(|_: &UpOf<S>| 0),
                "statepool answers",
                move |_, _| {
                    move |input, _output| {
                        input.for_each(|cap, data| {
                            let time = cap.least().copied().unwrap_or_default();
                            sink.borrow_mut()
                                .extend(data.drain(..).map(|up| (time, up)));
                        });
                    }
                },
            )
            .probe_with(&probe);
    });
    if index != 0 {
        // Only worker 0 feeds the input: the others close theirs, or the
        // frontier would never move.
        drop(input);
        return;
    }
    let Some((commands, events)) = bridge.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    if events.send(Event::Ready(std::thread::current())).is_err() {
        return;
    }
    // Timestamps sent and not yet complete, with their calls.
    let mut pending: VecDeque<(u64, u64)> = VecDeque::new();
    let mut time = 0u64;
    loop {
        let command = if pending.is_empty() {
            match commands.recv() {
                Ok(command) => Some(command),
                Err(_) => break,
            }
        } else {
            match commands.try_recv() {
                Ok(command) => Some(command),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => break,
            }
        };
        match command {
            Some(Command::Send { call, records }) => {
                for record in records {
                    input.send(record);
                }
                time += 1;
                input.advance_to(time);
                pending.push_back((time, call));
                continue;
            }
            Some(Command::Stop) => break,
            None => {}
        }
        worker.step_or_park(None);
        // Answers carry their call's timestamp: records sent before the
        // input advanced to `t` have the timestamp `t - 1`.
        let answers = std::mem::take(&mut *collected.borrow_mut());
        let mut answers = answers.into_iter().peekable();
        while let Some((time, up)) = answers.next() {
            let mut batch = vec![up];
            while let Some((_, up)) = answers.next_if(|(t, _)| *t == time) {
                batch.push(up);
            }
            let call = pending
                .iter()
                .find(|(t, _)| *t == time + 1)
                .map_or(0, |(_, call)| *call);
            if events.send(Event::Up(call, batch)).is_err() {
                return;
            }
        }
        while let Some(&(t, call)) = pending.front() {
            if probe.less_than(&t) {
                break;
            }
            pending.pop_front();
            if events.send(Event::Done(call)).is_err() {
                return;
            }
        }
    }
    drop(input);
}
