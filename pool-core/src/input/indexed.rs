//! Inputs whose items can be made from their positions: ranges of integers,
//! and vectors (whose items are moved out where they lie). Workers claim
//! positions with an atomic counter and make the items themselves, so that
//! no one copies an item before it runs and no lock is taken.

use std::mem::ManuallyDrop;
use std::ops::Range;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_deque::Injector;

use super::{Chunk, ChunkPolicy, Input, InputPanic, Pull, Sizer};

/// Items addressed by position.
pub(crate) trait Positions: Send + Sync {
    type Item;
    /// The items of a run of positions.
    type Run: Iterator<Item = Self::Item> + Send;

    fn len(&self) -> usize;

    /// The items at `range`.
    ///
    /// # Safety
    /// Each position is passed at most once over the life of `self`, and the
    /// run is dropped before `self`.
    unsafe fn run(&self, range: Range<usize>) -> Self::Run;

    /// Drops the items at positions `from..len()`, which were never run.
    ///
    /// # Safety
    /// None of these positions was passed to [`Positions::run`], and this is
    /// called at most once.
    unsafe fn drop_from(&mut self, from: usize);
}

/// A chunk of an [`Indexed`] input.
pub(crate) struct Span<R> {
    start: usize,
    run: R,
}

impl<R: Iterator> Iterator for Span<R> {
    type Item = R::Item;

    #[inline]
    fn next(&mut self) -> Option<R::Item> {
        self.run.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.run.size_hint()
    }
}

impl<R: Iterator + Send> Chunk for Span<R> {
    fn start(&self) -> usize {
        self.start
    }
}

/// An input of known length whose positions are claimed without a lock.
pub(crate) struct Indexed<P: Positions> {
    positions: P,
    /// The next position to claim.
    next: AtomicUsize,
    /// Positions whose chunks are out: in the injector or a worker's hands.
    published: AtomicUsize,
    exhausted: AtomicBool,
    sizer: Sizer,
}

impl<P: Positions> Indexed<P> {
    pub(crate) fn new(positions: P, policy: ChunkPolicy, n_workers: usize) -> Self {
        Indexed {
            positions,
            next: AtomicUsize::new(0),
            published: AtomicUsize::new(0),
            exhausted: AtomicBool::new(false),
            sizer: Sizer::new(policy, n_workers),
        }
    }
}

impl<P: Positions> Drop for Indexed<P> {
    fn drop(&mut self) {
        let from = (*self.next.get_mut()).min(self.positions.len());
        // SAFETY: positions from `next` on were never claimed, so never run;
        // this runs once.
        unsafe { self.positions.drop_from(from) };
    }
}

impl<P: Positions> Input for Indexed<P> {
    type Item = P::Item;
    type Chunk = Span<P::Run>;

    fn is_exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    fn pulled(&self) -> usize {
        self.next.load(Ordering::Acquire)
    }

    fn record(&self, items: usize, elapsed: Duration) {
        self.sizer.record(items, elapsed);
    }

    fn block_len(&self) -> usize {
        self.sizer.block_len()
    }

    fn pull(
        &self,
        injector: &Injector<Span<P::Run>>,
        room: impl Fn(usize) -> usize,
        limit: usize,
        on_end: impl FnOnce(usize),
        _block: bool,
    ) -> Result<Pull<Span<P::Run>>, InputPanic> {
        let n = self.positions.len();
        let mut start = self.next.load(Ordering::Acquire);
        let (len, total) = loop {
            if start >= n.min(limit) {
                // Used up, or a failure made the rest unwanted; but until
                // every claim has pushed its chunks, a worker that left now
                // could leave a chunk behind (one its peer, busy, may wait on).
                if self.published.load(Ordering::Acquire) < start {
                    return Ok(Pull::Busy);
                }
                if start >= n {
                    on_end(n);
                }
                self.exhausted.store(true, Ordering::Release);
                return Ok(Pull::Exhausted);
            }
            let budget = room(start).min(limit - start).min(n - start);
            if budget == 0 {
                return Ok(Pull::NoRoom);
            }
            let len = self.sizer.chunk_len(Some(n - start)).min(budget);
            let total = len.saturating_mul(self.sizer.per_pull()).min(budget);
            match self.next.compare_exchange_weak(
                start,
                start + total,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break (len, total),
                Err(now) => start = now,
            }
        };
        let end = start + total;
        let span = |from: usize| {
            let to = (from + len).min(end);
            // SAFETY: `from..to` lies in `start..end`, which this thread alone
            // claimed; the span lives in the job, which drops it before the
            // input.
            let run = unsafe { self.positions.run(from..to) };
            Span { start: from, run }
        };
        let first = span(start);
        for from in (start + len..end).step_by(len) {
            injector.push(span(from));
        }
        self.published.fetch_add(total, Ordering::AcqRel);
        Ok(Pull::Chunk(first))
    }
}

