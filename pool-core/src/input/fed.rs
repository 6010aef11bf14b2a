//! Any iterator, fed to the workers item by item by one thread that owns it
//! (the caller of a blocking call, or a feeder thread of a streaming one).
//!
//! The feeder writes each item into a slot of a segment and publishes it
//! at once, with one release store, before it asks the iterator for the
//! next one: an item taken from the input never waits for a later one,
//! whether the input is a channel that blocks or a fast iterator. Workers
//! claim runs of published items under a lock, one run a chunk, and move
//! each item out of its slot when they run it.
//!
//! Waiting, so that the feeder keeps a CPU to itself when the workers keep
//! up: a worker that wants a chunk while less is published spins for it
//! only if no other worker does so or runs a chunk (see [`Fed::gather`]);
//! otherwise it waits, spinning a little, then sleeping. The feeder wakes a
//! sleeper when no worker is awake and looking, and either every worker
//! sleeps (no one else would see the item) or two chunks' worth wait (those
//! running do not keep up). Its check after each item is a relaxed load (a
//! fence an item would cost more than a nanosecond-scale item does), so a
//! worker that goes to sleep at that very moment can miss a wake-up; and a
//! worker that sleeps because another was busy has no wake-up coming for a
//! few items. Sleeps are therefore bounded: [`FIRST_SLEEP`], doubling up to
//! [`LONGEST_SLEEP`], after which a worker looks again. An item never waits
//! for a later one; at worst it waits that long for a worker.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_utils::{Backoff, CachePadded};

use super::{Chunk, ChunkPolicy, Feedable, Injected, Input, Publish, Pull, Room, Sizer};
use crate::sync::{get_mut, lock, wait_timeout};

/// The longest segment, in bytes of items.
const SEGMENT_BYTES: usize = 64 * 1024;
/// The first segment of an input of unknown length, in items.
const FIRST_SEGMENT: usize = 16;
/// The first sleep of a waiting thread: a bound on how long a wake-up lost
/// to the feeder's relaxed check can delay an item.
const FIRST_SLEEP: Duration = Duration::from_millis(1);
/// The longest sleep between two looks (each later sleep doubles): how
/// long an item can wait, at worst, while a worker sleeps because another
/// was busy and expected back soon (a long task among short ones).
const LONGEST_SLEEP: Duration = Duration::from_millis(8);
/// How long a worker leaves less than a chunk to the workers that run
/// chunks, counted from the last claim: past it, they are stuck on slow
/// items (or on each other) rather than about to come back.
const DEFER: Duration = Duration::from_millis(1);
/// The backlog that wakes a worker while the cost of an item is unknown.
const BACKLOG: usize = 256;
/// Rounds a worker that wants more items than are published waits for the
/// feeder to publish them, while it keeps publishing (see [`Fed::gather`]).
const GATHER_ROUNDS: u32 = 64;

/// Slots for items at positions `start..start + slots.len()`.
struct Segment<T> {
    start: usize,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// The segment after this one, set before any of its items is published.
    next: OnceLock<Arc<Segment<T>>>,
}

impl<T> Segment<T> {
    fn new(start: usize, len: usize) -> Arc<Self> {
        let slots = (0..len.max(1))
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect();
        Arc::new(Segment {
            start,
            slots,
            next: OnceLock::new(),
        })
    }

    fn end(&self) -> usize {
        self.start + self.slots.len()
    }

    /// The slot of position `at`, which lies in `start..=end()` (the end
    /// gives the address one past the last slot). Zero-sized items have no
    /// addresses to tell apart: their slots count in bytes from the first
    /// (see `FedChunk`).
    fn slot(&self, at: usize) -> *mut T {
        debug_assert!((self.start..=self.end()).contains(&at));
        let first: *mut T = UnsafeCell::raw_get(self.slots.as_ptr()).cast();
        if size_of::<T>() == 0 {
            first.wrapping_byte_add(at - self.start)
        } else {
            first.wrapping_add(at - self.start)
        }
    }
}

