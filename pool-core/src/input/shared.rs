//! Any iterator, shared by the workers behind a lock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, TryLockError};

use crossbeam_deque::Injector;

use super::{Chunk, ChunkPolicy, Input, InputPanic, Pull, Sizer};
use crate::unwind::{catch, drop_quietly};

/// Items pulled from a shared iterator, in a vector of their own.
#[derive(Debug)]
pub(crate) struct Batch<T> {
    start: usize,
    items: std::vec::IntoIter<T>,
}

impl<T> Iterator for Batch<T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        self.items.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl<T: Send> Chunk for Batch<T> {
    fn start(&self) -> usize {
        self.start
    }
}

/// An iterator pulled by the workers themselves, under a lock: the worker
/// that pulls cuts chunks for the others too.
pub(crate) struct Shared<I: Iterator> {
    state: Mutex<State<I>>,
    exhausted: AtomicBool,
    pulled: AtomicUsize,
    sizer: Sizer,
}

struct State<I> {
    /// `None` once exhausted.
    iter: Option<I>,
    next: usize,
}

impl<I: Iterator> Shared<I> {
    pub(crate) fn new(iter: I, policy: ChunkPolicy, n_workers: usize) -> Self {
        Shared {
            state: Mutex::new(State {
                iter: Some(iter),
                next: 0,
            }),
            exhausted: AtomicBool::new(false),
            pulled: AtomicUsize::new(0),
            sizer: Sizer::new(policy, n_workers),
        }
    }

    fn finish(&self, st: &mut State<I>) {
        if let Some(iter) = st.iter.take() {
            drop_quietly(iter);
        }
        self.exhausted.store(true, Ordering::Release);
    }
}

