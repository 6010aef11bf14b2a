//! Where the outputs of blocking calls go: straight into their slots of the
//! result vector (`map`), or appended as chunks complete (`map_unordered`).

use std::alloc::Layout;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Mutex;

use crate::input::Lent;
use crate::job::{Run, Sink};

/// The outputs of one chunk, in a vector of their own.
pub(crate) struct Outputs<O> {
    pub(crate) start: usize,
    pub(crate) items: Vec<O>,
}

/// The most outputs a run makes room for before they exist. A chunk's
/// length may come from `chunk_size` and count items not made yet (a
/// range's): past this, the vector grows as the outputs come.
const MAX_RESERVED_OUTPUTS: usize = 4096;

impl<O> Outputs<O> {
    /// Room for the outputs of a chunk of `len` items from position `start`.
    pub(crate) fn new(start: usize, len: usize) -> Self {
        Outputs {
            start,
            items: Vec::with_capacity(len.min(MAX_RESERVED_OUTPUTS)),
        }
    }
}

impl<O> Run<O> for Outputs<O> {
    #[inline]
    fn window(&mut self, want: usize) -> (*mut O, usize) {
        spare(&mut self.items, want)
    }

    #[inline]
    unsafe fn commit(&mut self, n: usize) {
        // SAFETY: the caller wrote the `n` slots after `len` (spare capacity,
        // see `spare`).
        unsafe { self.items.set_len(self.items.len() + n) };
    }

    fn pushed(&self) -> usize {
        self.items.len()
    }
}

/// The spare capacity of `items`, grown to hold `want` more (at least one).
#[inline]
fn spare<O>(items: &mut Vec<O>, want: usize) -> (*mut O, usize) {
    items.reserve(want.max(1));
    let free = items.capacity() - items.len();
    (items.spare_capacity_mut().as_mut_ptr().cast::<O>(), free)
}

/// Outputs in completion order, a chunk at a time (`map_unordered`).
pub(crate) struct Unordered<O>(Mutex<Vec<O>>);

impl<O> Unordered<O> {
    pub(crate) fn new() -> Self {
        Unordered(Mutex::new(Vec::new()))
    }

    pub(crate) fn into_vec(self) -> Vec<O> {
        self.0.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<O: Send> Sink<O> for Unordered<O> {
    type Run = Outputs<O>;

    fn open(&self, start: usize, len: usize) -> Outputs<O> {
        Outputs::new(start, len)
    }

    fn deliver(&self, mut run: Outputs<O>) {
        if !run.items.is_empty() {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&mut run.items);
        }
    }
}

/// Outputs in input order, written by the workers straight into the slots of
/// the result vector when the input's length is known, so that no output is
/// moved twice. Outputs past the expected length (an input of unknown length,
/// or one whose `size_hint` was wrong) are kept aside in chunks and put in
/// order at the end.
pub(crate) struct Slots<O> {
    /// The result vector's buffer: `n` slots, each written at most once.
    buf: NonNull<O>,
    cap: usize,
    n: usize,
    /// Whether `n` is the input's exact length (else its upper bound).
    exact: bool,
    written: Mutex<Written<O>>,
}

/// The most bytes of slots reserved for an input of inexact length.
const MAX_RESERVED: usize = 1 << 30;

#[derive(Default)]
struct Written<O> {
    /// `(start, len)` of each run of initialised slots.
    slots: Vec<(usize, usize)>,
    /// Outputs at positions `n` and past, by chunk.
    spilled: Vec<(usize, Vec<O>)>,
}

// SAFETY: a run writes slots of its own chunk only; it moves between
// threads with its chunk, as the `O`s it holds would.
unsafe impl<O: Send> Send for SlotRun<O> {}

// SAFETY: workers write disjoint slots through `buf` (every input position is
// handed out once) and hand outputs over under the `written` lock; the slots
// are read only by `into_vec`/`drop`, which own the `Slots`. Sharing it is
// sharing `O`s between threads, hence `O: Send`.
unsafe impl<O: Send> Sync for Slots<O> {}
// SAFETY: as above: a `Slots` owns `O`s and a buffer of them.
unsafe impl<O: Send> Send for Slots<O> {}

impl<O> Slots<O> {
    /// Slots for an input whose `size_hint` is `hint`, allocated by
    /// [`Sink::prepare`]: as many as it has items where it tells exactly,
    /// else as many as its upper bound, where it has one that takes no more
    /// than [`MAX_RESERVED`] bytes (memory reserved, not touched: only the
    /// slots written cost pages). Outputs past the slots spill.
    pub(crate) fn new(hint: (usize, Option<usize>)) -> Self {
        let (n, exact) = match hint {
            (lo, Some(hi)) if lo == hi => (lo, true),
            (_, Some(hi)) => (hi, false),
            (_, None) => (0, false),
        };
        let bytes = n.checked_mul(size_of::<O>());
        let fits = if exact {
            bytes.is_some_and(|b| b <= isize::MAX as usize)
        } else {
            bytes.is_some_and(|b| b <= MAX_RESERVED)
        };
        Slots {
            buf: NonNull::dangling(),
            cap: 0,
            n: if fits { n } else { 0 },
            exact,
            written: Mutex::new(Written {
                slots: Vec::new(),
                spilled: Vec::new(),
            }),
        }
    }