impl<T> Drop for Segment<T> {
    fn drop(&mut self) {
        // Unlinks the chain one segment at a time: a long chain dropped
        // recursively could overflow the stack. Items are not dropped here
        // (see `Fed`'s drop).
        let mut next = self.next.take();
        while let Some(segment) = next.take().and_then(Arc::into_inner) {
            let mut segment = segment;
            next = segment.next.take();
        }
    }
}

/// A run of claimed items, moved out of their slots as they are run.
/// Dropping it drops the items it did not yield.
pub(crate) struct FedChunk<T> {
    /// Keeps the slots alive.
    _segment: Arc<Segment<T>>,
    /// The input's count of runs out, decremented when this one drops.
    running: *const AtomicUsize,
    start: usize,
    /// The slot of the next item, and the end of the run's slots.
    next: *mut T,
    end: *mut T,
}

// SAFETY: a `FedChunk` owns the items in the slots `next..end` (claimed
// once, under the cursor lock); moving it moves those `T`s, hence
// `T: Send`. The segment is shared with the feeder and other runs, which
// never touch these slots.
unsafe impl<T: Send> Send for FedChunk<T> {}

impl<T> FedChunk<T> {
    /// The run of positions `range` of `segment`.
    fn new(segment: Arc<Segment<T>>, range: std::ops::Range<usize>, running: &AtomicUsize) -> Self {
        let (next, end) = (segment.slot(range.start), segment.slot(range.end));
        // Relaxed, as every use of `running`: a hint for the workers'
        // choice between waiting and gathering (see `Fed::busy_elsewhere`),
        // which orders no data.
        running.fetch_add(1, Ordering::Relaxed);
        FedChunk {
            _segment: segment,
            running,
            start: range.start,
            next,
            end,
        }
    }

    fn left(&self) -> usize {
        if size_of::<T>() == 0 {
            // Zero-sized items: the addresses count nothing; `end` carries
            // the count instead (see `next`).
            return self.end as usize - self.next as usize;
        }
        // SAFETY: both lie in (or one past) the same segment's slots, and
        // `next` never passes `end`.
        unsafe { self.end.offset_from(self.next) as usize }
    }
}

impl<T> Iterator for FedChunk<T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.next == self.end {
            return None;
        }
        // SAFETY: `next` lies in this run, whose slots were written and
        // published before the claim (acquire on `published`) and are read
        // by this run alone, each once, as `next` only moves forward.
        let item = unsafe { self.next.read() };
        self.next = if size_of::<T>() == 0 {
            self.next.wrapping_byte_add(1)
        } else {
            // SAFETY: still in, or one past, the run's slots.
            unsafe { self.next.add(1) }
        };
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.left();
        (left, Some(left))
    }
}

impl<T> Drop for FedChunk<T> {
    fn drop(&mut self) {
        let left = std::ptr::slice_from_raw_parts_mut(self.next, self.left());
        self.next = self.end;
        // SAFETY: the input outlives its chunks: they live in its call,
        // whose `Drop` empties its queues before its input drops, and in
        // workers' hands only while the call runs.
        let running = unsafe { &*self.running };
        running.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the slots `next..end` hold items of this run that were
        // not yielded: initialised, owned by this run, dropped once.
        unsafe { std::ptr::drop_in_place(left) };
    }
}

impl<T: Send> Chunk for FedChunk<T> {
    fn start(&self) -> usize {
        self.start
    }
}

/// Where claims stand.
struct Cursor<T> {
    segment: Arc<Segment<T>>,
    /// The next position to claim.
    next: usize,
}

/// A place where threads wait for a counter to move, with a bounded first
/// sleep (see the module's docs).
#[derive(Default)]
struct Waiters {
    lock: Mutex<()>,
    cond: Condvar,
    /// Threads asleep, or about to sleep, here.
    count: AtomicUsize,
    /// A wake-up of one thread is on its way: until that thread runs,
    /// asking again would only repeat the system call.
    waking: AtomicBool,
}

