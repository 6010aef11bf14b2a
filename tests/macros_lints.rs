//! The attributes' expansions are lint-clean: this file compiles under
//! `deny(warnings, unused_qualifications)` (and clippy's `all` and
//! `pedantic` groups in CI's clippy run) with the names generated code could
//! trip on shadowed in scope.

#![deny(warnings, unused_qualifications, clippy::all, clippy::pedantic)]

use statepool::prelude::*;

/// Shadows of prelude and statepool names, in every namespace the
/// expansions use.
mod shadows {
    #[derive(Debug)]
    pub(crate) struct Result;
    #[derive(Debug)]
    pub(crate) struct Ok;
    #[derive(Debug)]
    pub(crate) struct Err;
    #[derive(Debug)]
    pub(crate) struct Some;
    #[derive(Debug)]
    pub(crate) struct None;
    #[derive(Debug)]
    pub(crate) struct Option;
    #[derive(Debug)]
    pub(crate) struct Box;
    #[derive(Debug)]
    pub(crate) struct Default;
    #[derive(Debug)]
    pub(crate) struct Vec;
    #[derive(Debug)]
    pub(crate) struct Send;
    #[derive(Debug)]
    pub(crate) struct BoxError;
    #[derive(Debug)]
    pub(crate) struct ExitValue;
    #[derive(Debug)]
    pub(crate) struct WorkerState;
    #[derive(Debug)]
    pub(crate) struct Task;
    pub(crate) mod core {}
    pub(crate) mod std {}
    pub(crate) mod statepool {}
    #[derive(Debug)]
    pub(crate) struct PoolShadow;
}

mod states {
    #![allow(clippy::wildcard_imports)]
    use super::shadows::*;
    use ::statepool::prelude::{task, worker_exit, worker_init, worker_state, WorkerContext};

    /// The pool alias gets the state's visibility.
    #[worker_state]
    #[derive(Debug, Default)]
    pub(crate) struct Counter {
        pub(crate) sum: u64,
    }

    #[task]
    pub(crate) fn add(state: &mut Counter, x: u64) -> u64 {
        state.sum += x;
        x * 2
    }

    #[worker_exit]
    pub(crate) fn report(state: &mut Counter, ctx: &WorkerContext) -> (usize, u64) {
        (ctx.worker_id(), state.sum)
    }

    #[worker_state(pool = ModelWorkers)]
    #[derive(Debug)]
    pub(crate) struct Model {
        scale: f64,
    }

    #[worker_init]
    pub(crate) fn load(ctx: &WorkerContext) -> ::std::io::Result<Model> {
        if ctx.worker_id() >= ctx.n_workers() {
            return ::core::result::Result::Err(::std::io::Error::other("bad worker id"));
        }
        ::core::result::Result::Ok(Model { scale: 1.0 })
    }

    #[task]
    pub(crate) fn predict(
        model: &Model,
        x: f64,
        y: f64,
    ) -> ::core::result::Result<f64, ::std::fmt::Error> {
        if x.is_nan() {
            return ::core::result::Result::Err(::std::fmt::Error);
        }
        ::core::result::Result::Ok((x + y) * model.scale)
    }

    #[worker_exit]
    pub(crate) fn unload(_model: Model) {}

    #[worker_state]
    #[derive(Debug, Default)]
    pub(crate) enum Filler {
        #[default]
        Empty,
        Full(u8),
    }

    #[worker_init]
    pub(crate) fn fill(
        state: &mut Filler,
    ) -> ::core::result::Result<(), ::std::num::TryFromIntError> {
        *state = Filler::Full(u8::try_from(1_u32)?);
        ::core::result::Result::Ok(())
    }

    #[task]
    pub(crate) fn get(state: &Filler, (): ()) -> u8 {
        match state {
            Filler::Empty => 0,
            Filler::Full(n) => *n,
        }
    }

    /// Names used so they are not dead code.
    pub(crate) fn shadows() -> usize {
        let all = (
            Result, Ok, Err, Some, None, Option, Box, Default, Vec, Send, BoxError, ExitValue,
        );
        let more = (WorkerState, Task, PoolShadow);
        format!("{all:?}{more:?}").len()
    }
}

#[test]
fn shadowed_expansions_compile_and_run() {
    let mut pool = states::CounterPool::new(2);
    assert_eq!(pool.map([1, 2, 3]).unwrap(), [2, 4, 6]);
    let total: u64 = pool.exit_results().iter().map(|(_, sum)| sum).sum();
    assert_eq!(total, 6);

    let mut models = states::ModelWorkers::new(2);
    assert!((models.apply((1.0, 2.0)).unwrap() - 3.0).abs() < f64::EPSILON);

    assert_eq!(states::FillerPool::new(1).map([(), ()]).unwrap(), [1, 1]);
    assert!(states::shadows() > 0);
    let _: Option<PoolError> = None;
}
