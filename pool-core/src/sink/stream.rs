//! The sink of a streaming call (`imap`, `imap_unordered`): outputs wait
//! here for the consumer, within a bounded look-ahead [`Window`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::outputs::VecOutputs;
use super::{Sink, Window};
use crate::stop::Stop;
use crate::sync::{lock, wait};
use crate::unwind::drop_quietly;
use crate::PoolError;

/// Rounds the consumer looks for outputs again before it sleeps.
const SPINS_BEFORE_SLEEP: u32 = 32;

/// Outputs waiting for the consumer.
enum Pending<O> {
    /// By input position: the consumer takes them in order.
    Ordered(BTreeMap<usize, Vec<O>>),
    /// In completion order.
    Unordered(VecDeque<Vec<O>>),
}

struct Outbox<O> {
    pending: Pending<O>,
    /// The input's length, once it is exhausted.
    total: Option<usize>,
    /// What the consumer sleeps for: the chunk at this position in order,
    /// any chunk (`usize::MAX`) out of order; `None` while it is awake.
    /// Deliveries wake it only for that, so a busy stream makes no syscall.
    wanted: Option<usize>,
}

/// Outputs on their way to the consumer of a streaming call.
pub(crate) struct Stream<O> {
    outbox: Mutex<Outbox<O>>,
    /// The consumer waits here for outputs.
    ready: Condvar,
    window: Window,
    ordered: bool,
}

impl<O> Stream<O> {
    pub(crate) fn new(ordered: bool, window: usize) -> Self {
        let pending = if ordered {
            Pending::Ordered(BTreeMap::new())
        } else {
            Pending::Unordered(VecDeque::new())
        };
        Stream {
            outbox: Mutex::new(Outbox {
                pending,
                total: None,
                wanted: None,
            }),
            ready: Condvar::new(),
            window: Window::new(window),
            ordered,
        }
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox<O>> {
        lock(&self.outbox)
    }

    /// Wakes the consumer if it sleeps.
    fn wake_consumer(&self, outbox: MutexGuard<'_, Outbox<O>>) {
        let asleep = outbox.wanted.is_some();
        drop(outbox);
        if asleep {
            self.ready.notify_one();
        }
    }

    /// The consumer's next outputs, after `yielded` items were yielded:
    /// blocks until outputs, a failure due at this point, or the end
    /// (`None`) are there. `pulled()` counts the items pulled so far, to
    /// make room in the window for the outputs taken.
    ///
    /// In order, a failure is due once every output before its item was
    /// yielded, and outputs at or past a failure are not yielded; out of
    /// order, a failure is due at once.
    pub(crate) fn next_outputs(
        &self,
        yielded: usize,
        stop: &Stop,
        pulled: impl Fn() -> usize,
    ) -> Option<Result<Vec<O>, PoolError>> {
        let mut outbox = self.outbox();
        let mut spins = 0;
        loop {
            {
                let mut first = stop.first();
                let due = match first.as_ref() {
                    // Every output before the stop's limit was yielded: the
                    // failed item's position, or 0 for a failure of no
                    // item or a timeout.
                    Some(_) if self.ordered => stop.limit() <= yielded,
                    Some(_) => true,
                    None => false,
                };
                if due {
                    return first.take().map(Err);
                }
            }
            let chunk = match &mut outbox.pending {
                Pending::Ordered(map) => map.remove(&yielded),
                Pending::Unordered(queue) => queue.pop_front(),
            };
            if let Some(mut outputs) = chunk {
                if self.ordered {
                    // Outputs at or past a later-recorded failure are not yielded.
                    let keep = stop.limit().saturating_sub(yielded);
                    if outputs.len() > keep {
                        drop_quietly(outputs.split_off(keep));
                    }
                }
                outbox.wanted = None;
                drop(outbox);
                self.window.take(outputs.len(), pulled());
                return Some(Ok(outputs));
            }
            if outbox.total == Some(yielded) {
                return None;
            }
            if spins < SPINS_BEFORE_SLEEP {
                // Outputs of cheap tasks arrive within microseconds: look
                // again before paying for a sleep and a wake-up. Not
                // `Backoff`: it yields after a few rounds, and the consumer
                // of a fast stream is better off spinning a little longer.
                spins += 1;
                drop(outbox);
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                outbox = self.outbox();
                continue;
            }
            outbox.wanted = Some(if self.ordered { yielded } else { usize::MAX });
            outbox = wait(&self.ready, outbox);
            outbox.wanted = None;
        }
    }
}

impl<O: Send> Sink<O> for Stream<O> {
    type Outputs = VecOutputs<O>;

    fn open(&self, start: usize, len: usize) -> VecOutputs<O> {
        VecOutputs::new(start, len)
    }

    fn deliver(&self, outputs: VecOutputs<O>) {
        let VecOutputs {
            start,
            items: outputs,
        } = outputs;
        if outputs.is_empty() {
            return;
        }
        let mut outbox = self.outbox();
        match &mut outbox.pending {
            Pending::Ordered(map) => {
                map.insert(start, outputs);
            }
            Pending::Unordered(queue) => queue.push_back(outputs),
        }
        let wake = outbox.wanted.is_some_and(|w| w == start || w == usize::MAX);
        drop(outbox);
        if wake {
            self.ready.notify_one();
        }
    }

    fn end(&self, total: usize) {
        let mut outbox = self.outbox();
        outbox.total = Some(total);
        self.wake_consumer(outbox);
    }

    fn halted(&self) {
        self.wake_consumer(self.outbox());
        self.window.wake();
    }

    fn window(&self) -> Option<&Window> {
        Some(&self.window)
    }
}
