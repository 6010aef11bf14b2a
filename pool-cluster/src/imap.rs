//! Streaming calls on the cluster: batches of items in flight, two at a
//! time, their outputs yielded in input order or as they come.

use std::collections::{BTreeMap, VecDeque};

use pool_core::PoolError;

use crate::{keep_first, Answer, ClusterPool, ClusterState};

/// Batches in flight at once: one runs while the next travels.
const BATCHES: usize = 2;
/// The look-ahead unless `max_active` is set, in items a worker.
const ITEMS_PER_WORKER: usize = 128;

/// The stream of a cluster's [`imap`](ClusterPool::imap) or
/// [`imap_unordered`](ClusterPool::imap_unordered): an iterator of
/// `Result<Output, PoolError>` that ends after the last output or the first
/// failure.
pub struct ClusterImap<'p, S: ClusterState, I> {
    pool: &'p mut ClusterPool<S>,
    items: I,
    ordered: bool,
    /// Items a batch takes.
    batch: usize,
    /// The position of the next item pulled.
    pulled: usize,
    /// The input ended.
    exhausted: bool,
    /// Calls sent and not yet done, oldest first.
    in_flight: VecDeque<u64>,
    /// Outputs not yet yielded: by position (in order), or as they came.
    by_index: BTreeMap<usize, S::Out>,
    arrived: VecDeque<S::Out>,
    /// The position of the next output to yield, in order.
    next: usize,
    /// The first failure so far, and whether the stream ended.
    failure: Option<PoolError>,
    ended: bool,
}

impl<S: ClusterState, I> std::fmt::Debug for ClusterImap<'_, S, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterImap")
            .field("ordered", &self.ordered)
            .field("pulled", &self.pulled)
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl<'p, S: ClusterState, I: Iterator<Item = S::Item>> ClusterImap<'p, S, I> {
    pub(crate) fn new(pool: &'p mut ClusterPool<S>, items: I, ordered: bool) -> Self {
        let total = pool
            .max_active
            .unwrap_or(ITEMS_PER_WORKER.saturating_mul(pool.workers));
        let mut stream = ClusterImap {
            batch: (total / BATCHES).max(1),
            pool,
            items,
            ordered,
            pulled: 0,
            exhausted: false,
            in_flight: VecDeque::new(),
            by_index: BTreeMap::new(),
            arrived: VecDeque::new(),
            next: 0,
            failure: None,
            ended: false,
        };
        stream.pool.forget_earlier();
        if stream.pool.max_active == Some(0) {
            stream.failure = Some(PoolError::InvalidConfig(
                "max_active must be at least 1 item, got 0".into(),
            ));
        } else if let Err(err) = stream.pool.begin() {
            stream.failure = Some(err);
        }
        stream
    }

    /// How many items were sent and not yet yielded.
    pub fn look_ahead(&self) -> usize {
        self.pulled - self.next
    }

    /// Sends batches until two are in flight or the input ends.
    fn top_up(&mut self) -> Result<(), PoolError> {
        while self.in_flight.len() < BATCHES && !self.exhausted && self.failure.is_none() {
            let batch: Vec<S::Item> = self.items.by_ref().take(self.batch).collect();
            if batch.len() < self.batch {
                self.exhausted = true;
            }
            if batch.is_empty() {
                break;
            }
            let first = self.pulled;
            self.pulled += batch.len();
            let records = self.pool.records(first, batch);
            let call = self.pool.send(records)?;
            self.in_flight.push_back(call);
        }
        Ok(())
    }

    /// The next output ready to yield.
    fn ready(&mut self) -> Option<S::Out> {
        if self.ordered {
            let output = self.by_index.remove(&self.next)?;
            self.next += 1;
            Some(output)
        } else {
            let output = self.arrived.pop_front()?;
            self.next += 1;
            Some(output)
        }
    }

    /// Whether the failure comes now: in order, once every output before
    /// it was yielded.
    fn failure_due(&self) -> bool {
        match &self.failure {
            None => false,
            // In order, a failure of an item comes once every output
            // before it was yielded; one of a hook (an init, an exit), once
            // every output that will come was.
            Some(err) => {
                let drained = self.in_flight.is_empty() && !self.by_index.contains_key(&self.next);
                !self.ordered || err.index().map_or(drained, |at| at <= self.next) || drained
            }
        }
    }

    /// Waits for every batch in flight, dropping its outputs, and ends the
    /// lives where the pool does not keep them.
    fn finish(&mut self) -> Result<(), PoolError> {
        self.ended = true;
        while !self.in_flight.is_empty() {
            if let Answer::Done(call) = self.pool.receive()? {
                self.in_flight.retain(|c| *c != call);
            }
        }
        if !self.pool.keep_alive && self.pool.broken.is_none() {
            self.pool.end_lives()?;
        }
        Ok(())
    }
}

impl<S: ClusterState, I: Iterator<Item = S::Item>> Iterator for ClusterImap<'_, S, I> {
    type Item = Result<S::Out, PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        loop {
            if self.failure_due() {
                let err = self.failure.take();
                let _ = self.finish();
                return err.map(Err);
            }
            if let Some(output) = self.ready() {
                return Some(Ok(output));
            }
            if let Err(err) = self.top_up() {
                self.ended = true;
                return Some(Err(err));
            }
            if self.in_flight.is_empty() {
                return match self.finish() {
                    Ok(()) => None,
                    Err(err) => Some(Err(err)),
                };
            }
            match self.pool.receive() {
                Ok(Answer::Outputs(outputs)) => {
                    for (index, output) in outputs {
                        if self.ordered {
                            self.by_index.insert(index, output);
                        } else {
                            self.arrived.push_back(output);
                        }
                    }
                }
                Ok(Answer::Failed(err)) => keep_first(&mut self.failure, err),
                Ok(Answer::Done(call)) => self.in_flight.retain(|c| *c != call),
                Err(err) => {
                    self.ended = true;
                    return Some(Err(err));
                }
            }
        }
    }
}

impl<S: ClusterState, I> Drop for ClusterImap<'_, S, I> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        // The answers of the batches in flight must not reach the pool's
        // next call.
        while !self.in_flight.is_empty() {
            match self.pool.receive() {
                Ok(Answer::Done(call)) => self.in_flight.retain(|c| *c != call),
                Ok(_) => {}
                Err(_) => return,
            }
        }
        if !self.pool.keep_alive && self.pool.broken.is_none() {
            // A failed exit has no caller left to go to.
            let _ = self.pool.end_lives();
        }
    }
}