impl Waiters {
    /// Sleeps while `wait()` holds, waking at least once after
    /// [`FIRST_SLEEP`] to look again.
    fn wait_while(&self, wait: impl Fn() -> bool) {
        let mut guard = lock(&self.lock);
        // Relaxed: the count is a hint for wakers (see `sleepers`); a
        // wake-up it makes them skip costs at most one bounded sleep.
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut sleep = FIRST_SLEEP;
        while wait() {
            guard = wait_timeout(&self.cond, guard, sleep);
            sleep = (sleep * 2).min(LONGEST_SLEEP);
            self.waking.store(false, Ordering::Relaxed);
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
    }

    #[inline]
    fn sleepers(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Wakes every sleeper.
    fn wake_all(&self) {
        // Taken so that a sleeper between its last look and its sleep
        // is not missed.
        drop(lock(&self.lock));
        self.cond.notify_all();
    }

    /// Wakes one sleeper, unless a wake-up is already on its way.
    fn wake_one(&self) {
        if self.waking.swap(true, Ordering::Relaxed) {
            return;
        }
        drop(lock(&self.lock));
        self.cond.notify_one();
    }
}

/// An input fed by one thread (see the module's docs).
pub(crate) struct Fed<T> {
    /// Items published so far: written by the feeder alone, at every item,
    /// on a cache line of its own so that it does not slow down readers of
    /// the fields around it.
    published: CachePadded<AtomicUsize>,
    cursor: Mutex<Cursor<T>>,
    /// Mirror of `cursor.next`, for the feeder's room check.
    claimed: AtomicUsize,
    /// The feeder will publish no more.
    done: AtomicBool,
    /// Nothing is left to claim, ever.
    exhausted: AtomicBool,
    /// Where the feeder starts, or goes on after it parked: the segment of
    /// the next position and that position. Taken by [`Fed::publisher`],
    /// given back by [`Publisher::park`].
    resume: Mutex<Option<(Arc<Segment<T>>, usize)>>,
    /// Most items published and not yet claimed: the feeder's read-ahead.
    ahead: usize,
    n_workers: usize,
    /// Workers waiting for items.
    items: Waiters,
    /// Workers awake and looking for items (waiting without sleeping, or
    /// gathering): while one is, the feeder need not wake a sleeper.
    looking: AtomicUsize,
    /// A worker is gathering a chunk (see [`Fed::gather`]): the others wait
    /// rather than spin beside it.
    gathering: AtomicBool,
    /// FedChunk runs not yet dropped: workers busy running items.
    running: AtomicUsize,
    /// When the last run was claimed, in nanoseconds from `born`.
    last_claim: AtomicU64,
    born: Instant,
    /// The feeder waiting for claims.
    room: Waiters,
    sizer: Sizer,
}

// SAFETY: the slots are written by the feeder before their positions are
// published, and read (moved out) by the one run that claimed them after;
// the rest is atomics and locks. Sharing a `Fed` shares `T`s between
// threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Fed<T> {}
// SAFETY: as above, a `Fed` owns the `T`s published and not yet claimed.
unsafe impl<T: Send> Send for Fed<T> {}

impl<T> Fed<T> {
    /// An input fed by [`Fed::feeder`]. `hint` is the iterator's
    /// `size_hint`, which sizes the first segment; `ahead` bounds how far
    /// the feeder runs ahead of the claims.
    pub(crate) fn new(
        hint: (usize, Option<usize>),
        ahead: usize,
        policy: ChunkPolicy,
        n_workers: usize,
    ) -> Self {
        let first = match hint {
            (lo, Some(hi)) if lo == hi => lo,
            (lo, _) => lo.max(FIRST_SEGMENT),
        }
        .clamp(1, segment_len::<T>());
        let segment = Segment::new(0, first);
        Fed {
            published: CachePadded::new(AtomicUsize::new(0)),
            cursor: Mutex::new(Cursor {
                segment: Arc::clone(&segment),
                next: 0,
            }),
            claimed: AtomicUsize::new(0),
            done: AtomicBool::new(false),
            exhausted: AtomicBool::new(false),
            resume: Mutex::new(Some((segment, 0))),
            ahead: ahead.max(1),
            n_workers: n_workers.max(1),
            items: Waiters::default(),
            looking: AtomicUsize::new(0),
            gathering: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            last_claim: AtomicU64::new(0),
            born: Instant::now(),
            room: Waiters::default(),
            sizer: Sizer::new(policy, n_workers),
        }
    }

    /// The feeding end. There is one at a time: `None` while it is out,
    /// and for good once a feeder took it without parking it.
    pub(crate) fn publisher(&self) -> Option<Publisher<'_, T>> {
        let (segment, pos) = lock(&self.resume).take()?;
        Some(Publisher {
            fed: self,
            end: segment.end(),
            segment,
            pos,
        })
    }

    /// Items published so far: the position of the next one.
    pub(crate) fn published(&self) -> usize {
        self.published.load(Ordering::Acquire)
    }

    /// Ends the input: no more items come (whether its feeder ended or
    /// unwound).
    pub(crate) fn end_feeding(&self) {
        // Release: pairs with the acquire in `pull`, so that a worker that
        // reads `done` also reads every item published before it. Then a
        // wake-up under the lock, which no sleeper can miss (it checks
        // `done` under that lock before it sleeps).
        self.done.store(true, Ordering::Release);
        self.items.wake_all();
    }

    /// How many more items the feeder may publish now, at position `pos`.
    pub(crate) fn room(&self, pos: usize) -> usize {
        // Relaxed: `claimed` orders no data (a claimed slot is never
        // written again: segments are not reused); a stale read only
        // delays the feeder to its next look.
        let unclaimed = pos.saturating_sub(self.claimed.load(Ordering::Relaxed));
        self.ahead.saturating_sub(unclaimed)
    }

    /// Blocks the feeder, at position `pos`, while it has no room and
    /// `stopped()` is false.
    pub(crate) fn wait_for_room(&self, pos: usize, stopped: &dyn Fn() -> bool) {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if self.room(pos) > 0 || stopped() {
                return;
            }
            backoff.snooze();
        }
        self.room.wait_while(|| self.room(pos) == 0 && !stopped());
    }

