//! A chunk's outputs in a vector of their own, and the sink of
//! `map_unordered`, which appends them as chunks complete.

use std::sync::Mutex;

use super::{ChunkOutputs, Held, Sink};
use crate::sync::{into_inner, lock};

/// The outputs of one chunk, in a vector of their own.
pub(crate) struct VecOutputs<O> {
    pub(crate) start: usize,
    pub(crate) items: Vec<O>,
}

/// The most outputs a chunk makes room for before they exist. A chunk's
/// length may come from `chunk_size` and count items not made yet (a
/// range's): past this, the vector grows as the outputs come.
const MAX_RESERVED_OUTPUTS: usize = 4096;

impl<O> VecOutputs<O> {
    /// Room for the outputs of a chunk of `len` items from position `start`.
    pub(crate) fn new(start: usize, len: usize) -> Self {
        VecOutputs {
            start,
            items: Vec::with_capacity(len.min(MAX_RESERVED_OUTPUTS)),
        }
    }
}

impl<O> ChunkOutputs<O> for VecOutputs<O> {
    #[inline]
    fn window(&mut self, want: usize) -> (*mut O, usize) {
        spare(&mut self.items, want)
    }

    #[inline]
    unsafe fn commit(&mut self, n: usize) {
        // SAFETY: the window was the spare capacity after `len` (see
        // `spare`), whose first `n` slots the caller wrote.
        unsafe { self.items.set_len(self.items.len() + n) };
    }

    fn pushed(&self) -> usize {
        self.items.len()
    }
}

/// The spare capacity of `items`, grown to hold `want` more (at least one).
#[inline]
pub(super) fn spare<O>(items: &mut Vec<O>, want: usize) -> (*mut O, usize) {
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
        into_inner(self.0)
    }
}

impl<O: Send> Sink<O> for Unordered<O> {
    type Outputs = VecOutputs<O>;

    fn open(&self, start: usize, len: usize) -> VecOutputs<O> {
        VecOutputs::new(start, len)
    }

    fn deliver(&self, mut outputs: VecOutputs<O>) {
        if !outputs.items.is_empty() {
            lock(&self.0).append(&mut outputs.items);
        }
    }

    /// Keeps the outputs in `held` until the worker leaves the call.
    fn deliver_held(&self, mut outputs: VecOutputs<O>, held: &mut Held<O>) {
        if held.outputs.is_empty() {
            held.outputs = outputs.items;
        } else {
            held.outputs.append(&mut outputs.items);
        }
    }

    fn release(&self, held: &mut Held<O>) {
        if !held.outputs.is_empty() {
            lock(&self.0).append(&mut held.outputs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_reserves_no_more_than_a_bound_before_its_outputs_exist() {
        let mut outputs = VecOutputs::<u64>::new(0, usize::MAX);
        assert!(outputs.items.capacity() <= MAX_RESERVED_OUTPUTS);
        for x in 0..2 * MAX_RESERVED_OUTPUTS as u64 {
            outputs.push(x);
        }
        assert_eq!(outputs.pushed(), 2 * MAX_RESERVED_OUTPUTS);
    }

    #[test]
    fn unordered_outputs_held_by_a_worker_come_in_when_released() {
        let sink = Unordered::new();
        let (mut one, mut two) = (Held::default(), Held::default());
        let chunk = |start: usize, values: &[u32]| {
            let mut outputs = sink.open(start, values.len());
            for &v in values {
                outputs.push(v);
            }
            outputs
        };
        sink.deliver_held(chunk(0, &[0, 1]), &mut one);
        sink.deliver_held(chunk(4, &[4]), &mut two);
        sink.deliver_held(chunk(2, &[2, 3]), &mut one);
        sink.deliver(chunk(5, &[5]));
        assert_eq!(lock(&sink.0).as_slice(), [5]);
        sink.release(&mut two);
        sink.release(&mut one);
        assert!(one.outputs.is_empty() && two.outputs.is_empty());
        assert_eq!(sink.into_vec(), [5, 4, 0, 1, 2, 3]);
    }
}
