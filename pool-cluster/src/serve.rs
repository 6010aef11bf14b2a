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

use pool_core::{BoxError, WorkerContext};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Probe;
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

use crate::wire::{Down, DownBody, FailKind, Up};
use crate::ClusterState;

/// Records down, as the driver hands them to worker 0.
pub(crate) type DownOf<S> = Down<<S as ClusterState>::Item>;
/// Records up, as worker 0 hands them to the driver.
pub(crate) type UpOf<S> = Up<<S as ClusterState>::Out, <S as ClusterState>::ExitOut>;

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
    /// Answers, as many as one step brought.
    Up(Vec<UpOf<S>>),
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

    fn handle(&mut self, body: DownBody<S::Item>, out: &mut impl FnMut(UpOf<S>)) {
        match body {
            DownBody::Setup { shared, lifespan } => {
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
            DownBody::Items { first, items } => {
                let mut outputs = Vec::with_capacity(items.len());
                for (k, item) in items.into_iter().enumerate() {
                    if let Some(output) = self.run(first + k, item, out) {
                        outputs.push((first + k, output));
                    }
                }
                out(Up::Outputs(outputs));
            }
            DownBody::EndLife => self.end(out),
        }
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

    fn end(&mut self, out: &mut impl FnMut(UpOf<S>)) {
        let (Some(state), Some(ctx)) = (self.state.take(), self.ctx.as_ref()) else {
            return;
        };
        match catch_unwind(AssertUnwindSafe(|| S::finish(state, ctx))) {
            Ok(Ok(Some(output))) => out(Up::Exit { output }),
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
    let collected: Rc<RefCell<Vec<UpOf<S>>>> = Rc::new(RefCell::new(Vec::new()));
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
        input
            .to_stream(scope)
            .unary(
                Exchange::new(|down: &DownOf<S>| down.to),
                "statepool tasks",
                move |_, _| {
                    move |input, output| {
                        input.for_each(|cap, data| {
                            let mut session = output.session(&cap);
                            for down in data.drain(..) {
                                life.handle(down.body, &mut |up| session.give(up));
                            }
                        });
                    }
                },
            )
            .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                Exchange::new(|_: &UpOf<S>| 0),
                "statepool answers",
                move |_, _| {
                    move |input, _output| {
                        input.for_each(|_cap, data| {
                            sink.borrow_mut().extend(data.drain(..));
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
        let answers = std::mem::take(&mut *collected.borrow_mut());
        if !answers.is_empty() && events.send(Event::Up(answers)).is_err() {
            return;
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
