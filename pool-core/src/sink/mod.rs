//! Where a call's outputs go: a [`Sink`], into which each chunk's outputs
//! are written through a [`ChunkOutputs`].
//!
//! - [`Slots`]: `map`, in input order, written straight into the result
//!   vector's slots (or into the input vector's own buffer, lent);
//! - [`Unordered`]: `map_unordered`, appended as chunks complete;
//! - [`Stream`]: `imap` and `imap_unordered`, handed to a consumer through a
//!   bounded look-ahead [`Window`].

mod outputs;
mod slots;
mod stream;
mod window;

pub(crate) use outputs::Unordered;
pub(crate) use outputs::VecOutputs;
pub(crate) use slots::Slots;
pub(crate) use stream::Stream;
pub(crate) use window::Window;

/// The outputs of one chunk, on their way to a [`Sink`]. Workers write
/// outputs straight into its memory, a window at a time, so that the
/// per-item path keeps its cursor in a register.
pub(crate) trait ChunkOutputs<O> {
    /// Room for the next outputs, in a row: the slot of the next output and
    /// how many slots follow from it (at least one, and at least `want`
    /// unless the chunk's slots end nearer than that).
    fn window(&mut self, want: usize) -> (*mut O, usize);
    /// Takes the outputs written into the first `n` slots of the last window.
    ///
    /// # Safety
    /// Those `n` slots (no more than the window's length) were written, and
    /// nothing else happened to `self` since [`ChunkOutputs::window`].
    unsafe fn commit(&mut self, n: usize);
    /// Outputs taken so far.
    fn pushed(&self) -> usize;
    /// Takes the output of the chunk's next item.
    #[cfg(test)]
    fn push(&mut self, output: O) {
        let (slot, _) = self.window(1);
        // SAFETY: a window holds at least one slot.
        unsafe { slot.write(output) };
        // SAFETY: that slot was written, and nothing happened since.
        unsafe { self.commit(1) };
    }
}

/// Where a call's outputs go.
pub(crate) trait Sink<O>: Sync {
    /// How a chunk hands in its outputs.
    type Outputs: ChunkOutputs<O>;
    /// Starts the outputs of the chunk of exactly `len` items from position
    /// `start`.
    fn open(&self, start: usize, len: usize) -> Self::Outputs;
    /// Takes a chunk's outputs (fewer than its items if it stopped early).
    fn deliver(&self, outputs: Self::Outputs);
    /// Takes a chunk's outputs, as [`Sink::deliver`], but may keep their
    /// record in `held`, the worker's own, to hand it in with the next
    /// chunk's: [`Sink::release`] hands in what is held, and must be
    /// called before the worker leaves the call.
    fn deliver_held(&self, outputs: Self::Outputs, _held: &mut Held<O>) {
        self.deliver(outputs);
    }
    /// Hands in what `held` keeps (see [`Sink::deliver_held`]).
    fn release(&self, _held: &mut Held<O>) {}
    /// The input turned out to hold `total` items.
    fn end(&self, _total: usize) {}
    /// The call halted: wakes whoever waits on this sink.
    fn halted(&self) {}
    /// The bounded look-ahead of a streaming call; none for blocking calls.
    fn window(&self) -> Option<&Window> {
        None
    }
}

/// What a worker keeps back of the outputs it delivered to a sink, to hand
/// it in later and at once (see [`Sink::deliver_held`]): for [`Slots`], the
/// run of slots its last chunks filled, one after the other (a worker's
/// chunks mostly follow each other: it cuts them from its own part of the
/// input); for [`Unordered`], the outputs themselves. Each sink's record
/// is shared by the workers, under a lock: taking it once per run, or once
/// per call, rather than once per chunk keeps a small call's workers off
/// each other's cache lines.
#[derive(Debug)]
pub(crate) struct Held<O> {
    /// `(start, len)`: slots that hold outputs, not yet recorded.
    pub(super) run: Option<(usize, usize)>,
    /// Outputs not yet appended.
    pub(super) outputs: Vec<O>,
}

impl<O> Default for Held<O> {
    fn default() -> Self {
        Held {
            run: None,
            outputs: Vec::new(),
        }
    }
}

/// A blocking call's sink lives in the caller's frame and the call borrows
/// it, so that it outlives the call's input (whose buffer it may have
/// borrowed, see [`Slots::new`]) by construction.
impl<O, K: Sink<O>> Sink<O> for &K {
    type Outputs = K::Outputs;

    #[inline]
    fn open(&self, start: usize, len: usize) -> K::Outputs {
        (**self).open(start, len)
    }

    #[inline]
    fn deliver(&self, outputs: K::Outputs) {
        (**self).deliver(outputs)
    }

    #[inline]
    fn deliver_held(&self, outputs: K::Outputs, held: &mut Held<O>) {
        (**self).deliver_held(outputs, held)
    }

    fn release(&self, held: &mut Held<O>) {
        (**self).release(held)
    }

    fn end(&self, total: usize) {
        (**self).end(total)
    }

    fn halted(&self) {
        (**self).halted()
    }

    fn window(&self) -> Option<&Window> {
        (**self).window()
    }
}

/// The sink of an owned blocking call (a pool with a time limit, see
/// `Runner::run_blocking_owned`): shared by the caller and the call, which
/// a worker left behind may keep after the caller let go. The call's
/// count drops after its input (field order), so the sink still outlives
/// the input, whose buffer it may own.
impl<O, K: Sink<O> + Send> Sink<O> for std::sync::Arc<K> {
    type Outputs = K::Outputs;

    #[inline]
    fn open(&self, start: usize, len: usize) -> K::Outputs {
        (**self).open(start, len)
    }

    #[inline]
    fn deliver(&self, outputs: K::Outputs) {
        (**self).deliver(outputs)
    }

    #[inline]
    fn deliver_held(&self, outputs: K::Outputs, held: &mut Held<O>) {
        (**self).deliver_held(outputs, held)
    }

    fn release(&self, held: &mut Held<O>) {
        (**self).release(held)
    }

    fn end(&self, total: usize) {
        (**self).end(total)
    }

    fn halted(&self) {
        (**self).halted()
    }

    fn window(&self) -> Option<&Window> {
        (**self).window()
    }
}
