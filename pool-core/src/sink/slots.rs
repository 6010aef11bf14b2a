//! The sink of `map`: outputs written by the workers straight into the
//! slots of the result vector, each at its input position, so that no
//! output is moved twice. This module owns that buffer.

use std::alloc::Layout;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Mutex;

use super::outputs::spare;
use super::{ChunkOutputs, Held, Sink};
use crate::input::Lent;
use crate::sync::{get_mut, lock};

/// Outputs in input order. Where the input's length is known (exactly, or
/// an upper bound), every position below it has a slot in one buffer:
/// the input vector's own, lent (see [`Lent`]), or a fresh one. Outputs
/// past the slots (an input of unknown length, or one whose `size_hint`
/// was wrong) are kept aside by chunk and put in order at the end.
pub(crate) struct Slots<O> {
    /// The buffer: room for `cap` values of `O`, allocated by the global
    /// allocator with `Layout::array::<O>(cap)` (a `Vec<O>`'s, or a lent
    /// `Vec<T>`'s of the same layout); each of its first `n` slots is
    /// written at most once.
    buf: NonNull<O>,
    cap: usize,
    n: usize,
    filled: Mutex<Filled<O>>,
}

/// The most bytes of slots reserved for an input of inexact length.
const MAX_RESERVED: usize = 1 << 30;

/// What the chunks handed in so far.
struct Filled<O> {
    /// `(start, len)` of each run of initialised slots.
    slots: Vec<(usize, usize)>,
    /// Outputs that had no slot, by the position of the first.
    spilled: Vec<(usize, Vec<O>)>,
}

// SAFETY: workers write through `buf` only into the slots of their own
// chunk (see `SlotOutputs`), and hand runs over under the `filled` lock;
// the slots are read only by `into_vec`/`drop`, which own the `Slots`.
// Sharing it is sharing `O`s between threads, hence `O: Send`.
unsafe impl<O: Send> Sync for Slots<O> {}
// SAFETY: as above: a `Slots` owns `O`s and a buffer of them.
unsafe impl<O: Send> Send for Slots<O> {}

impl<O> Slots<O> {
    /// Slots for an input whose `size_hint` is `hint`: as many as it has
    /// items where it tells exactly, else as many as its upper bound, where
    /// it has one that takes no more than [`MAX_RESERVED`] bytes (memory
    /// reserved, not touched: only the slots written cost pages). Outputs
    /// past the slots spill.
    ///
    /// Where the length is exact, `lend` is asked for the input's own buffer
    /// (a vector's, holding that many items of `O`'s layout): each output
    /// is then written where its item was, after the item left. The sink is
    /// made before the call and outlives it, so the input, and every chunk
    /// still pointing into that buffer, is gone before the sink frees it.
    pub(crate) fn new(
        hint: (usize, Option<usize>),
        lend: &mut dyn FnMut(Layout, usize) -> Option<Lent>,
    ) -> Self {
        let (n, exact) = match hint {
            (lo, Some(hi)) if lo == hi => (lo, true),
            (_, Some(hi)) => (hi, false),
            (_, None) => (0, false),
        };
        let empty = |n| Slots {
            buf: NonNull::dangling(),
            cap: 0,
            n,
            filled: Mutex::new(Filled {
                slots: Vec::new(),
                spilled: Vec::new(),
            }),
        };
        let bytes = n.checked_mul(size_of::<O>());
        let fits = if exact {
            bytes.is_some_and(|b| b <= isize::MAX as usize)
        } else {
            bytes.is_some_and(|b| b <= MAX_RESERVED)
        };
        if !fits || n == 0 {
            return empty(0);
        }
        if exact {
            if let Some(lent) = lend(Layout::new::<O>(), n) {
                // The one condition under which the lent buffer is a
                // buffer of `O`s: the same layout per item.
                assert_eq!(
                    lent.item_layout,
                    Layout::new::<O>(),
                    "a lent buffer of another layout"
                );
                let mut slots = empty(n);
                slots.buf = lent.ptr.cast();
                slots.cap = lent.cap;
                return slots;
            }
        }
        let mut buf = Vec::<O>::new();
        if buf.try_reserve_exact(n).is_err() {
            // No room: every output spills, as they come.
            return empty(0);
        }
        let mut buf = ManuallyDrop::new(buf);
        let mut slots = empty(n);
        slots.buf = NonNull::new(buf.as_mut_ptr()).expect("a vector's pointer is never null");
        slots.cap = buf.capacity();
        slots
    }

