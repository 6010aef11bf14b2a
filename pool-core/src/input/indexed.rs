//! Inputs whose items can be made from their positions: ranges of integers,
//! and vectors (whose items are moved out where they lie). Workers claim
//! positions (see [`ClaimOrder`]) and make the items themselves, so that no one
//! copies an item before it runs and no lock is shared by all the workers.

use std::alloc::Layout;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crossbeam_utils::CachePadded;

use super::{Chunk, ChunkPolicy, Injected, Input, Lent, Pull, Room, Sizer};
use crate::sync::{get_mut, lock};

/// Items addressed by position.
pub(crate) trait Positions: Send + Sync {
    type Item;
    /// The items of a run of positions.
    type Items: Iterator<Item = Self::Item> + Send;

    fn len(&self) -> usize;

    /// The items at `range`.
    ///
    /// # Safety
    /// Each position is passed at most once over the life of `self`, and the
    /// run is dropped before `self`.
    unsafe fn take(&self, range: Range<usize>) -> Self::Items;

    /// Hands over the buffer of the items, if they are `len` of `layout`.
    /// See [`Input::lend`].
    fn lend(&mut self, _layout: Layout, _len: usize) -> Option<Lent> {
        None
    }

    /// Drops the items at `range`, which were never run.
    ///
    /// # Safety
    /// None of these positions was passed to [`Positions::take`] or to this
    /// method before.
    unsafe fn drop_unclaimed(&mut self, range: Range<usize>);
}

/// A chunk of an [`Indexed`] input.
pub(crate) struct IndexedChunk<R> {
    start: usize,
    run: R,
}

impl<R: Iterator> Iterator for IndexedChunk<R> {
    type Item = R::Item;

    #[inline]
    fn next(&mut self) -> Option<R::Item> {
        self.run.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.run.size_hint()
    }
}

impl<R: Iterator + Send> Chunk for IndexedChunk<R> {
    fn start(&self) -> usize {
        self.start
    }
}

/// How the workers claim the positions of an [`Indexed`] input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimOrder {
    /// From the front, in input order, with one atomic counter: what a
    /// bounded look-ahead window (`imap`) needs.
    InOrder,
    /// Each worker from the front of a contiguous part of its own, splitting
    /// the largest part of a peer when its own runs out. Workers touch
    /// memory far from each other's (the input's items, the output's slots),
    /// and contend on no shared counter.
    Spread,
}

/// An input of known length whose positions are claimed without a shared
/// lock.
pub(crate) struct Indexed<P: Positions> {
    positions: P,
    claims: Claimer,
    exhausted: AtomicBool,
    sizer: Sizer,
}

enum Claimer {
    InOrder {
        /// The next position to claim.
        next: AtomicUsize,
        /// Positions whose chunks are out: in the injector or a worker's
        /// hands.
        published: AtomicUsize,
    },
    Spread(Parts),
}

/// The unclaimed positions, as one part per seat of the call (see
/// `Call::execute`): a part is its seat's alone.
struct Parts {
    parts: Box<[Part]>,
    /// Splits begun and ended: a range on its way from a peer's part to the
    /// thief's is in no part.
    splits_begun: AtomicUsize,
    splits_ended: AtomicUsize,
}

/// A worker's part, on a cache line of its own.
struct Part(CachePadded<Mutex<PartState>>);

struct PartState {
    /// The positions left in the part.
    range: Range<usize>,
    /// Positions claimed from this part so far (the call's count is the
    /// sum: no count is shared by the workers, see [`Room`]).
    claimed: usize,
    /// The next chunk length of this worker until an item's cost is
    /// measured (see [`Sizer::chunk_len_with`]).
    ramp: u64,
}

