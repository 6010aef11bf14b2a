//! Panic policy: every piece of user code runs under `catch_unwind`, and a
//! panic becomes a typed [`PoolError::Panic`](crate::PoolError::Panic).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into its message.
///
/// `AssertUnwindSafe` is sound here because whatever `f` touched is either
/// thrown away after a panic (a task's state is dropped and re-initialised)
/// or is the pool's own bookkeeping, which never panics half-way.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(&*payload))
}

/// The message of a panic payload, where it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Drops `value`, swallowing a panic from its destructor: used where a panic
/// was already reported and a second one would only hide it.
pub(crate) fn drop_quietly<T>(value: T) {
    let _ = catch(move || drop(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_str_string_and_other_payloads() {
        assert_eq!(catch(|| panic!("static")).unwrap_err(), "static");
        assert_eq!(catch(|| panic!("{}", 42)).unwrap_err(), "42");
        let other = catch(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(other, "<non-string panic payload>");
        assert_eq!(catch(|| 5).unwrap(), 5);
    }
}