    /// The buffer as an empty `Vec<O>`, to free or fill.
    ///
    /// # Safety
    /// Called once, by the owner of the `Slots`, which then neither drops
    /// it nor touches its slots again; the initialised slots were moved out
    /// or dropped (else they leak).
    unsafe fn take_buffer(&mut self) -> Vec<O> {
        // SAFETY: `buf` was allocated by the global allocator with
        // `Layout::array::<O>(cap)`: by `Vec::<O>::try_reserve_exact`, or by
        // a `Vec<T>` whose `T` has `O`'s layout (asserted in `new`), so the
        // same size and alignment as a `Vec<O>` of capacity `cap` uses;
        // length 0 claims no slot initialised. Or it is dangling with
        // `cap == 0`, which a `Vec` frees as nothing.
        unsafe { Vec::from_raw_parts(self.buf.as_ptr(), 0, self.cap) }
    }

    /// The outputs in input order.
    pub(crate) fn into_vec(self) -> Vec<O> {
        let mut this = ManuallyDrop::new(self);
        let Filled { mut slots, spilled } = std::mem::replace(
            get_mut(&mut this.filled),
            Filled {
                slots: Vec::new(),
                spilled: Vec::new(),
            },
        );
        // SAFETY: `this` is never dropped; the initialised slots are moved
        // out below, or the vector takes them as its items.
        let mut all = unsafe { this.take_buffer() };
        // `this` is forgotten with its lock, which now holds two empty
        // vectors: nothing leaks.
        slots.sort_unstable_by_key(|&(start, _)| start);
        let in_slots: usize = slots.iter().map(|&(_, len)| len).sum();
        let tiled = slots
            .iter()
            .try_fold(0, |end, &(start, len)| {
                (start == end).then_some(start + len)
            })
            .is_some();
        if spilled.is_empty() && tiled {
            // SAFETY: the runs are sorted, and each starts where the last
            // ended, from 0: they tile `0..in_slots`, and each slot of a run
            // was initialised once (a chunk's own slots, see `SlotOutputs`),
            // within `0..n`, `n <= cap`.
            unsafe { all.set_len(in_slots) };
            if all.capacity() / 2 > all.len() {
                // Slots reserved for an upper bound that was far off. Up to
                // twice the length stays, as a vector grown by `push` (or
                // `collect`) keeps: shrinking it would cost a reallocation
                // per call, and the memory is reserved, not touched.
                all.shrink_to_fit();
            }
            return all;
        }
        // Some outputs spilled: put every piece in position order.
        let mut pieces: Vec<(usize, Piece<O>)> = slots
            .into_iter()
            .map(|(start, len)| (start, Piece::Slots(len)))
            .chain(
                spilled
                    .into_iter()
                    .map(|(start, v)| (start, Piece::Spilled(v))),
            )
            .collect();
        pieces.sort_by_key(|(start, _)| *start);
        let spilled_len: usize = pieces
            .iter()
            .map(|(_, p)| match p {
                Piece::Spilled(v) => v.len(),
                Piece::Slots(_) => 0,
            })
            .sum();
        let mut out: Vec<O> = Vec::with_capacity(in_slots + spilled_len);
        for (start, piece) in pieces {
            match piece {
                Piece::Slots(len) => {
                    let src = all.as_ptr().wrapping_add(start);
                    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<O>();
                    // SAFETY: slots `start..start + len` (inside the buffer)
                    // were initialised by one chunk and are read once, here
                    // (the buffer is then freed as empty: its length stays
                    // 0); `out` was given room for every piece.
                    unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
                    // SAFETY: the `len` slots after `out`'s items were just
                    // written.
                    unsafe { out.set_len(out.len() + len) };
                }
                Piece::Spilled(mut v) => out.append(&mut v),
            }
        }
        out
    }
}

