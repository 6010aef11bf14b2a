//! One worker's side of the lifecycle: its state, its lives, its task count.

use std::sync::{Arc, Mutex};

use crate::input::Chunk;
use crate::job::Run;
use crate::job::Stop;
use crate::unwind::{catch, drop_quietly};
use crate::{BoxError, ExitValue, PoolError, WorkerContext, WorkerState};

/// Exit hook outputs, shared by the pool and its workers until
/// `Pool::exit_results` drains them.
pub(crate) type ExitStore = Arc<Mutex<Vec<ExitValue>>>;

/// The thread-local half of a worker: owns the state of the current life.
/// Never leaves its thread, so `S` needs not be `Send`.
pub(crate) struct Worker<S> {
    ctx: WorkerContext,
    state: Option<S>,
    tasks_in_life: usize,
    exits: ExitStore,
}

impl<S: WorkerState> Worker<S> {
    pub(crate) fn new(ctx: WorkerContext, exits: ExitStore) -> Self {
        Worker {
            ctx,
            state: None,
            tasks_in_life: 0,
            exits,
        }
    }

    pub(crate) fn id(&self) -> usize {
        self.ctx.worker_id()
    }

    /// Starts a life unless one is running.
    pub(crate) fn ensure_life(&mut self) -> Result<&mut S, PoolError> {
        if self.state.is_none() {
            let ctx = self.ctx;
            let state = match catch(|| S::start_life(&ctx)) {
                Ok(Ok(state)) => state,
                Ok(Err(source)) => {
                    return Err(PoolError::Init {
                        worker_id: self.id(),
                        source,
                    })
                }
                Err(message) => return Err(self.hook_panic(message)),
            };
            self.tasks_in_life = 0;
            self.state = Some(state);
        }
        Ok(self.state.as_mut().expect("a life was just started"))
    }

    /// Ends the current life, if any, running the exit hook and keeping its
    /// output for `exit_results`.
    pub(crate) fn end_life(&mut self) -> Result<(), PoolError> {
        let Some(state) = self.state.take() else {
            return Ok(());
        };
        let ctx = self.ctx;
        match catch(move || state.end_life(&ctx)) {
            Ok(Ok(Some(value))) => {
                self.exits
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(value);
                Ok(())
            }
            Ok(Ok(None)) => Ok(()),
            Ok(Err(source)) => Err(PoolError::Exit {
                worker_id: self.id(),
                source,
            }),
            Err(message) => Err(self.hook_panic(message)),
        }
    }

    /// Ends the current life without its exit hook, after a panic.
    pub(crate) fn abandon_life(&mut self) {
        if let Some(state) = self.state.take() {
            drop_quietly(state);
        }
    }

    /// Runs the items of a chunk in order, giving
    /// each output to `out`. Stops before an item at or past `stop.limit()`
    /// and at the first failure; every failure, of a task or of a hook that
    /// runs around it (a lazy init, the exit at the end of a lifespan, the
    /// re-init after a panic), goes to `report`.
    ///
    /// One `catch_unwind` covers the whole chunk, so the per-item path is
    /// free of indirect calls.
    pub(crate) fn run_chunk<T, O>(
        &mut self,
        chunk: impl Chunk<Item = T>,
        lifespan: Option<usize>,
        stop: &Stop,
        task: &impl Fn(&mut S, T) -> Result<O, BoxError>,
        out: &mut impl Run<O>,
        report: &dyn Fn(PoolError),
    ) {
        let start = chunk.start();
        let caught = catch(|| {
            // Locals, not the closure's captures, so that the hot loop keeps
            // them in registers.
            let (this, mut items, stop, task, out) = (&mut *self, chunk, stop, task, &mut *out);
            let mut index = start;
            let mut next = items.next();
            // One round per life: the inner loop runs the items of the
            // current life with no per-item bookkeeping but the stop check.
            while let Some(first) = next.take() {
                if this.state.is_none() {
                    this.ensure_life()?;
                }
                let state = this.state.as_mut().expect("a life is running");
                let left_in_life =
                    lifespan.map_or(usize::MAX, |k| k.saturating_sub(this.tasks_in_life).max(1));
                let mut ran = 0;
                let mut item = first;
                let failure = loop {
                    if index >= stop.limit() {
                        break None;
                    }
                    ran += 1;
                    match task(state, item) {
                        Ok(output) => out.push(output),
                        Err(source) => break Some(source),
                    }
                    index += 1;
                    if ran == left_in_life {
                        next = items.next();
                        break None;
                    }
                    match items.next() {
                        Some(following) => item = following,
                        None => break None,
                    }
                };
                this.tasks_in_life += ran;
                this.end_life_after(lifespan, report);
                if let Some(source) = failure {
                    return Err(PoolError::Task {
                        index,
                        worker_id: this.id(),
                        source,
                    });
                }
            }
            Ok(())
        });
        match caught {
            Ok(Ok(())) => {}
            Ok(Err(err)) => report(err),
            Err(message) => {
                // The state may be half-updated: this life ends without exit,
                // and a fresh one starts right away.
                self.abandon_life();
                // The item that panicked is the first without an output.
                let panic = PoolError::Panic {
                    index: Some(start + out.pushed()),
                    worker_id: self.id(),
                    message,
                };
                report(panic);
                if let Err(err) = self.ensure_life() {
                    report(err);
                }
            }
        }
    }

    /// Ends the life if it has run `lifespan` tasks.
    #[inline]
    fn end_life_after(&mut self, lifespan: Option<usize>, report: &dyn Fn(PoolError)) {
        if lifespan.is_some_and(|k| self.tasks_in_life >= k) {
            if let Err(err) = self.end_life() {
                report(err);
            }
        }
    }

    fn hook_panic(&self, message: String) -> PoolError {
        PoolError::Panic {
            index: None,
            worker_id: self.id(),
            message,
        }
    }
}
