//! Panic policy, part one: every piece of user code runs under
//! [`catch`], and a panic becomes a typed
//! [`PoolError::Panic`](crate::PoolError::Panic) (or `Input`) that keeps
//! its message and its payload. Part two, the pool's own code, is in
//! [`crate::sync::AbortIfPanic`]: where it runs outside a catch and an
//! unwind would leave a peer waiting, a panic aborts.
//!
//! A panic payload is user data too: its `Drop` may panic. Payloads are
//! dropped under a catch of their own, and a payload whose drop panicked
//! again is forgotten, so that no destructor ever unwinds out of this module
//! (which, while unwinding, would abort the process).

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use crate::sync::{get_mut, lock};

/// The payload of a panic, as `catch_unwind` returned it, kept in a
/// [`PoolError`](crate::PoolError) for a caller that wants to resume the panic or inspect a
/// payload that is not a string. It sits behind a lock, so that
/// `PoolError` stays `Send + Sync` while the payload is only `Send`.
///
/// Dropping it never unwinds: a payload whose own `Drop` panics is dropped
/// under a catch, and leaked if that panics again.
///
/// ```
/// use pool_core::PanicPayload;
///
/// let payload = PanicPayload::new(Box::new(42u8));
/// assert_eq!(payload.take().unwrap().downcast_ref::<u8>(), Some(&42));
/// assert!(payload.take().is_none());
/// ```
pub struct PanicPayload(Mutex<Option<Box<dyn Any + Send + 'static>>>);

impl PanicPayload {
    /// Keeps `payload`.
    pub fn new(payload: Box<dyn Any + Send + 'static>) -> Self {
        PanicPayload(Mutex::new(Some(payload)))
    }

    /// Takes the payload out; `None` once taken.
    pub fn take(&self) -> Option<Box<dyn Any + Send + 'static>> {
        lock(&self.0).take()
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = lock(&self.0).is_some();
        f.debug_struct("PanicPayload").field("kept", &kept).finish()
    }
}

impl Drop for PanicPayload {
    fn drop(&mut self) {
        let payload = get_mut(&mut self.0).take();
        if let Some(payload) = payload {
            drop_payload(payload);
        }
    }
}

/// The message of a payload that is not a string.
pub(crate) const NON_STRING_PAYLOAD: &str = "<non-string panic payload>";

/// A panic caught by [`catch`]: its message, and its payload kept whole.
#[derive(Debug)]
pub(crate) struct Caught {
    pub(crate) message: String,
    pub(crate) payload: PanicPayload,
}

impl Caught {
    /// The panic of `payload`, as `catch_unwind` or a join returned it.
    pub(crate) fn from_payload(payload: Box<dyn Any + Send>) -> Self {
        let message = if let Some(message) = payload.downcast_ref::<String>() {
            message.clone()
        } else if let Some(message) = payload.downcast_ref::<&'static str>() {
            (*message).to_owned()
        } else {
            NON_STRING_PAYLOAD.to_owned()
        };
        Caught {
            message,
            payload: PanicPayload::new(payload),
        }
    }
}

/// Runs `f`, catching a panic.
///
/// `AssertUnwindSafe` is sound here because whatever `f` touched is either
/// thrown away after a panic (a task's state is dropped and re-initialised,
/// an input that panicked is pulled no more) or is the pool's own
/// bookkeeping, which user code never holds half-updated: no user code runs
/// under the pool's locks or between two halves of an update.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Caught> {
    catch_unwind(AssertUnwindSafe(f)).map_err(Caught::from_payload)
}

/// Drops a panic payload whose type the pool does not know. Its `Drop` runs
/// under a catch; where it panics, the payload of that second panic is
/// dropped the same way once more, and forgotten if it panics again: a
/// payload that keeps panicking leaks rather than unwinds.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(second) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        if let Err(third) = catch_unwind(AssertUnwindSafe(move || drop(second))) {
            std::mem::forget(third);
        }
    }
}

/// Drops `value`, swallowing a panic from its destructor: used where a
/// failure was already recorded and a second one would only hide it.
pub(crate) fn drop_quietly<T>(value: T) {
    let _ = catch(move || drop(value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn message<R: std::fmt::Debug>(caught: Result<R, Caught>) -> String {
        caught.unwrap_err().message
    }

    #[test]
    fn messages_of_str_string_and_other_payloads() {
        assert_eq!(message(catch(|| panic!("static"))), "static");
        assert_eq!(message(catch(|| panic!("{}", 42))), "42");
        let other = catch(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(other.message, NON_STRING_PAYLOAD);
        // The payload itself is kept, whatever its type.
        let payload = other.payload.take().unwrap();
        assert_eq!(payload.downcast_ref::<u8>(), Some(&7));
        assert_eq!(catch(|| 5).unwrap(), 5);
    }

    static BOMBS_DROPPED: AtomicUsize = AtomicUsize::new(0);

    /// A payload whose drop panics with another such payload, forever.
    struct Bomb;

    impl Drop for Bomb {
        fn drop(&mut self) {
            BOMBS_DROPPED.fetch_add(1, Ordering::SeqCst);
            std::panic::panic_any(Bomb);
        }
    }

    #[test]
    fn a_payload_whose_drop_panics_does_not_unwind_out() {
        let caught = catch(|| std::panic::panic_any(Bomb)).unwrap_err();
        assert_eq!(caught.message, NON_STRING_PAYLOAD);
        // Kept until dropped; the drop does not unwind.
        drop(caught);
        // The first bomb and the one its drop threw; the third is forgotten.
        assert_eq!(BOMBS_DROPPED.load(Ordering::SeqCst), 2);
        drop_quietly(Bomb);
    }
}
