#!/usr/bin/env bash
# Model-checks the crew's protocol with loom: the models in
# `pool-core/src/crew.rs` (`mod loom_models`) run over every interleaving
# of their threads, up to a preemption bound, with the protocol's
# primitives swapped for loom's (`sync::protocol`). Each model's doc says
# the property it checks. Takes about two minutes from cold, mostly to
# build (a target dir of its own: `--cfg loom` rebuilds every crate).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
RUSTFLAGS="--cfg loom" cargo test --release -p pool-core --lib loom_models
