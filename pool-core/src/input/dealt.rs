//! Inputs dealt to the workers by position: item `i` to worker
//! `i % n_workers` (mpire's `order_tasks`), so that the state a worker
//! built for an item is the one that sees it in the next call. Each item is
//! a chunk of its own, and the call does not steal.
//!
//! - [`Dealt`], for a blocking call: the caller pulls the whole input
//!   first, and each item goes into its worker's deque before the call
//!   starts.
//! - [`DealtFeed`], for a streaming call: a feeder puts each item into its
//!   worker's queue as the input yields it, as far ahead of the consumer as
//!   the stream's window allows.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crossbeam_deque::Worker as Deque;
use crossbeam_utils::CachePadded;

use super::{Chunk, ChunkPolicy, Feedable, Injected, Input, Publish, Pull, Room, Sizer};
use crate::sync::{lock, wait};
use crate::unwind::drop_quietly;

/// The items of a call, each tagged with its position, until they are
/// dealt.
pub(crate) struct Dealt<T> {
    items: std::sync::Mutex<Vec<T>>,
    total: usize,
    sizer: Sizer,
}

impl<T: Send> Dealt<T> {
    pub(crate) fn new(items: Vec<T>, policy: ChunkPolicy, n_workers: usize) -> Self {
        Dealt {
            total: items.len(),
            items: std::sync::Mutex::new(items),
            sizer: Sizer::new(policy, n_workers),
        }
    }

    /// Puts item `i` into `deques[i % deques.len()]`, in order: a worker
    /// runs its items in input order.
    pub(crate) fn deal(&self, deques: &[&Deque<OneItem<T>>]) {
        let items = std::mem::take(&mut *crate::sync::lock(&self.items));
        for (at, item) in items.into_iter().enumerate() {
            deques[at % deques.len()].push(OneItem {
                at,
                item: Some(item),
            });
        }
    }
}

impl<T: Send> Input for Dealt<T> {
    type Item = T;
    type Chunk = OneItem<T>;

    fn is_exhausted(&self, _me: usize) -> bool {
        // Every chunk is in a deque before the call starts.
        true
    }

    fn pulled(&self) -> usize {
        self.total
    }

    fn sizer(&self) -> &Sizer {
        &self.sizer
    }

    fn pull(
        &self,
        _me: usize,
        _injector: &Injected<OneItem<T>>,
        _room: Room<'_>,
        _limit: usize,
        _on_end: impl FnOnce(usize),
    ) -> Pull<OneItem<T>> {
        Pull::Exhausted
    }
}

/// The input of a streaming call under `order_tasks`: item `i` goes into
/// the queue of worker `i % n_workers` as the feeder pulls it, and only
/// that worker takes it, in input order. How far the feeder runs ahead is
/// the stream's window; the queues themselves are unbounded.
pub(crate) struct DealtFeed<T> {
    queues: Box<[CachePadded<Queue<T>>]>,
    /// Items pulled so far: the position of the next one.
    pushed: AtomicUsize,
    /// The feeding ended: no item comes after those in the queues.
    ended: AtomicBool,
    sizer: Sizer,
}

/// A worker's items, and where it waits for them.
struct Queue<T> {
    state: Mutex<QueueState<T>>,
    ready: Condvar,
}

struct QueueState<T> {
    items: VecDeque<OneItem<T>>,
    /// The worker sleeps on `ready`: a push or an end wakes it.
    waiting: bool,
}

impl<T> Queue<T> {
    /// Wakes the worker if it sleeps on this queue.
    fn wake(&self) {
        let waiting = lock(&self.state).waiting;
        if waiting {
            self.ready.notify_all();
        }
    }
}