    /// The outputs in input order.
    pub(crate) fn into_vec(self) -> Vec<O> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; the lock is moved out
        // exactly once.
        let written = unsafe { std::ptr::read(&this.written) };
        let Written {
            mut slots,
            mut spilled,
        } = written.into_inner().unwrap_or_else(|e| e.into_inner());
        let in_slots: usize = slots.iter().map(|&(_, len)| len).sum();
        let end = slots.iter().map(|&(start, len)| start + len).max();
        if spilled.is_empty() && in_slots == end.unwrap_or(0) && (in_slots > 0 || this.n == 0) {
            // SAFETY: the runs are disjoint and inside `0..n` (a run only
            // writes positions below `n`, and each position once), and
            // their lengths add up to where the last one ends: they tile
            // `0..in_slots`, every slot of which is initialised.
            let mut all = unsafe { Vec::from_raw_parts(this.buf.as_ptr(), in_slots, this.cap) };
            if all.capacity() / 2 > all.len() {
                // Slots reserved for an upper bound that was far off. Up to
                // twice the length stays, as a vector grown by `push` (or
                // `collect`) keeps: shrinking it would cost a reallocation
                // per call, and the memory is reserved, not touched.
                all.shrink_to_fit();
            }
            return all;
        }
        slots.sort_unstable_by_key(|&(start, _)| start);
        spilled.sort_unstable_by_key(|&(start, _)| start);
        let spilled_len: usize = spilled.iter().map(|(_, v)| v.len()).sum();
        let mut all: Vec<O> = Vec::with_capacity(in_slots + spilled_len);
        for (start, len) in slots {
            debug_assert_eq!(start, all.len(), "outputs are missing");
            // SAFETY: slots `start..start + len` were initialised by one run
            // and are read once, here; the buffer is then freed as empty.
            unsafe {
                let src = this.buf.as_ptr().add(start);
                std::ptr::copy_nonoverlapping(src, all.as_mut_ptr().add(all.len()), len);
                all.set_len(all.len() + len);
            }
        }
        for (_, mut outputs) in spilled {
            all.append(&mut outputs);
        }
        // SAFETY: the buffer came from a `Vec<O>` of capacity `cap`; its
        // outputs were moved out above, so it is freed as empty.
        drop(unsafe { Vec::from_raw_parts(this.buf.as_ptr(), 0, this.cap) });
        all
    }
}

impl<O> Drop for Slots<O> {
    fn drop(&mut self) {
        // Dropped without `into_vec`: the call failed. Drop what was written.
        let written = self.written.get_mut().unwrap_or_else(|e| e.into_inner());
        for &(start, len) in &written.slots {
            // SAFETY: each run of slots was initialised once and is dropped once.
            unsafe {
                let run = std::ptr::slice_from_raw_parts_mut(self.buf.as_ptr().add(start), len);
                std::ptr::drop_in_place(run);
            }
        }
        // SAFETY: the buffer came from a `Vec<O>` of capacity `cap`; its
        // outputs were dropped above.
        drop(unsafe { Vec::from_raw_parts(self.buf.as_ptr(), 0, self.cap) });
    }
}

/// The outputs of one chunk on their way into [`Slots`].
pub(crate) struct SlotRun<O> {
    /// Position of the chunk's first item.
    start: usize,
    /// The slot of the chunk's first item (or the end, past the slots).
    first: *mut O,
    /// The next slot to write, up to `end` (the last slot of the vector).
    next: *mut O,
    end: *mut O,
    /// Outputs past the last slot.
    spilled: Vec<O>,
}