/// A run of output positions, for the merge of [`Slots::into_vec`].
enum Piece<O> {
    /// This many initialised slots.
    Slots(usize),
    Spilled(Vec<O>),
}

impl<O> Drop for Slots<O> {
    fn drop(&mut self) {
        // Dropped without `into_vec`: the call failed. Drop what was written.
        let base = self.buf.as_ptr();
        for &(start, len) in &get_mut(&mut self.filled).slots {
            let run = std::ptr::slice_from_raw_parts_mut(base.wrapping_add(start), len);
            // SAFETY: each run of slots lies in the buffer and was
            // initialised once, by one chunk; it is dropped once, here.
            unsafe { std::ptr::drop_in_place(run) };
        }
        // SAFETY: this is the drop; the initialised slots were dropped above.
        drop(unsafe { self.take_buffer() });
    }
}

/// The outputs of one chunk on their way into [`Slots`]: the chunk's own
/// slots, `first..end`, then (only for positions past the slots) a vector.
pub(crate) struct SlotOutputs<O> {
    /// Position of the chunk's first item.
    start: usize,
    /// The slot of the chunk's first item (or the buffer's end).
    first: *mut O,
    /// The next slot to write, up to `end`.
    next: *mut O,
    /// The slot past the chunk's last (or the buffer's end, if nearer).
    end: *mut O,
    /// Outputs past the chunk's slots.
    spilled: Vec<O>,
}

// SAFETY: the outputs own the slots of their chunk alone until delivered,
// and move between threads with the chunk, as the `O`s they hold would.
unsafe impl<O: Send> Send for SlotOutputs<O> {}

impl<O> ChunkOutputs<O> for SlotOutputs<O> {
    #[inline]
    fn window(&mut self, want: usize) -> (*mut O, usize) {
        if self.next < self.end {
            // SAFETY: both lie in the buffer and `next` is below `end`.
            let free = unsafe { self.end.offset_from(self.next) } as usize;
            (self.next, free)
        } else {
            spare(&mut self.spilled, want)
        }
    }

    #[inline]
    unsafe fn commit(&mut self, n: usize) {
        if self.next < self.end {
            // SAFETY: the window was `next..end` (same test, nothing changed
            // since), of which the caller wrote the first `n <= end - next`.
            self.next = unsafe { self.next.add(n) };
        } else {
            // SAFETY: the window was the spare capacity of `spilled`, whose
            // first `n` slots the caller wrote.
            unsafe { self.spilled.set_len(self.spilled.len() + n) };
        }
    }

    fn pushed(&self) -> usize {
        self.in_slots() + self.spilled.len()
    }
}

impl<O> SlotOutputs<O> {
    /// Outputs written into slots so far.
    fn in_slots(&self) -> usize {
        if size_of::<O>() == 0 {
            return 0;
        }
        // SAFETY: both pointers lie in the buffer (or one past it), and
        // `next` only moved forward from `first`.
        let written = unsafe { self.next.offset_from(self.first) };
        usize::try_from(written).unwrap_or(0)
    }
}

impl<O: Send> Sink<O> for Slots<O> {
    type Outputs = SlotOutputs<O>;

    fn open(&self, start: usize, len: usize) -> SlotOutputs<O> {
        let base = self.buf.as_ptr();
        // The chunk's positions, `start..start + len`, clamped to the slots:
        // the chunk's own, which no other chunk has. A chunk of zero-sized
        // outputs spills them all: no address tells their slots apart.
        let first = start.min(self.n);
        let end = if size_of::<O>() == 0 {
            first
        } else {
            start.saturating_add(len).min(self.n)
        };
        // SAFETY: `first <= n <= cap`: in, or one past, the buffer.
        let next = unsafe { base.add(first) };
        // SAFETY: `end <= n <= cap`, the same.
        let end = unsafe { base.add(end) };
        SlotOutputs {
            start,
            first: next,
            next,
            end,
            spilled: Vec::new(),
        }
    }

    fn deliver(&self, outputs: SlotOutputs<O>) {
        let mut held = Held::default();
        self.deliver_held(outputs, &mut held);
        self.release(&mut held);
    }

