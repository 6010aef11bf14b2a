//! The pool's own synchronisation habits, in one place: locks that ignore
//! poisoning, and the guard that aborts where an unwind of the pool's own
//! code would break an invariant.
//!
//! A lock is poisoned when a thread panicked while holding it. Every lock of
//! the pool guards data that stays consistent at each point where user code
//! can run (user code never runs under the pool's locks, and the pool's own
//! code does not panic half-way through an update, see [`AbortIfPanic`]),
//! so a poisoned lock's data is taken as it is.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Locks `mutex`, ignoring poisoning (see the module docs).
#[inline]
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `condvar`, ignoring poisoning (see the module docs).
#[inline]
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(|e| e.into_inner())
}

/// Waits on `condvar` for at most `limit`, ignoring poisoning.
#[inline]
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    limit: Duration,
) -> MutexGuard<'a, T> {
    condvar
        .wait_timeout(guard, limit)
        .unwrap_or_else(|e| e.into_inner())
        .0
}

/// Takes the data out of `mutex`, ignoring poisoning.
pub(crate) fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Borrows the data of a mutex held uniquely, ignoring poisoning.
pub(crate) fn get_mut<T: ?Sized>(mutex: &mut Mutex<T>) -> &mut T {
    mutex.get_mut().unwrap_or_else(|e| e.into_inner())
}

/// Aborts the process if dropped while its scope unwinds (rayon-core's
/// `AbortIfPanic`): set where the pool's own code runs outside any
/// `catch_unwind` and an unwind would leave a peer waiting forever (a worker
/// that never acknowledges, a caller that never waits). Such code does not
/// panic; the guard turns a bug into an abort rather than a hang.
/// [`AbortIfPanic::disarm`] ends the scope.
pub(crate) struct AbortIfPanic(pub(crate) &'static str);

impl AbortIfPanic {
    /// Ends the guarded scope without aborting.
    #[inline]
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for AbortIfPanic {
    fn drop(&mut self) {
        eprintln!(
            "statepool: its own code panicked while {}; aborting, as a peer \
             thread would otherwise wait forever",
            self.0
        );
        std::process::abort();
    }
}

/// The primitives of the crew's hand-off protocol (`crew.rs`, `watch.rs`):
/// std's, or loom's when built with `--cfg loom`, so that the models of
/// `scripts/loom.sh` check the protocol's own code. Only these are
/// swapped: the rest of the pool keeps std's, which the models never
/// contend on.
pub(crate) mod protocol {
    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
    #[cfg(loom)]
    pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
    #[cfg(loom)]
    pub(crate) use loom::thread;
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
    #[cfg(not(loom))]
    pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
    #[cfg(not(loom))]
    pub(crate) use std::thread;

    /// The helpers of the module above, over these primitives.
    #[cfg(not(loom))]
    pub(crate) use super::{lock, wait, wait_timeout};

    /// Locks `mutex`, ignoring poisoning (see the module docs above).
    #[cfg(loom)]
    #[inline]
    pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits on `condvar`, ignoring poisoning.
    #[cfg(loom)]
    #[inline]
    pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        condvar.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// Waits on `condvar` until notified: loom's models have no clock.
    #[cfg(loom)]
    #[inline]
    pub(crate) fn wait_timeout<'a, T>(
        condvar: &Condvar,
        guard: MutexGuard<'a, T>,
        limit: std::time::Duration,
    ) -> MutexGuard<'a, T> {
        condvar
            .wait_timeout(guard, limit)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    /// Spins once, as a hint; under loom, yields to the other threads of
    /// the model (a spin loop must, or the model never ends).
    #[inline]
    pub(crate) fn spin_loop() {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        std::hint::spin_loop();
    }
}
