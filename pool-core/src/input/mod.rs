//! Cutting the input into chunks.
//!
//! Two kinds of input: [`Fed`], any iterator, pulled by one thread that owns
//! it and publishes each item as it comes (so that no item waits for a later
//! one, however the iterator blocks), the workers claiming runs of what is
//! published; and [`Indexed`], ranges of integers and vectors, whose
//! positions are claimed without a shared lock (from a part of the input of
//! each worker's own, or in order with an atomic counter) and whose items
//! are made (or moved out) by the worker that runs them, so that no one
//! touches an item twice.

mod dealt;
mod fed;
mod indexed;
mod vec_of;

use std::alloc::Layout;
use std::mem::ManuallyDrop;
use std::ops::Range;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_deque::Injector;

pub(crate) use dealt::{Dealt, DealtFeed, OneItem};
pub(crate) use fed::Fed;
pub(crate) use indexed::ClaimOrder;
use indexed::{Indexed, RangeOf};
use vec_of::VecOf;

/// A call's queue of chunks cut for any of its workers (a crossbeam
/// `Injector`), made by the first chunk pushed: only an in-order claim
/// (`imap`'s) cuts chunks ahead for its peers, and an `Injector` allocates a
/// block of 63 slots (a few KiB) when it is made, which a small call of
/// any other kind would pay for nothing.
pub(crate) struct Injected<C> {
    injector: OnceLock<Injector<C>>,
}

impl<C> Injected<C> {
    pub(crate) const fn new() -> Self {
        Injected {
            injector: OnceLock::new(),
        }
    }

    /// Pushes `chunk`, making the queue if it is the first.
    pub(crate) fn push(&self, chunk: C) {
        self.injector.get_or_init(Injector::new).push(chunk);
    }

    /// The queue, if a chunk was ever pushed.
    pub(crate) fn get(&self) -> Option<&Injector<C>> {
        self.injector.get()
    }
}

/// How many more items a streaming call's look-ahead window lets its
/// workers pull, given how many they pulled so far; `None` where nothing
/// bounds them (a blocking call), so that no pull counts what is pulled for
/// a window there is not: a count shared by the workers and written on
/// every chunk is a cache line sent from worker to worker.
pub(crate) type Room<'a> = Option<&'a dyn Fn(usize) -> usize>;

/// A run of consecutive input items, the unit of scheduling and stealing.
/// Dropping a chunk drops the items it did not yield.
pub(crate) trait Chunk: Iterator + Send {
    /// Input position of the chunk's first item.
    fn start(&self) -> usize;
}

/// Where the items of a call come from.
pub(crate) trait Input: Sync {
    type Item;
    type Chunk: Chunk<Item = Self::Item>;

    /// Whether the input is used up for worker `me`. Once this reads
    /// `true`, every chunk cut from it for `me` is in the injector or a
    /// worker's hands (an input dealt by worker has chunks for `me` alone;
    /// any other input is used up for all alike).
    fn is_exhausted(&self, me: usize) -> bool;

    /// Items taken from the input so far (the next input position).
    fn pulled(&self) -> usize;

    /// What sizes this input's chunks, from the measured cost of an item.
    fn sizer(&self) -> &Sizer;

    /// Hands over the buffer that holds the input's items, if it holds
    /// exactly `len` items of `layout` and no chunk was cut yet. The input
    /// then no longer frees it: the borrower does, once every chunk and the
    /// input are gone.
    fn lend(&mut self, _layout: Layout, _len: usize) -> Option<Lent> {
        None
    }

    /// ClaimOrder the next chunk for worker `me`, none at or past `limit`. An
    /// indexed input claimed in order cuts up to one chunk per worker, at
    /// most `room(pulled)` items in all, keeps the first and pushes the
    /// others to `injector`, and runs `on_end` with its length when a pull
    /// finds it exhausted (once for a non-empty input; an empty one may
    /// report it more than once). A fed input claims what its feeder
    /// published, whose room and end the feeder handles.
    fn pull(
        &self,
        me: usize,
        injector: &Injected<Self::Chunk>,
        room: Room<'_>,
        limit: usize,
        on_end: impl FnOnce(usize),
    ) -> Pull<Self::Chunk>;

    /// After [`Pull::Empty`] for worker `me`: blocks until more items may
    /// be there for it, or `stopped()`.
    fn wait_for_items(&self, _me: usize, _stopped: &dyn Fn() -> bool) {}

    /// Wakes every thread blocked in this input's waits: the call halted.
    fn wake(&self) {}
}