    /// Wakes every thread waiting on this input: it stopped.
    pub(crate) fn wake_all(&self) {
        self.items.wake_all();
        self.room.wake_all();
    }
}

impl<T> Drop for Fed<T> {
    fn drop(&mut self) {
        let published = *self.published.get_mut();
        let cursor = get_mut(&mut self.cursor);
        let mut segment = Arc::clone(&cursor.segment);
        let mut at = cursor.next;
        while at < published {
            if at == segment.end() {
                let next = Arc::clone(segment.next.get().expect("published items have a segment"));
                segment = next;
                continue;
            }
            let end = published.min(segment.end());
            let run = std::ptr::slice_from_raw_parts_mut(segment.slot(at), end - at);
            // SAFETY: positions `cursor.next..published` were published
            // (written) and never claimed: this input owns them, and drops
            // each once, here.
            unsafe { std::ptr::drop_in_place(run) };
            at = end;
        }
    }
}

/// The one thread that fills a [`Fed`] input.
pub(crate) struct Publisher<'f, T> {
    fed: &'f Fed<T>,
    segment: Arc<Segment<T>>,
    /// The segment's end, kept at hand.
    end: usize,
    pos: usize,
}

impl<T> Publisher<'_, T> {
    /// The position of the next item: items published so far.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Publishes `item` at the next position.
    #[inline(always)]
    pub(crate) fn push(&mut self, item: T) {
        if self.pos == self.end {
            self.grow();
        }
        // SAFETY: `pos` lies in the segment and is not yet published: no
        // one else reads or writes the slot.
        unsafe { self.segment.slot(self.pos).write(item) };
        self.pos += 1;
        let fed = self.fed;
        fed.published.store(self.pos, Ordering::Release);
        let sleepers = fed.items.sleepers();
        if sleepers > 0 && fed.looking.load(Ordering::Relaxed) == 0 && self.wake_needed(sleepers) {
            fed.items.wake_one();
        }
    }

    /// Whether a sleeping worker must wake, while no other looks for
    /// items: when every worker sleeps (no one else would see this item),
    /// or when two chunks' worth wait: the busy workers do not keep up.
    #[cold]
    fn wake_needed(&self, sleepers: usize) -> bool {
        sleepers >= self.fed.n_workers || {
            let backlog = self.pos - self.fed.claimed.load(Ordering::Relaxed);
            backlog >= self.fed.want().saturating_mul(2)
        }
    }

    /// Puts the feeding end back where [`Fed::publisher`] finds it, for a
    /// feeder that pulls in turns (on the consumer's thread, for an input
    /// that borrows).
    pub(crate) fn park(self) {
        *lock(&self.fed.resume) = Some((self.segment, self.pos));
    }

    #[inline(always)]
    fn grow(&mut self) {
        // Nothing of `self` goes by address to the call, so that the
        // feeder's fields can stay in registers in the caller's loop.
        let next = next_segment(&*self.segment, self.pos);
        self.end = next.end();
        let old = std::mem::replace(&mut self.segment, next);
        drop(old);
    }
}