/// The positions of a range of integers.
pub(crate) struct RangeOf<T> {
    range: Range<T>,
    len: usize,
}

macro_rules! range_of {
    ($($t:ty),*) => {$(
        impl RangeOf<$t> {
            pub(crate) fn new(range: Range<$t>) -> Option<Self> {
                let len = i128::from(range.end).saturating_sub(i128::from(range.start)).max(0);
                Some(RangeOf { len: usize::try_from(len).ok()?, range })
            }
        }

        impl Positions for RangeOf<$t> {
            type Item = $t;
            type Run = Range<$t>;

            fn len(&self) -> usize {
                self.len
            }

            unsafe fn run(&self, range: Range<usize>) -> Range<$t> {
                // In range: positions are below `len`, the range's length.
                let at = |i: usize| (i128::from(self.range.start) + i as i128) as $t;
                at(range.start)..at(range.end)
            }

            unsafe fn drop_from(&mut self, _from: usize) {}
        }
    )*};
}

range_of!(u32, u64, i32, i64);

impl RangeOf<usize> {
    pub(crate) fn new(range: Range<usize>) -> Option<Self> {
        Some(RangeOf {
            len: range.end.saturating_sub(range.start),
            range,
        })
    }
}

impl Positions for RangeOf<usize> {
    type Item = usize;
    type Run = Range<usize>;

    fn len(&self) -> usize {
        self.len
    }

    unsafe fn run(&self, range: Range<usize>) -> Range<usize> {
        self.range.start + range.start..self.range.start + range.end
    }

    unsafe fn drop_from(&mut self, _from: usize) {}
}

/// The items of a vector, moved out where they lie.
pub(crate) struct VecOf<T> {
    buf: NonNull<T>,
    cap: usize,
    len: usize,
}

// SAFETY: a `VecOf` owns `T`s and hands each to one thread (through a
// `VecRun`), like a `Vec<T>` moved between threads; it never shares one.
unsafe impl<T: Send> Send for VecOf<T> {}
// SAFETY: `&VecOf` only gives out runs of distinct positions (see `run`).
unsafe impl<T: Send> Sync for VecOf<T> {}

impl<T> VecOf<T> {
    pub(crate) fn new(items: Vec<T>) -> Self {
        let mut items = ManuallyDrop::new(items);
        VecOf {
            buf: NonNull::new(items.as_mut_ptr()).expect("a vector's pointer is never null"),
            cap: items.capacity(),
            len: items.len(),
        }
    }
}

impl<T> Drop for VecOf<T> {
    fn drop(&mut self) {
        // SAFETY: the buffer came from a `Vec<T>` of capacity `cap`; its items
        // were moved out or dropped (by runs and `drop_from`), so it is
        // freed as empty.
        drop(unsafe { Vec::from_raw_parts(self.buf.as_ptr(), 0, self.cap) });
    }
}

impl<T: Send> Positions for VecOf<T> {
    type Item = T;
    type Run = VecRun<T>;

    fn len(&self) -> usize {
        self.len
    }

    unsafe fn run(&self, range: Range<usize>) -> VecRun<T> {
        VecRun {
            buf: self.buf,
            range,
        }
    }

    unsafe fn drop_from(&mut self, from: usize) {
        // SAFETY: positions `from..len` hold items nobody moved out (the
        // caller's promise), each dropped once here.
        unsafe {
            let tail = self.buf.as_ptr().add(from);
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(tail, self.len - from));
        }
    }
}

/// Items of a [`VecOf`] at a run of positions, owned by this run: moved out
/// as it yields them, dropped with it if it does not.
pub(crate) struct VecRun<T> {
    buf: NonNull<T>,
    range: Range<usize>,
}

// SAFETY: a run owns the items at its positions, as a `vec::IntoIter<T>`
// owns its own.
unsafe impl<T: Send> Send for VecRun<T> {}

impl<T> Iterator for VecRun<T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        let i = self.range.next()?;
        // SAFETY: position `i` belongs to this run alone, which reads it once
        // (the range moved past it).
        Some(unsafe { self.buf.as_ptr().add(i).read() })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.range.size_hint()
    }
}