impl Part {
    fn new(range: Range<usize>) -> Self {
        Part(CachePadded::new(Mutex::new(PartState {
            range,
            claimed: 0,
            ramp: 1,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, PartState> {
        lock(&self.0)
    }
}

impl Parts {
    /// Positions claimed from every part so far.
    fn claimed(&self) -> usize {
        self.parts.iter().map(|part| part.lock().claimed).sum()
    }
}

impl<P: Positions> Indexed<P> {
    pub(crate) fn new(
        positions: P,
        policy: ChunkPolicy,
        n_workers: usize,
        claims: ClaimOrder,
    ) -> Self {
        let n = positions.len();
        let w = n_workers.max(1);
        let claims = match claims {
            ClaimOrder::InOrder => Claimer::InOrder {
                next: AtomicUsize::new(0),
                published: AtomicUsize::new(0),
            },
            ClaimOrder::Spread => {
                // `k * n / w` without overflow: `n / w` whole shares, and the
                // remainder spread over the first parts.
                let at = |k: usize| k * (n / w) + k.min(n % w);
                let parts = (0..w).map(|k| Part::new(at(k)..at(k + 1)));
                Claimer::Spread(Parts {
                    parts: parts.collect(),
                    splits_begun: AtomicUsize::new(0),
                    splits_ended: AtomicUsize::new(0),
                })
            }
        };
        Indexed {
            positions,
            claims,
            exhausted: AtomicBool::new(false),
            sizer: Sizer::new(policy, n_workers),
        }
    }

    /// ClaimOrder the next positions in input order and cuts them in chunks.
    fn pull_in_order(
        &self,
        next: &AtomicUsize,
        published: &AtomicUsize,
        injector: &Injected<IndexedChunk<P::Items>>,
        room: Room<'_>,
        limit: usize,
        on_end: impl FnOnce(usize),
    ) -> Pull<IndexedChunk<P::Items>> {
        let n = self.positions.len();
        let mut start = next.load(Ordering::Acquire);
        let (len, total) = loop {
            if start >= n.min(limit) {
                // Used up, or a failure made the rest unwanted; but until
                // every claim has pushed its chunks, a worker that left now
                // could leave a chunk behind (one its peer, busy, may wait on).
                if published.load(Ordering::Acquire) < start {
                    return Pull::Busy;
                }
                if start >= n {
                    on_end(n);
                }
                self.exhausted.store(true, Ordering::Release);
                return Pull::Exhausted;
            }
            let budget = room
                .map_or(usize::MAX, |free| free(start))
                .min(limit - start)
                .min(n - start);
            if budget == 0 {
                return Pull::NoRoom;
            }
            let len = self.sizer.chunk_len(Some(n - start)).min(budget);
            let total = len.saturating_mul(self.sizer.per_pull()).min(budget);
            // Relaxed: `next` hands out positions, not data; the chunks go
            // out through the injector, and `published` says when.
            match next.compare_exchange_weak(
                start,
                start + total,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break (len, total),
                Err(now) => start = now,
            }
        };
        let end = start + total;
        let first = self.span(start..(start + len).min(end));
        for from in (start + len..end).step_by(len) {
            injector.push(self.span(from..from.saturating_add(len).min(end)));
        }
        // Release, after the pushes: a worker that reads every claimed
        // position published (acquire, above) finds their chunks in the
        // injector, and so does one that reads `exhausted` set after that.
        published.fetch_add(total, Ordering::Release);
        Pull::Chunk(first)
    }

    /// ClaimOrder a chunk from the front of worker `me`'s part, refilling the
    /// part from the largest of its peers' when it is empty.
    fn pull_spread(
        &self,
        parts: &Parts,
        me: usize,
        room: Room<'_>,
        limit: usize,
        on_end: impl FnOnce(usize),
    ) -> Pull<IndexedChunk<P::Items>> {
        // Spread claims serve calls whose failures stop every item not yet
        // started (a limit of 0), never a limit inside the input.
        debug_assert!(limit == 0 || limit >= self.positions.len());
        if limit < self.positions.len() {
            self.exhausted.store(true, Ordering::Release);
            return Pull::Exhausted;
        }
        let own = &parts.parts[me % parts.parts.len()];
        loop {
            // Counted before the own part is locked: the count locks every
            // part in turn. Only a window needs it.
            let budget = room.map_or(usize::MAX, |free| free(parts.claimed()));
            {
                let mut part = own.lock();
                let part = &mut *part;
                let end = part.range.end.min(limit);
                if part.range.start < end {
                    if budget == 0 {
                        return Pull::NoRoom;
                    }
                    // Chunks as if every part were as long as this one.
                    let left = end - part.range.start;
                    let whole = left.saturating_mul(self.sizer.per_pull());
                    let ramp = || {
                        let len = part.ramp;
                        part.ramp = len.saturating_mul(2);
                        len
                    };
                    let len = self.sizer.chunk_len_with(Some(whole), ramp);
                    let len = len.min(left).min(budget);
                    let start = part.range.start;
                    part.range.start += len;
                    part.claimed += len;
                    return Pull::Chunk(self.span(start..start + len));
                }
            }
            // Own part used up: take the back half of the largest part left.
            // Acquire: pairs with the release that ends a split (see
            // PROTOCOL.md, "Split detection").
            let ended = parts.splits_ended.load(Ordering::Acquire);
            let largest = parts
                .parts
                .iter()
                .map(|p| {
                    let r = &p.lock().range;
                    r.end.min(limit).saturating_sub(r.start)
                })
                .enumerate()
                .max_by_key(|&(_, left)| left);
            match largest {
                Some((victim, left)) if left > 0 => {
                    let mut guard = parts.parts[victim].lock();
                    let theirs = &mut guard.range;
                    let end = theirs.end.min(limit);
                    if theirs.start >= end {
                        continue; // claimed meanwhile: look again
                    }
                    // Relaxed: under the victim's lock, whose release makes
                    // it visible to whoever finds the range gone.
                    parts.splits_begun.fetch_add(1, Ordering::Relaxed);
                    let mid = theirs.start + (end - theirs.start) / 2;
                    let stolen = mid..theirs.end;
                    theirs.end = mid;
                    // One lock at a time: no order between parts to keep.
                    drop(guard);
                    own.lock().range = stolen;
                    parts.splits_ended.fetch_add(1, Ordering::Release);
                }
                _ => {
                    // Every part looked empty; but a range taken by a split
                    // that was under way is in no part until it lands.
                    if parts.splits_begun.load(Ordering::Relaxed) != ended {
                        return Pull::Busy;
                    }
                    if limit >= self.positions.len() {
                        on_end(self.positions.len());
                    }
                    self.exhausted.store(true, Ordering::Release);
                    return Pull::Exhausted;
                }
            }
        }
    }

    /// The chunk of the positions `range`.
    fn span(&self, range: Range<usize>) -> IndexedChunk<P::Items> {
        let start = range.start;
        // SAFETY: `range` was claimed by this thread alone (from the counter
        // or from a part, under its lock), so each position is passed once;
        // the chunk lives in the call, which drops it before the input.
        let run = unsafe { self.positions.take(range) };
        IndexedChunk { start, run }
    }
}

impl<P: Positions> Drop for Indexed<P> {
    fn drop(&mut self) {
        let Indexed {
            positions, claims, ..
        } = self;
        let n = positions.len();
        let mut drop_unclaimed = |range: Range<usize>| {
            if !range.is_empty() {
                // SAFETY: these positions were never claimed, so never run,
                // and the ranges are disjoint; this runs once.
                unsafe { positions.drop_unclaimed(range) };
            }
        };
        match claims {
            Claimer::InOrder { next, .. } => drop_unclaimed((*next.get_mut()).min(n)..n),
            Claimer::Spread(parts) => {
                for part in parts.parts.iter_mut() {
                    drop_unclaimed(get_mut(&mut part.0).range.clone());
                }
            }
        }
    }
}

impl<P: Positions> Input for Indexed<P> {
    type Item = P::Item;
    type Chunk = IndexedChunk<P::Items>;

    fn is_exhausted(&self, _me: usize) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    fn pulled(&self) -> usize {
        match &self.claims {
            Claimer::InOrder { next, .. } => next.load(Ordering::Acquire),
            Claimer::Spread(parts) => parts.claimed(),
        }
    }

    fn sizer(&self) -> &Sizer {
        &self.sizer
    }

    fn lend(&mut self, layout: Layout, len: usize) -> Option<Lent> {
        let pulled = match &mut self.claims {
            Claimer::InOrder { next, .. } => *next.get_mut(),
            Claimer::Spread(parts) => parts
                .parts
                .iter_mut()
                .map(|part| get_mut(&mut part.0).claimed)
                .sum(),
        };
        if pulled > 0 {
            return None;
        }
        self.positions.lend(layout, len)
    }

    fn pull(
        &self,
        me: usize,
        injector: &Injected<IndexedChunk<P::Items>>,
        room: Room<'_>,
        limit: usize,
        on_end: impl FnOnce(usize),
    ) -> Pull<IndexedChunk<P::Items>> {
        match &self.claims {
            Claimer::InOrder { next, published } => {
                self.pull_in_order(next, published, injector, room, limit, on_end)
            }
            Claimer::Spread(parts) => self.pull_spread(parts, me, room, limit, on_end),
        }
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
            type Items = Range<$t>;

            fn len(&self) -> usize {
                self.len
            }

            unsafe fn take(&self, range: Range<usize>) -> Range<$t> {
                // In range: positions are below `len`, the range's length.
                let at = |i: usize| (i128::from(self.range.start) + i as i128) as $t;
                at(range.start)..at(range.end)
            }

            unsafe fn drop_unclaimed(&mut self, _range: Range<usize>) {}
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
    type Items = Range<usize>;

    fn len(&self) -> usize {
        self.len
    }

    unsafe fn take(&self, range: Range<usize>) -> Range<usize> {
        self.range.start + range.start..self.range.start + range.end
    }

    unsafe fn drop_unclaimed(&mut self, _range: Range<usize>) {}
}

#[cfg(test)]
mod tests {
    use super::super::vec_of::VecOf;
    use super::*;
    use crossbeam_deque::Steal;
    use std::sync::Arc;

    /// Pulls as worker `me`, with no bound on room or position.
    fn pull_free<P: Positions>(
        input: &Indexed<P>,
        me: usize,
        injector: &Injected<IndexedChunk<P::Items>>,
    ) -> Pull<IndexedChunk<P::Items>> {
        input.pull(me, injector, None, usize::MAX, |_| {})
    }

    /// The chunk a free pull as worker `me` must give.
    fn chunk<P: Positions>(
        input: &Indexed<P>,
        me: usize,
        injector: &Injected<IndexedChunk<P::Items>>,
    ) -> IndexedChunk<P::Items> {
        match pull_free(input, me, injector) {
            Pull::Chunk(c) => c,
            _ => panic!("worker {me} got no chunk"),
        }
    }

    /// The next chunk in `injector`, `None` once it is empty. A `Retry` is
    /// no sign of an empty injector: its compare-and-swap may fail
    /// spuriously (as Miri makes it do) even with no other thread around.
    fn steal<T>(injector: &Injected<T>) -> Option<T> {
        let injector = injector.get()?;
        loop {
            match injector.steal() {
                Steal::Success(chunk) => return Some(chunk),
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    fn all<P: Positions>(input: &Indexed<P>) -> Vec<Vec<P::Item>>
    where
        P::Item: Send,
    {
        let injector = Injected::new();
        let mut chunks = Vec::new();
        while let Pull::Chunk(c) = pull_free(input, 0, &injector) {
            chunks.push(c);
            chunks.extend(std::iter::from_fn(|| steal(&injector)));
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
                ClaimOrder::InOrder,
            );
            let got: Vec<i64> = all(&input).into_iter().flatten().collect();
            assert_eq!(got, (start..end).collect::<Vec<_>>());
            assert!(input.is_exhausted(0));
        }
        let input = Indexed::new(
            RangeOf::<usize>::new(5..50).unwrap(),
            ChunkPolicy::Fixed(10),
            2,
            ClaimOrder::InOrder,
        );
        let lens: Vec<usize> = all(&input).iter().map(Vec::len).collect();
        assert_eq!(lens, [10, 10, 10, 10, 5]);
    }

    #[test]
    fn chunks_longer_than_half_the_positions_end_at_the_last() {
        let input = Indexed::new(
            RangeOf::<u64>::new(0..u64::MAX).unwrap(),
            ChunkPolicy::Fixed(1 << 62),
            4,
            ClaimOrder::InOrder,
        );
        let injector = Injected::new();
        let first = chunk(&input, 0, &injector);
        let rest: Vec<_> = std::iter::from_fn(|| steal(&injector)).collect();
        let spans: Vec<(usize, usize)> = std::iter::once(first)
            .chain(rest)
            .map(|c| (c.start(), c.size_hint().0))
            .collect();
        let quarter = 1 << 62;
        assert_eq!(
            spans,
            [
                (0, quarter),
                (quarter, quarter),
                (2 * quarter, quarter),
                (3 * quarter, quarter - 1)
            ]
        );
        assert_eq!(input.pulled(), usize::MAX);
    }

    #[test]
    fn room_and_limit_bound_the_claims() {
        let input = Indexed::new(
            RangeOf::<u32>::new(0..100).unwrap(),
            ChunkPolicy::Fixed(8),
            4,
            ClaimOrder::InOrder,
        );
        let injector = Injected::new();
        assert!(matches!(
            input.pull(0, &injector, Some(&|_| 0), usize::MAX, |_| {}),
            Pull::NoRoom
        ));
        let Pull::Chunk(c) = input.pull(0, &injector, Some(&|_| 12), usize::MAX, |_| {}) else {
            panic!()
        };
        assert_eq!(c.count(), 8);
        assert_eq!(input.pulled(), 12);
        assert!(matches!(
            input.pull(0, &injector, Some(&|_| 99), 12, |_| {}),
            Pull::Exhausted
        ));
        assert!(input.is_exhausted(0));
    }

    #[test]
    fn vector_items_move_out_once_and_the_rest_is_dropped() {
        let tracker = Arc::new(());
        let items: Vec<Arc<()>> = (0..100).map(|_| tracker.clone()).collect();
        let input = Indexed::new(
            VecOf::new(items),
            ChunkPolicy::Fixed(10),
            2,
            ClaimOrder::InOrder,
        );
        let injector = Injected::new();
        let mut first = chunk(&input, 0, &injector);
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
        let input = Indexed::new(
            VecOf::<u8>::new(Vec::new()),
            ChunkPolicy::Fixed(3),
            2,
            ClaimOrder::InOrder,
        );
        let mut ends = Vec::new();
        let pulled = input.pull(0, &Injected::new(), None, usize::MAX, |n| ends.push(n));
        assert!(matches!(pulled, Pull::Exhausted));
        assert_eq!(ends, [0]);
        assert!(input.is_exhausted(0));
    }

    #[test]
    fn the_end_is_reported_when_everything_is_out() {
        let input = Indexed::new(
            RangeOf::<u64>::new(0..10).unwrap(),
            ChunkPolicy::Fixed(3),
            2,
            ClaimOrder::InOrder,
        );
        let injector = Injected::new();
        let mut ends = Vec::new();
        while let Pull::Chunk(_) = input.pull(0, &injector, None, usize::MAX, |n| ends.push(n)) {}
        assert_eq!(ends, [10]);
    }

    /// Pulls from a spread input as worker `me` until it is exhausted.
    fn spread_pulls<P: Positions>(input: &Indexed<P>, me: usize) -> Vec<IndexedChunk<P::Items>>
    where
        P::Item: Send,
    {
        let injector = Injected::new();
        let mut chunks = Vec::new();
        loop {
            match pull_free(input, me, &injector) {
                Pull::Chunk(c) => chunks.push(c),
                Pull::Exhausted => break,
                Pull::Busy => std::hint::spin_loop(),
                _ => panic!("unexpected pull"),
            }
        }
        assert!(injector.get().is_none(), "spread claims make no injector");
        chunks
    }

    #[test]
    fn spread_parts_start_apart_and_are_split_when_used_up() {
        let input = Indexed::new(
            RangeOf::<usize>::new(0..100).unwrap(),
            ChunkPolicy::Fixed(10),
            4,
            ClaimOrder::Spread,
        );
        let injector = Injected::new();
        let firsts: Vec<usize> = (0..4)
            .map(|me| chunk(&input, me, &injector).start())
            .collect();
        assert_eq!(firsts, [0, 25, 50, 75]);
        assert_eq!(input.pulled(), 40);
        // Worker 0 takes the rest of its part (10..25), then splits the
        // largest part left (the last of four of 15) in two, taking its
        // back half.
        let starts: Vec<usize> = spread_pulls(&input, 0)
            .iter()
            .map(IndexedChunk::start)
            .collect();
        assert_eq!(&starts[..3], [10, 20, 92]);
        assert!(input.is_exhausted(0));
        assert_eq!(input.pulled(), 100);
    }

    #[test]
    fn spread_claims_cover_every_position_once() {
        for (n, workers) in [(0, 3), (1, 3), (7, 3), (1000, 3), (4099, 8)] {
            let input = Indexed::new(
                RangeOf::<u64>::new(0..n).unwrap(),
                ChunkPolicy::Adaptive { max: 64 },
                workers,
                ClaimOrder::Spread,
            );
            let mut got: Vec<u64> = std::thread::scope(|s| {
                let pulls: Vec<_> = (0..workers)
                    .map(|me| {
                        let input = &input;
                        s.spawn(move || {
                            let chunks = spread_pulls(input, me);
                            chunks.into_iter().flatten().collect::<Vec<u64>>()
                        })
                    })
                    .collect();
                pulls.into_iter().flat_map(|h| h.join().unwrap()).collect()
            });
            got.sort_unstable();
            assert_eq!(
                got,
                (0..n).collect::<Vec<_>>(),
                "{n} items, {workers} workers"
            );
        }
    }

    #[test]
    fn spread_limits_and_room_bound_the_claims() {
        let input = Indexed::new(
            RangeOf::<u32>::new(0..100).unwrap(),
            ChunkPolicy::Fixed(8),
            2,
            ClaimOrder::Spread,
        );
        let injector = Injected::new();
        assert!(matches!(
            input.pull(1, &injector, Some(&|_| 0), usize::MAX, |_| {}),
            Pull::NoRoom
        ));
        let mut ends = Vec::new();
        // A failure stopped everything: nothing is claimed, no end reported.
        assert!(matches!(
            input.pull(1, &injector, Some(&|_| 99), 0, |n| ends.push(n)),
            Pull::Exhausted
        ));
        assert!(ends.is_empty());
        assert_eq!(input.pulled(), 0);
    }

    #[test]
    fn spread_vector_items_left_unclaimed_are_dropped() {
        let tracker = Arc::new(());
        let items: Vec<Arc<()>> = (0..100).map(|_| tracker.clone()).collect();
        let input = Indexed::new(
            VecOf::new(items),
            ChunkPolicy::Fixed(10),
            4,
            ClaimOrder::Spread,
        );
        let injector = Injected::new();
        let mut c = chunk(&input, 2, &injector);
        assert_eq!(c.start(), 50);
        let taken = c.next().unwrap();
        drop(c);
        assert_eq!(Arc::strong_count(&tracker), 1 + 1 + 90);
        drop(input); // the ninety in four parts, never claimed
        assert_eq!(Arc::strong_count(&tracker), 2);
        drop(taken);
        assert_eq!(Arc::strong_count(&tracker), 1);
    }

    #[test]
    fn spread_chunks_double_from_one_per_worker_until_measured() {
        let input = Indexed::new(
            RangeOf::<usize>::new(0..1000).unwrap(),
            ChunkPolicy::Adaptive { max: 4096 },
            2,
            ClaimOrder::Spread,
        );
        let injector = Injected::new();
        let pull = |me| {
            let c = chunk(&input, me, &injector);
            (c.start(), c.count())
        };
        assert_eq!([pull(0), pull(0), pull(0)], [(0, 1), (1, 2), (3, 4)]);
        assert_eq!([pull(1), pull(1)], [(500, 1), (501, 2)]);
        // Measured, 100 ns an item: guided, a quarter of the 493 left in the
        // part (more than 4 µs of work).
        input
            .sizer()
            .record(100, std::time::Duration::from_micros(10));
        assert_eq!(pull(0), (7, 123));
        // 1 ns an item: a quarter would be under 4 µs; the rest of the part.
        let cheap = Indexed::new(
            RangeOf::<usize>::new(0..1000).unwrap(),
            ChunkPolicy::Adaptive { max: 4096 },
            2,
            ClaimOrder::Spread,
        );
        cheap
            .sizer()
            .record(100, std::time::Duration::from_nanos(100));
        assert_eq!(chunk(&cheap, 1, &injector).count(), 500);
    }
}
