//! The items of a vector, moved out where they lie: this module owns the
//! vector's buffer until the call ends, or lends it to the outputs.

use std::alloc::Layout;
use std::mem::ManuallyDrop;
use std::ops::Range;
use std::ptr::NonNull;

use super::indexed::Positions;
use super::Lent;

/// The items of a vector, moved out where they lie.
pub(crate) struct VecOf<T> {
    buf: NonNull<T>,
    cap: usize,
    len: usize,
    /// The buffer went to the outputs, which free it.
    lent: bool,
}

// SAFETY: a `VecOf` owns `T`s and hands each to one thread (through a
// `VecChunkItems`), like a `Vec<T>` moved between threads; it never shares one.
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
            lent: false,
        }
    }
}

impl<T> Drop for VecOf<T> {
    fn drop(&mut self) {
        if self.lent {
            return;
        }
        // SAFETY: the buffer came from a `Vec<T>` of capacity `cap`; its items
        // were moved out or dropped (by runs and `drop_from`), so it is
        // freed as empty.
        drop(unsafe { Vec::from_raw_parts(self.buf.as_ptr(), 0, self.cap) });
    }
}

impl<T: Send> Positions for VecOf<T> {
    type Item = T;
    type Items = VecChunkItems<T>;

    fn len(&self) -> usize {
        self.len
    }

    fn lend(&mut self, layout: Layout, len: usize) -> Option<Lent> {
        let fits = layout == Layout::new::<T>() && layout.size() > 0 && len == self.len;
        if !fits || self.lent {
            return None;
        }
        self.lent = true;
        Some(Lent {
            ptr: self.buf.cast(),
            cap: self.cap,
            item_layout: layout,
        })
    }

    unsafe fn take(&self, range: Range<usize>) -> VecChunkItems<T> {
        VecChunkItems {
            buf: self.buf,
            range,
        }
    }

    unsafe fn drop_unclaimed(&mut self, range: Range<usize>) {
        let items = slots(self.buf, range);
        // SAFETY: positions in `range` (below `len`) hold items nobody moved
        // out (the caller's promise), each dropped once here.
        unsafe { std::ptr::drop_in_place(items) };
    }
}

/// The slots at `range` of the buffer `buf`, as a raw slice (no access).
fn slots<T>(buf: NonNull<T>, range: Range<usize>) -> *mut [T] {
    std::ptr::slice_from_raw_parts_mut(buf.as_ptr().wrapping_add(range.start), range.len())
}

/// Items of a [`VecOf`] at a run of positions, owned by this run: moved out
/// as it yields them, dropped with it if it does not.
pub(crate) struct VecChunkItems<T> {
    buf: NonNull<T>,
    range: Range<usize>,
}

// SAFETY: a run owns the items at its positions, as a `vec::IntoIter<T>`
// owns its own.
unsafe impl<T: Send> Send for VecChunkItems<T> {}

impl<T> Iterator for VecChunkItems<T> {
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

impl<T> Drop for VecChunkItems<T> {
    fn drop(&mut self) {
        let rest = slots(self.buf, std::mem::replace(&mut self.range, 0..0));
        // SAFETY: the positions not yet yielded hold this run's items, each
        // dropped once here.
        unsafe { std::ptr::drop_in_place(rest) };
    }
}
