//! One worker's side of the lifecycle: its state, its lives, its task count.

use std::marker::PhantomData;
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

    /// Runs the items of a chunk in order, giving each output to `out`.
    /// Stops before an item at or past `stop.limit()` (as read when its block
    /// starts) and at the first failure; every failure, of a task or of a
    /// hook that runs around it (a lazy init, the exit at the end of a
    /// lifespan, the re-init after a panic), goes to `report`.
    ///
    /// Items run in blocks of up to `block`: the stop limit is read before
    /// each block, and the outputs of a block go straight into a window of
    /// `out`, so that the per-item path is the task and a store. One
    /// `catch_unwind` covers the whole chunk.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_chunk<T, O>(
        &mut self,
        chunk: impl Chunk<Item = T>,
        lifespan: Option<usize>,
        block: usize,
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
            let block = block.max(1);
            let mut index = start;
            loop {
                let limit = stop.limit();
                if index >= limit {
                    break;
                }
                let Some(mut item) = items.next() else {
                    break;
                };
                if this.state.is_none() {
                    this.ensure_life()?;
                }
                let state = this.state.as_mut().expect("a life is running");
                let left_in_life =
                    lifespan.map_or(usize::MAX, |k| k.saturating_sub(this.tasks_in_life).max(1));
                let want = block
                    .min(left_in_life)
                    .min(limit - index)
                    .min(items.size_hint().0.saturating_add(1));
                let (slots, room) = out.window(want);
                let len = want.min(room);
                // Takes the block's outputs into `out` when the block ends,
                // by a panic too.
                let mut written = Written {
                    run: out,
                    n: 0,
                    _outputs: PhantomData,
                };
                let failure = loop {
                    match task(state, item) {
                        // SAFETY: `written.n < len <= room`: a slot of the
                        // window, written once.
                        Ok(output) => unsafe { slots.add(written.n).write(output) },
                        Err(source) => break Some(source),
                    }
                    written.n += 1;
                    if written.n == len {
                        break None;
                    }
                    match items.next() {
                        Some(following) => item = following,
                        None => break None,
                    }
                };
                let ok = written.n;
                drop(written);
                index += ok;
                this.tasks_in_life += ok + usize::from(failure.is_some());
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

/// Outputs written into a window of a [`Run`], taken by the run when this
/// drops.
struct Written<'a, O, R: Run<O>> {
    run: &'a mut R,
    /// Slots of the window written so far, from its first.
    n: usize,
    _outputs: PhantomData<fn(O)>,
}

