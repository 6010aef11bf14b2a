#!/usr/bin/env bash
# Runs the unsafe code under Miri: pool-core's unit tests, then the facade's
# small end-to-end file (tests/miri_smoke.rs). Needs a nightly toolchain;
# without one it says so and succeeds, so that CI on stable still passes.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "miri: skipped (no nightly toolchain)"
    exit 0
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    rustup +nightly component add miri rust-src >/dev/null 2>&1 || true
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "miri: skipped (the nightly toolchain has no miri component)"
    exit 0
fi

# A target dir of its own, so that Miri's builds do not evict the usual ones.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri"
# Tree borrows: crossbeam-epoch breaks the stacked borrows rules, not ours.
# Permissive provenance: crossbeam-epoch casts integers to pointers (its
# tagged pointers), which Miri would warn about at every run.
flags="-Zmiri-tree-borrows -Zmiri-permissive-provenance"

MIRIFLAGS="$flags" cargo +nightly miri test -p pool-core --lib

# crossbeam-epoch's global collector is never freed, so its thread records
# and garbage bags show as leaks once worker threads pin it; crossbeam's own
# Miri runs ignore leaks for the same reason. The smoke file counts the
# drops of its own items instead.
MIRIFLAGS="$flags -Zmiri-ignore-leaks" cargo +nightly miri test --test miri_smoke