impl<T> Drop for VecRun<T> {
    fn drop(&mut self) {
        let rest = std::mem::replace(&mut self.range, 0..0);
        // SAFETY: the positions not yet yielded hold this run's items, each
        // dropped once here.
        unsafe {
            let tail = self.buf.as_ptr().add(rest.start);
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(tail, rest.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn all<P: Positions>(input: &Indexed<P>) -> Vec<Vec<P::Item>>
    where
        P::Item: Send,
    {
        let injector = Injector::new();
        let mut chunks = Vec::new();
        while let Ok(Pull::Chunk(c)) =
            input.pull(&injector, |_| usize::MAX, usize::MAX, |_| {}, true)
        {
            chunks.push(c);
            chunks.extend(std::iter::from_fn(|| injector.steal().success()));
        }
        chunks.sort_by_key(|c| c.start());
        chunks.into_iter().map(Iterator::collect).collect()
    }

    #[test]
    fn ranges_are_claimed_in_chunks_without_gaps() {
        for (start, end) in [(0i64, 1000i64), (-500, 500), (7, 7), (9, 3)] {
            // Empty ranges are exhausted at the first pull.
            let input = Indexed::new(
                RangeOf::<i64>::new(start..end).unwrap(),
                ChunkPolicy::Adaptive { max: 64 },
                3,
            );
            let got: Vec<i64> = all(&input).into_iter().flatten().collect();
            assert_eq!(got, (start..end).collect::<Vec<_>>());
            assert!(input.is_exhausted());
        }
        let input = Indexed::new(
            RangeOf::<usize>::new(5..50).unwrap(),
            ChunkPolicy::Fixed(10),
            2,
        );
        let lens: Vec<usize> = all(&input).iter().map(Vec::len).collect();
        assert_eq!(lens, [10, 10, 10, 10, 5]);
    }

    #[test]
    fn room_and_limit_bound_the_claims() {
        let input = Indexed::new(
            RangeOf::<u32>::new(0..100).unwrap(),
            ChunkPolicy::Fixed(8),
            4,
        );
        let injector = Injector::new();
        assert!(matches!(
            input.pull(&injector, |_| 0, usize::MAX, |_| {}, true),
            Ok(Pull::NoRoom)
        ));
        let Ok(Pull::Chunk(c)) = input.pull(&injector, |_| 12, usize::MAX, |_| {}, true) else {
            panic!()
        };
        assert_eq!(c.count(), 8);
        assert_eq!(input.pulled(), 12);
        assert!(matches!(
            input.pull(&injector, |_| 99, 12, |_| {}, true),
            Ok(Pull::Exhausted)
        ));
        assert!(input.is_exhausted());
    }

    #[test]
    fn vector_items_move_out_once_and_the_rest_is_dropped() {
        let tracker = Arc::new(());
        let items: Vec<Arc<()>> = (0..100).map(|_| tracker.clone()).collect();
        let input = Indexed::new(VecOf::new(items), ChunkPolicy::Fixed(10), 2);
        let injector = Injector::new();
        let Ok(Pull::Chunk(mut first)) =
            input.pull(&injector, |_| usize::MAX, usize::MAX, |_| {}, true)
        else {
            panic!()
        };
        let taken = first.next().unwrap(); // one item moved out
        drop(first); // nine dropped with their run
        assert_eq!(Arc::strong_count(&tracker), 1 + 1 + 90);
        drop(injector); // the second chunk's ten
        assert_eq!(Arc::strong_count(&tracker), 1 + 1 + 80);
        drop(input); // the eighty never claimed
        assert_eq!(Arc::strong_count(&tracker), 2);
        drop(taken);
        assert_eq!(Arc::strong_count(&tracker), 1);
    }

    #[test]
    fn an_empty_input_reports_its_end() {
        let input = Indexed::new(VecOf::<u8>::new(Vec::new()), ChunkPolicy::Fixed(3), 2);
        let mut ends = Vec::new();
        let pulled = input.pull(
            &Injector::new(),
            |_| usize::MAX,
            usize::MAX,
            |n| ends.push(n),
            true,
        );
        assert!(matches!(pulled, Ok(Pull::Exhausted)));
        assert_eq!(ends, [0]);
        assert!(input.is_exhausted());
    }

    #[test]
    fn the_end_is_reported_when_everything_is_out() {
        let input = Indexed::new(
            RangeOf::<u64>::new(0..10).unwrap(),
            ChunkPolicy::Fixed(3),
            2,
        );
        let injector = Injector::new();
        let mut ends = Vec::new();
        while let Ok(Pull::Chunk(_)) = input.pull(
            &injector,
            |_| usize::MAX,
            usize::MAX,
            |n| ends.push(n),
            true,
        ) {}
        assert_eq!(ends, [10]);
    }
}