impl<O> Run<O> for SlotRun<O> {
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
            // since), of which the caller wrote the first `n <= end - next`
            // slots; they lie at positions of this run's chunk alone, so no
            // one else writes or reads them until the run is delivered.
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

impl<O> SlotRun<O> {
    /// Outputs written into slots so far.
    fn in_slots(&self) -> usize {
        if size_of::<O>() == 0 {
            return 0;
        }
        // SAFETY: both pointers lie in the buffer (or one past it), and
        // `next` only moved forward from `first`.
        let written = unsafe { self.next.offset_from(self.first) };
        usize::try_from(written).expect("a run only moves forward")
    }
}

impl<O: Send> Sink<O> for Slots<O> {
    type Run = SlotRun<O>;

    fn prepare(&mut self, lend: &mut dyn FnMut(Layout, usize) -> Option<Lent>) {
        if self.cap > 0 || self.n == 0 {
            return;
        }
        // A vector input of `n` items like the outputs lends its buffer:
        // each output is written where its item was, after the item left
        // (see `Lent`), and no second buffer is touched.
        if self.exact {
            if let Some(Lent { ptr, cap }) = lend(Layout::new::<O>(), self.n) {
                self.buf = ptr.cast();
                self.cap = cap;
                return;
            }
        }
        let mut buf = Vec::<O>::new();
        if !self.exact && buf.try_reserve_exact(self.n).is_err() {
            // No room for the upper bound: every output spills.
            self.n = 0;
            return;
        }
        buf.reserve_exact(self.n);
        let mut buf = ManuallyDrop::new(buf);
        self.buf = NonNull::new(buf.as_mut_ptr()).expect("a vector's pointer is never null");
        self.cap = buf.capacity();
    }

    fn open(&self, start: usize, _len: usize) -> SlotRun<O> {
        debug_assert!(self.cap >= self.n, "slots are opened after `prepare`");
        let base = self.buf.as_ptr();
        let first = start.min(self.n);
        // A run of zero-sized outputs spills them all: there is no address
        // to tell its slots apart.
        let end = if size_of::<O>() == 0 { first } else { self.n };
        // SAFETY: `first <= end <= n <= cap`: in, or one past, the buffer.
        let (next, end) = unsafe { (base.add(first), base.add(end)) };
        SlotRun {
            start,
            first: next,
            next,
            end,
            spilled: Vec::new(),
        }
    }

    fn deliver(&self, run: SlotRun<O>) {
        let first = run.start.min(self.n);
        let in_slots = run.in_slots();
        if in_slots == 0 && run.spilled.is_empty() {
            return;
        }
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if in_slots > 0 {
            written.slots.push((first, in_slots));
        }
        if !run.spilled.is_empty() {
            written.spilled.push((run.start + in_slots, run.spilled));
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
        let mut slots = Slots::new(hint);
        slots.prepare(&mut |_, _| None);
        slots
    }

    fn fill(slots: &Slots<String>, start: usize, values: &[&str]) {
        let mut run = slots.open(start, values.len());
        for v in values {
            run.push((*v).to_owned());
        }
        slots.deliver(run);
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
        let mut run = slots.open(4, 2);
        run.push(tracker.clone());
        run.push(tracker.clone());
        slots.deliver(run);
        assert_eq!(Arc::strong_count(&tracker), 3);
        drop(slots);
        assert_eq!(Arc::strong_count(&tracker), 1);
    }

    #[test]
    fn a_run_reserves_no_more_than_a_bound_before_its_outputs_exist() {
        let mut run = Outputs::<u64>::new(0, usize::MAX);
        assert!(run.items.capacity() <= MAX_RESERVED_OUTPUTS);
        for x in 0..2 * MAX_RESERVED_OUTPUTS as u64 {
            run.push(x);
        }
        assert_eq!(run.pushed(), 2 * MAX_RESERVED_OUTPUTS);
    }

    #[test]
    fn zero_sized_outputs_work() {
        let slots = owned(Some(3));
        let mut run = slots.open(0, 3);
        (0..3).for_each(|_| run.push(()));
        slots.deliver(run);
        assert_eq!(slots.into_vec().len(), 3);
    }
}