/// A segment after `segment`, for positions from `pos`, linked before any
/// of its items is published.
#[cold]
#[inline(never)]
fn next_segment<T>(segment: &Segment<T>, pos: usize) -> Arc<Segment<T>> {
    let len = (segment.slots.len() * 2).min(segment_len::<T>());
    let next = Segment::new(pos, len);
    let linked = segment.next.set(Arc::clone(&next));
    debug_assert!(linked.is_ok(), "a segment is linked once");
    next
}

/// Items a segment holds at most.
fn segment_len<T>() -> usize {
    (SEGMENT_BYTES / size_of::<T>().max(1)).max(FIRST_SEGMENT)
}

impl<T: Send> Input for Fed<T> {
    type Item = T;
    type Chunk = FedChunk<T>;

    fn is_exhausted(&self, _me: usize) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    fn pulled(&self) -> usize {
        self.published()
    }

    fn sizer(&self) -> &Sizer {
        &self.sizer
    }

    fn pull(
        &self,
        _me: usize,
        _injector: &Injected<FedChunk<T>>,
        _room: Room<'_>,
        limit: usize,
        _on_end: impl FnOnce(usize),
    ) -> Pull<FedChunk<T>> {
        let want = self.sizer.chunk_len(None);
        if !self.gather(want) {
            return Pull::Empty;
        }
        // Read before `published`: once done, what is published is all.
        let done = self.done.load(Ordering::Acquire);
        let published = self.published().min(limit);
        let mut cursor = self.lock_cursor();
        let at = cursor.next;
        if at >= published {
            if done || at >= limit {
                self.exhausted.store(true, Ordering::Release);
                return Pull::Exhausted;
            }
            return Pull::Empty;
        }
        if at == cursor.segment.end() {
            let next = cursor
                .segment
                .next
                .get()
                .expect("published items have a segment");
            cursor.segment = Arc::clone(next);
        }
        // At most a fair share of what waits, so that a burst of slow items
        // spreads over the workers (the ramp of an unmeasured input would
        // hand one of them half of it); a `chunk_size` of the user's is kept
        // whole.
        let share = if self.sizer.is_fixed() {
            want
        } else {
            (published - at).div_ceil(self.n_workers)
        };
        let end = published
            .min(cursor.segment.end())
            .min(at.saturating_add(want.min(share)));
        cursor.next = end;
        let chunk = FedChunk::new(Arc::clone(&cursor.segment), at..end, &self.running);
        // Under the lock, so that the mirror never moves back; relaxed (see
        // `Fed::room`).
        self.claimed.store(end, Ordering::Relaxed);
        let now = u64::try_from(self.born.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_claim.store(now, Ordering::Relaxed);
        drop(cursor);
        if self.room.sleepers() > 0 {
            self.room.wake_all();
        }
        Pull::Chunk(chunk)
    }

    fn wait_for_items(&self, _me: usize, stopped: &dyn Fn() -> bool) {
        self.looking.fetch_add(1, Ordering::Relaxed);
        let mut found = false;
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if !self.must_wait() || stopped() {
                found = true;
                break;
            }
            backoff.snooze();
        }
        self.looking.fetch_sub(1, Ordering::Relaxed);
        if !found {
            self.items.wait_while(|| self.must_wait() && !stopped());
        }
    }

    fn wake(&self) {
        self.wake_all();
    }
}