/// An input that one feeder fills as its source yields (the caller of a
/// blocking call, the feed thread of a stream, or the consumer of a stream
/// whose input borrows, in turns): [`Fed`], and [`DealtFeed`] under
/// `order_tasks`.
pub(crate) trait Feedable: Input {
    /// The feeding end.
    type Publisher<'f>: Publish<Self::Item>
    where
        Self: 'f;
    /// The feeding end: `None` once the feeding ended (and, for a
    /// [`Fed`] input, while it is out). A call has one feeder at a time.
    fn publisher(&self) -> Option<Self::Publisher<'_>>;
    /// Items published so far: the position of the next one.
    fn published(&self) -> usize;
    /// Ends the input: no more items come (whether its feeder ended or
    /// unwound).
    fn end_feeding(&self);
    /// How many more items the feeder may publish now, at position `pos`.
    fn room(&self, pos: usize) -> usize;
    /// Blocks the feeder, at position `pos`, while it has no room and
    /// `stopped()` is false.
    fn wait_for_room(&self, pos: usize, stopped: &dyn Fn() -> bool);
}

/// The feeding end of a [`Feedable`] input.
pub(crate) trait Publish<T> {
    /// The position of the next item: items published so far.
    fn pos(&self) -> usize;
    /// Publishes `item` at the next position.
    fn push(&mut self, item: T);
    /// Puts the feeding end back where [`Feedable::publisher`] finds it,
    /// for a feeder that pulls in turns.
    fn park(self);
}

/// Something to do with an input, whichever kind [`visit`] picked.
pub(crate) trait InputVisitor<'a, T> {
    type Output;
    /// An input whose items the workers make themselves: `cast` turns the
    /// input's items into the iterator's (they are the same type). Inputs
    /// live as long as `'a`, the iterator's lifetime.
    fn visit<In, C>(self, input: In, cast: C) -> Self::Output
    where
        In: Input + Send + 'a,
        In::Item: Send,
        C: Fn(In::Item) -> T + Copy + Send + Sync + 'a;

    /// Any other iterator: one thread pulls it and feeds a [`Fed`] input.
    fn visit_fed<I>(self, iter: I) -> Self::Output
    where
        I: Iterator<Item = T> + Send + 'a,
        T: Send + 'a;
}

/// Moves `value` into the type `B`.
///
/// # Safety
/// `A` and `B` are the same type (lifetimes aside, where one has none).
unsafe fn same_type<A, B>(value: A) -> B {
    assert_eq!(size_of::<A>(), size_of::<B>());
    let value = ManuallyDrop::new(value);
    // SAFETY: the caller's promise: same type, so same layout and validity.
    unsafe { std::ptr::read((&*value as *const A).cast::<B>()) }
}

/// Makes an [`Input`] of `iter`, indexed where it is a range of integers or
/// a vector's iterator (recognised by their type ids), its positions claimed
/// as `claims` says, and hands it to `visitor`; any other iterator goes to
/// [`InputVisitor::visit_fed`].
pub(crate) fn visit<'a, I, V>(
    iter: I,
    policy: ChunkPolicy,
    n_workers: usize,
    claims: ClaimOrder,
    visitor: V,
) -> V::Output
where
    I: Iterator + Send + 'a,
    I::Item: Send + 'a,
    V: InputVisitor<'a, I::Item>,
{
    macro_rules! ranges {
        ($($t:ty),*) => {$(
            if typeid::of::<I>() == typeid::of::<Range<$t>>() {
                // SAFETY: `I` is `Range<$t>`: equal type ids, and `Range<$t>`
                // has no lifetime to differ in.
                let range = unsafe { same_type::<I, Range<$t>>(iter) };
                // SAFETY: so `I::Item` is `$t`.
                let cast = |x: $t| unsafe { same_type::<$t, I::Item>(x) };
                match RangeOf::<$t>::new(range.clone()) {
                    Some(positions) => return visitor.visit(Indexed::new(positions, policy, n_workers, claims), cast),
                    // Longer than `usize` counts: no position for every item.
                    // SAFETY: back to `I`, the same type.
                    None => return visitor.visit_fed(unsafe { same_type::<Range<$t>, I>(range) }),
                }
            }
        )*};
    }
    ranges!(usize, u64, u32, i64, i32);
    if typeid::of::<I>() == typeid::of::<std::vec::IntoIter<I::Item>>() {
        // SAFETY: `I` is `vec::IntoIter<X>` with `X` the type `I::Item` names,
        // lifetimes included, so it is exactly `vec::IntoIter<I::Item>`.
        let items = unsafe { same_type::<I, std::vec::IntoIter<I::Item>>(iter) };
        // Collecting a vector's own iterator reuses its buffer in place.
        let positions = VecOf::new(items.collect());
        return visitor.visit(Indexed::new(positions, policy, n_workers, claims), |x| x);
    }
    visitor.visit_fed(iter)
}

