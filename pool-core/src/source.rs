//! Cutting the input into chunks. Workers pull from the shared input
//! themselves, under a lock, so the caller never feeds items one by one.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use crossbeam_deque::Injector;

use crate::unwind::{catch, drop_quietly};

/// A run of consecutive input items, the unit of scheduling and stealing.
#[derive(Debug)]
pub(crate) struct Chunk<T> {
    /// Input position of `items[0]`.
    pub(crate) start: usize,
    pub(crate) items: Vec<T>,
}

/// How long chunks are.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChunkPolicy {
    /// Exactly this many items (the user's `chunk_size`).
    Fixed(usize),
    /// Guided: a quarter of what is left, shared between the workers, when the
    /// input knows its exact length; else growing from 1 by doubling. Never
    /// more than `max`.
    Adaptive { max: usize },
}

impl ChunkPolicy {
    /// The longest chunk this policy cuts.
    pub(crate) fn max_len(self) -> usize {
        match self {
            ChunkPolicy::Fixed(len) | ChunkPolicy::Adaptive { max: len } => len,
        }
    }
}

/// What a pull from the source got.
pub(crate) enum Pull<T> {
    /// A chunk for the puller; more may have gone to the injector.
    Chunk(Chunk<T>),
    /// Nothing: the input is exhausted (or failed, or no more is wanted).
    Exhausted,
    /// Nothing now: the look-ahead window is full.
    NoRoom,
    /// Nothing now: another worker is pulling (and will share what it cuts).
    Busy,
}

/// The input iterator, shared by the workers.
pub(crate) struct Source<I: Iterator> {
    state: Mutex<SourceState<I>>,
    exhausted: AtomicBool,
    /// Items pulled so far (the next input position).
    pulled: AtomicUsize,
    policy: ChunkPolicy,
    chunks_per_pull: usize,
    /// Measured cost of one item, in nanoseconds (a moving average; `0`
    /// until a chunk has run), which sizes chunks to about
    /// [`CHUNK_TARGET_NANOS`] each.
    item_nanos: AtomicU64,
}

/// How long a chunk should take: long enough that scheduling costs vanish,
/// short enough that a worker stuck on a chunk leaves little behind it.
const CHUNK_TARGET_NANOS: u64 = 50_000;

struct SourceState<I> {
    /// `None` once exhausted.
    iter: Option<I>,
    next: usize,
    /// The next chunk length of an input of unknown length.
    grow: usize,
}

/// Why a source stopped early: its iterator panicked at this position.
pub(crate) struct SourcePanic {
    pub(crate) index: usize,
    pub(crate) message: String,
}

impl<I: Iterator> Source<I> {
    pub(crate) fn new(iter: I, policy: ChunkPolicy, n_workers: usize) -> Self {
        Source {
            state: Mutex::new(SourceState {
                iter: Some(iter),
                next: 0,
                grow: 1,
            }),
            exhausted: AtomicBool::new(false),
            pulled: AtomicUsize::new(0),
            policy,
            chunks_per_pull: n_workers.max(1),
            item_nanos: AtomicU64::new(0),
        }
    }

    /// Whether the input is used up. Once this reads `true`, every chunk cut
    /// from it is visible in the injector (it is set after the pushes).
    pub(crate) fn is_exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    pub(crate) fn pulled(&self) -> usize {
        self.pulled.load(Ordering::Acquire)
    }