impl<T> Fed<T> {
    fn lock_cursor(&self) -> MutexGuard<'_, Cursor<T>> {
        lock(&self.cursor)
    }

    /// Waits a little, before a claim, for `want` items to be published:
    /// while the feeder keeps publishing, a worker that claimed what was
    /// there would cut a chunk of a few items, each chunk paying its cost
    /// for a few nanoseconds of work. Returns as soon as the feeder pauses
    /// (so that a slow input's items go out one by one, at once) or after
    /// [`GATHER_ROUNDS`]. One worker gathers at a time: `false` if another
    /// does (this one then waits, see [`Input::wait_for_items`]).
    fn gather(&self, want: usize) -> bool {
        let mut last = self.published();
        if last.saturating_sub(self.claimed.load(Ordering::Relaxed)) >= want
            || self.done.load(Ordering::Relaxed)
        {
            return true;
        }
        // Less than a chunk waits and a worker is busy: it will be back
        // for these before long, this one is not needed.
        if last > self.claimed.load(Ordering::Relaxed) && self.busy_elsewhere() {
            return false;
        }
        if self.gathering.swap(true, Ordering::Acquire) {
            return false;
        }
        self.looking.fetch_add(1, Ordering::Relaxed);
        // Not a back-off: each round measures whether the feeder is still
        // publishing, so the rounds stay short and even.
        for _ in 0..GATHER_ROUNDS {
            for _ in 0..8 {
                std::hint::spin_loop();
            }
            let now = self.published();
            let claimed = self.claimed.load(Ordering::Relaxed);
            if now == last
                || now.saturating_sub(claimed) >= want
                || self.done.load(Ordering::Relaxed)
            {
                break;
            }
            last = now;
        }
        self.looking.fetch_sub(1, Ordering::Relaxed);
        self.gathering.store(false, Ordering::Release);
        true
    }

    /// Whether a worker must wait: every published item is claimed, or
    /// less than a chunk waits while another worker gathers or runs; and
    /// more may come.
    fn must_wait(&self) -> bool {
        if self.done.load(Ordering::Acquire) {
            return false;
        }
        let backlog = self
            .published()
            .saturating_sub(self.claimed.load(Ordering::Acquire));
        backlog == 0
            || (backlog < self.want()
                && (self.gathering.load(Ordering::Acquire) || self.busy_elsewhere()))
    }

    /// Whether a worker runs a chunk claimed lately (within [`DEFER`]).
    fn busy_elsewhere(&self) -> bool {
        self.running.load(Ordering::Relaxed) > 0 && {
            let last = Duration::from_nanos(self.last_claim.load(Ordering::Relaxed));
            self.born.elapsed().saturating_sub(last) < DEFER
        }
    }

    /// The chunk length workers aim at now (without advancing the ramp of
    /// an unmeasured input).
    fn want(&self) -> usize {
        self.sizer.chunk_len_with(None, || BACKLOG as u64)
    }
}

impl<T: Send> Feedable for Fed<T> {
    type Publisher<'f>
        = Publisher<'f, T>
    where
        T: 'f;

    fn publisher(&self) -> Option<Publisher<'_, T>> {
        Fed::publisher(self)
    }

    fn published(&self) -> usize {
        Fed::published(self)
    }

    fn end_feeding(&self) {
        Fed::end_feeding(self);
    }

    fn room(&self, pos: usize) -> usize {
        Fed::room(self, pos)
    }

    fn wait_for_room(&self, pos: usize, stopped: &dyn Fn() -> bool) {
        Fed::wait_for_room(self, pos, stopped);
    }
}