/// A vector input's buffer, lent to the outputs (see [`Input::lend`]): each
/// item leaves its slot before the output of the same position is written
/// there, by the same worker.
#[derive(Debug)]
pub(crate) struct Lent {
    /// The buffer, allocated by the global allocator for `cap` items of
    /// `item_layout` (a `Vec`'s buffer).
    pub(crate) ptr: NonNull<u8>,
    pub(crate) cap: usize,
    /// The layout of one of the items the buffer was allocated for.
    pub(crate) item_layout: Layout,
}

/// Asks an input for its buffer (see [`Input::lend`]): what a sink that
/// can take it is made with.
pub(crate) type Lender<'l> = &'l mut dyn FnMut(Layout, usize) -> Option<Lent>;

/// What a pull from the input got.
pub(crate) enum Pull<C> {
    /// A chunk for the puller; more may have gone to the injector.
    Chunk(C),
    /// Nothing: the input is exhausted (or failed, or no more is wanted).
    Exhausted,
    /// Nothing now: the look-ahead window is full.
    NoRoom,
    /// Nothing now: another worker is claiming (and will share what it cuts).
    Busy,
    /// Nothing now: no item is published yet (see [`Input::wait_for_items`]).
    Empty,
}

/// How long chunks are.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChunkPolicy {
    /// Exactly this many items (the user's `chunk_size`).
    Fixed(usize),
    /// Adapted to the input and to the measured cost of an item (see
    /// [`Sizer::chunk_len`]); never more than `max`.
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

/// How long a chunk should take: long enough that scheduling costs vanish,
/// short enough that a worker stuck on a chunk leaves little behind it.
const CHUNK_TARGET_NANOS: u64 = 50_000;

/// How long a chunk of items whose cost is measured takes at least, where
/// the input has that much left: the guided share (a quarter of the rest
/// per worker) shrinks no further. Cutting, handing over and delivering a
/// chunk costs about 0.3 µs (group 5 of the benches, on 1 worker with
/// `chunk_size(1)`), so a chunk of this length spends under a tenth on
/// it; and a worker that runs one more such chunk than its peers ends the
/// call at most this much later.
const CHUNK_FLOOR_NANOS: u64 = 4_000;

/// How long a block of items runs between two reads of the stop limit, at
/// most: a failure stops the other workers within about this time.
const BLOCK_TARGET_NANOS: u64 = 1_000;

/// The longest block.
const MAX_BLOCK: usize = 1024;

/// Chooses chunk lengths.
pub(crate) struct Sizer {
    policy: ChunkPolicy,
    /// Chunks cut per pull: one per worker.
    per_pull: usize,
    /// Measured cost of one item, in nanoseconds (a moving average; `0`
    /// until a chunk has run).
    item_nanos: AtomicU64,
    /// The next length for an input of unknown length, until measured.
    grow: AtomicU64,
}

impl Sizer {
    pub(crate) fn new(policy: ChunkPolicy, n_workers: usize) -> Self {
        Sizer {
            policy,
            per_pull: n_workers.max(1),
            item_nanos: AtomicU64::new(0),
            grow: AtomicU64::new(1),
        }
    }

    /// Whether chunk lengths are the user's (`chunk_size`).
    pub(crate) fn is_fixed(&self) -> bool {
        matches!(self.policy, ChunkPolicy::Fixed(_))
    }

    pub(crate) fn per_pull(&self) -> usize {
        self.per_pull
    }