    /// Cuts up to one chunk per worker, at most `room(pulled)` items in all
    /// and none at or past `limit`; keeps the first chunk for the caller and
    /// pushes the others to `injector`. Unless `block`, gives up at once when
    /// another worker holds the input. `on_end` runs (under the lock) with
    /// the input's length once it is known to be exhausted.
    pub(crate) fn pull(
        &self,
        injector: &Injector<Chunk<I::Item>>,
        room: impl FnOnce(usize) -> usize,
        limit: usize,
        on_end: impl FnOnce(usize),
        block: bool,
    ) -> Result<Pull<I::Item>, SourcePanic> {
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
        for _ in 0..self.chunks_per_pull {
            if budget == 0 {
                break;
            }
            let len = self.chunk_len(st).min(budget);
            let iter = st.iter.as_mut().expect("checked above");
            let mut items = Vec::with_capacity(len);
            // `extend` over `take` runs the tight loop of `TrustedLen` inputs
            // (ranges, vectors, slices) without a check per item.
            let filled = catch(|| {
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
                let chunk = Chunk {
                    start: st.next,
                    items,
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
                return Err(SourcePanic { index, message });
            }
        }
        Ok(first.map_or(Pull::Exhausted, Pull::Chunk))
    }

    fn finish(&self, st: &mut SourceState<I>) {
        if let Some(iter) = st.iter.take() {
            drop_quietly(iter);
        }
        self.exhausted.store(true, Ordering::Release);
    }

    /// Records that a chunk of `items` items ran in `elapsed`.
    pub(crate) fn record(&self, items: usize, elapsed: Duration) {
        if items == 0 {
            return;
        }
        let sample = (elapsed.as_nanos() / items as u128).clamp(1, u64::MAX as u128) as u64;
        let old = self.item_nanos.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (3 * (old / 4)).saturating_add(sample / 4).max(1)
        };
        self.item_nanos.store(new, Ordering::Relaxed);
    }

    /// The next chunk's length: the user's, or the least of: a quarter of
    /// what is left shared between the workers (when the input knows its
    /// length), what takes about [`CHUNK_TARGET_NANOS`] (once measured), a
    /// length doubling from 1 (until measured, for inputs of unknown
    /// length), and the policy's maximum.
    fn chunk_len(&self, st: &mut SourceState<I>) -> usize {
        let max = match self.policy {
            ChunkPolicy::Fixed(len) => return len,
            ChunkPolicy::Adaptive { max } => max,
        };
        let by_cost = match self.item_nanos.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(usize::try_from(CHUNK_TARGET_NANOS / nanos).unwrap_or(usize::MAX)),
        };
        let hint = st.iter.as_ref().map(Iterator::size_hint);
        let len = match (hint, by_cost) {
            (Some((lo, Some(hi))), _) if lo == hi => {
                (lo / (4 * self.chunks_per_pull)).min(by_cost.unwrap_or(usize::MAX))
            }
            (_, Some(len)) => len,
            (_, None) => {
                let len = st.grow;
                st.grow = len.saturating_mul(2);
                len
            }
        };
        len.clamp(1, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<T>(injector: &Injector<Chunk<T>>) -> Vec<Chunk<T>> {
        std::iter::from_fn(|| injector.steal().success()).collect()
    }

    #[test]
    fn exact_inputs_are_cut_in_guided_chunks() {
        let source = Source::new(0..1000u32, ChunkPolicy::Adaptive { max: 4096 }, 2);
        let injector = Injector::new();
        let Ok(Pull::Chunk(first)) =
            source.pull(&injector, |_| usize::MAX, usize::MAX, |_| {}, true)
        else {
            panic!("expected a chunk")
        };
        assert_eq!((first.start, first.items.len()), (0, 125));
        let rest = drain(&injector);
        assert_eq!(rest.len(), 1);
        // Each chunk is cut from what is left: (1000 - 125) / 8.
        assert_eq!((rest[0].start, rest[0].items.len()), (125, 109));
    }

    #[test]
    fn unknown_lengths_grow_and_infinite_inputs_do_not_overflow() {
        let source = Source::new(0u64.., ChunkPolicy::Adaptive { max: 8 }, 1);
        let injector = Injector::new();
        let lens: Vec<usize> = (0..6)
            .map(
                |_| match source.pull(&injector, |_| usize::MAX, usize::MAX, |_| {}, true) {
                    Ok(Pull::Chunk(c)) => c.items.len(),
                    _ => panic!("an infinite input always has more"),
                },
            )
            .collect();
        assert_eq!(lens, [1, 2, 4, 8, 8, 8]);
    }

    #[test]
    fn measured_costs_size_the_chunks() {
        let source = Source::new(0u64.., ChunkPolicy::Adaptive { max: 4096 }, 1);
        let injector = Injector::new();
        let next_len = || match source.pull(&injector, |_| usize::MAX, usize::MAX, |_| {}, true) {
            Ok(Pull::Chunk(c)) => c.items.len(),
            _ => panic!("an infinite input always has more"),
        };
        assert_eq!(next_len(), 1);
        source.record(10, Duration::from_micros(10)); // 1 µs an item
        assert_eq!(next_len(), 50);
        source.record(1, Duration::from_millis(5)); // one very slow item
        assert_eq!(next_len(), 1);
        for _ in 0..64 {
            source.record(1000, Duration::from_nanos(1000)); // back to 1 ns
        }
        assert_eq!(next_len(), 4096);
    }

    #[test]
    fn budget_limit_and_end_are_respected() {
        let source = Source::new(0..10u8, ChunkPolicy::Fixed(4), 3);
        let injector = Injector::new();
        assert!(matches!(
            source.pull(&injector, |_| 0, usize::MAX, |_| {}, true),
            Ok(Pull::NoRoom)
        ));
        let Ok(Pull::Chunk(c)) = source.pull(&injector, |_| 6, usize::MAX, |_| {}, true) else {
            panic!()
        };
        assert_eq!(c.items, [0, 1, 2, 3]);
        assert_eq!(drain(&injector)[0].items, [4, 5]);
        let mut total = None;
        let Ok(Pull::Chunk(c)) =
            source.pull(&injector, |_| 100, usize::MAX, |n| total = Some(n), true)
        else {
            panic!()
        };
        assert_eq!(c.items, [6, 7, 8, 9]);
        assert_eq!(total, Some(10));
        assert!(source.is_exhausted());
        assert!(matches!(
            source.pull(&injector, |_| 100, usize::MAX, |_| {}, true),
            Ok(Pull::Exhausted)
        ));
    }

    #[test]
    fn a_panicking_iterator_keeps_what_came_before() {
        let iter = (0..10u8).map(|x| if x == 5 { panic!("bad item") } else { x });
        let source = Source::new(iter, ChunkPolicy::Fixed(3), 4);
        let injector = Injector::new();
        let Err(p) = source.pull(&injector, |_| usize::MAX, usize::MAX, |_| {}, true) else {
            panic!()
        };
        assert_eq!((p.index, p.message.as_str()), (5, "bad item"));
        let got: Vec<u8> = drain(&injector).into_iter().flat_map(|c| c.items).collect();
        assert_eq!(got, [3, 4, 0, 1, 2]);
        assert!(source.is_exhausted());
    }
}