impl<T> Publish<T> for Publisher<'_, T> {
    #[inline(always)]
    fn pos(&self) -> usize {
        Publisher::pos(self)
    }

    #[inline(always)]
    fn push(&mut self, item: T) {
        Publisher::push(self, item);
    }

    fn park(self) {
        Publisher::park(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim<T: Send>(fed: &Fed<T>) -> Pull<FedChunk<T>> {
        let injector = Injected::new();
        fed.pull(0, &injector, None, usize::MAX, |_| {})
    }

    #[test]
    fn published_items_are_claimed_at_once_and_in_order() {
        let fed = Fed::<u32>::new((0, None), 1000, ChunkPolicy::Fixed(4), 2);
        let mut feeder = fed.publisher().unwrap();
        assert!(fed.publisher().is_none());
        assert!(matches!(claim(&fed), Pull::Empty));
        feeder.push(7);
        // One item published is one item claimable: no chunk waits to fill.
        let Pull::Chunk(c) = claim(&fed) else {
            panic!()
        };
        assert_eq!((c.start(), c.collect::<Vec<_>>()), (0, vec![7]));
        for x in 1..40 {
            feeder.push(x);
        }
        let mut got = Vec::new();
        while let Pull::Chunk(c) = claim(&fed) {
            assert!(c.size_hint().0 <= 4);
            got.extend(c);
        }
        assert_eq!(got, (1..40).collect::<Vec<_>>());
        assert!(matches!(claim(&fed), Pull::Empty));
        fed.end_feeding();
        assert!(matches!(claim(&fed), Pull::Exhausted));
        assert!(fed.is_exhausted(0));
    }

    #[test]
    fn a_claim_takes_at_most_a_fair_share_of_what_waits() {
        // Eight workers, 64 slow items published at once, lengths unmeasured.
        let fed = Fed::<u32>::new((0, None), 1000, ChunkPolicy::Adaptive { max: 4096 }, 8);
        let mut feeder = fed.publisher().unwrap();
        (0..64).for_each(|x| feeder.push(x));
        let mut lens = Vec::new();
        while let Pull::Chunk(c) = claim(&fed) {
            lens.push(c.count());
        }
        assert_eq!(lens.iter().sum::<usize>(), 64);
        assert!(lens.iter().all(|&len| len <= 8), "{lens:?}");
        assert!(lens.len() >= 8, "{lens:?}");
    }

    #[test]
    fn a_limit_stops_the_claims() {
        let fed = Fed::<u32>::new((0, None), 1000, ChunkPolicy::Fixed(100), 1);
        let mut feeder = fed.publisher().unwrap();
        (0..10).for_each(|x| feeder.push(x));
        let injector = Injected::new();
        let Pull::Chunk(c) = fed.pull(0, &injector, Some(&|_| 0), 3, |_| {}) else {
            panic!()
        };
        assert_eq!(c.collect::<Vec<_>>(), [0, 1, 2]);
        assert!(matches!(
            fed.pull(0, &injector, Some(&|_| 0), 3, |_| {}),
            Pull::Exhausted
        ));
    }

    #[test]
    fn every_item_is_dropped_once_whether_run_claimed_or_left() {
        let tracker = Arc::new(());
        let fed = Fed::new((0, None), 10_000, ChunkPolicy::Fixed(5), 1);
        let mut feeder = fed.publisher().unwrap();
        // Several segments.
        (0..200).for_each(|_| feeder.push(Arc::clone(&tracker)));
        assert_eq!(Arc::strong_count(&tracker), 201);
        let Pull::Chunk(mut run) = claim(&fed) else {
            panic!()
        };
        drop(run.next());
        drop(run); // four claimed items not run
        let Pull::Chunk(_kept) = claim(&fed) else {
            panic!()
        };
        fed.end_feeding();
        drop(fed); // 190 published items never claimed
        assert_eq!(Arc::strong_count(&tracker), 1 + 5);
    }

    #[test]
    fn room_bounds_the_read_ahead() {
        let fed = Fed::<u8>::new((0, None), 3, ChunkPolicy::Fixed(2), 1);
        let mut feeder = fed.publisher().unwrap();
        assert_eq!(fed.room(0), 3);
        (0..3).for_each(|x| feeder.push(x));
        assert_eq!(fed.room(3), 0);
        let Pull::Chunk(c) = claim(&fed) else {
            panic!()
        };
        assert_eq!(c.count(), 2);
        assert_eq!(fed.room(3), 2);
    }

    #[test]
    fn a_worker_waiting_for_items_wakes_on_the_next_one() {
        let fed = Fed::<u32>::new((0, None), 100, ChunkPolicy::Fixed(1), 1);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                fed.wait_for_items(0, &|| false);
                let Pull::Chunk(c) = claim(&fed) else {
                    panic!()
                };
                tx.send(c.collect::<Vec<_>>()).unwrap();
            });
            let mut feeder = fed.publisher().unwrap();
            feeder.push(5);
            assert_eq!(rx.recv().unwrap(), [5]);
            fed.end_feeding();
        });
    }
}
