//! Panic policy: every piece of user code runs under `catch_unwind`, and a
//! panic becomes a typed [`PoolError::Panic`](crate::PoolError::Panic).
//!
//! A panic payload is user data too: its `Drop` may panic. Payloads are
//! dropped under a catch of their own, and a payload whose drop panicked
//! again is forgotten, so that no destructor ever unwinds out of this module
//! (which, while unwinding, would abort the process).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message of a payload that is not a string.
pub(crate) const NON_STRING_PAYLOAD: &str = "<non-string panic payload>";

/// Runs `f`, turning a panic into its message.
///
/// `AssertUnwindSafe` is sound here because whatever `f` touched is either
/// thrown away after a panic (a task's state is dropped and re-initialised)
/// or is the pool's own bookkeeping, which never panics half-way.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(into_message)
}

/// The message of a panic payload, which is consumed: a `String` is moved
/// out, a `&str` copied, and anything else dropped (see [`drop_payload`]).
pub(crate) fn into_message(payload: Box<dyn Any + Send>) -> String {
    let payload = match payload.downcast::<String>() {
        Ok(message) => return *message,
        Err(payload) => payload,
    };
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        return (*message).to_owned();
    }
    drop_payload(payload);
    NON_STRING_PAYLOAD.to_owned()
}

/// Drops a panic payload whose type the pool does not know. Its `Drop` runs
/// under a catch; where it panics, the payload of that second panic is
/// dropped the same way once more, and forgotten if it panics again: a
/// payload that keeps panicking leaks rather than unwinds.
fn drop_payload(payload: Box<dyn Any + Send>) {
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

    #[test]
    fn messages_of_str_string_and_other_payloads() {
        assert_eq!(catch(|| panic!("static")).unwrap_err(), "static");
        assert_eq!(catch(|| panic!("{}", 42)).unwrap_err(), "42");
        let other = catch(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(other, NON_STRING_PAYLOAD);
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
        let message = catch(|| std::panic::panic_any(Bomb)).unwrap_err();
        assert_eq!(message, NON_STRING_PAYLOAD);
        // The first bomb and the one its drop threw; the third is forgotten.
        assert_eq!(BOMBS_DROPPED.load(Ordering::SeqCst), 2);
        drop_quietly(Bomb);
    }
}