    /// Keeps a chunk's slots in `held` where they continue its run (or
    /// start one), and records the run it held otherwise; outputs that
    /// spilled are handed in at once, with the run.
    fn deliver_held(&self, outputs: SlotOutputs<O>, held: &mut Held<O>) {
        let first = outputs.start.min(self.n);
        let in_slots = outputs.in_slots();
        if outputs.spilled.is_empty() {
            if in_slots == 0 {
                return;
            }
            let ended = match &mut held.run {
                Some((start, len)) if *start + *len == first => {
                    *len += in_slots;
                    None
                }
                run => run.replace((first, in_slots)),
            };
            if let Some(run) = ended {
                lock(&self.filled).slots.push(run);
            }
            return;
        }
        let mut filled = lock(&self.filled);
        if let Some(run) = held.run.take() {
            filled.slots.push(run);
        }
        if in_slots > 0 {
            filled.slots.push((first, in_slots));
        }
        if !outputs.spilled.is_empty() {
            filled
                .spilled
                .push((outputs.start + in_slots, outputs.spilled));
        }
    }

    fn release(&self, held: &mut Held<O>) {
        if let Some(run) = held.run.take() {
            lock(&self.filled).slots.push(run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slots with a buffer of their own.
    fn owned<O: Send>(len_hint: Option<usize>) -> Slots<O> {
        owned_hint(len_hint.map_or((0, None), |n| (n, Some(n))))
    }

    fn owned_hint<O: Send>(hint: (usize, Option<usize>)) -> Slots<O> {
        Slots::new(hint, &mut |_, _| None)
    }

    fn fill(slots: &Slots<String>, start: usize, values: &[&str]) {
        let mut outputs = slots.open(start, values.len());
        for v in values {
            outputs.push((*v).to_owned());
        }
        slots.deliver(outputs);
    }

    #[test]
    fn exact_lengths_fill_the_slots_in_any_order() {
        let slots = owned(Some(5));
        fill(&slots, 3, &["d", "e"]);
        fill(&slots, 0, &["a", "b", "c"]);
        assert_eq!(slots.into_vec(), ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn unknown_and_wrong_lengths_spill_in_order() {
        let slots = owned(None);
        fill(&slots, 2, &["c"]);
        fill(&slots, 0, &["a", "b"]);
        assert_eq!(slots.into_vec(), ["a", "b", "c"]);
        // A hint of 2 for an input of 4.
        let slots = owned(Some(2));
        fill(&slots, 1, &["b", "c", "d"]);
        fill(&slots, 0, &["a"]);
        assert_eq!(slots.into_vec(), ["a", "b", "c", "d"]);
        // A hint of 4 for an input of 2.
        let slots = owned(Some(4));
        fill(&slots, 0, &["a", "b"]);
        assert_eq!(slots.into_vec(), ["a", "b"]);
    }

    #[test]
    fn a_chunk_that_outgrows_its_length_spills_into_place() {
        // A chunk said to hold 1 item gives 3: the two past its own slot
        // spill, and still come out in position order, before the next
        // chunk's outputs.
        let slots = owned(Some(6));
        let mut outputs = slots.open(1, 1);
        for v in ["b", "c", "d"] {
            outputs.push(v.to_owned());
        }
        slots.deliver(outputs);
        fill(&slots, 0, &["a"]);
        fill(&slots, 4, &["e", "f"]);
        assert_eq!(slots.into_vec(), ["a", "b", "c", "d", "e", "f"]);
    }

    #[test]
    fn upper_bounds_reserve_slots_that_need_not_all_fill() {
        // A filter's hint: at most 6 items; 4 came.
        let slots = owned_hint((0, Some(6)));
        fill(&slots, 2, &["c", "d"]);
        fill(&slots, 0, &["a", "b"]);
        let all = slots.into_vec();
        assert_eq!(all, ["a", "b", "c", "d"]);
        // An upper bound that lies: the outputs past it spill.
        let slots = owned_hint((0, Some(2)));
        fill(&slots, 0, &["a", "b", "c"]);
        assert_eq!(slots.into_vec(), ["a", "b", "c"]);
        // None came; a bound too large to reserve.
        assert!(owned_hint::<String>((0, Some(6))).into_vec().is_empty());
        let slots = owned_hint((0, Some(usize::MAX / 2)));
        fill(&slots, 0, &["a"]);
        assert_eq!(slots.into_vec(), ["a"]);
    }

    #[test]
    fn a_failed_call_drops_what_was_written() {
        use std::sync::Arc;
        let tracker = Arc::new(());
        let slots: Slots<Arc<()>> = owned(Some(10));
        let mut outputs = slots.open(4, 2);
        outputs.push(tracker.clone());
        outputs.push(tracker.clone());
        slots.deliver(outputs);
        assert_eq!(Arc::strong_count(&tracker), 3);
        drop(slots);
        assert_eq!(Arc::strong_count(&tracker), 1);
    }

    /// Hands in the chunk of `values` at `start` as a worker does, holding
    /// its record back in `held`.
    fn fill_held(slots: &Slots<String>, held: &mut Held<String>, start: usize, values: &[&str]) {
        let mut outputs = slots.open(start, values.len());
        for v in values {
            outputs.push((*v).to_owned());
        }
        slots.deliver_held(outputs, held);
    }

    #[test]
    fn runs_held_by_workers_are_merged_and_handed_in() {
        let slots = owned(Some(9));
        let (mut one, mut two) = (Held::default(), Held::default());
        fill_held(&slots, &mut one, 0, &["a", "b"]);
        fill_held(&slots, &mut two, 5, &["f"]);
        fill_held(&slots, &mut one, 2, &["c"]);
        fill_held(&slots, &mut two, 6, &["g", "h"]);
        // Not where worker one's run ends: its run is recorded, this one held.
        fill_held(&slots, &mut one, 8, &["i"]);
        fill_held(&slots, &mut two, 3, &["d", "e"]);
        assert_eq!(one.run, Some((8, 1)));
        assert_eq!(two.run, Some((3, 2)));
        // Two runs recorded so far: 0..3 and 5..8, each handed in once.
        assert_eq!(lock(&slots.filled).slots, [(0, 3), (5, 3)]);
        slots.release(&mut one);
        slots.release(&mut two);
        assert_eq!(one.run, None);
        assert_eq!(
            slots.into_vec(),
            ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        );
    }

    #[test]
    fn a_held_run_is_released_with_spilled_outputs_and_dropped_on_failure() {
        use std::sync::Arc;
        let tracker = Arc::new(());
        let slots: Slots<Arc<()>> = owned(Some(3));
        let mut held = Held::default();
        for start in 0..2 {
            let mut outputs = slots.open(start, 1);
            outputs.push(tracker.clone());
            slots.deliver_held(outputs, &mut held);
        }
        assert_eq!(held.run, Some((0, 2)));
        // A chunk past the slots spills: the held run goes in with it.
        let mut outputs = slots.open(2, 1);
        for _ in 0..3 {
            outputs.push(tracker.clone());
        }
        slots.deliver_held(outputs, &mut held);
        assert_eq!(held.run, None);
        assert_eq!(Arc::strong_count(&tracker), 6);
        drop(slots);
        assert_eq!(Arc::strong_count(&tracker), 1);
    }

    #[test]
    fn zero_sized_outputs_work() {
        let slots = owned(Some(3));
        let mut outputs = slots.open(0, 3);
        (0..3).for_each(|_| outputs.push(()));
        slots.deliver(outputs);
        assert_eq!(slots.into_vec().len(), 3);
    }

    #[test]
    fn a_lent_buffer_takes_the_outputs_in_place() {
        let mut items = ManuallyDrop::new(vec![1u64, 2, 3]);
        let ptr = NonNull::new(items.as_mut_ptr()).unwrap().cast();
        let cap = items.capacity();
        let slots: Slots<u64> = Slots::new((3, Some(3)), &mut |layout, len| {
            assert_eq!((layout, len), (Layout::new::<u64>(), 3));
            Some(Lent {
                ptr,
                cap,
                item_layout: layout,
            })
        });
        let mut outputs = slots.open(0, 3);
        (10..13).for_each(|x| outputs.push(x));
        slots.deliver(outputs);
        let all = slots.into_vec();
        assert_eq!(all, [10, 11, 12]);
        assert_eq!(all.as_ptr().cast(), ptr.as_ptr().cast_const());
    }
}
