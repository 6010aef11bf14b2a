//! Attribute macros of statepool: `#[worker_state]`, `#[worker_init]`,
//! `#[task]` and `#[worker_exit]`. Use them through the `statepool` crate.