    /// Takes note that `items` items ran in `elapsed`: a moving average of
    /// the cost of one item, which moves only where it changes by more than
    /// an eighth (a sample more than half off the estimate). The estimate
    /// sizes chunks, which need no more precision than that, and a store on
    /// every chunk sent its cache line from worker to worker: with 2
    /// workers and chunks of 1 item, an item cost 517 ns with it and 422 ns
    /// without.
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
        if new.abs_diff(old) > old / 8 {
            self.item_nanos.store(new, Ordering::Relaxed);
        }
    }

    /// Items per block: one until an item's cost is measured, then what
    /// takes about [`BLOCK_TARGET_NANOS`].
    pub(crate) fn block_len(&self) -> usize {
        match self.item_nanos.load(Ordering::Relaxed) {
            0 => 1,
            nanos => usize::try_from(BLOCK_TARGET_NANOS / nanos)
                .unwrap_or(MAX_BLOCK)
                .clamp(1, MAX_BLOCK),
        }
    }

    /// The next chunk's length: the user's, or the least of: a quarter of
    /// what is left shared between the workers (when the input knows its
    /// length; once measured, never less than what takes about
    /// [`CHUNK_FLOOR_NANOS`]), what takes about [`CHUNK_TARGET_NANOS`]
    /// (once measured), a length doubling from 1 (until measured, so that a
    /// few slow items at the start do not all go into one chunk), and the
    /// policy's maximum.
    pub(crate) fn chunk_len(&self, remaining: Option<usize>) -> usize {
        self.chunk_len_with(remaining, || {
            let len = self.grow.load(Ordering::Relaxed);
            self.grow.store(len.saturating_mul(2), Ordering::Relaxed);
            len
        })
    }

    /// Like [`Sizer::chunk_len`], with the doubling length kept by the
    /// caller: `ramp` gives the next one (and doubles it), called only
    /// until an item's cost is measured.
    pub(crate) fn chunk_len_with(
        &self,
        remaining: Option<usize>,
        ramp: impl FnOnce() -> u64,
    ) -> usize {
        let max = match self.policy {
            ChunkPolicy::Fixed(len) => return len,
            ChunkPolicy::Adaptive { max } => max,
        };
        let guided = remaining.map(|left| left / self.per_pull.saturating_mul(4));
        let (by_cost, floor) = match self.item_nanos.load(Ordering::Relaxed) {
            0 => (usize::try_from(ramp()).unwrap_or(usize::MAX), 1),
            nanos => (
                usize::try_from(CHUNK_TARGET_NANOS / nanos).unwrap_or(usize::MAX),
                usize::try_from(CHUNK_FLOOR_NANOS / nanos).unwrap_or(usize::MAX),
            ),
        };
        guided
            .map_or(by_cost, |g| g.min(by_cost).max(floor))
            .clamp(1, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_lengths_ramp_up_until_measured_then_are_guided() {
        let sizer = Sizer::new(ChunkPolicy::Adaptive { max: 4096 }, 2);
        let lens: Vec<usize> = (0..9).map(|_| sizer.chunk_len(Some(1000))).collect();
        assert_eq!(lens, [1, 2, 4, 8, 16, 32, 64, 125, 125]);
        sizer.record(100, Duration::from_micros(10)); // 100 ns an item
        assert_eq!(sizer.chunk_len(Some(1000)), 125);
        assert_eq!(sizer.chunk_len(Some(875)), 109);
        // No less than 4 µs of work (the caller takes what is left, if less).
        assert_eq!(sizer.chunk_len(Some(100)), 40);
        assert_eq!(sizer.chunk_len(Some(3)), 40);
        // No more than 50 µs.
        assert_eq!(sizer.chunk_len(Some(1 << 30)), 500);
        let cheap = Sizer::new(ChunkPolicy::Adaptive { max: 4096 }, 2);
        cheap.record(100, Duration::from_nanos(100)); // 1 ns an item
        assert_eq!(cheap.chunk_len(Some(1000)), 4000);
        assert_eq!(cheap.chunk_len(Some(1 << 30)), 4096);
        // A ramp of the caller's own.
        let fresh = Sizer::new(ChunkPolicy::Adaptive { max: 4096 }, 2);
        let mut ramp = 4;
        let mut next = || {
            let len = ramp;
            ramp *= 2;
            len
        };
        assert_eq!(fresh.chunk_len_with(Some(1000), &mut next), 4);
        assert_eq!(fresh.chunk_len_with(Some(1000), &mut next), 8);
    }

    #[test]
    fn any_number_of_workers_and_length_gives_a_length() {
        let sizer = Sizer::new(ChunkPolicy::Adaptive { max: 4096 }, usize::MAX);
        sizer.record(1, Duration::from_nanos(1));
        // The share per worker rounds to nothing; 4 µs of 1 ns items.
        assert_eq!(sizer.chunk_len(Some(usize::MAX)), 4000);
    }

    #[test]
    fn unknown_lengths_grow_until_measured() {
        let sizer = Sizer::new(ChunkPolicy::Adaptive { max: 8 }, 1);
        let lens: Vec<usize> = (0..6).map(|_| sizer.chunk_len(None)).collect();
        assert_eq!(lens, [1, 2, 4, 8, 8, 8]);
    }

    #[test]
    fn measured_costs_size_the_chunks() {
        let sizer = Sizer::new(ChunkPolicy::Adaptive { max: 4096 }, 1);
        sizer.record(10, Duration::from_micros(10)); // 1 µs an item
        assert_eq!(sizer.chunk_len(None), 50);
        assert_eq!(sizer.chunk_len(Some(1 << 20)), 50);
        sizer.record(1, Duration::from_millis(5)); // one very slow item
        assert_eq!(sizer.chunk_len(None), 1);
        for _ in 0..64 {
            sizer.record(1000, Duration::from_nanos(1000)); // back to 1 ns
        }
        assert_eq!(sizer.chunk_len(None), 4096);
        let fixed = Sizer::new(ChunkPolicy::Fixed(7), 3);
        fixed.record(1, Duration::from_secs(1));
        assert_eq!(fixed.chunk_len(Some(1)), 7);
    }
}
