//! An input dealt to the workers by position: item `i` to worker
//! `i % n_workers` (mpire's `order_tasks`), so that the state a worker
//! built for an item is the one that sees it in the next call. The caller
//! pulls the whole input first, and each item is a chunk of its own, put
//! in its worker's deque before the call starts; the call does not steal.

use crossbeam_deque::{Injector, Worker as Deque};

use super::{Chunk, ChunkPolicy, Input, Pull, Sizer};

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

    fn is_exhausted(&self) -> bool {
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
        _injector: &Injector<OneItem<T>>,
        _room: impl Fn(usize) -> usize,
        _limit: usize,
        _on_end: impl FnOnce(usize),
    ) -> Pull<OneItem<T>> {
        Pull::Exhausted
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
        assert!(dealt.is_exhausted());
        assert_eq!(dealt.pulled(), 10);
    }
}