impl<T: Send> DealtFeed<T> {
    pub(crate) fn new(policy: ChunkPolicy, n_workers: usize) -> Self {
        let queue = || {
            CachePadded::new(Queue {
                state: Mutex::new(QueueState {
                    items: VecDeque::new(),
                    waiting: false,
                }),
                ready: Condvar::new(),
            })
        };
        DealtFeed {
            queues: (0..n_workers.max(1)).map(|_| queue()).collect(),
            pushed: AtomicUsize::new(0),
            ended: AtomicBool::new(false),
            sizer: Sizer::new(policy, n_workers),
        }
    }

    fn queue(&self, me: usize) -> &Queue<T> {
        &self.queues[me % self.queues.len()]
    }

    fn wake_all(&self) {
        for queue in self.queues.iter() {
            queue.wake();
        }
    }

    /// What a worker whose queue is empty does next.
    fn when_empty(&self) -> Pull<OneItem<T>> {
        // Acquire: pairs with the release in `end_feeding`, after every push.
        if self.ended.load(Ordering::Acquire) {
            Pull::Exhausted
        } else {
            Pull::Empty
        }
    }
}

impl<T: Send> Input for DealtFeed<T> {
    type Item = T;
    type Chunk = OneItem<T>;

    fn is_exhausted(&self, me: usize) -> bool {
        // Ended first: every push came before it, so an empty queue then
        // stays empty.
        self.ended.load(Ordering::Acquire) && lock(&self.queue(me).state).items.is_empty()
    }

    fn pulled(&self) -> usize {
        self.pushed.load(Ordering::Acquire)
    }

    fn sizer(&self) -> &Sizer {
        &self.sizer
    }

    fn pull(
        &self,
        me: usize,
        _injector: &Injected<OneItem<T>>,
        _room: Room<'_>,
        limit: usize,
        _on_end: impl FnOnce(usize),
    ) -> Pull<OneItem<T>> {
        let mut state = lock(&self.queue(me).state);
        match state.items.front() {
            Some(first) if first.at < limit => {
                let item = state.items.pop_front().expect("a first item");
                Pull::Chunk(item)
            }
            Some(_) => {
                // At or past a failure's limit: unwanted, and so is the
                // rest of the queue, which is in input order. What the
                // items drop is the user's.
                let unwanted = std::mem::take(&mut state.items);
                drop(state);
                drop_quietly(unwanted);
                self.when_empty()
            }
            None => {
                drop(state);
                self.when_empty()
            }
        }
    }

    fn wait_for_items(&self, me: usize, stopped: &dyn Fn() -> bool) {
        let queue = self.queue(me);
        let mut state = lock(&queue.state);
        // Under the queue's lock, which a push, an end and a halt take
        // before they wake: none is missed between this look and the wait.
        while state.items.is_empty() && !self.ended.load(Ordering::Acquire) && !stopped() {
            state.waiting = true;
            state = wait(&queue.ready, state);
        }
        state.waiting = false;
    }

    fn wake(&self) {
        self.wake_all();
    }
}

impl<T: Send> Feedable for DealtFeed<T> {
    type Publisher<'f>
        = DealtPublisher<'f, T>
    where
        T: 'f;

    fn publisher(&self) -> Option<DealtPublisher<'_, T>> {
        (!self.ended.load(Ordering::Acquire)).then(|| DealtPublisher {
            feed: self,
            pos: self.pushed.load(Ordering::Acquire),
        })
    }

    fn published(&self) -> usize {
        self.pushed.load(Ordering::Acquire)
    }

    fn end_feeding(&self) {
        // Release: a worker that reads `ended` also reads every push.
        self.ended.store(true, Ordering::Release);
        self.wake_all();
    }

    fn room(&self, _pos: usize) -> usize {
        // Bounded by the stream's window only.
        usize::MAX
    }

    fn wait_for_room(&self, _pos: usize, _stopped: &dyn Fn() -> bool) {}
}

impl<T> Drop for DealtFeed<T> {
    fn drop(&mut self) {
        // Items no worker took (a halted or dropped stream's) are the
        // user's: a panic of their drop must not unwind out of the call's.
        for queue in self.queues.iter_mut() {
            let items = std::mem::take(&mut crate::sync::get_mut(&mut queue.state).items);
            drop_quietly(items);
        }
    }
}

