//! The look-ahead window of a streaming call: how many items may be pulled
//! from the input ahead of what the consumer took. See `PROTOCOL.md`,
//! "Stream back-pressure".

use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crossbeam_utils::Backoff;

use crate::stop::Stop;
use crate::sync::{lock, wait};

/// Bounds the items pulled but not yet taken by the consumer. Threads that
/// would pull past it (workers, or the feeder of a streamed input) wait for
/// room; the consumer makes room as it takes outputs.
pub(crate) struct Window {
    /// The most items pulled and not yet taken.
    len: usize,
    /// Items the consumer took so far.
    taken: AtomicUsize,
    /// Threads asleep (or about to sleep) on `room`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
}

impl Window {
    pub(crate) fn new(len: usize) -> Self {
        Window {
            len,
            taken: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            room: Condvar::new(),
        }
    }

    /// The window's length, in items.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Free places while `pulled` items have been pulled.
    #[inline]
    pub(crate) fn free(&self, pulled: usize) -> usize {
        // Acquire: pairs with the consumer's release in `take`; only the
        // count matters (the consumer's outputs are under the stream's lock).
        let in_flight = pulled.saturating_sub(self.taken.load(Ordering::Acquire));
        self.len.saturating_sub(in_flight)
    }

    /// Blocks while the window is full, the call runs and the input's count
    /// (`pulled_now()`) is still `pulled`: a pull by another thread may have
    /// cut chunks this one can steal instead.
    pub(crate) fn wait_for_room(
        &self,
        pulled_now: &dyn Fn() -> usize,
        pulled: usize,
        stop: &Stop,
        also: &dyn Fn() -> bool,
    ) {
        let done = || stop.is_halted() || pulled_now() != pulled || self.free(pulled) > 0 || also();
        // A fast consumer makes room within microseconds: back off a little
        // before paying for a sleep and a wake-up.
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if done() {
                return;
            }
            backoff.snooze();
        }
        let mut guard = lock(&self.lock);
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        // Pairs with the fence in `wake`: either the waker sees this sleeper,
        // or this thread sees what the waker changed before its fence.
        fence(Ordering::SeqCst);
        while !done() {
            guard = wait(&self.room, guard);
        }
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
    }

    /// The consumer took `n` more items while `pulled` had been pulled.
    /// Sleepers wake once half the window is free, not at every chunk, so
    /// that a fast producer and a slow consumer do not trade a wake-up per
    /// chunk.
    pub(crate) fn take(&self, n: usize, pulled: usize) {
        self.taken.fetch_add(n, Ordering::Release);
        if self.free(pulled) >= self.len / 2 {
            self.wake();
        }
    }

    /// Wakes every sleeper, if any: a pull cut new chunks (which a sleeper
    /// may steal), the consumer made room, or the call halted.
    pub(crate) fn wake(&self) {
        // Pairs with the fence in `wait_for_room` (see there).
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            // Under the lock: a sleeper checks its condition and sleeps
            // under it, so the notice cannot fall between the two.
            drop(lock(&self.lock));
            self.room.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::stop::StopMode;

    /// Waits for room on another thread; the receiver hears once it returned.
    fn waiter(
        window: &Arc<Window>,
        stop: &Arc<Stop>,
        pulled: usize,
    ) -> std::sync::mpsc::Receiver<()> {
        let (done, returned) = channel();
        let (window, stop) = (Arc::clone(window), Arc::clone(stop));
        std::thread::spawn(move || {
            window.wait_for_room(&|| pulled, pulled, &stop, &|| false);
            done.send(()).unwrap();
        });
        returned
    }

    /// How long a test waits for a thread that must return: a guard
    /// against a hang, not a measure.
    const HANG: Duration = Duration::from_secs(60);

    #[test]
    fn a_full_window_waits_until_half_of_it_is_taken() {
        let window = Arc::new(Window::new(8));
        let stop = Arc::new(Stop::new(StopMode::AllItems));
        assert_eq!(window.free(8), 0);
        let returned = waiter(&window, &stop, 8);
        // Less than half: no wake-up is owed yet, and the waiter may sleep
        // on; half: it must return.
        window.take(3, 8);
        assert_eq!(window.free(8), 3);
        window.take(1, 8);
        returned
            .recv_timeout(HANG)
            .expect("the waiter was not woken");
    }

    #[test]
    fn a_halt_wakes_a_waiter() {
        let window = Arc::new(Window::new(4));
        let stop = Arc::new(Stop::new(StopMode::AllItems));
        let returned = waiter(&window, &stop, 4);
        stop.halt(None);
        window.wake();
        returned
            .recv_timeout(HANG)
            .expect("the waiter was not woken");
    }
}
