//! Attribute macros of statepool: `#[worker_state]`, `#[worker_init]`,
//! `#[task]` and `#[worker_exit]`. Use them through the `statepool` crate,
//! whose documentation has runnable examples.
//!
//! The attributes expand independently and cannot see each other: they
//! cooperate through trait impls on the state type (`WorkerState`,
//! `WorkerInit`, `Task`, `WorkerExit`), and the compiler checks the rest.
//! Each expansion runs three passes, after thiserror's `impl/`: `ast`
//! (typed views borrowing the syntax), `valid` (signature rules, errors on
//! the user's tokens) and `expand` (code generation only).
//!
//! Each attribute's documentation here lists the signatures it accepts; the
//! `statepool` re-exports add a summary and runnable examples in front.

mod ast;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Accepted forms, on a non-generic `struct` or `enum`:
/// - `#[worker_state]`: the pool is `<Name>Pool`, with the item's visibility;
/// - `#[worker_state(pool = MyPool)]`: the pool is `MyPool`;
/// - `#[worker_state(shared = Config)]`: the pool holds a shared object of
///   type `Config` (`Send + Sync + 'static`), given to
///   `with_shared(n, value)` and read by every hook through
///   `WorkerContext<Config>::shared()`; `new(n)` does not compile for it;
/// - both arguments, in either order.
///
/// Generates the item unchanged, `impl WorkerState` and
/// `type <Name>Pool = Pool<Name>`. A worker life starts with the state's
/// `#[worker_init]` hook if it has one, else with `Default::default()`; with
/// neither, the program does not compile. A life ends with the state's
/// `#[worker_exit]` hook if it has one.
#[proc_macro_attribute]
pub fn worker_state(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::worker_state(args.into(), item.into()).into()
}

/// Accepted signatures, on a free function (`State` has `#[worker_state]`):
/// - `fn() -> State`
/// - `fn(&WorkerContext<C>) -> State`
/// - `fn(&mut State)`: fills in `State::default()`
/// - `fn(&mut State, &WorkerContext<C>)`: the same, knowing the worker
///
/// `C` is the state's shared type (`#[worker_state(shared = C)]`), left out
/// where it has none; a context of another type is a compile error on it.
///
/// Each may return `Result<.., E>` instead (`Result<State, E>`, or
/// `Result<(), E>` for the `&mut State` forms), `E` being any
/// `std::error::Error + Send + Sync + 'static`; an `Err` is the call's
/// `PoolError::Init`. The function stays callable as written.
#[proc_macro_attribute]
pub fn worker_init(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::worker_init(args.into(), item.into()).into()
}

/// Accepted signatures, on a free function (`State` has `#[worker_state]`,
/// one `#[task]` per state):
/// - `fn(&mut State, In) -> Out`
/// - `fn(&State, In) -> Out`
/// - `fn(&mut State, A, B, ..) -> Out`: several inputs, mapped over tuples
///   `(A, B, ..)`
/// - any of these with a last parameter `&WorkerContext<C>` (`C` the
///   state's shared type, left out where it has none): the worker's id and
///   the pool's shared object; the inputs are still the others alone
///
/// Returning `Result<Out, E>` (any path ending in `Result`, aliases such as
/// `io::Result<Out>` included) makes the task fallible: an `Err` is the
/// call's `PoolError::Task`. Inputs are `Send` and may borrow (`&str`,
/// `&Item`, `Cow<'_, str>`): blocking calls accept such items, and a task
/// whose input borrows nothing also runs in streaming calls (`imap`).
/// Outputs are `Send + 'static`. The function stays callable as written.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::task(args.into(), item.into()).into()
}

/// Accepted signatures, on a free function (`State` has `#[worker_state]`):
/// - `fn(&mut State) -> T`
/// - `fn(State) -> T`
/// - `fn(&State) -> T`
/// - any of these with a second parameter `&WorkerContext<C>` (`C` the
///   state's shared type, left out where it has none)
///
/// Returning `Result<T, E>` makes it fallible: an `Err` is the error of the
/// call during which the life ended (`PoolError::Exit`). `T` is
/// `Send + 'static`. The function stays callable as written.
#[proc_macro_attribute]
pub fn worker_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::worker_exit(args.into(), item.into()).into()
}