impl<O, R: Run<O>> Drop for Written<'_, O, R> {
    fn drop(&mut self) {
        // SAFETY: the loop that counts `n` writes the window's slots in
        // order, counting each once written, and touches the run only
        // through this guard.
        unsafe { self.run.commit(self.n) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::StopMode;
    use crate::sink::Outputs;

    /// Counts the tasks of each life; its exit hands the count over.
    struct Life {
        ran: usize,
    }

    impl WorkerState for Life {
        fn start_life(_: &WorkerContext) -> Result<Self, BoxError> {
            Ok(Life { ran: 0 })
        }

        fn end_life(self, _: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
            Ok(Some(ExitValue::new(self.ran)))
        }
    }

    struct Items {
        start: usize,
        items: std::ops::Range<usize>,
    }

    impl Iterator for Items {
        type Item = usize;

        fn next(&mut self) -> Option<usize> {
            self.items.next()
        }

        fn size_hint(&self) -> (usize, Option<usize>) {
            self.items.size_hint()
        }
    }

    impl Chunk for Items {
        fn start(&self) -> usize {
            self.start
        }
    }

    struct Ran {
        outputs: Vec<String>,
        failures: Vec<PoolError>,
        lives: Vec<usize>,
    }

    /// Runs items `0..len`, at positions from `start`, in blocks of `block`.
    fn run(
        start: usize,
        len: usize,
        block: usize,
        lifespan: Option<usize>,
        stop: &Stop,
        task: impl Fn(&mut Life, usize) -> Result<String, BoxError>,
    ) -> Ran {
        let exits = ExitStore::default();
        let mut worker = Worker::<Life>::new(WorkerContext::new(0, 1), exits.clone());
        let mut out = Outputs::new(start, len);
        let failures = Mutex::new(Vec::new());
        let report = |err| failures.lock().unwrap().push(err);
        let items = Items {
            start,
            items: 0..len,
        };
        let task = |life: &mut Life, x: usize| {
            life.ran += 1;
            task(life, x)
        };
        worker.run_chunk(items, lifespan, block, stop, &task, &mut out, &report);
        worker.end_life().unwrap();
        let lives: Vec<ExitValue> = exits.lock().unwrap().drain(..).collect();
        Ran {
            outputs: out.items,
            failures: failures.into_inner().unwrap(),
            lives: lives
                .into_iter()
                .map(|v| v.downcast().ok().unwrap())
                .collect(),
        }
    }

    fn show(x: usize) -> Result<String, BoxError> {
        Ok(x.to_string())
    }

    #[test]
    fn blocks_keep_the_outputs_in_order_and_lives_to_their_span() {
        let all = Stop::new(StopMode::All);
        for block in [1, 3, 4, 64] {
            let ran = run(0, 10, block, None, &all, |_, x| show(x));
            assert_eq!(
                ran.outputs,
                (0..10).map(|x| x.to_string()).collect::<Vec<_>>()
            );
            assert_eq!(ran.lives, [10]);
            let ran = run(0, 10, block, Some(3), &all, |_, x| show(x));
            assert_eq!(ran.outputs.len(), 10);
            assert_eq!(ran.lives, [3, 3, 3, 1], "block {block}");
            assert!(ran.failures.is_empty());
        }
    }

    #[test]
    fn a_failure_inside_a_block_has_its_position() {
        let all = Stop::new(StopMode::All);
        let ran = run(100, 20, 8, None, &all, |_, x| {
            if x == 13 {
                Err("no".into())
            } else {
                show(x)
            }
        });
        assert_eq!(ran.outputs.len(), 13);
        assert!(matches!(
            ran.failures[..],
            [PoolError::Task { index: 113, .. }]
        ));
        // The failing task counts in its life.
        assert_eq!(ran.lives, [14]);
    }

    #[test]
    fn a_panic_inside_a_block_keeps_the_outputs_before_it() {
        let all = Stop::new(StopMode::All);
        let ran = run(100, 20, 8, None, &all, |_, x| {
            assert!(x != 13, "boom");
            show(x)
        });
        assert_eq!(
            ran.outputs,
            (0..13).map(|x| x.to_string()).collect::<Vec<_>>()
        );
        assert!(matches!(
            ran.failures[..],
            [PoolError::Panic {
                index: Some(113),
                ..
            }]
        ));
        // The panicked life ends without exit; a fresh one starts at once.
        assert_eq!(ran.lives, [0]);
    }

    #[test]
    fn a_block_stops_at_a_limit_set_before_it() {
        // `imap` keeps the items before a failure: the limit is its position.
        let after = Stop::new(StopMode::After);
        after.fail(PoolError::Task {
            index: 6,
            worker_id: 1,
            source: "earlier".into(),
        });
        let ran = run(0, 20, 64, None, &after, |_, x| show(x));
        assert_eq!(ran.outputs.len(), 6);
    }

    #[test]
    fn the_stop_limit_is_read_before_each_block() {
        for (block, ran_before_stop) in [(1, 3), (4, 4), (16, 10)] {
            let stop = Stop::new(StopMode::All);
            let ran = run(0, 10, block, None, &stop, |_, x| {
                if x == 2 {
                    stop.cancel();
                }
                show(x)
            });
            assert_eq!(ran.outputs.len(), ran_before_stop, "block {block}");
        }
    }
}
