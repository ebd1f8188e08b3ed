#!/usr/bin/env bash
# Runs everything CI runs: setup, the server build, every crate's tests (including the Rust SDK
# end-to-end test), the Python SDK end-to-end suite (with the TypeScript SDK's test) and the
# partition-fault suite's tests (jepsen/). Prints the time of each phase.
#
#   PERDURE_TEST_SERVER=temporal scripts/test.sh   # same end-to-end tests against Temporal's
#                                                  # own dev server (validates the tests)
# Extra arguments go to pytest (e.g. scripts/test.sh -k timer).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export ROCKSDB_LIB_DIR=${ROCKSDB_LIB_DIR:-/usr/lib/x86_64-linux-gnu}
export PERDURE_TEST_SERVER=${PERDURE_TEST_SERVER:-perdure}
# CI builds once from a fresh clone: incremental caches would only cost disk (gigabytes).
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
# The Rust e2e test finds `temporal` on PATH in temporal mode.
export PATH="${PWD}/.venv/bin:${PATH}"
echo "==> server under test: ${PERDURE_TEST_SERVER}"

failed=()
finish() {
  phase_summary
  if ((${#failed[@]})); then
    echo "==> FAILED: ${failed[*]}"
    exit 1
  fi
  echo "==> all phases passed"
}

if ! phase "setup" bash scripts/setup.sh; then
  failed+=(setup)
  finish
fi
# Without the server binary every end-to-end test would fail the same way: stop here.
# perdure-lazyfs: the FUSE layer of the jepsen suite's lazyfs nemesis (its tests mount it).
if ! phase "cargo build -p perdure-server -p perdure-lazyfs" \
  cargo build -p perdure-server -p perdure-lazyfs; then
  failed+=("cargo build")
  finish
fi
phase "cargo test --workspace" cargo test --workspace || failed+=("cargo test")
phase "pytest tests/python" .venv/bin/python -m pytest tests/python "$@" || failed+=(pytest)
# The partition-fault suite's own tests: checkers over hand-built histories, a cluster in network
# namespaces, a ~60 s smoke run under a partition and a kill, and a deliberately broken server
# caught by the checkers (needs root; skipped with the reason otherwise).
phase "jepsen tests" env PERDURE_BIN="${PWD}/target/debug/perdure" bash -c \
  'bash jepsen/setup.sh && .venv/bin/python -m pytest -c jepsen/pytest.ini jepsen/tests -q' \
  || failed+=(jepsen)
finish