impl<I> Input for Shared<I>
where
    I: Iterator + Send,
    I::Item: Send,
{
    type Item = I::Item;
    type Chunk = Batch<I::Item>;

    fn is_exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    fn pulled(&self) -> usize {
        self.pulled.load(Ordering::Acquire)
    }

    fn sizer(&self) -> &Sizer {
        &self.sizer
    }

    fn pull(
        &self,
        _me: usize,
        injector: &Injector<Batch<I::Item>>,
        room: impl Fn(usize) -> usize,
        limit: usize,
        on_end: impl FnOnce(usize),
        block: bool,
    ) -> Result<Pull<Batch<I::Item>>, InputPanic> {
        let mut st = if block {
            self.state.lock().unwrap_or_else(|e| e.into_inner())
        } else {
            match self.state.try_lock() {
                Ok(st) => st,
                Err(TryLockError::Poisoned(e)) => e.into_inner(),
                Err(TryLockError::WouldBlock) => return Ok(Pull::Busy),
            }
        };
        let st = &mut *st;
        if st.iter.is_none() {
            return Ok(Pull::Exhausted);
        }
        if st.next >= limit {
            // A failure made the rest unwanted.
            self.finish(st);
            return Ok(Pull::Exhausted);
        }
        // Under the lock, so that concurrent pulls never overfill a window.
        let mut budget = room(st.next).min(limit - st.next);
        if budget == 0 {
            return Ok(Pull::NoRoom);
        }
        let mut first = None;
        let mut ended = false;
        let mut panicked = None;
        for _ in 0..self.sizer.per_pull() {
            if budget == 0 {
                break;
            }
            let iter = st.iter.as_mut().expect("checked above");
            let mut items = Vec::new();
            // `extend` over `take` runs the tight loop of `TrustedLen` inputs
            // without a check per item.
            let filled = catch(|| {
                // `size_hint` is the user's code too.
                let remaining = match iter.size_hint() {
                    (lo, Some(hi)) if lo == hi => Some(lo),
                    _ => None,
                };
                let len = self.sizer.chunk_len(remaining).min(budget);
                items.reserve_exact(len);
                items.extend(iter.by_ref().take(len));
                items.len() < len
            });
            match filled {
                Ok(end) => ended = end,
                Err(message) => {
                    panicked = Some(message);
                    ended = true;
                }
            }
            budget -= items.len();
            if !items.is_empty() {
                let chunk = Batch {
                    start: st.next,
                    items: items.into_iter(),
                };
                st.next += chunk.items.len();
                if first.is_none() {
                    first = Some(chunk);
                } else {
                    injector.push(chunk);
                }
            }
            if ended {
                break;
            }
        }
        self.pulled.store(st.next, Ordering::Release);
        if ended {
            let index = st.next;
            if panicked.is_none() {
                // After a panic the length stays unknown: the failure, recorded
                // by the caller, is what ends a stream there.
                on_end(index);
            }
            self.finish(st);
            if let Some(message) = panicked {
                // The chunks already cut are still run: they precede the failure.
                if let Some(chunk) = first {
                    injector.push(chunk);
                }
                return Err(InputPanic { index, message });
            }
        }
        Ok(first.map_or(Pull::Exhausted, Pull::Chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pull<I: Iterator + Send>(
        input: &Shared<I>,
        injector: &Injector<Batch<I::Item>>,
        room: usize,
    ) -> Result<Pull<Batch<I::Item>>, InputPanic>
    where
        I::Item: Send,
    {
        input.pull(0, injector, |_| room, usize::MAX, |_| {}, true)
    }

    fn drain<T>(injector: &Injector<Batch<T>>) -> Vec<Vec<T>> {
        std::iter::from_fn(|| injector.steal().success())
            .map(Iterator::collect)
            .collect()
    }

    #[test]
    fn a_pull_cuts_a_chunk_per_worker() {
        let input = Shared::new(0..1000u32, ChunkPolicy::Adaptive { max: 4096 }, 2);
        let injector = Injector::new();
        let Ok(Pull::Chunk(first)) = pull(&input, &injector, usize::MAX) else {
            panic!()
        };
        // Until an item's cost is measured, lengths double from one.
        assert_eq!((first.start(), first.count()), (0, 1));
        let rest = drain(&injector);
        assert_eq!(rest, [vec![1, 2]]);
        // Measured: guided by what is left (997 items), in quarters per worker.
        input
            .sizer()
            .record(100, std::time::Duration::from_nanos(100));
        let Ok(Pull::Chunk(first)) = pull(&input, &injector, usize::MAX) else {
            panic!()
        };
        assert_eq!((first.start(), first.count()), (3, 124));
        assert_eq!(drain(&injector)[0].first(), Some(&127));
    }

    #[test]
    fn budget_and_end_are_respected() {
        let input = Shared::new(0..10u8, ChunkPolicy::Fixed(4), 3);
        let injector = Injector::new();
        assert!(matches!(pull(&input, &injector, 0), Ok(Pull::NoRoom)));
        let Ok(Pull::Chunk(c)) = pull(&input, &injector, 6) else {
            panic!()
        };
        assert_eq!(c.collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(drain(&injector), [vec![4, 5]]);
        let mut total = None;
        let Ok(Pull::Chunk(c)) =
            input.pull(0, &injector, |_| 100, usize::MAX, |n| total = Some(n), true)
        else {
            panic!()
        };
        assert_eq!(c.collect::<Vec<_>>(), [6, 7, 8, 9]);
        assert_eq!(total, Some(10));
        assert!(input.is_exhausted());
        assert!(matches!(pull(&input, &injector, 100), Ok(Pull::Exhausted)));
    }

    #[test]
    fn a_panicking_iterator_keeps_what_came_before() {
        let iter = (0..10u8).map(|x| if x == 5 { panic!("bad item") } else { x });
        let input = Shared::new(iter, ChunkPolicy::Fixed(3), 4);
        let injector = Injector::new();
        let Err(p) = pull(&input, &injector, usize::MAX) else {
            panic!()
        };
        assert_eq!((p.index, p.message.as_str()), (5, "bad item"));
        let mut got: Vec<u8> = drain(&injector).into_iter().flatten().collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        assert!(input.is_exhausted());
    }

    #[test]
    fn a_held_lock_makes_a_non_blocking_pull_busy() {
        let input = Shared::new(0..10u8, ChunkPolicy::Fixed(4), 1);
        let injector = Injector::new();
        let _held = input.state.lock().unwrap();
        assert!(matches!(
            input.pull(0, &injector, |_| 9, usize::MAX, |_| {}, false),
            Ok(Pull::Busy)
        ));
    }
}