/// The feeding end of a [`DealtFeed`].
pub(crate) struct DealtPublisher<'f, T> {
    feed: &'f DealtFeed<T>,
    pos: usize,
}

impl<T: Send> Publish<T> for DealtPublisher<'_, T> {
    fn pos(&self) -> usize {
        self.pos
    }

    fn push(&mut self, item: T) {
        let queue = self.feed.queue(self.pos);
        let mut state = lock(&queue.state);
        state.items.push_back(OneItem::new(self.pos, item));
        let waiting = state.waiting;
        drop(state);
        self.pos += 1;
        self.feed.pushed.store(self.pos, Ordering::Release);
        if waiting {
            queue.ready.notify_all();
        }
    }

    fn park(self) {
        // The position is `pushed`, where the next publisher starts.
    }
}

/// One item at its position.
pub(crate) struct OneItem<T> {
    at: usize,
    item: Option<T>,
}

impl<T> OneItem<T> {
    /// `item`, at position `at`.
    pub(crate) fn new(at: usize, item: T) -> Self {
        OneItem {
            at,
            item: Some(item),
        }
    }
}

impl<T> Iterator for OneItem<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.item.take()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.item.is_some());
        (n, Some(n))
    }
}

impl<T: Send> Chunk for OneItem<T> {
    fn start(&self) -> usize {
        self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_dealt_round_robin_in_order() {
        let dealt = Dealt::new((0..10).collect(), ChunkPolicy::Fixed(1), 3);
        let deques: Vec<Deque<OneItem<u32>>> = (0..3).map(|_| Deque::new_fifo()).collect();
        dealt.deal(&deques.iter().collect::<Vec<_>>());
        for (w, deque) in deques.iter().enumerate() {
            let mut got = Vec::new();
            while let Some(mut chunk) = deque.pop() {
                let at = chunk.start();
                assert_eq!(chunk.size_hint(), (1, Some(1)));
                got.push((at, chunk.next().unwrap()));
                assert!(chunk.next().is_none());
            }
            let want: Vec<(usize, u32)> = (0..10)
                .filter(|i| i % 3 == w)
                .map(|i| (i, i as u32))
                .collect();
            assert_eq!(got, want);
        }
        assert!(dealt.is_exhausted(0));
        assert_eq!(dealt.pulled(), 10);
    }

    #[test]
    fn fed_items_reach_only_their_worker_and_a_waiting_worker_wakes() {
        let feed = DealtFeed::new(ChunkPolicy::Fixed(1), 2);
        let injector = Injected::new();
        let pull = |me| match feed.pull(me, &injector, None, usize::MAX, |_| {}) {
            Pull::Chunk(mut one) => Some((one.start(), one.next().unwrap())),
            Pull::Empty => None,
            _ => panic!("not ended"),
        };
        assert_eq!(pull(1), None);
        std::thread::scope(|scope| {
            // Worker 1 waits for its first item, position 1.
            let waiter = scope.spawn(|| feed.wait_for_items(1, &|| false));
            let mut publisher = feed.publisher().unwrap();
            for item in ["a", "b", "c"] {
                publisher.push(item);
            }
            waiter.join().unwrap();
        });
        assert_eq!(pull(1), Some((1, "b")));
        assert_eq!(pull(1), None);
        assert_eq!(pull(0), Some((0, "a")));
        assert_eq!(feed.pulled(), 3);
        assert!(!feed.is_exhausted(0));
        feed.end_feeding();
        assert!(feed.is_exhausted(1));
        assert!(!feed.is_exhausted(0));
        // Past a limit of 2, worker 0's item at 2 is unwanted.
        assert!(matches!(
            feed.pull(0, &injector, None, 2, |_| {}),
            Pull::Exhausted
        ));
        assert!(feed.is_exhausted(0));
        assert!(feed.publisher().is_none());
    }
}
